/* gradcam.h - the arithmetic of Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations
 * from Deep Networks via Gradient-based Localization", ICCV 2017) for our architecture: a
 * classifier head on globally pooled activations A (h x w x c, NHWC) of a backbone cut.
 *
 * Given g = d score / d pooled feature (from ct_head_logit_grad, through the fusion):
 *   avg pooling:  d score / d A_k(i,j) = g_k / (h w) at every location, so the Grad-CAM
 *                 weights are alpha_k = g_k / (h w) and heat(i,j) = ReLU(sum_k alpha_k A_k(i,j));
 *   max pooling:  the gradient reaches only the arg-max location of each channel (the first
 *                 one on ties, as lib/nn/pool.c pools), so heat(i,j) = ReLU(sum of g_k A_k(i,j)
 *                 over the channels k whose maximum is at (i,j));
 *   no pooling:   g holds d score / d A_k(i,j) for every location; alpha_k is its mean over
 *                 the locations and heat = ReLU(sum_k alpha_k A_k), as in the paper.
 * For avg (and max) pooling the heat before the ReLU sums over the locations to the linear
 * part of the score g . pooled, so it splits the (linearised) score over the image. */
#ifndef CT_GRADCAM_H
#define CT_GRADCAM_H

#include "nn/net.h"

#include <stdint.h>

/* Heat of one block at the cut's resolution: act h x w x c, grad c values (avg, max) or
 * h x w x c (none); heat receives h x w values >= 0. */
void ct_gradcam_map(const float *act, int h, int w, int c, ct_pool pool, const double *grad, float *heat);

/* The same for a block pooled over the lung field (ct-features --pool lung-avg / lung-max,
 * data/lungpool.h) with the cell weights wt (h x w; NULL or all 0: the whole map, as above):
 *   lung-avg: d score / d A_k(s) = g_k w_s / sum(w), so
 *             heat(s) = ReLU(sum_k g_k w_s A_k(s) / sum(w)) = w_s ReLU(sum_k alpha_k A_k(s)),
 *             alpha_k = g_k / sum(w): the whole-map CAM times the mask weights (the model never
 *             sees a cell outside the lung field, so none has heat);
 *   lung-max: as max, with each channel's maximum taken over the cells of positive weight.
 * Before the ReLU the heat still sums to g . pooled. */
void ct_gradcam_map_lung(const float *act, int h, int w, int c, ct_pool pool, const double *grad, const double *wt,
			 float *heat);

/* Bilinear resize of an h x w map to H x W with half-pixel centres and clamped edges:
 * source coordinate (y + 0.5) h / H - 0.5 (TensorFlow's resize with half_pixel_centers,
 * OpenCV's INTER_LINEAR, scipy.ndimage.zoom(order=1, grid_mode=True, mode='nearest')). */
void ct_heat_upsample(const float *in, int h, int w, float *out, int H, int W);

/* Sum of the n values (double accumulation, fixed order). */
double ct_heat_sum(const float *heat, int64_t n);

/* Share of the heat on mask pixels (mask != 0): sum(heat on mask) / sum(heat), in [0, 1];
 * NaN when the heat is all zero. */
double ct_heat_share(const float *heat, const uint8_t *mask, int64_t n);

/* Backpropagate through the L2 normalisation of ct-fuse --l2: y = s x / ||x|| (y = 0 when
 * x = 0). Given gy = d score / d y (n values) write gx = d score / d x =
 * s / ||x|| (gy - x (x . gy) / ||x||^2). */
void ct_l2_backward(const float *x, int64_t n, double s, const double *gy, double *gx);

#endif
