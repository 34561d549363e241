/* Study plans: load, check every run's `colorize train` options before
 * anything runs, and expand base x sweeps x seeds x extras into named runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sha2.h>

#include "cli.h"
#include "study.h"

/* Options that belong to the runner, not to a run's configuration. */
static const char *const runner_only[] = {"out", "data", "threads", "resume", NULL};

static int refuse(const study_plan *p, const char *where, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "colorize study: %s: %s: ", p->path, where);
    fprintf(stderr, fmt, a ? a : "", b ? b : "");
    fputc('\n', stderr);
    return CLI_EXIT_USAGE;
}

/* Check one option's value against train's option table; returns a new
 * reference in canonical form (whole numbers as reals for float options). */
static int check_option(const study_plan *p, const char *where, const char *key, json_t *v, json_t **out)
{
    char ctx[256];
    snprintf(ctx, sizeof ctx, "%s.%s", where, key);
    for (int i = 0; runner_only[i]; i++)
        if (strcmp(key, runner_only[i]) == 0)
            return refuse(p, ctx, "'%s' is set by `colorize study run`, not by a plan%s", key, NULL);
    int type = train_option_type(key);
    switch (type) {
    case CLI_OPT_INT:
        if (!json_is_integer(v))
            return refuse(p, ctx, "expects a whole number%s%s", NULL, NULL);
        *out = json_incref(v);
        return 0;
    case CLI_OPT_FLOAT:
        if (!json_is_number(v))
            return refuse(p, ctx, "expects a number%s%s", NULL, NULL);
        *out = json_real(json_number_value(v));
        return 0;
    case CLI_OPT_STR:
        if (!json_is_string(v))
            return refuse(p, ctx, "expects a string%s%s", NULL, NULL);
        *out = json_incref(v);
        return 0;
    case CLI_OPT_FLAG:
        if (!json_is_boolean(v))
            return refuse(p, ctx, "expects true or false%s%s", NULL, NULL);
        *out = json_incref(v);
        return 0;
    default:
        return refuse(p, ctx, "unknown option '%s' (see `colorize train --help`)%s", key, NULL);
    }
}

/* Merge the options of obj into cfg, checking each; "arch" in a base may be
 * a list and is skipped here (skip_arch). */
static int merge_options(const study_plan *p, const char *where, json_t *cfg, json_t *obj,
                         const char *const *skip)
{
    if (!json_is_object(obj))
        return refuse(p, where, "expects an object of `colorize train` options%s%s", NULL, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int skipped = 0;
        for (int i = 0; skip && skip[i]; i++)
            skipped |= strcmp(key, skip[i]) == 0;
        if (skipped)
            continue;
        json_t *c;
        if (check_option(p, where, key, v, &c))
            return CLI_EXIT_USAGE;
        json_object_set_new(cfg, key, c);
    }
    return 0;
}

static void value_text(json_t *v, char *buf, size_t n)
{
    if (json_is_integer(v))
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, n, "%g", json_real_value(v));
    else if (json_is_string(v))
        snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, n, "%s", json_is_true(v) ? "on" : "off");
    else
        snprintf(buf, n, "?");
}

int study_train_argv(const study_run *r, const char *out_dir, char ***argv_out, int *argc_out)
{
    size_t n = json_object_size(r->config);
    char **argv = calloc(2 * n + 4, sizeof *argv);
    if (!argv)
        return -1;
    int argc = 0;
    argv[argc++] = strdup("train");
    /* Sorted keys: the same plan always gives the same command line. */
    const char **keys = calloc(n + 1, sizeof *keys);
    if (!keys) {
        free(argv[0]);
        free(argv);
        return -1;
    }
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(r->config, key, v) keys[k++] = key;
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    for (size_t i = 0; i < k; i++) {
        v = json_object_get(r->config, keys[i]);
        char opt[96], val[96];
        snprintf(opt, sizeof opt, "--%s", keys[i]);
        if (json_is_boolean(v)) {
            if (json_is_true(v))
                argv[argc++] = strdup(opt);
            continue;
        }
        if (json_is_real(v))
            snprintf(val, sizeof val, "%.10g", json_real_value(v));
        else
            value_text(v, val, sizeof val);
        argv[argc++] = strdup(opt);
        argv[argc++] = strdup(val);
    }
    free(keys);
    if (out_dir) {
        argv[argc++] = strdup("--out");
        argv[argc++] = strdup(out_dir);
    }
    for (int i = 0; i < argc; i++)
        if (!argv[i]) {
            study_argv_free(argv, argc);
            return -1;
        }
    *argv_out = argv;
    *argc_out = argc;
    return 0;
}

void study_argv_free(char **argv, int argc)
{
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

static int add_tag(study_run *r, const char *tag)
{
    for (int i = 0; i < r->ntags; i++)
        if (strcmp(r->tags[i], tag) == 0)
            return 0;
    if (r->ntags == STUDY_MAX_TAGS)
        return 0;
    return (r->tags[r->ntags++] = strdup(tag)) ? 0 : -1;
}

/* Name and hash of a configuration; the readable part shows what differs
 * from the plan's base for that network. */
static void name_run(study_run *r, json_t *base, const char *explicit_name)
{
    char *canon = json_dumps(r->config, JSON_SORT_KEYS | JSON_COMPACT);
    char hex[SHA256_DIGEST_STRING_LENGTH];
    SHA256Data((const uint8_t *)(canon ? canon : ""), canon ? strlen(canon) : 0, hex);
    free(canon);
    memcpy(r->hash, hex, 8);
    r->hash[8] = '\0';
    char readable[128], part[96], val[64];
    if (explicit_name) {
        snprintf(readable, sizeof readable, "%s", explicit_name);
    } else {
        json_t *arch = json_object_get(r->config, "arch"), *head = json_object_get(r->config, "head"),
               *width = json_object_get(r->config, "width"), *seed = json_object_get(r->config, "seed");
        char a[32] = "unet", h[32] = "reg", w[32] = "32", s[32] = "0";
        if (arch)
            value_text(arch, a, sizeof a);
        if (head)
            value_text(head, h, sizeof h);
        if (width)
            value_text(width, w, sizeof w);
        if (seed)
            value_text(seed, s, sizeof s);
        snprintf(readable, sizeof readable, "%s-%s-w%s", a, h, w);
        const char *key, *sorted[64];
        json_t *v;
        int ns = 0;
        json_object_foreach(r->config, key, v) if (ns < 64) sorted[ns++] = key;
        for (int i = 1; i < ns; i++)
            for (int j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
                const char *t = sorted[j];
                sorted[j] = sorted[j - 1];
                sorted[j - 1] = t;
            }
        for (int i = 0; i < ns; i++) {
            key = sorted[i];
            if (!strcmp(key, "arch") || !strcmp(key, "head") || !strcmp(key, "width") || !strcmp(key, "seed"))
                continue;
            v = json_object_get(r->config, key);
            json_t *b = json_object_get(base, key);
            if (b && json_equal(b, v))
                continue;
            value_text(v, val, sizeof val);
            snprintf(part, sizeof part, "-%s%s", key, val);
            strncat(readable, part, sizeof readable - strlen(readable) - 1);
        }
        snprintf(part, sizeof part, "-s%s", s);
        strncat(readable, part, sizeof readable - strlen(readable) - 1);
    }
    /* Keep folder names plain. */
    for (char *c = readable; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '+' || *c == '-' || *c == '_'))
            *c = '_';
    snprintf(r->name, sizeof r->name, "%s-%s", readable, r->hash);
}

/* Add a run (or merge its tags into an identical one already planned);
 * takes cfg over in every case. Returns the run's index or -1. */
static int add_run(study_plan *p, const char *where, json_t *cfg, json_t *base, const char *factor,
                   const char *value, const char *tag, const char *explicit_name)
{
    /* Every run's command line must be one `colorize train` accepts. */
    study_run probe = {.config = cfg};
    char **argv;
    int argc;
    if (study_train_argv(&probe, "/nonexistent", &argv, &argc)) {
        json_decref(cfg);
        return -1;
    }
    int bad = train_args_check(argc, argv);
    study_argv_free(argv, argc);
    if (bad) {
        refuse(p, where, "the run above is not a valid `colorize train` configuration%s%s", NULL, NULL);
        json_decref(cfg);
        return -1;
    }
    name_run(&probe, base, explicit_name);
    const size_t en = explicit_name ? strlen(explicit_name) : 0;
    for (int i = 0; i < p->nruns; i++) {
        const char *other = p->runs[i].name;
        if (strcmp(p->runs[i].hash, probe.hash) == 0) {
            json_decref(cfg);
            if (explicit_name && strcmp(other, probe.name) != 0) {
                refuse(p, where, "the same configuration as run %s%s", other, NULL);
                return -1;
            }
            return add_tag(&p->runs[i], tag) ? -1 : i;
        }
        /* Names end in "-" and 8 hex digits; the part before must differ. */
        if (explicit_name && strlen(other) == en + 9 && strncmp(other, explicit_name, en) == 0) {
            refuse(p, where, "duplicate run name '%s'%s", explicit_name, NULL);
            json_decref(cfg);
            return -1;
        }
    }
    study_run *grown = realloc(p->runs, (size_t)(p->nruns + 1) * sizeof *grown);
    if (!grown) {
        json_decref(cfg);
        return -1;
    }
    p->runs = grown;
    study_run *r = &p->runs[p->nruns++];
    *r = probe;
    snprintf(r->factor, sizeof r->factor, "%s", factor);
    snprintf(r->value, sizeof r->value, "%s", value);
    return add_tag(r, tag) ? -1 : p->nruns - 1;
}

static json_t *base_for(json_t *base, const char *arch)
{
    json_t *c = json_deep_copy(base);
    json_object_set_new(c, "arch", json_string(arch));
    return c;
}

static const char *const plan_keys[] = {"name",   "about",  "test",  "tags",    "base",   "seeds",
                                        "sweeps", "extra", "imports", "compare", NULL};

static int known(const char *key, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(key, list[i]) == 0)
            return 1;
    return 0;
}

/* The list of architectures in obj["arch"] (a string or a list), checked. */
static int arch_list(const study_plan *p, const char *where, json_t *v, json_t **out)
{
    json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
    if (!json_is_array(list) || json_array_size(list) == 0) {
        json_decref(list);
        return refuse(p, where, "'arch' expects a network name or a non-empty list of them%s%s", NULL, NULL);
    }
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a) if (!json_is_string(a))
    {
        json_decref(list);
        return refuse(p, where, "'arch' lists must hold network names%s%s", NULL, NULL);
    }
    *out = list;
    return 0;
}

static int expand(study_plan *p)
{
    json_t *root = p->root, *v;
    const char *key;
    json_object_foreach(root, key, v) if (!known(key, plan_keys)) return refuse(
        p, key, "unknown plan key (use name, about, test, tags, base, seeds, sweeps, extra, imports, compare)%s%s",
        NULL, NULL);
    json_t *test = json_object_get(root, "test");
    if (test && !json_is_boolean(test))
        return refuse(p, "test", "expects true (evaluate each run on the test split) or false (validation only)%s%s",
                      NULL, NULL);
    p->no_test = test && json_is_false(test);
    /* Tags for every run of the plan (the final comparison's "final"), so its
     * lines stay findable once appended to another study's summary. */
    json_t *plan_tags = json_object_get(root, "tags");
    size_t ti;
    json_t *t;
    if (plan_tags && !json_is_array(plan_tags))
        return refuse(p, "tags", "expects a list of strings%s%s", NULL, NULL);
    json_array_foreach(plan_tags, ti, t) if (!json_is_string(t) || !json_string_length(t))
        return refuse(p, "tags", "expects a list of strings%s%s", NULL, NULL);
    json_t *base_in = json_object_get(root, "base");
    if (!json_is_object(base_in))
        return refuse(p, "base", "a plan needs a 'base' object of `colorize train` options%s%s", NULL, NULL);
    json_t *base = json_object(), *archs = NULL;
    const char *skip_arch[] = {"arch", NULL};
    int rc = CLI_EXIT_USAGE;
    if (merge_options(p, "base", base, base_in, skip_arch))
        goto out;
    json_t *arch_v = json_object_get(base_in, "arch");
    if (!arch_v) {
        refuse(p, "base", "'arch' is missing (a network or a list of them)%s%s", NULL, NULL);
        goto out;
    }
    if (arch_list(p, "base", arch_v, &archs))
        goto out;
    size_t ai;
    json_t *a;
    char where[128], val[64];
    json_array_foreach(archs, ai, a) {
        if (add_run(p, "base", base_for(base, json_string_value(a)), base, "base", "", "base", NULL) < 0)
            goto out;
    }
    /* Seeds of the base recipe: the noise every difference is read against. */
    json_t *seeds = json_object_get(root, "seeds");
    if (seeds) {
        if (!json_is_array(seeds)) {
            refuse(p, "seeds", "expects a list of whole numbers%s%s", NULL, NULL);
            goto out;
        }
        size_t si;
        json_t *s;
        json_array_foreach(seeds, si, s) {
            snprintf(where, sizeof where, "seeds[%zu]", si);
            if (!json_is_integer(s) || json_integer_value(s) < 0) {
                refuse(p, where, "expects a whole number >= 0%s%s", NULL, NULL);
                goto out;
            }
            value_text(s, val, sizeof val);
            json_array_foreach(archs, ai, a) {
                json_t *c = base_for(base, json_string_value(a));
                json_object_set(c, "seed", s);
                if (add_run(p, where, c, base, "seed", val, "seed", NULL) < 0)
                    goto out;
            }
        }
    }
    json_t *sweeps = json_object_get(root, "sweeps");
    if (sweeps && !json_is_array(sweeps)) {
        refuse(p, "sweeps", "expects a list of sweeps%s%s", NULL, NULL);
        goto out;
    }
    size_t wi;
    json_t *sw;
    json_array_foreach(sweeps, wi, sw) {
        static const char *const sweep_keys[] = {"option", "factor", "values", "arch", "with", NULL};
        snprintf(where, sizeof where, "sweeps[%zu]", wi);
        if (!json_is_object(sw)) {
            refuse(p, where, "expects an object {option, values[, arch, with, factor]}%s%s", NULL, NULL);
            goto out;
        }
        json_object_foreach(sw, key, v) if (!known(key, sweep_keys))
        {
            refuse(p, where, "unknown sweep key '%s' (use option, factor, values, arch, with)%s", key, NULL);
            goto out;
        }
        json_t *opt = json_object_get(sw, "option"), *fac = json_object_get(sw, "factor"),
               *vals = json_object_get(sw, "values"), *with = json_object_get(sw, "with");
        if ((opt && !json_is_string(opt)) || (fac && !json_is_string(fac)) || (!opt && !fac)) {
            refuse(p, where, "needs 'option' (a train option) or 'factor' (a name, with values that are "
                             "objects of options)%s%s", NULL, NULL);
            goto out;
        }
        if (!json_is_array(vals) || json_array_size(vals) == 0) {
            refuse(p, where, "'values' expects a non-empty list%s%s", NULL, NULL);
            goto out;
        }
        json_t *sw_archs = archs;
        if (json_object_get(sw, "arch") && arch_list(p, where, json_object_get(sw, "arch"), &sw_archs))
            goto out;
        if (sw_archs == archs)
            json_incref(sw_archs);
        json_t *cell = json_deep_copy(base);
        if (with && merge_options(p, where, cell, with, NULL)) {
            json_decref(cell);
            json_decref(sw_archs);
            goto out;
        }
        const char *factor = fac ? json_string_value(fac) : json_string_value(opt);
        int bad = 0;
        json_array_foreach(sw_archs, ai, a) {
            /* The sweep's own reference point (base + with) is part of the plan. */
            if (with && add_run(p, where, base_for(cell, json_string_value(a)), base, "base", "", "base", NULL) < 0)
                bad = 1;
        }
        size_t vi;
        json_t *x;
        json_array_foreach(vals, vi, x) {
            char w2[160];
            snprintf(w2, sizeof w2, "%s.values[%zu]", where, vi);
            json_t *setting = json_object();
            if (opt) {
                json_object_set(setting, json_string_value(opt), x);
                value_text(x, val, sizeof val);
            } else if (json_is_object(x)) {
                json_object_update(setting, x);
                char *t = json_dumps(x, JSON_SORT_KEYS | JSON_COMPACT);
                snprintf(val, sizeof val, "%s", t ? t : "");
                free(t);
            } else {
                refuse(p, w2, "a 'factor' sweep's values are objects of options%s%s", NULL, NULL);
                json_decref(setting);
                bad = 1;
                break;
            }
            json_array_foreach(sw_archs, ai, a) {
                json_t *c = base_for(cell, json_string_value(a));
                char tag[96];
                snprintf(tag, sizeof tag, "sweep:%s", factor);
                if (bad || merge_options(p, w2, c, setting, NULL)) {
                    bad = 1;
                    json_decref(c);
                    break;
                }
                if (add_run(p, w2, c, base, factor, val, tag, NULL) < 0) {
                    bad = 1;
                    break;
                }
            }
            json_decref(setting);
        }
        json_decref(cell);
        json_decref(sw_archs);
        if (bad)
            goto out;
    }
    json_t *extra = json_object_get(root, "extra");
    if (extra && !json_is_array(extra)) {
        refuse(p, "extra", "expects a list of runs%s%s", NULL, NULL);
        goto out;
    }
    size_t ei;
    json_t *ex;
    json_array_foreach(extra, ei, ex) {
        snprintf(where, sizeof where, "extra[%zu]", ei);
        const char *skip[] = {"name", "tags", NULL};
        json_t *c = json_deep_copy(base);
        json_object_set_new(c, "arch", json_incref(json_array_get(archs, 0)));
        json_t *nm = json_object_get(ex, "name"), *tags = json_object_get(ex, "tags");
        if (merge_options(p, where, c, ex, skip) || (nm && !json_is_string(nm)) ||
            (tags && !json_is_array(tags))) {
            if (nm && !json_is_string(nm))
                refuse(p, where, "'name' expects a string%s%s", NULL, NULL);
            if (tags && !json_is_array(tags))
                refuse(p, where, "'tags' expects a list of strings%s%s", NULL, NULL);
            json_decref(c);
            goto out;
        }
        int idx = add_run(p, where, c, base, "extra", nm ? json_string_value(nm) : "", "extra",
                          nm ? json_string_value(nm) : NULL);
        if (idx < 0)
            goto out;
        json_array_foreach(tags, ti, t) if (json_is_string(t) && add_tag(&p->runs[idx], json_string_value(t)))
            goto out;
    }
    for (int i = 0; i < p->nruns; i++)
        json_array_foreach(plan_tags, ti, t) if (add_tag(&p->runs[i], json_string_value(t))) goto out;
    /* Earlier trainings of the same configuration, imported rather than run. */
    json_t *imports = json_object_get(root, "imports");
    if (imports && !json_is_array(imports)) {
        refuse(p, "imports", "expects a list of {match, log, test}%s%s", NULL, NULL);
        goto out;
    }
    size_t ii;
    json_t *im;
    json_array_foreach(imports, ii, im) {
        snprintf(where, sizeof where, "imports[%zu]", ii);
        json_t *match = json_object_get(im, "match"), *log = json_object_get(im, "log"),
               *test = json_object_get(im, "test");
        if (!json_is_object(match) || !json_is_string(log) || !json_is_object(test) ||
            !json_object_get(test, "mean")) {
            refuse(p, where, "expects {\"match\": {options}, \"log\": file, \"test\": {\"mean\": file, ...}}%s%s",
                   NULL, NULL);
            goto out;
        }
        json_t *c = json_deep_copy(base);
        if (merge_options(p, where, c, match, NULL)) {
            json_decref(c);
            goto out;
        }
        study_run probe = {.config = c};
        name_run(&probe, base, NULL);
        json_decref(c);
        int found = 0;
        for (int i = 0; i < p->nruns; i++)
            if (strcmp(p->runs[i].hash, probe.hash) == 0) {
                json_decref(p->runs[i].import);
                p->runs[i].import = json_incref(im);
                found = 1;
            }
        if (!found) {
            refuse(p, where, "matches no run of the plan (%s)%s", probe.name, NULL);
            goto out;
        }
    }
    json_t *cmp = study_plan_comparisons(p);
    json_decref(cmp);
    rc = cmp ? 0 : CLI_EXIT_USAGE;
out:
    json_decref(base);
    json_decref(archs);
    return rc;
}

/* The names of the plan's runs that the patterns select, in plan order. */
static json_t *selected_names(const study_plan *p, const char *patterns)
{
    json_t *names = json_array();
    for (int i = 0; names && i < p->nruns; i++)
        if (study_name_selected(p->runs[i].name, patterns) &&
            json_array_append_new(names, json_string(p->runs[i].name))) {
            json_decref(names);
            return NULL;
        }
    return names;
}

json_t *study_plan_comparisons(const study_plan *p)
{
    json_t *list = json_object_get(p->root, "compare"), *out = json_array(), *c;
    if (!out)
        return NULL;
    if (list && !json_is_array(list)) {
        refuse(p, "compare", "expects a list of {\"title\": text, \"runs\": patterns, \"against\": patterns}%s%s",
               NULL, NULL);
        json_decref(out);
        return NULL;
    }
    size_t i;
    json_array_foreach(list, i, c) {
        char where[64];
        snprintf(where, sizeof where, "compare[%zu]", i);
        const char *title = json_string_value(json_object_get(c, "title")),
                   *runs = json_string_value(json_object_get(c, "runs")),
                   *against = json_string_value(json_object_get(c, "against"));
        if (!json_is_object(c) || json_object_size(c) != 3 || !title || !runs || !against || !*runs || !*against) {
            refuse(p, where, "expects {\"title\": text, \"runs\": patterns, \"against\": patterns} "
                             "(comma-separated shell patterns on run names, as --only takes)%s%s", NULL, NULL);
            json_decref(out);
            return NULL;
        }
        json_t *a = selected_names(p, runs), *b = selected_names(p, against);
        const char *empty = !a || !b ? NULL : json_array_size(a) == 0 ? runs : json_array_size(b) == 0 ? against : NULL;
        int overlap = 0;
        size_t ia, ib;
        json_t *na, *nb;
        json_array_foreach(a, ia, na) json_array_foreach(b, ib, nb) overlap |= json_equal(na, nb);
        if (!a || !b || empty || overlap ||
            json_array_append_new(out, json_pack("{s:s, s:O, s:O}", "title", title, "runs", a, "against", b))) {
            if (empty)
                refuse(p, where, "'%s' selects no run of the plan (see colorize study list)%s", empty, NULL);
            else if (overlap)
                refuse(p, where, "a run is on both sides ('%s' and '%s' overlap)", runs, against);
            else
                refuse(p, where, "out of memory%s%s", NULL, NULL);
            json_decref(a);
            json_decref(b);
            json_decref(out);
            return NULL;
        }
        json_decref(a);
        json_decref(b);
    }
    return out;
}

int study_plan_load(const char *path, study_plan *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s", path);
    snprintf(p->dir, sizeof p->dir, "%s", path);
    char *slash = strrchr(p->dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(p->dir, sizeof p->dir, ".");
    json_error_t err;
    p->root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!p->root) {
        fprintf(stderr, "colorize study: %s: line %d, column %d: %s\n", path, err.line, err.column, err.text);
        return CLI_EXIT_USAGE;
    }
    if (!json_is_object(p->root)) {
        fprintf(stderr, "colorize study: %s: a plan is a JSON object (see docs/STUDY.md)\n", path);
        return CLI_EXIT_USAGE;
    }
    int rc = expand(p);
    if (rc)
        study_plan_free(p);
    return rc;
}

void study_plan_free(study_plan *p)
{
    for (int i = 0; i < p->nruns; i++) {
        json_decref(p->runs[i].config);
        json_decref(p->runs[i].import);
        for (int t = 0; t < p->runs[i].ntags; t++)
            free(p->runs[i].tags[t]);
    }
    free(p->runs);
    json_decref(p->root);
    p->runs = NULL;
    p->root = NULL;
    p->nruns = 0;
}
