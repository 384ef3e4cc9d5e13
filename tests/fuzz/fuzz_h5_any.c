/* fuzz_h5_any.c - what every tool reads of any ctfuse file, and all ct-info reads of a scores
 * file (the one kind no tool reads further): the root stamp (ct_file_check), the per-sample
 * metadata (ct_samples_read), the provenance (ct_provenance_read), and the content checksums
 * (ct_h5_checksum_verify, as ct-info --verify). */
#include "fuzz.h"
#include "data/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_h5_init();
	ct_h5_trailer_check_buf(data, size); /* the whole-file checksum, as an open with verification */
	const char *path = fuzz_file(data, size, ".h5");
	ct_h5 h;
	if (!path)
		return 0;
	if (ct_h5_open(&h, path) < 0)
		return fuzz_result(-1);
	int rc = ct_file_check(h.file, NULL);
	if (rc == 0) {
		ct_samples s;
		if (ct_h5_exists(h.file, "names") && (rc = ct_samples_read(h.file, &s)) == 0)
			ct_samples_free(&s);
		char **prov = NULL;
		int64_t nprov = 0;
		if (rc == 0 && (rc = ct_provenance_read(h.file, &prov, &nprov)) == 0)
			ct_strings_free(prov, nprov);
	}
	int64_t nchecked = 0;
	if (ct_h5_checksum_verify(h.file, &nchecked) < 0)
		rc = -1;
	ct_h5_close(&h);
	return fuzz_result(rc);
}
