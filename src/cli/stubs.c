/* Subcommands not built yet; each file that implements one removes it here. */
#include <stdio.h>

#include "cli.h"

#define NOT_YET(fn, name)                                                        \
    int fn(int argc, char **argv)                                                \
    {                                                                            \
        (void)argc;                                                              \
        (void)argv;                                                              \
        fprintf(stderr, "colorize " name ": not implemented yet\n");           \
        return CLI_EXIT_FAIL;                                                    \
    }

NOT_YET(cmd_run, "run")
