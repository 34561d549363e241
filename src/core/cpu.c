/* The CPU's name for benchmark and study records (see cpu.h). */
#include "cpu.h"

#include <stdio.h>
#include <string.h>

/* The value of "key : value" when line starts with key, else NULL. */
static const char *field(const char *line, const char *key)
{
    size_t n = strlen(key);
    if (strncmp(line, key, n) != 0)
        return NULL;
    const char *p = line + n;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p++ != ':') /* "model" must not match "model name : ..." */
        return NULL;
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

char *cz_cpu_describe_from(const char *path, char *buf, size_t size)
{
    if (!size)
        return buf;
    snprintf(buf, size, "unknown CPU");
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    char line[512], name[256] = "", family[32] = "", model[32] = "";
    const char *v;
    while (fgets(line, sizeof line, f) && !(name[0] && family[0] && model[0])) {
        line[strcspn(line, "\n")] = 0;
        if (!name[0] && (v = field(line, "model name")))
            snprintf(name, sizeof name, "%s", v);
        else if (!family[0] && (v = field(line, "cpu family")))
            snprintf(family, sizeof family, "%s", v);
        else if (!model[0] && (v = field(line, "model")))
            snprintf(model, sizeof model, "%s", v);
    }
    fclose(f);
    if (name[0] && family[0])
        snprintf(buf, size, "%s (family %s, model %s)", name, family, model[0] ? model : "?");
    else if (name[0])
        snprintf(buf, size, "%s", name);
    return buf;
}

char *cz_cpu_describe(char *buf, size_t size)
{
    return cz_cpu_describe_from("/proc/cpuinfo", buf, size);
}
