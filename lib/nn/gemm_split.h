/* gemm_split.h - how a convolution's GEMM is shared out over the threads of one layer
 * (batch smaller than the thread count), and the AVX-512 short-row micro-kernels. */
#ifndef CT_GEMM_SPLIT_H
#define CT_GEMM_SPLIT_H

#include "nn/gemm.h"

/* One thread's share: output rows [r0, r1) x column panels [p0, p1) (empty when r0 == r1
 * or p0 == p1); or, when tiles > 0, the (panel, row tile) pairs u in [u0, u1), pair u being
 * panel u / tiles and rows [(u % tiles) * mr, +mr) (rows and panels then empty). */
typedef struct ct_gemm_part {
	int64_t r0, r1, p0, p1;
	int64_t tiles, u0, u1;
} ct_gemm_part;

/* Share an M x N GEMM (npan panels of the kernel's nr columns, row tiles of mr) over nt
 * threads: by rows (whole row tiles per thread) or, when that leaves the threads unevenly
 * loaded (M of a few tiles: the 7 x 7 layers at batch 1) or the weights outweigh the
 * activations, by column panels; when A is read in place (a_in_place: no im2col to repeat),
 * also pair by pair. A function of the shapes and nt only; either way every
 * output value is reduced by one thread in the same order, so results do not change. */
void ct_gemm_split(int64_t m, int64_t npan, int mr, int64_t k, int64_t n, int a_in_place, int nt,
		   int tid, ct_gemm_part *part);

/* C (=|+=) A * B for a tile of mrows <= 8 rows (gemm_rows_avx512.c): the same bits as
 * ct_ukernel_avx512 for those rows, at the cost of the rows. A must hold MR rows (as for
 * ct_ukernel_avx512). */
void ct_ukernel_rows_avx512(int kc, const float *a, int64_t lda, const float *b, float *c,
			    int64_t ldc, int mrows, int ncols, int accumulate,
			    const ct_epilogue *ep);

/* im2col rows [m0, m0+rows) x columns [k0, k0+kc) into dst (leading dimension kc) when the
 * whole K is one block and a kernel row is a short dense run (the first layers, cin = 3):
 * returns 1 when done, 0 when the geometry is not one of those (im2col.c). */
int ct_im2col_dense(const ct_conv_geom *g, const float *in, int64_t m0, int rows, int k0,
		    int kc, float *dst);

#endif
