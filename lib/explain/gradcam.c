/* gradcam.c - Grad-CAM maps of pooled activations, their upsampling and lung-field share. */
#include "explain/gradcam.h"
#include "data/lungpool.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ct_gradcam_map(const float *act, int h, int w, int c, ct_pool pool, const double *grad, float *heat)
{
	ct_gradcam_map_lung(act, h, w, c, pool, grad, NULL, heat);
}

void ct_gradcam_map_lung(const float *act, int h, int w, int c, ct_pool pool, const double *grad, const double *wt,
			 float *heat)
{
	int64_t hw = (int64_t)h * w;
	double wsum = 0;
	for (int64_t s = 0; wt && pool != CT_POOL_NONE && s < hw; s++)
		wsum += wt[s] > 0 ? wt[s] : 0;
	if (!(wsum > 0))
		wt = NULL; /* an empty lung field: pooled over the whole map */
	if (pool == CT_POOL_MAX) {
		double *acc = calloc((size_t)hw + 1, sizeof *acc);
		if (!acc) { /* callers reserve memory; fall back to no heat rather than crash */
			memset(heat, 0, (size_t)hw * sizeof *heat);
			return;
		}
		for (int k = 0; k < c; k++) {
			/* The location ct_op_gpool takes its maximum from: the first strict maximum (among
			 * the lung field's cells with weights, as ct_lung_pool takes it). */
			int64_t at = 0;
			float m = act[k];
			if (wt) {
				at = ct_lung_argmax(act, hw, c, k, wt);
				m = act[at * c + k];
			} else {
				for (int64_t s = 1; s < hw; s++)
					if (act[s * c + k] > m) {
						m = act[s * c + k];
						at = s;
					}
			}
			acc[at] += grad[k] * (double)m;
		}
		for (int64_t s = 0; s < hw; s++)
			heat[s] = acc[s] > 0 ? (float)acc[s] : 0.0f;
		free(acc);
		return;
	}
	double *alpha = malloc(((size_t)c + 1) * sizeof *alpha);
	if (!alpha) {
		memset(heat, 0, (size_t)hw * sizeof *heat);
		return;
	}
	for (int k = 0; k < c; k++) {
		if (pool == CT_POOL_AVG) {
			alpha[k] = grad[k] / (wt ? wsum : (double)hw);
		} else {
			double s = 0;
			for (int64_t q = 0; q < hw; q++)
				s += grad[q * c + k];
			alpha[k] = s / (double)hw;
		}
	}
	for (int64_t s = 0; s < hw; s++) {
		const float *a = act + s * c;
		double v = 0;
		for (int k = 0; k < c; k++)
			v += alpha[k] * a[k];
		if (wt)
			v = wt[s] > 0 ? wt[s] * v : 0.0;
		heat[s] = v > 0 ? (float)v : 0.0f;
	}
	free(alpha);
}

/* Source index and weight of the half-pixel-centre mapping along one axis. */
static void coord(int o, int n_in, int n_out, int *i0, int *i1, double *f)
{
	double s = ((double)o + 0.5) * n_in / n_out - 0.5;
	if (s < 0)
		s = 0;
	if (s > n_in - 1)
		s = n_in - 1;
	*i0 = (int)floor(s);
	*i1 = *i0 + 1 < n_in ? *i0 + 1 : n_in - 1;
	*f = s - *i0;
}

void ct_heat_upsample(const float *in, int h, int w, float *out, int H, int W)
{
	for (int y = 0; y < H; y++) {
		int y0, y1;
		double fy;
		coord(y, h, H, &y0, &y1, &fy);
		for (int x = 0; x < W; x++) {
			int x0, x1;
			double fx;
			coord(x, w, W, &x0, &x1, &fx);
			double top = (1 - fx) * in[(int64_t)y0 * w + x0] + fx * in[(int64_t)y0 * w + x1];
			double bot = (1 - fx) * in[(int64_t)y1 * w + x0] + fx * in[(int64_t)y1 * w + x1];
			out[(int64_t)y * W + x] = (float)((1 - fy) * top + fy * bot);
		}
	}
}

double ct_heat_sum(const float *heat, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += heat[i];
	return s;
}

double ct_heat_share(const float *heat, const uint8_t *mask, int64_t n)
{
	double in = 0, all = 0;
	for (int64_t i = 0; i < n; i++) {
		all += heat[i];
		if (mask[i])
			in += heat[i];
	}
	return all > 0 ? in / all : NAN;
}

void ct_l2_backward(const float *x, int64_t n, double s, const double *gy, double *gx)
{
	double ss = 0, xg = 0;
	for (int64_t j = 0; j < n; j++) {
		ss += (double)x[j] * x[j];
		xg += (double)x[j] * gy[j];
	}
	if (!(ss > 0)) {
		memset(gx, 0, (size_t)n * sizeof *gx);
		return;
	}
	double nrm = sqrt(ss);
	for (int64_t j = 0; j < n; j++)
		gx[j] = s / nrm * (gy[j] - x[j] * xg / ss);
}
