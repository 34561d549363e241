/* Where the shipped model lives. */
#ifndef CZ_PATHS_H
#define CZ_PATHS_H

#include <stddef.h>

#define CZ_DEFAULT_MODEL_NAME "colorize.safetensors"

/* The default model: $COLORIZE_MODEL, else the first existing of
 * <exe>/../share/colorize/, <exe>/../models/, <source>/models/ and
 * <install prefix>/share/colorize/ (each + colorize.safetensors). Writes the
 * chosen path (or the source-tree one if none exists) into buf; returns 1 if
 * the file exists. */
int cz_default_model_path(char *buf, size_t size);

#endif
