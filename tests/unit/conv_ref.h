/* conv_ref.h - shared by the conv engine tests (sourced once per test program): a seeded
 * generator of random floats and a direct convolution in double precision, the independent
 * reference the packed-GEMM, batch-1 and depthwise paths are checked against. */
#ifndef CT_TEST_CONV_REF_H
#define CT_TEST_CONV_REF_H

#include "core/rng.h"
#include "nn/gemm.h"
#include "nn/graph.h"

#include <stdlib.h>

static ct_rng rng;

/* n floats uniform in [lo, hi) from rng (malloc'd; at least one) */
static inline float *rnd(size_t n, double lo, double hi)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (float)ct_rng_range(&rng, lo, hi);
	return p;
}

/* (a test with a reference of its own defines CONV_REF_NO_REF_CONV first) */
#ifndef CONV_REF_NO_REF_CONV
/* Direct convolution in double, HWIO weights, explicit top/left padding. */
static inline void ref_conv(const ct_conv_geom *g, const float *in, const float *w, const float *bias,
			    const float *res, int act, double *out)
{
	for (int n = 0; n < g->n; n++)
		for (int oy = 0; oy < g->oh; oy++)
			for (int ox = 0; ox < g->ow; ox++)
				for (int co = 0; co < g->cout; co++) {
					double s = bias ? bias[co] : 0;
					for (int ky = 0; ky < g->kh; ky++)
						for (int kx = 0; kx < g->kw; kx++) {
							int iy = oy * g->sh - g->pad_t + ky * g->dh;
							int ix = ox * g->sw - g->pad_l + kx * g->dw;
							if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
								continue;
							for (int ci = 0; ci < g->cin; ci++)
								s += (double)in[((n * g->h + iy) * g->w + ix) * g->cin + ci] *
								     w[((ky * g->kw + kx) * g->cin + ci) * g->cout + co];
						}
					size_t o = (((size_t)n * g->oh + oy) * g->ow + ox) * g->cout + co;
					if (res)
						s += res[o];
					if (act == CT_ACT_RELU && s < 0)
						s = 0;
					if (act == CT_ACT_RELU6)
						s = s < 0 ? 0 : s > 6 ? 6 : s;
					out[o] = s;
				}
}
#endif

#endif
