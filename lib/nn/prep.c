/* prep.c - the input preprocessing (prep.h). At batch 1 it runs on one thread in front
 * of every forward pass, so the loops avoid a division and a switch per value: 'tf' and
 * 'none' go eight values at a time (GCC vector types, any ISA), 'caffe' and 'torch' a pixel
 * at a time; each value is computed by the same float operations in the same order. */
#include "nn/prep.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef float v8f __attribute__((vector_size(32)));
typedef unsigned char v8u __attribute__((vector_size(8)));

void ct_prep_u8(ct_prep prep, int c, const uint8_t *p, int64_t numel, float *x)
{
	static const float caffe_mean[3] = { 103.939f, 116.779f, 123.68f };
	static const float torch_mean[3] = { 0.485f, 0.456f, 0.406f };
	static const float torch_std[3] = { 0.229f, 0.224f, 0.225f };
	if (c != 3 && (prep == CT_PREP_CAFFE || prep == CT_PREP_TORCH))
		prep = CT_PREP_NONE; /* the modes are defined for RGB only */
	int64_t i = 0;
	switch (prep) {
	case CT_PREP_TF:
	case CT_PREP_NONE:
#ifdef __SSE2__
		/* GCC turns the uint8 -> float vector conversion below into a scalar conversion
		 * per value (with stack spills: 5% of a MobileNetV2 pass); widen with unpacks.
		 * Integers 0..255 convert exactly either way, then the same division and
		 * subtraction: the same bits. */
		for (; i + 16 <= numel; i += 16) {
			const __m128i z = _mm_setzero_si128();
			__m128i u = _mm_loadu_si128((const __m128i *)(p + i));
			__m128i lo = _mm_unpacklo_epi8(u, z), hi = _mm_unpackhi_epi8(u, z);
			__m128 f[4] = { _mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, z)),
					_mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, z)),
					_mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, z)),
					_mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, z)) };
			for (int j = 0; j < 4; j++) {
				if (prep == CT_PREP_TF)
					f[j] = _mm_sub_ps(_mm_div_ps(f[j], _mm_set1_ps(127.5f)),
							  _mm_set1_ps(1.f));
				_mm_storeu_ps(x + i + 4 * j, f[j]);
			}
		}
#endif
		for (; i + 8 <= numel; i += 8) {
			v8u u;
			memcpy(&u, p + i, sizeof u);
			v8f v = __builtin_convertvector(u, v8f);
			if (prep == CT_PREP_TF)
				v = v / 127.5f - 1.f;
			memcpy(x + i, &v, sizeof v);
		}
		for (; i < numel; i++)
			x[i] = prep == CT_PREP_TF ? (float)p[i] / 127.5f - 1.f : (float)p[i];
		break;
	case CT_PREP_CAFFE: /* output channel ch (BGR) takes input channel 2 - ch */
		for (; i + 3 <= numel; i += 3) {
			x[i] = (float)p[i + 2] - caffe_mean[0];
			x[i + 1] = (float)p[i + 1] - caffe_mean[1];
			x[i + 2] = (float)p[i] - caffe_mean[2];
		}
		break;
	case CT_PREP_TORCH:
#ifdef __SSE2__
		/* 16 pixels (48 values) at a time: vector j of 4 values starts at channel j % 3;
		 * the same three float operations per value as the loop below */
		{
			__m128 mean[3], sd[3];
			for (int ph = 0; ph < 3; ph++) {
				float m4[4], s4[4];
				for (int l = 0; l < 4; l++)
					m4[l] = torch_mean[(ph + l) % 3], s4[l] = torch_std[(ph + l) % 3];
				mean[ph] = _mm_loadu_ps(m4);
				sd[ph] = _mm_loadu_ps(s4);
			}
			const __m128i z = _mm_setzero_si128();
			for (; i + 48 <= numel; i += 48)
				for (int b = 0; b < 3; b++) {
					__m128i u = _mm_loadu_si128((const __m128i *)(p + i + 16 * b));
					__m128i lo = _mm_unpacklo_epi8(u, z), hi = _mm_unpackhi_epi8(u, z);
					__m128i q[4] = { _mm_unpacklo_epi16(lo, z), _mm_unpackhi_epi16(lo, z),
							 _mm_unpacklo_epi16(hi, z), _mm_unpackhi_epi16(hi, z) };
					for (int j = 0; j < 4; j++) {
						int ph = (4 * b + j) % 3;
						__m128 f = _mm_div_ps(_mm_cvtepi32_ps(q[j]), _mm_set1_ps(255.f));
						f = _mm_div_ps(_mm_sub_ps(f, mean[ph]), sd[ph]);
						_mm_storeu_ps(x + i + 16 * b + 4 * j, f);
					}
				}
		}
#endif
		for (; i + 3 <= numel; i += 3)
			for (int ch = 0; ch < 3; ch++)
				x[i + ch] = ((float)p[i + ch] / 255.f - torch_mean[ch]) / torch_std[ch];
		break;
	}
}
