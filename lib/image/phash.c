/* phash.c - dHash: grey 9x8 box downsample, one bit per horizontal neighbour comparison. */
#include "image/phash.h"
#include "core/error.h"

static double pixel_grey(const ct_tensor *im, int64_t y, int64_t x)
{
	const char *p = (const char *)im->data + y * im->stride[0] + x * im->stride[1];
	int64_t c = im->shape[2];
	double s = 0;
	for (int64_t k = 0; k < c; k++) {
		const char *q = p + k * im->stride[2];
		s += im->dtype == CT_U8 ? *(const uint8_t *)q / 255.0 : (double)*(const float *)q;
	}
	return s / (double)c;
}

int ct_dhash(const ct_tensor *im, uint64_t *hash)
{
	*hash = 0;
	if (im->ndim != 3 || (im->dtype != CT_U8 && im->dtype != CT_F32))
		return ct_error("dhash needs an H x W x C uint8 or float32 image");
	int64_t h = im->shape[0], w = im->shape[1];
	if (h < 8 || w < 9 || im->shape[2] < 1)
		return ct_error("image of %lldx%lld is too small to hash (at least 9x8)", (long long)w, (long long)h);
	double cell[8][9];
	/* Box average over integer pixel ranges [y0, y1) x [x0, x1) that tile the image. */
	for (int r = 0; r < 8; r++) {
		int64_t y0 = r * h / 8, y1 = (r + 1) * h / 8;
		for (int c = 0; c < 9; c++) {
			int64_t x0 = c * w / 9, x1 = (c + 1) * w / 9;
			double s = 0;
			for (int64_t y = y0; y < y1; y++)
				for (int64_t x = x0; x < x1; x++)
					s += pixel_grey(im, y, x);
			cell[r][c] = s / (double)((y1 - y0) * (x1 - x0));
		}
	}
	uint64_t v = 0;
	for (int r = 0; r < 8; r++)
		for (int c = 0; c < 8; c++)
			if (cell[r][c] > cell[r][c + 1])
				v |= (uint64_t)1 << (8 * r + c);
	*hash = v;
	return 0;
}
