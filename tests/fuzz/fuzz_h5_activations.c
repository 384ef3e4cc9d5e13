/* fuzz_h5_activations.c - the cut activations of a features file (ct_actfile_open and
 * ct_actfile_read of every row, as ct-finetune --finetune and ct-score read them). */
#include "fuzz.h"
#include "data/activations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_h5_init();
	const char *path = fuzz_file(data, size, ".h5");
	ct_actfile a;
	if (!path)
		return 0;
	if (ct_actfile_open(&a, path) < 0)
		return fuzz_result(-1);
	int rc = -1;
	/* The tools compare a row's size with the backbone's layer before allocating. */
	int64_t per = (int64_t)a.height * a.width * a.channels, b = 4;
	float *x = per > 0 && per <= ((int64_t)1 << 20) ? malloc((size_t)(b * per) * sizeof *x) : NULL;
	for (int64_t i = 0; x && i < a.n; i += b)
		if ((rc = ct_actfile_read(&a, i, a.n - i < b ? a.n - i : b, x)) < 0)
			break;
	free(x);
	ct_actfile_close(&a);
	return fuzz_result(rc);
}
