/* images.h - writing the images file (kind "images", docs/formats.md): created before the
 * long work (so an existing or unwritable output fails at once), written from a conversion
 * (ct-convert) or row by row (ct-augment, data/augment.h), stamped with the input's identity
 * (input_fingerprint, shard attributes) and committed, or abandoned leaving nothing.
 * The reader (ct_images_open/read/close) is declared in data/dataset.h. */
#ifndef CT_IMAGES_H
#define CT_IMAGES_H

#include "data/convert.h"
#include "data/dataset.h"
#include "data/shard.h"

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
int ct_images_write_converted(ct_images_out *o, const ct_converted *c, const ct_images_meta *m);

#endif
