/* fuzz_h5_model.c - the model file reader as ct-score and ct-explain use it: ct_model_open
 * (the head, provenance and training curves, validated) and the fine-tuned layers
 * (ct_weights_read of /finetune/0). */
#include "fuzz.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"
#include "train/modelfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_h5_init();
	const char *path = fuzz_file(data, size, ".h5");
	if (!path)
		return 0;
	ct_model m;
	memset(&m, 0, sizeof m);
	if (ct_model_open(&m, path) < 0) {
		ct_model_close(&m);
		return fuzz_result(-1);
	}
	int rc = 0;
	if (ct_h5_exists(m.h.file, "finetune/0")) {
		hid_t g = H5Gopen2(m.h.file, "finetune/0", H5P_DEFAULT);
		ct_weights w;
		memset(&w, 0, sizeof w);
		if (g >= 0 && ct_weights_read(g, &w) == 0)
			ct_weights_free(&w);
		else
			rc = -1;
		if (g >= 0)
			H5Gclose(g);
	}
	ct_model_close(&m);
	return fuzz_result(rc);
}
