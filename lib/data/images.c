/* images.c - the images file (kind "images"): open, validate, read; create, write, commit. */
#include "data/images.h"
#include "data/convert.h"
#include "core/error.h"
#include "image/nuisance.h"
#include "io/inputs.h"

#include <math.h>
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

int ct_images_open(ct_images *im, const char *path)
{
	memset(im, 0, sizeof *im);
	im->dset = H5I_INVALID_HID;
	if (ct_h5_open(&im->h, path) < 0)
		return -1;
	hid_t f = im->h.file;
	int nd;
	int64_t shape[CT_MAX_DIMS];
	if (ct_file_check(f, "images") < 0 || ct_samples_read(f, &im->s) < 0 ||
	    ct_provenance_read(f, &im->prov, &im->nprov) < 0 || ct_h5_shape(f, "images", &nd, shape) < 0)
		goto fail;
	if (nd != 4 || shape[0] != im->s.n || shape[1] < 1 || shape[2] < 1 || (shape[3] != 1 && shape[3] != 3)) {
		ct_error("dataset 'images' has shape %lldx%lldx%lldx%lld, expected %lld x H x W x 1|3",
			 (long long)shape[0], nd > 1 ? (long long)shape[1] : 0LL, nd > 2 ? (long long)shape[2] : 0LL,
			 nd > 3 ? (long long)shape[3] : 0LL, (long long)im->s.n);
		goto fail;
	}
	im->dset = H5Dopen2(f, "images", H5P_DEFAULT);
	if (im->dset < 0 || ct_h5_check_stored(im->dset, "images") < 0)
		goto fail;
	hid_t t = H5Dget_type(im->dset);
	if (H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 1)
		im->dtype = CT_U8;
	else if (H5Tget_class(t) == H5T_FLOAT)
		im->dtype = CT_F32;
	else {
		H5Tclose(t);
		ct_error("dataset 'images' has an unsupported element type");
		goto fail;
	}
	H5Tclose(t);
	im->n = shape[0];
	im->height = shape[1];
	im->width = shape[2];
	im->channels = shape[3];
	return 0;
fail:
	ct_error_prefix("'%s'", path);
	ct_images_close(im);
	return -1;
}

int ct_images_read(ct_images *im, int64_t start, ct_tensor *batch)
{
	if (ct_h5_read_rows(im->dset, start, batch) < 0)
		return ct_error_prefix("'%s': images", im->h.path);
	/* float pixels must be numbers: a NaN would pass through every stage unnoticed */
	if (batch->dtype == CT_F32 && im->dtype == CT_F32) {
		const float *p = batch->data;
		int64_t per = batch->shape[0] ? (int64_t)ct_tensor_numel(batch) / batch->shape[0] : 0;
		for (int64_t i = 0; i < batch->shape[0]; i++)
			for (int64_t k = 0; k < per; k++)
				if (!isfinite(p[i * per + k]))
					return ct_error("'%s': image '%s' (row %lld) has a NaN or infinite pixel",
							im->h.path, im->s.names[start + i], (long long)(start + i));
	}
	return 0;
}

void ct_images_close(ct_images *im)
{
	if (im->dset > 0)
		H5Dclose(im->dset);
	ct_samples_free(&im->s);
	ct_strings_free(im->prov, im->nprov);
	if (im->h.path || im->h.file > 0)
		ct_h5_close(&im->h);
	memset(im, 0, sizeof *im);
}
