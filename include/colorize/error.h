/* Error reporting shared by every part of libcolorize.
 *
 * Library calls never exit: a failing call returns an error status (or NULL)
 * and leaves a one-line reason in a per-thread buffer, read with
 * cz_last_error(). The CLI prints that reason and exits non-zero. */
#ifndef COLORIZE_ERROR_H
#define COLORIZE_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cz_status {
    CZ_OK = 0,
    CZ_ERR_IO = 1,       /* a file could not be read or written */
    CZ_ERR_FORMAT = 2,   /* a file is corrupt, truncated or of the wrong kind */
    CZ_ERR_ARG = 3,      /* a caller passed an invalid argument */
    CZ_ERR_NOMEM = 4,    /* an allocation failed or a size overflowed */
    CZ_ERR_BACKEND = 5,  /* the compute backend (oneDNN) failed */
    CZ_ERR_NUMERIC = 6   /* NaN or infinity where a finite value is needed */
} cz_status;

/* The reason for the last failure on this thread ("" when none). */
const char *cz_last_error(void);

/* Record a reason (printf-style) and return the status, so that code can say
 * `return cz_fail(CZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));` */
cz_status cz_fail(cz_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Name of a status code, e.g. "io". */
const char *cz_status_name(cz_status status);

#ifdef __cplusplus
}
#endif
#endif
