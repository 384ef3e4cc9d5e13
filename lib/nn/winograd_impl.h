/* winograd_impl.h - the input and output transforms of Winograd F(4x4, 3x3) (winograd.h),
 * included by winograd.c, winograd_avx2.c and winograd_avx512.c so the same source is
 * compiled for each instruction set. Channels go 16 at a time through GCC vector types
 * (one zmm, two ymm or four xmm registers); a ragged last group is loaded zero padded and
 * stored partially. */
#include <string.h>

typedef float wv16 __attribute__((vector_size(64)));
typedef int wv16i __attribute__((vector_size(64)));

/* len (1..16) floats at p, the rest zero */
#define WLOAD(dst, p, len)                                               \
	do {                                                             \
		if ((len) == 16) {                                       \
			memcpy(&(dst), (p), sizeof(wv16));               \
		} else {                                                 \
			(dst) = (wv16){ 0 };                             \
			for (int l_ = 0; l_ < (len); l_++)               \
				(dst)[l_] = (p)[l_];                     \
		}                                                        \
	} while (0)
/* full vectors by a fixed-size copy (one vector store); a ragged tail float by float (a
 * variable-length memcpy becomes `rep movs`, slow for 64 bytes) */
#define WSTORE(p, src, len)                                              \
	do {                                                             \
		if ((len) == 16) {                                       \
			memcpy((p), &(src), sizeof(wv16));               \
		} else {                                                 \
			for (int l_ = 0; l_ < (len); l_++)               \
				(p)[l_] = (src)[l_];                     \
		}                                                        \
	} while (0)

/* max(x, 0), then min(x, hi) (hi = 6 for ReLU6, +inf for ReLU), bitwise as in ops_impl.h */
#define WACT(x, hi)                                                             \
	do {                                                                    \
		wv16 z_ = { 0 };                                                \
		wv16i pos_ = (x) > z_, low_ = (x) < (hi);                       \
		(x) = (wv16)((wv16i)(x) & pos_);                                \
		(x) = (wv16)(((wv16i)(x) & low_) | ((wv16i)(hi) & ~low_));      \
	} while (0)

/* Output pixel pix, channels [ch, ch + len): y + bias [+ residual], then the activation. */
#define WOUT(out, pitch, pix, ch, len, y, bv, res, ldr, act, hi)                  \
	do {                                                                      \
		wv16 o_ = (y) + (bv);                                             \
		if (res) {                                                        \
			wv16 r_;                                                  \
			WLOAD(r_, (res) + (pix) * (ldr) + (ch), len);             \
			o_ = o_ + r_;                                             \
		}                                                                 \
		if (act)                                                          \
			WACT(o_, hi);                                             \
		WSTORE((out) + (pix) * (pitch) + (ch), o_, len);                  \
	} while (0)

/* y = B^T x over six vectors (rows of B^T: [4 0 -5 0 1 0], [0 -4 -4 1 1 0],
 * [0 4 -4 -1 1 0], [0 -2 -1 2 1 0], [0 2 -1 -2 1 0], [0 4 0 -5 0 1]) */
#define WBT(y0, y1, y2, y3, y4, y5, x0, x1, x2, x3, x4, x5)      \
	do {                                                     \
		wv16 a_ = (x3) + (x4), b_ = (x1) + (x2);         \
		wv16 c_ = (x4) - (x3), d_ = (x1) - (x2);         \
		wv16 e_ = (x4) - (x2), f_ = (x3) - (x1);         \
		y0 = 4.f * (x0) - 5.f * (x2) + (x4);             \
		y1 = a_ - 4.f * b_;                              \
		y2 = c_ + 4.f * d_;                              \
		y3 = e_ + 2.f * f_;                              \
		y4 = e_ - 2.f * f_;                              \
		y5 = 4.f * (x1) - 5.f * (x3) + (x5);             \
	} while (0)

/* y = A^T m over six vectors (rows of A^T: [1 1 1 1 1 0], [0 1 -1 2 -2 0], [0 1 1 4 4 0],
 * [0 1 -1 8 -8 1]) */
#define WAT(y0, y1, y2, y3, m0, m1, m2, m3, m4, m5)          \
	do {                                                 \
		wv16 a_ = (m1) + (m2), b_ = (m1) - (m2);     \
		wv16 c_ = (m3) + (m4), d_ = (m3) - (m4);     \
		y0 = (m0) + a_ + c_;                         \
		y1 = b_ + 2.f * d_;                          \
		y2 = a_ + 4.f * c_;                          \
		y3 = b_ + 8.f * d_ + (m5);                   \
	} while (0)

/* V_p for tiles [t0, t0 + rows): 6x6 input patch per tile, padding taps zero, the prologue
 * applied to the real taps. */
static void wino_in(const ct_conv_geom *g, const float *in, const ct_prologue *pro, int64_t t0,
		    int rows, float *v, int64_t vs)
{
	const int th = (g->oh + 3) / 4, tw = (g->ow + 3) / 4, c = g->cin;
	const int64_t tpi = (int64_t)th * tw;
	wv16 hi;
	for (int j = 0; j < 16; j++)
		hi[j] = pro && pro->act == 2 ? 6.f : __builtin_inff();
	for (int r = 0; r < rows; r++) {
		int64_t t = t0 + r;
		int n = (int)(t / tpi), rem = (int)(t % tpi);
		int iy0 = rem / tw * 4 - g->pad_t, ix0 = rem % tw * 4 - g->pad_l;
		float *vr = v + (int64_t)r * c;
		for (int ch = 0; ch < c; ch += 16) {
			int len = c - ch < 16 ? c - ch : 16;
			wv16 sc = { 0 }, sh = { 0 };
			if (pro) {
				WLOAD(sc, pro->scale + ch, len);
				WLOAD(sh, pro->shift + ch, len);
			}
			wv16 e[6][6];
			for (int i = 0; i < 6; i++) {
				int iy = iy0 + i;
				wv16 d[6];
				for (int j = 0; j < 6; j++) {
					int ix = ix0 + j;
					if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) {
						d[j] = (wv16){ 0 };
						continue;
					}
					WLOAD(d[j], in + (((int64_t)n * g->h + iy) * g->w + ix) * g->in_pitch + ch,
					      len);
					if (pro) {
						d[j] = d[j] * sc + sh;
						if (pro->act)
							WACT(d[j], hi);
					}
				}
				WBT(e[i][0], e[i][1], e[i][2], e[i][3], e[i][4], e[i][5], d[0], d[1], d[2],
				    d[3], d[4], d[5]);
			}
			for (int j = 0; j < 6; j++) {
				wv16 y[6];
				WBT(y[0], y[1], y[2], y[3], y[4], y[5], e[0][j], e[1][j], e[2][j], e[3][j],
				    e[4][j], e[5][j]);
				for (int i = 0; i < 6; i++)
					WSTORE(vr + (i * 6 + j) * vs + ch, y[i], len);
			}
		}
	}
}

/* Y = A^T M A for tiles [t0, t0 + rows), then bias, residual, activation; only the pixels
 * inside the output are stored. */
static void wino_out(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0, int rows,
		     const float *bias, const float *res, int64_t ldr, int act, float *out)
{
	const int th = (g->oh + 3) / 4, tw = (g->ow + 3) / 4, c = g->cout;
	const int64_t tpi = (int64_t)th * tw;
	wv16 hi;
	for (int j = 0; j < 16; j++)
		hi[j] = act == 2 ? 6.f : __builtin_inff();
	for (int r = 0; r < rows; r++) {
		int64_t t = t0 + r;
		int n = (int)(t / tpi), rem = (int)(t % tpi);
		int oy0 = rem / tw * 4, ox0 = rem % tw * 4;
		int ny = g->oh - oy0 < 4 ? g->oh - oy0 : 4, nx = g->ow - ox0 < 4 ? g->ow - ox0 : 4;
		const float *mr = m + (int64_t)r * c;
		for (int ch = 0; ch < c; ch += 16) {
			int len = c - ch < 16 ? c - ch : 16;
			wv16 e[6][4], bv;
			WLOAD(bv, bias + ch, len);
			for (int i = 0; i < 6; i++) {
				wv16 x[6];
				for (int j = 0; j < 6; j++)
					WLOAD(x[j], mr + (i * 6 + j) * ms + ch, len);
				WAT(e[i][0], e[i][1], e[i][2], e[i][3], x[0], x[1], x[2], x[3], x[4], x[5]);
			}
			for (int j = 0; j < nx; j++) {
				wv16 y[4];
				WAT(y[0], y[1], y[2], y[3], e[0][j], e[1][j], e[2][j], e[3][j], e[4][j],
				    e[5][j]);
				for (int i = 0; i < ny; i++)
					WOUT(out, g->out_pitch, ((int64_t)n * g->oh + oy0 + i) * g->ow + ox0 + j,
					     ch, len, y[i], bv, res, ldr, act, hi);
			}
		}
	}
}

/* F(2, 7) (winograd.h): y = B^T x over eight vectors along the filter's axis. The rows of
 * B^T: [1 0 -21/4 0 21/4 0 -1 0], [0 1 1 -17/4 -17/4 1 1 0], [0 -1 1 17/4 -17/4 -1 1 0],
 * [0 1/2 1/4 -5/2 -5/4 2 1 0], [0 -1/2 1/4 5/2 -5/4 -2 1 0], [0 2 4 -5/2 -5 1/2 1 0],
 * [0 -2 4 5/2 -5 -1/2 1 0], [0 -1 0 21/4 0 -21/4 0 1] (Toom-Cook at 0, +-1, +-2, +-1/2
 * and infinity; the filter side is winograd.c's G7). */
#define W7BT(y, x)                                                                   \
	do {                                                                         \
		wv16 a_, b_;                                                         \
		(y)[0] = ((x)[0] - (x)[6]) + 5.25f * ((x)[4] - (x)[2]);              \
		(y)[7] = ((x)[7] - (x)[1]) + 5.25f * ((x)[3] - (x)[5]);              \
		a_ = ((x)[2] + (x)[6]) - 4.25f * (x)[4];                             \
		b_ = ((x)[1] + (x)[5]) - 4.25f * (x)[3];                             \
		(y)[1] = a_ + b_, (y)[2] = a_ - b_;                                  \
		a_ = (0.25f * (x)[2] - 1.25f * (x)[4]) + (x)[6];                     \
		b_ = (0.5f * (x)[1] - 2.5f * (x)[3]) + 2.f * (x)[5];                 \
		(y)[3] = a_ + b_, (y)[4] = a_ - b_;                                  \
		a_ = (4.f * (x)[2] - 5.f * (x)[4]) + (x)[6];                         \
		b_ = (2.f * (x)[1] - 2.5f * (x)[3]) + 0.5f * (x)[5];                 \
		(y)[5] = a_ + b_, (y)[6] = a_ - b_;                                  \
	} while (0)

/* Where F(2, 7)'s tile t starts: image n, first output pixel (oy, ox), and the step between
 * its pixels (along x for a 1x7 filter, along y for 7x1); the tiles of an image go row by
 * row (1x7: each output row is cut in tiles of 2; 7x1: each pair of rows in columns). */
static void w7_tile(const ct_conv_geom *g, int64_t t, int *n, int *oy, int *ox, int *len)
{
	if (g->kw == 7) {
		int tw = (g->ow + 1) / 2;
		int64_t tpi = (int64_t)g->oh * tw;
		int rem = (int)(t % tpi);
		*n = (int)(t / tpi), *oy = rem / tw, *ox = rem % tw * 2;
		*len = g->ow - *ox < 2 ? 1 : 2;
	} else {
		int th = (g->oh + 1) / 2;
		int64_t tpi = (int64_t)th * g->ow;
		int rem = (int)(t % tpi);
		*n = (int)(t / tpi), *oy = rem / g->ow * 2, *ox = rem % g->ow;
		*len = g->oh - *oy < 2 ? 1 : 2;
	}
}

/* V_p for F(2, 7)'s tiles [t0, t0 + rows): 8 input pixels per tile, padding taps zero, the
 * prologue applied to the real ones. */
static void wino7_in(const ct_conv_geom *g, const float *in, const ct_prologue *pro, int64_t t0,
		     int rows, float *v, int64_t vs)
{
	const int c = g->cin, along_x = g->kw == 7;
	wv16 hi;
	for (int j = 0; j < 16; j++)
		hi[j] = pro && pro->act == 2 ? 6.f : __builtin_inff();
	for (int r = 0; r < rows; r++) {
		int n, oy, ox, len;
		w7_tile(g, t0 + r, &n, &oy, &ox, &len);
		int iy0 = oy - g->pad_t, ix0 = ox - g->pad_l;
		const float *pix[8];
		for (int j = 0; j < 8; j++) {
			int iy = along_x ? iy0 : iy0 + j, ix = along_x ? ix0 + j : ix0;
			pix[j] = iy < 0 || iy >= g->h || ix < 0 || ix >= g->w
					 ? NULL
					 : in + (((int64_t)n * g->h + iy) * g->w + ix) * g->in_pitch;
		}
		float *vr = v + (int64_t)r * c;
		for (int ch = 0; ch < c; ch += 16) {
			int l = c - ch < 16 ? c - ch : 16;
			wv16 sc = { 0 }, sh = { 0 }, d[8], y[8];
			if (pro) {
				WLOAD(sc, pro->scale + ch, l);
				WLOAD(sh, pro->shift + ch, l);
			}
			for (int j = 0; j < 8; j++) {
				if (!pix[j]) {
					d[j] = (wv16){ 0 };
					continue;
				}
				WLOAD(d[j], pix[j] + ch, l);
				if (pro) {
					d[j] = d[j] * sc + sh;
					if (pro->act)
						WACT(d[j], hi);
				}
			}
			W7BT(y, d);
			for (int p = 0; p < 8; p++)
				WSTORE(vr + p * vs + ch, y[p], l);
		}
	}
}

/* Y = A^T M for F(2, 7)'s tiles [t0, t0 + rows) (rows of A^T: [1 1 1 1 1 1 1 0],
 * [0 1 -1 2 -2 1/2 -1/2 1]), then bias, residual, activation; only pixels inside the
 * output are stored. */
static void wino7_out(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0, int rows,
		      const float *bias, const float *res, int64_t ldr, int act, float *out)
{
	const int c = g->cout, along_x = g->kw == 7;
	wv16 hi;
	for (int j = 0; j < 16; j++)
		hi[j] = act == 2 ? 6.f : __builtin_inff();
	for (int r = 0; r < rows; r++) {
		int n, oy, ox, len;
		w7_tile(g, t0 + r, &n, &oy, &ox, &len);
		const float *mr = m + (int64_t)r * c;
		int64_t pix0 = ((int64_t)n * g->oh + oy) * g->ow + ox;
		int64_t step = along_x ? 1 : g->ow;
		for (int ch = 0; ch < c; ch += 16) {
			int l = c - ch < 16 ? c - ch : 16;
			wv16 x[8], y[2], bv;
			WLOAD(bv, bias + ch, l);
			for (int p = 0; p < 8; p++)
				WLOAD(x[p], mr + p * ms + ch, l);
			y[0] = (((x[0] + (x[1] + x[2])) + (x[3] + x[4])) + (x[5] + x[6]));
			y[1] = (((x[1] - x[2]) + 2.f * (x[3] - x[4])) + 0.5f * (x[5] - x[6])) + x[7];
			for (int i = 0; i < len; i++)
				WOUT(out, g->out_pitch, pix0 + i * step, ch, l, y[i], bv, res, ldr, act, hi);
		}
	}
}

/* The four transforms exported under an ISA's names (winograd_avx2.c, winograd_avx512.c). */
#define CT_WINO_EXPORT(isa)                                                                  \
	void ct_wino_in_##isa(const ct_conv_geom *g, const float *in, const ct_prologue *pro, \
			      int64_t t0, int rows, float *v, int64_t vs)                    \
	{                                                                                    \
		wino_in(g, in, pro, t0, rows, v, vs);                                        \
	}                                                                                    \
	void ct_wino_out_##isa(const ct_conv_geom *g, const float *m, int64_t ms, int64_t t0, \
			       int rows, const float *bias, const float *res, int64_t ldr,  \
			       int act, float *out)                                         \
	{                                                                                    \
		wino_out(g, m, ms, t0, rows, bias, res, ldr, act, out);                      \
	}                                                                                    \
	void ct_wino7_in_##isa(const ct_conv_geom *g, const float *in, const ct_prologue *pro, \
			       int64_t t0, int rows, float *v, int64_t vs)                   \
	{                                                                                    \
		wino7_in(g, in, pro, t0, rows, v, vs);                                       \
	}                                                                                    \
	void ct_wino7_out_##isa(const ct_conv_geom *g, const float *m, int64_t ms,           \
				int64_t t0, int rows, const float *bias, const float *res,   \
				int64_t ldr, int act, float *out)                            \
	{                                                                                    \
		wino7_out(g, m, ms, t0, rows, bias, res, ldr, act, out);                     \
	}
