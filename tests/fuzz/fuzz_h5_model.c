/* fuzz_h5_model.c - the model file reader: ct_head_load, then the provenance and training
 * curves (ct_provenance_read, ct_curves_read) and fine-tuned layers (ct_weights_read of
 * /finetune/0) as ct-score and ct-explain read them. */
#include "fuzz.h"
#include "data/dataset.h"
#include "metrics/score.h"
#include "nn/weights.h"
#include "train/head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_h5_init();
	const char *path = fuzz_file(data, size, ".h5");
	ct_head m;
	memset(&m, 0, sizeof m);
	if (!path)
		return 0;
	if (ct_head_load(path, &m) < 0)
		return fuzz_result(-1);
	int rc = 0;
	ct_head_free(&m);
	ct_h5 h;
	if (ct_h5_open(&h, path) < 0)
		return 0;
	char **prov = NULL;
	int64_t nprov = 0;
	if ((rc = ct_provenance_read(h.file, &prov, &nprov)) == 0)
		ct_strings_free(prov, nprov);
	ct_curves c;
	memset(&c, 0, sizeof c);
	int cr = ct_curves_read(h.file, &c);
	if (cr == 1)
		ct_curves_free(&c);
	if (cr < 0)
		rc = -1;
	if (ct_h5_exists(h.file, "finetune/0")) {
		hid_t g = H5Gopen2(h.file, "finetune/0", H5P_DEFAULT);
		ct_weights w;
		memset(&w, 0, sizeof w);
		if (g >= 0 && ct_weights_read(g, &w) == 0)
			ct_weights_free(&w);
		else
			rc = -1;
		if (g >= 0)
			H5Gclose(g);
	}
	ct_h5_close(&h);
	return fuzz_result(rc);
}
