/* intensity.c - decoded pixel values to float32 in [0, 1]: HU window, min-max, plain scaling, alpha and channel conversion. */
#include "image/intensity.h"

#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	double level, width;
} presets[] = {
	{ "lung", -600.0, 1500.0 },
	{ "mediastinum", 40.0, 400.0 },
	{ "bone", 400.0, 1800.0 },
	{ "brain", 40.0, 80.0 },
	{ "abdomen", 40.0, 350.0 },
};

int ct_window_preset(const char *name, double *level, double *width)
{
	for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
		if (!strcmp(presets[i].name, name)) {
			*level = presets[i].level;
			*width = presets[i].width;
			return 0;
		}
	return -1;
}

static int parse_one(const char *s, size_t n, double *level, double *width)
{
	char buf[64];
	if (n == 0 || n >= sizeof buf)
		return ct_error("bad window '%.*s' (expected a name or LEVEL,WIDTH)", (int)n, s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (ct_window_preset(buf, level, width) == 0)
		return 0;
	char *e1, *e2;
	*level = strtod(buf, &e1);
	if (e1 == buf || *e1 != ',')
		return ct_error("bad window '%s' (expected lung, mediastinum, bone, brain, abdomen or LEVEL,WIDTH)", buf);
	*width = strtod(e1 + 1, &e2);
	if (e2 == e1 + 1 || *e2 || !isfinite(*level) || !isfinite(*width))
		return ct_error("bad window '%s' (expected LEVEL,WIDTH)", buf);
	if (!(*width > 0))
		return ct_error("bad window '%s': the width must be positive", buf);
	return 0;
}

int ct_window_parse(const char *spec, ct_intensity *p)
{
	double lv[3], wd[3];
	int n = 0;
	const char *s = spec;
	for (;;) {
		const char *c = strchr(s, ':');
		size_t len = c ? (size_t)(c - s) : strlen(s);
		if (n == 3)
			return ct_error("bad window '%s': one window or three (for R, G, B)", spec);
		if (parse_one(s, len, &lv[n], &wd[n]) < 0)
			return -1;
		n++;
		if (!c)
			break;
		s = c + 1;
	}
	if (n == 2)
		return ct_error("bad window '%s': one window or three (for R, G, B)", spec);
	p->level = lv[0];
	p->width = wd[0];
	p->nwin = n;
	for (int k = 0; k < n; k++) {
		p->wlevel[k] = lv[k];
		p->wwidth[k] = wd[k];
	}
	return 0;
}

void ct_intensity_defaults(ct_intensity *p)
{
	memset(p, 0, sizeof *p);
	p->mode = CT_INTENSITY_AUTO;
	/* The lung window (level -600 HU, width 1500 HU), used only when mode is window. */
	p->level = -600.0;
	p->width = 1500.0;
	p->slope = 1.0;
	p->offset = 0.0;
	p->channels = 3;
}

static inline double load(const ct_tensor *t, int64_t y, int64_t x, int64_t c)
{
	const char *p = (const char *)t->data + y * t->stride[0] + x * t->stride[1] + c * t->stride[2];
	switch (t->dtype) {
	case CT_U8:
		return *(const uint8_t *)p;
	case CT_U16:
		return *(const uint16_t *)p;
	default:
		return *(const float *)p;
	}
}

static inline double clamp01(double v)
{
	return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
}

/* One colour value to [0, 1]; k0, k1 are the window bottom and width, the minimum and
 * range, or 0 and the type's full scale. */
static inline double normalise(double r, ct_intensity_mode mode, const ct_intensity *p, double k0, double k1)
{
	if (mode == CT_INTENSITY_WINDOW)
		r = r * p->slope + p->offset; /* stored value -> Hounsfield units (DICOM rescale) */
	if (k1 == 0.0)
		return 0.0;
	return clamp01((r - k0) / k1);
}

int ct_intensity_prepare(const ct_tensor *in, const ct_intensity *p, ct_intensity_map *m)
{
	memset(m, 0, sizeof *m);
	if (in->ndim != 3)
		return ct_error("intensity: expected an h x w x c image, got %d dimensions", in->ndim);
	if (in->dtype != CT_U8 && in->dtype != CT_U16 && in->dtype != CT_F32)
		return ct_error("intensity: unsupported pixel type '%s'", ct_dtype_name(in->dtype));
	int64_t h = in->shape[0], w = in->shape[1], c = in->shape[2];
	if (h < 1 || w < 1)
		return ct_error("intensity: empty image (%lld x %lld)", (long long)h, (long long)w);
	if (c < 1 || c > 4)
		return ct_error("intensity: unsupported channel count %lld (expected 1 to 4)", (long long)c);
	if (p->channels != 1 && p->channels != 3)
		return ct_error("intensity: output channels must be 1 or 3, not %d", p->channels);

	ct_intensity_mode mode = p->mode;
	if (mode == CT_INTENSITY_AUTO)
		mode = in->dtype == CT_U8 ? CT_INTENSITY_NONE : CT_INTENSITY_MINMAX;
	if (mode != CT_INTENSITY_WINDOW && mode != CT_INTENSITY_MINMAX && mode != CT_INTENSITY_NONE)
		return ct_error("intensity: unknown mode %d", (int)p->mode);
	if (mode == CT_INTENSITY_WINDOW) {
		if (!isfinite(p->level) || !isfinite(p->width) || !(p->width > 0))
			return ct_error("intensity: window needs a finite level and a width > 0 (got %g/%g)",
					p->level, p->width);
		if (!isfinite(p->slope) || !isfinite(p->offset))
			return ct_error("intensity: slope and offset must be finite");
	}

	/* grey (1), grey+alpha (2), RGB (3), RGBA (4) */
	int ncol = (c == 2 || c == 4) ? (int)c - 1 : (int)c;
	int alpha = ncol != (int)c;
	int multi = mode == CT_INTENSITY_WINDOW && p->nwin == 3;
	if (multi) {
		if (ncol != 1)
			return ct_error("intensity: three windows need a grey image (this one has %d colour channels)", ncol);
		if (p->channels != 3)
			return ct_error("intensity: three windows give three channels, not %d", p->channels);
		for (int k = 0; k < 3; k++)
			if (!isfinite(p->wlevel[k]) || !(p->wwidth[k] > 0) || !isfinite(p->wwidth[k]))
				return ct_error("intensity: window %d needs a finite level and a width > 0", k + 1);
	}

	/* Refuse NaN/Inf before doing anything: they would poison min/max and the output. */
	if (in->dtype == CT_F32) {
		for (int64_t y = 0; y < h; y++)
			for (int64_t x = 0; x < w; x++)
				for (int64_t k = 0; k < c; k++)
					if (!isfinite(load(in, y, x, k)))
						return ct_error("intensity: non-finite value at (%lld, %lld, %lld)",
								(long long)y, (long long)x, (long long)k);
	}

	/* The constants of the per-value map; see normalise(). */
	double k0 = 0.0, k1 = 1.0;
	switch (mode) {
	case CT_INTENSITY_WINDOW:
		k0 = p->level - p->width / 2.0; /* window bottom */
		k1 = p->width;
		break;
	case CT_INTENSITY_MINMAX: {
		/* over all colour channels (not alpha), so the colour balance is kept */
		double mn = INFINITY, mx = -INFINITY;
		for (int64_t y = 0; y < h; y++)
			for (int64_t x = 0; x < w; x++)
				for (int k = 0; k < ncol; k++) {
					double v = load(in, y, x, k);
					mn = v < mn ? v : mn;
					mx = v > mx ? v : mx;
				}
		k0 = mn;
		k1 = mx - mn; /* 0 for a flat image: every value maps to 0 */
		break;
	}
	default: /* none */
		k1 = in->dtype == CT_U8 ? 255.0 : in->dtype == CT_U16 ? 65535.0 : 1.0;
		break;
	}
	double amax = in->dtype == CT_U8 ? 255.0 : in->dtype == CT_U16 ? 65535.0 : 1.0;

	m->in = in;
	m->p = *p;
	m->mode = mode;
	m->k0 = k0;
	m->k1 = k1;
	m->amax = amax;
	m->ncol = ncol;
	m->alpha = alpha;
	m->multi = multi;
	return 0;
}

void ct_intensity_row(const ct_intensity_map *m, int64_t y, float *o)
{
	const ct_tensor *in = m->in;
	const ct_intensity *p = &m->p;
	const int64_t w = in->shape[1];
	const int ncol = m->ncol, alpha = m->alpha, multi = m->multi;
	const ct_intensity_mode mode = m->mode;
	const double k0 = m->k0, k1 = m->k1, amax = m->amax;
	for (int64_t x = 0; x < w; x++) {
		double v[3];
		for (int k = 0; k < ncol; k++) {
			double r = load(in, y, x, k);
			v[k] = normalise(r, mode, p, k0, k1);
		}
		/* Composite over black: black is 0 in the output range, whatever the mode. */
		if (alpha) {
			double a = clamp01(load(in, y, x, ncol) / amax);
			for (int k = 0; k < ncol; k++)
				v[k] *= a;
		}
		float *dst = o + x * p->channels;
		if (multi) { /* one grey value through three windows */
			double hu = load(in, y, x, 0) * p->slope + p->offset;
			double a = alpha ? clamp01(load(in, y, x, 1) / amax) : 1.0;
			for (int k = 0; k < 3; k++)
				dst[k] = (float)(a * clamp01((hu - (p->wlevel[k] - p->wwidth[k] / 2.0)) / p->wwidth[k]));
		} else if (p->channels == ncol) {
			for (int k = 0; k < ncol; k++)
				dst[k] = (float)v[k];
		} else if (p->channels == 3) { /* grey -> 3: replicate */
			dst[0] = dst[1] = dst[2] = (float)v[0];
		} else { /* RGB -> 1: ITU-R BT.601 luma, as PIL's convert('L') */
			dst[0] = (float)clamp01(0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]);
		}
	}
}

int ct_intensity_apply(const ct_tensor *in, const ct_intensity *p, ct_tensor *out)
{
	ct_intensity_map m;
	if (ct_intensity_prepare(in, p, &m) < 0)
		return -1;
	int64_t h = in->shape[0], w = in->shape[1];
	if (ct_tensor_alloc3(out, CT_F32, h, w, p->channels) < 0)
		return ct_error_prefix("intensity");
	float *o = (float *)out->data;
	for (int64_t y = 0; y < h; y++)
		ct_intensity_row(&m, y, o + y * w * p->channels);
	return 0;
}
