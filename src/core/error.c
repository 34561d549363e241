/* Per-thread last-error buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "colorize/error.h"

static _Thread_local char last_error[1024];

const char *cz_last_error(void) { return last_error; }

/* Formatted into a scratch buffer first: callers often wrap the previous
 * reason (cz_fail(st, "%s (hint)", cz_last_error())), and formatting into the
 * buffer being read would print an empty or garbled message. */
cz_status cz_fail(cz_status status, const char *fmt, ...)
{
    char buf[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(last_error, buf, sizeof last_error);
    return status;
}

const char *cz_status_name(cz_status status)
{
    switch (status) {
    case CZ_OK: return "ok";
    case CZ_ERR_IO: return "io";
    case CZ_ERR_FORMAT: return "format";
    case CZ_ERR_ARG: return "argument";
    case CZ_ERR_NOMEM: return "memory";
    case CZ_ERR_BACKEND: return "backend";
    case CZ_ERR_NUMERIC: return "numeric";
    }
    return "unknown";
}
