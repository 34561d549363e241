/* `colorize study`: a plan of trainings (a base recipe, one-factor sweeps,
 * seeds, extra runs) expanded into named runs, run resumably in parallel or
 * sharded over machines, with one summary line per finished run. */
#ifndef CZ_STUDY_H
#define CZ_STUDY_H

#include <jansson.h>

#define STUDY_MAX_TAGS 8

/* One training of the plan. */
typedef struct study_run {
    char name[160];     /* readable part + "-" + hash */
    char hash[9];       /* first 8 hex digits of SHA-256 of the configuration */
    json_t *config;     /* the `colorize train` options, merged (owned) */
    char factor[48];    /* "base", "seed", a sweep's factor, or "extra" */
    char value[64];     /* the factor's value as text ("" for base) */
    char *tags[STUDY_MAX_TAGS];
    int ntags;
    json_t *import;     /* {"log": path, "test": {"mean": path, ...}} or NULL */
} study_run;

typedef struct study_plan {
    char path[4096];
    char dir[4096];     /* the plan file's folder: relative import paths start there */
    json_t *root;
    int no_test; /* "test": false: validation only, no test evaluation */
    study_run *runs;
    int nruns;
} study_plan;

/* Load and check PATH; prints the key and the reason of a refusal to stderr
 * and returns non-zero. */
int study_plan_load(const char *path, study_plan *p);
void study_plan_free(study_plan *p);
/* The plan's "compare" entries with their patterns resolved to run names:
 * [{"title", "runs": [names], "against": [names]}], or NULL (refusal
 * printed) when a pattern selects nothing or a run is on both sides. */
json_t *study_plan_comparisons(const study_plan *p);

/* argv of `colorize train` for run r (without the program name's "colorize");
 * out_dir NULL leaves --out off. Strings are malloc'ed into *store (free with
 * study_argv_free). */
int study_train_argv(const study_run *r, const char *out_dir, char ***argv, int *argc);
void study_argv_free(char **argv, int argc);

/* Whether run index i belongs to shard k of n (1 <= k <= n): interleaved. */
static inline int study_in_shard(int i, int k, int n) { return i % n == k - 1; }
/* Whether a run's name, with or without its configuration hash, matches
 * one of the comma-separated shell patterns in only (fnmatch); NULL or ""
 * selects every run. */
int study_name_selected(const char *name, const char *only);
/* Parse "K/N"; 0 on success. */
int study_shard_parse(const char *s, int *k, int *n);

/* Summary lines: read every parseable line of the files (later files add to
 * earlier ones; one line per name is kept). Returns a JSON object keyed by
 * run name, or NULL on error (message printed). */
json_t *study_summary_read(const char *const *files, int nfiles);
/* Rewrite FILE without unparseable lines (a line cut by a kill). */
int study_summary_repair(const char *file);
/* Append one line (with an exclusive lock on the file). */
int study_summary_append(const char *file, json_t *line);

/* The summary line of a finished run from its folder's log.jsonl and
 * test_DECODE.json files; status "done" or "diverged". */
json_t *study_summary_compose(const study_run *r, const char *run_dir, const char *status,
                              const char *commit);

/* Training log of a run: epochs logged, best validation and its epoch,
 * summed train seconds. Returns epochs (0 if no log). */
int study_log_read(const char *log, double *best_val, int *best_epoch, double *train_seconds);

/* The runner. */
typedef struct study_exec_opts {
    const char *out_dir, *data, *self, *commit;
    int jobs, threads, shard_k, shard_n;
    const char *only;   /* run only the runs whose names match (study_name_selected) */
    int eval_limit;     /* evaluate only N test images (0 = all; for tests) */
    int no_test;        /* skip the test evaluation (the plan's "test": false) */
    int max_runs;       /* stop after starting N runs (0 = all) */
    double time_limit;  /* seconds from the start: start no run expected to end later (0 = none) */
} study_exec_opts;
int study_exec(const study_plan *p, const study_exec_opts *o);

/* Estimated training cost of run r: images x epochs x the engine's measured
 * time per image at the run's width, relative to width 16. Only ratios of
 * it mean anything; a rate (seconds per unit) comes from finished runs. */
double study_run_cost(const study_run *r);
/* A run's epochs and base width, with colorize train's defaults (10, 16). */
int study_run_epochs(const study_run *r);
int study_run_width(const study_run *r);

#endif
