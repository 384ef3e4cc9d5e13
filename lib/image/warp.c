/* warp.c - bilinear affine warps with scipy.ndimage fill modes, and Keras ImageDataGenerator random transforms. */
#include "image/warp.h"

#include "core/error.h"

#include <math.h>
#include <string.h>

void ct_augment_defaults(ct_augment_params *p)
{
	memset(p, 0, sizeof *p);
	p->zoom_lo = 1.0;
	p->zoom_hi = 1.0;
	p->fill = CT_FILL_NEAREST; /* ImageDataGenerator's default fill_mode */
	p->cval = 0.0;
}

/* sin and cos of an angle in degrees, converted as np.deg2rad does, except that
 * exact multiples of 90 degrees give exact 0/+-1 (np.cos(pi/2) is 6e-17), so that
 * quarter turns are exact permutations of the pixels. */
static void sincos_deg(double deg, double *s, double *c)
{
	double r = fmod(deg, 360.0);
	if (r < 0)
		r += 360.0;
	if (r == 0.0) {
		*s = 0.0, *c = 1.0;
	} else if (r == 90.0) {
		*s = 1.0, *c = 0.0;
	} else if (r == 180.0) {
		*s = 0.0, *c = -1.0;
	} else if (r == 270.0) {
		*s = -1.0, *c = 0.0;
	} else {
		double rad = deg * (M_PI / 180.0);
		*s = sin(rad);
		*c = cos(rad);
	}
}

void ct_affine_identity(double m[6])
{
	m[0] = 1, m[1] = 0, m[2] = 0;
	m[3] = 0, m[4] = 1, m[5] = 0;
}

void ct_affine_compose(const double a[6], const double b[6], double out[6])
{
	double r[6];
	r[0] = a[0] * b[0] + a[1] * b[3];
	r[1] = a[0] * b[1] + a[1] * b[4];
	r[2] = a[0] * b[2] + a[1] * b[5] + a[2];
	r[3] = a[3] * b[0] + a[4] * b[3];
	r[4] = a[3] * b[1] + a[4] * b[4];
	r[5] = a[3] * b[2] + a[4] * b[5] + a[5];
	memcpy(out, r, sizeof r); /* out may alias a or b */
}

int ct_affine_invert(const double m[6], double out[6])
{
	double det = m[0] * m[4] - m[1] * m[3];
	if (!isfinite(det) || det == 0.0)
		return ct_error("affine: singular matrix (determinant %g)", det);
	double r[6];
	r[0] = m[4] / det;
	r[1] = -m[1] / det;
	r[3] = -m[3] / det;
	r[4] = m[0] / det;
	r[2] = -(r[0] * m[2] + r[1] * m[5]);
	r[5] = -(r[3] * m[2] + r[4] * m[5]);
	memcpy(out, r, sizeof r);
	return 0;
}

/* Keras' transform_matrix_offset_center: offset @ m @ reset with the centre
 * o = (h/2 - 0.5, w/2 - 0.5), i.e. the middle of the pixel grid, so the transform
 * acts about the image centre. Summation order as numpy's dot. */
static void offset_center(const double m[6], int h, int w, double out[6])
{
	double ox = h / 2.0 - 0.5, oy = w / 2.0 - 0.5;
	double t0 = m[2] + ox, t1 = m[5] + oy; /* offset @ m */
	double r[6] = { m[0], m[1], m[0] * -ox + m[1] * -oy + t0,
			m[3], m[4], m[3] * -ox + m[4] * -oy + t1 };
	memcpy(out, r, sizeof r);
}

void ct_affine_rotate(double deg, int h, int w, double m[6])
{
	double s, c;
	sincos_deg(deg, &s, &c);
	double r[6] = { c, -s, 0, s, c, 0 };
	offset_center(r, h, w, m);
}

void ct_augment_random(const ct_augment_params *p, ct_rng *rng, int h, int w, ct_augment_transform *t)
{
	/* Always eight uniforms, in this order, whatever is enabled: a component's value
	 * for a given seed/stream does not change when another is switched on. (Keras skips
	 * the draws of disabled ranges; its numpy stream cannot be reproduced anyway.) */
	double u[8];
	for (int i = 0; i < 8; i++)
		u[i] = ct_rng_uniform(rng);
	memset(t, 0, sizeof *t);
	/* get_random_transform: uniform(-r, r); shifts are fractions of the size, tx of
	 * the height (rows), ty of the width (columns). */
	t->theta = p->rotation != 0 ? -p->rotation + 2.0 * p->rotation * u[0] : 0.0;
	t->tx = p->height_shift != 0 ? (-p->height_shift + 2.0 * p->height_shift * u[1]) * h : 0.0;
	t->ty = p->width_shift != 0 ? (-p->width_shift + 2.0 * p->width_shift * u[2]) * w : 0.0;
	t->shear = p->shear != 0 ? -p->shear + 2.0 * p->shear * u[3] : 0.0;
	if (p->zoom_lo == 1.0 && p->zoom_hi == 1.0) {
		t->zx = t->zy = 1.0;
	} else {
		t->zx = p->zoom_lo + (p->zoom_hi - p->zoom_lo) * u[4];
		t->zy = p->zoom_lo + (p->zoom_hi - p->zoom_lo) * u[5];
	}
	t->flip_h = p->hflip && u[6] < 0.5;
	t->flip_v = p->vflip && u[7] < 0.5;
}

void ct_augment_matrix(const ct_augment_transform *t, int h, int w, double m[6])
{
	/* apply_affine_transform: rotation @ shift @ shear @ zoom in (row, col) order. */
	double s, c, a[6], b[6];
	sincos_deg(t->theta, &s, &c);
	double rot[6] = { c, -s, 0, s, c, 0 };
	double shift[6] = { 1, 0, t->tx, 0, 1, t->ty };
	sincos_deg(t->shear, &s, &c);
	double shear[6] = { 1, -s, 0, 0, c, 0 };
	double zoom[6] = { t->zx, 0, 0, 0, t->zy, 0 };
	ct_affine_compose(rot, shift, a);
	ct_affine_compose(a, shear, b);
	ct_affine_compose(b, zoom, a);
	offset_center(a, h, w, m);
	/* apply_transform flips after the warp: out'(r, c) = out(r, w-1-c), so the flip
	 * map multiplies on the right. */
	if (t->flip_h) {
		double f[6] = { 1, 0, 0, 0, -1, w - 1.0 };
		ct_affine_compose(m, f, m);
	}
	if (t->flip_v) {
		double f[6] = { -1, 0, h - 1.0, 0, 1, 0 };
		ct_affine_compose(m, f, m);
	}
}

void ct_augment_sample(const ct_augment_params *p, ct_rng *rng, int h, int w, double m[6])
{
	ct_augment_transform t;
	ct_augment_random(p, rng, h, w, &t);
	ct_augment_matrix(&t, h, w, m);
}

/* One axis of a bilinear sample: the two source indices and the weight of the
 * second. Returns 0 if the sample is entirely the constant (cval). The extensions
 * are those of scipy.ndimage (>= 1.6) for order=1:
 *   nearest  a a | a b c d | d d   (coordinate clamped to [0, n-1])
 *   constant k k | a b c d | k k   ('constant': no interpolation beyond the edge;
 *                                   any coordinate outside [0, n-1] gives cval)
 *   reflect  b a | a b c d | d c   (half-sample symmetric, period 2n)
 *   wrap     c d | a b c d | a b   (periodic with period n: scipy's 'grid-wrap';
 *                                   scipy's 'wrap' uses period n-1 for order=1) */
static inline int axis_sample(double x, int64_t n, ct_fill fill, int64_t *i0, int64_t *i1, double *f)
{
	if (fill == CT_FILL_CONSTANT) {
		if (!(x >= 0.0 && x <= (double)(n - 1)))
			return 0;
	} else if (fill == CT_FILL_NEAREST) {
		x = x < 0.0 ? 0.0 : x > (double)(n - 1) ? (double)(n - 1) : x;
	} else {
		/* reduce modulo the period first: fmod is exact, so integer coordinates stay integers */
		double per = fill == CT_FILL_REFLECT ? 2.0 * (double)n : (double)n;
		x = fmod(x, per);
		if (x < 0.0)
			x += per;
		if (x >= per) /* -tiny + per rounded up to per */
			x = 0.0;
	}
	double fl = floor(x);
	int64_t a = (int64_t)fl, b = a + 1;
	*f = x - fl;
	if (fill == CT_FILL_REFLECT) {
		int64_t p2 = 2 * n;
		b = b % p2;
		a = a >= n ? p2 - 1 - a : a;
		b = b >= n ? p2 - 1 - b : b;
	} else if (fill == CT_FILL_WRAP) {
		b = b % n;
	} else if (b > n - 1) { /* x == n-1: the second tap has weight 0 */
		b = n - 1;
	}
	*i0 = a;
	*i1 = b;
	return 1;
}

static inline double lerp(double a, double b, double f)
{
	/* f == 0 must give a exactly (identity and integer shifts are exact). */
	return f == 0.0 ? a : (1.0 - f) * a + f * b;
}

int ct_warp_affine(const ct_tensor *in, const double m[6], ct_fill fill, double cval, ct_tensor *out)
{
	if (in->ndim != 3 || out->ndim != 3)
		return ct_error("warp: expected h x w x c images");
	if (in->dtype != CT_U8 && in->dtype != CT_F32)
		return ct_error("warp: unsupported pixel type '%s' (uint8 or float32)", ct_dtype_name(in->dtype));
	if (out->dtype != in->dtype)
		return ct_error("warp: output type '%s' differs from input type '%s'", ct_dtype_name(out->dtype),
				ct_dtype_name(in->dtype));
	for (int i = 0; i < 3; i++)
		if (out->shape[i] != in->shape[i])
			return ct_error("warp: output shape differs from input shape");
	if (fill < CT_FILL_NEAREST || fill > CT_FILL_WRAP)
		return ct_error("warp: unknown fill mode %d", (int)fill);
	for (int i = 0; i < 6; i++)
		if (!isfinite(m[i]))
			return ct_error("warp: non-finite matrix entry");
	if (in->data == out->data && in->shape[0] * in->shape[1] * in->shape[2] > 0)
		return ct_error("warp: output must not alias the input");
	int64_t h = in->shape[0], w = in->shape[1], C = in->shape[2];
	if (h < 1 || w < 1)
		return 0;
	const char *ib = (const char *)in->data;
	char *ob = (char *)out->data;
	int64_t isy = in->stride[0], isx = in->stride[1], isc = in->stride[2];
	int64_t osy = out->stride[0], osx = out->stride[1], osc = out->stride[2];
	int u8 = in->dtype == CT_U8;

	for (int64_t r = 0; r < h; r++) {
		for (int64_t c = 0; c < w; c++) {
			/* scipy.ndimage.affine_transform: input position = m * (r, c, 1) */
			double yr = m[0] * (double)r + m[1] * (double)c + m[2];
			double xc = m[3] * (double)r + m[4] * (double)c + m[5];
			int64_t y0, y1, x0, x1;
			double fy, fx;
			int inside = axis_sample(yr, h, fill, &y0, &y1, &fy) && axis_sample(xc, w, fill, &x0, &x1, &fx);
			char *op = ob + r * osy + c * osx;
			const char *p00 = NULL, *p01 = NULL, *p10 = NULL, *p11 = NULL;
			if (inside) {
				p00 = ib + y0 * isy + x0 * isx;
				p01 = ib + y0 * isy + x1 * isx;
				p10 = ib + y1 * isy + x0 * isx;
				p11 = ib + y1 * isy + x1 * isx;
			}
			for (int64_t k = 0; k < C; k++) {
				double v;
				if (!inside) {
					v = cval;
				} else if (u8) {
					int64_t o = k * isc;
					v = lerp(lerp(*(const uint8_t *)(p00 + o), *(const uint8_t *)(p01 + o), fx),
						 lerp(*(const uint8_t *)(p10 + o), *(const uint8_t *)(p11 + o), fx), fy);
				} else {
					int64_t o = k * isc;
					v = lerp(lerp(*(const float *)(p00 + o), *(const float *)(p01 + o), fx),
						 lerp(*(const float *)(p10 + o), *(const float *)(p11 + o), fx), fy);
				}
				if (u8) {
					/* clamp, then round half up */
					v = v > 0.0 ? v : 0.0; /* also maps NaN to 0 */
					v = v < 255.0 ? v : 255.0;
					*(uint8_t *)(op + k * osc) = (uint8_t)(v + 0.5);
				} else {
					*(float *)(op + k * osc) = (float)v;
				}
			}
		}
	}
	return 0;
}
