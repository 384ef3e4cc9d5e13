/* extract.c - batched feature extraction from an images file into a features dataset. */
#include "data/extract.h"
#include "data/activations.h"
#include "data/lungpool.h"
#include "nn/ops.h"
#include "core/error.h"
#include "image/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ct_extract_check(const ct_extract *x)
{
	const ct_images *in = x->in;
	if (in->channels != 1 && in->channels != 3)
		return ct_error("'%s': images have %lld channels, the backbone needs 3 (or 1, replicated)",
				in->h.path, (long long)in->channels);
	if ((in->height != x->in_h || in->width != x->in_w) && !x->resize)
		return ct_error("'%s': images are %lldx%lld but the backbone expects %dx%d; convert with "
				"--size %d%s, or pass --resize to resize them here",
				in->h.path, (long long)in->width, (long long)in->height, x->in_w, x->in_h, x->in_w,
				x->in_w == x->in_h ? "" : "x...");
	if (x->lung) {
		int nd = 0;
		int64_t sh[CT_MAX_DIMS];
		if (!ct_h5_exists(in->h.file, "lung_mask"))
			return ct_error("'%s' has no /lung_mask to pool over (convert with ct-convert --lung-mask)", in->h.path);
		if (ct_h5_shape(in->h.file, "lung_mask", &nd, sh) < 0 ||
		    !((nd == 3 || (nd == 4 && sh[3] == 1)) && sh[0] == in->n && sh[1] == in->height && sh[2] == in->width))
			return ct_error("'%s': dataset 'lung_mask' is not %lld x %lld x %lld (one mask per image)", in->h.path,
					(long long)in->n, (long long)in->height, (long long)in->width);
		hid_t d = H5Dopen2(in->h.file, "lung_mask", H5P_DEFAULT);
		hid_t ty = d >= 0 ? H5Dget_type(d) : H5I_INVALID_HID;
		int good = ty >= 0 && H5Tget_class(ty) == H5T_INTEGER && H5Tget_size(ty) == 1;
		if (ty >= 0)
			H5Tclose(ty);
		if (d >= 0)
			H5Dclose(d);
		if (!good)
			return ct_error("'%s': dataset 'lung_mask' is not uint8", in->h.path);
	}
	return 0;
}

/* Pool a batch's raw output v (cnt x h x w x c) over each image's lung field (masks: cnt x H x W)
 * into pooled (cnt x c). */
static int lung_pool_batch(const ct_extract *x, const ct_tensor *v, int64_t cnt, const uint8_t *masks, float *pooled)
{
	int64_t H = x->in->height, W = x->in->width;
	int h = (int)v->shape[1], w = (int)v->shape[2], c = (int)v->shape[3];
	int64_t hw = (int64_t)h * w;
	int oom = 0;
#pragma omp parallel for schedule(static) reduction(| : oom)
	for (int64_t r = 0; r < cnt; r++) {
		double *wt = malloc(((size_t)hw + 1) * sizeof *wt);
		if (!wt) {
			oom = 1;
			continue;
		}
		ct_lung_weights(masks + r * H * W, H, W, h, w, wt);
		ct_lung_pool(x->pool == CT_POOL_MAX, (const float *)v->data + r * hw * c, hw, c, wt, pooled + r * c);
		free(wt);
	}
	return oom ? ct_error("out of memory") : 0;
}

/* Bring row r of the read batch to a uint8 H x W x 3 backbone input. */
static int prepare(const ct_extract *x, const ct_tensor *rows, int64_t r, uint8_t *dst, float *scratch)
{
	const ct_images *in = x->in;
	int64_t H = in->height, W = in->width, C = in->channels, npx = H * W;
	int same = H == x->in_h && W == x->in_w;
	if (in->dtype == CT_F32) {
		const float *src = (const float *)rows->data + r * npx * C;
		for (int64_t i = 0; i < npx * C; i++)
			if (!isfinite(src[i]))
				return ct_error("sample '%s' has NaN or Inf pixel values", in->s.names[0] ? "?" : "?");
	}
	if (same && in->dtype == CT_U8 && C == 3) {
		memcpy(dst, (const uint8_t *)rows->data + r * npx * 3, (size_t)npx * 3);
		return 0;
	}
	/* General path: to float [0,1] 3 channels, resize if needed, quantise. */
	ct_tensor f = ct_tensor_wrap(scratch, CT_F32, 3, (int64_t[]){ H, W, 3 });
	float *fp = scratch;
	for (int64_t i = 0; i < npx; i++)
		for (int c = 0; c < 3; c++) {
			int64_t k = i * C + (C == 3 ? c : 0);
			fp[i * 3 + c] = in->dtype == CT_U8 ? ((const uint8_t *)rows->data)[r * npx * C + k] / 255.0f
							   : ((const float *)rows->data)[r * npx * C + k];
		}
	ct_tensor res = { 0 };
	const float *q = fp;
	if (!same) {
		if (ct_resize(&f, x->in_h, x->in_w, CT_FIT_STRETCH, CT_FILTER_AREA, 0.0f, &res) < 0)
			return -1;
		q = res.data;
	}
	int64_t m = (int64_t)x->in_h * x->in_w * 3;
	for (int64_t i = 0; i < m; i++) {
		float v = q[i] * 255.0f + 0.5f;
		dst[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
	}
	ct_tensor_free(&res);
	return 0;
}

int ct_extract_run(ct_extract *x, int64_t start)
{
	ct_images *in = x->in;
	int64_t r0 = x->row1 > 0 ? x->row0 : 0, n = x->row1 > 0 ? x->row1 - x->row0 : in->n, B = x->batch;
	int no = ct_net_noutputs(x->net);
	int64_t D = 0;
	ct_tensor rows = { 0 }, batch = { 0 }, feats = { 0 };
	float *scratch = NULL, *pooled = NULL;
	int64_t pooled_n = 0;
	int rc = 0;
	/* --pool lung-*: the masks of the batch, the fallback rows */
	ct_tensor masks = { 0 }, fbrows = { 0 };
	hid_t mask_d = H5I_INVALID_HID, fb_d = H5I_INVALID_HID;
	int mask_nd = 3;
	/* The feature dimension: sum of the outputs' flattened sizes (known after a run,
	 * so take it from the dataset). */
	hid_t sp = H5Dget_space(x->dset);
	hsize_t dims[2];
	H5Sget_simple_extent_dims(sp, dims, NULL);
	H5Sclose(sp);
	D = (int64_t)dims[1];
	if (ct_tensor_alloc4(&rows, in->dtype, B, in->height, in->width, in->channels) < 0 ||
	    ct_tensor_alloc4(&batch, CT_U8, B, x->in_h, x->in_w, 3) < 0 ||
	    ct_tensor_alloc3(&feats, CT_F32, B, D, 1) < 0)
		rc = -1;
	feats.ndim = 2;
	if (rc == 0 && x->lung) {
		int64_t sh[CT_MAX_DIMS], N = (int64_t)dims[0];
		if (ct_h5_shape(in->h.file, "lung_mask", &mask_nd, sh) < 0 ||
		    (mask_d = H5Dopen2(in->h.file, "lung_mask", H5P_DEFAULT)) < 0)
			rc = ct_error_prefix("'%s': lung_mask", in->h.path);
		else if (ct_tensor_alloc4(&masks, CT_U8, B, in->height, in->width, 1) < 0 ||
			 ct_tensor_alloc3(&fbrows, CT_U8, B, 1, 1) < 0)
			rc = -1;
		else if (ct_h5_exists(x->file, "lung_pool_fallback"))
			fb_d = H5Dopen2(x->file, "lung_pool_fallback", H5P_DEFAULT);
		else
			fb_d = ct_h5_create_dataset(x->file, "lung_pool_fallback", CT_U8, 1, &N, 0, 0);
		if (rc == 0 && fb_d < 0)
			rc = ct_error_prefix("cannot write the features: lung_pool_fallback");
		masks.ndim = mask_nd;
		fbrows.ndim = 1;
	}
	size_t scratch_n = (size_t)in->height * (size_t)in->width * 3;
	if (rc == 0 && !(scratch = malloc(scratch_n * sizeof *scratch * (size_t)B)))
		rc = ct_error("out of memory");
	for (int64_t b = start; rc == 0 && b < n; b += B) {
		int64_t cnt = b + B <= n ? B : n - b;
		ct_tensor rv = ct_tensor_slice0(&rows, 0, cnt);
		if (ct_images_read(in, r0 + b, &rv) < 0) {
			rc = -1;
			break;
		}
		if (x->lung) {
			ct_tensor mv = ct_tensor_slice0(&masks, 0, cnt);
			if (ct_h5_read_rows(mask_d, r0 + b, &mv) < 0) {
				rc = ct_error_prefix("'%s': lung_mask", in->h.path);
				break;
			}
		}
		int64_t npx = in->height * in->width;
		for (int64_t r = 0; x->lung && r < cnt; r++) {
			const uint8_t *m = (const uint8_t *)masks.data + r * npx;
			int64_t q = 0;
			while (q < npx && !m[q])
				q++;
			((uint8_t *)fbrows.data)[r] = q == npx;
		}
		int bad = -1;
		char msg[512] = "";
#pragma omp parallel for schedule(static)
		for (int64_t r = 0; r < cnt; r++) {
			uint8_t *dst = (uint8_t *)batch.data + r * (int64_t)x->in_h * x->in_w * 3;
			if (prepare(x, &rv, r, dst, scratch + (size_t)r * scratch_n) < 0) {
#pragma omp critical
				if (bad < 0 || r < bad) {
					bad = (int)r;
					snprintf(msg, sizeof msg, "%s", ct_last_error());
				}
			}
		}
		if (bad >= 0) {
			if (strstr(msg, "NaN"))
				rc = ct_error("'%s': sample '%s' has NaN or Inf pixel values", in->h.path,
					      in->s.names[r0 + b + bad]);
			else
				rc = ct_error("'%s': sample '%s': %s", in->h.path, in->s.names[r0 + b + bad], msg);
			break;
		}
		ct_tensor bv = ct_tensor_slice0(&batch, 0, cnt);
		if (ct_net_run(x->net, &bv) < 0) {
			rc = ct_error_prefix("'%s': rows %lld..%lld", in->h.path, (long long)(r0 + b), (long long)(r0 + b + cnt));
			break;
		}
		int64_t col = 0;
		float *fo = feats.data;
		for (int k = 0; k < no; k++) {
			ct_tensor v;
			ct_net_output(x->net, k, &v);
			if (x->cut && k == no - 1) { /* the cut's maps, unpooled */
				if (ct_act_write(x->act_dset, b, cnt, ct_tensor_numel(&v) / cnt, v.data, x->f16) < 0) {
					rc = ct_error_prefix("'%s': rows %lld..%lld", in->h.path, (long long)b,
							     (long long)(b + cnt));
					break;
				}
				continue;
			}
			if ((x->cut || x->lung) && x->pool != CT_POOL_NONE) { /* pool here what the net left raw */
				int64_t hw = v.shape[1] * v.shape[2], c = v.shape[3];
				if (!pooled || pooled_n < cnt * c) {
					free(pooled);
					pooled_n = cnt * c;
					if (!(pooled = malloc((size_t)pooled_n * sizeof *pooled))) {
						rc = ct_error("out of memory");
						break;
					}
				}
				if (x->lung) {
					if (lung_pool_batch(x, &v, cnt, masks.data, pooled) < 0) {
						rc = -1;
						break;
					}
				} else {
					ct_op_gpool(x->pool == CT_POOL_MAX, (int)cnt, hw, (int)c, v.data, pooled);
				}
				int64_t shp[2] = { cnt, c };
				v = ct_tensor_wrap(pooled, CT_F32, 2, shp);
			}
			int64_t w = ct_tensor_numel(&v) / cnt;
			for (int64_t r = 0; r < cnt; r++) {
				const float *src = (const float *)((const char *)v.data + r * v.stride[0]);
				for (int64_t j = 0; j < w; j++) {
					float f = src[j];
					if (!isfinite(f)) {
						rc = ct_error("'%s': sample '%s' gives a non-finite feature (bad weights?)",
							      in->h.path, in->s.names[r0 + b + r]);
						break;
					}
					fo[r * D + col + j] = f;
				}
			}
			col += w;
		}
		if (rc == 0 && col != D)
			rc = ct_error("internal: feature width %lld, expected %lld", (long long)col, (long long)D);
		if (rc < 0)
			break;
		ct_tensor fv = ct_tensor_slice0(&feats, 0, cnt), bv1 = fbrows;
		if (x->lung)
			bv1 = ct_tensor_slice0(&fbrows, 0, cnt);
		if ((x->lung && ct_h5_write_rows(fb_d, b, &bv1) < 0) || ct_h5_write_rows(x->dset, b, &fv) < 0 || ct_h5_set_int(x->file, "rows_done", b + cnt) < 0 ||
		    H5Fflush(x->file, H5F_SCOPE_LOCAL) < 0) {
			rc = ct_error_prefix("cannot write the features");
			break;
		}
		if (x->progress)
			x->progress(x->ctx, b + cnt, n);
	}
	x->fallback = 0;
	if (rc == 0 && x->lung && n > 0) { /* the marked rows of the whole output (a resumed run too) */
		ct_tensor all = { 0 };
		if (ct_tensor_alloc3(&all, CT_U8, n, 1, 1) < 0) {
			rc = -1;
		} else {
			all.ndim = 1;
			if (ct_h5_read_rows(fb_d, 0, &all) < 0)
				rc = ct_error_prefix("'%s': lung_pool_fallback", x->in->h.path);
			for (int64_t i = 0; rc == 0 && i < n; i++)
				x->fallback += ((const uint8_t *)all.data)[i] != 0;
			ct_tensor_free(&all);
		}
	}
	if (mask_d >= 0)
		H5Dclose(mask_d);
	if (fb_d >= 0)
		H5Dclose(fb_d);
	ct_tensor_free(&masks);
	ct_tensor_free(&fbrows);
	free(scratch);
	free(pooled);
	ct_tensor_free(&rows);
	ct_tensor_free(&batch);
	ct_tensor_free(&feats);
	return rc;
}
