/* ops.h - the non-GEMM layer kernels on raw NHWC float arrays (one OpenMP region each).
 * Semantics follow Keras/TensorFlow: 'same' average pooling divides by the number of
 * non-padded cells (tf.nn.avg_pool), max pooling never picks a padding cell. */
#ifndef CT_OPS_H
#define CT_OPS_H

#include "nn/gemm.h"

/* Depthwise conv, depth multiplier 1 (cin == cout): w is (kh,kw,c) as Keras stores it,
 * bias may be NULL, res (same layout as out) may be NULL; act is a ct_act. */
void ct_op_dwconv(const ct_conv_geom *g, const float *in, const float *w, const float *bias,
		  const float *res, int act, float *out, int nthreads);
/* The same loops compiled per ISA (ops_avx512.c, ops_avx2.c; source in ops_impl.h). */
void ct_dwconv_rows_avx512(const ct_conv_geom *g, const float *in, const float *w,
			   const float *bias, const float *res, int act, float *out, int64_t r0,
			   int64_t r1);
void ct_dwconv_rows_avx2(const ct_conv_geom *g, const float *in, const float *w,
			 const float *bias, const float *res, int act, float *out, int64_t r0,
			 int64_t r1);

void ct_pool_rows_avx512(int is_max, const ct_conv_geom *g, const float *in, const float *res,
			 int64_t ldr, float *out, int64_t r0, int64_t r1);
void ct_pool_rows_avx2(int is_max, const ct_conv_geom *g, const float *in, const float *res,
		       int64_t ldr, float *out, int64_t r0, int64_t r1);
/* ct_op_dwconv with in_act (a ct_act) applied to every input value first: the ReLU in
 * front of Xception's separable convs, without writing its output. */
void ct_op_dwconv_pro(const ct_conv_geom *g, const float *in, int in_act, const float *w,
		      const float *bias, const float *res, int act, float *out, int nthreads);
void ct_dwconv_rows_pro_avx512(const ct_conv_geom *g, const float *in, int in_act,
			       const float *w, const float *bias, const float *res, int act,
			       float *out, int64_t r0, int64_t r1);
void ct_dwconv_rows_pro_avx2(const ct_conv_geom *g, const float *in, int in_act, const float *w,
			     const float *bias, const float *res, int act, float *out, int64_t r0,
			     int64_t r1);
/* Max (is_max=1) or average pooling with geometry g (cin == cout == channels). */
void ct_op_pool(int is_max, const ct_conv_geom *g, const float *in, float *out, int nthreads);
/* The same, then + res (pixel pitch ldr; NULL: ct_op_pool): a pool followed by an Add. */
void ct_op_pool_res(int is_max, const ct_conv_geom *g, const float *in, const float *res,
		    int64_t ldr, float *out, int nthreads);
/* ZeroPadding2D: out is n x (h+t+b) x (w+l+r) x c. */
void ct_op_zeropad(int n, int h, int w, int c, int t, int b, int l, int r, const float *in,
		   float *out, int nthreads);
/* Concatenate nin inputs of rows x c[i] along channels into rows of out_pitch floats
 * (>= sum(c)); a NULL input is skipped (its slice was written in place). */
void ct_op_concat(int64_t rows, int nin, const float *const *in, const int *c, float *out,
		  int64_t out_pitch, int nthreads);
/* out = sum of nin inputs, elementwise. */
void ct_op_add(int64_t numel, int nin, const float *const *in, float *out, int nthreads);
/* out[r][c] = act(in[r][c] * scale[c] + shift[c]): a standalone batch normalisation. */
void ct_op_scale_shift(int64_t rows, int c, const float *in, const float *scale,
		       const float *shift, int act, float *out, int nthreads);
/* out = act(in) for ReLU / ReLU6. */
void ct_op_act(int64_t numel, const float *in, int act, float *out, int nthreads);
/* Global average / max pooling: n x hw x c -> n x c. Sums in a fixed order (double). */
void ct_op_gpool(int is_max, int n, int64_t hw, int c, const float *in, float *out);
/* Softmax over the last axis of rows x c. */
void ct_op_softmax(int64_t rows, int c, const float *in, float *out);

#endif
