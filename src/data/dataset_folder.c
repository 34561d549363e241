/* A folder of PNG/JPEG pictures as a dataset: each centre-cropped to a
 * square, resized to side x side and stored as planar RGB. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "colorize/dataset.h"
#include "colorize/image.h"
#include "util.h"

static int folder_is_picture(const char *name)
{
    static const char *const exts[] = {".png", ".jpg", ".jpeg"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t e = strlen(exts[i]);
        /* n > e: a file called just ".png" is hidden, not a picture. */
        if (n > e && strcasecmp(name + n - e, exts[i]) == 0)
            return 1;
    }
    return 0;
}

static int folder_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void folder_names_free(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Sorted names of the regular picture files in dir (sorted so that image
 * indices, hence splits, do not depend on the file system's order). */
static cz_status folder_list(const char *dir, char ***out, int *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return cz_fail(CZ_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    cz_status st = CZ_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                st = cz_fail(CZ_ERR_IO, "%s: cannot list directory: %s", dir, strerror(errno));
            break;
        }
        if (!folder_is_picture(e->d_name))
            continue;
        char path[4096];
        struct stat sb;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue; /* a directory named x.png, a dangling link, ... */
        if (n == cap) {
            if (cap > (1 << 28)) {
                st = cz_fail(CZ_ERR_NOMEM, "%s: too many files", dir);
                break;
            }
            int ncap = cap ? 2 * cap : 64;
            char **grown = realloc(names, (size_t)ncap * sizeof *names);
            if (!grown) {
                st = cz_fail(CZ_ERR_NOMEM, "%s: out of memory listing files", dir);
                break;
            }
            names = grown;
            cap = ncap;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            st = cz_fail(CZ_ERR_NOMEM, "%s: out of memory listing files", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (st) {
        folder_names_free(names, n);
        return st;
    }
    if (n > 1)
        qsort(names, (size_t)n, sizeof *names, folder_name_cmp);
    *out = names;
    *count = n;
    return CZ_OK;
}

/* Crop, resize and scatter one picture into its planar 3 x side x side slot:
 * grey is replicated into R, G and B, alpha is dropped. */
static cz_status folder_store(const cz_image *img, int side, uint8_t *slot)
{
    cz_image square, small;
    cz_status st = cz_image_center_crop_square(img, &square);
    if (st)
        return st;
    st = cz_image_resize(&square, side, side, &small);
    cz_image_free(&square);
    if (st)
        return st;
    const size_t plane = (size_t)side * (size_t)side;
    const int c = small.channels;
    for (size_t i = 0; i < plane; i++) {
        const uint8_t *p = small.pixels + i * (size_t)c;
        int colour = c >= 3;
        slot[i] = p[0];
        slot[plane + i] = colour ? p[1] : p[0];
        slot[2 * plane + i] = colour ? p[2] : p[0];
    }
    cz_image_free(&small);
    return CZ_OK;
}

cz_status cz_folder_load(const char *dir, int side, cz_dataset *ds, FILE *log)
{
    memset(ds, 0, sizeof *ds);
    if (!dir)
        return cz_fail(CZ_ERR_ARG, "cz_folder_load: no directory given");
    if (side < 1 || side > CZ_IMAGE_MAX_SIDE)
        return cz_fail(CZ_ERR_ARG, "%s: bad image side %d", dir, side);
    size_t per_image;
    if (!cz_mul_ok((size_t)side * 3, (size_t)side, &per_image))
        return cz_fail(CZ_ERR_NOMEM, "%s: image side %d too large", dir, side);
    char **names;
    int n;
    cz_status st = folder_list(dir, &names, &n);
    if (st)
        return st;
    if (n == 0)
        return cz_fail(CZ_ERR_FORMAT, "%s: no .png, .jpg or .jpeg files", dir);

    uint8_t *pixels = cz_alloc((size_t)n, per_image, "folder dataset pixels");
    uint8_t *labels = cz_alloc((size_t)n, 1, "folder dataset labels");
    if (!pixels || !labels) {
        st = CZ_ERR_NOMEM;
        goto fail;
    }
    int count = 0, skipped = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]); /* fitted in folder_list */
        cz_image img;
        if (cz_image_read(path, &img) != CZ_OK) {
            /* The error already names the file. */
            if (log)
                fprintf(log, "skipping %s\n", cz_last_error());
            skipped++;
            continue;
        }
        st = folder_store(&img, side, pixels + (size_t)count * per_image);
        cz_image_free(&img);
        if (st)
            goto fail;
        labels[count++] = 255;
    }
    if (count == 0) {
        st = cz_fail(CZ_ERR_FORMAT, "%s: none of the %d picture files could be read", dir, n);
        goto fail;
    }
    if (skipped > 0) {
        /* Give back the slots of skipped files; keeping them is harmless. */
        uint8_t *p = realloc(pixels, (size_t)count * per_image);
        if (p)
            pixels = p;
    }
    folder_names_free(names, n);
    ds->count = count;
    ds->side = side;
    ds->pixels = pixels;
    ds->labels = labels;
    return CZ_OK;

fail:
    free(pixels);
    free(labels);
    folder_names_free(names, n);
    return st;
}
