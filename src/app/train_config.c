/* A training's configuration: its defaults, its option names and its JSON
 * form (the identity a run resumes under). */
#include <stdio.h>
#include <string.h>

#include "train.h"

void cz_train_defaults(cz_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->arch = CZ_ARCH_UNET;
    c->head = CZ_HEAD_REG;
    c->width = 16;
    c->epochs = 10;
    c->batch = 128;
    cz_optim_defaults(&c->optim);
    c->schedule = CZ_SCHED_CONST;
    c->flip = 1;
    c->split = CZ_SPLIT_SEEDED;
    c->out_dir = "runs/train";
    c->eval_batch = 250;
    c->accum = 1;
}

/* Append the recipe keys to a JSON object whose closing brace is at buf[0]. */
static void recipe_json(const cz_train_config *c, char *buf, size_t size)
{
    char ema[96] = "", tgt[80] = "", mse[48] = "", aux[48] = "", target[48];
    const char *prec = c->bf16 ? ", \"precision\": \"bf16\"" : "";
    cz_cls_target_format(&c->cls_loss, target, sizeof target);
    if (c->ema > 0)
        snprintf(ema, sizeof ema, ", \"ema\": %.9g, \"ema_bn\": \"%s\"", c->ema, cz_ema_bn_name(c->ema_bn));
    if (c->cls_loss.target != CZ_CLS_TARGET_ONEHOT)
        snprintf(tgt, sizeof tgt, ", \"target\": \"%s\"", target);
    if (c->cls_loss.mse_weight > 0)
        snprintf(mse, sizeof mse, ", \"loss_mse\": %.9g", c->cls_loss.mse_weight);
    if (c->aux_class > 0)
        snprintf(aux, sizeof aux, ", \"aux_class\": %.9g", c->aux_class);
    snprintf(buf, size, "%s%s%s%s%s}", ema, tgt, mse, aux, prec);
}

void cz_train_config_json(const cz_train_config *c, char *buf, size_t size)
{
    int len = snprintf(buf, size,
             "{\"arch\": \"%s\", \"head\": \"%s\", \"width\": %d, \"epochs\": %d, \"batch\": %d, "
             "\"optim\": \"%s\", \"lr\": %.9g, \"momentum\": %.9g, \"nesterov\": %d, \"wd\": %.9g, "
             "\"schedule\": \"%s\", \"warmup\": %.9g, \"aug\": \"%s\", \"seed\": %llu, "
             "\"split\": \"%s\", \"split_seed\": %llu, \"limit_train\": %d, \"limit_val\": %d}",
             cz_arch_name(c->arch), cz_head_name(c->head), c->width, c->epochs, c->batch,
             cz_optim_kind_name(c->optim.kind), c->optim.lr, c->optim.momentum, c->optim.nesterov,
             c->optim.weight_decay, cz_schedule_name(c->schedule), c->warmup,
             c->flip ? (c->crop ? "flip+crop" : "flip") : (c->crop ? "crop" : "none"),
             (unsigned long long)c->seed, c->split == CZ_SPLIT_OFFICIAL ? "official" : "seeded",
             (unsigned long long)c->split_seed, c->limit_train, c->limit_val);
    if (len > 0 && (size_t)len < size) /* the recipe keys, where they differ from the defaults */
        recipe_json(c, buf + len - 1, size - (size_t)len + 1);
}

cz_status cz_train_config_names(cz_train_config *c, const cz_train_names *n)
{
    cz_status st;
    if ((n->arch && (st = cz_arch_parse(n->arch, &c->arch))) ||
        (n->head && (st = cz_head_parse(n->head, &c->head))) ||
        (n->optim && (st = cz_optim_kind_parse(n->optim, &c->optim.kind))) ||
        (n->schedule && (st = cz_schedule_parse(n->schedule, &c->schedule))) ||
        (n->split && (st = cz_split_parse(n->split, &c->split))) ||
        (n->target && (st = cz_cls_target_parse(n->target, &c->cls_loss))) ||
        (n->ema_bn && (st = cz_ema_bn_parse(n->ema_bn, &c->ema_bn))))
        return st;
    if (n->precision && (st = cz_precision_parse(n->precision, &c->bf16)))
        return st;
    if (!n->aug)
        return CZ_OK;
    if (strcmp(n->aug, "none") == 0)
        c->flip = c->crop = 0;
    else if (strcmp(n->aug, "flip") == 0)
        c->flip = 1, c->crop = 0;
    else if (strcmp(n->aug, "flip+crop") == 0)
        c->flip = c->crop = 1;
    else
        return cz_fail(CZ_ERR_ARG, "unknown augmentation '%s' (use none, flip or flip+crop)", n->aug);
    return CZ_OK;
}

cz_status cz_train_config_size(const cz_train_config *c, size_t *params, double *flops)
{
    cz_model m;
    cz_status st = cz_model_create(&m, c->arch, c->head, c->width, 32);
    if (st)
        return st;
    *params = cz_graph_param_count(&m.graph);
    *flops = cz_graph_flops(&m.graph);
    cz_model_free(&m);
    return CZ_OK;
}
