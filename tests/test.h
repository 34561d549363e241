/* Minimal test harness: each tests/test_*.c is one CTest executable.
 * CHECK* record failures and carry on; TEST_MAIN_END prints a summary and
 * returns non-zero if anything failed. Exit code 77 means "skipped". */
#ifndef CZ_TEST_H
#define CZ_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_checks, test_failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        test_checks++;                                                         \
        if (!(cond)) {                                                         \
            test_failures++;                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                          \
    do {                                                                       \
        double a_ = (double)(a), b_ = (double)(b);                             \
        test_checks++;                                                         \
        if (!(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_))) {                  \
            test_failures++;                                                   \
            fprintf(stderr, "%s:%d: CHECK_CLOSE failed: %s = %.9g, %s = %.9g\n",\
                    __FILE__, __LINE__, #a, a_, #b, b_);                       \
        }                                                                      \
    } while (0)

#define TEST_SKIP(why)                                                         \
    do {                                                                       \
        printf("SKIP: %s\n", why);                                             \
        exit(77);                                                              \
    } while (0)

#define TEST_END()                                                             \
    do {                                                                       \
        printf("%s: %d checks, %d failed\n", __FILE__, test_checks,            \
               test_failures);                                                 \
        return test_failures ? 1 : 0;                                          \
    } while (0)

#endif
