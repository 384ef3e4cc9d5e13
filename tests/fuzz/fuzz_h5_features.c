/* fuzz_h5_features.c - the features file reader (ct_features_read: ct-fuse, ct-finetune,
 * ct-score, ct-split read features files through it). */
#include "fuzz.h"
#include "data/features.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_h5_init();
	const char *path = fuzz_file(data, size, ".h5");
	ct_features f;
	if (!path)
		return 0;
	int rc = ct_features_read(path, &f);
	if (rc == 0)
		ct_features_free(&f);
	return fuzz_result(rc);
}
