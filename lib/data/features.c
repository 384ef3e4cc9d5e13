/* features.c - reading and writing features files and their column blocks. */
#include "data/features.h"
#include "core/error.h"
#include "io/inputs.h"
#include "core/sha256.h"
#include "data/activations.h"
#include "data/shard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ct_fblocks_free(ct_fblock *b, int n)
{
	if (!b)
		return;
	for (int i = 0; i < n; i++) {
		free(b[i].name);
		free(b[i].backbone);
		free(b[i].layer);
		free(b[i].pool);
		free(b[i].weights_sha256);
	}
	free(b);
}

int ct_fblocks_write(hid_t file, const ct_fblock *b, int n)
{
	hid_t g = ct_h5_create_group(file, "blocks");
	if (g < 0)
		return -1;
	char **cols[5];
	int rc = 0;
	int64_t shape[1] = { n };
	ct_tensor start = { 0 }, width = { 0 };
	for (int k = 0; k < 5; k++)
		cols[k] = calloc((size_t)n + 1, sizeof(char *));
	if (ct_tensor_alloc(&start, CT_I64, 1, shape) < 0 || ct_tensor_alloc(&width, CT_I64, 1, shape) < 0)
		rc = -1;
	for (int k = 0; k < 5; k++)
		if (!cols[k])
			rc = ct_error("out of memory");
	for (int i = 0; rc == 0 && i < n; i++) {
		cols[0][i] = b[i].name;
		cols[1][i] = b[i].backbone;
		cols[2][i] = b[i].layer;
		cols[3][i] = b[i].pool;
		cols[4][i] = b[i].weights_sha256;
		((int64_t *)start.data)[i] = b[i].start;
		((int64_t *)width.data)[i] = b[i].width;
	}
	const char *names[5] = { "name", "backbone", "layer", "pool", "weights_sha256" };
	for (int k = 0; rc == 0 && k < 5; k++)
		rc = ct_h5_write_strings(g, names[k], cols[k], n);
	if (rc == 0)
		rc = ct_h5_write(g, "start", &start, 0, 0);
	if (rc == 0)
		rc = ct_h5_write(g, "width", &width, 0, 0);
	for (int k = 0; k < 5; k++)
		free(cols[k]);
	ct_tensor_free(&start);
	ct_tensor_free(&width);
	H5Gclose(g);
	return rc;
}

int ct_fblocks_read(hid_t file, ct_fblock **out, int *nout)
{
	*out = NULL;
	*nout = 0;
	if (!ct_h5_exists(file, "blocks"))
		return ct_error("missing group 'blocks'");
	hid_t g = H5Gopen2(file, "blocks", H5P_DEFAULT);
	const char *names[5] = { "name", "backbone", "layer", "pool", "weights_sha256" };
	char **cols[5] = { 0 };
	int64_t nc[5] = { 0 };
	ct_tensor start = { 0 }, width = { 0 };
	int rc = 0;
	for (int k = 0; rc == 0 && k < 5; k++)
		rc = ct_h5_read_strings(g, names[k], &cols[k], &nc[k]);
	if (rc == 0)
		rc = ct_h5_read(g, "start", CT_I64, &start);
	if (rc == 0)
		rc = ct_h5_read(g, "width", CT_I64, &width);
	int64_t n = nc[0];
	if (rc == 0) {
		for (int k = 1; k < 5; k++)
			if (nc[k] != n)
				rc = ct_error("block lists differ in length");
		if (start.ndim != 1 || width.ndim != 1 || start.shape[0] != n || width.shape[0] != n)
			rc = ct_error("block lists differ in length");
	}
	ct_fblock *b = NULL;
	if (rc == 0 && !(b = calloc((size_t)n + 1, sizeof *b)))
		rc = ct_error("out of memory");
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		b[i].name = cols[0][i];
		b[i].backbone = cols[1][i];
		b[i].layer = cols[2][i];
		b[i].pool = cols[3][i];
		b[i].weights_sha256 = cols[4][i];
		for (int k = 0; k < 5; k++)
			cols[k][i] = NULL;
		b[i].start = ((int64_t *)start.data)[i];
		b[i].width = ((int64_t *)width.data)[i];
	}
	for (int k = 0; k < 5; k++)
		ct_strings_free(cols[k], nc[k]);
	ct_tensor_free(&start);
	ct_tensor_free(&width);
	H5Gclose(g);
	if (rc < 0) {
		ct_fblocks_free(b, (int)n);
		return -1;
	}
	*out = b;
	*nout = (int)n;
	return 0;
}

void ct_features_free(ct_features *f)
{
	ct_samples_free(&f->s);
	ct_tensor_free(&f->x);
	ct_fblocks_free(f->blocks, f->nblocks);
	ct_strings_free(f->prov, f->nprov);
	free(f->folds);
	memset(f, 0, sizeof *f);
}

int ct_features_read(const char *path, ct_features *f)
{
	memset(f, 0, sizeof *f);
	ct_h5 h;
	if (ct_h5_open(&h, path) < 0)
		return -1;
	hid_t file = h.file;
	int rc = 0;
	if (ct_file_check(file, "features") < 0 || ct_samples_read(file, &f->s) < 0 ||
	    ct_h5_read(file, "features", CT_F32, &f->x) < 0 || ct_fblocks_read(file, &f->blocks, &f->nblocks) < 0 ||
	    ct_provenance_read(file, &f->prov, &f->nprov) < 0)
		rc = -1;
	if (rc == 0 && (f->x.ndim != 2 || f->x.shape[0] != f->s.n))
		rc = ct_error("dataset 'features' is not %lld x D", (long long)f->s.n);
	if (rc == 0 && ct_h5_exists(file, "folds")) {
		/* folds of another length are not this file's (ignored, as before they were read here) */
		ct_tensor t;
		if (ct_h5_read(file, "folds", CT_I32, &t) == 0) {
			if (t.ndim == 1 && t.shape[0] == f->s.n && (f->folds = malloc(((size_t)f->s.n + 1) * sizeof *f->folds)))
				memcpy(f->folds, t.data, (size_t)f->s.n * sizeof *f->folds);
			ct_tensor_free(&t);
		}
	}
	int64_t D = rc == 0 ? f->x.shape[1] : 0, at = 0;
	for (int i = 0; rc == 0 && i < f->nblocks; i++) {
		if (f->blocks[i].start != at || f->blocks[i].width < 1)
			rc = ct_error("feature blocks do not tile the %lld columns (block '%s')", (long long)D,
				      f->blocks[i].name);
		at += f->blocks[i].width;
	}
	if (rc == 0 && at != D)
		rc = ct_error("feature blocks cover %lld of the %lld columns", (long long)at, (long long)D);
	const float *x = f->x.data;
	for (int64_t i = 0; rc == 0 && i < f->s.n; i++)
		for (int64_t j = 0; j < D; j++)
			if (!isfinite(x[i * D + j])) {
				rc = ct_error("sample '%s' has a non-finite feature (column %lld)", f->s.names[i],
					      (long long)j);
				break;
			}
	ct_h5_close(&h);
	if (rc < 0) {
		ct_error_prefix("'%s'", path);
		ct_features_free(f);
	}
	return rc;
}

int ct_features_write(ct_h5 *h, const ct_features *f, const ct_run *run)
{
	hid_t file = h->file;
	if (ct_file_stamp(file, "features", run, f->prov, f->nprov) < 0 || ct_samples_write(file, &f->s) < 0 ||
	    ct_h5_write(file, "features", &f->x, 256, 1) < 0 || ct_fblocks_write(file, f->blocks, f->nblocks) < 0)
		return -1;
	return 0;
}

/* Index of `name` in the comma-separated list, or -1. */
static int list_index(const char *list, const char *name)
{
	size_t n = strlen(name);
	int k = 0;
	for (const char *p = list; p && *p; k++) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return k;
		p = c ? c + 1 : NULL;
	}
	return -1;
}

int ct_features_select(ct_features *f, const char *list, int *matched)
{
	int64_t n = f->s.n, D = f->x.ndim == 2 ? f->x.shape[1] : 0, nd = 0;
	int nb = 0;
	ct_fblock *keep = calloc((size_t)f->nblocks + 1, sizeof *keep);
	if (!keep)
		return ct_error("out of memory");
	for (int b = 0; b < f->nblocks; b++) {
		int i = list_index(list, f->blocks[b].name), j = list_index(list, f->blocks[b].layer);
		if (i < 0 && j < 0)
			continue;
		if (matched)
			matched[i >= 0 ? i : j] = 1;
		keep[nb] = f->blocks[b];
		keep[nb].start = nd;
		nd += f->blocks[b].width;
		nb++;
	}
	ct_tensor x;
	if (ct_tensor_alloc3(&x, CT_F32, n, nd, 1) < 0) {
		free(keep);
		return -1;
	}
	x.ndim = 2;
	const float *src = f->x.data;
	float *dst = x.data;
	for (int64_t r = 0; r < n; r++) {
		int64_t at = 0;
		for (int b = 0, k = 0; b < f->nblocks; b++) {
			if (k < nb && !strcmp(f->blocks[b].name, keep[k].name)) {
				memcpy(dst + r * nd + at, src + r * D + f->blocks[b].start,
				       (size_t)f->blocks[b].width * sizeof *dst);
				at += f->blocks[b].width;
				k++;
			}
		}
	}
	/* Free the blocks not kept; the kept ones move to the new array. */
	for (int b = 0; b < f->nblocks; b++) {
		int kept = 0;
		for (int k = 0; k < nb; k++)
			kept |= keep[k].name == f->blocks[b].name;
		if (!kept) {
			free(f->blocks[b].name);
			free(f->blocks[b].backbone);
			free(f->blocks[b].layer);
			free(f->blocks[b].pool);
			free(f->blocks[b].weights_sha256);
		}
	}
	free(f->blocks);
	f->blocks = keep;
	f->nblocks = nb;
	ct_tensor_free(&f->x);
	f->x = x;
	return nb;
}

/* ---- writing a features file row by row ---- */

void ct_features_fingerprint(const ct_images *in, const char *wsha, const char *settings, char hex[65])
{
	ct_sha256 s;
	uint8_t d[32];
	ct_sha256_init(&s);
	for (int64_t i = 0; i < in->n; i++)
		ct_sha256_update(&s, in->s.names[i], strlen(in->s.names[i]) + 1);
	char *id = ct_shard_run_identity(in->prov, in->nprov); /* the same for merged shards */
	if (id)
		ct_sha256_update(&s, id, strlen(id));
	free(id);
	/* the pixels themselves, through their checksum (io/h5.h), where the input has one */
	char *sum = NULL;
	char file_sha[65];
	if (ct_h5_get_str(in->dset, "content_sha256", &sum) == 0)
		ct_sha256_update(&s, sum, strlen(sum));
	else if (ct_inputs_get(in->h.path, file_sha)) /* no checksums (older or foreign file): its bytes */
		ct_sha256_update(&s, file_sha, strlen(file_sha));
	free(sum);
	ct_sha256_update(&s, wsha, strlen(wsha));
	ct_sha256_update(&s, settings, strlen(settings));
	ct_sha256_final(&s, d);
	ct_sha256_hex(d, hex);
}

int ct_features_out_create(ct_features_out *o, const char *path, int force, int resume, const ct_features_layout *l)
{
	memset(o, 0, sizeof *o);
	o->features = o->activations = H5I_INVALID_HID;
	int resumed = 0;
	if (ct_h5_create_partial(&o->h, path, force, resume, &resumed) < 0)
		return -1;
	o->open = 1;
	hid_t f = o->h.file;
	if (resumed) {
		char *old = NULL, *old_shard = NULL;
		int64_t done = 0;
		int same_shard = ct_h5_attr_exists(f, "shard")
					 ? l->shard_spec && ct_h5_get_str(f, "shard", &old_shard) == 0 &&
						   !strcmp(old_shard, l->shard_spec)
					 : !l->shard_spec;
		free(old_shard);
		if (!same_shard || ct_h5_get_str(f, "input_fingerprint", &old) < 0 || strcmp(old, l->fingerprint) ||
		    ct_h5_get_int(f, "rows_done", &done) < 0 || done < 0 || done > l->rows->n) {
			ct_error("'%s.partial' is from another input or other settings; remove it or run without --resume",
				 path);
			free(old);
			o->open = 0;
			ct_h5_close(&o->h); /* keep the partial file: it is someone's work */
			return -1;
		}
		free(old);
		o->start = done;
		o->resumed = 1;
		o->features = H5Dopen2(f, "features", H5P_DEFAULT);
		if (l->cut_layer)
			o->activations = H5Dopen2(f, "activations", H5P_DEFAULT);
		return 0;
	}
	int64_t shape[2] = { l->rows->n, l->width };
	if (ct_file_stamp(f, "features", l->run, l->prov, l->nprov) < 0 || ct_samples_write(f, l->rows) < 0 ||
	    ct_fblocks_write(f, l->blocks, l->nblocks) < 0 || ct_h5_set_str(f, "backbone", l->backbone) < 0 ||
	    ct_h5_set_str(f, "weights_sha256", l->weights_sha256) < 0 || ct_h5_set_str(f, "layers", l->layers) < 0 ||
	    ct_h5_set_str(f, "pooling", l->pooling) < 0 || ct_h5_set_str(f, "preprocessing", l->preprocessing) < 0 ||
	    ct_h5_set_int(f, "input_size", l->input_size) < 0 ||
	    ct_h5_set_str(f, "input_fingerprint", l->fingerprint) < 0 || ct_h5_set_int(f, "rows_done", 0) < 0 ||
	    ct_shard_stamp(f, l->shard, l->input_rows) < 0 ||
	    (o->features = ct_h5_create_dataset(f, "features", CT_F32, 2, shape, l->chunk_rows, 0)) < 0)
		return -1;
	if (l->cut_layer && (ct_h5_set_str(f, "cut_layer", l->cut_layer) < 0 ||
			     ct_h5_set_str(f, "cut_dtype", l->cut_dtype) < 0 ||
			     (o->activations = ct_act_create(f, l->rows->n, l->cut_h, l->cut_w, l->cut_c, l->cut_f16)) < 0))
		return -1;
	return 0;
}

static void close_datasets(ct_features_out *o)
{
	if (o->features >= 0)
		H5Dclose(o->features);
	if (o->activations > 0)
		H5Dclose(o->activations);
	o->features = o->activations = H5I_INVALID_HID;
}

int ct_features_out_commit(ct_features_out *o)
{
	close_datasets(o);
	o->open = 0;
	return ct_h5_commit(&o->h);
}

void ct_features_out_abort(ct_features_out *o)
{
	if (!o->open)
		return;
	close_datasets(o);
	o->open = 0;
	ct_h5_abort(&o->h); /* a failure (not an interruption) leaves nothing */
}
