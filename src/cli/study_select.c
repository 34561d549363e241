/* Which runs a runner takes and how long they take: the shard, name
 * patterns and the cost estimate behind --time-limit and status's ETA. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "study.h"

int study_shard_parse(const char *s, int *k, int *n)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || *end != '/')
        return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (end == q || *end || b < 1 || a < 1 || a > b || b > 100000)
        return -1;
    *k = (int)a;
    *n = (int)b;
    return 0;
}

/* name without its "-" + 8 hex digits configuration hash, into out */
static void name_without_hash(const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    int hashed = n > 9 && name[n - 9] == '-';
    for (size_t i = n - 8; hashed && i < n; i++)
        hashed = isxdigit((unsigned char)name[i]) != 0;
    if (hashed)
        n -= 9;
    if (n >= size)
        n = size - 1;
    memcpy(out, name, n);
    out[n] = '\0';
}

int study_name_selected(const char *name, const char *only)
{
    if (!only || !*only)
        return 1;
    /* a pattern may name a run as the plan does, without its hash */
    char pat[256], bare[256];
    name_without_hash(name, bare, sizeof bare);
    for (const char *s = only; *s;) {
        size_t n = strcspn(s, ",");
        if (n > 0 && n < sizeof pat) {
            memcpy(pat, s, n);
            pat[n] = '\0';
            if (fnmatch(pat, name, 0) == 0 || fnmatch(pat, bare, 0) == 0)
                return 1;
        }
        s += n + (s[n] == ',');
    }
    return 0;
}

/* Training time per image against width 16's, as the engine measured it
 * (unet/cls, docs/engine.md's width sweep): narrow widths cost more than
 * width² says (per-pass overhead, AVX2 kernels), wide ones a little less. */
static double width_factor(double w)
{
    static const double width[] = {4, 8, 12, 16, 24, 32}, time[] = {0.40, 0.59, 0.91, 1.0, 2.43, 3.41};
    const int n = (int)(sizeof width / sizeof *width);
    if (w <= width[0])
        return time[0];
    for (int i = 1; i < n; i++)
        if (w <= width[i])
            return time[i - 1] + (time[i] - time[i - 1]) * (w - width[i - 1]) / (width[i] - width[i - 1]);
    return time[n - 1] * (w / width[n - 1]) * (w / width[n - 1]); /* beyond 32: width² */
}

int study_run_epochs(const study_run *r)
{
    json_t *e = json_object_get(r->config, "epochs");
    return e ? (int)json_integer_value(e) : 10;
}

int study_run_width(const study_run *r)
{
    json_t *w = json_object_get(r->config, "width");
    return w ? (int)json_integer_value(w) : 16;
}

double study_run_cost(const study_run *r)
{
    json_t *lt = json_object_get(r->config, "limit-train");
    double images = lt && json_integer_value(lt) > 0 ? (double)json_integer_value(lt) : 50000;
    return images * study_run_epochs(r) * width_factor(study_run_width(r));
}
