/* MD5 following RFC 1321: 64-byte blocks, four rounds of 16 operations, the
 * message padded with 0x80, zeros and its bit length (little-endian). */
#include <string.h>

#include "md5.h"

/* Per-operation left-rotation amounts, four per round. */
static const int md5_shift[4][4] = {
    {7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

/* T[i] = floor(2^32 * |sin(i + 1)|), tabulated as in the RFC. */
static const uint32_t md5_t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
    0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
    0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
    0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
    0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
    0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
    0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
    0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
    0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

static uint32_t md5_rotl(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void md5_block(uint32_t state[4], const uint8_t b[64])
{
    uint32_t x[16];
    for (int i = 0; i < 16; i++) /* the message words are little-endian */
        x[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
               (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
    uint32_t a = state[0], bb = state[1], c = state[2], d = state[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int k;
        switch (i / 16) {
        case 0: f = (bb & c) | (~bb & d); k = i; break;
        case 1: f = (bb & d) | (c & ~d); k = (5 * i + 1) % 16; break;
        case 2: f = bb ^ c ^ d; k = (3 * i + 5) % 16; break;
        default: f = c ^ (bb | ~d); k = (7 * i) % 16; break;
        }
        uint32_t t = d;
        d = c;
        c = bb;
        bb = bb + md5_rotl(a + f + x[k] + md5_t[i], md5_shift[i / 16][i % 4]);
        a = t;
    }
    state[0] += a;
    state[1] += bb;
    state[2] += c;
    state[3] += d;
}

void cz_md5_init(cz_md5 *m)
{
    m->state[0] = 0x67452301;
    m->state[1] = 0xefcdab89;
    m->state[2] = 0x98badcfe;
    m->state[3] = 0x10325476;
    m->length = 0;
    m->fill = 0;
}

void cz_md5_update(cz_md5 *m, const void *data, size_t size)
{
    const uint8_t *p = data;
    m->length += size;
    if (m->fill) { /* top up a pending partial block first */
        size_t take = 64 - m->fill < size ? 64 - m->fill : size;
        memcpy(m->block + m->fill, p, take);
        m->fill += take;
        p += take;
        size -= take;
        if (m->fill < 64)
            return;
        md5_block(m->state, m->block);
        m->fill = 0;
    }
    for (; size >= 64; p += 64, size -= 64)
        md5_block(m->state, p);
    memcpy(m->block, p, size);
    m->fill = size;
}

void cz_md5_final(cz_md5 *m, uint8_t digest[16])
{
    uint64_t bits = m->length * 8;
    uint8_t pad[72] = {0x80};
    /* Pad to 56 mod 64, leaving room for the 8-byte length. */
    size_t padlen = m->fill < 56 ? 56 - m->fill : 120 - m->fill;
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (8 * i));
    cz_md5_update(m, pad, padlen);
    cz_md5_update(m, len, 8);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            digest[4 * i + j] = (uint8_t)(m->state[i] >> (8 * j));
}

void cz_md5_hex(const uint8_t digest[16], char hex[33])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[32] = '\0';
}

void cz_md5_buffer_hex(const void *data, size_t size, char hex[33])
{
    cz_md5 m;
    uint8_t d[16];
    cz_md5_init(&m);
    cz_md5_update(&m, data, size);
    cz_md5_final(&m, d);
    cz_md5_hex(d, hex);
}
