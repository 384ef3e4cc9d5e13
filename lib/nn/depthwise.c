/* depthwise.c - depthwise convolution (DepthwiseConv2D, the first half of SeparableConv2D):
 * the ISA dispatch over output rows; the loops are in ops_impl.h. */
#include "nn/ops.h"
#include "nn/graph.h"
#include "nn/depthwise.h"
#include "ops_par.h"

/* ops_impl.h holds the loops of several ops as static functions; this file uses only
 * some of them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "ops_impl.h"
#pragma GCC diagnostic pop

void ct_op_dwconv(const ct_conv_geom *g, const float *in, const float *w, const float *bias,
		  const float *res, int act, float *out, int nthreads)
{
	ct_op_dwconv_pro(g, in, CT_ACT_NONE, w, bias, res, act, out, nthreads);
}

/* Output rows [r0, r1) by the kernels of ISA isa (direct: the 3x3 kernels of depthwise.h). */
static void dw_rows_isa(int isa, int direct, const ct_conv_geom *g, const float *in, int in_act,
			const float *w, const float *bias, const float *res, int act, float *out,
			int64_t r0, int64_t r1)
{
	if (direct && isa == 2)
		ct_dwk_rows_avx512(g, in, in_act, w, bias, res, act, out, r0, r1);
	else if (direct && isa == 1)
		ct_dwk_rows_avx2(g, in, in_act, w, bias, res, act, out, r0, r1);
	else if (isa == 2)
		ct_dwconv_rows_pro_avx512(g, in, in_act, w, bias, res, act, out, r0, r1);
	else if (isa == 1)
		ct_dwconv_rows_pro_avx2(g, in, in_act, w, bias, res, act, out, r0, r1);
	else
		dw_rows_pro(g, in, in_act, w, bias, res, act, out, r0, r1);
}

void ct_op_dwconv_pro(const ct_conv_geom *g, const float *in, int in_act, const float *w,
		      const float *bias, const float *res, int act, float *out, int nthreads)
{
	int isa = kernel_isa();
	int64_t rows = (int64_t)g->n * g->oh;
	nthreads = par_threads(rows * g->ow * g->cin * g->kh * g->kw, nthreads);
	/* the direct 3x3 kernels (depthwise.h) give the same bits as the loops below. On one
	 * thread they are faster everywhere; split over two threads, faster on the layers that
	 * run split (Xception's, with the ReLU in front: 1.1-1.45x; MobileNetV2's unfused 14 x
	 * 14 x 576 and 7 x 7 x 960: 1.1-1.35x; best of 960 calls, 24 layers' data in turn),
	 * 5-15% slower only on 28 x 28 x 192 and 56 x 56 x 144 without it, which run inside
	 * MobileNetV2's fused blocks, on one thread per tile */
	const int direct = ct_dwk_fits(g);
	if (nthreads == 1) { /* no region at all (fused blocks call this per row tile) */
		dw_rows_isa(isa, direct, g, in, in_act, w, bias, res, act, out, 0, rows);
		return;
	}
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		dw_rows_isa(isa, direct, g, in, in_act, w, bias, res, act, out, r0, r1);
	}
}

/* Which depthwise convolutions the direct kernels take (depthwise.h): stride 1. At stride 2
 * they were 3-5% slower than the per-pixel loops of ops_impl.h in an A/B of MobileNetV2's
 * strided layers (memory bound either way), so those stay there. */
int ct_dwk_fits(const ct_conv_geom *g)
{
	return g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 && g->cin == g->cout &&
	       g->sh == 1 && g->sw == 1;
}
