/* nuisance.c - source attributes of an image (nuisance.h). */
#include "image/nuisance.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const ct_nuisance_names[CT_NUISANCE_COUNT] = {
	/* size */
	"orig_height", "orig_width", "aspect", "log_pixels",
	/* format */
	"is_png", "is_jpeg", "is_tiff", "channels", "has_alpha", "bit_depth", "chroma",
	/* intensity (grey in [0,1]) */
	"mean", "std", "p01", "p05", "p25", "p50", "p75", "p95", "p99", "black_share", "white_share", "hist_0",
	"hist_1", "hist_2", "hist_3",
	/* borders and text-like content */
	"border_mean", "border_std", "margin_rows", "margin_cols", "edge_top_bottom", "edge_left_right",
	"bright_small_share", "colour_share",
};

const int ct_nuisance_group[CT_NUISANCE_COUNT] = {
	0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
};

const char *const ct_nuisance_group_names[CT_NUI_NGROUPS] = { "size", "format", "intensity", "border_text" };

/* Channel c of pixel i scaled to [0,1]. */
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

/* Grey (luma) of row y into g[0..W); colour images also add to the chroma sums. Float data
 * is min-max scaled by [lo, hi] when scale is set, so HU images are comparable. */
typedef struct grey_src {
	const ct_tensor *t;
	int64_t W;
	int C, colour, scale;
	float lo, hi;
	float lut[256]; /* v / 255.0f */
} grey_src;

static void grey_row(const grey_src *s, int64_t y, float *g, double *chroma, double *colour_px)
{
	const int C = s->C;
	if (s->t->dtype == CT_U8 && !s->colour) { /* the common case: a table of v / 255.0f */
		const uint8_t *p = (const uint8_t *)s->t->data + (size_t)y * (size_t)s->W * (size_t)C;
		for (int64_t x = 0; x < s->W; x++)
			g[x] = s->lut[p[(size_t)x * C]];
		return;
	}
	for (int64_t x = 0; x < s->W; x++) {
		int64_t i = y * s->W + x;
		float v;
		if (s->colour) {
			float r = chan(s->t, i, 0, C), gg = chan(s->t, i, 1, C), b = chan(s->t, i, 2, C);
			v = 0.299f * r + 0.587f * gg + 0.114f * b;
			if (chroma) {
				float mx = fmaxf(r, fmaxf(gg, b)), mn = fminf(r, fminf(gg, b));
				*chroma += mx - mn;
				*colour_px += mx - mn > 0.2f;
			}
		} else {
			v = chan(s->t, i, 0, C);
		}
		g[x] = isfinite(v) ? v : 0.0f;
	}
	if (!s->scale)
		return;
	float lo = s->lo, hi = s->hi;
	for (int64_t x = 0; x < s->W; x++) {
		float v = hi > lo ? (g[x] - lo) / (hi - lo) : 0.0f;
		if (!isfinite(v)) /* hi - lo overflowed float: redo in double */
			v = (float)(((double)g[x] - lo) / ((double)hi - lo));
		g[x] = v;
	}
}

/* fminf/fmaxf without the library call: pass B's values are finite and never -0 (see
 * grey_row), where these agree with fminf/fmaxf. */
static inline float min_f(float a, float b)
{
	return b < a ? b : a;
}

static inline float max_f(float a, float b)
{
	return b > a ? b : a;
}

/* A float's order as an unsigned key (negative values below positive ones). */
static uint32_t float_key(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u & 0x80000000u ? ~u : u | 0x80000000u;
}

static float key_float(uint32_t k)
{
	uint32_t u = k & 0x80000000u ? k & 0x7fffffffu : ~k;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* The attributes are computed in one streaming pass over rows of grey values (plus one for
 * the min-max of float data, and one to finish the quantiles), so the memory is a few rows
 * and O(H + W), not a float copy of the image; every sum is taken in the same order as over
 * a whole grey image, and the quantiles are exact order statistics (a two-level histogram of
 * the values' bits, not a sort), so the results are those of the whole-image computation. */
int ct_nuisance(const ct_tensor *page, const char *format, int bit_depth, float *out)
{
	if (page->ndim != 3 || page->shape[2] < 1 || page->shape[2] > 4 || !ct_tensor_is_contiguous(page) ||
	    (page->dtype != CT_U8 && page->dtype != CT_U16 && page->dtype != CT_F32))
		return ct_error("nuisance attributes: bad image tensor");
	const int64_t H = page->shape[0], W = page->shape[1], n = H * W;
	const int C = (int)page->shape[2], colour = C >= 3;
	if (H < 1 || W < 1)
		return ct_error("nuisance attributes: empty image");
	grey_src src = { page, W, C, colour, 0, 0.0f, 0.0f, { 0 } };
	for (int v = 0; v < 256; v++)
		src.lut[v] = v / 255.0f;
	/* ring of 5 grey rows (the 5 x 5 window), row and column ranges, quantile histograms */
	float *ring = malloc((size_t)W * 5 * sizeof *ring);
	float *rowlo = malloc((size_t)H * 2 * sizeof *rowlo), *rowhi = rowlo ? rowlo + H : NULL;
	float *collo = malloc((size_t)W * 2 * sizeof *collo), *colhi = collo ? collo + W : NULL;
	int64_t *hist1 = calloc(65536, sizeof *hist1), *hist2 = NULL;
	if (!ring || !rowlo || !collo || !hist1) {
		free(ring);
		free(rowlo);
		free(collo);
		free(hist1);
		return ct_error("out of memory");
	}
	if (page->dtype == CT_F32) {
		float lo = 0.0f, hi = 0.0f;
		for (int64_t y = 0; y < H; y++) {
			grey_row(&src, y, ring, NULL, NULL);
			for (int64_t x = 0; x < W; x++) {
				if (y == 0 && x == 0) {
					lo = hi = ring[0];
					continue;
				}
				lo = fminf(lo, ring[x]);
				hi = fmaxf(hi, ring[x]);
			}
		}
		src.scale = 1;
		src.lo = lo;
		src.hi = hi;
	}
	double chroma = 0, colour_px = 0;
	double sum = 0, sq = 0, black = 0, white = 0, hist[4] = { 0 };
	int64_t bh = H / 20 > 0 ? H / 20 : 1, bw = W / 20 > 0 ? W / 20 : 1;
	double bs = 0, bq = 0, bn = 0;
	int64_t th = H * 12 / 100 > 0 ? H * 12 / 100 : 1, tw = W * 12 / 100 > 0 ? W * 12 / 100 : 1;
	double etb = 0, elr = 0, ntb = 0, nlr = 0;
	double bright = 0;
#define ROW(y) (ring + (size_t)((y) % 5) * (size_t)W)
	for (int64_t y = 0; y < H; y++) {
		float *g = ROW(y);
		grey_row(&src, y, g, &chroma, &colour_px);
		for (int64_t x = 0; x < W; x++) {
			sum += g[x];
			sq += (double)g[x] * g[x];
			black += g[x] <= 0.02f;
			white += g[x] >= 0.98f;
			int b = (int)(g[x] * 4.0f);
			hist[b < 0 ? 0 : b > 3 ? 3 : b]++;
			hist1[float_key(g[x]) >> 16]++;
		}
		/* the outer frame (5% of each side, at least one pixel) */
		for (int64_t x = 0; x < W; x++)
			if (y < bh || y >= H - bh || x < bw || x >= W - bw) {
				double v = g[x];
				bs += v;
				bq += v * v;
				bn++;
			}
		float lo = g[0], hi = lo;
		for (int64_t x = 1; x < W; x++) {
			lo = min_f(lo, g[x]);
			hi = max_f(hi, g[x]);
		}
		rowlo[y] = lo;
		rowhi[y] = hi;
		if (y == 0) {
			memcpy(collo, g, (size_t)W * sizeof *g);
			memcpy(colhi, g, (size_t)W * sizeof *g);
		} else {
			for (int64_t x = 0; x < W; x++) {
				collo[x] = min_f(collo[x], g[x]);
				colhi[x] = max_f(colhi[x], g[x]);
			}
		}
		/* strong edges of row y - 1 (needs row y) in the top/bottom and left/right bands
		 * (12%): captions, letters, scale bars */
		if (y >= 1) {
			int64_t e = y - 1;
			const float *r0 = ROW(e), *r1 = g;
			for (int64_t x = 0; x + 1 < W; x++) {
				float gx = r0[x + 1] - r0[x], gy = r1[x] - r0[x];
				int edge = fabsf(gx) + fabsf(gy) > 0.3f;
				if (e < th || e >= H - th) {
					etb += edge;
					ntb++;
				}
				if (x < tw || x >= W - tw) {
					elr += edge;
					nlr++;
				}
			}
		}
		/* bright pixels of row y - 2 whose 5x5 neighbourhood is mostly dark: thin strokes
		 * of text and arrows */
		if (y >= 4) {
			int64_t c = y - 2;
			const float *mid = ROW(c);
			for (int64_t x = 2; x + 2 < W; x++) {
				if (mid[x] < 0.85f)
					continue;
				int dark = 0;
				for (int dy = -2; dy <= 2; dy++) {
					const float *r = ROW(c + dy);
					for (int dx = -2; dx <= 2; dx++)
						dark += r[x + dx] < 0.3f;
				}
				bright += dark >= 10;
			}
		}
	}
#undef ROW
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
	double mean = sum / (double)n;
	out[k++] = (float)mean;
	out[k++] = (float)sqrt(fmax(0.0, sq / (double)n - mean * mean));
	/* quantiles: the value of rank (n - 1) q, rounded, in sorted order. The high 16 bits of
	 * its key come from hist1; one more pass counts the low 16 bits of the values in the
	 * chosen bins (at most 7). */
	static const double q[7] = { 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99 };
	int64_t rank[7];
	int bin[7], slot[7], nslots = 0;
	for (int j = 0; j < 7; j++) {
		int64_t r = (int64_t)(q[j] * (double)(n - 1) + 0.5), cum = 0;
		int b = 0;
		while (cum + hist1[b] <= r)
			cum += hist1[b++];
		rank[j] = r - cum;
		bin[j] = b;
		slot[j] = -1;
		for (int i = 0; i < j; i++)
			if (bin[i] == b)
				slot[j] = slot[i];
		if (slot[j] < 0)
			slot[j] = nslots++;
	}
	int rc = 0;
	hist2 = calloc((size_t)nslots * 65536, sizeof *hist2);
	if (!hist2) {
		rc = ct_error("out of memory");
		goto out;
	}
	/* hist1 becomes the slot of each chosen bin (+1), 0 elsewhere */
	memset(hist1, 0, 65536 * sizeof *hist1);
	for (int j = 0; j < 7; j++)
		hist1[bin[j]] = slot[j] + 1;
	for (int64_t y = 0; y < H; y++) {
		grey_row(&src, y, ring, NULL, NULL);
		for (int64_t x = 0; x < W; x++) {
			uint32_t key = float_key(ring[x]);
			int64_t s = hist1[key >> 16];
			if (s)
				hist2[(size_t)(s - 1) * 65536 + (key & 0xffffu)]++;
		}
	}
	for (int j = 0; j < 7; j++) {
		const int64_t *h2 = hist2 + (size_t)slot[j] * 65536;
		int64_t cum = 0;
		int b = 0;
		while (cum + h2[b] <= rank[j])
			cum += h2[b++];
		out[k++] = key_float(((uint32_t)bin[j] << 16) | (uint32_t)b);
	}
	out[k++] = (float)(black / (double)n);
	out[k++] = (float)(white / (double)n);
	for (int j = 0; j < 4; j++)
		out[k++] = (float)(hist[j] / (double)n);
	double bm = bs / bn;
	out[k++] = (float)bm;
	out[k++] = (float)sqrt(fmax(0.0, bq / bn - bm * bm));
	/* uniform margin rows / columns at the edges (figure borders), as a share of the size */
	int64_t mr = 0, mc = 0;
	for (int side = 0; side < 2; side++) {
		for (int64_t t = 0; t < H / 2; t++) {
			int64_t y = side ? H - 1 - t : t;
			if (rowhi[y] - rowlo[y] > 0.04f)
				break;
			mr++;
		}
		for (int64_t t = 0; t < W / 2; t++) {
			int64_t x = side ? W - 1 - t : t;
			if (colhi[x] - collo[x] > 0.04f)
				break;
			mc++;
		}
	}
	out[k++] = (float)mr / (float)H;
	out[k++] = (float)mc / (float)W;
	out[k++] = ntb > 0 ? (float)(etb / ntb) : 0.0f;
	out[k++] = nlr > 0 ? (float)(elr / nlr) : 0.0f;
	out[k++] = (float)(bright / (double)n);
	out[k++] = (float)(colour_px / (double)n);
out:
	free(ring);
	free(rowlo);
	free(collo);
	free(hist1);
	free(hist2);
	return rc;
}
