/* fuzz_tfjs.c - the TF.js layers-model import (ct_tfjs_import_json, which ct_tfjs_import and
 * so ct-weights import run on model.json). The input is model.json's text, then optionally a
 * NUL byte and the bytes of the one shard file "s.bin" it may name (written beside it). */
#include "fuzz.h"
#include "formats/tfjs.h"

#include <sys/stat.h>

static char dir[512], shard[600];

static void remove_dir(void)
{
	unlink(shard);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/ctfuse-fuzz-tfjs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir)) {
			dir[0] = 0;
			return 0;
		}
		snprintf(shard, sizeof shard, "%s/s.bin", dir);
		atexit(remove_dir);
	}
	const uint8_t *nul = memchr(data, 0, size);
	size_t jlen = nul ? (size_t)(nul - data) : size;
	FILE *f = fopen(shard, "wb");
	if (!f)
		return 0;
	if (nul)
		fwrite(nul + 1, 1, size - jlen - 1, f);
	if (fclose(f) != 0)
		return 0;
	ct_weights w;
	int rc = ct_tfjs_import_json((const char *)data, jlen, dir, "model.json", &w);
	if (rc == 0)
		ct_weights_free(&w);
	return fuzz_result(rc);
}
