/* bench/conv_probe: what oneDNN offers for the engine's 3x3 convolutions
 * (batch 128, 32x32, stride 1, pad 1), the evidence behind the layout rule
 * in src/backend/dnnl/backend_dnnl.c and the bf16 decision in docs/engine.md.
 *
 *   conv_probe kernels   the implementation oneDNN picks for forward,
 *                        backward-data and backward-weights, per channel
 *                        count and source/destination layout
 *   conv_probe bf16      GFLOP/s of each pass in fp32 and in bf16 (bf16
 *                        data and weights, bf16 or fp32 results), nChw16c,
 *                        on OMP_NUM_THREADS threads
 */
#include <dnnl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define CHECK(call)                                                            \
    do {                                                                       \
        if ((call) != dnnl_success) {                                          \
            fprintf(stderr, "conv_probe: %s failed (line %d)\n", #call, __LINE__); \
            return -1;                                                         \
        }                                                                      \
    } while (0)

enum { FWD, BWD_DATA, BWD_WEIGHTS, PASSES };
static const char *const pass_name[PASSES] = {"forward", "backward-data", "backward-weights"};
static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Primitive descriptors of the three passes of a c_in -> c_out convolution:
 * src/dst in the given layouts, `data` for the inputs of each pass and
 * `result` for what it writes. */
static int make_pds(int cin, int cout, dnnl_format_tag_t src_tag, dnnl_format_tag_t dst_tag,
                    dnnl_data_type_t data, dnnl_data_type_t result, dnnl_primitive_desc_t pd[PASSES])
{
    dnnl_dims_t sd = {128, cin, 32, 32}, wd = {cout, cin, 3, 3}, dd = {128, cout, 32, 32};
    dnnl_dims_t strides = {1, 1}, pad = {1, 1};
    dnnl_memory_desc_t src, wei, dst, dsrc, dwei, ddst;
    CHECK(dnnl_memory_desc_init_by_tag(&src, 4, sd, data, src_tag));
    CHECK(dnnl_memory_desc_init_by_tag(&wei, 4, wd, data, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&dst, 4, dd, result, dst_tag));
    CHECK(dnnl_memory_desc_init_by_tag(&dsrc, 4, sd, result, src_tag));
    CHECK(dnnl_memory_desc_init_by_tag(&dwei, 4, wd, result, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&ddst, 4, dd, data, dst_tag));
    dnnl_convolution_desc_t cd;
    CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct, &src, &wei,
                                             NULL, &dst, strides, pad, pad));
    CHECK(dnnl_primitive_desc_create(&pd[FWD], &cd, NULL, engine, NULL));
    CHECK(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &dsrc, &wei, &ddst, strides,
                                                   pad, pad));
    CHECK(dnnl_primitive_desc_create(&pd[BWD_DATA], &cd, NULL, engine, pd[FWD]));
    CHECK(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &src, &dwei, NULL, &ddst,
                                                      strides, pad, pad));
    CHECK(dnnl_primitive_desc_create(&pd[BWD_WEIGHTS], &cd, NULL, engine, pd[FWD]));
    return 0;
}

static const char *impl(const_dnnl_primitive_desc_t pd)
{
    const char *s = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s);
    return s ? s : "?";
}

static void free_pds(dnnl_primitive_desc_t pd[PASSES])
{
    for (int p = 0; p < PASSES; p++)
        dnnl_primitive_desc_destroy(pd[p]);
}

static int kernels(void)
{
    static const int ch[] = {4, 8, 12, 16, 24, 32};
    static const dnnl_format_tag_t tags[] = {dnnl_aBcd8b, dnnl_aBcd16b, dnnl_acdb};
    static const char *const tag_name[] = {"nChw8c", "nChw16c", "nhwc"};
    printf("%-5s %-5s %-8s %-8s %-24s %-24s %s\n", "c_in", "c_out", "src", "dst", pass_name[0], pass_name[1],
           pass_name[2]);
    for (int i = 0; i < 6; i++)
        for (int o = 0; o < 6; o++) {
            if (ch[o] < ch[i] / 2 || ch[o] > ch[i] * 2)
                continue; /* the networks change widths by 2x at most */
            for (int s = 0; s < 3; s++)
                for (int d = 0; d < 3; d++) {
                    dnnl_primitive_desc_t pd[PASSES];
                    if (make_pds(ch[i], ch[o], tags[s], tags[d], dnnl_f32, dnnl_f32, pd))
                        return 1;
                    printf("%-5d %-5d %-8s %-8s %-24s %-24s %s\n", ch[i], ch[o], tag_name[s], tag_name[d],
                           impl(pd[FWD]), impl(pd[BWD_DATA]), impl(pd[BWD_WEIGHTS]));
                    free_pds(pd);
                }
        }
    return 0;
}

/* GFLOP/s of one pass: 2 warm-up runs, then the best of 3 timings of 4 runs. */
static double time_pass(const_dnnl_primitive_desc_t pd, int pass, int c)
{
    static const int args[PASSES][3] = {{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
                                        {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
                                        {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS}};
    dnnl_primitive_t prim;
    dnnl_exec_arg_t a[3];
    double best = 1e30;
    if (dnnl_primitive_create(&prim, pd) != dnnl_success)
        return -1;
    int made = 0;
    for (; made < 3; made++) {
        a[made].arg = args[pass][made];
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, a[made].arg);
        if (dnnl_memory_create(&a[made].memory, md, engine, DNNL_MEMORY_ALLOCATE) != dnnl_success)
            goto done;
        /* zero-filled: the timings do not depend on the values */
        void *h = NULL;
        dnnl_memory_get_data_handle(a[made].memory, &h);
        memset(h, 0, dnnl_memory_desc_get_size(md));
    }
    for (int rep = 0; rep < 5; rep++) {
        double t = now();
        for (int k = 0; k < (rep < 2 ? 1 : 4); k++)
            dnnl_primitive_execute(prim, stream, 3, a);
        dnnl_stream_wait(stream);
        if (rep >= 2 && (now() - t) / 4 < best)
            best = (now() - t) / 4;
    }
done:
    for (int i = 0; i < made; i++)
        dnnl_memory_destroy(a[i].memory);
    dnnl_primitive_destroy(prim);
    return made < 3 ? -1 : 2.0 * 128 * c * c * 9 * 32 * 32 / best / 1e9;
}

static int bf16(void)
{
    printf("%-4s %-17s %9s %15s %15s  %s\n", "c", "pass", "fp32", "bf16->bf16", "bf16->fp32", "bf16 kernel");
    for (int c = 16; c <= 64; c *= 2)
        for (int p = 0; p < PASSES; p++) {
            dnnl_primitive_desc_t f[PASSES], bb[PASSES], bf[PASSES];
            if (make_pds(c, c, dnnl_aBcd16b, dnnl_aBcd16b, dnnl_f32, dnnl_f32, f) ||
                make_pds(c, c, dnnl_aBcd16b, dnnl_aBcd16b, dnnl_bf16, dnnl_bf16, bb) ||
                make_pds(c, c, dnnl_aBcd16b, dnnl_aBcd16b, dnnl_bf16, dnnl_f32, bf)) {
                fprintf(stderr, "conv_probe: no bf16 convolution on this CPU\n");
                return 1;
            }
            double g32 = time_pass(f[p], p, c), gbb = time_pass(bb[p], p, c), gbf = time_pass(bf[p], p, c);
            printf("%-4d %-17s %9.1f %9.1f (%.2f) %9.1f (%.2f)  %s\n", c, pass_name[p], g32, gbb, gbb / g32, gbf,
                   gbf / g32, impl(bb[p]));
            free_pds(f);
            free_pds(bb);
            free_pds(bf);
        }
    return 0;
}

int main(int argc, char **argv)
{
    int k = argc == 2 && strcmp(argv[1], "kernels") == 0, b = argc == 2 && strcmp(argv[1], "bf16") == 0;
    if (!k && !b) {
        fprintf(stderr, "usage: conv_probe kernels|bf16   (GFLOP/s on OMP_NUM_THREADS threads)\n");
        return 2;
    }
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) {
        fprintf(stderr, "conv_probe: cannot create a oneDNN CPU engine\n");
        return 1;
    }
    int rc = k ? kernels() : bf16();
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return rc;
}
