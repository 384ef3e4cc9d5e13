/* test_resize.c - ct_resize against a direct 2-D evaluation of its filters, exact cases, pad geometry, speed. */
#include "image/resize.h"

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "test.h"

#include <math.h>
#include <time.h>

/* The reference: every output pixel computed independently as a normalised 2-D sum
 * over ALL source pixels, in double. Output pixel (oy, ox) is centred at
 * ((oy + 0.5) * ih / oh, (ox + 0.5) * iw / ow); the footprint width per axis is
 * max(scale, 1). area: weight = area of the source pixel inside the footprint
 * rectangle; bilinear: product of triangles 1 - |d| / width. */
static double overlap(double a0, double a1, double b0, double b1)
{
	double lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
	return hi > lo ? hi - lo : 0.0;
}

static double tri(double d)
{
	d = fabs(d);
	return d < 1.0 ? 1.0 - d : 0.0;
}

static double ref_pixel(const float *img, int ih, int iw, int C, int oh, int ow, int oy, int ox, int c,
			ct_filter f)
{
	double sy = (double)ih / oh, sx = (double)iw / ow;
	double fy = sy > 1 ? sy : 1, fx = sx > 1 ? sx : 1;
	double cy = (oy + 0.5) * sy, cx = (ox + 0.5) * sx;
	double num = 0, den = 0;
	for (int y = 0; y < ih; y++)
		for (int x = 0; x < iw; x++) {
			double wgt;
			if (f == CT_FILTER_AREA)
				wgt = overlap(y, y + 1, cy - fy / 2, cy + fy / 2) * overlap(x, x + 1, cx - fx / 2, cx + fx / 2);
			else
				wgt = tri((y + 0.5 - cy) / fy) * tri((x + 0.5 - cx) / fx);
			num += wgt * img[((size_t)y * iw + x) * C + c];
			den += wgt;
		}
	return num / den;
}

static float *random_image(ct_rng *r, int h, int w, int c)
{
	float *p = malloc(sizeof(float) * (size_t)h * w * c);
	for (int i = 0; i < h * w * c; i++)
		p[i] = (float)ct_rng_uniform(r);
	return p;
}

static double max_err_vs_ref(const float *img, int ih, int iw, int C, int oh, int ow, ct_filter f)
{
	int64_t sh[3] = { ih, iw, C };
	ct_tensor in = ct_tensor_wrap((void *)img, CT_F32, 3, sh), out;
	if (ct_resize(&in, oh, ow, CT_FIT_STRETCH, f, 0, &out) < 0)
		return INFINITY;
	if (out.shape[0] != oh || out.shape[1] != ow || out.shape[2] != C) {
		ct_tensor_free(&out);
		return INFINITY;
	}
	double e = 0;
	const float *o = out.data;
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++)
			for (int c = 0; c < C; c++) {
				double d = fabs(o[((size_t)y * ow + x) * C + c] - ref_pixel(img, ih, iw, C, oh, ow, y, x, c, f));
				e = d > e ? d : e;
			}
	ct_tensor_free(&out);
	return e;
}

int main(void)
{
	ct_rng r;
	ct_rng_init(&r, 42, 0);
	const double tol = 1e-6; /* float32 output of values in [0, 1]: a few ulps */

	/* against the direct 2-D reference: shrink, enlarge, mixed, non-integer factors */
	static const int cases[][4] = { { 29, 42, 22, 22 }, { 13, 7, 20, 31 }, { 30, 20, 15, 25 },
					{ 17, 17, 5, 3 }, { 8, 9, 8, 9 }, { 1, 6, 4, 2 } };
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		int ih = cases[k][0], iw = cases[k][1], oh = cases[k][2], ow = cases[k][3];
		float *img = random_image(&r, ih, iw, 3);
		double ea = max_err_vs_ref(img, ih, iw, 3, oh, ow, CT_FILTER_AREA);
		double eb = max_err_vs_ref(img, ih, iw, 3, oh, ow, CT_FILTER_BILINEAR);
		ok(ea < tol, "area %dx%d -> %dx%d matches the 2-D coverage reference (max err %.2g < %g)", ih, iw, oh, ow,
		   ea, tol);
		ok(eb < tol, "bilinear %dx%d -> %dx%d matches the 2-D triangle reference (max err %.2g < %g)", ih, iw, oh,
		   ow, eb, tol);
		free(img);
	}

	/* same size: both filters are the identity */
	{
		float *img = random_image(&r, 11, 13, 2);
		int64_t sh[3] = { 11, 13, 2 };
		ct_tensor in = ct_tensor_wrap(img, CT_F32, 3, sh), out;
		int same = 1;
		for (int f = 0; f < 2; f++) {
			if (ct_resize(&in, 11, 13, CT_FIT_STRETCH, (ct_filter)f, 0, &out) < 0)
				same = 0;
			else
				same &= memcmp(out.data, img, sizeof(float) * 11 * 13 * 2) == 0;
			ct_tensor_free(&out);
		}
		ok(same, "resizing to the same size is exactly the identity (area and bilinear)");
		free(img);
	}

	/* constant images stay constant, exactly */
	{
		int64_t sh[3] = { 37, 23, 1 };
		float *img = malloc(sizeof(float) * 37 * 23);
		for (int i = 0; i < 37 * 23; i++)
			img[i] = 0.3f;
		ct_tensor in = ct_tensor_wrap(img, CT_F32, 3, sh), out;
		static const int sizes[][2] = { { 10, 7 }, { 50, 61 }, { 37, 5 }, { 1, 1 } };
		for (int f = 0; f < 2; f++)
			for (int s = 0; s < 4; s++) {
				int constant = ct_resize(&in, sizes[s][0], sizes[s][1], CT_FIT_STRETCH, (ct_filter)f, 0, &out) == 0;
				for (int i = 0; constant && i < sizes[s][0] * sizes[s][1]; i++)
					constant = ((float *)out.data)[i] == 0.3f;
				ok(constant, "%s: constant 37x23 -> %dx%d stays exactly constant", f ? "bilinear" : "area",
				   sizes[s][0], sizes[s][1]);
				ct_tensor_free(&out);
			}
		free(img);
	}

	/* area, integer downscale by 2 = the exact 2x2 mean (values k/4096 so the mean is exact) */
	{
		int h = 16, w = 22, C = 3;
		float *img = malloc(sizeof(float) * h * w * C);
		for (int i = 0; i < h * w * C; i++)
			img[i] = (float)ct_rng_below(&r, 4096) / 4096.0f;
		int64_t sh[3] = { h, w, C };
		ct_tensor in = ct_tensor_wrap(img, CT_F32, 3, sh), out;
		int exact = ct_resize(&in, h / 2, w / 2, CT_FIT_STRETCH, CT_FILTER_AREA, 0, &out) == 0;
		for (int y = 0; exact && y < h / 2; y++)
			for (int x = 0; x < w / 2; x++)
				for (int c = 0; c < C; c++) {
					float m = (img[((2 * y) * w + 2 * x) * C + c] + img[((2 * y) * w + 2 * x + 1) * C + c] +
						   img[((2 * y + 1) * w + 2 * x) * C + c] +
						   img[((2 * y + 1) * w + 2 * x + 1) * C + c]) /
						  4.0f;
					if (((float *)out.data)[(y * (w / 2) + x) * C + c] != m)
						exact = 0;
				}
		ok(exact, "area 16x22 -> 8x11 is exactly the 2x2 block mean");
		ct_tensor_free(&out);
		free(img);
	}

	/* strided (view) input gives the same result as a contiguous copy */
	{
		int h = 20, w = 15;
		float *img = random_image(&r, h, w, 2); /* a 2-channel buffer; view channel 1 only */
		float *one = malloc(sizeof(float) * h * w);
		for (int i = 0; i < h * w; i++)
			one[i] = img[2 * i + 1];
		int64_t sh[3] = { h, w, 1 };
		ct_tensor v = ct_tensor_wrap(img + 1, CT_F32, 3, sh);
		v.stride[0] = (int64_t)sizeof(float) * w * 2;
		v.stride[1] = (int64_t)sizeof(float) * 2;
		ct_tensor c = ct_tensor_wrap(one, CT_F32, 3, sh), o1, o2;
		int same = ct_resize(&v, 9, 7, CT_FIT_STRETCH, CT_FILTER_BILINEAR, 0, &o1) == 0 &&
			   ct_resize(&c, 9, 7, CT_FIT_STRETCH, CT_FILTER_BILINEAR, 0, &o2) == 0 &&
			   memcmp(o1.data, o2.data, sizeof(float) * 9 * 7) == 0;
		ok(same, "byte strides of the input are honoured");
		ct_tensor_free(&o1);
		ct_tensor_free(&o2);
		free(img);
		free(one);
	}

	/* pad geometry: tall and wide inputs; the inner block is the stretch resize */
	{
		static const int g[][8] = {
			/* ih, iw, oh, ow, expected nh, nw, top, left */
			{ 40, 20, 32, 32, 32, 16, 0, 8 },
			{ 10, 30, 32, 32, 11, 32, 10, 0 },
			{ 420, 290, 224, 224, 224, 155, 0, 34 },
			{ 30, 30, 16, 16, 16, 16, 0, 0 },
		};
		for (int k = 0; k < 4; k++) {
			int ih = g[k][0], iw = g[k][1], oh = g[k][2], ow = g[k][3];
			int nh = g[k][4], nw = g[k][5], top = g[k][6], left = g[k][7];
			float *img = random_image(&r, ih, iw, 1);
			for (int i = 0; i < ih * iw; i++)
				img[i] += 1.0f; /* in [1, 2): never equal to the pad value */
			int64_t sh[3] = { ih, iw, 1 };
			ct_tensor in = ct_tensor_wrap(img, CT_F32, 3, sh), out, inner;
			int good = ct_resize(&in, oh, ow, CT_FIT_PAD, CT_FILTER_AREA, -1.0f, &out) == 0 &&
				   ct_resize(&in, nh, nw, CT_FIT_STRETCH, CT_FILTER_AREA, 0, &inner) == 0;
			ok(good && out.shape[0] == oh && out.shape[1] == ow, "pad %dx%d -> %dx%d: output has the target size",
			   ih, iw, oh, ow);
			int geom = good;
			for (int y = 0; geom && y < oh; y++)
				for (int x = 0; x < ow; x++) {
					float v = ((float *)out.data)[y * ow + x];
					int in_block = y >= top && y < top + nh && x >= left && x < left + nw;
					if (in_block ? v != ((float *)inner.data)[(y - top) * nw + (x - left)] : v != -1.0f)
						geom = 0;
				}
			ok(geom, "pad %dx%d -> %dx%d: a centred %dx%d block at (%d, %d) equal to the stretch resize, pad_value elsewhere",
			   ih, iw, oh, ow, nh, nw, top, left);
			ct_tensor_free(&out);
			ct_tensor_free(&inner);
			free(img);
		}
	}

	/* refusals */
	{
		uint8_t b[4] = { 0 };
		int64_t sh[3] = { 2, 2, 1 };
		ct_tensor in = ct_tensor_wrap(b, CT_U8, 3, sh), out;
		ok(ct_resize(&in, 2, 2, CT_FIT_STRETCH, CT_FILTER_AREA, 0, &out) < 0 && strstr(ct_last_error(), "float32"),
		   "uint8 input refused");
		float f[4] = { 0 };
		ct_tensor fin = ct_tensor_wrap(f, CT_F32, 3, sh);
		ok(ct_resize(&fin, 0, 2, CT_FIT_STRETCH, CT_FILTER_AREA, 0, &out) < 0, "zero output size refused");
		ok(ct_resize(&fin, 2, 2, CT_FIT_STRETCH, (ct_filter)7, 0, &out) < 0, "unknown filter refused");
	}

	/* speed: the dataset's shape, ~420x290x3 -> 224x224 */
	{
		int n = 100;
		float *img = random_image(&r, 420, 290, 3);
		int64_t sh[3] = { 420, 290, 3 };
		ct_tensor in = ct_tensor_wrap(img, CT_F32, 3, sh), out;
		struct timespec t0, t1;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
		int fine = 1;
		for (int i = 0; i < n; i++) {
			fine &= ct_resize(&in, 224, 224, CT_FIT_PAD, i & 1 ? CT_FILTER_BILINEAR : CT_FILTER_AREA, 0, &out) == 0;
			ct_tensor_free(&out);
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
		double per = ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9) / n;
		diag("420x290x3 -> 224x224: %.2f ms per image (cpu time), %.2f s per 750 images", per * 1e3, per * 750);
#if defined(__SANITIZE_ADDRESS__)
		/* sanitizers slow this ~10x; the time means nothing there */
		ok(fine, "750 images of 420x290x3 resize (time not checked under sanitizers)");
#else
		ok(fine && per * 750 < 3.0, "750 images of 420x290x3 resize in under 3 cpu-seconds");
#endif
		free(img);
	}
	TEST_DONE();
}
