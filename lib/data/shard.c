/* shard.c - shard ranges (--shard K/N) and the checked merge of shard files (ct-merge). */
#include "data/shard.h"
#include "core/error.h"
#include "core/sha256.h"
#include "data/convert.h"
#include "data/dataset.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ct_shard_parse(const char *s, ct_shard *sh)
{
	char *e1, *e2;
	errno = 0;
	long k = strtol(s, &e1, 10);
	if (e1 == s || *e1 != '/')
		return ct_error("--shard '%s' is not K/N (e.g. 2/8)", s);
	long n = strtol(e1 + 1, &e2, 10);
	if (e2 == e1 + 1 || *e2 || errno)
		return ct_error("--shard '%s' is not K/N (e.g. 2/8)", s);
	if (n < 1 || n > 1000000 || k < 1 || k > n)
		return ct_error("--shard '%s': need 1 <= K <= N <= 1000000 (shards are numbered from 1)", s);
	sh->k = (int)k;
	sh->n = (int)n;
	return 0;
}

void ct_shard_range(const ct_shard *sh, int64_t total, int64_t *first, int64_t *end)
{
	if (sh->n <= 0) {
		*first = 0;
		*end = total;
		return;
	}
	/* floor(total * k / n) without overflow */
	int64_t q = total / sh->n, r = total % sh->n;
	*first = q * (sh->k - 1) + r * (sh->k - 1) / sh->n;
	*end = q * sh->k + r * sh->k / sh->n;
}

int ct_shard_check(const ct_shard *sh, int64_t total, const char *units)
{
	int64_t first, end;
	ct_shard_range(sh, total, &first, &end);
	if (sh->n > 0 && first == end)
		return ct_error("shard %d/%d of %lld %s is empty (use at most %lld shards)", sh->k, sh->n, (long long)total,
				units, (long long)total);
	return 0;
}

int ct_shard_stamp(hid_t file, const ct_shard *sh, int64_t total)
{
	if (sh->n <= 0)
		return 0;
	int64_t first, end;
	ct_shard_range(sh, total, &first, &end);
	char s[32];
	snprintf(s, sizeof s, "%d/%d", sh->k, sh->n);
	if (ct_h5_set_str(file, "shard", s) < 0 || ct_h5_set_int(file, "shard_first", first) < 0 ||
	    ct_h5_set_int(file, "shard_end", end) < 0 || ct_h5_set_int(file, "shard_of", total) < 0)
		return -1;
	return 0;
}

static int neutral_param(const char *name);

char *ct_shard_run_identity(char *const *prov, int64_t nprov)
{
	cJSON *e = NULL;
	for (int64_t i = nprov - 1; i >= 0 && !e; i--) {
		e = cJSON_Parse(prov[i]);
		const cJSON *tool = e ? cJSON_GetObjectItemCaseSensitive(e, "tool") : NULL;
		if (cJSON_IsString(tool) && !strcmp(tool->valuestring, "ct-merge")) {
			cJSON_Delete(e);
			e = NULL;
		} else if (!e) {
			return strdup(prov[i]); /* not JSON: as it is */
		}
	}
	if (!e)
		return strdup("");
	cJSON_DeleteItemFromObjectCaseSensitive(e, "command");
	cJSON_DeleteItemFromObjectCaseSensitive(e, "inputs"); /* a shard's files are its share */
	cJSON *params = cJSON_GetObjectItemCaseSensitive(e, "params");
	for (cJSON *it = params ? params->child : NULL, *next; it; it = next) {
		next = it->next;
		if (it->string && neutral_param(it->string))
			cJSON_Delete(cJSON_DetachItemViaPointer(params, it));
	}
	char *s = cJSON_PrintUnformatted(e);
	cJSON_Delete(e);
	return s;
}

void ct_shard_fingerprint_images(const ct_images *in, char hex[65])
{
	ct_sha256 h;
	uint8_t d[32];
	ct_sha256_init(&h);
	for (int64_t i = 0; i < in->n; i++)
		ct_sha256_update(&h, in->s.names[i], strlen(in->s.names[i]) + 1);
	char *id = ct_shard_run_identity(in->prov, in->nprov);
	if (id)
		ct_sha256_update(&h, id, strlen(id));
	free(id);
	ct_sha256_final(&h, d);
	ct_sha256_hex(d, hex);
}

void ct_shard_fingerprint_sources(const ct_sources *src, char hex[65])
{
	ct_sha256 h;
	uint8_t d[32];
	ct_sha256_init(&h);
	for (int c = 0; c < src->nclasses; c++)
		ct_sha256_update(&h, src->classes[c], strlen(src->classes[c]) + 1);
	for (int64_t i = 0; i < src->n; i++) {
		const ct_source *x = &src->v[i];
		char lab[16];
		snprintf(lab, sizeof lab, "%d", x->label);
		ct_sha256_update(&h, x->name, strlen(x->name) + 1);
		ct_sha256_update(&h, lab, strlen(lab) + 1);
		ct_sha256_update(&h, x->group ? x->group : "", strlen(x->group ? x->group : "") + 1);
		ct_sha256_update(&h, x->split ? x->split : "", strlen(x->split ? x->split : "") + 1);
	}
	ct_sha256_final(&h, d);
	ct_sha256_hex(d, hex);
}

/* ---- merge ---- */

typedef struct shard_file {
	const char *path;
	ct_h5 h;
	ct_shard sh;
	int64_t rows;   /* rows of the main dataset */
	char **prov;
	int64_t nprov;
} shard_file;

/* Root attributes that differ between the shards of one run by design. */
static int per_shard_attr(const char *name)
{
	/* content_sha256: each file's own checksum (io/h5.h), written again when the merge commits */
	static const char *v[] = { "shard",  "shard_first",   "shard_end",     "command",
				   "params", "rows_done",     "skipped_count", "content_sha256" };
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		if (!strcmp(name, v[i]))
			return 1;
	return 0;
}

/* Parameters that do not change what a shard contains (or differ by design). */
static int neutral_param(const char *name)
{
	/* the weights' content is compared by its sha256, not by the path */
	static const char *v[] = { "output", "shard", "force", "quiet", "threads", "resume", "weights" };
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		if (!strcmp(name, v[i]))
			return 1;
	return 0;
}

/* A root attribute as text, for comparison and messages. */
static int attr_text(hid_t obj, const char *name, char *buf, size_t n)
{
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a < 0)
		return ct_error("missing attribute '%s'", name);
	hid_t t = H5Aget_type(a);
	H5T_class_t cls = H5Tget_class(t);
	H5Tclose(t);
	H5Aclose(a);
	if (cls == H5T_STRING) {
		char *v = NULL;
		if (ct_h5_get_str(obj, name, &v) < 0)
			return -1;
		snprintf(buf, n, "'%s'", v);
		free(v);
	} else if (cls == H5T_INTEGER) {
		int64_t v;
		if (ct_h5_get_int(obj, name, &v) < 0)
			return -1;
		snprintf(buf, n, "%lld", (long long)v);
	} else if (cls == H5T_FLOAT) {
		double v;
		if (ct_h5_get_double(obj, name, &v) < 0)
			return -1;
		snprintf(buf, n, "%.17g", v);
	} else {
		return ct_error("attribute '%s' has an unsupported type", name);
	}
	return 0;
}

typedef struct attr_ctx {
	hid_t other;
	const char *mismatch;  /* first attribute that differs */
	char a[256], b[256];
	int rc;
} attr_ctx;

static herr_t cmp_attr(hid_t obj, const char *name, const H5A_info_t *info, void *data)
{
	(void)info;
	attr_ctx *c = data;
	if (per_shard_attr(name))
		return 0;
	if (attr_text(obj, name, c->a, sizeof c->a) < 0) {
		c->rc = -1;
		return -1;
	}
	if (!ct_h5_attr_exists(c->other, name)) {
		snprintf(c->b, sizeof c->b, "missing");
		c->mismatch = name;
		return 1;
	}
	if (attr_text(c->other, name, c->b, sizeof c->b) < 0) {
		c->rc = -1;
		return -1;
	}
	if (strcmp(c->a, c->b)) {
		c->mismatch = name;
		return 1;
	}
	return 0;
}

/* The parameters JSON without the neutral entries, printed canonically (malloc'd). */
static char *params_core(hid_t file)
{
	char *p = NULL;
	if (ct_h5_get_str(file, "params", &p) < 0)
		return NULL;
	cJSON *j = cJSON_Parse(p);
	free(p);
	if (!j) {
		ct_error("attribute 'params' is not JSON");
		return NULL;
	}
	cJSON *it = j->child;
	while (it) {
		cJSON *next = it->next;
		if (it->string && neutral_param(it->string))
			cJSON_Delete(cJSON_DetachItemViaPointer(j, it));
		it = next;
	}
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!s)
		ct_error("out of memory");
	return s;
}

static const char *main_dataset(const char *kind)
{
	return !strcmp(kind, "images") ? "images" : !strcmp(kind, "features") ? "features" : NULL;
}

static int cmp_shard(const void *a, const void *b)
{
	const shard_file *x = a, *y = b;
	return (x->sh.k > y->sh.k) - (x->sh.k < y->sh.k);
}

typedef struct name_ref {
	const char *name;
	int shard;
} name_ref;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const name_ref *)a)->name, ((const name_ref *)b)->name);
}

/* Check shard s against the reference shard 0 (same run, same input, same parameters). */
static int check_consistent(shard_file *s, int i, const char *kind)
{
	shard_file *r = &s[0], *x = &s[i];
	char kx[32], kr[32];
	snprintf(kx, sizeof kx, "%d/%d", x->sh.k, x->sh.n);
	snprintf(kr, sizeof kr, "%d/%d", r->sh.k, r->sh.n);
	/* The settings first (the features' fingerprint covers them too), then the input. */
	static const char *first[] = { "backbone", "weights_sha256", "layers", "pooling", "preprocessing", "input_size",
				       "shard_of", "input_fingerprint" };
	for (size_t j = 0; j < sizeof first / sizeof *first; j++) {
		char a[256], b[256];
		int ha = ct_h5_attr_exists(r->h.file, first[j]), hb = ct_h5_attr_exists(x->h.file, first[j]);
		if (!ha && !hb)
			continue;
		if (ha != hb || attr_text(r->h.file, first[j], a, sizeof a) < 0 ||
		    attr_text(x->h.file, first[j], b, sizeof b) < 0 || strcmp(a, b)) {
			if (!strcmp(first[j], "input_fingerprint") || !strcmp(first[j], "shard_of"))
				return ct_error("'%s' (shard %s) comes from another input than '%s' (shard %s) (%s differs)",
						x->path, kx, r->path, kr, first[j]);
			return ct_error("'%s' (shard %s) does not match '%s' (shard %s): %s %s, not %s", x->path, kx, r->path,
					kr, first[j], hb ? b : "missing", ha ? a : "missing");
		}
	}
	/* Every attribute of either must be in the other with the same value. */
	for (int dir = 0; dir < 2; dir++) {
		attr_ctx c;
		memset(&c, 0, sizeof c);
		c.other = dir ? r->h.file : x->h.file;
		if (H5Aiterate2(dir ? x->h.file : r->h.file, H5_INDEX_NAME, H5_ITER_INC, NULL, cmp_attr, &c) < 0 ||
		    c.rc < 0)
			return ct_error_prefix("'%s'", dir ? x->path : r->path);
		if (c.mismatch)
			return ct_error("'%s' (shard %s) does not match '%s' (shard %s): attribute '%s' is %s, not %s",
					x->path, kx, r->path, kr, c.mismatch, dir ? c.a : c.b, dir ? c.b : c.a);
	}
	char *px = params_core(x->h.file), *pr = params_core(r->h.file);
	int rc = 0;
	if (!px || !pr)
		rc = ct_error_prefix("'%s'", !px ? x->path : r->path);
	else if (strcmp(px, pr)) {
		/* name the first option that differs */
		cJSON *jx = cJSON_Parse(px), *jr = cJSON_Parse(pr), *it;
		char what[256] = "parameters differ";
		for (it = jx ? jx->child : NULL; it; it = it->next) {
			cJSON *o = cJSON_GetObjectItemCaseSensitive(jr, it->string);
			char *a = cJSON_PrintUnformatted(it), *b = o ? cJSON_PrintUnformatted(o) : NULL;
			int differ = !b || strcmp(a, b);
			if (differ)
				snprintf(what, sizeof what, "--%s %s, not %s", it->string, a, b ? b : "unset");
			free(a);
			free(b);
			if (differ)
				break;
		}
		cJSON_Delete(jx);
		cJSON_Delete(jr);
		rc = ct_error("'%s' (shard %s) was made with other parameters than '%s' (shard %s): %s", x->path, kx,
			      r->path, kr, what);
	}
	free(px);
	free(pr);
	if (rc < 0)
		return rc;
	if (x->nprov != r->nprov)
		return ct_error("'%s' (shard %s) comes from another input than '%s' (shard %s): provenance differs",
				x->path, kx, r->path, kr);
	for (int64_t j = 0; j + 1 < x->nprov; j++)
		if (strcmp(x->prov[j], r->prov[j]))
			return ct_error("'%s' (shard %s) comes from another input than '%s' (shard %s): provenance differs",
					x->path, kx, r->path, kr);
	char **cx = NULL, **cr = NULL;
	int64_t ncx = 0, ncr = 0;
	if (ct_h5_read_strings(x->h.file, "class_names", &cx, &ncx) < 0 ||
	    ct_h5_read_strings(r->h.file, "class_names", &cr, &ncr) < 0)
		rc = ct_error_prefix("'%s'", cx ? r->path : x->path);
	for (int64_t j = 0; rc == 0 && j < (ncx > ncr ? ncx : ncr); j++)
		if (ncx != ncr || strcmp(cx[j], cr[j]))
			rc = ct_error("'%s' (shard %s) has other classes than '%s' (shard %s)", x->path, kx, r->path, kr);
	ct_strings_free(cx, ncx);
	ct_strings_free(cr, ncr);
	(void)kind;
	return rc;
}

/* Per-shard checks: range and completeness. */
static int check_one(shard_file *x)
{
	int64_t first, end, fr, en, of;
	char k[32];
	snprintf(k, sizeof k, "%d/%d", x->sh.k, x->sh.n);
	if (ct_h5_get_int(x->h.file, "shard_first", &fr) < 0 || ct_h5_get_int(x->h.file, "shard_end", &en) < 0 ||
	    ct_h5_get_int(x->h.file, "shard_of", &of) < 0)
		return ct_error_prefix("'%s' (shard %s)", x->path, k);
	ct_shard_range(&x->sh, of, &first, &end);
	if (fr != first || en != end)
		return ct_error("'%s' (shard %s) covers units %lld..%lld, but shard %s of %lld is %lld..%lld", x->path, k,
				(long long)fr, (long long)en, k, (long long)of, (long long)first, (long long)end);
	if (ct_h5_attr_exists(x->h.file, "rows_done")) {
		int64_t done;
		if (ct_h5_get_int(x->h.file, "rows_done", &done) < 0)
			return ct_error_prefix("'%s'", x->path);
		if (done != x->rows)
			return ct_error("'%s' (shard %s) is incomplete: %lld of %lld rows done", x->path, k, (long long)done,
					(long long)x->rows);
	}
	return 0;
}

/* ---- writing ---- */

typedef struct merge_ctx {
	shard_file *s;
	int n;
	hid_t dst;
	int rc;
	int64_t batch;  /* ct-features' --batch: the features' chunk rows in an unsharded run */
} merge_ctx;

/* An integer parameter of the run that wrote the file, 0 when absent. */
static int64_t param_int(hid_t file, const char *name)
{
	char *p = NULL;
	int64_t v = 0;
	if (ct_h5_get_str(file, "params", &p) < 0)
		return 0;
	cJSON *j = cJSON_Parse(p), *it = j ? cJSON_GetObjectItemCaseSensitive(j, name) : NULL;
	if (cJSON_IsNumber(it))
		v = (int64_t)it->valuedouble;
	cJSON_Delete(j);
	free(p);
	return v;
}

static int is_row_strings(const char *name)
{
	return !strcmp(name, "names") || !strcmp(name, "groups") || !strcmp(name, "splits") || !strcmp(name, "skipped");
}

static int is_row_numeric(const char *name)
{
	static const char *v[] = { "images",	  "features", "labels", "orig_size",  "source_index",
				    "affine",	  "folds",    "nuisance", "lung_mask", "photometric",
				    "activations", "lung_pool_fallback" };
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		if (!strcmp(name, v[i]))
			return 1;
	return 0;
}

static int concat_strings(merge_ctx *c, const char *name)
{
	int64_t total = 0;
	char ***parts = calloc((size_t)c->n, sizeof *parts);
	int64_t *np = calloc((size_t)c->n, sizeof *np);
	int rc = parts && np ? 0 : ct_error("out of memory");
	for (int i = 0; rc == 0 && i < c->n; i++) {
		if (ct_h5_read_strings(c->s[i].h.file, name, &parts[i], &np[i]) < 0)
			rc = ct_error_prefix("'%s'", c->s[i].path);
		total += np[i];
	}
	char **all = rc == 0 ? calloc((size_t)total + 1, sizeof *all) : NULL;
	if (rc == 0 && !all)
		rc = ct_error("out of memory");
	for (int i = 0, k = 0; rc == 0 && i < c->n; i++)
		for (int64_t j = 0; j < np[i]; j++)
			all[k++] = parts[i][j];
	if (rc == 0)
		rc = ct_h5_write_strings(c->dst, name, all, total);
	free(all);
	for (int i = 0; parts && i < c->n; i++)
		ct_strings_free(parts[i], np[i]);
	free(parts);
	free(np);
	return rc;
}

/* Copy the dataset's attributes (e.g. folds' k). */
static herr_t copy_attr(hid_t src, const char *name, const H5A_info_t *info, void *data)
{
	(void)info;
	return ct_h5_copy_attr(src, *(hid_t *)data, name) < 0 ? -1 : 0;
}

/* Rows of every shard's dataset `name`, in shard order, into one dataset with the first
 * shard's type, layout and filters. Chunks of one row (images) are copied as stored bytes
 * (no recompression), so the merged chunks are those an unsharded run writes. */
static int concat_numeric(merge_ctx *c, const char *name)
{
	hid_t *d = calloc((size_t)c->n, sizeof *d);
	if (!d)
		return ct_error("out of memory");
	int rc = 0, nd = 0;
	hsize_t dims[H5S_MAX_RANK], cdims[H5S_MAX_RANK], total = 0, chunk0 = 0;
	hid_t ft = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, out = H5I_INVALID_HID;
	int chunked = 0, raw = 1;
	for (int i = 0; rc == 0 && i < c->n; i++) {
		d[i] = H5Dopen2(c->s[i].h.file, name, H5P_DEFAULT);
		if (d[i] < 0) {
			rc = ct_error("'%s': missing dataset '%s'", c->s[i].path, name);
			break;
		}
		hid_t sp = H5Dget_space(d[i]), t = H5Dget_type(d[i]), p = H5Dget_create_plist(d[i]);
		hsize_t di[H5S_MAX_RANK], ci[H5S_MAX_RANK];
		int ndi = H5Sget_simple_extent_ndims(sp);
		H5Sget_simple_extent_dims(sp, di, NULL);
		if (i == 0) {
			nd = ndi;
			memcpy(dims, di, sizeof dims);
			ft = H5Tcopy(t);
			dcpl = H5Pcopy(p);
			chunked = H5Pget_layout(p) == H5D_CHUNKED;
		}
		if (ndi != nd || ndi < 1 || !H5Tequal(t, ft) || (H5Pget_layout(p) == H5D_CHUNKED) != chunked)
			rc = ct_error("'%s': dataset '%s' differs in type or rank from '%s'", c->s[i].path, name, c->s[0].path);
		for (int k = 1; rc == 0 && k < nd; k++)
			if (di[k] != dims[k])
				rc = ct_error("'%s': dataset '%s' has other row dimensions than in '%s'", c->s[i].path, name,
					      c->s[0].path);
		if (rc == 0 && chunked) {
			H5Pget_chunk(p, nd, ci);
			if (ci[0] > chunk0)
				chunk0 = ci[0];
			if (i == 0)
				memcpy(cdims, ci, sizeof cdims);
			for (int k = 1; k < nd; k++)
				if (ci[k] != di[k])
					raw = 0;
			if (ci[0] != 1)
				raw = 0;
		}
		total += di[0];
		H5Sclose(sp);
		H5Tclose(t);
		H5Pclose(p);
	}
	if (rc == 0) {
		dims[0] = total;
		H5Pset_obj_track_times(dcpl, 0);
		if (chunked && total == 0) {
			H5Pset_layout(dcpl, H5D_CONTIGUOUS);
			chunked = 0;
		} else if (chunked) {
			/* A shard smaller than a batch has smaller chunks than the unsharded file. */
			if (!strcmp(name, "features") && c->batch > (int64_t)chunk0)
				chunk0 = (hsize_t)c->batch;
			cdims[0] = chunk0 < total ? chunk0 : total;
			H5Pset_chunk(dcpl, nd, cdims);
		}
		hid_t sp = H5Screate_simple(nd, dims, NULL);
		out = H5Dcreate2(c->dst, name, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
		H5Sclose(sp);
		if (out < 0)
			rc = ct_error("cannot create dataset '%s'", name);
	}
	size_t row_bytes = H5Tget_size(ft);
	for (int k = 1; k < nd; k++)
		row_bytes *= dims[k];
	hsize_t at = 0;
	void *buf = NULL;
	size_t cap = 0;
	for (int i = 0; rc == 0 && i < c->n; i++) {
		hid_t sp = H5Dget_space(d[i]);
		hsize_t di[H5S_MAX_RANK];
		H5Sget_simple_extent_dims(sp, di, NULL);
		H5Sclose(sp);
		if (chunked && raw) {
			hsize_t off[H5S_MAX_RANK] = { 0 }, o2[H5S_MAX_RANK] = { 0 };
			for (hsize_t r = 0; rc == 0 && r < di[0]; r++) {
				off[0] = r;
				o2[0] = at + r;
				hsize_t sz = 0;
				uint32_t mask = 0;
				if (H5Dget_chunk_storage_size(d[i], off, &sz) < 0 || sz == 0)
					continue; /* never written: the fill value, as in the source */
				if (sz > cap) {
					free(buf);
					cap = (size_t)sz;
					if (!(buf = malloc(cap)))
						rc = ct_error("out of memory");
				}
				if (rc == 0 && (H5Dread_chunk(d[i], H5P_DEFAULT, off, &mask, buf) < 0 ||
						H5Dwrite_chunk(out, H5P_DEFAULT, mask, o2, (size_t)sz, buf) < 0))
					rc = ct_error("cannot copy row %llu of '%s' from '%s'", (unsigned long long)r, name,
						      c->s[i].path);
			}
		} else {
			hsize_t step = row_bytes ? (hsize_t)((64u << 20) / row_bytes) : 1;
			if (step < 1)
				step = 1;
			for (hsize_t r = 0; rc == 0 && r < di[0]; r += step) {
				hsize_t cnt = r + step <= di[0] ? step : di[0] - r;
				size_t need = (size_t)cnt * row_bytes;
				if (need > cap) {
					free(buf);
					cap = need;
					if (!(buf = malloc(cap))) {
						rc = ct_error("out of memory");
						break;
					}
				}
				hsize_t start[H5S_MAX_RANK] = { 0 }, count[H5S_MAX_RANK];
				memcpy(count, dims, sizeof count);
				count[0] = cnt;
				hid_t ms = H5Screate_simple(nd, count, NULL);
				hid_t fs = H5Dget_space(d[i]);
				start[0] = r;
				H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
				hid_t os = H5Dget_space(out);
				start[0] = at + r;
				H5Sselect_hyperslab(os, H5S_SELECT_SET, start, NULL, count, NULL);
				if (H5Dread(d[i], ft, ms, fs, H5P_DEFAULT, buf) < 0 ||
				    H5Dwrite(out, ft, ms, os, H5P_DEFAULT, buf) < 0)
					rc = ct_error("cannot copy rows of '%s' from '%s'", name, c->s[i].path);
				H5Sclose(ms);
				H5Sclose(fs);
				H5Sclose(os);
			}
		}
		at += di[0];
	}
	free(buf);
	if (rc == 0 && H5Aiterate2(d[0], H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attr, &out) < 0)
		rc = ct_error_prefix("dataset '%s'", name);
	if (out >= 0)
		H5Dclose(out);
	for (int i = 0; i < c->n; i++)
		if (d[i] > 0)
			H5Dclose(d[i]);
	if (ft >= 0)
		H5Tclose(ft);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	free(d);
	return rc;
}

static herr_t merge_object(hid_t src, const char *name, const H5L_info_t *info, void *data)
{
	(void)info;
	merge_ctx *c = data;
	int rc = 0;
	if (!strcmp(name, "provenance"))
		return 0;
	H5O_info_t oi;
	if (H5Oget_info_by_name(src, name, &oi, H5P_DEFAULT) < 0) {
		c->rc = ct_error("cannot inspect '%s'", name);
		return -1;
	}
	if (oi.type == H5O_TYPE_GROUP || !strcmp(name, "class_names") || !strcmp(name, "nuisance_names")) {
		/* Described per column or per class, the same in every shard (checked above). */
		if (H5Ocopy(src, name, c->dst, name, H5P_DEFAULT, H5P_DEFAULT) < 0)
			rc = ct_error("cannot copy '%s'", name);
	} else if (is_row_strings(name)) {
		rc = concat_strings(c, name);
	} else if (is_row_numeric(name)) {
		rc = concat_numeric(c, name);
	} else {
		rc = ct_error("'%s': dataset '%s' is unknown to this version; cannot merge it", c->s[0].path, name);
	}
	if (rc < 0) {
		c->rc = -1;
		return -1;
	}
	return 0;
}

typedef struct root_ctx {
	hid_t dst;
	int64_t rows, skipped;
	int rc;
} root_ctx;

static herr_t copy_root_attr(hid_t src, const char *name, const H5A_info_t *info, void *data)
{
	root_ctx *c = data;
	static const char *stamped[] = { "schema_version", "kind", "tool", "tool_version", "command", "params",
					  "shard", "shard_first", "shard_end", "shard_of" };
	for (size_t i = 0; i < sizeof stamped / sizeof *stamped; i++)
		if (!strcmp(name, stamped[i]))
			return 0;
	int rc;
	if (!strcmp(name, "rows_done"))
		rc = ct_h5_set_int(c->dst, name, c->rows);
	else if (!strcmp(name, "skipped_count"))
		rc = ct_h5_set_int(c->dst, name, c->skipped);
	else
		rc = copy_attr(src, name, info, &c->dst);
	if (rc < 0) {
		c->rc = -1;
		return -1;
	}
	return 0;
}

int ct_shard_merge(char *const *paths, int npaths, const char *out_path, int force, const ct_merge_run *run,
		   int64_t *rows_out, int *nshards)
{
	shard_file *s = calloc((size_t)npaths, sizeof *s);
	name_ref *names = NULL;
	char *kind = NULL, *tool = NULL;
	int rc = 0, nopen = 0;
	ct_h5 out;
	int have_out = 0;
	if (!s)
		return ct_error("out of memory");
	for (int i = 0; rc == 0 && i < npaths; i++) {
		shard_file *x = &s[i];
		x->path = paths[i];
		if (ct_h5_open(&x->h, x->path) < 0) {
			rc = -1;
			break;
		}
		nopen++;
		char *k = NULL, *sh = NULL, *t = NULL;
		int ndim;
		int64_t shape[CT_MAX_DIMS];
		if (ct_file_check(x->h.file, NULL) < 0 || ct_h5_get_str(x->h.file, "kind", &k) < 0 ||
		    ct_h5_get_str(x->h.file, "tool", &t) < 0) {
			rc = ct_error_prefix("'%s'", x->path);
		} else if (!main_dataset(k)) {
			rc = ct_error("'%s': a %s file; only images and features shards can be merged", x->path, k);
		} else if (i > 0 && (strcmp(k, kind) || strcmp(t, tool))) {
			rc = ct_error("'%s' holds %s from %s but '%s' holds %s from %s: not shards of one run",
				      x->path, k, t, s[0].path, kind, tool);
		} else if (!ct_h5_attr_exists(x->h.file, "shard")) {
			rc = ct_error("'%s' is not a shard (written without --shard)", x->path);
		} else if (ct_h5_get_str(x->h.file, "shard", &sh) < 0 || ct_shard_parse(sh, &x->sh) < 0) {
			rc = ct_error_prefix("'%s': bad attribute 'shard'", x->path);
		} else if (ct_h5_shape(x->h.file, main_dataset(k), &ndim, shape) < 0) {
			rc = ct_error_prefix("'%s'", x->path);
		} else if (ct_provenance_read(x->h.file, &x->prov, &x->nprov) < 0) {
			rc = ct_error_prefix("'%s'", x->path);
		} else {
			x->rows = shape[0];
		}
		free(sh);
		if (i == 0) {
			kind = k;
			tool = t;
		} else {
			free(k);
			free(t);
		}
	}
	if (rc == 0)
		qsort(s, (size_t)npaths, sizeof *s, cmp_shard);
	int n = rc == 0 ? s[0].sh.n : 0;
	for (int i = 0; rc == 0 && i < npaths; i++) {
		if (s[i].sh.n != n)
			rc = ct_error("'%s' is shard %d/%d but '%s' is shard %d/%d: shards of different runs", s[i].path,
				      s[i].sh.k, s[i].sh.n, s[0].path, s[0].sh.k, n);
		else if (i > 0 && s[i].sh.k == s[i - 1].sh.k)
			rc = ct_error("'%s' and '%s' are both shard %d/%d", s[i - 1].path, s[i].path, s[i].sh.k, n);
	}
	if (rc == 0 && npaths != n) {
		char miss[256] = "";
		int nm = 0;
		for (int k = 1, j = 0; k <= n; k++) {
			while (j < npaths && s[j].sh.k < k)
				j++;
			if (j < npaths && s[j].sh.k == k)
				continue;
			if (nm++ < 8)
				snprintf(miss + strlen(miss), sizeof miss - strlen(miss), "%s%d/%d", nm > 1 ? ", " : "", k, n);
		}
		rc = ct_error("missing shard%s %s%s (%d of %d given)", nm > 1 ? "s" : "", miss, nm > 8 ? ", ..." : "",
			      npaths, n);
	}
	for (int i = 0; rc == 0 && i < npaths; i++)
		if (check_one(&s[i]) < 0 || (i > 0 && check_consistent(s, i, kind) < 0))
			rc = -1;
	/* Disjoint: no sample in two shards. */
	int64_t total = 0, skipped = 0;
	for (int i = 0; rc == 0 && i < npaths; i++) {
		total += s[i].rows;
		int64_t sk = 0;
		if (ct_h5_attr_exists(s[i].h.file, "skipped_count") && ct_h5_get_int(s[i].h.file, "skipped_count", &sk) == 0)
			skipped += sk;
	}
	char ***nm = rc == 0 ? calloc((size_t)npaths, sizeof *nm) : NULL;
	int64_t *nn = rc == 0 ? calloc((size_t)npaths, sizeof *nn) : NULL;
	if (rc == 0 && (!nm || !nn || !(names = malloc(((size_t)total + 1) * sizeof *names))))
		rc = ct_error("out of memory");
	int64_t k = 0;
	for (int i = 0; rc == 0 && i < npaths; i++) {
		if (ct_h5_read_strings(s[i].h.file, "names", &nm[i], &nn[i]) < 0) {
			rc = ct_error_prefix("'%s'", s[i].path);
			break;
		}
		if (nn[i] != s[i].rows) {
			rc = ct_error("'%s': %lld names for %lld rows", s[i].path, (long long)nn[i], (long long)s[i].rows);
			break;
		}
		for (int64_t j = 0; j < nn[i]; j++)
			names[k++] = (name_ref){ nm[i][j], i };
	}
	if (rc == 0) {
		qsort(names, (size_t)total, sizeof *names, cmp_name);
		for (int64_t j = 1; j < total; j++)
			if (!strcmp(names[j].name, names[j - 1].name)) {
				const shard_file *a = &s[names[j - 1].shard], *b = &s[names[j].shard];
				rc = ct_error("sample '%s' is in both '%s' (shard %d/%d) and '%s' (shard %d/%d)", names[j].name,
					      a->path, a->sh.k, n, b->path, b->sh.k, n);
				break;
			}
	}
	for (int i = 0; nm && i < npaths; i++)
		ct_strings_free(nm[i], nn[i]);
	free(nm);
	free(nn);
	/* Write. */
	if (rc == 0 && ct_h5_create(&out, out_path, force) < 0)
		rc = -1;
	else if (rc == 0)
		have_out = 1;
	if (rc == 0) {
		ct_run r = { "ct-merge", run->command, run->params };
		merge_ctx mc = { s, npaths, out.file, 0, param_int(s[0].h.file, "batch") };
		root_ctx rcx = { out.file, total, skipped, 0 };
		if (ct_file_stamp(out.file, kind, &r, s[0].prov, s[0].nprov) < 0)
			rc = -1;
		else if (H5Aiterate2(s[0].h.file, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_root_attr, &rcx) < 0 || rcx.rc < 0)
			rc = ct_error_prefix("'%s'", s[0].path);
		else if (H5Literate(s[0].h.file, H5_INDEX_NAME, H5_ITER_INC, NULL, merge_object, &mc) < 0 || mc.rc < 0)
			rc = mc.rc < 0 ? -1 : ct_error("'%s': cannot read its contents", s[0].path);
	}
	if (have_out) {
		if (rc == 0)
			rc = ct_h5_commit(&out);
		else
			ct_h5_abort(&out);
	}
	if (rc == 0) {
		*rows_out = total;
		*nshards = n;
	}
	free(names);
	for (int i = 0; i < npaths; i++) {
		ct_strings_free(s[i].prov, s[i].nprov);
		if (i < nopen || s[i].h.file > 0)
			ct_h5_close(&s[i].h);
	}
	free(s);
	free(kind);
	free(tool);
	return rc;
}
