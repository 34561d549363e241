/* colorize: command-line entry point, dispatching to subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *about;
} commands[] = {
    {"data", cmd_data, "fetch, verify and split the CIFAR-10 dataset"},
    {"train", cmd_train, "train a colourisation network"},
    {"eval", cmd_eval, "evaluate a model on the test or validation split"},
    {"run", cmd_run, "colourise your own PNG/JPEG pictures"},
    {"bench", cmd_bench, "measure training and inference throughput"},
    {"study", cmd_study, "run, follow and report a plan of trainings"},
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: colorize COMMAND [options]\n\n"
                "Puts colour back into grey images with convolutional networks.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(fp, "  %-8s %s\n", commands[i].name, commands[i].about);
    fprintf(fp, "\n'colorize COMMAND --help' lists a command's options and defaults.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("colorize 0.1.0\n");
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "colorize: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
