/* fuzz_h5_weights.c - Keras HDF5 weight files (ct_weights_load: ct-features, ct-finetune,
 * ct-explain and ct-weights read weights through it). */
#include "fuzz.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_h5_init();
	const char *path = fuzz_file(data, size, ".h5");
	ct_weights w;
	memset(&w, 0, sizeof w);
	if (!path)
		return 0;
	int rc = ct_weights_load(&w, path);
	if (rc == 0)
		ct_weights_free(&w);
	return fuzz_result(rc);
}
