/* equalise.c - format equalisation (equalise.h). */
#include "image/equalise.h"

#include "core/error.h"
#include "image/codec.h"

#include <stdlib.h>
#include <string.h>

int ct_equalise(const ct_tensor *in, int size, int quality, ct_fit fit, ct_filter filter, int channels,
		ct_tensor *out)
{
	ct_tensor g = { 0 }, r = { 0 }, q = { 0 };
	ct_image dec = { 0 };
	void *buf = NULL;
	size_t len = 0;
	int rc = -1;
	memset(out, 0, sizeof *out);
	if (in->ndim != 3 || in->dtype != CT_F32 || (in->shape[2] != 1 && in->shape[2] != 3))
		return ct_error("equalise: expected an h x w x 1 or h x w x 3 float image");
	if (size < 8 || size > 4096 || quality < 1 || quality > 100 || (channels != 1 && channels != 3))
		return ct_error("equalise: size %d, quality %d or channels %d out of range", size, quality, channels);
	int64_t H = in->shape[0], W = in->shape[1], C = in->shape[2];
	if (ct_tensor_alloc3(&g, CT_F32, H, W, 1) < 0)
		goto done;
	float *gp = g.data;
	for (int64_t y = 0; y < H; y++)
		for (int64_t x = 0; x < W; x++) {
			const char *p = (const char *)in->data + y * in->stride[0] + x * in->stride[1];
			float v = *(const float *)p;
			if (C == 3)
				v = 0.299f * v + 0.587f * *(const float *)(p + in->stride[2]) +
				    0.114f * *(const float *)(p + 2 * in->stride[2]);
			gp[y * W + x] = v;
		}
	if (ct_resize(&g, size, size, fit, filter, 0.0f, &r) < 0 || ct_tensor_alloc3(&q, CT_U8, size, size, 1) < 0)
		goto done;
	const float *rp = r.data;
	uint8_t *qp = q.data;
	for (int64_t i = 0; i < (int64_t)size * size; i++) {
		float v = rp[i] * 255.0f + 0.5f;
		qp[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
	}
	if (ct_image_encode_jpeg(&q, quality, &buf, &len) < 0 || ct_image_decode_jpeg(buf, len, (int64_t)size * size, &dec) < 0)
		goto done;
	const ct_tensor *d = &dec.pages[0];
	if (dec.npages != 1 || d->dtype != CT_U8 || d->shape[0] != size || d->shape[1] != size || d->shape[2] != 1) {
		ct_error("equalise: the JPEG round trip changed the image's shape");
		goto done;
	}
	if (ct_tensor_alloc3(out, CT_F32, size, size, channels) < 0)
		goto done;
	float *op = out->data;
	for (int64_t y = 0; y < size; y++)
		for (int64_t x = 0; x < size; x++) {
			float v = *((const uint8_t *)d->data + y * d->stride[0] + x * d->stride[1]) / 255.0f;
			for (int k = 0; k < channels; k++)
				op[(y * size + x) * channels + k] = v;
		}
	rc = 0;
done:
	free(buf);
	ct_image_free(&dec);
	ct_tensor_free(&g);
	ct_tensor_free(&r);
	ct_tensor_free(&q);
	return rc;
}
