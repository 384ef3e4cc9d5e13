/* depthwise_impl.h - direct NHWC 3x3 depthwise convolution (depth multiplier 1), any
 * stride and padding, no dilation: the body of depthwise_avx512.c and depthwise_avx2.c,
 * which define the vector macros below for their instruction set.
 *
 * Per output row, channel vectors outermost: the nine weight vectors and the bias stay in
 * registers along the row, and interior outputs go four at a time, so that an input
 * vector loaded once serves every output it belongs to (6 loads per tap row for 4 outputs
 * at stride 1, 9 at stride 2, instead of 12). Tap rows outside the image are left out for
 * the whole row; the border columns take their valid taps only; a channel tail that is
 * not a whole vector goes through masked loads and stores. The fused in_act (a ReLU / ReLU6
 * in front of the conv) is applied to each input vector as it is loaded, the bias, the
 * residual (Add) and the activation (BN is folded into w and bias) after the taps.
 *
 * Every output is computed in the same order (taps ky, kx ascending, one FMA each, then
 * + bias, + residual, activation) whichever path, block or thread it goes through: the
 * results do not depend on the thread count or the split.
 *
 * The including file defines: VW (floats per vector), vec, mask_t, VZERO, VSET1(x),
 * VLOAD(p, m), VSTORE(p, m, v), VFMA(a, b, c) (= c + a * b, rounded twice), VADD, VMAX, VMIN, and
 * MASK_OF(n) (the first n lanes), FULL_MASK. */

static inline vec dwk_in(const float *p, mask_t m, int in_act, vec hi_in)
{
	vec x = VLOAD(p, m);
	if (in_act)
		x = VMIN(VMAX(x, VZERO), hi_in);
	return x;
}

/* The epilogue of one output vector; add_b: whether the bias is added (see dwk_rows). */
static inline void dwk_finish(vec acc, vec bv, int add_b, const float *rs, float *o, mask_t m,
			      int act, vec hi)
{
	if (add_b)
		acc = VADD(acc, bv);
	if (rs)
		acc = VADD(acc, VLOAD(rs, m));
	if (act)
		acc = VMIN(VMAX(acc, VZERO), hi);
	VSTORE(o, m, acc);
}

/* Four interior outputs, tap row KY (a constant, so the weights stay in registers). */
#define DWK_ROW4(KY)                                                                     \
	if ((KY) >= ky0 && (KY) < ky1) {                                                 \
		const float *p = rowp[KY] + x0 * ip + ch;                                \
		const vec w0 = wv[(KY) * 3], w1 = wv[(KY) * 3 + 1], w2 = wv[(KY) * 3 + 2]; \
		if (sw == 1) {                                                           \
			vec x0v = dwk_in(p, m, in_act, hi_in);                           \
			vec x1v = dwk_in(p + ip, m, in_act, hi_in);                      \
			vec x2v = dwk_in(p + 2 * ip, m, in_act, hi_in);                  \
			vec x3v = dwk_in(p + 3 * ip, m, in_act, hi_in);                  \
			vec x4v = dwk_in(p + 4 * ip, m, in_act, hi_in);                  \
			vec x5v = dwk_in(p + 5 * ip, m, in_act, hi_in);                  \
			a0 = VFMA(x0v, w0, a0);                                          \
			a1 = VFMA(x1v, w0, a1);                                          \
			a2 = VFMA(x2v, w0, a2);                                          \
			a3 = VFMA(x3v, w0, a3);                                          \
			a0 = VFMA(x1v, w1, a0);                                          \
			a1 = VFMA(x2v, w1, a1);                                          \
			a2 = VFMA(x3v, w1, a2);                                          \
			a3 = VFMA(x4v, w1, a3);                                          \
			a0 = VFMA(x2v, w2, a0);                                          \
			a1 = VFMA(x3v, w2, a1);                                          \
			a2 = VFMA(x4v, w2, a2);                                          \
			a3 = VFMA(x5v, w2, a3);                                          \
		} else if (sw == 2) {                                                    \
			vec x0v = dwk_in(p, m, in_act, hi_in);                           \
			vec x1v = dwk_in(p + ip, m, in_act, hi_in);                      \
			vec x2v = dwk_in(p + 2 * ip, m, in_act, hi_in);                  \
			vec x3v = dwk_in(p + 3 * ip, m, in_act, hi_in);                  \
			vec x4v = dwk_in(p + 4 * ip, m, in_act, hi_in);                  \
			vec x5v = dwk_in(p + 5 * ip, m, in_act, hi_in);                  \
			vec x6v = dwk_in(p + 6 * ip, m, in_act, hi_in);                  \
			vec x7v = dwk_in(p + 7 * ip, m, in_act, hi_in);                  \
			vec x8v = dwk_in(p + 8 * ip, m, in_act, hi_in);                  \
			a0 = VFMA(x0v, w0, a0);                                          \
			a1 = VFMA(x2v, w0, a1);                                          \
			a2 = VFMA(x4v, w0, a2);                                          \
			a3 = VFMA(x6v, w0, a3);                                          \
			a0 = VFMA(x1v, w1, a0);                                          \
			a1 = VFMA(x3v, w1, a1);                                          \
			a2 = VFMA(x5v, w1, a2);                                          \
			a3 = VFMA(x7v, w1, a3);                                          \
			a0 = VFMA(x2v, w2, a0);                                          \
			a1 = VFMA(x4v, w2, a1);                                          \
			a2 = VFMA(x6v, w2, a2);                                          \
			a3 = VFMA(x8v, w2, a3);                                          \
		} else {                                                                 \
			const int64_t s_ = (int64_t)sw * ip;                             \
			vec x0v, x1v, x2v;                                               \
			vec *acc4[4] = { &a0, &a1, &a2, &a3 };                           \
			for (int j_ = 0; j_ < 4; j_++) {                                 \
				const float *q_ = p + j_ * s_;                           \
				x0v = dwk_in(q_, m, in_act, hi_in);                      \
				x1v = dwk_in(q_ + ip, m, in_act, hi_in);                 \
				x2v = dwk_in(q_ + 2 * ip, m, in_act, hi_in);             \
				*acc4[j_] = VFMA(x0v, w0, *acc4[j_]);                    \
				*acc4[j_] = VFMA(x1v, w1, *acc4[j_]);                    \
				*acc4[j_] = VFMA(x2v, w2, *acc4[j_]);                    \
			}                                                                \
		}                                                                        \
	}

/* One output's tap (KY, KX) when it lies inside the image. */
#define DWK_TAP1(KY, KX)                                                                 \
	if ((KY) >= ky0 && (KY) < ky1 && (KX) >= kx0 && (KX) < kx1)                      \
		acc = VFMA(dwk_in(rowp[KY] + (int64_t)(xx + (KX)) * ip + ch, m, in_act, hi_in), \
			   wv[(KY) * 3 + (KX)], acc);

/* Output rows [r0, r1) (row = n * oh + oy) of a 3x3 undilated depthwise conv. */
static void dwk_rows(const ct_conv_geom *g, const float *in, int in_act, const float *w,
		     const float *bias, const float *res, int act, float *out, int64_t r0,
		     int64_t r1)
{
	const int c = g->cin, sw = g->sw;
	const int64_t ip = g->in_pitch, op = g->out_pitch;
	const vec hi = VSET1(act == 2 ? 6.f : __builtin_inff());
	const vec hi_in = VSET1(in_act == 2 ? 6.f : __builtin_inff());
	/* interior columns: ox in [xa, xb) have all three taps inside the image */
	int xa = (g->pad_l + sw - 1) / sw;
	int xb = g->w - 3 + g->pad_l >= 0 ? (g->w - 3 + g->pad_l) / sw + 1 : 0;
	if (xb > g->ow)
		xb = g->ow;
	if (xa > xb)
		xa = xb;
	for (int64_t r = r0; r < r1; r++) {
		int n = (int)(r / g->oh), oy = (int)(r % g->oh);
		int y0 = oy * g->sh - g->pad_t;
		/* the tap rows inside the image: ky in [ky0, ky1) */
		const int ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + 3 > g->h ? g->h - y0 : 3;
		const int row_in = y0 >= 0 && y0 + 2 < g->h && xa < xb; /* as ops_impl.h */
		const float *rowp[3];
		for (int ky = 0; ky < 3; ky++)
			rowp[ky] = ky >= ky0 && ky < ky1
					   ? in + (((int64_t)n * g->h + y0 + ky) * g->w) * ip
					   : in;
		float *orow = out + r * g->ow * op;
		const float *rrow = res ? res + r * g->ow * op : NULL;
		for (int ch = 0; ch < c; ch += VW) {
			const mask_t m = c - ch >= VW ? FULL_MASK : MASK_OF(c - ch);
			vec wv[9];
			for (int t = 0; t < 9; t++)
				wv[t] = VLOAD(w + (int64_t)t * c + ch, m);
			const vec bv = bias ? VLOAD(bias + ch, m) : VZERO;
			/* the bias step as ops_impl.h's loops take it, so that every output has their
			 * bits: interior pixels of whole 16-channel vectors always add it (zeros
			 * without a bias), border pixels and the channels past c / 16 * 16 only
			 * when there is one */
			const int add_b = bias != NULL;
			const int add_in = add_b || ch + VW <= c / 16 * 16;
			for (int ox = 0; ox < g->ow;) {
				const int four = ox >= xa && ox + 4 <= xb;
				if (four) { /* four interior outputs */
					vec a0 = VZERO, a1 = VZERO, a2 = VZERO, a3 = VZERO;
					const int64_t x0 = (int64_t)ox * sw - g->pad_l;
					DWK_ROW4(0)
					DWK_ROW4(1)
					DWK_ROW4(2)
					float *o = orow + (int64_t)ox * op + ch;
					const float *rs = rrow ? rrow + (int64_t)ox * op + ch : NULL;
					const int ab4 = row_in ? add_in : add_b;
					dwk_finish(a0, bv, ab4, rs, o, m, act, hi);
					dwk_finish(a1, bv, ab4, rs ? rs + op : NULL, o + op, m, act, hi);
					dwk_finish(a2, bv, ab4, rs ? rs + 2 * op : NULL, o + 2 * op, m, act, hi);
					dwk_finish(a3, bv, ab4, rs ? rs + 3 * op : NULL, o + 3 * op, m, act, hi);
				} else { /* one output (a border or the last interior ones) */
					const int xx = ox * sw - g->pad_l;
					const int kx0 = xx < 0 ? -xx : 0, kx1 = xx + 3 > g->w ? g->w - xx : 3;
					vec acc = VZERO;
					DWK_TAP1(0, 0) DWK_TAP1(0, 1) DWK_TAP1(0, 2)
					DWK_TAP1(1, 0) DWK_TAP1(1, 1) DWK_TAP1(1, 2)
					DWK_TAP1(2, 0) DWK_TAP1(2, 1) DWK_TAP1(2, 2)
					const int in_x = row_in && ox >= xa && ox < xb;
					dwk_finish(acc, bv, in_x ? add_in : add_b, rrow ? rrow + (int64_t)ox * op + ch : NULL,
						   orow + (int64_t)ox * op + ch, m, act, hi);
				}
				ox += four ? 4 : 1;
			}
		}
	}
}
