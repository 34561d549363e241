/* Optimiser updates against values worked out by hand from torch.optim's
 * update rules, and the learning-rate schedules. */
#include <string.h>

#include "optim.h"
#include "test.h"

static float one_step(cz_optim_kind kind, double wd, double mom, int nesterov, int steps)
{
    cz_optim_config c;
    cz_optim_defaults(&c);
    c.kind = kind;
    c.weight_decay = wd;
    c.momentum = mom;
    c.nesterov = nesterov;
    cz_optim o;
    float p = 1.0f, g = 0.5f;
    if (cz_optim_init(&o, &c, 1))
        return -1;
    for (int i = 0; i < steps; i++)
        cz_optim_step(&o, &p, &g, 0.1);
    cz_optim_free(&o);
    return p;
}

int main(void)
{
    /* SGD, momentum 0.9: buf = g, then 0.9 buf + g */
    CHECK_CLOSE(one_step(CZ_OPTIM_SGD, 0, 0.9, 0, 1), 0.95, 1e-6, 0);
    CHECK_CLOSE(one_step(CZ_OPTIM_SGD, 0, 0.9, 0, 2), 0.855, 1e-6, 0);
    /* Nesterov: step with g + mu * buf */
    CHECK_CLOSE(one_step(CZ_OPTIM_SGD, 0, 0.9, 1, 1), 0.905, 1e-6, 0);
    /* SGD with L2 decay 0.1: g + 0.1 p = 0.6 */
    CHECK_CLOSE(one_step(CZ_OPTIM_SGD, 0.1, 0, 0, 1), 0.94, 1e-6, 0);
    /* Adam's first step moves by lr whatever the gradient's scale */
    CHECK_CLOSE(one_step(CZ_OPTIM_ADAM, 0, 0, 0, 1), 0.9, 1e-6, 0);
    /* Adam with L2 0.01: the decay enters the gradient, still a step of lr */
    CHECK_CLOSE(one_step(CZ_OPTIM_ADAM, 0.01, 0, 0, 1), 0.9, 1e-6, 0);
    /* AdamW: p (1 - lr wd) first, then the Adam step: 0.999 - 0.1 */
    CHECK_CLOSE(one_step(CZ_OPTIM_ADAMW, 0.01, 0, 0, 1), 0.899, 1e-6, 0);
    /* Schedules */
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_CONST, 0.1, 50, 100, 0), 0.1, 1e-12, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_COSINE, 0.1, 0, 100, 0), 0.1, 1e-12, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_COSINE, 0.1, 50, 100, 0), 0.05, 1e-12, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_COSINE, 0.1, 100, 100, 0), 0.0, 1e-12, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_COSINE, 0.1, 4, 100, 10), 0.05, 1e-12, 0);
    /* Decay to zero over the budget: the last update (t = 99 of 100) uses
     * 0.05 (1 + cos(0.99 pi)); exactly 0 at t = total and beyond. */
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_COSINE, 0.1, 99, 100, 0), 2.467198171342e-05, 1e-15, 0);
    CHECK(cz_schedule_lr(CZ_SCHED_COSINE, 0.1, 100, 100, 0) == 0.0);
    CHECK(cz_schedule_lr(CZ_SCHED_COSINE, 0.1, 101, 100, 10) == 0.0);
    /* with 10 warm-up steps: T = 90, t = 99 is x = 89/90 */
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_COSINE, 0.1, 10, 100, 10), 0.1, 1e-15, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_COSINE, 0.1, 99, 100, 10), 3.0458649045211895e-05, 1e-15, 0);
    /* linear: lr (1 - x); warm-up as for cosine */
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 0, 100, 0), 0.1, 1e-15, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 25, 100, 0), 0.075, 1e-15, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 50, 100, 0), 0.05, 1e-15, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 99, 100, 0), 0.001, 1e-15, 0);
    CHECK(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 100, 100, 0) == 0.0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 4, 100, 10), 0.05, 1e-15, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 10, 100, 10), 0.1, 1e-15, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 55, 100, 10), 0.05, 1e-15, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 99, 100, 10), 0.1 / 90, 1e-15, 0);
    CHECK(cz_schedule_lr(CZ_SCHED_LINEAR, 0.1, 100, 100, 10) == 0.0);
    /* monotone non-increasing after the warm-up, never negative */
    const cz_schedule decaying[] = {CZ_SCHED_COSINE, CZ_SCHED_LINEAR};
    int mono = 1;
    for (int i = 0; i < 2; i++)
        for (long t = 10; t < 120; t++) {
            double a = cz_schedule_lr(decaying[i], 0.1, t, 117, 10);
            double b = cz_schedule_lr(decaying[i], 0.1, t + 1, 117, 10);
            mono &= b <= a && b >= 0;
        }
    CHECK(mono);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_ONECYCLE, 0.1, 0, 100, 0), 0.004, 1e-12, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_ONECYCLE, 0.1, 30, 100, 0), 0.1, 1e-12, 0);
    CHECK_CLOSE(cz_schedule_lr(CZ_SCHED_ONECYCLE, 0.1, 100, 100, 0), 1e-5, 1e-12, 0);
    cz_optim_kind k;
    cz_schedule s;
    CHECK(cz_optim_kind_parse("adamw", &k) == CZ_OK && k == CZ_OPTIM_ADAMW);
    CHECK(cz_optim_kind_parse("rmsprop", &k) != CZ_OK);
    CHECK(cz_schedule_parse("onecycle", &s) == CZ_OK && s == CZ_SCHED_ONECYCLE);
    CHECK(cz_schedule_parse("linear", &s) == CZ_OK && s == CZ_SCHED_LINEAR);
    CHECK(strcmp(cz_schedule_name(CZ_SCHED_LINEAR), "linear") == 0);
    CHECK(cz_schedule_parse("step", &s) != CZ_OK);
    TEST_END();
}
