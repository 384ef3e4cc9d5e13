/* fuzz_dicom.c - DICOM files through GDCM (ct_dicom_read, as ct-convert reads one). GDCM is
 * not instrumented: this checks our shim (lib/image/dicom_gdcm.cc) and what it trusts. */
#include "fuzz.h"
#include "image/dicom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size, ".dcm");
	ct_dicom d;
	memset(&d, 0, sizeof d);
	if (!path)
		return 0;
	int rc = ct_dicom_read(path, (int64_t)1 << 22, &d);
	if (rc == 0)
		ct_dicom_free(&d);
	return fuzz_result(rc);
}
