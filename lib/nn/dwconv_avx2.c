/* dwconv_avx2.c - the depthwise convolution loops of dwconv_impl.h compiled for avx2. */
#include "nn/ops.h"
#include "dwconv_impl.h"

void ct_dwconv_rows_avx2(const ct_conv_geom *g, const float *in, const float *w,
		       const float *bias, const float *res, int act, float *out, int64_t r0,
		       int64_t r1)
{
	dw_rows(g, in, w, bias, res, act, out, r0, r1);
}
