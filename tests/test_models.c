/* Model graphs: parameter counts and FLOPs equal those printed by
 * `python3 ../shared/reference/models.py` (the context networks: those of
 * tools/context_modules.py's twins, convs and linear layers counted);
 * names follow the state_dict. */
#include <string.h>

#include "models.h"
#include "test.h"

int main(void)
{
    static const struct {
        cz_arch arch;
        int w, out;
        size_t params;
        double mflops;
    } want[] = {
        {CZ_ARCH_VGG, 32, 2, 1732930, 230.36},    {CZ_ARCH_VGG, 32, 40, 1734184, 232.85},
        {CZ_ARCH_UNET, 32, 2, 1926466, 286.98},   {CZ_ARCH_UNET, 32, 40, 1927720, 289.47},
        {CZ_ARCH_RESNET, 32, 2, 828418, 294.32},  {CZ_ARCH_RESNET, 32, 40, 829672, 296.81},
        {CZ_ARCH_VGG, 16, 2, 434082, 57.77},      {CZ_ARCH_VGG, 16, 40, 434728, 59.02},
        {CZ_ARCH_UNET, 16, 2, 482466, 71.93},     {CZ_ARCH_UNET, 16, 40, 483112, 73.17},
        {CZ_ARCH_RESNET, 16, 2, 207874, 73.76},   {CZ_ARCH_RESNET, 16, 40, 208520, 75.01},
        {CZ_ARCH_RESUNET, 16, 40, 803048, 91.259},
        {CZ_ARCH_RESUNET_GC, 16, 2, 853228, 91.098},  {CZ_ARCH_RESUNET_GC, 16, 40, 853874, 92.343},
        {CZ_ARCH_RESUNET_SE, 16, 2, 824762, 90.057},  {CZ_ARCH_RESUNET_SE, 16, 40, 825408, 91.302},
        {CZ_ARCH_RESUNET_GC, 32, 40, 3404978, 366.155}, {CZ_ARCH_RESUNET_SE, 32, 40, 3293272, 361.998},
    };
    cz_graph g;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK(cz_model_graph(want[i].arch, want[i].w, want[i].out, 32, &g) == CZ_OK);
        CHECK(cz_graph_param_count(&g) == want[i].params);
        CHECK_CLOSE(cz_graph_flops(&g) / 1e6, want[i].mflops, 0.006, 0);
        CHECK(g.tensors[g.output].c == want[i].out && g.tensors[g.output].h == 32);
        cz_graph_free(&g);
    }
    /* A few state_dict names and shapes. */
    CHECK(cz_model_graph(CZ_ARCH_RESNET, 16, 2, 32, &g) == CZ_OK);
    int p = cz_graph_find_param(&g, "s2.0.shortcut.0.weight");
    CHECK(p >= 0 && g.params[p].shape[0] == 32 && g.params[p].shape[1] == 16 && g.params[p].shape[2] == 1);
    CHECK(cz_graph_find_param(&g, "d2.conv1.weight") >= 0);
    CHECK(cz_graph_find_buffer(&g, "s3.1.bn2.running_var") >= 0);
    p = cz_graph_find_param(&g, "u2.weight"); /* transposed conv: [in, out, kh, kw] */
    CHECK(p >= 0 && g.params[p].shape[0] == 64 && g.params[p].shape[1] == 32);
    cz_graph_free(&g);
    CHECK(cz_model_graph(CZ_ARCH_UNET, 4, 40, 32, &g) == CZ_OK);
    p = cz_graph_find_param(&g, "d1.0.0.weight"); /* conv over [up, skip] */
    CHECK(p >= 0 && g.params[p].shape[0] == 4 && g.params[p].shape[1] == 8);
    CHECK(cz_graph_find_param(&g, "e1.1.1.bias") >= 0);
    cz_graph_free(&g);
    /* The context modules' state_dict names and shapes (context_modules.py). */
    CHECK(cz_model_graph(CZ_ARCH_RESUNET_GC, 16, 40, 32, &g) == CZ_OK);
    p = cz_graph_find_param(&g, "gc.fc.weight"); /* nn.Linear: [out, in] */
    CHECK(p >= 0 && g.params[p].ndim == 2 && g.params[p].shape[0] == 128 && g.params[p].shape[1] == 128);
    p = cz_graph_find_param(&g, "gc.fuse.0.weight"); /* conv 1x1 over [x, broadcast] */
    CHECK(p >= 0 && g.params[p].shape[0] == 128 && g.params[p].shape[1] == 256 && g.params[p].shape[2] == 1);
    CHECK(cz_graph_find_buffer(&g, "gc.fuse.1.running_mean") >= 0);
    p = cz_graph_find_param(&g, "gc.aux.weight");
    CHECK(p >= 0 && g.params[p].shape[0] == 10 && g.params[p].shape[1] == 128);
    CHECK(g.aux >= 0 && g.tensors[g.aux].c == 10 && g.tensors[g.aux].h == 1);
    cz_graph_free(&g);
    CHECK(cz_model_graph(CZ_ARCH_RESUNET_SE, 16, 40, 32, &g) == CZ_OK);
    p = cz_graph_find_param(&g, "e1.se.fc1.weight"); /* 16 -> max(16 / 4, 4) */
    CHECK(p >= 0 && g.params[p].shape[0] == 4 && g.params[p].shape[1] == 16);
    p = cz_graph_find_param(&g, "b.1.se.fc2.weight");
    CHECK(p >= 0 && g.params[p].shape[0] == 128 && g.params[p].shape[1] == 32);
    CHECK(cz_graph_find_param(&g, "d1.se.fc2.bias") >= 0 && g.aux < 0);
    cz_graph_free(&g);
    /* Shapes a network cannot take fail at build time. */
    CHECK(cz_model_graph(CZ_ARCH_VGG, 16, 2, 20, &g) != CZ_OK);
    CHECK(strstr(cz_last_error(), "multiples of 8") != NULL);
    cz_graph_init(&g);
    int x = cz_graph_input(&g, 3, 5, 5);
    CHECK(cz_graph_pool(&g, "oddpool", x) < 0 && strstr(cz_last_error(), "oddpool") != NULL);
    cz_graph_free(&g);
    TEST_END();
}
