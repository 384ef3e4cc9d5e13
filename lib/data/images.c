/* images.c - creating, writing and committing an images file (kind "images"). */
#include "data/images.h"
#include "core/error.h"
#include "image/nuisance.h"
#include "io/inputs.h"

#include <string.h>

int ct_images_create(ct_images_out *o, const char *path, int force)
{
	memset(o, 0, sizeof *o);
	if (ct_h5_create(&o->h, path, force) < 0)
		return -1;
	o->open = 1;
	return 0;
}

void ct_images_abort(ct_images_out *o)
{
	if (o->open)
		ct_h5_abort(&o->h);
	o->open = 0;
}

int ct_images_commit(ct_images_out *o, const char *fingerprint, const ct_shard *sh, int64_t total)
{
	if (!o->open)
		return ct_error("internal: images file not open");
	int rc = 0;
	if (fingerprint)
		rc = ct_h5_set_str(o->h.file, "input_fingerprint", fingerprint);
	if (rc == 0 && sh)
		rc = ct_shard_stamp(o->h.file, sh, total);
	if (rc < 0) {
		ct_images_abort(o);
		return -1;
	}
	o->open = 0;
	return ct_h5_commit(&o->h);
}

/* A whole N x ... tensor as a dataset chunked by rows, compressed in parallel. */
static int write_rows(hid_t f, const char *name, const ct_tensor *t, int compress)
{
	hid_t d = ct_h5_create_dataset(f, name, t->dtype, t->ndim, t->shape, 1, compress);
	int rc = d < 0 ? -1 : ct_h5_write_rows_z(d, 0, t, compress);
	if (d >= 0)
		H5Dclose(d);
	return rc;
}

int ct_images_write_converted(ct_images_out *o, const ct_converted *c, const ct_images_meta *m)
{
	if (!o->open)
		return ct_error("internal: images file not open");
	hid_t f = o->h.file;
	/* the images read, as one digest over their names and contents (data/convert.h) */
	int rc = ct_inputs_note(m->input, c->sources_sha256, c->nsources);
	if (rc == 0)
		rc = ct_file_stamp(f, "images", m->run, NULL, 0);
	if (rc == 0)
		rc = write_rows(f, "images", &c->images, m->compress);
	if (rc == 0)
		rc = ct_samples_write(f, &c->s);
	if (rc == 0)
		rc = ct_h5_write(f, "orig_size", &c->orig_size, 0, 0);
	if (rc == 0)
		rc = ct_h5_write(f, "nuisance", &c->nuisance, 0, 0);
	if (rc == 0)
		rc = ct_h5_write_strings(f, "nuisance_names", (char *const *)ct_nuisance_names, CT_NUISANCE_COUNT);
	if (rc == 0)
		rc = ct_h5_set_int(f, "skipped_count", c->nskipped);
	if (rc == 0)
		rc = ct_h5_write_strings(f, "skipped", c->skipped, c->nskipped);
	if (rc == 0 && c->lung_mask.data) {
		rc = write_rows(f, "lung_mask", &c->lung_mask, m->compress);
		if (rc == 0)
			rc = ct_h5_set_int(f, "lung_not_found", c->lung_not_found);
	}
	if (rc < 0) {
		ct_images_abort(o);
		return -1;
	}
	return ct_images_commit(o, m->fingerprint, m->shard, m->total);
}
