/* fuzz_nifti.c - NIfTI-1/2 volumes, plain or gzip-compressed (ct_nifti_read, as ct-convert
 * reads a .nii file: every slice). */
#include "fuzz.h"
#include "image/nifti.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, ".nii");
	ct_slice_select sel;
	ct_nifti v;
	memset(&v, 0, sizeof v);
	if (!path || ct_slice_select_parse("all", &sel) < 0)
		return 0;
	int rc = ct_nifti_read(path, (int64_t)1 << 22, &sel, &v);
	if (rc == 0)
		ct_nifti_free(&v);
	return fuzz_result(rc);
}
