/* inputs.h - the files a run read and their SHA-256, for its provenance entry ("inputs" in
 * docs/formats.md). ct_h5_open notes every HDF5 file it opens for reading; a tool notes
 * others itself (ct-convert: one digest over all its images).
 *
 * The digest of an HDF5 file with our checksum trailer (io/h5.h) is the one the trailer holds,
 * the SHA-256 of every byte before the trailer (`head -c -48 FILE | sha256sum`; checked on
 * open unless --no-verify), so recording it costs 48 bytes of reading; any other file is
 * hashed whole (`sha256sum FILE`). */
#ifndef CT_INPUTS_H
#define CT_INPUTS_H

#include <stddef.h>
#include <stdint.h>

/* Note an input: `path` as given, its digest (64 hex digits), and for a digest over a set of
 * files their count (`nfiles` >= 0; -1 for a single file). A path noted again replaces its
 * record. 0, or -1 with "out of memory". Thread-safe. */
int ct_inputs_note(const char *path, const char *sha256_hex, int64_t nfiles);
/* Note an HDF5 input by path (regular file) or from its bytes in memory (buf != NULL, e.g.
 * standard input): the trailer's digest when it has one, else the SHA-256 of all its bytes. */
int ct_inputs_note_h5(const char *path, const void *buf, size_t len);
/* The digest noted for `path` into hex: 1, or 0 when it was not noted. */
int ct_inputs_get(const char *path, char hex[65]);
/* The notes so far, oldest first, as a JSON array of {"path": P, "sha256": H} (plus "files": N
 * for a set); NULL when there are none (or out of memory). malloc'd. */
char *ct_inputs_json(void);
/* Forget every note (tests; a tool process notes for its one run). */
void ct_inputs_clear(void);

#endif
