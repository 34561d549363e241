/* The built CLI (path in $COLORIZE_BIN) on run/eval/train: outputs, alpha,
 * bad inputs, never overwriting an input, exit codes (0 ok, 1 failure,
 * 2 usage). A small untrained model is made here; quality is not tested. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colorize/image.h"
#include "model_io.h"
#include "test.h"
#include "util.h"

static const char *bin;
static char dir[64];

/* Run "$bin ARGS" through the shell, output discarded; the exit status. */
static int sh(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s > %s/out.txt 2> %s/err.txt", bin, args, dir, dir);
    int r = system(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* Whether the last command's stdout (out.txt) or stderr (err.txt) has s. */
static int file_has(const char *file, const char *s)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    uint8_t *d;
    size_t n;
    if (cz_read_file(p, 1 << 20, &d, &n))
        return 0;
    int ok = strstr((char *)d, s) != NULL;
    free(d);
    return ok;
}

static int err_has(const char *s)
{
    return file_has("err.txt", s);
}

static void picture(const char *name, int w, int h, int ch)
{
    cz_image img;
    if (cz_image_alloc(&img, w, h, ch))
        return;
    for (size_t i = 0; i < (size_t)w * h * ch; i++)
        img.pixels[i] = (uint8_t)(i * 7 % 251);
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    CHECK(cz_image_write_png(p, &img) == CZ_OK);
    cz_image_free(&img);
}

int main(void)
{
    bin = getenv("COLORIZE_BIN");
    if (!bin || access(bin, X_OK) != 0)
        TEST_SKIP("COLORIZE_BIN not set (run through ctest)");
    snprintf(dir, sizeof dir, "/tmp/cz_cli_XXXXXX");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary directory");
    char args[1024], path[256];

    cz_model m;
    CHECK(cz_model_init(&m, CZ_ARCH_UNET, CZ_HEAD_CLS, 8, 32, 3) == CZ_OK);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    CHECK(cz_model_save(&m, 0, path, NULL, 0) == CZ_OK);
    cz_model_free(&m);

    picture("grey.png", 300, 200, 1);
    picture("rgba.png", 75, 120, 4);
    picture("ga.png", 9, 5, 2);
    snprintf(path, sizeof path, "%s/broken.png", dir);
    CHECK(cz_write_file_atomic(path, "\x89PNG\r\n\x1a\n garbage", 17) == CZ_OK);

    /* One picture, -o; grey in, RGB out of the same size. */
    snprintf(args, sizeof args, "run --model %s/m.safetensors %s/grey.png -o %s/g_out.png", dir, dir, dir);
    CHECK(sh(args) == 0);
    cz_image img = {0};
    snprintf(path, sizeof path, "%s/g_out.png", dir);
    CHECK(cz_image_read(path, &img) == CZ_OK && img.width == 300 && img.height == 200 && img.channels == 3);
    cz_image_free(&img);
    /* Alpha is kept, for RGBA and grey+alpha. */
    snprintf(args, sizeof args, "run --model %s/m.safetensors %s/rgba.png %s/ga.png --outdir %s/o --decode annealed:0.5",
             dir, dir, dir, dir);
    CHECK(sh(args) == 0);
    snprintf(path, sizeof path, "%s/o/rgba.png", dir);
    CHECK(cz_image_read(path, &img) == CZ_OK && img.channels == 4 && img.width == 75);
    if (img.pixels)
        CHECK(img.pixels[3] == (uint8_t)(3 * 7 % 251));
    cz_image_free(&img);
    /* A folder with one broken file: the others are done, exit 1, named. */
    snprintf(args, sizeof args, "run --model %s/m.safetensors %s --outdir %s/all --compare", dir, dir, dir);
    CHECK(sh(args) == 1);
    CHECK(err_has("broken.png"));
    snprintf(path, sizeof path, "%s/all/grey.png", dir);
    CHECK(cz_image_read(path, &img) == CZ_OK && img.width == 600); /* side by side */
    cz_image_free(&img);
    /* Existing output kept unless --overwrite; an input is never overwritten. */
    snprintf(args, sizeof args, "run --model %s/m.safetensors %s/grey.png -o %s/g_out.png", dir, dir, dir);
    CHECK(sh(args) == 1 && err_has("--overwrite"));
    snprintf(args, sizeof args, "run --model %s/m.safetensors %s/grey.png -o %s/grey.png --overwrite", dir, dir, dir);
    CHECK(sh(args) == 1 && err_has("overwrite an input"));
    snprintf(path, sizeof path, "%s/grey.png", dir);
    CHECK(cz_image_read(path, &img) == CZ_OK && img.channels == 1);
    cz_image_free(&img);
    /* issue 13 #7: a 65535 x 1 strip (65535:1) is coloured: the working
     * size is clamped, not refused with an internal size */
    picture("strip.png", 65535, 1, 1);
    snprintf(args, sizeof args, "run --model %s/m.safetensors %s/strip.png -o %s/s_out.png", dir, dir, dir);
    CHECK(sh(args) == 0);
    snprintf(path, sizeof path, "%s/s_out.png", dir);
    CHECK(cz_image_read(path, &img) == CZ_OK && img.width == 65535 && img.height == 1 && img.channels == 3);
    cz_image_free(&img);
    /* issue 13 #4: --max-pixels refuses a bigger picture with the numbers */
    snprintf(args, sizeof args, "run --model %s/m.safetensors --max-pixels 1000 %s/grey.png -o %s/mp.png",
             dir, dir, dir);
    CHECK(sh(args) == 1 && err_has("grey.png: picture of 300 x 200 = 60000 pixels is over the max-pixels "
                                   "limit of 1000"));
    snprintf(args, sizeof args, "run --model %s/m.safetensors --max-pixels 0 %s/grey.png", dir, dir);
    CHECK(sh(args) == 2);
    /* Bad model files and flags. */
    snprintf(args, sizeof args, "run --model %s/broken.png %s/grey.png -o %s/x.png", dir, dir, dir);
    CHECK(sh(args) == 1 && err_has("broken.png"));
    snprintf(args, sizeof args, "run --model %s/m.safetensors --size -3 %s/grey.png", dir, dir);
    CHECK(sh(args) == 2);
    snprintf(args, sizeof args, "run --model %s/m.safetensors --decode median %s/grey.png", dir, dir);
    CHECK(sh(args) == 2);
    CHECK(sh("run --bogus 1") == 2);
    CHECK(sh("run") == 2);
    /* eval and train refuse missing data and bad flags. */
    snprintf(args, sizeof args, "eval --model %s/m.safetensors --data %s/nothing", dir, dir);
    CHECK(sh(args) == 1 && err_has("colorize data fetch"));
    snprintf(args, sizeof args, "train --arch alexnet --data %s", dir);
    CHECK(sh(args) == 2 && err_has("alexnet"));
    snprintf(args, sizeof args, "train --epochs 0 --data %s", dir);
    CHECK(sh(args) == 2);
    snprintf(args, sizeof args, "train --data %s/nothing --out %s/t", dir, dir);
    CHECK(sh(args) == 1);
    /* The scripts' CPU line (bench --cpu) is the text every result carries. */
    char cpu[512] = "", p[128];
    CHECK(sh("bench --cpu") == 0);
    snprintf(p, sizeof p, "%s/out.txt", dir);
    FILE *f = fopen(p, "r");
    CHECK(f && fgets(cpu, sizeof cpu, f));
    if (f)
        fclose(f);
    cpu[strcspn(cpu, "\n")] = '\0';
    CHECK(cpu[0] != '\0');
    CHECK(sh("bench --arch vgg --width 8 --batch 4 --steps 1 --warmup 0 --json") == 0);
    CHECK(file_has("out.txt", cpu));
    /* With --profile the line stays one JSON object, and the profile is
     * filled even without warm-up steps (it read zeros once). */
    CHECK(sh("bench --arch vgg --width 8 --batch 4 --steps 1 --warmup 0 --json --profile") == 0);
    CHECK(file_has("out.txt", "\"profile_ms\": {\"conv forward\": "));
    CHECK(!file_has("out.txt", "\"conv_gflops\": 0.00,") && !file_has("out.txt", "ms/step"));
    CHECK(sh("--help") == 0 && sh("train --help") == 0 && sh("eval --help") == 0 && sh("run --help") == 0);

    snprintf(args, sizeof args, "rm -rf %s", dir);
    if (system(args) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_END();
}
