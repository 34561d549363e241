/* The study's summary.jsonl: one flat line per finished run, appended under
 * a lock, read back tolerantly (a line cut by a kill is dropped). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "study.h"

static int read_lines(const char *file, json_t *into, int *bad)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *o = json_loadb(line, (size_t)n, 0, NULL);
        json_t *name = o ? json_object_get(o, "name") : NULL;
        if (!json_is_string(name)) {
            json_decref(o);
            if (bad)
                (*bad)++;
            continue;
        }
        json_object_set_new(into, json_string_value(name), o);
    }
    int err = ferror(f);
    free(line);
    fclose(f);
    return err ? -1 : 0;
}

json_t *study_summary_read(const char *const *files, int nfiles)
{
    json_t *all = json_object();
    if (!all)
        return NULL;
    for (int i = 0; i < nfiles; i++)
        if (read_lines(files[i], all, NULL)) {
            fprintf(stderr, "colorize study: %s: cannot read the summary (%s)\n", files[i], strerror(errno));
            json_decref(all);
            return NULL;
        }
    return all;
}

int study_summary_repair(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    FILE *o = NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int dropped = 0, rc = 0;
    /* Two passes: most of the time nothing is dropped and nothing is written. */
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)n, 0, NULL);
        dropped += !j || line[n - 1] != '\n';
        json_decref(j);
    }
    if (dropped) {
        rewind(f);
        o = fopen(tmp, "w");
        if (!o)
            rc = -1;
        while (o && (n = getline(&line, &cap, f)) > 0) {
            json_t *j = json_loadb(line, (size_t)n, 0, NULL);
            if (j && line[n - 1] == '\n' && fwrite(line, 1, (size_t)n, o) != (size_t)n)
                rc = -1;
            json_decref(j);
        }
        if (o && (fflush(o) || fsync(fileno(o)) || fclose(o)))
            rc = -1;
        if (!rc && rename(tmp, file))
            rc = -1;
        if (!rc)
            fprintf(stderr, "colorize study: %s: dropped %d cut line(s) left by an interrupted write\n", file,
                    dropped);
    }
    free(line);
    fclose(f);
    return rc;
}

int study_summary_append(const char *file, json_t *line)
{
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!text)
        return -1;
    size_t len = strlen(text);
    text[len] = '\n'; /* the terminator is replaced, json_dumps left room for it */
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT, 0644);
    int rc = -1;
    if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
        /* One write of the whole line: readers never see half of it unless
         * the machine stops inside the call. */
        rc = write(fd, text, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0 ? 0 : -1;
    }
    if (fd >= 0)
        close(fd);
    free(text);
    if (rc)
        fprintf(stderr, "colorize study: %s: cannot append the run's line (%s)\n", file, strerror(errno));
    return rc;
}

int study_log_read(const char *log, double *best_val, int *best_epoch, double *train_seconds)
{
    *best_val = 0;
    *best_epoch = 0;
    *train_seconds = 0;
    FILE *f = fopen(log, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int epochs = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            continue;
        json_t *v = json_object_get(o, "val_chroma_mse"), *e = json_object_get(o, "epoch"),
               *s = json_object_get(o, "train_seconds");
        if (json_is_number(v) && json_is_integer(e)) {
            epochs++;
            if (*best_epoch == 0 || json_number_value(v) < *best_val) {
                *best_val = json_number_value(v);
                *best_epoch = (int)json_integer_value(e);
            }
            *train_seconds += json_is_number(s) ? json_number_value(s) : 0;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    return epochs;
}

/* Copy the metrics of one decoding's test JSON into line as PREFIXkey. */
static void add_test(json_t *line, const char *file, const char *prefix, int all)
{
    json_t *t = json_load_file(file, 0, NULL);
    if (!t)
        return;
    static const char *const brief[] = {"chroma_mse", "colorfulness_pred", "psnr_rgb", NULL};
    const char *key;
    json_t *v;
    json_object_foreach(t, key, v) {
        if (!strcmp(key, "split") || !strcmp(key, "images") || !strcmp(key, "decode"))
            continue;
        int keep = all;
        for (int i = 0; !keep && brief[i]; i++)
            keep = strcmp(key, brief[i]) == 0;
        if (keep) {
            char k[128];
            snprintf(k, sizeof k, "%s%s", prefix, key);
            json_object_set(line, k, v);
        }
    }
    if (all)
        json_object_set(line, "test_decode", json_object_get(t, "decode"));
    json_decref(t);
}

json_t *study_summary_compose(const study_run *r, const char *run_dir, const char *status, const char *commit)
{
    json_t *line = json_object();
    const char *key;
    json_t *v;
    /* The options first, as `colorize train` names them. */
    static const char *const order[] = {"arch", "head", "width", "epochs", "batch", "lr", "optim",
                                        "schedule", "aug", "seed", NULL};
    for (int i = 0; order[i]; i++)
        if ((v = json_object_get(r->config, order[i])))
            json_object_set(line, order[i], v);
    json_object_foreach(r->config, key, v) if (!json_object_get(line, key)) json_object_set(line, key, v);
    json_object_set_new(line, "name", json_string(r->name));
    json_object_set_new(line, "status", json_string(status));
    char path[4400];
    double best_val, secs;
    int best_epoch;
    snprintf(path, sizeof path, "%s/log.jsonl", run_dir);
    int epochs = study_log_read(path, &best_val, &best_epoch, &secs);
    json_object_set_new(line, "epochs_done", json_integer(epochs));
    if (epochs) {
        json_object_set_new(line, "best_val_chroma_mse", json_real(best_val));
        json_object_set_new(line, "best_epoch", json_integer(best_epoch));
    }
    json_object_set_new(line, "train_seconds", json_real(secs));
    snprintf(path, sizeof path, "%s/test_mean.json", run_dir);
    add_test(line, path, "test_", 1);
    static const char *const others[] = {"annealed", "mode", NULL};
    for (int i = 0; others[i]; i++) {
        char prefix[32];
        snprintf(path, sizeof path, "%s/test_%s.json", run_dir, others[i]);
        snprintf(prefix, sizeof prefix, "test_%s_", others[i]);
        add_test(line, path, prefix, 0);
    }
    json_t *tags = json_array();
    for (int i = 0; i < r->ntags; i++)
        json_array_append_new(tags, json_string(r->tags[i]));
    json_object_set_new(line, "tags", tags);
    json_object_set_new(line, "commit", json_string(commit ? commit : "unknown"));
    return line;
}
