/* colorize run: colour your own PNG/JPEG pictures. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "colorize/colorize.h"
#include "paths.h"
#include "train.h"
#include "util.h"

typedef struct path_list {
    char **v;
    int n, cap;
} path_list;

static int list_add(path_list *l, const char *p)
{
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return 0;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(p)))
        return 0;
    l->n++;
    return 1;
}

static void list_free(path_list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

static int is_picture(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files as given; folders expanded to their pictures, sorted by name. */
static int expand(const char *arg, path_list *out)
{
    struct stat sb;
    if (stat(arg, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return list_add(out, arg);
    DIR *d = opendir(arg);
    if (!d)
        return list_add(out, arg); /* reported when it fails to read */
    path_list here = {0};
    struct dirent *e;
    int ok = 1;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !is_picture(e->d_name))
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", arg, e->d_name);
        ok = list_add(&here, p);
    }
    closedir(d);
    if (here.n)
        qsort(here.v, (size_t)here.n, sizeof *here.v, cmp_str);
    for (int i = 0; ok && i < here.n; i++)
        ok = list_add(out, here.v[i]);
    list_free(&here);
    return ok;
}

static void output_name(const char *in, const char *outdir, char *buf, size_t size)
{
    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    const char *dot = strrchr(base, '.');
    int len = dot ? (int)(dot - base) : (int)strlen(base);
    snprintf(buf, size, "%s/%.*s.png", outdir, len, base);
}

/* grey | colourised, side by side */
static cz_status compare_image(const cz_image *in, const cz_image *col, cz_image *out)
{
    cz_status st = cz_image_alloc(out, 2 * col->width, col->height, 3);
    if (st)
        return st;
    for (int y = 0; y < col->height; y++)
        for (int x = 0; x < col->width; x++) {
            const uint8_t *c = col->pixels + ((size_t)y * col->width + x) * col->channels;
            const uint8_t *s = in->pixels + ((size_t)y * in->width + x) * in->channels;
            float g = in->channels >= 3 ? 0.299f * s[0] + 0.587f * s[1] + 0.114f * s[2] : s[0];
            uint8_t gv = (uint8_t)(g + 0.5f);
            uint8_t *o = out->pixels + ((size_t)y * out->width + x) * 3;
            o[0] = o[1] = o[2] = gv;
            memcpy(o + 3 * (size_t)col->width, c, 3);
        }
    return CZ_OK;
}

/* Summed (dU^2 + dV^2) of an RGB(A) result against an RGB truth of the same
 * size; -1 when the truth cannot be used. */
static double chroma_se(const cz_image *col, const char *truth_dir, const char *in, long *pixels)
{
    const char *base = strrchr(in, '/');
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", truth_dir, base ? base + 1 : in);
    cz_image t = {0};
    if (cz_image_read(p, &t) || t.width != col->width || t.height != col->height || t.channels < 3) {
        cz_image_free(&t);
        return -1;
    }
    double se = 0;
    for (size_t i = 0; i < (size_t)t.width * t.height; i++) {
        const uint8_t *a = col->pixels + i * col->channels, *b = t.pixels + i * t.channels;
        float ya, ua, va, yb, ub, vb;
        cz_rgb_to_yuv(a[0] / 255.0f, a[1] / 255.0f, a[2] / 255.0f, &ya, &ua, &va);
        cz_rgb_to_yuv(b[0] / 255.0f, b[1] / 255.0f, b[2] / 255.0f, &yb, &ub, &vb);
        se += (double)(ua - ub) * (ua - ub) + (double)(va - vb) * (va - vb);
    }
    *pixels += (long)t.width * t.height;
    cz_image_free(&t);
    return se;
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cmd_run(int argc, char **argv)
{
    char def_model[4096];
    cz_default_model_path(def_model, sizeof def_model);
    const char *model = def_model, *out = NULL, *outdir = NULL, *decode_text = "mean", *truth = NULL;
    const char *backend = "dnnl", *precision = "fp32";
    int size = CZ_DEFAULT_WORKING_SIZE, threads = 2, compare = 0, overwrite = 0, no_flip = 0;
    int max_pixels = (int)CZ_DEFAULT_MAX_PIXELS;
    cli_opt opts[] = {
        {"model", CLI_OPT_STR, &model, "model file (.safetensors)", 0, 0},
        {"o", CLI_OPT_STR, &out, "output PNG (one input only)", 0, 0},
        {"outdir", CLI_OPT_STR, &outdir, "output folder (default: colorized/)", 0, 0},
        {"size", CLI_OPT_INT, &size, "working resolution: shorter side seen by the network", 8, 4096},
        {"decode", CLI_OPT_STR, &decode_text, "cls decoding: mean, annealed[:T] or mode", 0, 0},
        {"no-flip", CLI_OPT_FLAG, &no_flip, "no test-time flip averaging (half the network time)", 0, 0},
        {"compare", CLI_OPT_FLAG, &compare, "write grey | colourised side by side", 0, 0},
        {"overwrite", CLI_OPT_FLAG, &overwrite, "replace existing output files", 0, 0},
        {"truth", CLI_OPT_STR, &truth, "folder of colour originals (same names): report chroma MSE", 0, 0},
        {"max-pixels", CLI_OPT_INT, &max_pixels,
         "refuse bigger pictures (memory: about 9 bytes a pixel, docs/run.md)", 1, CZ_IMAGE_MAX_PIXELS},
        {"threads", CLI_OPT_INT, &threads, "compute threads", 1, 256},
        {"backend", CLI_OPT_STR, &backend, "dnnl, or ref (the slow reference, for debugging)", 0, 0},
        {"precision", CLI_OPT_STR, &precision, "fp32, or bf16 convolutions (CPUs with AVX512_BF16 or AMX)", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0}};
    const char *pos[4096];
    int npos, rc = cli_parse("run", "[--model FILE] IN... [-o OUT.png | --outdir DIR]",
                             "Colourise PNG or JPEG pictures of any size (folders are expanded). The\n"
                             "network predicts chroma at the working resolution; it is upsampled and\n"
                             "joined with the picture's own full-resolution luma. Alpha is kept.",
                             opts, argc, argv, pos, 4096, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (npos == 0) {
        cli_error("run", "no input pictures (see --help)");
        return CLI_EXIT_USAGE;
    }
    if (out && outdir) {
        cli_error("run", "give either -o or --outdir, not both");
        return CLI_EXIT_USAGE;
    }
    cz_colorizer_options co = {.working_size = size, .max_pixels = (size_t)max_pixels, .backend = backend,
                               .precision = precision,
                               .flip = no_flip ? -1 : 1};
    if (cz_decode_parse(decode_text, &co.decode)) {
        cli_error("run", "%s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    cz_train_config names; /* the precision read as train and eval read it: exit 2 */
    cz_train_defaults(&names);
    if (cz_train_config_names(&names, &(cz_train_names){.precision = precision})) {
        cli_error("run", "%s", cz_last_error());
        return CLI_EXIT_USAGE;
    }
    path_list inputs = {0};
    for (int i = 0; i < npos; i++)
        if (!expand(pos[i], &inputs)) {
            cli_error("run", "out of memory");
            list_free(&inputs);
            return CLI_EXIT_FAIL;
        }
    if (out && inputs.n != 1) {
        cli_error("run", "-o takes one input; %d given (use --outdir)", inputs.n);
        list_free(&inputs);
        return CLI_EXIT_USAGE;
    }
    if (!out && !outdir)
        outdir = "colorized";
    if (outdir && cz_mkdirs(outdir)) {
        cli_error("run", "%s", cz_last_error());
        list_free(&inputs);
        return CLI_EXIT_FAIL;
    }
    cz_set_threads(threads);
    cz_colorizer *c;
    if (cz_colorizer_open(model, &co, &c)) {
        cli_error("run", "%s", cz_last_error());
        list_free(&inputs);
        return CLI_EXIT_FAIL;
    }
    int failed = 0, done = 0, tty = isatty(STDERR_FILENO), scored = 0;
    double se_total = 0;
    long se_pixels = 0;
    double t0 = cz_now(), last = 0;
    for (int i = 0; i < inputs.n; i++) {
        const char *in = inputs.v[i];
        char dst[PATH_MAX];
        if (out)
            snprintf(dst, sizeof dst, "%s", out);
        else
            output_name(in, outdir, dst, sizeof dst);
        int clash = 0;
        for (int k = 0; k < inputs.n; k++)
            clash |= same_file(inputs.v[k], dst) || strcmp(inputs.v[k], dst) == 0;
        cz_image img = {0}, col = {0}, cmp = {0};
        cz_status st = CZ_OK;
        if (clash)
            st = cz_fail(CZ_ERR_ARG, "%s: would overwrite an input; choose another -o/--outdir", dst);
        else if (!overwrite && cz_file_exists(dst))
            st = cz_fail(CZ_ERR_IO, "%s exists (pass --overwrite to replace it)", dst);
        if (!st)
            st = cz_image_read_max(in, cz_colorizer_max_pixels(c), &img); /* refused before decoding */
        if (!st)
            st = cz_colorize_image(c, &img, &col);
        if (!st && truth) {
            double se = chroma_se(&col, truth, in, &se_pixels);
            if (se >= 0) {
                se_total += se;
                scored++;
            }
        }
        if (!st && compare)
            st = compare_image(&img, &col, &cmp);
        if (!st)
            st = cz_image_write_png(dst, compare ? &cmp : &col);
        if (st) {
            if (tty)
                fputs("\r\033[K", stderr);
            fprintf(stderr, "colorize run: skipped %s: %s\n", in, cz_last_error());
            failed++;
        } else {
            done++;
            if (inputs.n == 1)
                fprintf(stderr, "%s -> %s (%dx%d, %s)\n", in, dst, img.width, img.height, cz_colorizer_describe(c));
        }
        cz_image_free(&img);
        cz_image_free(&col);
        cz_image_free(&cmp);
        double now = cz_now();
        if (inputs.n > 1 && (now - last > (tty ? 0.3 : 10.0) || i + 1 == inputs.n)) {
            last = now;
            double rate = (i + 1) / (now - t0);
            fprintf(stderr, "%s%d/%d pictures  %.1f/s  ETA %.0f s  (%d failed)%s", tty ? "\r\033[K" : "", i + 1,
                    inputs.n, rate, (inputs.n - i - 1) / rate, failed, tty ? "" : "\n");
        }
    }
    if (inputs.n > 1) {
        if (tty)
            fputc('\n', stderr);
        fprintf(stderr, "colorized %d of %d pictures into %s in %.1f s\n", done, inputs.n, out ? out : outdir,
                cz_now() - t0);
    }
    if (truth)
        printf("chroma MSE against %s: %.6f over %d pictures (%ld pixels), working size %d\n", truth,
               se_pixels ? se_total / (double)se_pixels : 0.0, scored, se_pixels, size);
    cz_colorizer_close(c);
    list_free(&inputs);
    return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
