/* Shared option parsing for the colorize subcommands. */
#ifndef CZ_CLI_H
#define CZ_CLI_H

typedef enum cli_opt_type {
    CLI_OPT_INT,
    CLI_OPT_FLOAT,
    CLI_OPT_STR,
    CLI_OPT_FLAG
} cli_opt_type;

/* One `--name value` option. dest holds the default before parsing and is
 * shown by --help; numbers outside [min, max] are usage errors. */
typedef struct cli_opt {
    const char *name;
    cli_opt_type type;
    void *dest; /* int*, double*, const char**, int* (flag) */
    const char *help;
    double min, max;
} cli_opt;

/* Exit codes of the CLI. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_DIVERGED 3 /* train: the loss became NaN or infinite */
#define CLI_HELP_SHOWN (-1)

/* Parse argv[1..]; positional arguments are gathered into pos (up to
 * max_pos). Returns 0, CLI_HELP_SHOWN (caller exits 0) or CLI_EXIT_USAGE
 * after printing why. */
int cli_parse(const char *cmd, const char *synopsis, const char *about, cli_opt *opts,
              int argc, char **argv, const char **pos, int max_pos, int *npos);

/* Print "colorize CMD: message" to stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Subcommands. */
int cmd_data(int argc, char **argv);
int cmd_data_export(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_study(int argc, char **argv);

/* The `train` options, for tools that compose train command lines: the type
 * of option NAME (a cli_opt_type, or -1 if train has no such option), and a
 * parse-and-check of a train command line that runs nothing (0 if valid). */
int train_option_type(const char *name);
int train_args_check(int argc, char **argv);

#endif
