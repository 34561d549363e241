/* The built `colorize data` command (path in $COLORIZE_BIN): split output,
 * exit codes for failure (1) and usage errors (2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

/* Run bin with args; the first `size` bytes of stdout go to out. Returns the
 * exit status, or -1 if it could not run. */
static int run(const char *bin, const char *const args[], char *out, size_t size)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)bin;
        for (int i = 0; args[i] && n < 15; i++)
            argv[n++] = (char *)args[i];
        argv[n] = NULL;
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(bin, argv);
        _exit(127);
    }
    close(fd[1]);
    size_t got = 0;
    ssize_t r;
    char sink[4096];
    /* Read everything (so the child never blocks), keep the start. */
    while ((r = read(fd[0], got + 1 < size ? out + got : sink,
                     got + 1 < size ? size - 1 - got : sizeof sink)) > 0)
        if (got + 1 < size)
            got += (size_t)r;
    out[got] = '\0';
    close(fd[0]);
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int main(void)
{
    const char *bin = getenv("COLORIZE_BIN");
    if (!bin || access(bin, X_OK) != 0)
        TEST_SKIP("COLORIZE_BIN does not name the built colorize binary (run under ctest)");
    char out[4096];

    const char *split_test[] = {"data", "split", "--seed", "0", "--part", "test", NULL};
    CHECK(run(bin, split_test, out, sizeof out) == 0);
    CHECK(strncmp(out, "22476\n1198\n935\n14813\n59976\n", 27) == 0);

    const char *split_val[] = {"data", "split", "--part", "val", NULL};
    CHECK(run(bin, split_val, out, sizeof out) == 0);
    CHECK(strncmp(out, "55250\n", 6) == 0);

    const char *split_off[] = {"data", "split", "--part", "test", "--split", "official", NULL};
    CHECK(run(bin, split_off, out, sizeof out) == 0);
    CHECK(strncmp(out, "50000\n50001\n", 12) == 0);

    const char *verify[] = {"data", "verify", "--dir", "/nonexistent", NULL};
    CHECK(run(bin, verify, out, sizeof out) == 1);
    CHECK(strstr(out, "data_batch_1.bin") && strstr(out, "missing"));
    const char *verify2[] = {"data", "verify", "--data", "/nonexistent", NULL};
    CHECK(run(bin, verify2, out, sizeof out) == 1);

    /* Usage errors exit 2; help exits 0. */
    const char *no_part[] = {"data", "split", NULL};
    CHECK(run(bin, no_part, out, sizeof out) == 2);
    const char *bad_part[] = {"data", "split", "--part", "dev", NULL};
    CHECK(run(bin, bad_part, out, sizeof out) == 2);
    const char *bad_seed[] = {"data", "split", "--part", "test", "--seed", "x", NULL};
    CHECK(run(bin, bad_seed, out, sizeof out) == 2);
    const char *bad_cmd[] = {"data", "frobnicate", NULL};
    CHECK(run(bin, bad_cmd, out, sizeof out) == 2);
    const char *bad_opt[] = {"data", "verify", "--bogus", NULL};
    CHECK(run(bin, bad_opt, out, sizeof out) == 2);
    const char *help[] = {"data", "fetch", "--help", NULL};
    CHECK(run(bin, help, out, sizeof out) == 0);
    CHECK(strstr(out, "--dir") != NULL);
    TEST_END();
}
