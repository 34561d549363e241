/* MD5 hex digests, to check data against published checksums (never for
 * anything security-related). The hashing is libmd's (<md5.h>); this file
 * only adds hex output for a buffer and a file with a clear error. */
#ifndef CZ_CHECKSUM_H
#define CZ_CHECKSUM_H

#include <stddef.h>

#include "colorize/error.h"

#define CZ_MD5_HEX 33 /* 32 lowercase hex digits + NUL */

void cz_md5_buffer_hex(const void *data, size_t size, char hex[CZ_MD5_HEX]);
/* Streams the file; CZ_ERR_IO naming the path if it cannot be read. */
cz_status cz_md5_file_hex(const char *path, char hex[CZ_MD5_HEX]);

#endif
