/* dataset.h - the per-sample metadata every ctfuse file carries, the common root
 * attributes and provenance chain, and the images file (docs/formats.md).
 *
 * Every file has root attributes schema_version, kind, tool, tool_version,
 * command, params (JSON), and a /provenance string list: one JSON object per
 * stage that led to it, oldest first, the file's own stage last. The images file's own
 * module is data/images.h (included here). */
#ifndef CT_DATASET_H
#define CT_DATASET_H

#include "core/tensor.h"
#include "io/h5.h"

#include <stdint.h>

#define CT_SCHEMA_VERSION 1

/* Per-sample metadata, aligned with the rows of the file's main dataset. */
typedef struct ct_samples {
	int64_t n;
	int nclasses;
	char **class_names;  /* nclasses */
	int32_t *labels;     /* n; -1 = unlabelled */
	char **names;        /* n; unique sample names (image path relative to the root) */
	char **groups;       /* n; patient ids, "" when unknown */
	char **splits;       /* n; "train", "val", "test" or "" */
} ct_samples;

int ct_samples_alloc(ct_samples *s, int64_t n, int nclasses); /* strings NULL, labels 0 */
void ct_samples_free(ct_samples *s);
/* Copy row j of src into row i of dst (strings duplicated). Class lists must match. */
int ct_samples_copy_row(ct_samples *dst, int64_t i, const ct_samples *src, int64_t j);
int ct_samples_write(hid_t file, const ct_samples *s);
/* Read and validate: every list of length n, labels in [-1, nclasses), splits known. */
int ct_samples_read(hid_t file, ct_samples *s);
/* Count of samples per split name ("" for none) and class. */
int64_t ct_samples_count(const ct_samples *s, const char *split, int label);

/* What the running tool records about itself. */
typedef struct ct_run {
	const char *tool;     /* "ct-convert" */
	const char *command;  /* full command line */
	const char *params;   /* JSON object of every parameter */
} ct_run;

/* Root attributes and /provenance = upstream entries + this run. */
int ct_file_stamp(hid_t file, const char *kind, const ct_run *run, char *const *upstream, int64_t nup);
/* Check a file we read: schema version and kind ("images", "features", "model", ...;
 * NULL accepts any). Errors do not name the file (callers prefix). */
int ct_file_check(hid_t file, const char *want_kind);
int ct_provenance_read(hid_t file, char ***lines, int64_t *n);

/* The images file (kind "images"): its reader and writer. */
#include "data/images.h"

#endif
