/* images.h - the images file (kind "images", docs/formats.md): opened, validated and read
 * in row batches; created before the long work (so an existing or unwritable output fails at
 * once), written from a conversion (ct-convert) or row by row (ct-augment, data/augment.h),
 * stamped with the input's identity (input_fingerprint, shard attributes) and committed, or
 * abandoned leaving nothing. data/dataset.h includes this header. */
#ifndef CT_IMAGES_H
#define CT_IMAGES_H

#include "data/dataset.h"
#include "data/shard.h"

struct ct_converted;

/* An images file opened for streaming reads. */
typedef struct ct_images {
	ct_h5 h;
	hid_t dset;
	int64_t n, height, width, channels;
	ct_dtype dtype;        /* CT_U8 or CT_F32 */
	ct_samples s;
	char **prov;
	int64_t nprov;
} ct_images;

/* Open `path` ('-': standard input, held) and validate it: kind "images", the sample lists,
 * the provenance, /images of N x H x W x 1|3 uint8 or float32. Errors name the file. */
int ct_images_open(ct_images *im, const char *path);
/* Read images [start, start + batch->shape[0]) into a preallocated
 * count x H x W x C tensor of the file's dtype. */
int ct_images_read(ct_images *im, int64_t start, ct_tensor *batch);
void ct_images_close(ct_images *im);

/* The default deflate level of /images (and /lung_mask): fast, and most of the gain. */
enum { CT_IMAGES_COMPRESS = 1 };

/* An images file being written. */
typedef struct ct_images_out {
	ct_h5 h;
	int open;
} ct_images_out;

/* Claim and create `path` ('-': standard output) under a temporary name (io/h5.h). */
int ct_images_create(ct_images_out *o, const char *path, int force);
/* Record the input's identity (root attributes input_fingerprint, unless NULL, and the shard
 * attributes of shard `sh` of `total` units, when sharded) and commit; on failure the file
 * is abandoned. */
int ct_images_commit(ct_images_out *o, const char *fingerprint, const ct_shard *sh, int64_t total);
/* Abandon the file (its temporary file removed); nothing when not open. */
void ct_images_abort(ct_images_out *o);

/* What ct-convert records beside the converted rows. */
typedef struct ct_images_meta {
	const ct_run *run;
	const char *input;        /* the input as recorded with the sources' digest (io/inputs.h) */
	const char *fingerprint;  /* input_fingerprint: ct_shard_fingerprint_sources */
	const ct_shard *shard;    /* this run's shard of `total` image files (n = 0: unsharded) */
	int64_t total;
	int compress;             /* deflate level of /images and /lung_mask */
} ct_images_meta;

/* Write a conversion into the created file and commit it (abandoned on failure): the root
 * stamp (kind "images"), /images, the sample lists, /orig_size, /nuisance and
 * /nuisance_names, /skipped and skipped_count, /lung_mask and lung_not_found when the
 * conversion made a mask, and the input's identity. */
int ct_images_write_converted(ct_images_out *o, const struct ct_converted *c, const ct_images_meta *m);

#endif
