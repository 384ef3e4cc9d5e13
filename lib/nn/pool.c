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
	ct_op_pool_res(is_max, g, in, NULL, 0, out, nthreads);
}

void ct_op_pool_res(int is_max, const ct_conv_geom *g, const float *in, const float *res,
		    int64_t ldr, float *out, int nthreads)
{
	int isa = kernel_isa();
	int64_t rows = (int64_t)g->n * g->oh;
	nthreads = par_threads(rows * g->ow * g->cin * g->kh * g->kw, nthreads);
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		if (isa == 2)
			ct_pool_rows_avx512(is_max, g, in, res, ldr, out, r0, r1);
		else if (isa == 1)
			ct_pool_rows_avx2(is_max, g, in, res, ldr, out, r0, r1);
		else
			pool_rows(is_max, g, in, res, ldr, out, r0, r1);
	}
}

void ct_op_gpool(int is_max, int n, int64_t hw, int c, const float *in, float *out)
{
	/* positions outer, a block of channels inner: contiguous reads (a channel at a time
	 * read with a stride of c floats, 8 KiB for 2048 channels, every load in the same
	 * cache sets). Each channel still sums its positions in order, in double. */
	enum { CB = 256 };
	double acc[CB];
	float m[CB];
	for (int i = 0; i < n; i++)
		for (int c0 = 0; c0 < c; c0 += CB) {
			int cb = c - c0 < CB ? c - c0 : CB;
			const float *p = in + (int64_t)i * hw * c + c0;
			for (int j = 0; j < cb; j++)
				acc[j] = 0, m[j] = -FLT_MAX;
			for (int64_t q = 0; q < hw; q++, p += c)
				if (is_max)
					for (int j = 0; j < cb; j++)
						m[j] = p[j] > m[j] ? p[j] : m[j];
				else
					for (int j = 0; j < cb; j++)
						acc[j] += p[j];
			for (int j = 0; j < cb; j++)
				out[(int64_t)i * c + c0 + j] = is_max ? m[j] : (float)(acc[j] / (double)hw);
		}
}
