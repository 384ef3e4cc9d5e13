/* ops_impl.h - depthwise convolution and pooling loops, included by ops.c, ops_avx2.c and
 * ops_avx512.c so the same source is compiled for each instruction set. Channels go
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

/* Max / average pooling of output rows r0..r1 (Keras semantics: padding cells are skipped,
 * the average divides by the number of cells inside the image). */
static void pool_rows(int is_max, const ct_conv_geom *g, const float *in, float *out, int64_t r0,
		      int64_t r1)
{
	const int c = g->cin, c16 = c / 16 * 16;
	for (int64_t r = r0; r < r1; r++) {
		int n = (int)(r / g->oh), oy = (int)(r % g->oh);
		int y0 = oy * g->sh - g->pad_t;
		int ya = y0 < 0 ? 0 : y0, yb = y0 + g->kh > g->h ? g->h : y0 + g->kh;
		for (int ox = 0; ox < g->ow; ox++) {
			int x0 = ox * g->sw - g->pad_l;
			int xa = x0 < 0 ? 0 : x0, xb = x0 + g->kw > g->w ? g->w : x0 + g->kw;
			float *o = out + (r * g->ow + ox) * g->out_pitch;
			float inv = 1.f / (float)((yb - ya) * (xb - xa));
			for (int ch = 0; ch < c16; ch += 16) {
				ct_v16 acc;
				V16_LOAD(acc, in + (((int64_t)n * g->h + ya) * g->w + xa) * g->in_pitch + ch);
				for (int iy = ya; iy < yb; iy++)
					for (int ix = iy == ya ? xa + 1 : xa; ix < xb; ix++) {
						ct_v16 x;
						V16_LOAD(x, in + (((int64_t)n * g->h + iy) * g->w + ix) *
									 g->in_pitch + ch);
						if (is_max) {
							ct_v16i gt = x > acc;
							acc = (ct_v16)(((ct_v16i)x & gt) | ((ct_v16i)acc & ~gt));
						} else {
							acc += x;
						}
					}
				if (!is_max)
					acc *= inv;
				memcpy(o + ch, &acc, sizeof acc);
			}
			for (int ch = c16; ch < c; ch++) {
				float acc = in[(((int64_t)n * g->h + ya) * g->w + xa) * g->in_pitch + ch];
				for (int iy = ya; iy < yb; iy++)
					for (int ix = iy == ya ? xa + 1 : xa; ix < xb; ix++) {
						float x = in[(((int64_t)n * g->h + iy) * g->w + ix) * g->in_pitch + ch];
						acc = is_max ? (x > acc ? x : acc) : acc + x;
					}
				o[ch] = is_max ? acc : acc * inv;
			}
		}
	}
}
