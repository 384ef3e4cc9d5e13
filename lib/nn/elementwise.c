/* elementwise.c - elementwise and per-row ops: Add, batch normalisation as scale and shift,
 * ReLU / ReLU6, softmax. */
#include "nn/ops.h"
#include "nn/graph.h"
#include "ops_par.h"

#include <float.h>
#include <math.h>

/* ops_impl.h holds the loops of several ops as static functions; this file uses only
 * some of them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "ops_impl.h"
#pragma GCC diagnostic pop

void ct_op_add(int64_t numel, int nin, const float *const *in, float *out, int nthreads)
{
	nthreads = par_threads(numel * nin, nthreads);
	PAR_RANGE(numel, nthreads, e0, e1)
	{
		for (int64_t e = e0; e < e1; e++) {
			float s = in[0][e];
			for (int i = 1; i < nin; i++)
				s += in[i][e];
			out[e] = s;
		}
	}
}

void ct_op_scale_shift(int64_t rows, int c, const float *in, const float *scale,
		       const float *shift, int act, float *out, int nthreads)
{
	nthreads = par_threads(rows * c, nthreads);
	/* the GEMM prologue's loops (multiply, then add, then the clamp: the same floats as
	 * dw_act below); -O2 leaves the portable loop scalar: DenseNet121's final BN + ReLU
	 * (7 x 7 x 1024) took 0.18 ms per image */
	const int isa = kernel_isa();
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		for (int64_t r = r0; r < r1; r++) {
			if (isa == 2)
				ct_pro_run_avx512(out + r * c, in + r * c, scale, shift, act, c);
			else if (isa == 1)
				ct_pro_run_avx2(out + r * c, in + r * c, scale, shift, act, c);
			else
				for (int ch = 0; ch < c; ch++)
					out[r * c + ch] =
						dw_act(in[r * c + ch] * scale[ch] + shift[ch], act);
		}
	}
}

void ct_op_act(int64_t numel, const float *in, int act, float *out, int nthreads)
{
	nthreads = par_threads(numel, nthreads);
	PAR_RANGE(numel, nthreads, e0, e1)
	{
		for (int64_t e = e0; e < e1; e++)
			out[e] = dw_act(in[e], act);
	}
}

void ct_op_softmax(int64_t rows, int c, const float *in, float *out)
{
	for (int64_t r = 0; r < rows; r++) {
		const float *x = in + r * c;
		float *y = out + r * c;
		float m = -FLT_MAX;
		for (int ch = 0; ch < c; ch++)
			m = x[ch] > m ? x[ch] : m;
		double s = 0;
		for (int ch = 0; ch < c; ch++) {
			y[ch] = expf(x[ch] - m);
			s += y[ch];
		}
		for (int ch = 0; ch < c; ch++)
			y[ch] = (float)(y[ch] / s);
	}
}
