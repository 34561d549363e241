/* The MD5 helpers (src/checksum.c, over libmd): the RFC 1321 test suite for
 * buffers, a million 'a's through a file, and a clear error for a missing one. */
#include <string.h>
#include <unistd.h>

#include "checksum.h"
#include "test.h"

static const char *const vectors[][2] = {
    {"", "d41d8cd98f00b204e9800998ecf8427e"},
    {"a", "0cc175b9c0f1b6a831c399e269772661"},
    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
    {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "d174ab98d277d9f5a5611c2c9f419d9f"},
    {"1234567890123456789012345678901234567890123456789012345678901234567890"
     "1234567890",
     "57edf4a22be3c955ac49da2e2107b67a"},
};

int main(void)
{
    char hex[CZ_MD5_HEX];
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        cz_md5_buffer_hex(vectors[i][0], strlen(vectors[i][0]), hex);
        CHECK(strcmp(hex, vectors[i][1]) == 0);
    }

    /* A file of a million 'a's (a well-known extra vector), and an empty one. */
    char path[] = "/tmp/cz_test_md5_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    CHECK(fp != NULL);
    if (fp) {
        char chunk[1000];
        memset(chunk, 'a', sizeof chunk);
        for (int i = 0; i < 1000; i++)
            CHECK(fwrite(chunk, 1, sizeof chunk, fp) == sizeof chunk);
        CHECK(fclose(fp) == 0);
        CHECK(cz_md5_file_hex(path, hex) == CZ_OK && strcmp(hex, "7707d6ae4e027c70eea2a935c2296f21") == 0);
        CHECK(truncate(path, 0) == 0);
        CHECK(cz_md5_file_hex(path, hex) == CZ_OK && strcmp(hex, vectors[0][1]) == 0);
        remove(path);
    }

    /* A missing file: an I/O error naming it. */
    CHECK(cz_md5_file_hex("/nonexistent/cz_md5_file", hex) == CZ_ERR_IO);
    CHECK(strstr(cz_last_error(), "/nonexistent/cz_md5_file") && strstr(cz_last_error(), "No such file"));
    TEST_END();
}
