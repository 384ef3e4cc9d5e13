/* depthwise_avx2.c - the direct 3x3 depthwise kernel of depthwise_impl.h for AVX2 + FMA:
 * 8 channels per vector, masked loads and stores (vmaskmovps) for a channel tail. */
#include "nn/depthwise.h"

#include <immintrin.h>

#define VW 8
typedef __m256 vec;
typedef int mask_t; /* the number of valid lanes: whole vectors use plain loads and stores */
#define VZERO _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define LANES(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VLOAD(p, m) ((m) == VW ? _mm256_loadu_ps(p) : _mm256_maskload_ps((p), LANES(m)))
#define VSTORE(p, m, v)                                                   \
	do {                                                              \
		if ((m) == VW)                                            \
			_mm256_storeu_ps((p), (v));                       \
		else                                                      \
			_mm256_maskstore_ps((p), LANES(m), (v));          \
	} while (0)
#define VFMA(a, b, c) _mm256_add_ps((c), _mm256_mul_ps((a), (b))) /* as the loops of ops_impl.h */
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VMAX(a, b) _mm256_max_ps((a), (b))
#define VMIN(a, b) _mm256_min_ps((a), (b))
#define FULL_MASK VW
#define MASK_OF(n) (n)

#include "depthwise_impl.h"

void ct_dwk_rows_avx2(const ct_conv_geom *g, const float *in, int in_act, const float *w,
		      const float *bias, const float *res, int act, float *out, int64_t r0,
		      int64_t r1)
{
	dwk_rows(g, in, in_act, w, bias, res, act, out, r0, r1);
}
