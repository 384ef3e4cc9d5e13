/* fuzz_image.c - PNG, JPEG and TIFF decoding (ct_image_decode: what ct_image_read, and so
 * ct-convert and ct-info, run on an image file's bytes). */
#include "fuzz.h"
#include "image/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ct_image img;
	/* 4 megapixels: large enough for every seed, small enough to stay far from libFuzzer's
	 * memory limit at 12 bytes per pixel. */
	int rc = ct_image_decode(data, size, (int64_t)1 << 22, &img);
	if (rc == 0)
		ct_image_free(&img);
	return fuzz_result(rc);
}
