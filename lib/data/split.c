/* split.c - stratified group-aware split and fold assignment, leakage checks. */
#include "data/split.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/features.h"
#include "data/sourcetsv.h"
#include "data/subset.h"
#include "image/phash.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *split_names[3] = { "train", "val", "test" };

static int split_index(const char *s)
{
	for (int k = 0; k < 3; k++)
		if (!strcmp(s, split_names[k]))
			return k;
	return -1;
}

typedef struct row_key {
	const char *group;
	int64_t row;
} row_key;

static int cmp_key(const void *a, const void *b)
{
	const row_key *x = a, *y = b;
	int c = strcmp(x->group, y->group);
	if (c)
		return c;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* Group id per used row (-1 for unused); groups numbered in order of first
 * appearance so the numbering does not depend on the group strings' sort order. */
static int group_ids(const ct_samples *s, const uint8_t *use, int64_t *gid, int64_t *ngroups)
{
	int64_t n = s->n, m = 0;
	row_key *k = malloc(((size_t)n + 1) * sizeof *k);
	int64_t *first = malloc(((size_t)n + 1) * sizeof *first);
	if (!k || !first) {
		free(k);
		free(first);
		return ct_error("out of memory");
	}
	for (int64_t i = 0; i < n; i++) {
		gid[i] = -1;
		if ((!use || use[i]) && s->groups[i][0])
			k[m++] = (row_key){ s->groups[i], i };
	}
	qsort(k, (size_t)m, sizeof *k, cmp_key);
	/* Each run of equal groups: every row points at the run's first (smallest) row. */
	for (int64_t a = 0; a < m;) {
		int64_t b = a;
		while (b < m && !strcmp(k[b].group, k[a].group))
			b++;
		for (int64_t j = a; j < b; j++)
			first[k[j].row] = k[a].row;
		a = b;
	}
	int64_t g = 0;
	for (int64_t i = 0; i < n; i++) {
		if (use && !use[i])
			continue;
		if (!s->groups[i][0] || first[i] == i)
			gid[i] = g++;
		else
			gid[i] = gid[first[i]];
	}
	free(k);
	free(first);
	*ngroups = g;
	return 0;
}

typedef struct gitem {
	int64_t size;
	int64_t pos; /* position in the seeded shuffle */
	int64_t id;
} gitem;

static int cmp_gitem(const void *a, const void *b)
{
	const gitem *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int ct_assign_groups(const ct_samples *s, const uint8_t *use, int nbins, const double *frac, uint64_t seed,
		     int32_t *bin)
{
	int64_t n = s->n, ng = 0;
	int nc = s->nclasses + 1; /* last bin: unlabelled */
	if (nbins < 1)
		return ct_error("need at least one bin");
	int64_t *gid = malloc(((size_t)n + 1) * sizeof *gid);
	if (!gid)
		return ct_error("out of memory");
	if (group_ids(s, use, gid, &ng) < 0) {
		free(gid);
		return -1;
	}
	size_t ngc;
	int64_t *gcount = NULL, *bcount = NULL, *total = NULL;
	gitem *order = NULL;
	int32_t *gbin = NULL;
	double *target = NULL;
	int rc = 0;
	if (ct_mul_size((size_t)ng + 1, (size_t)nc, &ngc) < 0 || !(gcount = calloc(ngc, sizeof *gcount)) ||
	    !(bcount = calloc((size_t)nbins * (size_t)nc, sizeof *bcount)) ||
	    !(total = calloc((size_t)nc, sizeof *total)) || !(order = calloc((size_t)ng + 1, sizeof *order)) ||
	    !(gbin = calloc((size_t)ng + 1, sizeof *gbin)) ||
	    !(target = calloc((size_t)nbins * (size_t)nc, sizeof *target))) {
		rc = ct_error("out of memory");
		goto done;
	}
	for (int64_t i = 0; i < n; i++) {
		if (gid[i] < 0)
			continue;
		int c = s->labels[i] < 0 ? nc - 1 : s->labels[i];
		gcount[gid[i] * nc + c]++;
		order[gid[i]].size++;
		total[c]++;
	}
	double fsum = 0;
	for (int b = 0; b < nbins; b++)
		fsum += frac[b] > 0 ? frac[b] : 0;
	if (fsum <= 0) {
		rc = ct_error("all shares are zero");
		goto done;
	}
	for (int b = 0; b < nbins; b++)
		for (int c = 0; c < nc; c++)
			target[b * nc + c] = (frac[b] > 0 ? frac[b] / fsum : 0) * (double)total[c];
	/* Seeded shuffle for the order among groups of equal size. */
	int64_t *perm = malloc(((size_t)ng + 1) * sizeof *perm);
	if (!perm) {
		rc = ct_error("out of memory");
		goto done;
	}
	ct_rng r;
	ct_rng_init(&r, seed, 0x5b1700);
	for (int64_t g = 0; g < ng; g++)
		perm[g] = g;
	for (int64_t g = ng - 1; g > 0; g--) {
		int64_t j = (int64_t)ct_rng_below(&r, (uint64_t)g + 1), t = perm[g];
		perm[g] = perm[j];
		perm[j] = t;
	}
	for (int64_t p = 0; p < ng; p++) {
		order[perm[p]].pos = p;
		order[perm[p]].id = perm[p];
	}
	free(perm);
	qsort(order, (size_t)ng, sizeof *order, cmp_gitem);
	for (int64_t p = 0; p < ng; p++) {
		int64_t g = order[p].id;
		const int64_t *gc = gcount + g * nc;
		int best = -1;
		double best_cost = 0, best_deficit = 0;
		for (int b = 0; b < nbins; b++) {
			if (!(frac[b] > 0))
				continue;
			double cost = 0, deficit = 0;
			for (int c = 0; c < nc; c++) {
				double have = (double)bcount[b * nc + c], t = target[b * nc + c];
				cost += (double)gc[c] * (2.0 * (have - t) + (double)gc[c]);
				deficit += t - have;
			}
			if (best < 0 || cost < best_cost - 1e-9 ||
			    (fabs(cost - best_cost) <= 1e-9 && deficit > best_deficit + 1e-9)) {
				best = b;
				best_cost = cost;
				best_deficit = deficit;
			}
		}
		gbin[g] = best;
		for (int c = 0; c < nc; c++)
			bcount[best * nc + c] += gc[c];
	}
	for (int64_t i = 0; i < n; i++)
		bin[i] = gid[i] < 0 ? -1 : gbin[gid[i]];
done:
	free(gid);
	free(gcount);
	free(bcount);
	free(total);
	free(order);
	free(gbin);
	free(target);
	return rc;
}

int ct_split_parse_fractions(const char *str, double frac[3])
{
	const char *p = str;
	double sum = 0;
	for (int k = 0; k < 3; k++) {
		char *end;
		errno = 0;
		frac[k] = strtod(p, &end);
		if (errno || end == p || !isfinite(frac[k]) || frac[k] < 0 || frac[k] > 1 ||
		    (k < 2 && *end != ',') || (k == 2 && *end))
			return ct_error("bad fractions '%s' (expected TRAIN,VAL,TEST, e.g. 0.6,0.2,0.2)", str);
		sum += frac[k];
		p = end + 1;
	}
	if (fabs(sum - 1.0) > 1e-6)
		return ct_error("fractions '%s' sum to %g, not 1", str, sum);
	if (!(frac[0] > 0))
		return ct_error("fractions '%s' give no training samples", str);
	return 0;
}

/* First class present among the used rows that bin b lacks, or -1. */
static int missing_class(const ct_samples *s, const uint8_t *use, const int32_t *bin, int b)
{
	for (int c = 0; c < s->nclasses; c++) {
		int64_t all = 0, in = 0;
		for (int64_t i = 0; i < s->n; i++)
			if ((!use || use[i]) && s->labels[i] == c) {
				all++;
				in += bin[i] == b;
			}
		if (all > 0 && in == 0)
			return c;
	}
	return -1;
}

int ct_split_make(ct_samples *s, const double frac[3], uint64_t seed, char *note, size_t notelen)
{
	if (note && notelen)
		note[0] = 0;
	if (s->n == 0)
		return ct_error("no samples to split");
	int32_t *bin = malloc(((size_t)s->n + 1) * sizeof *bin);
	if (!bin)
		return ct_error("out of memory");
	int rc = ct_assign_groups(s, NULL, 3, frac, seed, bin);
	int64_t cnt[3] = { 0, 0, 0 };
	for (int64_t i = 0; rc == 0 && i < s->n; i++)
		cnt[bin[i]]++;
	for (int b = 0; rc == 0 && b < 3; b++) {
		if (!(frac[b] > 0))
			continue;
		int c = missing_class(s, NULL, bin, b);
		if (cnt[b] == 0)
			rc = ct_error("split '%s' would be empty: too few groups for the fractions %g,%g,%g",
				      split_names[b], frac[0], frac[1], frac[2]);
		else if (c >= 0)
			rc = ct_error("split '%s' would have no '%s' samples (too few groups of that class for the "
				      "fractions %g,%g,%g)",
				      split_names[b], s->class_names[c], frac[0], frac[1], frac[2]);
	}
	double got[3];
	for (int b = 0; b < 3; b++)
		got[b] = (double)cnt[b] / (double)s->n;
	if (rc == 0 && note && (fabs(got[0] - frac[0]) > 0.05 || fabs(got[1] - frac[1]) > 0.05 ||
				fabs(got[2] - frac[2]) > 0.05))
		snprintf(note, notelen,
			 "whole groups meet the fractions %g,%g,%g only approximately: %.3f,%.3f,%.3f", frac[0],
			 frac[1], frac[2], got[0], got[1], got[2]);
	for (int64_t i = 0; rc == 0 && i < s->n; i++) {
		char *v = strdup(split_names[bin[i]]);
		if (!v) {
			rc = ct_error("out of memory");
			break;
		}
		free(s->splits[i]);
		s->splits[i] = v;
	}
	free(bin);
	return rc;
}

int ct_split_assign(ct_samples *s, const char *tsv)
{
	char **val = NULL, *column = NULL;
	if (ct_sources_tsv_read(tsv, 2, s, &val, &column) < 0)
		return -1;
	free(column);
	int rc = 0;
	for (int64_t i = 0; rc == 0 && i < s->n; i++) {
		const char *v = val[i];
		if (!strcmp(v, CT_TSV_UNKNOWN))
			rc = ct_error("'%s' does not name sample '%s'", tsv, s->names[i]);
		else if (!strcmp(v, "none") || !strcmp(v, "-"))
			v = "";
		else if (split_index(v) < 0)
			rc = ct_error("'%s' gives '%s' the split '%s' (not train, val, test or none)", tsv, s->names[i], v);
		char *d = rc == 0 ? strdup(v) : NULL;
		if (rc == 0 && !d)
			rc = ct_error("out of memory");
		if (rc == 0) {
			free(s->splits[i]);
			s->splits[i] = d;
		}
	}
	ct_strings_free(val, s->n);
	return rc;
}

int ct_folds_make(const ct_samples *s, const uint8_t *use, int k, uint64_t seed, int32_t *fold)
{
	if (k < 2)
		return ct_error("need at least 2 folds, got %d", k);
	int64_t *gid = malloc(((size_t)s->n + 1) * sizeof *gid), ng = 0;
	double *frac = malloc((size_t)k * sizeof *frac);
	if (!gid || !frac) {
		free(gid);
		free(frac);
		return ct_error("out of memory");
	}
	int rc = group_ids(s, use, gid, &ng);
	free(gid);
	if (rc == 0 && ng < k)
		rc = ct_error("cannot make %d folds from %lld groups", k, (long long)ng);
	for (int b = 0; b < k; b++)
		frac[b] = 1.0 / k;
	/* A stream of its own, so folds differ from the train/val/test assignment. */
	if (rc == 0)
		rc = ct_assign_groups(s, use, k, frac, ct_mix64(seed ^ 0xf01d5ULL), fold);
	for (int b = 0; rc == 0 && b < k; b++) {
		int c = missing_class(s, use, fold, b);
		if (c >= 0)
			rc = ct_error("fold %d of %d would have no '%s' samples (too few groups of that class)", b + 1,
				      k, s->class_names[c]);
	}
	free(frac);
	return rc;
}

void ct_leak_report_free(ct_leak_report *r)
{
	for (int64_t i = 0; i < r->nleaky; i++)
		free(r->leaky[i].group);
	free(r->leaky);
	free(r->pairs);
	memset(r, 0, sizeof *r);
}

int ct_leak_groups(const ct_samples *s, ct_leak_report *r)
{
	int64_t n = s->n, m = 0;
	row_key *k = malloc(((size_t)n + 1) * sizeof *k);
	if (!k)
		return ct_error("out of memory");
	for (int64_t i = 0; i < n; i++)
		if (s->groups[i][0])
			k[m++] = (row_key){ s->groups[i], i };
	qsort(k, (size_t)m, sizeof *k, cmp_key);
	int rc = 0;
	for (int64_t a = 0; a < m && rc == 0;) {
		int64_t b = a, cnt[3] = { 0, 0, 0 };
		while (b < m && !strcmp(k[b].group, k[a].group)) {
			int sp = split_index(s->splits[k[b].row]);
			if (sp >= 0)
				cnt[sp]++;
			b++;
		}
		r->ngroups++;
		if ((cnt[0] > 0) + (cnt[1] > 0) + (cnt[2] > 0) > 1) {
			ct_leak_group *v = realloc(r->leaky, ((size_t)r->nleaky + 1) * sizeof *v);
			char *g = strdup(k[a].group);
			if (!v || !g) {
				free(g);
				if (v)
					r->leaky = v;
				rc = ct_error("out of memory");
				break;
			}
			r->leaky = v;
			v[r->nleaky].group = g;
			memcpy(v[r->nleaky].count, cnt, sizeof cnt);
			r->nleaky++;
		}
		a = b;
	}
	free(k);
	return rc;
}

int ct_leak_duplicates(const ct_samples *s, const uint64_t *hash, int threshold, ct_leak_report *r)
{
	int64_t cap = 0;
	r->hashed = 1;
	for (int64_t a = 0; a < s->n; a++) {
		int sa = split_index(s->splits[a]);
		if (sa < 0)
			continue;
		for (int64_t b = a + 1; b < s->n; b++) {
			int sb = split_index(s->splits[b]);
			if (sb < 0 || sb == sa)
				continue;
			int d = ct_hamming64(hash[a], hash[b]);
			if (d > threshold)
				continue;
			if (r->npairs == cap) {
				int64_t nc = cap ? 2 * cap : 64;
				ct_leak_pair *v = realloc(r->pairs, (size_t)nc * sizeof *v);
				if (!v)
					return ct_error("out of memory");
				r->pairs = v;
				cap = nc;
			}
			r->pairs[r->npairs++] = (ct_leak_pair){ a, b, d };
		}
	}
	return 0;
}

int ct_images_dhash(ct_images *im, uint64_t *hash)
{
	const int64_t bs = 64;
	ct_tensor batch;
	if (ct_tensor_alloc4(&batch, im->dtype, im->n < bs ? (im->n ? im->n : 1) : bs, im->height, im->width,
			     im->channels) < 0)
		return ct_error("out of memory for an image batch");
	int rc = 0;
	for (int64_t start = 0; rc == 0 && start < im->n; start += bs) {
		int64_t cnt = im->n - start < bs ? im->n - start : bs;
		ct_tensor view = ct_tensor_slice0(&batch, 0, cnt);
		if (ct_images_read(im, start, &view) < 0) {
			rc = -1;
			break;
		}
		int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad)
		for (int64_t i = 0; i < cnt; i++) {
			ct_tensor one = ct_tensor_slice0(&view, i, 1);
			one.ndim = 3;
			for (int d = 0; d < 3; d++) {
				one.shape[d] = one.shape[d + 1];
				one.stride[d] = one.stride[d + 1];
			}
			if (ct_dhash(&one, &hash[start + i]) < 0)
				bad = 1;
		}
		if (bad)
			rc = ct_error("'%s': images of %lldx%lld are too small to hash", im->h.path, (long long)im->width,
				      (long long)im->height);
	}
	ct_tensor_free(&batch);
	return rc;
}

typedef struct copy_ctx {
	hid_t dst;
	int rc;
	int raw; /* chunks may be copied as stored (raw_chunks) */
} copy_ctx;

static int skip_object(const char *name)
{
	return !strcmp(name, "splits") || !strcmp(name, "folds") || !strcmp(name, "provenance");
}

/* Copy the attributes of one object (fixed-size values, as every file we write holds). */
static int copy_attrs(hid_t from, hid_t to)
{
	int n = H5Aget_num_attrs(from), rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		hid_t a = H5Aopen_by_idx(from, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)i, H5P_DEFAULT, H5P_DEFAULT);
		char name[256];
		if (a < 0 || H5Aget_name(a, sizeof name, name) < 0) {
			if (a >= 0)
				H5Aclose(a);
			return -1;
		}
		hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
		hsize_t size = H5Aget_storage_size(a);
		unsigned char *buf = malloc(size ? size : 1);
		hid_t b = -1;
		if (!buf || H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0 || H5Aread(a, t, buf) < 0 ||
		    (b = H5Acreate2(to, name, t, sp, H5P_DEFAULT, H5P_DEFAULT)) < 0 || H5Awrite(b, t, buf) < 0)
			rc = -1;
		if (b >= 0)
			H5Aclose(b);
		free(buf);
		H5Tclose(t);
		H5Sclose(sp);
		H5Aclose(a);
	}
	return rc;
}

/* Copy the chunks of a chunked dataset as stored (compressed), without encoding them again:
 * cut activations (hundreds of MB of deflated float maps) copy three times faster. Each chunk
 * is still decoded once (read through its filters into a scratch buffer), so a damaged chunk
 * fails the copy as before, naming the dataset. 1 when copied, 0 when not a chunked dataset
 * this can copy, -1 on error (reported). */
static int raw_chunks(hid_t d, hid_t o, const char *name, hid_t t, int nd, const hsize_t *dims, hid_t dcpl)
{
	hsize_t cdims[H5S_MAX_RANK];
	if (nd < 1 || H5Pget_chunk(dcpl, nd, cdims) != nd)
		return 0;
	size_t cbytes = H5Tget_size(t);
	for (int i = 0; i < nd; i++)
		cbytes *= (size_t)cdims[i];
	hid_t fs = H5Dget_space(d);
	hsize_t n = 0;
	int rc = fs >= 0 && H5Dget_num_chunks(d, fs, &n) >= 0 ? 1 : 0;
	unsigned char *buf = NULL, *plain = rc == 1 ? malloc(cbytes ? cbytes : 1) : NULL;
	size_t cap = 0;
	if (rc == 1 && !plain)
		rc = ct_error("out of memory copying '%s'", name);
	for (hsize_t i = 0; rc == 1 && i < n; i++) {
		hsize_t off[H5S_MAX_RANK], size = 0;
		unsigned mask = 0;
		haddr_t addr;
		if (H5Dget_chunk_info(d, fs, i, off, &mask, &addr, &size) < 0) {
			rc = ct_error("cannot read '%s' (chunk %llu)", name, (unsigned long long)i);
			break;
		}
		if (size > cap) {
			unsigned char *b = realloc(buf, (size_t)size);
			if (!b) {
				rc = ct_error("out of memory copying '%s'", name);
				break;
			}
			buf = b, cap = (size_t)size;
		}
		/* the chunk decoded (the part inside the extent), as the reading copy would */
		hsize_t cnt[H5S_MAX_RANK];
		for (int k = 0; k < nd; k++)
			cnt[k] = dims[k] - off[k] < cdims[k] ? dims[k] - off[k] : cdims[k];
		hid_t sel = H5Scopy(fs), ms = H5Screate_simple(nd, cnt, NULL);
		herr_t e = sel < 0 || ms < 0 ? -1 : H5Sselect_hyperslab(sel, H5S_SELECT_SET, off, NULL, cnt, NULL);
		if (e >= 0)
			e = H5Dread(d, t, ms, sel, H5P_DEFAULT, plain);
		if (sel >= 0)
			H5Sclose(sel);
		if (ms >= 0)
			H5Sclose(ms);
		uint32_t filters = 0;
		if (e < 0 || H5Dread_chunk(d, H5P_DEFAULT, off, &filters, buf) < 0)
			rc = ct_error("cannot read '%s'", name);
		else if (H5Dwrite_chunk(o, H5P_DEFAULT, filters, off, (size_t)size, buf) < 0)
			rc = ct_error("cannot write '%s' (disk full?)", name);
	}
	free(buf);
	free(plain);
	if (fs >= 0)
		H5Sclose(fs);
	return rc;
}

/* Copy a dataset by reading and writing it (same type, shape, chunks and filters), in blocks
 * of rows, or chunk by chunk as stored (raw_chunks). Not H5Ocopy: HDF5 1.10 crashes inside
 * H5Ocopy when a write fails (a full disk), and it copies damaged chunks without looking at
 * them. */
static int copy_dataset(hid_t src, hid_t dst, const char *name, int raw)
{
	hid_t d = H5Dopen2(src, name, H5P_DEFAULT);
	if (d < 0)
		return ct_error("cannot read '%s'", name);
	hid_t t = H5Dget_type(d), sp = H5Dget_space(d), dcpl = H5Dget_create_plist(d);
	hid_t o = -1;
	int rc = 0, nd = H5Sget_simple_extent_ndims(sp);
	hsize_t dims[H5S_MAX_RANK];
	unsigned char *buf = NULL;
	size_t row = H5Tget_size(t);
	if (nd < 0 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 || H5Tdetect_class(t, H5T_VLEN) > 0 ||
	    H5Tis_variable_str(t) > 0) {
		rc = ct_error("cannot read '%s' (unsupported layout)", name);
		goto out;
	}
	H5Pset_obj_track_times(dcpl, 0);
	if ((o = H5Dcreate2(dst, name, t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
		rc = ct_error("cannot write '%s' (disk full?)", name);
		goto out;
	}
	if (raw && H5Pget_layout(dcpl) == H5D_CHUNKED) {
		int r = raw_chunks(d, o, name, t, nd, dims, dcpl);
		if (r != 0) {
			rc = r < 0 ? -1 : 0;
			if (rc == 0 && copy_attrs(d, o) < 0)
				rc = ct_error("cannot copy the attributes of '%s'", name);
			goto out;
		}
	}
	for (int i = 1; i < nd; i++)
		row *= (size_t)dims[i];
	hsize_t total = nd == 0 ? 1 : dims[0], per = row ? (hsize_t)((16u << 20) / row) : 1;
	if (per < 1)
		per = 1;
	if (per > total)
		per = total;
	if (total > 0 && row > 0 && !(buf = malloc((size_t)per * row))) {
		rc = ct_error("out of memory copying '%s'", name);
		goto out;
	}
	for (hsize_t start = 0; rc == 0 && row > 0 && start < total; start += per) {
		if (nd == 0) {
			if (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
				rc = ct_error("cannot read '%s'", name);
			else if (H5Dwrite(o, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
				rc = ct_error("cannot write '%s' (disk full?)", name);
			break;
		}
		hsize_t off[H5S_MAX_RANK] = { 0 }, cnt[H5S_MAX_RANK];
		memcpy(cnt, dims, sizeof(hsize_t) * (size_t)nd);
		off[0] = start;
		cnt[0] = total - start < per ? total - start : per;
		hid_t fs = H5Scopy(sp), ms = H5Screate_simple(nd, cnt, NULL);
		H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
		if (H5Dread(d, t, ms, fs, H5P_DEFAULT, buf) < 0)
			rc = ct_error("cannot read '%s'", name);
		else if (H5Dwrite(o, t, ms, fs, H5P_DEFAULT, buf) < 0)
			rc = ct_error("cannot write '%s' (disk full?)", name);
		H5Sclose(fs);
		H5Sclose(ms);
	}
	if (rc == 0 && copy_attrs(d, o) < 0)
		rc = ct_error("cannot copy the attributes of '%s'", name);
out:
	free(buf);
	if (o >= 0)
		H5Dclose(o);
	H5Pclose(dcpl);
	H5Tclose(t);
	H5Sclose(sp);
	H5Dclose(d);
	return rc;
}

static herr_t copy_object(hid_t src, const char *name, const H5L_info_t *info, void *data);

/* A group: created untimed, its attributes and members copied. */
static int copy_group(hid_t src, hid_t dst, const char *name, int raw)
{
	hid_t g = H5Gopen2(src, name, H5P_DEFAULT);
	if (g < 0)
		return ct_error("cannot read '%s'", name);
	hid_t o = ct_h5_create_group(dst, name);
	int rc = o < 0 ? -1 : 0;
	if (rc == 0 && copy_attrs(g, o) < 0)
		rc = ct_error("cannot copy the attributes of '%s'", name);
	copy_ctx c = { o, 0, raw };
	if (rc == 0 && H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_object, &c) < 0)
		rc = c.rc < 0 ? -1 : ct_error("cannot copy '%s'", name);
	if (o >= 0)
		H5Gclose(o);
	H5Gclose(g);
	return rc;
}

static herr_t copy_object(hid_t src, const char *name, const H5L_info_t *info, void *data)
{
	(void)info;
	copy_ctx *c = data;
	if (skip_object(name))
		return 0;
	H5O_info_t oi;
	if (H5Oget_info_by_name(src, name, &oi, H5P_DEFAULT) < 0) {
		c->rc = ct_error("cannot read '%s'", name);
		return -1;
	}
	int rc = oi.type == H5O_TYPE_DATASET ? copy_dataset(src, c->dst, name, c->raw)
		 : oi.type == H5O_TYPE_GROUP ? copy_group(src, c->dst, name, c->raw)
					      : ct_error("'%s' is not a dataset or group", name);
	if (rc < 0) {
		c->rc = -1;
		return -1;
	}
	return 0;
}

/* Root attributes written again by ct_file_stamp are not copied. */
static herr_t copy_attr(hid_t src, const char *name, const H5A_info_t *info, void *data)
{
	(void)info;
	copy_ctx *c = data;
	static const char *stamped[] = { "schema_version", "kind", "tool", "tool_version", "command", "params" };
	for (size_t i = 0; i < sizeof stamped / sizeof *stamped; i++)
		if (!strcmp(name, stamped[i]))
			return 0;
	int rc = ct_h5_copy_attr(src, c->dst, name);
	if (rc < 0) {
		c->rc = -1;
		return -1;
	}
	return 0;
}

/* Validate a features or images file whole (values, shapes, blocks, samples). */
static int validate_kind(const char *path, const char *kind)
{
	if (!strcmp(kind, "features")) {
		ct_features f;
		if (ct_features_read(path, &f) < 0)
			return -1;
		ct_features_free(&f);
		return 0;
	}
	if (!strcmp(kind, "images")) {
		ct_images im;
		if (ct_images_open(&im, path) < 0)
			return -1;
		int64_t bs = 64;
		int64_t shape[4] = { bs, im.height, im.width, im.channels };
		ct_tensor batch;
		memset(&batch, 0, sizeof batch);
		int rc = ct_tensor_alloc(&batch, im.dtype, 4, shape);
		for (int64_t start = 0; rc == 0 && start < im.n; start += bs) {
			ct_tensor view = ct_tensor_slice0(&batch, 0, im.n - start < bs ? im.n - start : bs);
			rc = ct_images_read(&im, start, &view);
		}
		ct_tensor_free(&batch);
		ct_images_close(&im);
		return rc;
	}
	return ct_error("'%s': a '%s' file cannot be split (features or images files only)", path, kind);
}

int ct_split_rewrite(const char *in, ct_h5 *out, const ct_samples *s, const int32_t *folds, int k,
		     const ct_run *run)
{
	ct_h5 h;
	if (ct_h5_open(&h, in) < 0)
		return -1;
	char *kind = NULL, **prov = NULL;
	int64_t nprov = 0;
	int rc = 0;
	if (ct_file_check(h.file, NULL) < 0 || ct_h5_get_str(h.file, "kind", &kind) < 0 ||
	    ct_provenance_read(h.file, &prov, &nprov) < 0) {
		rc = ct_error_prefix("'%s'", in);
		goto done;
	}
	/* Read everything the copy carries through the reader of its kind first: H5Ocopy copies
	 * raw chunks unchecked, so a damaged or malformed input would be re-stamped as valid. */
	if (validate_kind(in, kind) < 0) {
		rc = -1;
		goto done;
	}
	copy_ctx c = { out->file, 0, !out->no_checksum };
	if (H5Literate(h.file, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_object, &c) < 0 ||
	    H5Aiterate2(h.file, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attr, &c) < 0) {
		rc = c.rc < 0 ? ct_error_prefix("'%s'", out->path) : ct_error("cannot write '%s' (disk full?)", out->path);
		goto done;
	}
	if (ct_file_stamp(out->file, kind, run, prov, nprov) < 0 ||
	    ct_h5_write_strings(out->file, "splits", s->splits, s->n) < 0) {
		rc = -1;
		goto done;
	}
	if (folds) {
		int64_t shape[1] = { s->n };
		ct_tensor t = ct_tensor_wrap((void *)folds, CT_I32, 1, shape);
		hid_t d;
		if (ct_h5_write(out->file, "folds", &t, 0, 0) < 0 || (d = H5Dopen2(out->file, "folds", H5P_DEFAULT)) < 0) {
			rc = -1;
			goto done;
		}
		rc = ct_h5_set_int(d, "k", k);
		H5Dclose(d);
	}
done:
	free(kind);
	ct_strings_free(prov, nprov);
	ct_h5_close(&h);
	return rc;
}

/* ---- ct-split: a file in, a file out, or a leakage report ---- */

void ct_split_opts_default(ct_split_opts *o)
{
	memset(o, 0, sizeof *o);
	o->fractions = "0.6,0.2,0.2";
	o->seed = 42;
	o->hash_threshold = 4;
}

/* The samples (and the kind) of any ctfuse file; errors name it. */
static int load_samples(const char *path, ct_samples *s, char **kind)
{
	ct_h5 h;
	if (ct_h5_open(&h, path) < 0)
		return -1;
	if (ct_file_check(h.file, NULL) < 0 || (kind && ct_h5_get_str(h.file, "kind", kind) < 0) ||
	    ct_samples_read(h.file, s) < 0) {
		ct_error_prefix("'%s'", path);
		ct_h5_close(&h);
		return -1;
	}
	ct_h5_close(&h);
	return 0;
}

int ct_split_file(const char *in, const char *out_path, int force, const ct_split_opts *o, const ct_run *run,
		  ct_split_summary *sum)
{
	memset(sum, 0, sizeof *sum);
	double frac[3];
	if (ct_split_parse_fractions(o->fractions, frac) < 0) {
		char m[256];
		snprintf(m, sizeof m, "%s", ct_last_error());
		return ct_error_usage("%s", m); /* checked before the input is read */
	}
	ct_samples s;
	if (load_samples(in, &s, NULL) < 0)
		return -1;
	int32_t *fold = NULL;
	uint8_t *use = NULL;
	int keep = o->keep_splits || o->train_fraction > 0 || o->assign;
	int rc = keep ? 0 : ct_split_make(&s, frac, o->seed, sum->note, sizeof sum->note);
	if (rc == 0 && o->assign)
		rc = ct_split_assign(&s, o->assign);
	if (rc == 0 && o->train_fraction > 0 && ct_samples_count(&s, "train", -2) == 0)
		rc = ct_error("no train samples to take a share of");
	if (rc == 0 && o->train_fraction > 0)
		rc = ct_subset_train(&s, o->train_fraction, o->seed, &sum->kept_groups, &sum->total_groups);
	if (rc < 0)
		ct_error_prefix("'%s'", in);
	if (rc == 0 && o->folds) {
		fold = malloc(((size_t)s.n + 1) * sizeof *fold);
		use = malloc((size_t)s.n + 1);
		if (!fold || !use)
			rc = ct_error("out of memory");
		for (int64_t i = 0; rc == 0 && i < s.n; i++)
			use[i] = !strcmp(s.splits[i], "train") || !strcmp(s.splits[i], "val");
		if (rc == 0 && ct_folds_make(&s, use, o->folds, o->seed, fold) < 0)
			rc = ct_error_prefix("'%s'", in);
	}
	if (rc == 0 && keep) {
		ct_leak_report r = { 0 };
		rc = ct_leak_groups(&s, &r);
		if (rc == 0 && r.nleaky)
			rc = ct_error("'%s': group '%s' is in more than one split; cannot keep these splits", in,
				      r.leaky[0].group);
		ct_leak_report_free(&r);
	}
	ct_h5 h;
	if (rc == 0)
		rc = ct_h5_create(&h, out_path, force);
	if (rc == 0) {
		rc = ct_split_rewrite(in, &h, &s, fold, o->folds, run);
		if (rc == 0)
			rc = ct_h5_commit(&h);
		else
			ct_h5_abort(&h);
	}
	sum->n = s.n;
	sum->train = ct_samples_count(&s, "train", -2);
	sum->val = ct_samples_count(&s, "val", -2);
	sum->test = ct_samples_count(&s, "test", -2);
	free(fold);
	free(use);
	ct_samples_free(&s);
	return rc;
}

int ct_split_check(const char *path, const ct_split_opts *o, FILE *out, int *leak)
{
	ct_samples s;
	char *kind = NULL;
	*leak = 0;
	if (load_samples(path, &s, &kind) < 0) {
		free(kind);
		return -1;
	}
	ct_leak_report r = { 0 };
	int rc = ct_leak_groups(&s, &r);
	if (rc == 0 && !strcmp(kind, "images")) {
		ct_images im;
		uint64_t *hash = malloc(((size_t)s.n + 1) * sizeof *hash);
		rc = hash ? ct_images_open(&im, path) : ct_error("out of memory");
		if (rc == 0) {
			rc = ct_images_dhash(&im, hash);
			ct_images_close(&im);
		}
		if (rc == 0)
			rc = ct_leak_duplicates(&s, hash, o->hash_threshold, &r);
		free(hash);
	}
	if (rc == 0) {
		fprintf(out, "%s: %s file, %lld samples, %lld groups (train %lld, val %lld, test %lld, none %lld)\n", path,
			kind, (long long)s.n, (long long)r.ngroups, (long long)ct_samples_count(&s, "train", -2),
			(long long)ct_samples_count(&s, "val", -2), (long long)ct_samples_count(&s, "test", -2),
			(long long)ct_samples_count(&s, "", -2));
		fprintf(out, "groups in more than one split: %lld\n", (long long)r.nleaky);
		for (int64_t i = 0; i < r.nleaky; i++)
			fprintf(out, "  group '%s': train %lld, val %lld, test %lld\n", r.leaky[i].group,
				(long long)r.leaky[i].count[0], (long long)r.leaky[i].count[1], (long long)r.leaky[i].count[2]);
		if (r.hashed) {
			fprintf(out, "near-duplicate images in different splits (dHash distance <= %d): %lld\n",
				o->hash_threshold, (long long)r.npairs);
			for (int64_t i = 0; i < r.npairs && i < 100; i++)
				fprintf(out, "  '%s' (%s) ~ '%s' (%s): distance %d\n", s.names[r.pairs[i].a],
					s.splits[r.pairs[i].a], s.names[r.pairs[i].b], s.splits[r.pairs[i].b],
					r.pairs[i].distance);
			if (r.npairs > 100)
				fprintf(out, "  ... and %lld more pairs\n", (long long)(r.npairs - 100));
		} else {
			fprintf(out, "near-duplicate images: not checked (a %s file has no images)\n", kind);
		}
		*leak = r.nleaky > 0 || r.npairs > 0;
		fprintf(out, "%s\n", *leak ? "leakage found" : "no leakage found");
	}
	ct_leak_report_free(&r);
	ct_samples_free(&s);
	free(kind);
	return rc;
}
