/* lungpool.h - global pooling of a layer's activation map over the lung field only
 * (ct-features --pool lung-avg / lung-max, followed by ct-explain).
 *
 * The images file's /lung_mask (H x W, docs/formats.md) is brought to the layer's h x w map by
 * area averaging: the map is taken as stretched over the whole image (as ct-features stretches
 * an image of another size to the backbone's input), so cell (i, j) covers rows
 * [i H/h, (i+1) H/h) and columns [j W/w, (j+1) W/w) of the mask, and its weight is the share of
 * that rectangle on lung pixels (a pixel cut by the rectangle's edge counts by the part inside).
 *
 *   lung-avg: f_k = sum_s w_s A_k(s) / sum_s w_s        (a cell counts by its lung fraction)
 *   lung-max: f_k = max over the cells with w_s > 0 of A_k(s) (the first one on ties)
 *
 * An image whose mask is empty (no lung field found) has all weights 0: it is pooled over the
 * whole map (plain avg / max) and counted by the callers. */
#ifndef CT_LUNGPOOL_H
#define CT_LUNGPOOL_H

#include <stdint.h>

/* The weights wt[h*w] (row-major) of an H x W mask (non-zero: lung) over an h x w grid; returns
 * their sum (0 for an empty mask). */
double ct_lung_weights(const uint8_t *mask, int64_t H, int64_t W, int h, int w, double *wt);

/* Pool one image's map act (hw cells x c channels, NHWC) with the weights wt (hw values, as
 * above): is_max 0 the weighted average, 1 the maximum over the cells of positive weight. With
 * wt all 0 (or NULL) the whole map is pooled. Sums in double, in a fixed order. Returns 1 when it
 * fell back to the whole map, else 0. */
int ct_lung_pool(int is_max, const float *act, int64_t hw, int c, const double *wt, float *out);

/* The cell whose value lung-max takes for channel k: the first strict maximum among the cells
 * of positive weight (among all cells when none has). */
int64_t ct_lung_argmax(const float *act, int64_t hw, int c, int k, const double *wt);

/* Whether a pooling name ("avg", "max", "none", "lung-avg", "lung-max") pools over the lung field. */
int ct_pool_is_lung(const char *pool);

#endif
