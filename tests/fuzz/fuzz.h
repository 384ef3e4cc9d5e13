/* fuzz.h - shared by the libFuzzer harnesses (tests/fuzz/README.md): the input written to a
 * per-process temporary file, for the readers that take a path (HDF5, NIfTI, DICOM), called
 * exactly as the tools call them. A harness is built either with -fsanitize=fuzzer (make fuzz)
 * or with replay.c's main (make check replays the seed and regression corpora). */
#ifndef CT_FUZZ_H
#define CT_FUZZ_H

#include "core/error.h"
#include "io/h5.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path[512];

static void fuzz_cleanup(void)
{
	if (fuzz_path[0])
		unlink(fuzz_path);
}

/* Write data to a temporary file named once per process ($TMPDIR/ctfuse-fuzz-PID.SUFFIX,
 * removed at exit). Returns its path; NULL on failure (the input is then skipped). */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
	if (!fuzz_path[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(fuzz_path, sizeof fuzz_path, "%s/ctfuse-fuzz-%ld%s", tmp && *tmp ? tmp : "/tmp",
			 (long)getpid(), suffix);
		atexit(fuzz_cleanup);
	}
	FILE *f = fopen(fuzz_path, "wb");
	if (!f)
		return NULL;
	size_t w = size ? fwrite(data, 1, size, f) : 0;
	if (fclose(f) != 0 || w != size)
		return NULL;
	return fuzz_path;
}

/* With CT_FUZZ_VERBOSE set (replay), say whether the reader accepted the input or why not:
 * the seeds must be accepted, or fuzzing starts from the reader's first check. */
static inline int fuzz_result(int rc)
{
	if (getenv("CT_FUZZ_VERBOSE"))
		fprintf(stderr, "%s%s\n", rc < 0 ? "refused: " : "accepted", rc < 0 ? ct_last_error() : "");
	return 0;
}

/* The HDF5 readers: HDF5 quiet; the whole-file checksum off (as with --no-verify), since a
 * mutated input never matches its SHA-256 and would stop at that check before any parsing. */
static inline void fuzz_h5_init(void)
{
	ct_h5_init();
	ct_h5_set_verify(0);
}

#endif
