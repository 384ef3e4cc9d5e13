/* gemm_avx512.c - the AVX-512 GEMM micro-kernel: 12 x 32 tile in 24 zmm accumulators,
 * masked stores for ragged edges. */
#include "nn/gemm.h"
#include "nn/graph.h"
#include "nn/gemm_split.h"

#include <immintrin.h>
#include <string.h>

#define MR CT_AVX512_MR
#define NR CT_AVX512_NR

/* One row of the tile: broadcast A[k][i] (folded into the FMA's memory operand) times
 * the two B vectors. Written out by hand so the accumulators stay in registers. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECL(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps();
#define STEP(i)                                                   \
	{                                                         \
		__m512 av = _mm512_set1_ps(ROWPTR(i)[0]);         \
		c##i##0 = _mm512_fmadd_ps(av, b0, c##i##0);       \
		c##i##1 = _mm512_fmadd_ps(av, b1, c##i##1);       \
	}
#define STORE(i)                                                                        \
	if ((i) < mrows) {                                                              \
		float *cr = c + (int64_t)(i) * ldc;                                      \
		if (accumulate) {                                                       \
			c##i##0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, cr), c##i##0); \
			c##i##1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, cr + 16), c##i##1); \
		}                                                                       \
		if (ep) {                                                               \
			c##i##0 = _mm512_add_ps(c##i##0, bias0);                        \
			c##i##1 = _mm512_add_ps(c##i##1, bias1);                        \
			if (ep->res) {                                                  \
				const float *rr = ep->res + (int64_t)(i) * ep->ldr;     \
				c##i##0 = _mm512_add_ps(c##i##0, _mm512_maskz_loadu_ps(m0, rr)); \
				c##i##1 = _mm512_add_ps(c##i##1, _mm512_maskz_loadu_ps(m1, rr + 16)); \
			}                                                               \
			if (ep->act != CT_ACT_NONE) {                                   \
				c##i##0 = _mm512_min_ps(_mm512_max_ps(c##i##0, zero), hi); \
				c##i##1 = _mm512_min_ps(_mm512_max_ps(c##i##1, zero), hi); \
			}                                                               \
		}                                                                       \
		_mm512_mask_storeu_ps(cr, m0, c##i##0);                                 \
		_mm512_mask_storeu_ps(cr + 16, m1, c##i##1);                            \
	}

/* Rows of A in place: four base pointers, rows 3j+r at base j plus r*lda. */
#define ROWPTR(i) (p[(i) / 3] + ((i) % 3) * lda)

void ct_ukernel_avx512(int kc, const float *a, int64_t lda, const float *b, float *c,
		       int64_t ldc, int mrows, int ncols, int accumulate, const ct_epilogue *ep)
{
	if (mrows <= 8) { /* perf hook: a short tile costs its rows (gemm_rows_avx512.c) */
		ct_ukernel_rows_avx512(kc, a, lda, b, c, ldc, mrows, ncols, accumulate, ep);
		return;
	}
	/* masked loads and stores for a ragged right edge (masked lanes never fault) */
	__mmask16 m0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);
	__mmask16 m1 = ncols >= 32 ? 0xffff : ncols <= 16 ? 0 : (__mmask16)((1u << (ncols - 16)) - 1);
	ROWS(DECL)
	const float *p[4] = { a, a + 3 * lda, a + 6 * lda, a + 9 * lda };
	for (int k = 0; k < kc; k++) {
		__m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
		ROWS(STEP)
		p[0]++, p[1]++, p[2]++, p[3]++;
		b += NR;
	}
	__m512 bias0 = _mm512_setzero_ps(), bias1 = bias0, zero = bias0;
	__m512 hi = _mm512_set1_ps(__builtin_inff());
	if (ep) {
		if (ep->bias) {
			bias0 = _mm512_loadu_ps(ep->bias); /* padded to NR */
			bias1 = _mm512_loadu_ps(ep->bias + 16);
		}
		if (ep->act == CT_ACT_RELU6)
			hi = _mm512_set1_ps(6.f);
	}
	ROWS(STORE)
}

/* FMA peak probe (ct_fma_peak_gflops): 24 independent accumulator chains hide the FMA
 * latency on every current core; x * 1 + 1e-7 keeps the values finite. */
float ct_fma_loop_avx512(int64_t iters)
{
	__m512 acc[CT_FMA_LOOP_CHAINS];
	for (int j = 0; j < CT_FMA_LOOP_CHAINS; j++)
		acc[j] = _mm512_set1_ps((float)j);
	const __m512 one = _mm512_set1_ps(1.f), eps = _mm512_set1_ps(1e-7f);
	for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 24
		for (int j = 0; j < CT_FMA_LOOP_CHAINS; j++)
			acc[j] = _mm512_fmadd_ps(acc[j], one, eps);
	}
	__m512 s = _mm512_setzero_ps();
	for (int j = 0; j < CT_FMA_LOOP_CHAINS; j++)
		s = s + acc[j];
	float out[16];
	memcpy(out, &s, sizeof out);
	return out[0];
}

/* The prologue (gemm.h): dst = act(src * scale + shift), multiply then add as the portable
 * loop does, so every kernel transforms to the same floats. */
void ct_pro_run_avx512(float *dst, const float *src, const float *scale, const float *shift,
		       int act, int len)
{
	const __m512 zero = _mm512_setzero_ps();
	const __m512 hi = _mm512_set1_ps(act == CT_ACT_RELU6 ? 6.f : __builtin_inff());
	for (int i = 0; i < len; i += 16) {
		__mmask16 m = len - i >= 16 ? 0xffff : (__mmask16)((1u << (len - i)) - 1);
		__m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, src + i),
					 _mm512_maskz_loadu_ps(m, scale + i));
		v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, shift + i));
		if (act != CT_ACT_NONE)
			v = _mm512_min_ps(_mm512_max_ps(v, zero), hi);
		_mm512_mask_storeu_ps(dst + i, m, v);
	}
}
