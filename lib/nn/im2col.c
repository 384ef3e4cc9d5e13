/* im2col.c - the im2col rows of a convolution whose kernel rows are short runs of dense
 * input (gemm_split.h): the first layers (cin = 3: 3x3/2 and 7x7/2 convs) build their whole
 * A block in one K block, and the general loop of gemm.c spent more time finding each tap
 * (divisions per run of 9 or 21 floats) than copying it. Output, padding zeros included,
 * is exactly the general loop's. */
#include "nn/gemm_split.h"

#include <string.h>

int ct_im2col_dense(const ct_conv_geom *g, const float *in, int64_t m0, int rows, int k0,
		    int kc, float *dst)
{
	const int cin = g->cin, run = g->kw * cin;
	if (k0 != 0 || kc != g->kh * run || g->dh != 1 || g->dw != 1 || g->in_pitch != cin ||
	    run > 64)
		return 0;
	const int64_t ohw = (int64_t)g->oh * g->ow;
	int64_t n = m0 / ohw, r = m0 % ohw;
	int oy = (int)(r / g->ow), ox = (int)(r % g->ow);
	for (int i = 0; i < rows; i++) {
		float *d = dst + (size_t)i * kc;
		const int y0 = oy * g->sh - g->pad_t, x0 = ox * g->sw - g->pad_l;
		/* the taps kx in [xa, xb) are inside the image */
		const int xa = x0 < 0 ? -x0 : 0;
		const int xb = x0 + g->kw > g->w ? g->w - x0 : g->kw;
		for (int ky = 0; ky < g->kh; ky++, d += run) {
			const int iy = y0 + ky;
			if (iy < 0 || iy >= g->h || xa >= xb) {
				memset(d, 0, (size_t)run * sizeof(float));
				continue;
			}
			if (xa > 0)
				memset(d, 0, (size_t)xa * cin * sizeof(float));
			memcpy(d + xa * cin, in + ((n * g->h + iy) * g->w + x0 + xa) * cin,
			       (size_t)(xb - xa) * cin * sizeof(float));
			if (xb < g->kw)
				memset(d + xb * cin, 0, (size_t)(g->kw - xb) * cin * sizeof(float));
		}
		if (++ox == g->ow) {
			ox = 0;
			if (++oy == g->oh)
				oy = 0, n++;
		}
	}
	return 1;
}
