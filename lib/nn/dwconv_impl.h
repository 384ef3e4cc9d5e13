/* dwconv_impl.h - depthwise convolution loops, included by ops.c, dwconv_avx2.c and
 * dwconv_avx512.c so the same source is compiled for each instruction set. Channels go
 * 16 at a time through GCC vector types (one zmm, two ymm or four xmm registers). */
#include <string.h>

typedef float ct_v16 __attribute__((vector_size(64)));
typedef int ct_v16i __attribute__((vector_size(64)));

/* Loads by memcpy (unaligned); macros, not functions, so no vector crosses a call ABI. */
#define V16_LOAD(dst, p) memcpy(&(dst), (p), sizeof(dst))

static inline float dw_act(float v, int act)
{
	if (act == 1)
		return v > 0.f ? v : 0.f;
	if (act == 2)
		return v > 0.f ? (v < 6.f ? v : 6.f) : 0.f;
	return v;
}

/* Output rows r0..r1 (row = n * oh + oy). */
static void dw_rows(const ct_conv_geom *g, const float *in, const float *w, const float *bias,
		    const float *res, int act, float *out, int64_t r0, int64_t r1)
{
	const int c = g->cin;
	const int c16 = c / 16 * 16;
	const ct_v16 zero = { 0 };
	ct_v16 hi;
	for (int j = 0; j < 16; j++)
		hi[j] = act == 2 ? 6.f : __builtin_inff();
	for (int64_t r = r0; r < r1; r++) {
		int n = (int)(r / g->oh), oy = (int)(r % g->oh);
		for (int ox = 0; ox < g->ow; ox++) {
			float *o = out + ((int64_t)r * g->ow + ox) * g->out_pitch;
			const float *rs = res ? res + ((int64_t)r * g->ow + ox) * g->out_pitch : NULL;
			int y0 = oy * g->sh - g->pad_t, x0 = ox * g->sw - g->pad_l;
			for (int ch = 0; ch < c16; ch += 16) {
				ct_v16 acc = zero;
				for (int ky = 0; ky < g->kh; ky++) {
					int iy = y0 + ky * g->dh;
					if (iy < 0 || iy >= g->h)
						continue;
					for (int kx = 0; kx < g->kw; kx++) {
						int ix = x0 + kx * g->dw;
						if (ix < 0 || ix >= g->w)
							continue;
						const float *ip = in + (((int64_t)n * g->h + iy) * g->w + ix) *
									       g->in_pitch + ch;
						const float *wp = w + (int64_t)(ky * g->kw + kx) * c + ch;
						ct_v16 x, y;
						V16_LOAD(x, ip);
						V16_LOAD(y, wp);
						acc += x * y;
					}
				}
				if (bias) {
					ct_v16 x;
					V16_LOAD(x, bias + ch);
					acc += x;
				}
				if (rs) {
					ct_v16 x;
					V16_LOAD(x, rs + ch);
					acc += x;
				}
				if (act) {
					/* max(acc, 0) then min(acc, hi) with lane masks */
					ct_v16i pos = acc > zero, low = acc < hi;
					acc = (ct_v16)((ct_v16i)acc & pos);
					acc = (ct_v16)(((ct_v16i)acc & low) | ((ct_v16i)hi & ~low));
				}
				memcpy(o + ch, &acc, sizeof acc);
			}
			for (int ch = c16; ch < c; ch++) {
				float acc = 0.f;
				for (int ky = 0; ky < g->kh; ky++) {
					int iy = y0 + ky * g->dh;
					if (iy < 0 || iy >= g->h)
						continue;
					for (int kx = 0; kx < g->kw; kx++) {
						int ix = x0 + kx * g->dw;
						if (ix < 0 || ix >= g->w)
							continue;
						acc += in[(((int64_t)n * g->h + iy) * g->w + ix) * g->in_pitch + ch] *
						       w[(int64_t)(ky * g->kw + kx) * c + ch];
					}
				}
				if (bias)
					acc += bias[ch];
				if (rs)
					acc += rs[ch];
				o[ch] = dw_act(acc, act);
			}
		}
	}
}
