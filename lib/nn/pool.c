/* pool.c - max and average pooling (MaxPooling2D, AveragePooling2D; loops in ops_impl.h) and
 * global pooling (GlobalAveragePooling2D, GlobalMaxPooling2D). */
#include "nn/ops.h"
#include "nn/graph.h"
#include "ops_par.h"

#include <float.h>

/* ops_impl.h holds the loops of several ops as static functions; this file uses only
 * some of them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "ops_impl.h"
#pragma GCC diagnostic pop

void ct_op_pool(int is_max, const ct_conv_geom *g, const float *in, float *out, int nthreads)
{
	int isa = kernel_isa();
	int64_t rows = (int64_t)g->n * g->oh;
	nthreads = par_threads(rows * g->ow * g->cin * g->kh * g->kw, nthreads);
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		if (isa == 2)
			ct_pool_rows_avx512(is_max, g, in, out, r0, r1);
		else if (isa == 1)
			ct_pool_rows_avx2(is_max, g, in, out, r0, r1);
		else
			pool_rows(is_max, g, in, out, r0, r1);
	}
}

void ct_op_gpool(int is_max, int n, int64_t hw, int c, const float *in, float *out)
{
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++) {
			const float *p = in + (int64_t)i * hw * c + ch;
			if (is_max) {
				float m = -FLT_MAX;
				for (int64_t s = 0; s < hw; s++)
					m = p[s * c] > m ? p[s * c] : m;
				out[(int64_t)i * c + ch] = m;
			} else {
				double s = 0;
				for (int64_t q = 0; q < hw; q++)
					s += p[q * c];
				out[(int64_t)i * c + ch] = (float)(s / (double)hw);
			}
		}
}
