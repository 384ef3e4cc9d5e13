/* resize.c - separable antialiased resizing (box with exact coverage, triangle) with stretch and pad fits. */
#include "image/resize.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Weights of one axis, computed once per call (as Pillow's precompute_coeffs in
 * libImaging/Resample.c): output i reads `count[i]` source pixels from `start[i]`
 * with weights w[i*maxk ...], which sum to 1. */
typedef struct axis_tab {
	int *start, *count;
	double *w;
	int maxk;
} axis_tab;

static void tab_free(axis_tab *t)
{
	free(t->start);
	free(t->count);
	free(t->w);
	memset(t, 0, sizeof *t);
}

/* Pillow's geometry: output pixel i is centred at (i + 0.5) * scale in source
 * coordinates (pixel j covers [j, j+1)); when shrinking, the filter is widened by
 * scale so every source pixel contributes. `area` weights pixel j by the exact length
 * of [j, j+1) inside the footprint [c - fs/2, c + fs/2] (Pillow's box filter instead
 * point-samples the box at pixel centres); `bilinear` by the triangle
 * 1 - |j + 0.5 - c| / fs. Weights are renormalised after clipping at the edges. */
static int tab_build(axis_tab *t, int n_in, int n_out, ct_filter filter)
{
	memset(t, 0, sizeof *t);
	double scale = (double)n_in / (double)n_out;
	double fs = scale > 1.0 ? scale : 1.0;
	double half = (filter == CT_FILTER_AREA ? 0.5 : 1.0) * fs;
	t->maxk = (int)ceil(2.0 * half) + 2;
	size_t nw;
	if (ct_mul_size((size_t)n_out, (size_t)t->maxk, &nw) < 0 || ct_mul_size(nw, sizeof(double), &nw) < 0)
		return ct_error("resize: weight table size overflows");
	t->start = malloc((size_t)n_out * sizeof *t->start);
	t->count = malloc((size_t)n_out * sizeof *t->count);
	t->w = malloc(nw);
	if (!t->start || !t->count || !t->w) {
		tab_free(t);
		return ct_error("resize: out of memory for weight tables");
	}
	for (int i = 0; i < n_out; i++) {
		double c = ((double)i + 0.5) * scale;
		double lo = c - half, hi = c + half;
		int j0 = (int)floor(lo), j1 = (int)ceil(hi);
		if (j0 < 0)
			j0 = 0;
		if (j1 > n_in)
			j1 = n_in;
		double *w = t->w + (size_t)i * (size_t)t->maxk;
		double sum = 0.0;
		int k = 0;
		for (int j = j0; j < j1 && k < t->maxk; j++, k++) {
			double v;
			if (filter == CT_FILTER_AREA) {
				double a = j > lo ? j : lo, b = j + 1 < hi ? j + 1 : hi;
				v = b > a ? b - a : 0.0;
			} else {
				v = 1.0 - fabs((double)j + 0.5 - c) / fs;
				v = v > 0.0 ? v : 0.0;
			}
			w[k] = v;
			sum += v;
		}
		/* Drop zero-weight ends so the inner loops only touch contributing pixels. */
		int s = 0;
		while (s < k && w[s] == 0.0)
			s++;
		while (k > s && w[k - 1] == 0.0)
			k--;
		if (!(sum > 0.0) || k == s) {
			tab_free(t);
			return ct_error("resize: empty filter window (internal error)");
		}
		for (int q = s; q < k; q++)
			w[q - s] = w[q] / sum;
		t->start[i] = j0 + s;
		t->count[i] = k - s;
	}
	return 0;
}

/* Resize the ih x iw x C image given by `row` into the oh x ow block at `dst` (row pitch
 * `dst_row` floats, C floats per pixel). Horizontal pass first into doubles, then vertical,
 * so rounding to float happens once. The horizontally resized rows live in a ring of `cap`
 * rows: the rows output o reads are [start, start + count), and with start never going back
 * a row below the current start is never read again; `cap` is the most rows any output needs
 * held at once (the whole image when a window would go back, which the tables never do). */
static int resize_block(int ih, int iw, int C, ct_resize_row_fn row, void *ctx, int oh, int ow, ct_filter filter,
			float *dst, size_t dst_row)
{
	axis_tab th, tv;
	if (tab_build(&th, iw, ow, filter) < 0)
		return -1;
	if (tab_build(&tv, ih, oh, filter) < 0) {
		tab_free(&th);
		return -1;
	}
	int cap = 1, hi = 0;
	for (int o = 0; o < oh; o++) {
		int end = tv.start[o] + tv.count[o];
		hi = end > hi ? end : hi;
		if (o > 0 && tv.start[o] < tv.start[o - 1]) {
			cap = ih;
			break;
		}
		cap = hi - tv.start[o] > cap ? hi - tv.start[o] : cap;
	}
	size_t rowlen = (size_t)ow * (size_t)C, nbuf, inlen = (size_t)iw * (size_t)C;
	double *ring = NULL, *acc = NULL;
	float *in = NULL;
	if (ct_mul_size(rowlen, (size_t)cap, &nbuf) == 0 && ct_mul_size(nbuf, sizeof(double), &nbuf) == 0) {
		ring = malloc(nbuf);
		acc = malloc(rowlen * sizeof(double));
		in = malloc(inlen * sizeof(float));
	}
	if (!ring || !acc || !in) {
		free(ring);
		free(acc);
		free(in);
		tab_free(&th);
		tab_free(&tv);
		return ct_error("resize: out of memory for a %d x %d x %d buffer", cap, ow, C);
	}

	int rc = 0, next = 0; /* input rows [0, next) have been read */
	for (int o = 0; o < oh && rc == 0; o++) {
		const double *w = tv.w + (size_t)o * (size_t)tv.maxk;
		int j0 = tv.start[o], n = tv.count[o];
		for (; next < j0 + n && rc == 0; next++) {
			if (next < j0 && cap < ih)
				continue; /* read by no output from here on */
			if (row(ctx, next, in) < 0) {
				rc = -1;
				break;
			}
			double *t = ring + (size_t)(next % cap) * rowlen;
			for (int i = 0; i < ow; i++) {
				const double *wh = th.w + (size_t)i * (size_t)th.maxk;
				int h0 = th.start[i], hn = th.count[i];
				for (int c = 0; c < C; c++) {
					const float *p = in + (size_t)h0 * C + c;
					double s = 0.0;
					for (int k = 0; k < hn; k++, p += C)
						s += wh[k] * *p;
					t[(size_t)i * C + c] = s;
				}
			}
		}
		if (rc < 0)
			break;
		const double *src = ring + (size_t)(j0 % cap) * rowlen;
		for (size_t q = 0; q < rowlen; q++)
			acc[q] = w[0] * src[q];
		for (int k = 1; k < n; k++) {
			src = ring + (size_t)((j0 + k) % cap) * rowlen;
			for (size_t q = 0; q < rowlen; q++)
				acc[q] += w[k] * src[q];
		}
		float *d = dst + (size_t)o * dst_row;
		for (size_t q = 0; q < rowlen; q++)
			d[q] = (float)acc[q];
	}
	free(ring);
	free(acc);
	free(in);
	tab_free(&th);
	tab_free(&tv);
	return rc;
}

/* The row reader of ct_resize: a row of a float tensor of any strides, packed. */
static int tensor_row(void *ctx, int64_t y, float *dst)
{
	const ct_tensor *t = ctx;
	const char *r = (const char *)t->data + y * t->stride[0];
	int64_t W = t->shape[1], C = t->shape[2];
	for (int64_t x = 0; x < W; x++)
		for (int64_t c = 0; c < C; c++)
			*dst++ = *(const float *)(r + x * t->stride[1] + c * t->stride[2]);
	return 0;
}

int ct_resize(const ct_tensor *in, int out_h, int out_w, ct_fit fit, ct_filter filter,
	      float pad_value, ct_tensor *out)
{
	if (in->ndim != 3 || in->dtype != CT_F32)
		return ct_error("resize: expected an h x w x c float32 image");
	return ct_resize_rows(in->shape[0], in->shape[1], in->shape[2], tensor_row, (void *)in, out_h, out_w, fit,
			      filter, pad_value, out);
}

int ct_resize_rows(int64_t ih, int64_t iw, int64_t C, ct_resize_row_fn row, void *ctx, int out_h,
		   int out_w, ct_fit fit, ct_filter filter, float pad_value, ct_tensor *out)
{
	memset(out, 0, sizeof *out);
	if (ih < 1 || iw < 1 || C < 1 || ih > INT32_MAX / 4 || iw > INT32_MAX / 4 || C > 4096)
		return ct_error("resize: bad input shape %lld x %lld x %lld", (long long)ih, (long long)iw,
				(long long)C);
	if (out_h < 1 || out_w < 1 || out_h > INT32_MAX / 4 || out_w > INT32_MAX / 4)
		return ct_error("resize: bad output size %d x %d", out_h, out_w);
	if (fit != CT_FIT_STRETCH && fit != CT_FIT_PAD)
		return ct_error("resize: unknown fit %d", (int)fit);
	if (filter != CT_FILTER_AREA && filter != CT_FILTER_BILINEAR)
		return ct_error("resize: unknown filter %d", (int)filter);

	/* pad: the largest size with the input's aspect ratio that fits, rounded to the
	 * nearest pixel in integer arithmetic, centred (extra pixel of margin at the
	 * bottom/right when the margin is odd). */
	int nh = out_h, nw = out_w, top = 0, left = 0;
	if (fit == CT_FIT_PAD) {
		if (ih * out_w >= iw * out_h) { /* relatively taller: height fills */
			nw = (int)((2 * iw * out_h + ih) / (2 * ih));
		} else {
			nh = (int)((2 * ih * out_w + iw) / (2 * iw));
		}
		nh = nh < 1 ? 1 : nh > out_h ? out_h : nh;
		nw = nw < 1 ? 1 : nw > out_w ? out_w : nw;
		top = (out_h - nh) / 2;
		left = (out_w - nw) / 2;
	}
	if (ct_tensor_alloc3(out, CT_F32, out_h, out_w, C) < 0)
		return ct_error_prefix("resize");
	float *o = (float *)out->data;
	if (nh != out_h || nw != out_w) {
		size_t n = (size_t)out_h * (size_t)out_w * (size_t)C;
		for (size_t q = 0; q < n; q++)
			o[q] = pad_value;
	}
	size_t rowpitch = (size_t)out_w * (size_t)C;
	if (resize_block((int)ih, (int)iw, (int)C, row, ctx, nh, nw, filter,
			 o + (size_t)top * rowpitch + (size_t)left * (size_t)C, rowpitch) < 0) {
		ct_tensor_free(out);
		return -1;
	}
	return 0;
}
