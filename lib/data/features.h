/* features.h - the features file: an N x D float32 matrix aligned with the sample
 * metadata, whose columns are described by blocks (which backbone, layer, pooling
 * and weights each column range came from). Written by ct-features and ct-fuse,
 * read by ct-fuse, ct-finetune and ct-score (docs/formats.md). */
#ifndef CT_FEATURES_H
#define CT_FEATURES_H

#include "data/dataset.h"

typedef struct ct_fblock {
	char *name;            /* e.g. "inception_v3/mixed5/avg" */
	char *backbone;        /* "inception_v3", or "user" for a user's own extractor */
	char *layer;
	char *pool;            /* "avg", "max", "none" */
	char *weights_sha256;  /* "" when unknown */
	int64_t start, width;  /* columns [start, start + width) */
} ct_fblock;

typedef struct ct_features {
	ct_samples s;
	ct_tensor x;           /* N x D, CT_F32 */
	int nblocks;
	ct_fblock *blocks;
	char **prov;
	int64_t nprov;
	int32_t *folds;        /* /folds (ct-split --folds): fold of each row, -1 none; NULL when absent */
} ct_features;

/* Read a whole features file (kind "features"), validated: blocks tile [0, D)
 * without gaps or overlap; NaN/Inf values are an error naming the sample.
 * Errors name the file. */
int ct_features_read(const char *path, ct_features *f);
/* Write the blocks group of an open file. */
int ct_fblocks_write(hid_t file, const ct_fblock *b, int n);
int ct_fblocks_read(hid_t file, ct_fblock **b, int *n);
void ct_fblocks_free(ct_fblock *b, int n);
/* Write a complete features file into the created `h` (not committed):
 * root stamp (kind "features"), samples, features, blocks. */
int ct_features_write(ct_h5 *h, const ct_features *f, const ct_run *run);
void ct_features_free(ct_features *f);
/* Keep only the blocks whose name or layer is in `list` (comma-separated), in the file's
 * order, rebuilding the columns. *matched (one flag per list entry, may be NULL) records
 * which entries matched a block. Returns the number of blocks kept, or -1. */
int ct_features_select(ct_features *f, const char *list, int *matched);

#endif
