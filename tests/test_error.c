/* The per-thread error message: wrapping the previous reason keeps it
 * (issue 13 #8: "colorize train:  (nothing to resume...)" lost the path). */
#include <string.h>

#include "colorize/error.h"
#include "test.h"

int main(void)
{
    cz_fail(CZ_ERR_IO, "runs/a/state.safetensors: cannot open: No such file");
    cz_status st = cz_fail(CZ_ERR_IO, "%s (nothing to resume)", cz_last_error());
    CHECK(st == CZ_ERR_IO);
    CHECK(strcmp(cz_last_error(), "runs/a/state.safetensors: cannot open: No such file "
                                  "(nothing to resume)") == 0);
    /* a long reason wrapped again is cut, never garbled */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cz_fail(CZ_ERR_FORMAT, "%s", big);
    cz_fail(CZ_ERR_FORMAT, "pre %s", cz_last_error());
    CHECK(strncmp(cz_last_error(), "pre xxx", 7) == 0);
    CHECK(strlen(cz_last_error()) == 1023);
    TEST_END();
}
