/* depthwise.h - direct NHWC 3x3 depthwise convolution kernels per ISA (depthwise_impl.h,
 * depthwise_avx512.c, depthwise_avx2.c): four outputs per step along the row, borders and
 * channel tails in the same kernel, BN (folded), residual, ReLU / ReLU6 after and a
 * ReLU / ReLU6 in front fused. */
#ifndef CT_DEPTHWISE_H
#define CT_DEPTHWISE_H

#include "nn/gemm.h"

/* Whether ct_op_dwconv_pro uses the direct kernels: 3x3, stride 1, no dilation, cin == cout
 * (the kernels themselves take any stride and padding). */
int ct_dwk_fits(const ct_conv_geom *g);

/* Output rows [r0, r1) (row = n * oh + oy), arguments as ct_op_dwconv_pro (ops.h). */
void ct_dwk_rows_avx512(const ct_conv_geom *g, const float *in, int in_act, const float *w,
			const float *bias, const float *res, int act, float *out, int64_t r0,
			int64_t r1);
void ct_dwk_rows_avx2(const ct_conv_geom *g, const float *in, int in_act, const float *w,
		      const float *bias, const float *res, int act, float *out, int64_t r0,
		      int64_t r1);

#endif
