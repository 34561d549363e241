/* The CPU's description: name, family and model from the first CPU's lines,
 * "model" not mistaken for "model name", truncation and missing files safe. */
#include <stdio.h>
#include <string.h>

#include "cpu.h"
#include "test.h"

int main(void)
{
    char path[] = "/tmp/colorize_test_cpu_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CHECK(f != NULL);
    /* "model name" before "model", and a second CPU that must not be read */
    fputs("processor\t: 0\nmodel name\t: AMD EPYC\ncpu family\t: 26\nmodel\t\t: 2\nflags\t\t: fma avx2\n\n"
          "processor\t: 1\nmodel name\t: Other\ncpu family\t: 6\nmodel\t\t: 9\n",
          f);
    CHECK(fclose(f) == 0);
    char buf[128];
    cz_cpu_describe_from(path, buf, sizeof buf);
    CHECK(strcmp(buf, "AMD EPYC (family 26, model 2)") == 0);
    char small[9];
    cz_cpu_describe_from(path, small, sizeof small);
    CHECK(strcmp(small, "AMD EPYC") == 0); /* truncated, terminated */
    remove(path);
    cz_cpu_describe_from(path, buf, sizeof buf);
    CHECK(strcmp(buf, "unknown CPU") == 0);
    CHECK(cz_cpu_describe_from(path, buf, 0) == buf);
    /* this machine: never empty */
    cz_cpu_describe(buf, sizeof buf);
    printf("this CPU: %s\n", buf);
    CHECK(buf[0] != 0);
    TEST_END();
}
