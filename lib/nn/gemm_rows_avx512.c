/* gemm_rows_avx512.c - AVX-512 micro-kernels for a short row tile (1 to 8 rows of A)
 * against a 32-column panel: the ragged last row tile of a GEMM (a 7 x 7 layer at batch 1
 * has M = 49 = 4 x 12 + 1) costs its rows, not a whole 12-row tile. Each output value is
 * computed by exactly the operations of ct_ukernel_avx512 (one FMA chain over k, then the
 * accumulate, bias, residual and activation in the same order), so the results are the
 * same bits whichever kernel a row goes through. */
#include "nn/gemm.h"
#include "nn/graph.h"

#include <immintrin.h>

#define NR CT_AVX512_NR

/* R rows: accumulators in arrays the compiler keeps in registers (fully unrolled). */
#define ROWS_KERNEL(R)                                                                       \
	static void ukernel_rows##R(int kc, const float *a, int64_t lda, const float *b,      \
				    float *c, int64_t ldc, int mrows, int ncols, int accumulate, \
				    const ct_epilogue *ep)                                     \
	{                                                                                    \
		__mmask16 m0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);          \
		__mmask16 m1 = ncols >= 32   ? 0xffff                                           \
			       : ncols <= 16 ? 0                                                \
					     : (__mmask16)((1u << (ncols - 16)) - 1);           \
		__m512 c0[R], c1[R];                                                         \
		_Pragma("GCC unroll 8") for (int i = 0; i < R; i++) c0[i] = c1[i] =          \
			_mm512_setzero_ps();                                                 \
		for (int k = 0; k < kc; k++) {                                               \
			__m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);        \
			_Pragma("GCC unroll 8") for (int i = 0; i < R; i++)                  \
			{                                                                    \
				__m512 av = _mm512_set1_ps(a[i * lda + k]);                  \
				c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);                      \
				c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);                      \
			}                                                                    \
			b += NR;                                                             \
		}                                                                            \
		__m512 bias0 = _mm512_setzero_ps(), bias1 = bias0, zero = bias0;             \
		__m512 hi = _mm512_set1_ps(__builtin_inff());                                \
		if (ep) {                                                                    \
			if (ep->bias) {                                                      \
				bias0 = _mm512_loadu_ps(ep->bias);                           \
				bias1 = _mm512_loadu_ps(ep->bias + 16);                      \
			}                                                                    \
			if (ep->act == CT_ACT_RELU6)                                         \
				hi = _mm512_set1_ps(6.f);                                    \
		}                                                                            \
		_Pragma("GCC unroll 8") for (int i = 0; i < R; i++)                          \
		{                                                                            \
			if (i >= mrows)                                                      \
				break;                                                       \
			float *cr = c + (int64_t)i * ldc;                                    \
			__m512 x0 = c0[i], x1 = c1[i];                                       \
			if (accumulate) {                                                    \
				x0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cr), x0);        \
				x1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cr + 16), x1);   \
			}                                                                    \
			if (ep) {                                                            \
				x0 = _mm512_add_ps(x0, bias0);                               \
				x1 = _mm512_add_ps(x1, bias1);                               \
				if (ep->res) {                                               \
					const float *rr = ep->res + (int64_t)i * ep->ldr;    \
					x0 = _mm512_add_ps(x0, _mm512_maskz_loadu_ps(m0, rr)); \
					x1 = _mm512_add_ps(x1, _mm512_maskz_loadu_ps(m1, rr + 16)); \
				}                                                            \
				if (ep->act != CT_ACT_NONE) {                                \
					x0 = _mm512_min_ps(_mm512_max_ps(x0, zero), hi);     \
					x1 = _mm512_min_ps(_mm512_max_ps(x1, zero), hi);     \
				}                                                            \
			}                                                                    \
			_mm512_mask_storeu_ps(cr, m0, x0);                                   \
			_mm512_mask_storeu_ps(cr + 16, m1, x1);                              \
		}                                                                            \
	}

ROWS_KERNEL(1)
ROWS_KERNEL(2)
ROWS_KERNEL(4)
ROWS_KERNEL(6)
ROWS_KERNEL(8)

void ct_ukernel_rows_avx512(int kc, const float *a, int64_t lda, const float *b, float *c,
			    int64_t ldc, int mrows, int ncols, int accumulate,
			    const ct_epilogue *ep)
{
	if (mrows <= 1)
		ukernel_rows1(kc, a, lda, b, c, ldc, mrows, ncols, accumulate, ep);
	else if (mrows <= 2)
		ukernel_rows2(kc, a, lda, b, c, ldc, mrows, ncols, accumulate, ep);
	else if (mrows <= 4)
		ukernel_rows4(kc, a, lda, b, c, ldc, mrows, ncols, accumulate, ep);
	else if (mrows <= 6)
		ukernel_rows6(kc, a, lda, b, c, ldc, mrows, ncols, accumulate, ep);
	else
		ukernel_rows8(kc, a, lda, b, c, ldc, mrows, ncols, accumulate, ep);
}
