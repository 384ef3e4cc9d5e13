/* test_bigimage.c - the row-streaming image path (large images at ~1 byte per pixel) gives
 * exactly what the whole-image computations give: ct_nuisance against the former whole-image
 * implementation kept here as the reference, ct_resize_rows against ct_resize, and
 * ct_intensity_row against ct_intensity_apply; bit for bit, on images of every pixel type. */
#include "image/intensity.h"
#include "image/nuisance.h"
#include "image/resize.h"

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

/* ---- the reference: the whole-image nuisance computation (a float grey copy and a sort) ---- */
static float chan(const ct_tensor *t, int64_t i, int c, int C)
{
	size_t k = (size_t)i * (size_t)C + (size_t)c;
	switch (t->dtype) {
	case CT_U8:
		return ((const uint8_t *)t->data)[k] / 255.0f;
	case CT_U16:
		return ((const uint16_t *)t->data)[k] / 65535.0f;
	default:
		return ((const float *)t->data)[k];
	}
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static int ref_nuisance(const ct_tensor *page, const char *format, int bit_depth, float *out)
{
	if (page->ndim != 3 || page->shape[2] < 1 || page->shape[2] > 4 || !ct_tensor_is_contiguous(page) ||
	    (page->dtype != CT_U8 && page->dtype != CT_U16 && page->dtype != CT_F32))
		return ct_error("nuisance attributes: bad image tensor");
	const int64_t H = page->shape[0], W = page->shape[1], n = H * W;
	const int C = (int)page->shape[2], colour = C >= 3;
	float *g = malloc(((size_t)n + 1) * 2 * sizeof *g);
	if (!g)
		return ct_error("out of memory");
	float *sorted = g + n;
	/* grey (luma), with float data min-max scaled so HU images are comparable */
	double chroma = 0, colour_px = 0;
	for (int64_t i = 0; i < n; i++) {
		float v;
		if (colour) {
			float r = chan(page, i, 0, C), gg = chan(page, i, 1, C), b = chan(page, i, 2, C);
			v = 0.299f * r + 0.587f * gg + 0.114f * b;
			float mx = fmaxf(r, fmaxf(gg, b)), mn = fminf(r, fminf(gg, b));
			chroma += mx - mn;
			colour_px += mx - mn > 0.2f;
		} else {
			v = chan(page, i, 0, C);
		}
		g[i] = isfinite(v) ? v : 0.0f;
	}
	if (page->dtype == CT_F32) {
		float lo = g[0], hi = g[0];
		for (int64_t i = 1; i < n; i++) {
			lo = fminf(lo, g[i]);
			hi = fmaxf(hi, g[i]);
		}
		for (int64_t i = 0; i < n; i++)
			g[i] = hi > lo ? (g[i] - lo) / (hi - lo) : 0.0f;
	}
	int k = 0;
	out[k++] = (float)H;
	out[k++] = (float)W;
	out[k++] = (float)W / (float)H;
	out[k++] = (float)log((double)n);
	out[k++] = format && !strcmp(format, "png");
	out[k++] = format && !strcmp(format, "jpeg");
	out[k++] = format && !strcmp(format, "tiff");
	out[k++] = (float)C;
	out[k++] = C == 2 || C == 4;
	out[k++] = (float)bit_depth;
	out[k++] = (float)(chroma / (double)n);
	double sum = 0, sq = 0, black = 0, white = 0, hist[4] = { 0 };
	for (int64_t i = 0; i < n; i++) {
		sum += g[i];
		sq += (double)g[i] * g[i];
		black += g[i] <= 0.02f;
		white += g[i] >= 0.98f;
		int b = (int)(g[i] * 4.0f);
		hist[b < 0 ? 0 : b > 3 ? 3 : b]++;
	}
	double mean = sum / (double)n;
	out[k++] = (float)mean;
	out[k++] = (float)sqrt(fmax(0.0, sq / (double)n - mean * mean));
	memcpy(sorted, g, (size_t)n * sizeof *g);
	qsort(sorted, (size_t)n, sizeof *sorted, cmp_float);
	static const double q[7] = { 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99 };
	for (int j = 0; j < 7; j++)
		out[k++] = sorted[(int64_t)(q[j] * (double)(n - 1) + 0.5)];
	out[k++] = (float)(black / (double)n);
	out[k++] = (float)(white / (double)n);
	for (int j = 0; j < 4; j++)
		out[k++] = (float)(hist[j] / (double)n);
	/* the outer frame (5% of each side, at least one pixel) */
	int64_t bh = H / 20 > 0 ? H / 20 : 1, bw = W / 20 > 0 ? W / 20 : 1;
	double bs = 0, bq = 0, bn = 0;
	for (int64_t y = 0; y < H; y++)
		for (int64_t x = 0; x < W; x++)
			if (y < bh || y >= H - bh || x < bw || x >= W - bw) {
				double v = g[y * W + x];
				bs += v;
				bq += v * v;
				bn++;
			}
	double bm = bs / bn;
	out[k++] = (float)bm;
	out[k++] = (float)sqrt(fmax(0.0, bq / bn - bm * bm));
	/* uniform margin rows / columns at the edges (figure borders), as a share of the size */
	int64_t mr = 0, mc = 0;
	for (int side = 0; side < 2; side++) {
		for (int64_t t = 0; t < H / 2; t++) {
			int64_t y = side ? H - 1 - t : t;
			float lo = g[y * W], hi = lo;
			for (int64_t x = 1; x < W; x++) {
				lo = fminf(lo, g[y * W + x]);
				hi = fmaxf(hi, g[y * W + x]);
			}
			if (hi - lo > 0.04f)
				break;
			mr++;
		}
		for (int64_t t = 0; t < W / 2; t++) {
			int64_t x = side ? W - 1 - t : t;
			float lo = g[x], hi = lo;
			for (int64_t y = 1; y < H; y++) {
				lo = fminf(lo, g[y * W + x]);
				hi = fmaxf(hi, g[y * W + x]);
			}
			if (hi - lo > 0.04f)
				break;
			mc++;
		}
	}
	out[k++] = (float)mr / (float)H;
	out[k++] = (float)mc / (float)W;
	/* strong edges in the top/bottom and left/right bands (12%): captions, letters, scale bars */
	int64_t th = H * 12 / 100 > 0 ? H * 12 / 100 : 1, tw = W * 12 / 100 > 0 ? W * 12 / 100 : 1;
	double etb = 0, elr = 0, ntb = 0, nlr = 0;
	for (int64_t y = 0; y + 1 < H; y++)
		for (int64_t x = 0; x + 1 < W; x++) {
			float gx = g[y * W + x + 1] - g[y * W + x], gy = g[(y + 1) * W + x] - g[y * W + x];
			int edge = fabsf(gx) + fabsf(gy) > 0.3f;
			if (y < th || y >= H - th) {
				etb += edge;
				ntb++;
			}
			if (x < tw || x >= W - tw) {
				elr += edge;
				nlr++;
			}
		}
	out[k++] = ntb > 0 ? (float)(etb / ntb) : 0.0f;
	out[k++] = nlr > 0 ? (float)(elr / nlr) : 0.0f;
	/* bright pixels whose 5x5 neighbourhood is mostly dark: thin strokes of text and arrows */
	double bright = 0;
	for (int64_t y = 2; y + 2 < H; y++)
		for (int64_t x = 2; x + 2 < W; x++) {
			if (g[y * W + x] < 0.85f)
				continue;
			int dark = 0;
			for (int dy = -2; dy <= 2; dy++)
				for (int dx = -2; dx <= 2; dx++)
					dark += g[(y + dy) * W + x + dx] < 0.3f;
			bright += dark >= 10;
		}
	out[k++] = (float)(bright / (double)n);
	out[k++] = (float)(colour_px / (double)n);
	free(g);
	return 0;
}

/* ---- test images ---- */
static void fill(ct_tensor *t, ct_rng *r, int kind)
{
	int64_t H = t->shape[0], W = t->shape[1], C = t->shape[2];
	for (int64_t y = 0; y < H; y++)
		for (int64_t x = 0; x < W; x++)
			for (int64_t c = 0; c < C; c++) {
				double u = ct_rng_uniform(r);
				/* a uniform frame, a bright disc, thin bright strokes on dark, noise */
				int frame = y < H / 10 || x < W / 12 || y >= H - 3;
				double dx = x - W / 2.0, dy = y - H / 2.0;
				int disc = dx * dx + dy * dy < (double)(H * W) / 16;
				int stroke = (x % 17 == 5 && y % 3 != 0) || (kind == 1 && y % 11 == 2);
				double v = frame ? 0.02 : stroke ? 0.95 : disc ? 0.6 + 0.2 * u : 0.1 + 0.2 * u;
				int64_t i = (y * W + x) * C + c;
				switch (t->dtype) {
				case CT_U8:
					((uint8_t *)t->data)[i] = (uint8_t)(v * 255.0 + (c == 1 && u > 0.7 ? 40 : 0));
					break;
				case CT_U16:
					((uint16_t *)t->data)[i] = (uint16_t)(v * 65535.0);
					break;
				default:
					((float *)t->data)[i] = (float)(kind == 2 ? v * 3000.0 - 1024.0 + u : v);
					break;
				}
			}
}

static void nuisance_cases(void)
{
	static const struct {
		ct_dtype dt;
		int h, w, c, kind;
	} cases[] = {
		{ CT_U8, 97, 131, 1, 0 },  { CT_U8, 64, 40, 1, 1 },  { CT_U8, 50, 77, 3, 1 },
		{ CT_U8, 33, 29, 2, 0 },   { CT_U8, 41, 63, 4, 1 },  { CT_U16, 80, 60, 1, 0 },
		{ CT_U16, 45, 52, 3, 1 },  { CT_F32, 70, 90, 1, 2 }, { CT_F32, 31, 37, 3, 2 },
		{ CT_F32, 20, 25, 1, 0 },  { CT_U8, 4, 3, 1, 0 },    { CT_U8, 1, 1, 1, 0 },
		{ CT_U8, 5, 200, 3, 1 },   { CT_U16, 300, 2, 1, 1 },
	};
	ct_rng r;
	ct_rng_init(&r, 7, 0);
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		ct_tensor t;
		if (ct_tensor_alloc3(&t, cases[k].dt, cases[k].h, cases[k].w, cases[k].c) < 0) {
			ok(0, "allocate");
			continue;
		}
		fill(&t, &r, cases[k].kind);
		float a[CT_NUISANCE_COUNT], b[CT_NUISANCE_COUNT];
		int ra = ct_nuisance(&t, "png", 8, a), rb = ref_nuisance(&t, "png", 8, b);
		int same = ra == 0 && rb == 0 && !memcmp(a, b, sizeof a);
		for (int j = 0; !same && j < CT_NUISANCE_COUNT; j++)
			if (memcmp(&a[j], &b[j], sizeof a[j]))
				diag("%s: %.9g, reference %.9g", ct_nuisance_names[j], a[j], b[j]);
		ok(same, "nuisance of a %dx%dx%d %s image is bit-identical to the whole-image computation",
		   cases[k].h, cases[k].w, cases[k].c, ct_dtype_name(cases[k].dt));
		ct_tensor_free(&t);
	}
	/* float data whose range overflows float: every attribute still finite */
	ct_tensor t;
	ct_tensor_alloc3(&t, CT_F32, 8, 8, 1);
	float *p = t.data;
	for (int i = 0; i < 64; i++)
		p[i] = i % 2 ? 3e38f : -3e38f;
	float a[CT_NUISANCE_COUNT];
	int fin = ct_nuisance(&t, "tiff", 32, a) == 0;
	for (int j = 0; fin && j < CT_NUISANCE_COUNT; j++)
		fin = isfinite(a[j]);
	ok(fin && a[13] == 0.0f && a[19] == 1.0f, "a float range beyond float's gives finite attributes (p01 0, p99 1)");
	ct_tensor_free(&t);
}

/* ---- resize by rows ---- */
typedef struct rows_ctx {
	const ct_tensor *t;
	int64_t last, calls, fail_at;
} rows_ctx;

static int tensor_rows(void *ctx, int64_t y, float *dst)
{
	rows_ctx *c = ctx;
	if (y <= c->last)
		c->last = INT64_MAX; /* out of order or twice: remembered as a failure */
	else
		c->last = y;
	c->calls++;
	if (y == c->fail_at)
		return ct_error("row %lld unreadable", (long long)y);
	int64_t W = c->t->shape[1], C = c->t->shape[2];
	memcpy(dst, (const float *)c->t->data + y * W * C, (size_t)(W * C) * sizeof *dst);
	return 0;
}

static void resize_cases(void)
{
	static const struct {
		int ih, iw, c, oh, ow;
		ct_fit fit;
		ct_filter f;
	} cases[] = {
		{ 300, 257, 3, 32, 29, CT_FIT_STRETCH, CT_FILTER_AREA },
		{ 300, 257, 1, 32, 29, CT_FIT_STRETCH, CT_FILTER_BILINEAR },
		{ 17, 23, 3, 64, 50, CT_FIT_STRETCH, CT_FILTER_BILINEAR },
		{ 17, 23, 3, 64, 50, CT_FIT_STRETCH, CT_FILTER_AREA },
		{ 120, 40, 1, 30, 30, CT_FIT_PAD, CT_FILTER_AREA },
		{ 40, 120, 3, 30, 30, CT_FIT_PAD, CT_FILTER_BILINEAR },
		{ 101, 99, 1, 100, 100, CT_FIT_STRETCH, CT_FILTER_AREA },
		{ 1, 1, 1, 5, 5, CT_FIT_STRETCH, CT_FILTER_BILINEAR },
		{ 999, 3, 1, 7, 7, CT_FIT_STRETCH, CT_FILTER_AREA },
	};
	ct_rng r;
	ct_rng_init(&r, 11, 0);
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		ct_tensor in, a, b;
		ct_tensor_alloc3(&in, CT_F32, cases[k].ih, cases[k].iw, cases[k].c);
		float *p = in.data;
		for (int64_t i = 0; i < ct_tensor_numel(&in); i++)
			p[i] = (float)ct_rng_uniform(&r);
		rows_ctx ctx = { &in, -1, 0, -1 };
		int ra = ct_resize(&in, cases[k].oh, cases[k].ow, cases[k].fit, cases[k].f, 0.25f, &a);
		int rb = ct_resize_rows(cases[k].ih, cases[k].iw, cases[k].c, tensor_rows, &ctx, cases[k].oh, cases[k].ow,
					cases[k].fit, cases[k].f, 0.25f, &b);
		ok(ra == 0 && rb == 0 && !memcmp(a.data, b.data, (size_t)ct_tensor_numel(&a) * sizeof(float)),
		   "resize %dx%d -> %dx%d (%s, %s) by rows is bit-identical to the whole image", cases[k].ih,
		   cases[k].iw, cases[k].oh, cases[k].ow, cases[k].fit == CT_FIT_PAD ? "pad" : "stretch",
		   cases[k].f == CT_FILTER_AREA ? "area" : "bilinear");
		ok(ctx.last != INT64_MAX && ctx.calls <= cases[k].ih, "rows are read in order, each once (%lld reads)",
		   (long long)ctx.calls);
		ct_tensor_free(&a);
		ct_tensor_free(&b);
		ct_tensor_free(&in);
	}
	/* a failing row source fails the resize with its message, and no output */
	ct_tensor in, out;
	ct_tensor_alloc3(&in, CT_F32, 50, 50, 1);
	memset(in.data, 0, 50 * 50 * sizeof(float));
	rows_ctx ctx = { &in, -1, 0, 20 };
	int rc = ct_resize_rows(50, 50, 1, tensor_rows, &ctx, 10, 10, CT_FIT_STRETCH, CT_FILTER_AREA, 0.0f, &out);
	ok(rc < 0 && strstr(ct_last_error(), "row 20 unreadable") && out.data == NULL,
	   "a row source's error ends the resize with its message and no output");
	ct_tensor_free(&in);
}

/* ---- intensity by rows ---- */
static void intensity_cases(void)
{
	ct_rng r;
	ct_rng_init(&r, 5, 0);
	static const struct {
		ct_dtype dt;
		int c, out, mode, nwin;
	} cases[] = {
		{ CT_U8, 1, 3, CT_INTENSITY_AUTO, 0 },	  { CT_U8, 3, 1, CT_INTENSITY_NONE, 0 },
		{ CT_U8, 4, 3, CT_INTENSITY_MINMAX, 0 },  { CT_U16, 2, 1, CT_INTENSITY_AUTO, 0 },
		{ CT_U16, 1, 3, CT_INTENSITY_WINDOW, 3 }, { CT_F32, 1, 3, CT_INTENSITY_WINDOW, 1 },
		{ CT_F32, 3, 3, CT_INTENSITY_AUTO, 0 },
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		ct_tensor in, a;
		ct_tensor_alloc3(&in, cases[k].dt, 37, 41, cases[k].c);
		fill(&in, &r, 2);
		ct_intensity p;
		ct_intensity_defaults(&p);
		p.mode = cases[k].mode;
		p.channels = cases[k].out;
		p.offset = cases[k].dt == CT_U16 ? -1024.0 : 0.0;
		if (cases[k].nwin == 3)
			ct_window_parse("lung:mediastinum:bone", &p);
		ct_intensity_map m;
		int ra = ct_intensity_apply(&in, &p, &a), rb = ct_intensity_prepare(&in, &p, &m);
		float row[41 * 3];
		int same = ra == 0 && rb == 0;
		for (int64_t y = 0; same && y < 37; y++) {
			ct_intensity_row(&m, y, row);
			same = !memcmp(row, (float *)a.data + y * 41 * cases[k].out, 41 * (size_t)cases[k].out * sizeof(float));
		}
		ok(same, "intensity row by row equals the whole image (%s, %d -> %d channels, mode %d)",
		   ct_dtype_name(cases[k].dt), cases[k].c, cases[k].out, cases[k].mode);
		ct_tensor_free(&a);
		ct_tensor_free(&in);
	}
}

int main(void)
{
	nuisance_cases();
	resize_cases();
	intensity_cases();
	TEST_DONE();
}
