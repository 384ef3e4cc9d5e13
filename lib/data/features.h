/* features.h - the features file: an N x D float32 matrix aligned with the sample
 * metadata, whose columns are described by blocks (which backbone, layer, pooling
 * and weights each column range came from). Written by ct-features and ct-fuse,
 * read by ct-fuse, ct-finetune and ct-score (docs/formats.md). */
#ifndef CT_FEATURES_H
#define CT_FEATURES_H

#include "data/dataset.h"

struct ct_shard;

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
/* ---- writing a features file row by row (ct-features: resumable, sharded) ---- */

/* The layout of a features file being extracted: root stamp and attributes, samples, blocks,
 * the N x D /features dataset, and with a cut the /activations maps (activations.h). */
typedef struct ct_features_layout {
	const ct_run *run;
	char *const *prov;                 /* the input's provenance */
	int64_t nprov;
	const ct_samples *rows;            /* the rows written (this shard's) */
	const ct_fblock *blocks;
	int nblocks;
	int64_t width;                     /* D */
	const char *backbone, *weights_sha256, *layers, *pooling, *preprocessing;
	int input_size;
	const char *fingerprint;           /* ct_features_fingerprint: a resume must match it */
	const struct ct_shard *shard;      /* shard.h */
	const char *shard_spec;            /* "K/N" as given, or NULL */
	int64_t input_rows;                /* rows of the whole input */
	int64_t chunk_rows;                /* /features chunk rows (the batch) */
	const char *cut_layer, *cut_dtype; /* NULL without --cut */
	int cut_h, cut_w, cut_c, cut_f16;
} ct_features_layout;

typedef struct ct_features_out {
	ct_h5 h;
	hid_t features, activations;       /* datasets to write rows into (activations: with a cut) */
	int64_t start;                     /* rows already done (a resumed run) */
	int resumed;                       /* an existing partial file was reopened */
	int open;
} ct_features_out;

/* The fingerprint of an input and the settings of an extraction (hex sha256 of the input's
 * names, run identity, pixel checksum, the weights' sha256 and the settings string). */
void ct_features_fingerprint(const ct_images *in, const char *weights_sha256, const char *settings, char hex[65]);
/* Create path's partial file (io/h5.h ct_h5_create_partial) and write the layout, or with
 * `resume` reopen an existing partial file of the same fingerprint and shard (o->start = the
 * rows it holds; an error naming PATH.partial when it is from another input or settings, the
 * partial file kept). */
int ct_features_out_create(ct_features_out *o, const char *path, int force, int resume, const ct_features_layout *l);
/* Close the datasets and commit, or abandon (the partial file removed). */
int ct_features_out_commit(ct_features_out *o);
void ct_features_out_abort(ct_features_out *o);

/* Keep only the blocks whose name or layer is in `list` (comma-separated), in the file's
 * order, rebuilding the columns. *matched (one flag per list entry, may be NULL) records
 * which entries matched a block. Returns the number of blocks kept, or -1. */
int ct_features_select(ct_features *f, const char *list, int *matched);

#endif
