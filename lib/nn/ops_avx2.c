/* ops_avx2.c - the depthwise convolution and pooling loops of ops_impl.h compiled for AVX2. */
#include "nn/ops.h"
#include "ops_impl.h"

void ct_dwconv_rows_avx2(const ct_conv_geom *g, const float *in, const float *w,
		       const float *bias, const float *res, int act, float *out, int64_t r0,
		       int64_t r1)
{
	dw_rows(g, in, w, bias, res, act, out, r0, r1);
}

void ct_pool_rows_avx2(int is_max, const ct_conv_geom *g, const float *in, const float *res,
		       int64_t ldr, float *out, int64_t r0, int64_t r1)
{
	pool_rows(is_max, g, in, res, ldr, out, r0, r1);
}

void ct_dwconv_rows_pro_avx2(const ct_conv_geom *g, const float *in, int in_act, const float *w,
			   const float *bias, const float *res, int act, float *out, int64_t r0,
			   int64_t r1)
{
	dw_rows_pro(g, in, in_act, w, bias, res, act, out, r0, r1);
}
