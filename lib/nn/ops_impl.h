/* ops_impl.h - depthwise convolution and pooling loops, included by depthwise.c, pool.c,
 * elementwise.c, ops_avx2.c and ops_avx512.c so the same source is compiled for each
 * instruction set. Channels go 16 at a time through GCC vector types (one zmm, two ymm or
 * four xmm registers). */
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

/* Epilogue of one 16-channel vector: bias, residual, activation, store. */
#define DW_FINISH(acc, o, rs, ch)                                                      \
	do {                                                                           \
		if (rs) {                                                              \
			ct_v16 r_;                                                     \
			V16_LOAD(r_, (rs) + (ch));                                     \
			acc += r_;                                                     \
		}                                                                      \
		if (act) {                                                             \
			ct_v16i pos_ = acc > zero, low_ = acc < hi;                    \
			acc = (ct_v16)((ct_v16i)acc & pos_);                           \
			acc = (ct_v16)(((ct_v16i)acc & low_) | ((ct_v16i)hi & ~low_)); \
		}                                                                      \
		memcpy((o) + (ch), &acc, sizeof acc);                                  \
	} while (0)

/* ReLU (in_act 1) or ReLU6 (2) of an input vector, as dw_act does per float. */
#define DW_IN_ACT(x)                                                                   \
	do {                                                                           \
		ct_v16 z_ = { 0 }, s_;                                                 \
		for (int j_ = 0; j_ < 16; j_++)                                        \
			s_[j_] = in_act == 2 ? 6.f : __builtin_inff();                  \
		ct_v16i pos_ = (x) > z_, low_ = (x) < s_;                              \
		(x) = (ct_v16)((ct_v16i)(x) & pos_);                                   \
		(x) = (ct_v16)(((ct_v16i)(x) & low_) | ((ct_v16i)s_ & ~low_));         \
	} while (0)
#define DW_TAP_ACT(x, acc, p, wv)                                                      \
	do {                                                                           \
		V16_LOAD(x, p);                                                        \
		DW_IN_ACT(x);                                                          \
		acc += (x) * (wv);                                                     \
	} while (0)

/* One output pixel (row r = n*oh + oy, column ox), channels [ch0, c) with ch0 a multiple
 * of 16: any kernel size, dilation and stride, padding taps skipped. */
static void dw_pixel(const ct_conv_geom *g, const float *in, int in_act, const float *w,
		     const float *bias, const float *res, int act, float *out, int64_t r, int ox,
		     int ch0)
{
	const int c = g->cin;
	const int c16 = c / 16 * 16;
	const ct_v16 zero = { 0 };
	ct_v16 hi;
	for (int j = 0; j < 16; j++)
		hi[j] = act == 2 ? 6.f : __builtin_inff();
	int n = (int)(r / g->oh), oy = (int)(r % g->oh);
	float *o = out + ((int64_t)r * g->ow + ox) * g->out_pitch;
	const float *rs = res ? res + ((int64_t)r * g->ow + ox) * g->out_pitch : NULL;
	int y0 = oy * g->sh - g->pad_t, x0 = ox * g->sw - g->pad_l;
	for (int ch = ch0; ch < c16; ch += 16) {
		ct_v16 acc = zero;
		for (int ky = 0; ky < g->kh; ky++) {
			int iy = y0 + ky * g->dh;
			if (iy < 0 || iy >= g->h)
				continue;
			for (int kx = 0; kx < g->kw; kx++) {
				int ix = x0 + kx * g->dw;
				if (ix < 0 || ix >= g->w)
					continue;
				const float *ip = in + (((int64_t)n * g->h + iy) * g->w + ix) * g->in_pitch + ch;
				const float *wp = w + (int64_t)(ky * g->kw + kx) * c + ch;
				ct_v16 x, y;
				V16_LOAD(x, ip);
				V16_LOAD(y, wp);
				if (in_act)
					DW_IN_ACT(x);
				acc += x * y;
			}
		}
		if (bias) {
			ct_v16 x;
			V16_LOAD(x, bias + ch);
			acc += x;
		}
		DW_FINISH(acc, o, rs, ch);
	}
	for (int ch = c16 > ch0 ? c16 : ch0; ch < c; ch++) {
		float acc = 0.f;
		for (int ky = 0; ky < g->kh; ky++) {
			int iy = y0 + ky * g->dh;
			if (iy < 0 || iy >= g->h)
				continue;
			for (int kx = 0; kx < g->kw; kx++) {
				int ix = x0 + kx * g->dw;
				if (ix < 0 || ix >= g->w)
					continue;
				acc += dw_act(in[(((int64_t)n * g->h + iy) * g->w + ix) * g->in_pitch + ch],
					      in_act) *
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

static void dw_rows_any(const ct_conv_geom *g, const float *in, int in_act, const float *w,
			const float *bias, const float *res, int act, float *out, int64_t r0,
			int64_t r1)
{
	for (int64_t r = r0; r < r1; r++)
		for (int ox = 0; ox < g->ow; ox++)
			dw_pixel(g, in, in_act, w, bias, res, act, out, r, ox, 0);
}


/* 3x3 undilated depthwise conv (all of MobileNetV2's): channel vectors outermost so the
 * nine weight vectors stay in registers along the row; interior pixels skip the bounds
 * tests. Channels not a multiple of 16 and border pixels go through dw_rows_any. */
static void dw_rows_3x3(const ct_conv_geom *g, const float *in, int in_act, const float *w,
			const float *bias, const float *res, int act, float *out, int64_t r0,
			int64_t r1)
{
	const int c = g->cin, c16 = c / 16 * 16;
	const ct_v16 zero = { 0 };
	ct_v16 hi;
	for (int j = 0; j < 16; j++)
		hi[j] = act == 2 ? 6.f : __builtin_inff();
	/* interior columns: ox in [xa, xb) have all three taps inside the image */
	int xa = (g->pad_l + g->sw - 1) / g->sw;
	int xb = g->w - 3 + g->pad_l >= 0 ? (g->w - 3 + g->pad_l) / g->sw + 1 : 0;
	if (xb > g->ow)
		xb = g->ow;
	if (xa > xb)
		xa = xb;
	const int64_t pitch = g->in_pitch;
	for (int64_t r = r0; r < r1; r++) {
		int n = (int)(r / g->oh), oy = (int)(r % g->oh);
		int y0 = oy * g->sh - g->pad_t;
		if (y0 < 0 || y0 + 2 >= g->h || xa >= xb) {
			dw_rows_any(g, in, in_act, w, bias, res, act, out, r, r + 1);
			continue;
		}
		const float *row0 = in + (((int64_t)n * g->h + y0) * g->w) * pitch;
		const float *row1 = row0 + (int64_t)g->w * pitch, *row2 = row1 + (int64_t)g->w * pitch;
		float *orow = out + r * g->ow * g->out_pitch;
		const float *rrow = res ? res + r * g->ow * g->out_pitch : NULL;
		for (int ch = 0; ch < c16; ch += 16) {
			ct_v16 w0, w1, w2, w3, w4, w5, w6, w7, w8, bv = zero;
			V16_LOAD(w0, w + 0 * c + ch);
			V16_LOAD(w1, w + 1 * c + ch);
			V16_LOAD(w2, w + 2 * c + ch);
			V16_LOAD(w3, w + 3 * c + ch);
			V16_LOAD(w4, w + 4 * c + ch);
			V16_LOAD(w5, w + 5 * c + ch);
			V16_LOAD(w6, w + 6 * c + ch);
			V16_LOAD(w7, w + 7 * c + ch);
			V16_LOAD(w8, w + 8 * c + ch);
			if (bias)
				V16_LOAD(bv, bias + ch);
			for (int ox = xa; ox < xb; ox++) {
				int64_t off = (int64_t)(ox * g->sw - g->pad_l) * pitch + ch;
				const float *p0 = row0 + off, *p1 = row1 + off, *p2 = row2 + off;
				ct_v16 x, acc = zero;
				if (in_act) {
					DW_TAP_ACT(x, acc, p0, w0);
					DW_TAP_ACT(x, acc, p0 + pitch, w1);
					DW_TAP_ACT(x, acc, p0 + 2 * pitch, w2);
					DW_TAP_ACT(x, acc, p1, w3);
					DW_TAP_ACT(x, acc, p1 + pitch, w4);
					DW_TAP_ACT(x, acc, p1 + 2 * pitch, w5);
					DW_TAP_ACT(x, acc, p2, w6);
					DW_TAP_ACT(x, acc, p2 + pitch, w7);
					DW_TAP_ACT(x, acc, p2 + 2 * pitch, w8);
				} else {
					V16_LOAD(x, p0);
					acc += x * w0;
					V16_LOAD(x, p0 + pitch);
					acc += x * w1;
					V16_LOAD(x, p0 + 2 * pitch);
					acc += x * w2;
					V16_LOAD(x, p1);
					acc += x * w3;
					V16_LOAD(x, p1 + pitch);
					acc += x * w4;
					V16_LOAD(x, p1 + 2 * pitch);
					acc += x * w5;
					V16_LOAD(x, p2);
					acc += x * w6;
					V16_LOAD(x, p2 + pitch);
					acc += x * w7;
					V16_LOAD(x, p2 + 2 * pitch);
					acc += x * w8;
				}
				acc += bv;
				float *o = orow + (int64_t)ox * g->out_pitch;
				const float *rs = rrow ? rrow + (int64_t)ox * g->out_pitch : NULL;
				DW_FINISH(acc, o, rs, ch);
			}
		}
		/* border columns and the channel tail through the general loops */
		for (int ox = 0; ox < g->ow; ox++)
			if (ox < xa || ox >= xb)
				dw_pixel(g, in, in_act, w, bias, res, act, out, r, ox, 0);
			else if (c16 < c)
				dw_pixel(g, in, in_act, w, bias, res, act, out, r, ox, c16);
	}
}

/* Output rows r0..r1 (row = n * oh + oy); in_act (a ct_act) is applied to every input
 * value before the product (a ReLU in front of the conv: Xception's separable convs). */
static void dw_rows_pro(const ct_conv_geom *g, const float *in, int in_act, const float *w,
			const float *bias, const float *res, int act, float *out, int64_t r0,
			int64_t r1)
{
	if (g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1)
		dw_rows_3x3(g, in, in_act, w, bias, res, act, out, r0, r1);
	else
		dw_rows_any(g, in, in_act, w, bias, res, act, out, r0, r1);
}

static __attribute__((unused)) void dw_rows(const ct_conv_geom *g, const float *in,
					    const float *w, const float *bias,
		    const float *res, int act, float *out, int64_t r0, int64_t r1)
{
	dw_rows_pro(g, in, 0, w, bias, res, act, out, r0, r1);
}

/* Max / average pooling of output rows r0..r1 (Keras semantics: padding cells are skipped,
 * the average divides by the number of cells inside the image); then, when res is not
 * NULL, + res (pixel pitch ldr): an Add of two values after the pool (Xception), the same
 * float addition as the Add step's. */
static void pool_rows(int is_max, const ct_conv_geom *g, const float *in, const float *res,
		      int64_t ldr, float *out, int64_t r0, int64_t r1)
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
			const float *rs = res ? res + (r * g->ow + ox) * ldr : NULL;
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
				if (rs) {
					ct_v16 r_;
					V16_LOAD(r_, rs + ch);
					acc += r_;
				}
				memcpy(o + ch, &acc, sizeof acc);
			}
			for (int ch = c16; ch < c; ch++) {
				float acc = in[(((int64_t)n * g->h + ya) * g->w + xa) * g->in_pitch + ch];
				for (int iy = ya; iy < yb; iy++)
					for (int ix = iy == ya ? xa + 1 : xa; ix < xb; ix++) {
						float x = in[(((int64_t)n * g->h + iy) * g->w + ix) * g->in_pitch + ch];
						acc = is_max ? (x > acc ? x : acc) : acc + x;
					}
				acc = is_max ? acc : acc * inv;
				o[ch] = rs ? acc + rs[ch] : acc;
			}
		}
	}
}
