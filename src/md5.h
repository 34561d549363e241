/* MD5 (RFC 1321), streaming. Used only to check downloaded data against the
 * published checksums, never for anything security-related. */
#ifndef CZ_MD5_H
#define CZ_MD5_H

#include <stddef.h>
#include <stdint.h>

typedef struct cz_md5 {
    uint32_t state[4];
    uint64_t length;    /* bytes hashed so far */
    uint8_t block[64];  /* pending partial block */
    size_t fill;        /* bytes in block */
} cz_md5;

void cz_md5_init(cz_md5 *m);
void cz_md5_update(cz_md5 *m, const void *data, size_t size);
/* Finishes the hash; m must be re-initialised before reuse. */
void cz_md5_final(cz_md5 *m, uint8_t digest[16]);
/* 16-byte digest -> 32 lowercase hex characters + NUL. */
void cz_md5_hex(const uint8_t digest[16], char hex[33]);
/* One-shot helper: hex digest of a buffer. */
void cz_md5_buffer_hex(const void *data, size_t size, char hex[33]);

#endif
