/* Option parsing: --name value, --name=value, flags, --help with defaults. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "colorize %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void print_help(const char *cmd, const char *synopsis, const char *about, const cli_opt *opts)
{
    printf("usage: colorize %s %s\n\n%s\n\noptions:\n", cmd, synopsis, about);
    for (const cli_opt *o = opts; o->name; o++) {
        char left[64];
        /* one-letter options are written -x, as users type them */
        const char *dash = o->name[1] ? "--" : "-";
        switch (o->type) {
        case CLI_OPT_INT: snprintf(left, sizeof left, "%s%s N", dash, o->name); break;
        case CLI_OPT_FLOAT: snprintf(left, sizeof left, "%s%s X", dash, o->name); break;
        case CLI_OPT_STR: snprintf(left, sizeof left, "%s%s S", dash, o->name); break;
        case CLI_OPT_FLAG: snprintf(left, sizeof left, "%s%s", dash, o->name); break;
        }
        printf("  %-22s %s", left, o->help);
        switch (o->type) {
        case CLI_OPT_INT: printf(" (default %d)", *(int *)o->dest); break;
        case CLI_OPT_FLOAT: printf(" (default %g)", *(double *)o->dest); break;
        case CLI_OPT_STR:
            if (*(const char **)o->dest)
                printf(" (default %s)", *(const char **)o->dest);
            break;
        case CLI_OPT_FLAG: break;
        }
        putchar('\n');
    }
    printf("  %-22s %s\n", "-h, --help", "show this help");
}

static int set_value(const char *cmd, const cli_opt *o, const char *val)
{
    char *end;
    errno = 0;
    if (o->type == CLI_OPT_STR) {
        *(const char **)o->dest = val;
        return 0;
    }
    double x = strtod(val, &end);
    if (end == val || *end != '\0' || errno == ERANGE) {
        cli_error(cmd, "--%s expects a number, got '%s'", o->name, val);
        return CLI_EXIT_USAGE;
    }
    if (x < o->min || x > o->max) {
        cli_error(cmd, "--%s %s is out of range [%g, %g]", o->name, val, o->min, o->max);
        return CLI_EXIT_USAGE;
    }
    if (o->type == CLI_OPT_INT) {
        if (x != (double)(int)x) {
            cli_error(cmd, "--%s expects a whole number, got '%s'", o->name, val);
            return CLI_EXIT_USAGE;
        }
        *(int *)o->dest = (int)x;
    } else {
        *(double *)o->dest = x;
    }
    return 0;
}

int cli_parse(const char *cmd, const char *synopsis, const char *about, cli_opt *opts,
              int argc, char **argv, const char **pos, int max_pos, int *npos)
{
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            print_help(cmd, synopsis, about, opts);
            return CLI_HELP_SHOWN;
        }
        const int short_opt = a[0] == '-' && a[1] && a[1] != '-' && a[2] == '\0';
        if (!short_opt && (strncmp(a, "--", 2) != 0 || a[2] == '\0')) {
            if (*npos >= max_pos) {
                cli_error(cmd, "unexpected argument '%s' (see --help)", a);
                return CLI_EXIT_USAGE;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *name = a + (short_opt ? 1 : 2);
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = opts;
        while (o->name && !(strlen(o->name) == len && strncmp(o->name, name, len) == 0))
            o++;
        if (!o->name) {
            cli_error(cmd, "unknown option '%s' (see --help)", a);
            return CLI_EXIT_USAGE;
        }
        if (o->type == CLI_OPT_FLAG) {
            if (eq) {
                cli_error(cmd, "--%s takes no value", o->name);
                return CLI_EXIT_USAGE;
            }
            *(int *)o->dest = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc) {
                cli_error(cmd, "--%s needs a value", o->name);
                return CLI_EXIT_USAGE;
            }
            val = argv[++i];
        }
        int rc = set_value(cmd, o, val);
        if (rc)
            return rc;
    }
    return 0;
}
