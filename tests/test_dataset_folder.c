/* cz_folder_load: picture selection and order, crop + resize, planar RGB
 * layout, unreadable files skipped and reported; cz_dataset_free. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "colorize/dataset.h"
#include "colorize/image.h"
#include "test.h"

static char tmpdir[] = "/tmp/cz_test_folder_XXXXXX";

#include "image_test.h"

static int write_png(const char *name, int w, int h, int c, const uint8_t *px)
{
    cz_image img;
    char path[4096];
    if (cz_image_alloc(&img, w, h, c) != CZ_OK)
        return 0;
    memcpy(img.pixels, px, (size_t)(w * h * c));
    tpath(path, sizeof path, name);
    int ok = cz_image_write_png(path, &img) == CZ_OK;
    cz_image_free(&img);
    return ok;
}

static void remove_tree(void)
{
    static const char *const files[] = {"a.png", "b.PNG", "c.jpg", "notes.txt", "bad/only.jpeg"};
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        tpath(path, sizeof path, files[i]);
        unlink(path);
    }
    tpath(path, sizeof path, "sub.png");
    rmdir(path);
    tpath(path, sizeof path, "empty");
    rmdir(path);
    tpath(path, sizeof path, "bad");
    rmdir(path);
    rmdir(tmpdir);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* a.png: RGBA 4x4, one colour per 2x2 quadrant, alpha varying. */
static const uint8_t quad[4][3] = {{200, 10, 20}, {5, 180, 40}, {30, 60, 220}, {90, 90, 90}};

static int make_folder(void)
{
    uint8_t a[4 * 4 * 4];
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            const uint8_t *q = quad[(y / 2) * 2 + x / 2];
            uint8_t *p = a + (y * 4 + x) * 4;
            p[0] = q[0];
            p[1] = q[1];
            p[2] = q[2];
            p[3] = (uint8_t)(x * 60 + y);
        }
    /* b.PNG: grey 2 wide, 4 tall; the centre crop keeps rows 1 and 2. */
    static const uint8_t b[8] = {10, 20, 30, 40, 50, 60, 70, 80};
    /* c.jpg: a JPEG signature followed by junk. */
    static const uint8_t c[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'n', 'o', 'p', 'e', 0x12, 0x34};
    char path[4096];
    tpath(path, sizeof path, "sub.png");
    return write_png("a.png", 4, 4, 4, a) && write_png("b.PNG", 2, 4, 1, b) &&
           write_bytes("c.jpg", c, sizeof c) && write_bytes("notes.txt", "hi\n", 3) &&
           mkdir(path, 0700) == 0;
}

static void test_load(void)
{
    cz_dataset ds;
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *log = open_memstream(&logbuf, &loglen);
    CHECK(log != NULL);
    CHECK(cz_folder_load(tmpdir, 2, &ds, log) == CZ_OK);
    if (log)
        fclose(log);
    CHECK(ds.count == 2 && ds.side == 2 && ds.pixels && ds.labels);
    if (ds.count == 2 && ds.pixels) {
        const uint8_t *p = ds.pixels;
        /* a.png (sorted first): R plane, G plane, B plane of the quadrants. */
        int ok = 1;
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 4; i++)
                ok &= p[k * 4 + i] == quad[i][k];
        CHECK(ok);
        /* b.PNG: grey rows 1..2 replicated into all three planes. */
        static const uint8_t bw[4] = {30, 40, 50, 60};
        ok = 1;
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 4; i++)
                ok &= p[12 + k * 4 + i] == bw[i];
        CHECK(ok);
        CHECK(ds.labels[0] == 255 && ds.labels[1] == 255);
    }
    /* One line, naming the corrupt file and nothing else. */
    CHECK(logbuf && strstr(logbuf, "c.jpg") && count_lines(logbuf) == 1);
    CHECK(logbuf && !strstr(logbuf, "notes.txt") && !strstr(logbuf, "sub.png"));
    free(logbuf);
    cz_dataset_free(&ds);
    CHECK(ds.pixels == NULL && ds.labels == NULL && ds.count == 0);
    cz_dataset_free(&ds);

    /* side 1: the mean of the four quadrants, (200 + 5 + 30 + 90) / 4 = 81.25. */
    CHECK(cz_folder_load(tmpdir, 1, &ds, NULL) == CZ_OK);
    CHECK(ds.count == 2 && ds.pixels && ds.pixels[0] == 81 && ds.pixels[1] == 85 &&
          ds.pixels[2] == 93 && ds.pixels[3] == 45 && ds.pixels[4] == 45 && ds.pixels[5] == 45);
    cz_dataset_free(&ds);

    /* Larger than the pictures: enlarged. */
    CHECK(cz_folder_load(tmpdir, 9, &ds, NULL) == CZ_OK);
    CHECK(ds.count == 2 && ds.side == 9);
    cz_dataset_free(&ds);
}

static void test_load_errors(void)
{
    cz_dataset ds;
    char path[4096];
    tpath(path, sizeof path, "empty");
    CHECK(mkdir(path, 0700) == 0);
    CHECK(cz_folder_load(path, 8, &ds, NULL) != CZ_OK && ds.pixels == NULL && ds.count == 0);
    CHECK(strstr(cz_last_error(), "empty") != NULL);

    /* Only unreadable pictures. */
    tpath(path, sizeof path, "bad");
    CHECK(mkdir(path, 0700) == 0);
    char file[4096];
    tpath(file, sizeof file, "bad/only.jpeg");
    FILE *fp = fopen(file, "wb");
    CHECK(fp != NULL);
    if (fp) {
        fputs("not a jpeg", fp);
        fclose(fp);
    }
    CHECK(cz_folder_load(path, 8, &ds, NULL) == CZ_ERR_FORMAT && ds.pixels == NULL);
    unlink(file);

    CHECK(cz_folder_load("/nonexistent/folder", 8, &ds, NULL) == CZ_ERR_IO);
    CHECK(strstr(cz_last_error(), "/nonexistent/folder") != NULL);
    CHECK(cz_folder_load(tmpdir, 0, &ds, NULL) == CZ_ERR_ARG);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    CHECK(make_folder());
    test_load();
    test_load_errors();
    remove_tree();
    TEST_END();
}
