/* winograd_avx2.c - the Winograd transforms of winograd_impl.h compiled for AVX2. */
#include "nn/winograd.h"
#include "winograd_impl.h"

void ct_wino_in_avx2(const ct_conv_geom *g, const float *in, const ct_prologue *pro,
		       int64_t t0, int rows, float *v, int64_t vs)
{
	wino_in(g, in, pro, t0, rows, v, vs);
}

void ct_wino_out_avx2(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0, int rows,
			const float *bias, const float *res, int64_t ldr, int act, float *out)
{
	wino_out(g, m, ms, t0, rows, bias, res, ldr, act, out);
}

void ct_wino7_in_avx2(const ct_conv_geom *g, const float *in, const ct_prologue *pro,
		      int64_t t0, int rows, float *v, int64_t vs)
{
	wino7_in(g, in, pro, t0, rows, v, vs);
}

void ct_wino7_out_avx2(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0, int rows,
		       const float *bias, const float *res, int64_t ldr, int act, float *out)
{
	wino7_out(g, m, ms, t0, rows, bias, res, ldr, act, out);
}
