/* augment.h - expand the training images of an images file with random affine
 * copies (Keras ImageDataGenerator-style), streaming in blocks. Every output row
 * records its source row and the 2x3 matrix that produced it, so any augmented
 * image can be reproduced from the input file alone. */
#ifndef CT_AUGMENT_H
#define CT_AUGMENT_H

#include "data/dataset.h"
#include "image/photometric.h"
#include "image/warp.h"

typedef struct ct_augment_opts {
	ct_augment_params p;
	ct_photo_params ph;  /* photometric perturbations of the copies, after the warp */
	int copies;       /* random copies per augmented image; originals are always kept */
	uint64_t seed;
	int all;          /* augment every split, not only "train" */
	int compress;     /* deflate level of the images dataset */
	int64_t row0, row1; /* only input rows [row0, row1) (--shard); row1 = 0: every row */
	/* called with (ctx, output rows done, output rows) after each block; may be NULL */
	void (*progress)(void *ctx, int64_t done, int64_t total);
	void *progress_ctx;
} ct_augment_opts;

/* The defaults: no transform (ct_augment_defaults, ct_photo_defaults), 10 copies, seed 42,
 * every row, deflate level 1. */
void ct_augment_opts_default(ct_augment_opts *o);

/* Read `in`, write the augmented file into the created (not committed) `out`.
 * Output order: each input row, followed by its copies. Copy k of input row i
 * draws its transform from rng stream (seed, i << 20 | k), so the result is
 * byte-identical for any thread count: the eight uniforms of the affine transform,
 * then (with photometric options) the five of ct_photo_random and the noise.
 * A /lung_mask in the input is warped along (nearest neighbour).
 * With a row range, output rows are those rows and their copies, source_index and the
 * random streams keep the input's row numbers: the shards of a run, in order, are the
 * rows of the unsharded output. */
int ct_augment_run(ct_images *in, ct_h5 *out, const ct_augment_opts *o, const ct_run *run, int64_t *nout);

/* ct-augment: shard `sh` of the input's rows (NULL or n = 0: every row; an empty shard is an
 * error), written to `out_path` (data/images.h: created before the work, committed with the
 * input's fingerprint and the shard attributes, nothing left on failure). o->row0/row1 are
 * set from the shard. */
struct ct_shard;
int ct_augment_file(ct_images *in, const char *out_path, int force, ct_augment_opts *o, const struct ct_shard *sh,
		    const ct_run *run, int64_t *nout);

#endif
