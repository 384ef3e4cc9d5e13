/* resize.h - antialiased resizing of float images to a target size.
 *
 * Filters are separable and, when shrinking, widened by the scale factor so every
 * source pixel contributes (as Pillow's resampling does): `area` is a box filter
 * with exact fractional coverage, `bilinear` a triangle filter with support scaled
 * by the shrink factor (plain bilinear interpolation when enlarging).
 * Fit: `stretch` maps the image onto the whole target; `pad` keeps the aspect
 * ratio, scales to fit inside and centres it, filling the margins with pad_value. */
#ifndef CT_RESIZE_H
#define CT_RESIZE_H

#include "core/tensor.h"

typedef enum ct_fit { CT_FIT_STRETCH = 0, CT_FIT_PAD } ct_fit;
typedef enum ct_filter { CT_FILTER_AREA = 0, CT_FILTER_BILINEAR } ct_filter;

/* in: HxWxC F32. out: newly allocated out_h x out_w x C F32. */
int ct_resize(const ct_tensor *in, int out_h, int out_w, ct_fit fit, ct_filter filter,
	      float pad_value, ct_tensor *out);

#endif
