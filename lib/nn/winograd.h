/* winograd.h - 3x3 stride-1 convolutions by Winograd F(4x4, 3x3) (Lavin & Gray 2016), and
 * 1x7 / 7x1 ones by the one-dimensional F(2, 7) along the filter's long axis.
 *
 * The output is cut into 4x4 tiles; each tile reads a 6x6 input patch. With the transforms
 * V = B^T d B (input patch), U = G g G^T (3x3 filter) and Y = A^T M A (output tile), the
 * convolution becomes, for each of the 36 transform points p, one GEMM
 *     M_p[tiles x cout] = V_p[tiles x cin] * U_p[cin x cout]
 * run by the packed micro-kernels of gemm.h (V_p is read in place as A, U_p is packed once
 * when the weights are bound). That is 36 multiply-adds per (tile, cin, cout) against 144 for
 * the direct convolution: 4x fewer, for the price of the two transforms (O(cin + cout) per
 * tile) and 4x the filter memory (36 instead of 9 floats per cin x cout pair).
 *
 * Tiles are processed in blocks of `tb` (a multiple of the kernel's MR, chosen from cin and
 * cout only, so the blocks' transforms stay in the caches). Each output value is computed by
 * the same operations in the same order whatever the thread count, the batch size or the
 * block it falls in (the K blocking depends on cin only), so results are bit-identical for
 * any thread count. Rounding: F(4x4, 3x3) interpolates at 0, +-1, +-2 and infinity; the
 * filter transform is done in double. One layer of random weights comes out at 2e-6 to 5e-5
 * of its largest output (10-20x the direct GEMM's rounding; tests/unit/test_nn_winograd.c),
 * whole backbones within 2e-6 of TF.js (test_conformance), inside the 1e-4 bounds.
 *
 * F(2, 7) (InceptionV3's 1x7 and 7x1 convs): the output rows (7x1: columns) are cut into
 * tiles of 2 pixels; each reads 8 input pixels along the axis, transformed at the 8 points
 * 0, +-1, +-2, +-1/2 and infinity (the points of F(6, 3)), so one GEMM per point: 8
 * multiply-adds per (tile, cin, cout) against 14 for the direct convolution (1.75x fewer,
 * 1.65x with the padding of a 17-wide row to 9 tiles), for 8/7 the filter memory. Rounding
 * as one axis of F(6x6, 3x3): tests/unit/test_nn_winograd.c bounds a layer of random
 * weights at 1e-4 of its largest output like F(4x4, 3x3).
 *
 * CT_WINOGRAD=0 in the environment (read when a network is built) keeps every conv on the
 * direct GEMM path (A/B comparisons); CT_WINOGRAD=3 only the 3x3 ones on Winograd. */
#ifndef CT_WINOGRAD_H
#define CT_WINOGRAD_H

#include "nn/gemm.h"

#define CT_WINO_POINTS 36 /* 6 x 6 transform points of F(4x4, 3x3), the most of any kind */

/* The kinds: F(4x4, 3x3); F(2, 7) along x (a 1x7 filter) or along y (7x1). */
enum { CT_WINO_3X3, CT_WINO_1X7, CT_WINO_7X1 };

typedef struct ct_wino {
	int cin, cout;
	int kind;			/* CT_WINO_3X3, _1X7, _7X1 */
	int np;				/* transform points: 36 or 8 */
	int tb;				/* tiles per block, a multiple of the kernel's MR */
	ct_packed u[CT_WINO_POINTS];	/* U_p, cin x cout each, packed for the kernel */
	float *bias;			/* cout floats */
} ct_wino;

/* 0 when env CT_WINOGRAD is "0" (read at every call), else 1. */
int ct_wino_enabled(void);
/* Whether a conv of this geometry goes through Winograd: stride 1, no dilation, cin >= 16,
 * and either 3x3 with an output of at least 8 x 8 (smaller ones waste too much of their
 * tiles) or 1x7 / 7x1 with at least 8 outputs along the filter's axis (and CT_WINOGRAD not
 * "3"). */
int ct_wino_fits(const ct_conv_geom *g);
/* Transform and pack the weights w (HWIO, kh*kw*cin x cout row-major) and bias (cout or
 * NULL) of a geometry ct_wino_fits takes. NULL with an error when out of memory. */
ct_wino *ct_wino_new(const ct_gemm_kernel *kern, const ct_conv_geom *g, const float *w,
		     const float *bias);
void ct_wino_free(ct_wino *wi);
/* Bytes of transformed filters held (for memory notes). */
size_t ct_wino_bytes(const ct_wino *wi);
/* Workspace floats (one per thread, as ct_conv_work_floats). */
size_t ct_wino_work_floats(const ct_gemm_kernel *kern, const ct_wino *wi);

/* out = act(conv(in) + bias [+ res]), as ct_conv2d_gemm_pro (pro may be NULL; padding taps
 * stay zero); work holds nthreads * ct_wino_work_floats floats (only the first share is
 * used: the threads share one block). */
void ct_wino_conv(const ct_gemm_kernel *kern, const ct_wino *wi, const ct_conv_geom *g,
		  const float *in, const ct_prologue *pro, const float *res, int64_t ldr, int act,
		  float *out, float *work, int nthreads);

/* Transforms per ISA (winograd_impl.h compiled three times): tiles [t0, t0 + rows) of the
 * geometry; V_p row r at v + p*vs + r*cin; M_p row r at m + p*ms + r*cout. The *7 ones are
 * F(2, 7)'s, along x when g->kw == 7, else along y. */
typedef void (*ct_wino_in_fn)(const ct_conv_geom *g, const float *in, const ct_prologue *pro,
			      int64_t t0, int rows, float *v, int64_t vs);
typedef void (*ct_wino_out_fn)(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0,
			       int rows, const float *bias, const float *res, int64_t ldr, int act,
			       float *out);
void ct_wino_in_avx512(const ct_conv_geom *g, const float *in, const ct_prologue *pro,
		       int64_t t0, int rows, float *v, int64_t vs);
void ct_wino_out_avx512(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0, int rows,
			const float *bias, const float *res, int64_t ldr, int act, float *out);
void ct_wino_in_avx2(const ct_conv_geom *g, const float *in, const ct_prologue *pro, int64_t t0,
		     int rows, float *v, int64_t vs);
void ct_wino_out_avx2(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0, int rows,
		      const float *bias, const float *res, int64_t ldr, int act, float *out);
void ct_wino7_in_avx512(const ct_conv_geom *g, const float *in, const ct_prologue *pro,
			int64_t t0, int rows, float *v, int64_t vs);
void ct_wino7_out_avx512(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0, int rows,
			 const float *bias, const float *res, int64_t ldr, int act, float *out);
void ct_wino7_in_avx2(const ct_conv_geom *g, const float *in, const ct_prologue *pro, int64_t t0,
		      int rows, float *v, int64_t vs);
void ct_wino7_out_avx2(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0, int rows,
		       const float *bias, const float *res, int64_t ldr, int act, float *out);

#endif
