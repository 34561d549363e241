/* colorize study: run, follow, list and report a plan of trainings. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "colorize/dataset.h"
#include "study.h"
#include "util.h"

#ifndef COLORIZE_COMMIT
#define COLORIZE_COMMIT "unknown"
#endif

static const char *study_about =
    "A study is a JSON plan: a base recipe (any `colorize train` option; 'arch' may\n"
    "list several networks), one-factor sweeps {option, values[, arch, with]}, seeds\n"
    "of the base recipe, extra runs and imports of earlier trainings. Each run gets a\n"
    "readable folder name ending in a hash of its whole configuration, so an edited\n"
    "plan never reuses a run of another configuration. See docs/study/README.md.\n\n"
    "  colorize study run PLAN --out DIR [--jobs J] [--shard K/N]\n"
    "  colorize study status PLAN --out DIR [--merge FILE,...]\n"
    "  colorize study list PLAN [--out DIR] [--json] [--shard K/N]\n"
    "  colorize study report PLAN --out DIR --doc FILE [--merge FILE,...]";

static int nproc(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* summary.jsonl of DIR plus every file of a comma-separated list. */
static json_t *read_summaries(const char *out, const char *merge)
{
    char *files[64];
    int n = 0;
    char first[4200];
    snprintf(first, sizeof first, "%s/summary.jsonl", out);
    files[n++] = first;
    char *copy = merge ? strdup(merge) : NULL, *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && n < 64; t = strtok_r(NULL, ",", &save))
        files[n++] = t;
    json_t *s = study_summary_read((const char *const *)files, n);
    free(copy);
    return s;
}

static int cmd_study_list(const study_plan *p, const char *out, int as_json, int k, int n, const char *only)
{
    for (int i = 0; i < p->nruns; i++) {
        if (!study_in_shard(i, k, n) || !study_name_selected(p->runs[i].name, only))
            continue;
        const study_run *r = &p->runs[i];
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/runs/%s", out ? out : "runs/study", r->name);
        char **argv;
        int argc;
        if (study_train_argv(r, dir, &argv, &argc))
            return CLI_EXIT_FAIL;
        if (as_json) {
            json_t *tags = json_array();
            for (int t = 0; t < r->ntags; t++)
                json_array_append_new(tags, json_string(r->tags[t]));
            json_t *line = json_pack("{s:s, s:i, s:s, s:s, s:O, s:o, s:b}", "name", r->name, "index", i, "factor",
                                     r->factor, "value", r->value, "config", r->config, "tags", tags, "imported",
                                     r->import != NULL);
            char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (text)
                puts(text);
            free(text);
            json_decref(line);
        } else {
            printf("colorize");
            for (int a = 0; a < argc; a++)
                printf(" %s", argv[a]);
            printf("%s\n", r->import ? "   # imported" : "");
        }
        study_argv_free(argv, argc);
    }
    return CLI_EXIT_OK;
}

/* -1 no folder, 0 idle, 1 a runner holds it. */
static int run_locked(const char *dir)
{
    char path[4500];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    int busy = flock(fd, LOCK_SH | LOCK_NB) != 0;
    close(fd);
    return busy;
}

static int cmd_study_status(const study_plan *p, const char *out, const char *merge, int jobs)
{
    json_t *sum = read_summaries(out, merge);
    if (!sum)
        return CLI_EXIT_FAIL;
    int n_done = 0, n_div = 0, n_run = 0, n_paused = 0, n_todo = 0;
    /* Seconds per unit of cost: of finished runs, and of the runs training
     * now (this machine as it is today, which the ETA should reflect). */
    double *rates = calloc((size_t)p->nruns + 1, sizeof *rates), remaining = 0;
    double *live = calloc((size_t)p->nruns + 1, sizeof *live);
    int nrates = 0, nlive = 0;
    if (!rates || !live) {
        free(rates);
        free(live);
        json_decref(sum);
        fprintf(stderr, "colorize study: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    printf("%-9s %-52s %7s %10s %10s\n", "state", "run", "epochs", "best val", "test MSE");
    for (int i = 0; i < p->nruns; i++) {
        const study_run *r = &p->runs[i];
        json_t *line = json_object_get(sum, r->name);
        const int epochs = study_run_epochs(r);
        char dir[4400], log[4500];
        snprintf(dir, sizeof dir, "%s/runs/%s", out, r->name);
        snprintf(log, sizeof log, "%s/log.jsonl", dir);
        double bv, secs;
        int be;
        int logged = study_log_read(log, &bv, &be, &secs);
        const char *state;
        if (line) {
            const char *st = json_string_value(json_object_get(line, "status"));
            int div = st && strcmp(st, "diverged") == 0;
            state = div ? "diverged" : "done";
            div ? n_div++ : n_done++;
            json_t *tags = json_object_get(line, "tags");
            int imported = 0;
            size_t ti;
            json_t *t;
            json_array_foreach(tags, ti, t) imported |= strcmp(json_string_value(t), "imported") == 0;
            double ts = json_number_value(json_object_get(line, "train_seconds"));
            if (!div && !imported && ts > 0)
                rates[nrates++] = ts / study_run_cost(r);
            json_t *test = json_object_get(line, "test_chroma_mse"); /* none in a validation-only plan */
            char test_text[32] = "-";
            if (json_is_number(test))
                snprintf(test_text, sizeof test_text, "%.6f", json_number_value(test));
            printf("%-9s %-52s %3lld/%-3d %10.6f %10s\n", state, r->name,
                   (long long)json_integer_value(json_object_get(line, "epochs_done")), epochs,
                   json_number_value(json_object_get(line, "best_val_chroma_mse")), test_text);
            continue;
        }
        int lk = run_locked(dir);
        state = lk == 1 ? "running" : logged ? "paused" : "to do";
        lk == 1 ? n_run++ : logged ? n_paused++ : n_todo++;
        remaining += study_run_cost(r) * (epochs > 0 ? (double)(epochs - logged) / epochs : 1);
        if (lk == 1 && logged > 0 && epochs > 0 && secs > 0)
            live[nlive++] = secs / (study_run_cost(r) * logged / epochs);
        if (logged)
            printf("%-9s %-52s %3d/%-3d %10.6f %10s\n", state, r->name, logged, epochs, bv, "-");
        else
            printf("%-9s %-52s %3d/%-3d %10s %10s\n", state, r->name, 0, epochs, "-", "-");
    }
    printf("\n%d runs: %d done, %d diverged, %d running, %d paused, %d to do\n", p->nruns, n_done, n_div, n_run,
           n_paused, n_todo);
    if (remaining > 0) {
        if (nlive) {
            qsort(live, (size_t)nlive, sizeof *live, cz_cmp_double);
            double eta = remaining * live[nlive / 2] / (jobs > 0 ? jobs : 1);
            printf("ETA %.1f h with %d job(s) at the rate of the %d run(s) training now\n", eta / 3600, jobs, nlive);
        } else if (nrates) {
            qsort(rates, (size_t)nrates, sizeof *rates, cz_cmp_double);
            double eta = remaining * rates[nrates / 2] / (jobs > 0 ? jobs : 1);
            printf("ETA %.1f h with %d job(s) at the median measured rate of %d run(s) trained here\n", eta / 3600,
                   jobs, nrates);
        } else {
            printf("ETA: no run trained here has finished yet to measure the rate\n");
        }
    }
    free(rates);
    free(live);
    json_decref(sum);
    return CLI_EXIT_OK;
}

/* The report: the plan's runs and their summary lines go to
 * tools/study_report.py, which writes the document and its plots. */
static const char *find_tool(const char *name, char *buf, size_t n)
{
    const char *dirs[] = {getenv("COLORIZE_TOOLS"),
#ifdef COLORIZE_SOURCE_DIR
                          COLORIZE_SOURCE_DIR "/tools",
#endif
#ifdef COLORIZE_DATADIR
                          COLORIZE_DATADIR "/tools",
#endif
                          NULL};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i])
            continue;
        snprintf(buf, n, "%s/%s", dirs[i], name);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    return NULL;
}

static int cmd_study_report(const study_plan *p, const char *out, const char *merge, const char *doc,
                            const char *img)
{
    json_t *sum = read_summaries(out, merge);
    if (!sum)
        return CLI_EXIT_FAIL;
    json_t *runs = json_array();
    for (int i = 0; i < p->nruns; i++) {
        const study_run *r = &p->runs[i];
        json_t *tags = json_array();
        for (int t = 0; t < r->ntags; t++)
            json_array_append_new(tags, json_string(r->tags[t]));
        json_array_append_new(runs, json_pack("{s:s, s:s, s:s, s:O, s:o, s:O*}", "name", r->name, "factor",
                                              r->factor, "value", r->value, "config", r->config, "tags", tags,
                                              "summary", json_object_get(sum, r->name)));
    }
    json_t *input = json_pack("{s:s, s:O*, s:o, s:s, s:b, s:o*}", "plan", p->path, "about",
                              json_object_get(p->root, "about"), "runs", runs, "out", out, "test", !p->no_test,
                              "compare", study_plan_comparisons(p));
    char in_path[] = "/tmp/colorize-study-XXXXXX";
    int fd = mkstemp(in_path);
    int rc = CLI_EXIT_FAIL;
    if (fd < 0 || json_dumpfd(input, fd, JSON_COMPACT) != 0) {
        fprintf(stderr, "colorize study: cannot write the report's input (%s)\n", strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    char tool[4200];
    if (!find_tool("study_report.py", tool, sizeof tool)) {
        fprintf(stderr, "colorize study: tools/study_report.py not found (set COLORIZE_TOOLS to the folder "
                        "that holds it)\n");
        goto out;
    }
    /* Debian's python3 has Debian's matplotlib; a python3 earlier on PATH
     * (a pyenv, a venv) may not. */
    const char *py = getenv("COLORIZE_PYTHON");
    if (!py)
        py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execlp(py, py, tool, "--input", in_path, "--doc", doc, "--img", img, (char *)NULL);
        fprintf(stderr, "colorize study: cannot run python3 (%s); install python3 and python3-matplotlib\n",
                strerror(errno));
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "colorize study: the report tool failed\n");
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    if (fd >= 0)
        close(fd);
    unlink(in_path);
    json_decref(input);
    json_decref(sum);
    return rc;
}

int cmd_study(int argc, char **argv)
{
    const char *out = NULL, *shard = "1/1", *merge = NULL, *doc = NULL, *img = NULL, *only = NULL;
    const char *data = cz_data_default_dir();
    int jobs = 0, threads = 0, as_json = 0, eval_limit = 0, max_runs = 0;
    double time_limit = 0;
    cli_opt opts[] = {
        {"out", CLI_OPT_STR, &out, "study folder: runs/NAME/ and summary.jsonl", 0, 0},
        {"jobs", CLI_OPT_INT, &jobs, "trainings at once (0 = one per core: faster than one 2-thread run here)",
         0, 256},
        {"threads", CLI_OPT_INT, &threads, "compute threads in all (0 = every core), split between the jobs", 0,
         256},
        {"shard", CLI_OPT_STR, &shard, "run only the K-th of N interleaved slices of the plan (K/N)", 0, 0},
        {"only", CLI_OPT_STR, &only,
         "run, list: only the runs whose names match one of these comma-separated patterns "
         "('*w32*,vgg-*')",
         0, 0},
        {"data", CLI_OPT_STR, &data, "CIFAR-10 dir", 0, 0},
        {"merge", CLI_OPT_STR, &merge, "status/report: more summary.jsonl files, comma-separated", 0, 0},
        {"doc", CLI_OPT_STR, &doc, "report: the Markdown file to write", 0, 0},
        {"img", CLI_OPT_STR, &img, "report: folder for the plots (default: OUT/img)", 0, 0},
        {"json", CLI_OPT_FLAG, &as_json, "list: one JSON line per run", 0, 0},
        {"eval-limit", CLI_OPT_INT, &eval_limit, "run: evaluate only N test images (0 = all; for tests)", 0, 1e9},
        {"max-runs", CLI_OPT_INT, &max_runs, "run: start at most N runs, then stop (0 = all)", 0, 1e9},
        {"time-limit", CLI_OPT_FLOAT, &time_limit,
         "run: minutes from now; start no run expected to end later (estimated from the finished runs; "
         "for a machine or batch job that ends at a known time; 0 = none)",
         0, 1e7},
        {NULL, 0, NULL, NULL, 0, 0}};
    const char *pos[2];
    int npos;
    int rc = cli_parse("study", "run|status|list|report PLAN [options]", study_about, opts, argc, argv, pos, 2,
                       &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (npos != 2) {
        cli_error("study", "expected a verb and a plan: study run|status|list|report PLAN (see --help)");
        return CLI_EXIT_USAGE;
    }
    const char *verb = pos[0];
    int is_run = !strcmp(verb, "run"), is_status = !strcmp(verb, "status"), is_list = !strcmp(verb, "list"),
        is_report = !strcmp(verb, "report");
    if (!is_run && !is_status && !is_list && !is_report) {
        cli_error("study", "unknown verb '%s' (use run, status, list or report)", verb);
        return CLI_EXIT_USAGE;
    }
    if (!is_list && !out) {
        cli_error("study", "%s needs --out DIR (the study folder)", verb);
        return CLI_EXIT_USAGE;
    }
    if (is_report && !doc) {
        cli_error("study", "report needs --doc FILE (the Markdown document to write)");
        return CLI_EXIT_USAGE;
    }
    study_exec_opts eo = {.out_dir = out, .data = data, .commit = COLORIZE_COMMIT, .eval_limit = eval_limit,
                          .max_runs = max_runs, .time_limit = 60 * time_limit, .only = only};
    if (study_shard_parse(shard, &eo.shard_k, &eo.shard_n)) {
        cli_error("study", "--shard expects K/N with 1 <= K <= N, got '%s'", shard);
        return CLI_EXIT_USAGE;
    }
    study_plan plan;
    if ((rc = study_plan_load(pos[1], &plan)))
        return rc;
    if (is_list) {
        rc = cmd_study_list(&plan, out, as_json, eo.shard_k, eo.shard_n, only);
    } else if (is_status) {
        rc = cmd_study_status(&plan, out, merge, jobs ? jobs : nproc());
    } else if (is_report) {
        /* The plots live beside the summary they are drawn from, so two
         * plans reported into one docs folder never overwrite each other's. */
        char img_dir[4200];
        if (!img) {
            snprintf(img_dir, sizeof img_dir, "%s/img", out);
            img = img_dir;
        }
        rc = cmd_study_report(&plan, out, merge, doc, img);
    } else {
        int total = threads ? threads : nproc();
        eo.jobs = jobs ? jobs : total;
        eo.threads = total / eo.jobs > 0 ? total / eo.jobs : 1;
        eo.no_test = plan.no_test;
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            cli_error("study", "cannot find the colorize executable (/proc/self/exe)");
            study_plan_free(&plan);
            return CLI_EXIT_FAIL;
        }
        self[n] = '\0';
        eo.self = self;
        rc = study_exec(&plan, &eo);
    }
    study_plan_free(&plan);
    return rc;
}
