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

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

int ct_nuisance(const ct_tensor *page, const char *format, int bit_depth, float *out)
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
