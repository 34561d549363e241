/* The study runner: every run is a worker process that trains with
 * `colorize train` (resuming from its state), evaluates the best checkpoint
 * on the test split with `colorize eval`, and appends its summary line.
 * Workers and their children die with the runner (a SIGKILL loses at most
 * the epoch in progress); SIGINT/SIGTERM make every training save its state. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cpu.h"
#include "study.h"
#include "train.h"
#include "util.h"

static volatile sig_atomic_t stop_flag;
static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void set_handlers(void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Run SELF with argv (argv[0] is the subcommand), output appended to log.
 * Returns the exit status (128 + signal if killed, -1 if it could not start). */
static int spawn(const char *self, char **argv, int argc, const char *log)
{
    char **full = calloc((size_t)argc + 2, sizeof *full);
    if (!full)
        return -1;
    full[0] = (char *)"colorize";
    memcpy(full + 1, argv, (size_t)argc * sizeof *argv);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free(full);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        signal(SIGINT, SIG_IGN); /* the worker forwards SIGTERM: one signal, one state save */
        signal(SIGTERM, SIG_DFL);
        int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(self, full);
        fprintf(stderr, "colorize study: cannot run %s (%s)\n", self, strerror(errno));
        _exit(127);
    }
    free(full);
    int status = 0, forwarded = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, 0);
        if (w == pid)
            break;
        if (w < 0 && errno == EINTR) {
            if (stop_flag && !forwarded) {
                kill(pid, SIGTERM);
                forwarded = 1;
            }
            continue;
        }
        return -1;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static int push(char ***argv, int *argc, const char *a, const char *b)
{
    char **g = realloc(*argv, (size_t)(*argc + 3) * sizeof *g);
    if (!g)
        return -1;
    *argv = g;
    g[(*argc)++] = strdup(a);
    if (b)
        g[(*argc)++] = strdup(b);
    return g[*argc - 1] ? 0 : -1;
}

static int write_run_json(const study_run *r, const char *dir, const study_exec_opts *o)
{
    char path[4400], tmp[4400];
    snprintf(path, sizeof path, "%s/run.json", dir);
    snprintf(tmp, sizeof tmp, "%s/run.json.tmp", dir);
    char **argv;
    int argc;
    if (study_train_argv(r, dir, &argv, &argc))
        return -1;
    char cmd[4096] = "colorize";
    for (int i = 0; i < argc; i++) {
        strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
        strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 1);
    }
    study_argv_free(argv, argc);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char cpu[400]; /* train minutes are read against the CPU that gave them */
    cz_cpu_describe(cpu, sizeof cpu);
    const char *commit = o->commit ? o->commit : "unknown";
    const json_int_t now = (json_int_t)time(NULL);
    json_t *j = json_pack("{s:s, s:O, s:s, s:s, s:s, s:s, s:I}", "name", r->name, "config", r->config, "command",
                          cmd, "commit", commit, "host", host, "cpu", cpu, "started", now);
    /* A run resumed under another commit or on another machine keeps every
     * start in "starts": its minutes and its numbers may span them. */
    json_t *old = cz_file_exists(path) ? json_load_file(path, 0, NULL) : NULL;
    json_t *starts = json_incref(json_object_get(old, "starts"));
    if (!json_is_array(starts)) {
        json_decref(starts);
        starts = json_array();
        if (starts && json_is_string(json_object_get(old, "commit"))) /* written before "starts" */
            json_array_append_new(starts, json_pack("{s:O?, s:O?, s:O?, s:O?}", "commit",
                                                    json_object_get(old, "commit"), "host",
                                                    json_object_get(old, "host"), "cpu", json_object_get(old, "cpu"),
                                                    "time", json_object_get(old, "started")));
    }
    json_decref(old);
    if (!j || !starts) {
        json_decref(j);
        json_decref(starts);
        return -1;
    }
    /* set_new and append_new take the reference, also when they fail */
    if (json_object_set_new(j, "starts", starts) ||
        json_array_append_new(starts, json_pack("{s:s, s:s, s:s, s:I}", "commit", commit, "host", host, "cpu", cpu,
                                                "time", now))) {
        json_decref(j);
        return -1;
    }
    int rc = json_dump_file(j, tmp, JSON_INDENT(1) | JSON_PRESERVE_ORDER) == 0 && rename(tmp, path) == 0 ? 0 : -1;
    json_decref(j);
    return rc;
}

/* Parameters and forward MFLOP per image, from the network's graph. */
static void add_size(json_t *line, const study_run *r)
{
    json_t *a = json_object_get(r->config, "arch"), *h = json_object_get(r->config, "head"),
           *w = json_object_get(r->config, "width");
    cz_train_config c;
    cz_train_defaults(&c);
    const cz_train_names names = {.arch = a ? json_string_value(a) : "unet", .head = h ? json_string_value(h) : "reg"};
    size_t params;
    double flops;
    if (w) /* absent: train's default, as the run itself trains */
        c.width = (int)json_integer_value(w);
    if (cz_train_config_names(&c, &names) || cz_train_config_size(&c, &params, &flops))
        return;
    json_object_set_new(line, "params", json_integer((json_int_t)params));
    json_object_set_new(line, "mflop", json_real(flops / 1e6));
}

static int append_line(const study_run *r, const char *dir, const char *status, const study_exec_opts *o,
                       const char *commit, int imported)
{
    json_t *line = study_summary_compose(r, dir, status, commit);
    if (!line)
        return -1;
    add_size(line, r);
    if (imported)
        json_array_append_new(json_object_get(line, "tags"), json_string("imported"));
    char summary[4200];
    snprintf(summary, sizeof summary, "%s/summary.jsonl", o->out_dir);
    int rc = study_summary_append(summary, line);
    json_decref(line);
    return rc;
}

static const char *opt_text(const study_run *r, const char *key, char *buf, size_t n)
{
    json_t *v = json_object_get(r->config, key);
    if (!v)
        return NULL;
    if (json_is_string(v))
        return json_string_value(v);
    snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    return buf;
}

/* One run, start to summary line, in a worker process. Exit codes: 0 done or
 * diverged (recorded), 1 failed, 4 another runner holds it, 130 stopped. */
static int worker(const study_run *r, const study_exec_opts *o)
{
    char dir[4300], path[4400], log[4400];
    snprintf(dir, sizeof dir, "%s/runs/%s", o->out_dir, r->name);
    if (cz_mkdirs(dir)) {
        fprintf(stderr, "colorize study: %s: %s\n", dir, cz_last_error());
        return 1;
    }
    snprintf(path, sizeof path, "%s/.lock", dir);
    int lock = open(path, O_RDWR | O_CREAT, 0644);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0)
        return 4;
    if (write_run_json(r, dir, o)) {
        fprintf(stderr, "colorize study: %s/run.json: cannot write\n", dir);
        return 1;
    }
    char **argv = NULL;
    int argc = 0;
    char threads[16];
    snprintf(threads, sizeof threads, "%d", o->threads);
    if (study_train_argv(r, dir, &argv, &argc) || push(&argv, &argc, "--data", o->data) ||
        push(&argv, &argc, "--threads", threads))
        return 1;
    snprintf(path, sizeof path, "%s/state.safetensors", dir);
    if (cz_file_exists(path) && push(&argv, &argc, "--resume", NULL))
        return 1;
    snprintf(log, sizeof log, "%s/train.log", dir);
    int rc = spawn(o->self, argv, argc, log);
    study_argv_free(argv, argc);
    if (stop_flag || rc == 130 || rc == 128 + SIGTERM || rc == 128 + SIGINT)
        return 130;
    if (rc == CLI_EXIT_DIVERGED)
        return append_line(r, dir, "diverged", o, o->commit, 0) ? 1 : 0;
    if (rc != 0) {
        fprintf(stderr, "colorize study: %s: training failed (exit %d); see %s\n", r->name, rc, log);
        return 1;
    }
    /* Test split, best checkpoint: mean decoding, and annealed and mode for
     * cls; none in a validation-only plan. */
    json_t *h = json_object_get(r->config, "head");
    const int cls = h && strcmp(json_string_value(h), "cls") == 0;
    if (o->no_test)
        return append_line(r, dir, "done", o, o->commit, 0) ? 1 : 0;
    static const char *const decodes[] = {"mean", "annealed", "mode"};
    snprintf(log, sizeof log, "%s/eval.log", dir);
    for (int d = 0; d < (cls ? 3 : 1); d++) {
        char model[4400], json[4400], limit[16], b1[32], b2[32];
        snprintf(model, sizeof model, "%s/best.safetensors", dir);
        snprintf(json, sizeof json, "%s/test_%s.json", dir, decodes[d]);
        snprintf(limit, sizeof limit, "%d", o->eval_limit);
        argv = NULL;
        argc = 0;
        const char *split = opt_text(r, "split", b1, sizeof b1), *sseed = opt_text(r, "split-seed", b2, sizeof b2);
        if (push(&argv, &argc, "eval", NULL) || push(&argv, &argc, "--model", model) ||
            push(&argv, &argc, "--split", "test") || push(&argv, &argc, "--decode", decodes[d]) ||
            push(&argv, &argc, "--json", json) || push(&argv, &argc, "--data", o->data) ||
            push(&argv, &argc, "--threads", threads) ||
            (split && push(&argv, &argc, "--protocol", split)) ||
            (sseed && push(&argv, &argc, "--split-seed", sseed)) ||
            (o->eval_limit && push(&argv, &argc, "--limit", limit)))
            return 1;
        rc = spawn(o->self, argv, argc, log);
        study_argv_free(argv, argc);
        if (stop_flag)
            return 130;
        if (rc != 0) {
            fprintf(stderr, "colorize study: %s: evaluation failed (exit %d); see %s\n", r->name, rc, log);
            return 1;
        }
    }
    return append_line(r, dir, "done", o, o->commit, 0) ? 1 : 0;
}

static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb");
    if (!a)
        return -1;
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    FILE *b = fopen(tmp, "wb");
    int rc = b ? 0 : -1;
    char buf[65536];
    size_t n;
    while (!rc && (n = fread(buf, 1, sizeof buf, a)) > 0)
        if (fwrite(buf, 1, n, b) != n)
            rc = -1;
    if (ferror(a))
        rc = -1;
    fclose(a);
    if (b && fclose(b))
        rc = -1;
    if (!rc && rename(tmp, to))
        rc = -1;
    return rc;
}

/* An earlier training of the same configuration: copy its log and test
 * JSONs into the run's folder and record it. */
static int import_run(const study_plan *p, const study_run *r, const study_exec_opts *o)
{
    char dir[4300], from[8400], to[4400];
    snprintf(dir, sizeof dir, "%s/runs/%s", o->out_dir, r->name);
    if (cz_mkdirs(dir))
        return -1;
    json_t *log = json_object_get(r->import, "log"), *test = json_object_get(r->import, "test");
    snprintf(from, sizeof from, "%s/%s", p->dir, json_string_value(log));
    snprintf(to, sizeof to, "%s/log.jsonl", dir);
    if (copy_file(from, to)) {
        fprintf(stderr, "colorize study: %s: cannot import %s\n", r->name, from);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(test, key, v) {
        snprintf(from, sizeof from, "%s/%s", p->dir, json_string_value(v));
        snprintf(to, sizeof to, "%s/test_%s.json", dir, key);
        if (!json_is_string(v) || copy_file(from, to)) {
            fprintf(stderr, "colorize study: %s: cannot import %s\n", r->name, from);
            return -1;
        }
    }
    json_t *c = json_object_get(r->import, "commit");
    return append_line(r, dir, "done", o, json_is_string(c) ? json_string_value(c) : "imported", 1);
}

static void fmt_duration(double s, char *buf, size_t n)
{
    if (s < 90)
        snprintf(buf, n, "%.0f s", s);
    else if (s < 3600)
        snprintf(buf, n, "%.0f min", s / 60);
    else
        snprintf(buf, n, "%.1f h", s / 3600);
}

/* Expected seconds of run r (training and test evaluation), from the
 * finished runs in the summary: seconds per unit of study_run_cost, from
 * the closest runs there are: the same network and width, else the same
 * network, else all; 0 when nothing finished. */
static double expected_seconds(const study_plan *p, json_t *done, const study_run *r)
{
    double cost[3] = {0, 0, 0}, secs[3] = {0, 0, 0};
    const char *arch = json_string_value(json_object_get(r->config, "arch"));
    for (int i = 0; i < p->nruns; i++) {
        json_t *line = json_object_get(done, p->runs[i].name);
        json_t *t = line ? json_object_get(line, "train_seconds") : NULL;
        if (!json_is_number(t) || json_number_value(t) <= 0)
            continue;
        const char *a = json_string_value(json_object_get(p->runs[i].config, "arch"));
        const int same_arch = arch && a && !strcmp(arch, a);
        const int same_width = study_run_width(r) == study_run_width(&p->runs[i]);
        const int match[3] = {same_arch && same_width, same_arch, 1};
        for (int k = 0; k < 3; k++)
            if (match[k]) {
                cost[k] += study_run_cost(&p->runs[i]);
                secs[k] += json_number_value(t);
            }
    }
    const int k = cost[0] > 0 ? 0 : cost[1] > 0 ? 1 : 2;
    /* train_seconds leaves out the checkpoints and the test evaluation. */
    return cost[k] > 0 ? 1.1 * secs[k] / cost[k] * study_run_cost(r) + 60 : 0;
}

/* Whether a run stopped part way (its state was saved): those go first, so
 * a restart finishes what it started before it opens new runs. */
static int has_state(const study_exec_opts *o, const study_run *r)
{
    char path[4500];
    snprintf(path, sizeof path, "%s/runs/%s/state.safetensors", o->out_dir, r->name);
    return cz_file_exists(path);
}

/* The share of run r's epochs already in its log (a resumed run). */
static double trained_fraction(const study_exec_opts *o, const study_run *r)
{
    char log[4500];
    snprintf(log, sizeof log, "%s/runs/%s/log.jsonl", o->out_dir, r->name);
    double bv, secs;
    int be;
    const int epochs = study_run_epochs(r), logged = study_log_read(log, &bv, &be, &secs);
    return epochs > 0 && logged > 0 ? (logged < epochs ? (double)logged / epochs : 1) : 0;
}

/* Seconds left for this runner: the runs not started and what is left of
 * the running ones, at the rate (seconds per unit of study_run_cost) of
 * the runs it finished itself, shared among its jobs. */
static double runner_eta(const study_plan *p, const study_exec_opts *o, const int *todo, int next, int ntodo,
                         const pid_t *pids, const int *slot_run, const double *t_start, const double *frac0,
                         double rate)
{
    double left = 0;
    for (int k = next; k < ntodo; k++)
        left += study_run_cost(&p->runs[todo[k]]);
    for (int s = 0; s < o->jobs; s++)
        if (pids[s]) {
            double rest = study_run_cost(&p->runs[slot_run[s]]) * (1 - frac0[s]) - (cz_now() - t_start[s]) / rate;
            left += rest > 0 ? rest : 0;
        }
    return left * rate / o->jobs;
}

int study_exec(const study_plan *p, const study_exec_opts *o)
{
    char summary[4200], runs[4200];
    snprintf(summary, sizeof summary, "%s/summary.jsonl", o->out_dir);
    snprintf(runs, sizeof runs, "%s/runs", o->out_dir);
    if (cz_mkdirs(runs)) {
        fprintf(stderr, "colorize study: %s\n", cz_last_error());
        return CLI_EXIT_FAIL;
    }
    if (study_summary_repair(summary)) {
        fprintf(stderr, "colorize study: %s: cannot repair the summary\n", summary);
        return CLI_EXIT_FAIL;
    }
    const char *files[] = {summary};
    json_t *done = study_summary_read(files, 1);
    if (!done)
        return CLI_EXIT_FAIL;
    int *todo = malloc(sizeof(int) * (size_t)(p->nruns + 1));
    pid_t *pids = calloc((size_t)o->jobs, sizeof *pids);
    int *slot_run = calloc((size_t)o->jobs, sizeof *slot_run);
    double *t_start = calloc((size_t)o->jobs, sizeof *t_start), *frac0 = calloc((size_t)o->jobs, sizeof *frac0);
    if (!todo || !pids || !slot_run || !t_start || !frac0) {
        fprintf(stderr, "colorize study: out of memory for %d jobs\n", o->jobs);
        free(t_start);
        free(frac0);
        free(todo);
        free(pids);
        free(slot_run);
        json_decref(done);
        return CLI_EXIT_FAIL;
    }
    int ntodo = 0, failed = 0, in_shard = 0, finished = 0;
    for (int i = 0; i < p->nruns; i++) {
        if (!study_in_shard(i, o->shard_k, o->shard_n) || !study_name_selected(p->runs[i].name, o->only))
            continue;
        in_shard++;
        const study_run *r = &p->runs[i];
        if (json_object_get(done, r->name))
            continue;
        if (r->import) {
            if (import_run(p, r, o))
                failed++;
            else
                fprintf(stderr, "colorize study: %s imported from earlier trainings\n", r->name);
            continue;
        }
        todo[ntodo++] = i;
    }
    const int import_failed = failed; /* not in todo: not "to go" either */
    int already = in_shard - ntodo - failed, nstarted = 0;
    for (int t = 0; t < ntodo; t++) /* stable: plan order within each group */
        if (has_state(o, &p->runs[todo[t]])) {
            int run = todo[t];
            memmove(todo + nstarted + 1, todo + nstarted, sizeof *todo * (size_t)(t - nstarted));
            todo[nstarted++] = run;
        }
    fprintf(stderr, "colorize study: %s: %d run%s in %s, %d done, %d to run; %d job(s) x %d thread(s)\n",
            p->path, in_shard, in_shard == 1 ? "" : "s",
            o->only && *o->only ? "the --only selection" : o->shard_n > 1 ? "this shard" : "the plan", already,
            ntodo, o->jobs, o->threads);
    set_handlers(on_stop);
    int next = 0, active = 0, started = 0, out_of_time = 0;
    const double t0 = cz_now();
    double done_secs = 0, done_cost = 0; /* this runner's own finished runs, for the ETA */
    while ((next < ntodo && !stop_flag && !out_of_time && (!o->max_runs || started < o->max_runs)) ||
           active > 0) {
        while (active < o->jobs && next < ntodo && !stop_flag && !out_of_time &&
               (!o->max_runs || started < o->max_runs)) {
            int s = 0;
            while (pids[s])
                s++;
            const study_run *r = &p->runs[todo[next]];
            if (o->time_limit > 0) {
                const double need = expected_seconds(p, done, r), left = o->time_limit - (cz_now() - t0);
                if (need > left) {
                    char a[32], b[32];
                    fmt_duration(need, a, sizeof a);
                    fmt_duration(left > 0 ? left : 0, b, sizeof b);
                    fprintf(stderr,
                            "colorize study: not starting %s: it should take %s, %s of --time-limit left\n",
                            r->name, a, b);
                    out_of_time = 1;
                    break;
                }
            }
            fflush(NULL);
            pid_t parent = getpid();
            pid_t pid = fork();
            if (pid < 0) {
                fprintf(stderr, "colorize study: cannot start a worker (%s)\n", strerror(errno));
                stop_flag = 1;
                break;
            }
            if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                    _exit(130);
                _exit(worker(r, o));
            }
            pids[s] = pid;
            slot_run[s] = todo[next];
            t_start[s] = cz_now();
            frac0[s] = trained_fraction(o, r);
            next++;
            active++;
            started++;
            fprintf(stderr, "colorize study: [%d/%d] started %s\n", already + finished + active, in_shard,
                    r->name);
        }
        int status;
        pid_t w = waitpid(-1, &status, 0);
        if (w < 0) {
            if (errno == EINTR) {
                if (stop_flag)
                    for (int s = 0; s < o->jobs; s++)
                        if (pids[s])
                            kill(pids[s], SIGTERM);
                continue;
            }
            break;
        }
        for (int s = 0; s < o->jobs; s++) {
            if (pids[s] != w)
                continue;
            pids[s] = 0;
            active--;
            const study_run *r = &p->runs[slot_run[s]];
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            char took[32], eta[32];
            fmt_duration(cz_now() - t_start[s], took, sizeof took);
            if (code == 0) {
                finished++;
                done_secs += cz_now() - t_start[s];
                done_cost += study_run_cost(r) * (1 - frac0[s]);
                int left = ntodo - finished - (failed - import_failed);
                if (done_secs > 0 && done_cost > 0)
                    fmt_duration(runner_eta(p, o, todo, next, ntodo, pids, slot_run, t_start, frac0,
                                            done_secs / done_cost),
                                 eta, sizeof eta);
                else
                    snprintf(eta, sizeof eta, "unknown");
                fprintf(stderr, "colorize study: [%d/%d] finished %s in %s; %d to go, ETA %s\n",
                        already + finished, in_shard, r->name, took, left, left ? eta : "-");
            } else if (code == 4) {
                fprintf(stderr, "colorize study: %s is being run by another runner; skipped\n", r->name);
            } else if (code == 130) {
                fprintf(stderr, "colorize study: %s stopped after %s; its state is saved (run again to resume)\n",
                        r->name, took);
            } else {
                failed++;
                fprintf(stderr, "colorize study: %s FAILED (exit %d) after %s; see %s/runs/%s/train.log\n",
                        r->name, code, took, o->out_dir, r->name);
            }
        }
    }
    free(t_start);
    free(frac0);
    free(todo);
    free(pids);
    free(slot_run);
    json_decref(done);
    if (stop_flag) {
        fprintf(stderr, "colorize study: stopped; run the same command again to resume\n");
        return 130;
    }
    if (out_of_time)
        fprintf(stderr, "colorize study: %d run(s) not started for lack of time; run again to continue\n",
                ntodo - next);
    fprintf(stderr, "colorize study: %d run(s) finished this time, %d failed\n", finished, failed);
    return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
