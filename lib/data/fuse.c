/* fuse.c - alignment checks and column-wise fusion of features files. */
#include "data/fuse.h"
#include "core/error.h"
#include "core/str.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ct_fuse_norm_name(ct_fuse_norm n)
{
	return n == CT_FUSE_STANDARDIZE ? "standardize" : n == CT_FUSE_L2 ? "l2" : "none";
}

int ct_fuse_check_aligned(const ct_features *a, const char *ap, const ct_features *b, const char *bp)
{
	const ct_samples *x = &a->s, *y = &b->s;
	if (y->n != x->n)
		return ct_error("'%s': %lld samples, expected %lld (as in '%s')", bp, (long long)y->n, (long long)x->n,
				ap);
	if (y->nclasses != x->nclasses)
		return ct_error("'%s': %d classes, expected %d (as in '%s')", bp, y->nclasses, x->nclasses, ap);
	for (int c = 0; c < x->nclasses; c++)
		if (strcmp(y->class_names[c], x->class_names[c]))
			return ct_error("'%s': class %d is '%s', expected '%s' (as in '%s')", bp, c, y->class_names[c],
					x->class_names[c], ap);
	for (int64_t i = 0; i < x->n; i++) {
		if (strcmp(y->names[i], x->names[i]))
			return ct_error("'%s': sample %lld is '%s', expected '%s' (as in '%s')", bp, (long long)i,
					y->names[i], x->names[i], ap);
		if (y->labels[i] != x->labels[i])
			return ct_error("'%s': sample %lld ('%s') has label %d, expected %d (as in '%s')", bp,
					(long long)i, y->names[i], y->labels[i], x->labels[i], ap);
		if (strcmp(y->splits[i], x->splits[i]))
			return ct_error("'%s': sample %lld ('%s') is in split '%s', expected '%s' (as in '%s')", bp,
					(long long)i, y->names[i], y->splits[i], x->splits[i], ap);
		if (strcmp(y->groups[i], x->groups[i]))
			return ct_error("'%s': sample %lld ('%s') has group '%s', expected '%s' (as in '%s')", bp,
					(long long)i, y->names[i], y->groups[i], x->groups[i], ap);
	}
	return 0;
}

void ct_fuse_info_free(ct_fuse_info *info)
{
	free(info->mean);
	free(info->std);
	free(info->block_weight);
	free(info->block_input);
	memset(info, 0, sizeof *info);
}

/* Provenance union: every line of every input's chain, first occurrence kept. */
static int prov_union(const ct_features *in, int n, ct_features *out)
{
	int64_t total = 0;
	for (int k = 0; k < n; k++)
		total += in[k].nprov;
	out->prov = calloc((size_t)total + 1, sizeof *out->prov);
	if (!out->prov)
		return ct_error("out of memory");
	for (int k = 0; k < n; k++)
		for (int64_t i = 0; i < in[k].nprov; i++) {
			int seen = 0;
			for (int64_t j = 0; j < out->nprov && !seen; j++)
				seen = !strcmp(out->prov[j], in[k].prov[i]);
			if (seen)
				continue;
			if (!(out->prov[out->nprov] = ct_strdup(in[k].prov[i])))
				return ct_error("out of memory");
			out->nprov++;
		}
	return 0;
}

int ct_fuse(const ct_features *in, const char *const *paths, int n, const ct_fuse_opts *o, ct_features *out,
	    ct_fuse_info *info)
{
	memset(out, 0, sizeof *out);
	memset(info, 0, sizeof *info);
	if (n < 1)
		return ct_error("nothing to fuse");
	for (int k = 1; k < n; k++)
		if (ct_fuse_check_aligned(&in[0], paths[0], &in[k], paths[k]) < 0)
			return -1;
	/* Block names must be unique: a clash means the same features twice, or two
	 * extractors that would be indistinguishable in the model's layout. */
	int nb = 0;
	int64_t d = 0;
	for (int k = 0; k < n; k++) {
		for (int i = 0; i < in[k].nblocks; i++)
			for (int l = 0; l <= k; l++)
				for (int j = 0; j < (l == k ? i : in[l].nblocks); j++)
					if (!strcmp(in[k].blocks[i].name, in[l].blocks[j].name))
						return l == k ? ct_error("'%s': block name '%s' appears twice", paths[k],
									 in[k].blocks[i].name)
							      : ct_error("block name '%s' is in both '%s' and '%s'",
									 in[k].blocks[i].name, paths[l], paths[k]);
		nb += in[k].nblocks;
		d += in[k].x.shape[1];
	}
	int64_t rows = in[0].s.n;
	const ct_samples *s0 = &in[0].s;
	int rc = 0;
	if (ct_samples_alloc(&out->s, rows, s0->nclasses) < 0)
		return -1;
	for (int c = 0; c < s0->nclasses && rc == 0; c++)
		if (!(out->s.class_names[c] = ct_strdup(s0->class_names[c])))
			rc = ct_error("out of memory");
	for (int64_t i = 0; i < rows && rc == 0; i++)
		rc = ct_samples_copy_row(&out->s, i, s0, i);
	if (rc == 0 && ct_tensor_alloc(&out->x, CT_F32, 2, (int64_t[2]){ rows, d }) < 0)
		rc = ct_error("out of memory for %lld x %lld features", (long long)rows, (long long)d);
	if (rc == 0 && (!(out->blocks = calloc((size_t)nb + 1, sizeof *out->blocks)) ||
			!(info->block_weight = calloc((size_t)nb + 1, sizeof *info->block_weight)) ||
			!(info->block_input = calloc((size_t)nb + 1, sizeof *info->block_input))))
		rc = ct_error("out of memory");
	if (rc < 0)
		goto fail;
	info->norm = o->norm;
	info->d = d;
	info->nblocks = nb;
	if (o->norm == CT_FUSE_STANDARDIZE) {
		info->mean = calloc((size_t)d + 1, sizeof *info->mean);
		info->std = calloc((size_t)d + 1, sizeof *info->std);
		if (!info->mean || !info->std) {
			rc = ct_error("out of memory");
			goto fail;
		}
		for (int64_t i = 0; i < rows; i++)
			info->ntrain += !strcmp(s0->splits[i], "train");
		if (info->ntrain == 0) {
			rc = ct_error("'%s': no train samples to take standardisation statistics from", paths[0]);
			goto fail;
		}
	}
	float *y = out->x.data;
	int64_t col = 0;
	int ob = 0;
	for (int k = 0; k < n; k++) {
		const float *x = in[k].x.data;
		int64_t dk = in[k].x.shape[1];
		double w = o->weights ? o->weights[k] : 1.0;
		for (int i = 0; i < in[k].nblocks; i++, ob++) {
			const ct_fblock *b = &in[k].blocks[i];
			ct_fblock *nbk = &out->blocks[ob];
			nbk->name = ct_strdup(b->name);
			nbk->backbone = ct_strdup(b->backbone);
			nbk->layer = ct_strdup(b->layer);
			nbk->pool = ct_strdup(b->pool);
			nbk->weights_sha256 = ct_strdup(b->weights_sha256);
			out->nblocks = ob + 1;
			if (!nbk->name || !nbk->backbone || !nbk->layer || !nbk->pool || !nbk->weights_sha256) {
				rc = ct_error("out of memory");
				goto fail;
			}
			nbk->start = col + b->start;
			nbk->width = b->width;
			info->block_weight[ob] = w;
			info->block_input[ob] = k;
			for (int64_t r = 0; r < rows; r++) {
				const float *src = x + r * dk + b->start;
				float *dst = y + r * d + nbk->start;
				double scale = w;
				if (o->norm == CT_FUSE_L2) {
					double ss = 0;
					for (int64_t j = 0; j < b->width; j++)
						ss += (double)src[j] * src[j];
					scale = ss > 0 ? w / sqrt(ss) : 0.0;
				}
				for (int64_t j = 0; j < b->width; j++)
					dst[j] = (float)(src[j] * scale);
			}
		}
		if (o->norm == CT_FUSE_STANDARDIZE) {
			for (int64_t j = 0; j < dk; j++) {
				double m = 0, v = 0;
				for (int64_t r = 0; r < rows; r++)
					if (!strcmp(s0->splits[r], "train"))
						m += x[r * dk + j];
				m /= (double)info->ntrain;
				for (int64_t r = 0; r < rows; r++)
					if (!strcmp(s0->splits[r], "train")) {
						double e = x[r * dk + j] - m;
						v += e * e;
					}
				double sd = sqrt(v / (double)info->ntrain);
				/* A constant column carries no information; keep it at 0 rather than divide by 0. */
				if (!(sd > 1e-12))
					sd = 1.0;
				info->mean[col + j] = m;
				info->std[col + j] = sd;
				for (int64_t r = 0; r < rows; r++)
					y[r * d + col + j] = (float)(w * (x[r * dk + j] - m) / sd);
			}
		}
		col += dk;
	}
	if (prov_union(in, n, out) < 0) {
		rc = -1;
		goto fail;
	}
	return 0;
fail:
	ct_features_free(out);
	ct_fuse_info_free(info);
	return rc;
}

int ct_fuse_write_info(hid_t file, const ct_fuse_info *info)
{
	hid_t g = ct_h5_create_group(file, "fuse");
	if (g < 0)
		return -1;
	int64_t nb[1] = { info->nblocks }, nd[1] = { info->d };
	ct_tensor w = ct_tensor_wrap(info->block_weight, CT_F64, 1, nb);
	ct_tensor in = ct_tensor_wrap(NULL, CT_I32, 1, nb);
	int32_t *tmp = malloc(((size_t)info->nblocks + 1) * sizeof *tmp);
	int rc = tmp ? 0 : ct_error("out of memory");
	for (int i = 0; rc == 0 && i < info->nblocks; i++)
		tmp[i] = info->block_input[i];
	in.data = tmp;
	if (rc == 0)
		rc = ct_h5_set_str(g, "norm", ct_fuse_norm_name(info->norm));
	if (rc == 0)
		rc = ct_h5_write(g, "weight", &w, 0, 0);
	if (rc == 0)
		rc = ct_h5_write(g, "input", &in, 0, 0);
	if (rc == 0 && info->norm == CT_FUSE_STANDARDIZE) {
		ct_tensor m = ct_tensor_wrap(info->mean, CT_F64, 1, nd), s = ct_tensor_wrap(info->std, CT_F64, 1, nd);
		rc = ct_h5_write(g, "mean", &m, 0, 0);
		if (rc == 0)
			rc = ct_h5_write(g, "std", &s, 0, 0);
		if (rc == 0)
			rc = ct_h5_set_int(g, "train_rows", info->ntrain);
	}
	free(tmp);
	H5Gclose(g);
	return rc;
}

int ct_parse_weights(const char *s, double *w, int n)
{
	const char *p = s;
	for (int k = 0; k < n; k++) {
		char *end;
		errno = 0;
		w[k] = strtod(p, &end);
		if (errno || end == p || !isfinite(w[k]) || w[k] <= 0)
			return ct_error("bad weights '%s' (expected %d positive numbers separated by commas)", s, n);
		if (k < n - 1 && *end != ',')
			return ct_error("weights '%s' give fewer than the %d inputs", s, n);
		if (k == n - 1 && *end)
			return ct_error("weights '%s' give more than the %d inputs", s, n);
		p = end + 1;
	}
	return 0;
}

/* --select over every input: each must keep a block, each listed name must match one. */
static int select_all(ct_features *in, char *const *paths, int n, const char *select)
{
	int nnames = 1, rc = 0;
	for (const char *p = select; *p; p++)
		nnames += *p == ',';
	int *matched = calloc((size_t)nnames, sizeof *matched);
	if (!matched)
		return ct_error("out of memory");
	for (int k = 0; k < n && rc == 0; k++) {
		int kept = ct_features_select(&in[k], select, matched);
		if (kept == 0)
			rc = ct_error_usage("'%s': none of its blocks is selected by --select", paths[k]);
		else if (kept < 0)
			rc = -1;
	}
	for (int i = 0; rc == 0 && i < nnames; i++)
		if (!matched[i]) {
			const char *p = select;
			for (int j = 0; j < i; j++)
				p = strchr(p, ',') + 1;
			const char *c = strchr(p, ',');
			rc = ct_error_usage("--select: no input has a block or layer '%.*s'", c ? (int)(c - p) : (int)strlen(p), p);
		}
	free(matched);
	return rc;
}

int ct_fuse_files(char *const *paths, int n, const ct_fuse_opts *o, const char *out_path, int force,
		  const ct_run *run, int64_t *nsamples, int *nblocks, int64_t *ncolumns)
{
	ct_h5 h;
	ct_features *in = calloc((size_t)n + 1, sizeof *in);
	if (!in)
		return ct_error("out of memory");
	if (ct_h5_create(&h, out_path, force) < 0) {
		free(in);
		return -1;
	}
	int rc = 0, nread = 0;
	for (int k = 0; k < n && rc == 0; k++) {
		rc = ct_features_read(paths[k], &in[k]);
		nread += rc == 0;
	}
	if (rc == 0 && o->select)
		rc = select_all(in, paths, n, o->select);
	ct_features out = { 0 };
	ct_fuse_info info = { 0 };
	if (rc == 0)
		rc = ct_fuse(in, (const char *const *)paths, n, o, &out, &info);
	if (rc == 0)
		rc = ct_features_write(&h, &out, run);
	if (rc == 0)
		rc = ct_fuse_write_info(h.file, &info);
	if (rc == 0)
		rc = ct_h5_commit(&h);
	else
		ct_h5_abort(&h);
	*nsamples = out.s.n;
	*nblocks = out.nblocks;
	*ncolumns = info.d;
	for (int k = 0; k < nread; k++)
		ct_features_free(&in[k]);
	free(in);
	ct_features_free(&out);
	ct_fuse_info_free(&info);
	return rc;
}
