/* depthwise_avx512.c - the direct 3x3 depthwise kernel of depthwise_impl.h for AVX-512:
 * 16 channels per vector, masked loads and stores for a channel tail. */
#include "nn/depthwise.h"

#include <immintrin.h>

#define VW 16
typedef __m512 vec;
typedef __mmask16 mask_t;
#define VZERO _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOAD(p, m) ((m) == FULL_MASK ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps((m), (p)))
#define VSTORE(p, m, v) ((m) == FULL_MASK ? _mm512_storeu_ps((p), (v)) : _mm512_mask_storeu_ps((p), (m), (v)))
#define VFMA(a, b, c) _mm512_add_ps((c), _mm512_mul_ps((a), (b))) /* as the loops of ops_impl.h */
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VMAX(a, b) _mm512_max_ps((a), (b))
#define VMIN(a, b) _mm512_min_ps((a), (b))
#define FULL_MASK ((__mmask16)0xffff)
#define MASK_OF(n) ((__mmask16)((1u << (n)) - 1))

#include "depthwise_impl.h"

void ct_dwk_rows_avx512(const ct_conv_geom *g, const float *in, int in_act, const float *w,
			const float *bias, const float *res, int act, float *out, int64_t r0,
			int64_t r1)
{
	dwk_rows(g, in, in_act, w, bias, res, act, out, r0, r1);
}
