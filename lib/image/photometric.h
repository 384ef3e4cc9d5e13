/* photometric.h - random grey-level and sharpness perturbations that mimic differences between
 * scanners, reconstruction kernels and figure sources: contrast, gamma, Gaussian noise, Gaussian
 * blur and lost resolution (down- then up-sampling). For ct-augment, after the affine warp.
 *
 * Ranges (all zero, resolution 1 = off):
 *   contrast C  factor uniform in [1 - C, 1 + C] about the image mean      C in [0, 0.9]
 *   gamma G     v^g with g = exp(u), u uniform in [-G, G]                 G in [0, 1]
 *   noise S     Gaussian noise, sd uniform in [0, S] (image units 0..1)   S in [0, 0.5]
 *   blur B      Gaussian blur, sigma uniform in [0, B] pixels             B in [0, 10]
 *   resolution R  scale s uniform in [R, 1]: area-resize to s x size, then bilinear back,
 *               R in [0.1, 1] */
#ifndef CT_PHOTOMETRIC_H
#define CT_PHOTOMETRIC_H

#include "core/rng.h"
#include "core/tensor.h"

typedef struct ct_photo_params {
	double contrast, gamma, noise, blur, resolution;
} ct_photo_params;

void ct_photo_defaults(ct_photo_params *p); /* all off (resolution 1) */
int ct_photo_enabled(const ct_photo_params *p);
/* A message and -1 when a range is outside the documented bounds. */
int ct_photo_check(const ct_photo_params *p);

/* One draw: the contrast factor, the gamma exponent, the noise sd, the blur sigma and the
 * resolution scale (identity: 1, 1, 0, 0, 1). */
typedef struct ct_photo_transform {
	double contrast, gamma, noise_sd, blur_sigma, scale;
} ct_photo_transform;

void ct_photo_identity(ct_photo_transform *t);
/* Draws exactly five uniforms from rng, in the order contrast, gamma, noise, blur, resolution,
 * whether or not each is enabled. */
void ct_photo_random(const ct_photo_params *p, ct_rng *rng, ct_photo_transform *t);

/* Apply to img (H x W x C, U8 or F32 in [0, 1]) in place, in the order resolution, blur,
 * contrast, gamma, noise, then clamp to [0, 1] (uint8: round to nearest). Noise draws one
 * standard normal per pixel from rng in raster order (when noise_sd > 0), added to every
 * channel alike so grey stays grey. Deterministic. */
int ct_photo_apply(const ct_photo_transform *t, ct_rng *rng, ct_tensor *img);

/* Separable Gaussian filter of a float plane (h x w, row-major) in place, as
 * scipy.ndimage.gaussian_filter(mode='nearest', truncate=4.0). */
int ct_gaussian_blur(float *v, int h, int w, double sigma);

#endif
