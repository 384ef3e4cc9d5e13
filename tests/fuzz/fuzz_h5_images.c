/* fuzz_h5_images.c - the images file reader (ct_images_open, then ct_images_read of every row
 * in batches, as ct-augment, ct-features and ct-split read one). */
#include "fuzz.h"
#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_h5_init();
	const char *path = fuzz_file(data, size, ".h5");
	ct_images im;
	if (!path)
		return 0;
	if (ct_images_open(&im, path) < 0)
		return fuzz_result(-1);
	int rc = -1;
	int64_t per = im.height * im.width * im.channels;
	/* The tools read a batch of rows at a time; a huge image would only fail to allocate. */
	if (per > 0 && per <= ((int64_t)1 << 22)) {
		ct_tensor batch;
		int64_t b = 4;
		if (ct_tensor_alloc(&batch, im.dtype, 4, (int64_t[4]){ b, im.height, im.width, im.channels }) == 0) {
			for (int64_t i = 0; i < im.n; i += b) {
				batch.shape[0] = im.n - i < b ? im.n - i : b;
				if ((rc = ct_images_read(&im, i, &batch)) < 0)
					break;
			}
			batch.shape[0] = b;
			ct_tensor_free(&batch);
		}
	}
	ct_images_close(&im);
	return fuzz_result(rc);
}
