/* Locating the shipped model relative to the binary, the shared library or
 * the source tree. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "paths.h"
#include "util.h"

#ifndef COLORIZE_SOURCE_DIR
#define COLORIZE_SOURCE_DIR "."
#endif
#ifndef COLORIZE_DATADIR
#define COLORIZE_DATADIR "/usr/local/share/colorize"
#endif

static int try_path(char *buf, size_t size, const char *dir, const char *rel)
{
    snprintf(buf, size, "%s%s/%s", dir, rel, CZ_DEFAULT_MODEL_NAME);
    return cz_file_exists(buf);
}

int cz_default_model_path(char *buf, size_t size)
{
    const char *env = getenv("COLORIZE_MODEL");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return cz_file_exists(buf);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (try_path(buf, size, exe, "/../share/colorize") || try_path(buf, size, exe, "/../models") ||
                try_path(buf, size, exe, "/models"))
                return 1;
        }
    }
    /* Beside libcolorize.so (LIBDIR/../share/colorize): a program that is
     * not colorize, such as the Python interpreter, finds the model of the
     * library it loaded. */
    Dl_info info;
    if (dladdr((void *)cz_default_model_path, &info) && info.dli_fname && strlen(info.dli_fname) < PATH_MAX) {
        char lib[PATH_MAX];
        snprintf(lib, sizeof lib, "%s", info.dli_fname);
        char *slash = strrchr(lib, '/');
        if (slash) {
            *slash = '\0';
            if (try_path(buf, size, lib, "/../share/colorize"))
                return 1;
        }
    }
    if (try_path(buf, size, COLORIZE_DATADIR, ""))
        return 1;
    return try_path(buf, size, COLORIZE_SOURCE_DIR, "/models");
}
