/* augment.c - block-streamed random affine augmentation of an images file. */
#include "data/augment.h"
#include "core/error.h"
#include "data/images.h"
#include "image/lung.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK 64 /* input rows per block: bounds memory for any data set size */

static int augmented(const ct_augment_opts *o, const ct_images *in, int64_t i)
{
	return o->copies > 0 && (o->all || !strcmp(in->s.splits[i], "train"));
}

int ct_augment_run(ct_images *in, ct_h5 *out, const ct_augment_opts *o, const ct_run *run, int64_t *nout)
{
	int64_t H = in->height, W = in->width, C = in->channels;
	/* Input rows [i0, i0 + n); first[] is indexed from i0, row numbers stay global. */
	int64_t i0 = o->row1 > 0 || o->row0 > 0 ? o->row0 : 0, n = o->row1 > 0 || o->row0 > 0 ? o->row1 - o->row0 : in->n;
	if (i0 < 0 || n < 0 || i0 + n > in->n)
		return ct_error("internal: row range outside the input");
	int64_t *first = malloc(((size_t)n + 1) * sizeof *first);
	if (!first)
		return ct_error("out of memory");
	first[0] = 0;
	for (int64_t i = 0; i < n; i++)
		first[i + 1] = first[i] + 1 + (augmented(o, in, i0 + i) ? o->copies : 0);
	int64_t total = first[n];
	*nout = total;

	ct_samples s;
	ct_tensor src_ix = { 0 }, affine = { 0 }, orig = { 0 }, orig_out = { 0 }, inb = { 0 }, outb = { 0 };
	ct_tensor photo = { 0 }, inm = { 0 }, outm = { 0 };
	hid_t f = out->file, dset = H5I_INVALID_HID, mset_in = H5I_INVALID_HID, mset = H5I_INVALID_HID;
	int photometric = ct_photo_enabled(&o->ph);
	int rc = ct_samples_alloc(&s, total, in->s.nclasses);
	int64_t aff_shape[3] = { total, 2, 3 }, ix_shape[1] = { total };
	if (rc == 0 && (ct_tensor_alloc(&src_ix, CT_I64, 1, ix_shape) < 0 ||
			ct_tensor_alloc(&affine, CT_F64, 3, aff_shape) < 0 ||
			(photometric && ct_tensor_alloc3(&photo, CT_F64, total, 5, 1) < 0)))
		rc = -1;
	if (photo.data)
		photo.ndim = 2;
	for (int c = 0; rc == 0 && c < s.nclasses; c++)
		if (!(s.class_names[c] = strdup(in->s.class_names[c])))
			rc = ct_error("out of memory");
	for (int64_t i = 0; rc == 0 && i < n; i++)
		for (int64_t r = first[i]; rc == 0 && r < first[i + 1]; r++) {
			((int64_t *)src_ix.data)[r] = i0 + i;
			rc = ct_samples_copy_row(&s, r, &in->s, i0 + i);
			if (rc == 0 && r > first[i]) {
				size_t len = strlen(in->s.names[i0 + i]) + 24;
				char *nm = malloc(len);
				if (!nm) {
					rc = ct_error("out of memory");
					break;
				}
				snprintf(nm, len, "%s#aug%lld", in->s.names[i0 + i], (long long)(r - first[i]));
				free(s.names[r]);
				s.names[r] = nm;
			}
		}
	if (rc == 0 && ct_h5_exists(in->h.file, "orig_size")) {
		rc = ct_h5_read(in->h.file, "orig_size", CT_I32, &orig);
		if (rc == 0 && (orig.ndim != 2 || orig.shape[0] != in->n || orig.shape[1] != 2))
			rc = ct_error("'%s': dataset 'orig_size' does not match the images", in->h.path);
		if (rc == 0 && ct_tensor_alloc3(&orig_out, CT_I32, total, 2, 1) == 0) {
			orig_out.ndim = 2;
			for (int64_t r = 0; r < total; r++)
				memcpy((int32_t *)orig_out.data + 2 * r,
				       (int32_t *)orig.data + 2 * ((int64_t *)src_ix.data)[r], 2 * sizeof(int32_t));
		} else if (rc == 0) {
			rc = -1;
		}
	}
	int64_t shape[4] = { total, H, W, C };
	if (rc == 0) {
		dset = ct_h5_create_dataset(f, "images", in->dtype, 4, shape, 1, o->compress);
		if (dset < 0)
			rc = -1;
	}
	int64_t maxout = 0;
	for (int64_t b = 0; b < n; b += BLOCK) {
		int64_t e = b + BLOCK < n ? b + BLOCK : n;
		if (first[e] - first[b] > maxout)
			maxout = first[e] - first[b];
	}
	if (rc == 0 && (ct_tensor_alloc4(&inb, in->dtype, BLOCK < n ? BLOCK : n, H, W, C) < 0 ||
			ct_tensor_alloc4(&outb, in->dtype, maxout, H, W, C) < 0))
		rc = -1;
	/* the lung field (ct-convert --lung-mask ...) follows its image through the warp */
	if (rc == 0 && ct_h5_exists(in->h.file, "lung_mask")) {
		int nd = 0;
		int64_t msh[CT_MAX_DIMS];
		if (ct_h5_shape(in->h.file, "lung_mask", &nd, msh) < 0 || nd != 3 || msh[0] != in->n || msh[1] != H ||
		    msh[2] != W)
			rc = ct_error("'%s': dataset 'lung_mask' does not match the images", in->h.path);
		if (rc == 0 && (mset_in = H5Dopen2(in->h.file, "lung_mask", H5P_DEFAULT)) < 0)
			rc = ct_error("'%s': cannot open dataset 'lung_mask'", in->h.path);
		int64_t osh[3] = { total, H, W };
		if (rc == 0 && (mset = ct_h5_create_dataset(f, "lung_mask", CT_U8, 3, osh, 1, o->compress)) < 0)
			rc = -1;
		if (rc == 0 && (ct_tensor_alloc3(&inm, CT_U8, BLOCK < n ? BLOCK : n, H, W) < 0 ||
				ct_tensor_alloc3(&outm, CT_U8, maxout, H, W) < 0))
			rc = -1;
	}
	double *A = affine.data;
	for (int64_t b = 0; rc == 0 && b < n; b += BLOCK) {
		int64_t e = b + BLOCK < n ? b + BLOCK : n;
		ct_tensor iv = ct_tensor_slice0(&inb, 0, e - b);
		if (ct_images_read(in, i0 + b, &iv) < 0) {
			rc = -1;
			break;
		}
		ct_tensor mv = ct_tensor_slice0(&inm, 0, e - b);
		if (mset >= 0 && ct_h5_read_rows(mset_in, i0 + b, &mv) < 0) {
			rc = ct_error_prefix("'%s': lung_mask", in->h.path);
			break;
		}
		int64_t r0 = first[b], r1 = first[e];
		int failed = 0;
#pragma omp parallel for schedule(dynamic, 4) reduction(| : failed)
		for (int64_t r = r0; r < r1; r++) {
			int64_t i = ((int64_t *)src_ix.data)[r] - i0, k = r - first[i];
			ct_tensor src = ct_tensor_slice0(&inb, i - b, 1), dst = ct_tensor_slice0(&outb, r - r0, 1);
			src.ndim = dst.ndim = 3;
			for (int d = 0; d < 3; d++) {
				src.shape[d] = src.shape[d + 1];
				src.stride[d] = src.stride[d + 1];
				dst.shape[d] = dst.shape[d + 1];
				dst.stride[d] = dst.stride[d + 1];
			}
			double *m = A + 6 * r;
			size_t plane = (size_t)H * (size_t)W;
			uint8_t *msrc = mset >= 0 ? (uint8_t *)inm.data + (size_t)(i - b) * plane : NULL;
			uint8_t *mdst = mset >= 0 ? (uint8_t *)outm.data + (size_t)(r - r0) * plane : NULL;
			ct_photo_transform pt;
			ct_photo_identity(&pt);
			if (k == 0) {
				ct_affine_identity(m);
				memcpy(dst.data, src.data, ct_tensor_nbytes(&src));
				if (mdst)
					memcpy(mdst, msrc, plane);
			} else {
				ct_rng rng;
				ct_rng_init(&rng, o->seed, ((uint64_t)(i0 + i) << 20) | (uint64_t)k);
				ct_augment_sample(&o->p, &rng, (int)H, (int)W, m);
				if (ct_warp_affine(&src, m, o->p.fill, o->p.cval, &dst) < 0)
					failed = 1;
				if (mdst && ct_warp_mask_nearest(msrc, (int)H, (int)W, m, (int)o->p.fill, mdst) < 0)
					failed = 1;
				if (photometric) {
					ct_photo_random(&o->ph, &rng, &pt);
					if (ct_photo_apply(&pt, &rng, &dst) < 0)
						failed = 1;
				}
			}
			if (photometric) {
				double *ph = (double *)photo.data + 5 * r;
				ph[0] = pt.contrast, ph[1] = pt.gamma, ph[2] = pt.noise_sd, ph[3] = pt.blur_sigma, ph[4] = pt.scale;
			}
		}
		if (failed) {
			rc = ct_error("warp failed");
			break;
		}
		ct_tensor ov = ct_tensor_slice0(&outb, 0, r1 - r0);
		if (ct_h5_write_rows_z(dset, r0, &ov, o->compress) < 0)
			rc = ct_error_prefix("cannot write images");
		ct_tensor om = ct_tensor_slice0(&outm, 0, r1 - r0);
		if (rc == 0 && mset >= 0 && ct_h5_write_rows_z(mset, r0, &om, o->compress) < 0)
			rc = ct_error_prefix("cannot write lung_mask");
		if (rc == 0 && o->progress)
			o->progress(o->progress_ctx, r1, total);
	}
	if (dset >= 0)
		H5Dclose(dset);
	if (mset >= 0)
		H5Dclose(mset);
	if (mset_in >= 0)
		H5Dclose(mset_in);
	if (rc == 0)
		rc = ct_file_stamp(f, "images", run, in->prov, in->nprov);
	if (rc == 0)
		rc = ct_samples_write(f, &s);
	if (rc == 0)
		rc = ct_h5_write(f, "source_index", &src_ix, 0, 0);
	if (rc == 0)
		rc = ct_h5_write(f, "affine", &affine, 0, 0);
	if (rc == 0 && orig_out.data)
		rc = ct_h5_write(f, "orig_size", &orig_out, 0, 0);
	if (rc == 0 && photo.data)
		rc = ct_h5_write(f, "photometric", &photo, 0, 0);
	ct_samples_free(&s);
	ct_tensor_free(&src_ix);
	ct_tensor_free(&affine);
	ct_tensor_free(&orig);
	ct_tensor_free(&orig_out);
	ct_tensor_free(&inb);
	ct_tensor_free(&outb);
	ct_tensor_free(&photo);
	ct_tensor_free(&inm);
	ct_tensor_free(&outm);
	free(first);
	return rc;
}

int ct_augment_file(ct_images *in, const char *out_path, int force, ct_augment_opts *o, const ct_shard *sh,
		    const ct_run *run, int64_t *nout)
{
	ct_shard whole = { 0, 0 };
	if (!sh)
		sh = &whole;
	ct_images_out out;
	if (ct_shard_check(sh, in->n, "input rows") < 0 || ct_images_create(&out, out_path, force) < 0)
		return -1;
	ct_shard_range(sh, in->n, &o->row0, &o->row1);
	if (ct_augment_run(in, &out.h, o, run, nout) < 0) {
		ct_images_abort(&out);
		return -1;
	}
	char fp[65];
	ct_shard_fingerprint_images(in, fp);
	return ct_images_commit(&out, fp, sh, in->n);
}

void ct_augment_opts_default(ct_augment_opts *o)
{
	memset(o, 0, sizeof *o);
	ct_augment_defaults(&o->p);
	ct_photo_defaults(&o->ph);
	o->copies = 10;
	o->seed = 42;
	o->compress = CT_IMAGES_COMPRESS;
}
