/* Run a check in a child process whose address space may grow by at most
 * `extra_mb` over what the test already maps, so a reader that allocates
 * gigabytes for a tiny hostile file fails the check with "out of memory"
 * instead of passing after a slow, huge allocation (issue 13); extra_mb 0
 * sets no cap. Under
 * AddressSanitizer (which reserves terabytes of shadow space) the cap is
 * left off and only the result is checked. */
#ifndef CZ_TEST_MEMCAP_H
#define CZ_TEST_MEMCAP_H

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define MEMCAP_ACTIVE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMCAP_ACTIVE 0
#endif
#endif
#ifndef MEMCAP_ACTIVE
#define MEMCAP_ACTIVE 1
#endif

/* VmSize of this process in bytes (0 if unknown). */
static long long memcap_vm_bytes(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long long kb = 0;
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "VmSize: %lld kB", &kb) == 1)
            break;
    if (fp)
        fclose(fp);
    return kb * 1024;
}

/* fn's return value is the child's exit status: 0 for a pass. The child's
 * peak resident memory (MB) goes to *peak_mb: a libpng that mallocs a huge
 * buffer and touches it shows there even where the cap cannot catch it. */
static int memcap_run(int (*fn)(void *), void *arg, int extra_mb, long *peak_mb)
{
    *peak_mb = -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        long long vm = memcap_vm_bytes();
        if (MEMCAP_ACTIVE && vm > 0 && extra_mb > 0) {
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = (rlim_t)(vm + (long long)extra_mb * 1024 * 1024);
            setrlimit(RLIMIT_AS, &rl);
        }
        int rc = fn(arg);
        fflush(NULL);
        _exit(rc);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status))
        return -1;
    *peak_mb = ru.ru_maxrss / 1024;
    return WEXITSTATUS(status);
}

#endif
