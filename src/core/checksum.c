/* MD5 hex digests through libmd (MD5Data, MD5File). */
#include <errno.h>
#include <md5.h>
#include <string.h>

#include "checksum.h"

void cz_md5_buffer_hex(const void *data, size_t size, char hex[CZ_MD5_HEX])
{
    MD5Data(data, size, hex);
}

cz_status cz_md5_file_hex(const char *path, char hex[CZ_MD5_HEX])
{
    errno = 0;
    if (!MD5File(path, hex))
        return cz_fail(CZ_ERR_IO, "%s: cannot read to compute its MD5: %s", path, strerror(errno));
    return CZ_OK;
}
