/* test_warp.c - ct_warp_affine invariants and fill modes, Keras-style ct_augment_* sampling and matrices. */
#include "image/warp.h"

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "test.h"

#include <math.h>

static ct_tensor alloc_img(ct_dtype t, int h, int w, int c)
{
	ct_tensor x;
	if (ct_tensor_alloc3(&x, t, h, w, c) < 0) {
		printf("Bail out! %s\n", ct_last_error());
		exit(2);
	}
	return x;
}

static void fill_random(ct_tensor *x, ct_rng *r)
{
	int64_t n = ct_tensor_numel(x);
	for (int64_t i = 0; i < n; i++) {
		if (x->dtype == CT_U8)
			((uint8_t *)x->data)[i] = (uint8_t)ct_rng_below(r, 256);
		else
			((float *)x->data)[i] = (float)ct_rng_uniform(r);
	}
}

static int same(const ct_tensor *a, const ct_tensor *b)
{
	return memcmp(a->data, b->data, ct_tensor_nbytes(a)) == 0;
}

static float fat(const ct_tensor *x, int r, int c, int k)
{
	return ((float *)x->data)[(r * x->shape[1] + c) * x->shape[2] + k];
}

static int max_abs_diff6(const double a[6], const double b[6], double tol)
{
	for (int i = 0; i < 6; i++)
		if (!(fabs(a[i] - b[i]) <= tol))
			return 0;
	return 1;
}

/* 3x3 helpers for the independent Keras reference */
static void mm3(const double a[9], const double b[9], double o[9])
{
	double r[9];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
	memcpy(o, r, sizeof r);
}

/* Keras apply_affine_transform + transform_matrix_offset_center + flip_axis, written
 * out with 3x3 matrices and radians straight from the formulas. */
static void keras_matrix(const ct_augment_transform *t, int h, int w, double m[6])
{
	double th = t->theta * M_PI / 180, sh = t->shear * M_PI / 180;
	double R[9] = { cos(th), -sin(th), 0, sin(th), cos(th), 0, 0, 0, 1 };
	double S[9] = { 1, 0, t->tx, 0, 1, t->ty, 0, 0, 1 };
	double H[9] = { 1, -sin(sh), 0, 0, cos(sh), 0, 0, 0, 1 };
	double Z[9] = { t->zx, 0, 0, 0, t->zy, 0, 0, 0, 1 };
	double M[9];
	mm3(R, S, M);
	mm3(M, H, M);
	mm3(M, Z, M);
	double ox = h / 2.0 - 0.5, oy = w / 2.0 - 0.5;
	double O[9] = { 1, 0, ox, 0, 1, oy, 0, 0, 1 }, B[9] = { 1, 0, -ox, 0, 1, -oy, 0, 0, 1 };
	mm3(O, M, M);
	mm3(M, B, M);
	if (t->flip_h) {
		double F[9] = { 1, 0, 0, 0, -1, w - 1, 0, 0, 1 };
		mm3(M, F, M);
	}
	if (t->flip_v) {
		double F[9] = { -1, 0, h - 1, 0, 1, 0, 0, 0, 1 };
		mm3(M, F, M);
	}
	memcpy(m, M, 6 * sizeof(double));
}

static const char *fill_name[] = { "nearest", "constant", "reflect", "wrap" };

int main(void)
{
	ct_rng r;
	ct_rng_init(&r, 7, 0);
	double id[6];
	ct_affine_identity(id);

	/* identity is exact, for both types and every fill mode */
	for (int t = 0; t < 2; t++) {
		ct_tensor in = alloc_img(t ? CT_F32 : CT_U8, 13, 10, 3), out = alloc_img(in.dtype, 13, 10, 3);
		fill_random(&in, &r);
		for (int f = 0; f < 4; f++) {
			memset(out.data, 0xAB, ct_tensor_nbytes(&out));
			ok(ct_warp_affine(&in, id, (ct_fill)f, 99, &out) == 0 && same(&in, &out),
			   "%s, %s: the identity matrix reproduces the input exactly", t ? "float32" : "uint8",
			   fill_name[f]);
		}
		ct_tensor_free(&in);
		ct_tensor_free(&out);
	}

	/* one quarter turn is the expected permutation; four return the input */
	for (int n = 8; n <= 9; n++) {
		for (int t = 0; t < 2; t++) {
			ct_tensor a = alloc_img(t ? CT_F32 : CT_U8, n, n, 3), b = alloc_img(a.dtype, n, n, 3);
			ct_tensor orig = alloc_img(a.dtype, n, n, 3);
			fill_random(&a, &r);
			memcpy(orig.data, a.data, ct_tensor_nbytes(&a));
			double m[6];
			ct_affine_rotate(90, n, n, m);
			int perm = ct_warp_affine(&a, m, CT_FILL_CONSTANT, 0, &b) == 0;
			size_t es = ct_dtype_size(a.dtype);
			for (int y = 0; perm && y < n; y++)
				for (int x = 0; x < n; x++)
					/* Keras' rotation matrix [[c,-s],[s,c]] pulls out(r, c) from in(n-1-c, r) */
					if (memcmp((char *)b.data + ((size_t)(y * n + x) * 3) * es,
						   (char *)a.data + ((size_t)((n - 1 - x) * n + y) * 3) * es, 3 * es))
						perm = 0;
			ok(perm, "%s %dx%d: a 90 degree rotation maps out(r, c) = in(n-1-c, r) exactly",
			   t ? "float32" : "uint8", n, n);
			int okk = 1;
			for (int k = 0; k < 4 && okk; k++) {
				okk = ct_warp_affine(&a, m, CT_FILL_CONSTANT, 0, &b) == 0;
				ct_tensor tmp = a;
				a = b;
				b = tmp;
			}
			ok(okk && same(&a, &orig), "%s %dx%d: four 90 degree rotations about the centre return the input exactly",
			   t ? "float32" : "uint8", n, n);
			ct_tensor_free(&a);
			ct_tensor_free(&b);
			ct_tensor_free(&orig);
		}
	}

	/* shear on a linear ramp (bilinear interpolation is exact for linear images), then its inverse */
	{
		int n = 32;
		ct_tensor a = alloc_img(CT_F32, n, n, 1), b = alloc_img(CT_F32, n, n, 1), c = alloc_img(CT_F32, n, n, 1);
		for (int y = 0; y < n; y++)
			for (int x = 0; x < n; x++)
				((float *)a.data)[y * n + x] = 0.25f + 0.01f * y + 0.02f * x;
		ct_augment_transform t = { .shear = 20, .zx = 1, .zy = 1 };
		double m[6], inv[6], back[6];
		ct_augment_matrix(&t, n, n, m);
		ok(ct_affine_invert(m, inv) == 0, "a shear matrix is invertible");
		ct_affine_compose(m, inv, back);
		ok(max_abs_diff6(back, id, 1e-12), "shear composed with its inverse is the identity matrix");
		int good = ct_warp_affine(&a, m, CT_FILL_NEAREST, 0, &b) == 0 && ct_warp_affine(&b, inv, CT_FILL_NEAREST, 0, &c) == 0;
		double e1 = 0, e2 = 0;
		for (int y = 0; y < n; y++)
			for (int x = 0; x < n; x++) {
				double yr = m[0] * y + m[1] * x + m[2], xc = m[3] * y + m[4] * x + m[5];
				if (yr >= 0 && yr <= n - 1 && xc >= 0 && xc <= n - 1)
					e1 = fmax(e1, fabs(fat(&b, y, x, 0) - (0.25 + 0.01 * yr + 0.02 * xc)));
				if (y >= 8 && y < n - 8 && x >= 8 && x < n - 8)
					e2 = fmax(e2, fabs(fat(&c, y, x, 0) - fat(&a, y, x, 0)));
			}
		ok(good && e1 < 1e-5, "sheared ramp equals the ramp at m*(r, c, 1) wherever that is inside (err %.2g)", e1);
		ok(good && e2 < 1e-5, "shear then the inverse matrix returns the input in the interior (err %.2g)", e2);
		ct_tensor_free(&a);
		ct_tensor_free(&b);
		ct_tensor_free(&c);
	}

	/* integer translation: exact shift, borders per fill mode (hand-computed) */
	{
		/* in(r, c) = 10 r + c, 3 x 4; m: out(r, c) = in(r - 1, c + 2) */
		static const uint8_t expect[4][12] = {
			/* nearest: row -1 -> 0, cols 4, 5 -> 3 */
			{ 2, 3, 3, 3, 2, 3, 3, 3, 12, 13, 13, 13 },
			/* constant 99 */
			{ 99, 99, 99, 99, 2, 3, 99, 99, 12, 13, 99, 99 },
			/* reflect (d c b a | a b c d | d c b a): row -1 -> 0, col 4 -> 3, col 5 -> 2 */
			{ 2, 3, 3, 2, 2, 3, 3, 2, 12, 13, 13, 12 },
			/* wrap, period n: row -1 -> 2, col 4 -> 0, col 5 -> 1 */
			{ 22, 23, 20, 21, 2, 3, 0, 1, 12, 13, 10, 11 },
		};
		double m[6] = { 1, 0, -1, 0, 1, 2 };
		for (int t = 0; t < 2; t++) {
			ct_tensor a = alloc_img(t ? CT_F32 : CT_U8, 3, 4, 1), b = alloc_img(a.dtype, 3, 4, 1);
			for (int i = 0; i < 12; i++) {
				if (t)
					((float *)a.data)[i] = (float)(10 * (i / 4) + i % 4);
				else
					((uint8_t *)a.data)[i] = (uint8_t)(10 * (i / 4) + i % 4);
			}
			for (int f = 0; f < 4; f++) {
				int good = ct_warp_affine(&a, m, (ct_fill)f, 99, &b) == 0;
				for (int i = 0; good && i < 12; i++)
					good = t ? ((float *)b.data)[i] == expect[f][i] : ((uint8_t *)b.data)[i] == expect[f][i];
				ok(good, "%s, %s: shift by (-1, +2) rows/cols is exact with the hand-computed border",
				   t ? "float32" : "uint8", fill_name[f]);
			}
			/* beyond one period: cols c+6 (reflect period 8: 6->1, 7->0, 8->0, 9->1) and c-5 (wrap: 3,0,1,2) */
			double m6[6] = { 1, 0, 0, 0, 1, 6 }, m5[6] = { 1, 0, 0, 0, 1, -5 };
			static const int er[4] = { 1, 0, 0, 1 }, ew[4] = { 3, 0, 1, 2 };
			int g1 = ct_warp_affine(&a, m6, CT_FILL_REFLECT, 0, &b) == 0;
			for (int i = 0; g1 && i < 12; i++)
				g1 = (t ? ((float *)b.data)[i] : ((uint8_t *)b.data)[i]) == 10 * (i / 4) + er[i % 4];
			ok(g1, "%s, reflect: a shift of 6 on width 4 folds twice (cols 1, 0, 0, 1)", t ? "float32" : "uint8");
			int g2 = ct_warp_affine(&a, m5, CT_FILL_WRAP, 0, &b) == 0;
			for (int i = 0; g2 && i < 12; i++)
				g2 = (t ? ((float *)b.data)[i] : ((uint8_t *)b.data)[i]) == 10 * (i / 4) + ew[i % 4];
			ok(g2, "%s, wrap: a shift of -5 on width 4 wraps (cols 3, 0, 1, 2)", t ? "float32" : "uint8");
			ct_tensor_free(&a);
			ct_tensor_free(&b);
		}
	}

	/* half-pixel shifts at the border: which extension is interpolated (scipy's
	 * test_boundaries, data 1 2 3 4, cval -1; wrap is scipy's 'grid-wrap') */
	{
		static const double shifts[3] = { 0.5, -0.5, 3.5 };
		static const float expect[3][4][4] = {
			{ { 1.5, 2.5, 3.5, 4 }, { 1.5, 2.5, 3.5, -1 }, { 1.5, 2.5, 3.5, 4 }, { 1.5, 2.5, 3.5, 2.5 } },
			{ { 1, 1.5, 2.5, 3.5 }, { -1, 1.5, 2.5, 3.5 }, { 1, 1.5, 2.5, 3.5 }, { 2.5, 1.5, 2.5, 3.5 } },
			{ { 4, 4, 4, 4 }, { -1, -1, -1, -1 }, { 4, 3.5, 2.5, 1.5 }, { 2.5, 1.5, 2.5, 3.5 } },
		};
		ct_tensor a = alloc_img(CT_F32, 1, 4, 1), b = alloc_img(CT_F32, 1, 4, 1);
		for (int i = 0; i < 4; i++)
			((float *)a.data)[i] = (float)(i + 1);
		for (int s = 0; s < 3; s++)
			for (int f = 0; f < 4; f++) {
				double m[6] = { 1, 0, 0, 0, 1, shifts[s] };
				int good = ct_warp_affine(&a, m, (ct_fill)f, -1, &b) == 0;
				for (int i = 0; good && i < 4; i++)
					good = ((float *)b.data)[i] == expect[s][f][i];
				ok(good, "%s: shift %+g of [1 2 3 4] gives [%g %g %g %g]", fill_name[f], shifts[s],
				   expect[s][f][0], expect[s][f][1], expect[s][f][2], expect[s][f][3]);
			}
		ct_tensor_free(&a);
		ct_tensor_free(&b);
	}

	/* uint8 rounding: half up, and clamping of cval */
	{
		ct_tensor a = alloc_img(CT_U8, 1, 4, 1), b = alloc_img(CT_U8, 1, 4, 1);
		uint8_t v[4] = { 0, 1, 10, 13 };
		memcpy(a.data, v, 4);
		double m[6] = { 1, 0, 0, 0, 1, 0.5 };
		uint8_t *o = b.data;
		ok(ct_warp_affine(&a, m, CT_FILL_CONSTANT, 300, &b) == 0 && o[0] == 1 && o[1] == 6 && o[2] == 12 && o[3] == 255,
		   "uint8: 0.5 -> 1, 5.5 -> 6, 11.5 -> 12 (half up); cval 300 clamps to 255");
		ok(ct_warp_affine(&a, m, CT_FILL_CONSTANT, -5, &b) == 0 && o[3] == 0, "uint8: cval -5 clamps to 0");
		double m2[6] = { 1, 0, 0, 0, 1, 0.25 };
		ok(ct_warp_affine(&a, m2, CT_FILL_NEAREST, 0, &b) == 0 && o[0] == 0 && o[1] == 3 && o[2] == 11,
		   "uint8: 0.25 -> 0, 3.25 -> 3, 10.75 -> 11 (nearest)");
		ct_tensor_free(&a);
		ct_tensor_free(&b);
	}

	/* refusals */
	{
		ct_tensor a = alloc_img(CT_U8, 4, 4, 1), b = alloc_img(CT_F32, 4, 4, 1), c = alloc_img(CT_U8, 4, 5, 1);
		ok(ct_warp_affine(&a, id, CT_FILL_NEAREST, 0, &b) < 0, "output type differing from input is refused");
		ok(ct_warp_affine(&a, id, CT_FILL_NEAREST, 0, &c) < 0, "output shape differing from input is refused");
		ok(ct_warp_affine(&a, id, CT_FILL_NEAREST, 0, &a) < 0, "in-place warp is refused");
		double bad[6] = { 1, 0, NAN, 0, 1, 0 };
		ok(ct_warp_affine(&a, bad, CT_FILL_NEAREST, 0, &c) < 0, "non-finite matrix is refused");
		double sing[6] = { 1, 2, 0, 2, 4, 0 }, o6[6];
		ok(ct_affine_invert(sing, o6) < 0 && strstr(ct_last_error(), "singular"), "singular matrix is not inverted");
		ct_tensor_free(&a);
		ct_tensor_free(&b);
		ct_tensor_free(&c);
	}

	/* ct_augment_*: Keras ImageDataGenerator sampling */
	ct_augment_params p;
	{
		ct_augment_defaults(&p);
		int ident = 1;
		for (int s = 0; s < 20; s++) {
			double m[6];
			ct_rng_init(&r, 100 + s, s);
			ct_augment_sample(&p, &r, 30 + s, 17, m);
			ident &= memcmp(m, id, sizeof m) == 0 || max_abs_diff6(m, id, 0);
		}
		ok(ident, "all ranges zero (defaults) sample exactly the identity");
	}
	{
		ct_augment_defaults(&p);
		p.rotation = 30;
		int h = 40, w = 25, good = 1;
		for (int s = 0; s < 20; s++) {
			double m[6];
			ct_rng_init(&r, 5, s);
			ct_augment_sample(&p, &r, h, w, m);
			ct_rng_init(&r, 5, s);
			double th = (-30 + 60 * ct_rng_uniform(&r)) * M_PI / 180; /* first draw: theta */
			double cs = cos(th), sn = sin(th), ox = h / 2.0 - 0.5, oy = w / 2.0 - 0.5;
			/* rotation about (ox, oy): in = R (out - o) + o */
			double e[6] = { cs, -sn, ox - cs * ox + sn * oy, sn, cs, oy - sn * ox - cs * oy };
			good &= max_abs_diff6(m, e, 1e-12);
		}
		ok(good, "rotation only: the matrix is the centred rotation by the first uniform, built independently");
	}
	{
		ct_augment_defaults(&p);
		p.rotation = 25, p.width_shift = 0.1, p.height_shift = 0.2, p.shear = 15;
		p.zoom_lo = 0.8, p.zoom_hi = 1.3, p.hflip = 1, p.vflip = 1;
		int h = 50, w = 40, order = 1, keras = 1, inrange = 1, nh = 0, nv = 0, samefn = 1;
		double maxth = 0, maxtx = 0, maxty = 0, maxsh = 0, minz = 9, maxz = 0;
		int N = 2000;
		for (int s = 0; s < N; s++) {
			ct_augment_transform t;
			ct_rng_init(&r, 11, s);
			ct_augment_random(&p, &r, h, w, &t);
			ct_rng q;
			ct_rng_init(&q, 11, s);
			double u[8];
			for (int i = 0; i < 8; i++)
				u[i] = ct_rng_uniform(&q);
			order &= fabs(t.theta - (-25 + 50 * u[0])) < 1e-12 && fabs(t.tx - (-0.2 + 0.4 * u[1]) * h) < 1e-12 &&
				 fabs(t.ty - (-0.1 + 0.2 * u[2]) * w) < 1e-12 && fabs(t.shear - (-15 + 30 * u[3])) < 1e-12 &&
				 fabs(t.zx - (0.8 + 0.5 * u[4])) < 1e-12 && fabs(t.zy - (0.8 + 0.5 * u[5])) < 1e-12 &&
				 t.flip_h == (u[6] < 0.5) && t.flip_v == (u[7] < 0.5);
			inrange &= fabs(t.theta) <= 25 && fabs(t.tx) <= 0.2 * h && fabs(t.ty) <= 0.1 * w &&
				   fabs(t.shear) <= 15 && t.zx >= 0.8 && t.zx <= 1.3 && t.zy >= 0.8 && t.zy <= 1.3;
			maxth = fmax(maxth, fabs(t.theta)), maxtx = fmax(maxtx, fabs(t.tx)), maxty = fmax(maxty, fabs(t.ty));
			maxsh = fmax(maxsh, fabs(t.shear)), minz = fmin(minz, fmin(t.zx, t.zy)), maxz = fmax(maxz, fmax(t.zx, t.zy));
			nh += t.flip_h, nv += t.flip_v;
			double m[6], e[6], m2[6];
			ct_augment_matrix(&t, h, w, m);
			keras_matrix(&t, h, w, e);
			keras &= max_abs_diff6(m, e, 1e-9);
			ct_rng_init(&r, 11, s);
			ct_augment_sample(&p, &r, h, w, m2);
			samefn &= memcmp(m, m2, sizeof m) == 0;
		}
		ok(order, "draw order is theta, tx, ty, shear, zx, zy, flip_h, flip_v, one uniform each");
		ok(inrange, "all %d samples stay within their ranges", N);
		ok(maxth > 24 && maxtx > 0.19 * h && maxty > 0.09 * w && maxsh > 14 && minz < 0.82 && maxz > 1.28,
		   "the samples fill their ranges (max |theta| %.2f, |tx| %.2f, |ty| %.2f, |shear| %.2f, zoom %.3f..%.3f)",
		   maxth, maxtx, maxty, maxsh, minz, maxz);
		ok(nh > N * 0.42 && nh < N * 0.58 && nv > N * 0.42 && nv < N * 0.58,
		   "flips happen about half the time (%d, %d of %d)", nh, nv, N);
		ok(keras, "matrix equals Keras' rotation @ shift @ shear @ zoom, centred, then flips (3x3 reference)");
		ok(samefn, "ct_augment_sample = ct_augment_random + ct_augment_matrix");

		/* enabling one component does not change another's value for the same stream */
		ct_augment_params q = p;
		q.rotation = 0;
		ct_augment_transform t1, t2;
		ct_rng_init(&r, 3, 9);
		ct_augment_random(&p, &r, h, w, &t1);
		ct_rng_init(&r, 3, 9);
		ct_augment_random(&q, &r, h, w, &t2);
		ok(t2.theta == 0 && t1.tx == t2.tx && t1.shear == t2.shear && t1.zy == t2.zy && t1.flip_v == t2.flip_v,
		   "disabling rotation leaves the other draws unchanged");

		double m1[6], m2[6], m3[6];
		ct_rng_init(&r, 1234, 77);
		ct_augment_sample(&p, &r, h, w, m1);
		ct_rng_init(&r, 1234, 77);
		ct_augment_sample(&p, &r, h, w, m2);
		ct_rng_init(&r, 1234, 78);
		ct_augment_sample(&p, &r, h, w, m3);
		ok(memcmp(m1, m2, sizeof m1) == 0, "same seed and stream give the same matrix");
		ok(memcmp(m1, m3, sizeof m1) != 0, "a different stream gives a different matrix");

		ct_augment_params nf = p;
		nf.hflip = nf.vflip = 0;
		int flips = 0;
		for (int s = 0; s < 200; s++) {
			ct_augment_transform t;
			ct_rng_init(&r, 11, s);
			ct_augment_random(&nf, &r, h, w, &t);
			flips += t.flip_h + t.flip_v;
		}
		ok(flips == 0, "disabled flips never happen");
	}

	/* flips folded into the matrix act after the affine, as apply_transform flips its output */
	{
		int h = 12, w = 9;
		ct_tensor a = alloc_img(CT_F32, h, w, 2), b = alloc_img(CT_F32, h, w, 2), c = alloc_img(CT_F32, h, w, 2);
		fill_random(&a, &r);
		ct_augment_transform t = { .zx = 1, .zy = 1, .flip_h = 1 };
		double m[6];
		ct_augment_matrix(&t, h, w, m);
		int good = ct_warp_affine(&a, m, CT_FILL_NEAREST, 0, &b) == 0;
		for (int y = 0; good && y < h; y++)
			for (int x = 0; x < w; x++)
				for (int k = 0; k < 2; k++)
					good &= fat(&b, y, x, k) == fat(&a, y, w - 1 - x, k);
		ok(good, "flip_h alone mirrors the columns exactly");
		t.flip_h = 0, t.flip_v = 1;
		ct_augment_matrix(&t, h, w, m);
		good = ct_warp_affine(&a, m, CT_FILL_NEAREST, 0, &b) == 0;
		for (int y = 0; good && y < h; y++)
			for (int x = 0; x < w; x++)
				for (int k = 0; k < 2; k++)
					good &= fat(&b, y, x, k) == fat(&a, h - 1 - y, x, k);
		ok(good, "flip_v alone mirrors the rows exactly");

		ct_augment_transform rt = { .theta = 30, .tx = 1.5, .zx = 1.1, .zy = 0.9 }, rf = rt;
		rf.flip_h = 1;
		double mr[6], mf[6];
		ct_augment_matrix(&rt, h, w, mr);
		ct_augment_matrix(&rf, h, w, mf);
		good = ct_warp_affine(&a, mr, CT_FILL_REFLECT, 0, &b) == 0 && ct_warp_affine(&a, mf, CT_FILL_REFLECT, 0, &c) == 0;
		double e = 0;
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				for (int k = 0; k < 2; k++)
					e = fmax(e, fabs(fat(&c, y, x, k) - fat(&b, y, w - 1 - x, k)));
		ok(good && e < 1e-5, "rotation+shift+zoom with flip_h = mirror of the unflipped warp (err %.2g)", e);
		ct_tensor_free(&a);
		ct_tensor_free(&b);
		ct_tensor_free(&c);
	}
	TEST_DONE();
}
