/* The evaluation metrics of SPEC §4, accumulated batch by batch. */
#ifndef CZ_METRICS_H
#define CZ_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "colorize/colorspace.h"
#include "colorize/dataset.h"
#include "heads.h"

typedef struct cz_metrics {
    double se_u, se_v;      /* summed squared chroma errors */
    double se_grey;         /* of the U = V = 0 predictor, for reference */
    long pixels;
    double se_class[CZ_CIFAR_CLASSES];
    long px_class[CZ_CIFAR_CLASSES];
    double rgb_se;          /* summed squared 8-bit RGB error */
    long rgb_values;
    double colorful_pred, colorful_true; /* summed per image */
    long images, colorful_images;
    long correct_u, correct_v; /* cls: bin accuracy */
    double ce;                 /* cls: summed cross-entropy (U + V) */
    int has_cls;
} cz_metrics;

void cz_metrics_init(cz_metrics *m);
/* Add a batch: the network output, its decoded chroma, and the truth. */
void cz_metrics_add(cz_metrics *m, const cz_batch *b, const float *out, const float *uv_pred,
                    cz_head head);

double cz_metrics_mse(const cz_metrics *m);
/* Chroma MSE of class k; NAN when the split holds no image of that class. */
double cz_metrics_class_mse(const cz_metrics *m, int k);
/* RGB PSNR in dB: INFINITY for a perfect match, NAN with no pixels. */
double cz_metrics_psnr(const cz_metrics *m);
/* Hasler & Süsstrunk colourfulness of one RGB image (0-255 floats, planar). */
double cz_colorfulness(const float *r, const float *g, const float *b, int pixels);

/* Write the metrics as a JSON object; a value that is not a finite number
 * (a class without images, an infinite PSNR) is written as null. */
void cz_metrics_json(const cz_metrics *m, FILE *fp, const char *decode, const char *split);

#endif
