/* lungpool.c - pooling over the lung field (lungpool.h). */
#include "data/lungpool.h"

#include <stdlib.h>
#include <string.h>

/* Overlap of pixel p's extent [p, p + 1) with cell i's extent [i n / m, (i + 1) n / m), both in
 * pixel units of an axis of n pixels and m cells, as a share of the cell's length n / m. */
static double overlap(int64_t p, int i, int64_t n, int m)
{
	double a = (double)i * (double)n / m, b = (double)(i + 1) * (double)n / m;
	double lo = a > (double)p ? a : (double)p, hi = b < (double)(p + 1) ? b : (double)(p + 1);
	return hi > lo ? (hi - lo) * m / (double)n : 0.0;
}

double ct_lung_weights(const uint8_t *mask, int64_t H, int64_t W, int h, int w, double *wt)
{
	double total = 0;
	for (int i = 0; i < h; i++) {
		int64_t y0 = (int64_t)((double)i * H / h), y1 = (int64_t)((double)(i + 1) * H / h) + 1;
		if (y1 > H)
			y1 = H;
		for (int j = 0; j < w; j++) {
			int64_t x0 = (int64_t)((double)j * W / w), x1 = (int64_t)((double)(j + 1) * W / w) + 1;
			if (x1 > W)
				x1 = W;
			double s = 0;
			for (int64_t y = y0; y < y1; y++) {
				double oy = overlap(y, i, H, h);
				if (oy <= 0)
					continue;
				const uint8_t *row = mask + y * W;
				double r = 0;
				for (int64_t x = x0; x < x1; x++)
					if (row[x])
						r += overlap(x, j, W, w);
				s += oy * r;
			}
			wt[(int64_t)i * w + j] = s;
			total += s;
		}
	}
	return total;
}

int64_t ct_lung_argmax(const float *act, int64_t hw, int c, int k, const double *wt)
{
	int any = 0;
	for (int64_t s = 0; wt && s < hw && !any; s++)
		any = wt[s] > 0;
	int64_t at = -1;
	float m = 0;
	for (int64_t s = 0; s < hw; s++) {
		if (any && !(wt[s] > 0))
			continue;
		float v = act[s * c + k];
		if (at < 0 || v > m) {
			m = v;
			at = s;
		}
	}
	return at;
}

int ct_lung_pool(int is_max, const float *act, int64_t hw, int c, const double *wt, float *out)
{
	double tot = 0;
	for (int64_t s = 0; wt && s < hw; s++)
		tot += wt[s] > 0 ? wt[s] : 0;
	int whole = !(tot > 0);
	for (int k = 0; k < c; k++) {
		if (is_max) {
			out[k] = act[ct_lung_argmax(act, hw, c, k, whole ? NULL : wt) * c + k];
		} else {
			double s = 0;
			for (int64_t q = 0; q < hw; q++)
				s += whole ? (double)act[q * c + k] : (wt[q] > 0 ? wt[q] * act[q * c + k] : 0.0);
			out[k] = (float)(s / (whole ? (double)hw : tot));
		}
	}
	return whole;
}

int ct_pool_is_lung(const char *pool)
{
	return pool && !strncmp(pool, "lung-", 5);
}
