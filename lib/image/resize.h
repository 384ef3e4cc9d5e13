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

/* The same resize with the input given row by row, so a large image never needs to exist
 * as floats: `row(ctx, y, dst)` writes input row y (in_w x C floats, packed) and returns 0,
 * or -1 with a message (which ends the resize). Rows are asked for in increasing order,
 * each at most once, and only a window of them (about the filter's support) is kept, as
 * doubles after the horizontal pass. The output is bit-identical to ct_resize of the whole
 * image (ct_resize is this with a row reader). */
typedef int (*ct_resize_row_fn)(void *ctx, int64_t y, float *dst);
int ct_resize_rows(int64_t in_h, int64_t in_w, int64_t C, ct_resize_row_fn row, void *ctx, int out_h,
		   int out_w, ct_fit fit, ct_filter filter, float pad_value, ct_tensor *out);

#endif
