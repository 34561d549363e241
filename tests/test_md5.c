/* MD5 against the RFC 1321 test suite, in one piece and streamed. */
#include <string.h>

#include "md5.h"
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
    char hex[33];
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        const char *msg = vectors[i][0];
        cz_md5_buffer_hex(msg, strlen(msg), hex);
        CHECK(strcmp(hex, vectors[i][1]) == 0);
        /* Streamed in pieces of every size 1..9: same digest. */
        for (size_t piece = 1; piece < 10; piece++) {
            cz_md5 m;
            uint8_t d[16];
            cz_md5_init(&m);
            for (size_t off = 0; off < strlen(msg); off += piece) {
                size_t n = strlen(msg) - off < piece ? strlen(msg) - off : piece;
                cz_md5_update(&m, msg + off, n);
            }
            cz_md5_final(&m, d);
            cz_md5_hex(d, hex);
            CHECK(strcmp(hex, vectors[i][1]) == 0);
        }
    }
    /* Lengths around the padding boundary (55, 56, 63, 64, 65 bytes) match a
     * one-shot hash of the same bytes fed in two uneven pieces. */
    uint8_t buf[200];
    for (int i = 0; i < 200; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    size_t lens[] = {55, 56, 57, 63, 64, 65, 119, 120, 128, 200};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        char a[33], b[33];
        cz_md5 m;
        uint8_t d[16];
        cz_md5_buffer_hex(buf, lens[k], a);
        cz_md5_init(&m);
        cz_md5_update(&m, buf, lens[k] / 3);
        cz_md5_update(&m, buf + lens[k] / 3, lens[k] - lens[k] / 3);
        cz_md5_final(&m, d);
        cz_md5_hex(d, b);
        CHECK(strcmp(a, b) == 0);
    }
    /* A million 'a's (a well-known extra vector). */
    {
        cz_md5 m;
        uint8_t d[16], chunk[1000];
        memset(chunk, 'a', sizeof chunk);
        cz_md5_init(&m);
        for (int i = 0; i < 1000; i++)
            cz_md5_update(&m, chunk, sizeof chunk);
        cz_md5_final(&m, d);
        cz_md5_hex(d, hex);
        CHECK(strcmp(hex, "7707d6ae4e027c70eea2a935c2296f21") == 0);
    }
    TEST_END();
}
