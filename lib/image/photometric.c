/* photometric.c - random contrast, gamma, noise, blur and resolution loss (photometric.h). */
#include "image/photometric.h"

#include "core/error.h"
#include "image/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ct_photo_defaults(ct_photo_params *p)
{
	memset(p, 0, sizeof *p);
	p->resolution = 1.0;
}

int ct_photo_enabled(const ct_photo_params *p)
{
	return p->contrast > 0 || p->gamma > 0 || p->noise > 0 || p->blur > 0 || p->resolution < 1;
}

int ct_photo_check(const ct_photo_params *p)
{
	if (!(p->contrast >= 0 && p->contrast <= 0.9))
		return ct_error("contrast range %g outside [0, 0.9]", p->contrast);
	if (!(p->gamma >= 0 && p->gamma <= 1))
		return ct_error("gamma range %g outside [0, 1]", p->gamma);
	if (!(p->noise >= 0 && p->noise <= 0.5))
		return ct_error("noise sd %g outside [0, 0.5]", p->noise);
	if (!(p->blur >= 0 && p->blur <= 10))
		return ct_error("blur sigma %g outside [0, 10]", p->blur);
	if (!(p->resolution >= 0.1 && p->resolution <= 1))
		return ct_error("resolution %g outside [0.1, 1]", p->resolution);
	return 0;
}

void ct_photo_identity(ct_photo_transform *t)
{
	t->contrast = 1, t->gamma = 1, t->noise_sd = 0, t->blur_sigma = 0, t->scale = 1;
}

void ct_photo_random(const ct_photo_params *p, ct_rng *rng, ct_photo_transform *t)
{
	double u[5];
	for (int i = 0; i < 5; i++)
		u[i] = ct_rng_uniform(rng);
	t->contrast = p->contrast > 0 ? 1 - p->contrast + 2 * p->contrast * u[0] : 1;
	t->gamma = p->gamma > 0 ? exp(-p->gamma + 2 * p->gamma * u[1]) : 1;
	t->noise_sd = p->noise * u[2];
	t->blur_sigma = p->blur * u[3];
	t->scale = p->resolution < 1 ? p->resolution + (1 - p->resolution) * u[4] : 1;
}

int ct_gaussian_blur(float *v, int h, int w, double sigma)
{
	if (!(sigma > 0))
		return 0;
	int r = (int)(4.0 * sigma + 0.5);
	int n = h > w ? h : w;
	double *k = malloc(((size_t)2 * r + 2) * sizeof *k), *line = malloc(((size_t)n + 1) * sizeof *line);
	if (!k || !line) {
		free(k);
		free(line);
		return ct_error("out of memory");
	}
	double s = 0;
	for (int i = -r; i <= r; i++)
		s += k[i + r] = exp(-0.5 * (double)i * i / (sigma * sigma));
	for (int i = 0; i <= 2 * r; i++)
		k[i] /= s;
	/* rows, then columns; 'nearest': indices clamped to the edge */
	for (int pass = 0; pass < 2; pass++) {
		int lines = pass ? w : h, len = pass ? h : w;
		int64_t step = pass ? w : 1, lstep = pass ? 1 : w;
		for (int l = 0; l < lines; l++) {
			float *p = v + l * lstep;
			for (int i = 0; i < len; i++)
				line[i] = p[i * step];
			for (int i = 0; i < len; i++) {
				double acc = 0;
				for (int j = -r; j <= r; j++) {
					int q = i + j;
					q = q < 0 ? 0 : q >= len ? len - 1 : q;
					acc += k[j + r] * line[q];
				}
				p[i * step] = (float)acc;
			}
		}
	}
	free(k);
	free(line);
	return 0;
}

int ct_photo_apply(const ct_photo_transform *t, ct_rng *rng, ct_tensor *img)
{
	if (img->ndim != 3 || (img->dtype != CT_U8 && img->dtype != CT_F32) || !ct_tensor_is_contiguous(img))
		return ct_error("photometric: expected a contiguous h x w x c uint8 or float32 image");
	int h = (int)img->shape[0], w = (int)img->shape[1], C = (int)img->shape[2];
	int64_t n = (int64_t)h * w;
	ct_tensor f = { 0 };
	if (ct_tensor_alloc3(&f, CT_F32, h, w, C) < 0)
		return -1;
	float *v = f.data;
	for (int64_t i = 0; i < n * C; i++)
		v[i] = img->dtype == CT_U8 ? ((const uint8_t *)img->data)[i] / 255.0f : ((const float *)img->data)[i];
	int rc = 0;
	if (t->scale < 1) {
		int dh = (int)lround(h * t->scale), dw = (int)lround(w * t->scale);
		dh = dh < 1 ? 1 : dh, dw = dw < 1 ? 1 : dw;
		ct_tensor small = { 0 }, back = { 0 };
		rc = ct_resize(&f, dh, dw, CT_FIT_STRETCH, CT_FILTER_AREA, 0.0f, &small);
		if (rc == 0)
			rc = ct_resize(&small, h, w, CT_FIT_STRETCH, CT_FILTER_BILINEAR, 0.0f, &back);
		if (rc == 0)
			memcpy(v, back.data, (size_t)n * C * sizeof *v);
		ct_tensor_free(&small);
		ct_tensor_free(&back);
	}
	if (rc == 0 && t->blur_sigma > 0) {
		float *plane = malloc(((size_t)n + 1) * sizeof *plane);
		if (!plane)
			rc = ct_error("out of memory");
		for (int c = 0; rc == 0 && c < C; c++) {
			for (int64_t i = 0; i < n; i++)
				plane[i] = v[i * C + c];
			rc = ct_gaussian_blur(plane, h, w, t->blur_sigma);
			for (int64_t i = 0; rc == 0 && i < n; i++)
				v[i * C + c] = plane[i];
		}
		free(plane);
	}
	if (rc == 0 && t->contrast != 1) {
		double mean = 0;
		for (int64_t i = 0; i < n * C; i++)
			mean += v[i];
		mean /= (double)(n * C);
		for (int64_t i = 0; i < n * C; i++)
			v[i] = (float)(mean + t->contrast * (v[i] - mean));
	}
	if (rc == 0 && t->gamma != 1)
		for (int64_t i = 0; i < n * C; i++)
			v[i] = v[i] > 0 ? (float)pow(v[i] < 1 ? v[i] : 1.0, t->gamma) : 0.0f;
	if (rc == 0 && t->noise_sd > 0)
		for (int64_t i = 0; i < n; i++) {
			float e = (float)(t->noise_sd * ct_rng_normal(rng));
			for (int c = 0; c < C; c++)
				v[i * C + c] += e;
		}
	for (int64_t i = 0; rc == 0 && i < n * C; i++) {
		float x = v[i] > 0 ? (v[i] < 1 ? v[i] : 1.0f) : 0.0f; /* also maps NaN to 0 */
		if (img->dtype == CT_U8)
			((uint8_t *)img->data)[i] = (uint8_t)(x * 255.0f + 0.5f);
		else
			((float *)img->data)[i] = x;
	}
	ct_tensor_free(&f);
	return rc;
}
