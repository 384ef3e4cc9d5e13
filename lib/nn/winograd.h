/* winograd.h - 3x3 stride-1 convolutions by Winograd F(4x4, 3x3) (Lavin & Gray 2016).
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
 * CT_WINOGRAD=0 in the environment (read when a network is built) keeps every conv on the
 * direct GEMM path (A/B comparisons). */
#ifndef CT_WINOGRAD_H
#define CT_WINOGRAD_H

#include "nn/gemm.h"

#define CT_WINO_POINTS 36 /* 6 x 6 transform points of F(4x4, 3x3) */

typedef struct ct_wino {
	int cin, cout;
	int tb;				/* tiles per block, a multiple of the kernel's MR */
	ct_packed u[CT_WINO_POINTS];	/* U_p, cin x cout each, packed for the kernel */
	float *bias;			/* cout floats */
} ct_wino;

/* 0 when env CT_WINOGRAD is "0" (read at every call), else 1. */
int ct_wino_enabled(void);
/* Whether a conv of this geometry goes through Winograd: 3x3, stride 1, no dilation,
 * cin >= 16, and an output of at least 8 x 8 (smaller ones waste too much of their tiles). */
int ct_wino_fits(const ct_conv_geom *g);
/* Transform and pack the weights w (HWIO, 9*cin x cout row-major) and bias (cout or NULL).
 * NULL with an error when out of memory. */
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
 * geometry; V_p row r at v + p*vs + r*cin; M_p row r at m + p*ms + r*cout. */
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

#endif
