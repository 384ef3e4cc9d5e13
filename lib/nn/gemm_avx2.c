/* gemm_avx2.c - the AVX2+FMA GEMM micro-kernel: 6 x 16 tile in 12 ymm accumulators,
 * masked stores for ragged edges. */
#include "nn/gemm.h"
#include "nn/graph.h"

#include <immintrin.h>
#include <string.h>

#define MR CT_AVX2_MR
#define NR CT_AVX2_NR

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECL(i) __m256 c##i##0 = _mm256_setzero_ps(), c##i##1 = _mm256_setzero_ps();
#define STEP(i)                                                   \
	{                                                         \
		__m256 av = _mm256_broadcast_ss(ROWPTR(i));       \
		c##i##0 = _mm256_fmadd_ps(av, b0, c##i##0);       \
		c##i##1 = _mm256_fmadd_ps(av, b1, c##i##1);       \
	}
#define LOAD0(p) (full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, k0))
#define LOAD1(p) (full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, k1))
#define STORE(i)                                                                        \
	if ((i) < mrows) {                                                              \
		float *cr = c + (int64_t)(i) * ldc;                                      \
		if (accumulate) {                                                       \
			c##i##0 = _mm256_add_ps(LOAD0(cr), c##i##0);                    \
			c##i##1 = _mm256_add_ps(LOAD1(cr + 8), c##i##1);                \
		}                                                                       \
		if (ep) {                                                               \
			c##i##0 = _mm256_add_ps(c##i##0, bias0);                        \
			c##i##1 = _mm256_add_ps(c##i##1, bias1);                        \
			if (ep->res) {                                                  \
				const float *rr = ep->res + (int64_t)(i) * ep->ldr;     \
				c##i##0 = _mm256_add_ps(c##i##0, LOAD0(rr));            \
				c##i##1 = _mm256_add_ps(c##i##1, LOAD1(rr + 8));        \
			}                                                               \
			if (ep->act != CT_ACT_NONE) {                                   \
				c##i##0 = _mm256_min_ps(_mm256_max_ps(c##i##0, zero), hi); \
				c##i##1 = _mm256_min_ps(_mm256_max_ps(c##i##1, zero), hi); \
			}                                                               \
		}                                                                       \
		if (full) {                                                             \
			_mm256_storeu_ps(cr, c##i##0);                                  \
			_mm256_storeu_ps(cr + 8, c##i##1);                              \
		} else {                                                                \
			_mm256_maskstore_ps(cr, k0, c##i##0);                           \
			_mm256_maskstore_ps(cr + 8, k1, c##i##1);                       \
		}                                                                       \
	}

/* Rows of A in place: two base pointers, rows 3j+r at base j plus r*lda. */
#define ROWPTR(i) (p[(i) / 3] + ((i) % 3) * lda)

void ct_ukernel_avx2(int kc, const float *a, int64_t lda, const float *b, float *c,
		     int64_t ldc, int mrows, int ncols, int accumulate, const ct_epilogue *ep)
{
	/* lane masks for a ragged right edge (vmaskmov never faults on masked lanes) */
	const int full = ncols >= NR;
	const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	const __m256i k0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(ncols), lane);
	const __m256i k1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(ncols - 8), lane);
	ROWS(DECL)
	const float *p[2] = { a, a + 3 * lda };
	for (int k = 0; k < kc; k++) {
		__m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
		ROWS(STEP)
		p[0]++, p[1]++;
		b += NR;
	}
	__m256 bias0 = _mm256_setzero_ps(), bias1 = bias0, zero = bias0;
	__m256 hi = _mm256_set1_ps(__builtin_inff());
	if (ep) {
		if (ep->bias) {
			bias0 = _mm256_loadu_ps(ep->bias);
			bias1 = _mm256_loadu_ps(ep->bias + 8);
		}
		if (ep->act == CT_ACT_RELU6)
			hi = _mm256_set1_ps(6.f);
	}
	ROWS(STORE)
}

/* FMA peak probe (ct_fma_peak_gflops): 24 independent accumulator chains hide the FMA
 * latency on every current core; x * 1 + 1e-7 keeps the values finite. */
float ct_fma_loop_avx2(int64_t iters)
{
	__m256 acc[CT_FMA_LOOP_CHAINS];
	for (int j = 0; j < CT_FMA_LOOP_CHAINS; j++)
		acc[j] = _mm256_set1_ps((float)j);
	const __m256 one = _mm256_set1_ps(1.f), eps = _mm256_set1_ps(1e-7f);
	for (int64_t i = 0; i < iters; i++) {
#pragma GCC unroll 24
		for (int j = 0; j < CT_FMA_LOOP_CHAINS; j++)
			acc[j] = _mm256_fmadd_ps(acc[j], one, eps);
	}
	__m256 s = _mm256_setzero_ps();
	for (int j = 0; j < CT_FMA_LOOP_CHAINS; j++)
		s = s + acc[j];
	float out[8];
	memcpy(out, &s, sizeof out);
	return out[0];
}

/* The prologue (gemm.h), as ct_pro_run_avx512; the tail goes through plain C. */
void ct_pro_run_avx2(float *dst, const float *src, const float *scale, const float *shift,
		     int act, int len)
{
	const __m256 zero = _mm256_setzero_ps();
	const __m256 hi = _mm256_set1_ps(act == CT_ACT_RELU6 ? 6.f : __builtin_inff());
	int i = 0;
	for (; i + 8 <= len; i += 8) {
		__m256 v = _mm256_mul_ps(_mm256_loadu_ps(src + i), _mm256_loadu_ps(scale + i));
		v = _mm256_add_ps(v, _mm256_loadu_ps(shift + i));
		if (act != CT_ACT_NONE)
			v = _mm256_min_ps(_mm256_max_ps(v, zero), hi);
		_mm256_storeu_ps(dst + i, v);
	}
	for (; i < len; i++) {
		float v = src[i] * scale[i] + shift[i];
		if (act != CT_ACT_NONE)
			v = v > 0.f ? (act == CT_ACT_RELU6 && v > 6.f ? 6.f : v) : 0.f;
		dst[i] = v;
	}
}
