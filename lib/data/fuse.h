/* fuse.h - fusing the features files of several backbones for the same samples into
 * one features file: alignment checks, column concatenation with optional per-block
 * standardisation (train-split statistics) or L2 normalisation and per-input weights,
 * and the union of the inputs' provenance chains. Used by ct-fuse. */
#ifndef CT_FUSE_H
#define CT_FUSE_H

#include "data/features.h"

typedef enum ct_fuse_norm {
	CT_FUSE_NONE = 0,    /* plain concatenation */
	CT_FUSE_STANDARDIZE, /* per column: (x - mean) / std over the train rows */
	CT_FUSE_L2,          /* per block and sample: x / ||x||_2 */
} ct_fuse_norm;

typedef struct ct_fuse_opts {
	ct_fuse_norm norm;
	const double *weights; /* one per input (multiplies every block of it), or NULL: all 1 */
	const char *select;    /* ct_fuse_files: keep only these blocks (names or layers, comma-separated), or NULL */
} ct_fuse_opts;

/* What the fusion did, to be recorded in the output (ct_fuse_write_info). */
typedef struct ct_fuse_info {
	ct_fuse_norm norm;
	int64_t d;            /* columns */
	double *mean, *std;   /* d; standardisation statistics (NULL unless CT_FUSE_STANDARDIZE) */
	int64_t ntrain;       /* rows the statistics came from */
	int nblocks;
	double *block_weight; /* nblocks: the weight applied to each output block */
	int *block_input;     /* nblocks: index of the input each block came from */
} ct_fuse_info;

/* Check that b lines up with a: same sample count, class names, and per sample the
 * same name, label, split and group, in the same order. The error names the first
 * mismatch: "'b.h5': sample 17 is 'x.png', expected 'y.png' (as in 'a.h5')". */
int ct_fuse_check_aligned(const ct_features *a, const char *apath, const ct_features *b, const char *bpath);

/* Fuse n >= 1 aligned inputs into out (samples copied from the first input, blocks
 * concatenated in input order, provenance = the union of the inputs' chains, in
 * order of first appearance). Block names must be unique across all inputs. */
int ct_fuse(const ct_features *in, const char *const *paths, int n, const ct_fuse_opts *o, ct_features *out,
	    ct_fuse_info *info);

/* Write the group /fuse: attribute norm ("none", "standardize", "l2"), datasets
 * weight (float64, B), input (int32, B), and for standardize mean, std (float64, D)
 * with attribute train_rows. */
int ct_fuse_write_info(hid_t file, const ct_fuse_info *info);
void ct_fuse_info_free(ct_fuse_info *info);

/* ct-fuse: claim and create `out_path` first (an existing or unwritable output fails at
 * once), read the n inputs, keep the blocks o->select names (every input must keep one and
 * every name must match a block of some input: usage errors otherwise), fuse, and write the
 * features file with its /fuse group, committed or left out. *nsamples, *nblocks and
 * *ncolumns describe the output. */
int ct_fuse_files(char *const *paths, int n, const ct_fuse_opts *o, const char *out_path, int force,
		  const ct_run *run, int64_t *nsamples, int *nblocks, int64_t *ncolumns);

/* Parse "1,0.5,2" into exactly n finite values (> 0). */
int ct_parse_weights(const char *s, double *w, int n);

const char *ct_fuse_norm_name(ct_fuse_norm n);

#endif
