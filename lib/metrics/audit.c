/* audit.c - the shortcut audit (audit.h). */
#include "metrics/audit.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "image/nuisance.h"
#include "io/h5.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- logistic regression ---- */

/* Solve the SPD system A x = b (k x k, row-major, overwritten) by Cholesky; -1 if not SPD. */
static int cholesky_solve(double *A, double *b, int k)
{
	for (int j = 0; j < k; j++) {
		double s = A[j * k + j];
		for (int q = 0; q < j; q++)
			s -= A[j * k + q] * A[j * k + q];
		if (!(s > 0))
			return -1;
		A[j * k + j] = sqrt(s);
		for (int i = j + 1; i < k; i++) {
			double t = A[i * k + j];
			for (int q = 0; q < j; q++)
				t -= A[i * k + q] * A[j * k + q];
			A[i * k + j] = t / A[j * k + j];
		}
	}
	for (int i = 0; i < k; i++) {
		double t = b[i];
		for (int q = 0; q < i; q++)
			t -= A[i * k + q] * b[q];
		b[i] = t / A[i * k + i];
	}
	for (int i = k - 1; i >= 0; i--) {
		double t = b[i];
		for (int q = i + 1; q < k; q++)
			t -= A[q * k + i] * b[q];
		b[i] = t / A[i * k + i];
	}
	return 0;
}

int ct_audit_logreg(const float *x, const int *y, int64_t n, int d, const float *xe, int64_t m, double *p)
{
	const int k = d + 1;             /* weights, then the bias */
	const double lambda = 1e-2;      /* on the mean loss; the bias is not penalised */
	double *mu = calloc((size_t)d + 1, sizeof *mu), *sd = calloc((size_t)d + 1, sizeof *sd);
	double *w = calloc((size_t)k, sizeof *w), *g = malloc((size_t)k * sizeof *g);
	double *H = malloc((size_t)k * (size_t)k * sizeof *H), *z = malloc((size_t)k * sizeof *z);
	int rc = mu && sd && w && g && H && z ? 0 : ct_error("out of memory");
	for (int j = 0; rc == 0 && j < d; j++) {
		double s = 0, q = 0;
		for (int64_t i = 0; i < n; i++)
			s += x[i * d + j];
		mu[j] = s / (double)n;
		for (int64_t i = 0; i < n; i++)
			q += (x[i * d + j] - mu[j]) * (x[i * d + j] - mu[j]);
		sd[j] = sqrt(q / (double)n);
		if (!(sd[j] > 1e-12))
			sd[j] = 1;
	}
	for (int it = 0; rc == 0 && it < 50; it++) {
		memset(g, 0, (size_t)k * sizeof *g);
		memset(H, 0, (size_t)k * (size_t)k * sizeof *H);
		for (int64_t i = 0; i < n; i++) {
			z[d] = 1;
			for (int j = 0; j < d; j++)
				z[j] = (x[i * d + j] - mu[j]) / sd[j];
			double a = 0;
			for (int j = 0; j < k; j++)
				a += w[j] * z[j];
			double pi = 1 / (1 + exp(-a)), r = pi * (1 - pi);
			for (int j = 0; j < k; j++) {
				g[j] += (pi - y[i]) * z[j] / (double)n;
				for (int q = 0; q <= j; q++)
					H[j * k + q] += r * z[j] * z[q] / (double)n;
			}
		}
		for (int j = 0; j < k; j++) {
			for (int q = 0; q < j; q++)
				H[q * k + j] = H[j * k + q];
			if (j < d) {
				g[j] += lambda * w[j];
				H[j * k + j] += lambda;
			} else {
				H[j * k + j] += 1e-9;
			}
		}
		if (cholesky_solve(H, g, k) < 0) {
			rc = ct_error("logistic regression: singular system");
			break;
		}
		double step = 0;
		for (int j = 0; j < k; j++) {
			w[j] -= g[j];
			step = fmax(step, fabs(g[j]));
		}
		if (step < 1e-10)
			break;
	}
	for (int64_t i = 0; rc == 0 && i < m; i++) {
		double a = w[d];
		for (int j = 0; j < d; j++)
			a += w[j] * (xe[i * d + j] - mu[j]) / sd[j];
		p[i] = 1 / (1 + exp(-a));
	}
	free(mu);
	free(sd);
	free(w);
	free(g);
	free(H);
	free(z);
	return rc;
}

/* ---- random forest ---- */

enum { TREES = 200, DEPTH = 6, MIN_LEAF = 2 };

typedef struct node {
	int feature;      /* -1: leaf */
	float threshold;  /* x <= threshold goes left */
	int left, right;
	double p;         /* leaf: share of positives */
} node;

typedef struct tree {
	node *v;
	int n, cap;
} tree;

typedef struct pair {
	float v;
	int y;
} pair;

static int cmp_pair(const void *a, const void *b)
{
	float x = ((const pair *)a)->v, z = ((const pair *)b)->v;
	return (x > z) - (x < z);
}

static int new_node(tree *t)
{
	if (t->n == t->cap) {
		int cap = t->cap ? t->cap * 2 : 64;
		node *nv = realloc(t->v, (size_t)cap * sizeof *nv);
		if (!nv)
			return -1;
		t->v = nv;
		t->cap = cap;
	}
	t->v[t->n].feature = -1;
	return t->n++;
}

/* Grow the node over rows idx[0..n) (indices into x); scratch holds n pairs. */
static int grow(tree *t, int id, const float *x, const int *y, int d, int *idx, int64_t n, int depth, ct_rng *r,
		pair *scratch, int *tmp, int mtry)
{
	int64_t npos = 0;
	for (int64_t i = 0; i < n; i++)
		npos += y[idx[i]];
	t->v[id].p = (double)npos / (double)n;
	if (depth >= DEPTH || npos == 0 || npos == n || n < 2 * MIN_LEAF)
		return 0;
	double parent = 1 - ((double)npos * npos + (double)(n - npos) * (n - npos)) / ((double)n * n);
	double best = parent - 1e-12;
	int bf = -1;
	float bt = 0;
	for (int tries = 0; tries < mtry; tries++) {
		int f = (int)ct_rng_below(r, (uint64_t)d);
		for (int64_t i = 0; i < n; i++) {
			scratch[i].v = x[(int64_t)idx[i] * d + f];
			scratch[i].y = y[idx[i]];
		}
		qsort(scratch, (size_t)n, sizeof *scratch, cmp_pair);
		int64_t lp = 0;
		for (int64_t i = 0; i + 1 < n; i++) {
			lp += scratch[i].y;
			if (scratch[i].v == scratch[i + 1].v || i + 1 < MIN_LEAF || n - i - 1 < MIN_LEAF)
				continue;
			double nl = (double)(i + 1), nr = (double)(n - i - 1), rp = (double)(npos - lp);
			double gl = 1 - (lp * lp + (nl - lp) * (nl - lp)) / (nl * nl);
			double gr = 1 - (rp * rp + (nr - rp) * (nr - rp)) / (nr * nr);
			double imp = (nl * gl + nr * gr) / (double)n;
			if (imp < best) {
				best = imp;
				bf = f;
				bt = 0.5f * (scratch[i].v + scratch[i + 1].v);
			}
		}
	}
	if (bf < 0)
		return 0;
	int64_t nl = 0, nr = 0;
	/* stable partition (left rows first) */
	for (int64_t i = 0; i < n; i++)
		if (x[(int64_t)idx[i] * d + bf] <= bt)
			idx[nl++] = idx[i];
		else
			tmp[nr++] = idx[i];
	memcpy(idx + nl, tmp, (size_t)nr * sizeof *idx);
	int l = new_node(t), rr = l < 0 ? -1 : new_node(t);
	if (l < 0 || rr < 0)
		return -1;
	t->v[id].feature = bf;
	t->v[id].threshold = bt;
	t->v[id].left = l;
	t->v[id].right = rr;
	if (grow(t, l, x, y, d, idx, nl, depth + 1, r, scratch, tmp, mtry) < 0)
		return -1;
	return grow(t, rr, x, y, d, idx + nl, n - nl, depth + 1, r, scratch, tmp, mtry);
}

int ct_audit_forest(const float *x, const int *y, int64_t n, int d, const float *xe, int64_t m, uint64_t seed,
		    double *p)
{
	int mtry = (int)floor(sqrt((double)d) + 0.5);
	if (mtry < 1)
		mtry = 1;
	double *acc = calloc((size_t)TREES * (size_t)m + 1, sizeof *acc);
	int failed = 0;
	if (!acc)
		return ct_error("out of memory");
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
	for (int t = 0; t < TREES; t++) {
		ct_rng r;
		ct_rng_init(&r, seed, (uint64_t)t);
		int *idx = malloc(((size_t)n + 1) * 2 * sizeof *idx);
		pair *scratch = malloc(((size_t)n + 1) * sizeof *scratch);
		tree tr = { 0 };
		int root = new_node(&tr);
		if (!idx || !scratch || root < 0) {
			failed = 1;
		} else {
			for (int64_t i = 0; i < n; i++)
				idx[i] = (int)ct_rng_below(&r, (uint64_t)n);
			if (grow(&tr, root, x, y, d, idx, n, 0, &r, scratch, idx + n + 1, mtry) < 0)
				failed = 1;
			for (int64_t i = 0; !failed && i < m; i++) {
				int id = 0;
				while (tr.v[id].feature >= 0)
					id = xe[i * d + tr.v[id].feature] <= tr.v[id].threshold ? tr.v[id].left : tr.v[id].right;
				acc[(size_t)t * (size_t)m + (size_t)i] = tr.v[id].p;
			}
		}
		free(idx);
		free(scratch);
		free(tr.v);
	}
	if (failed) {
		free(acc);
		return ct_error("out of memory");
	}
	for (int64_t i = 0; i < m; i++) { /* summed in tree order: the same for any thread count */
		double s = 0;
		for (int t = 0; t < TREES; t++)
			s += acc[(size_t)t * (size_t)m + (size_t)i];
		p[i] = s / TREES;
	}
	free(acc);
	return 0;
}

/* ---- the audit ---- */

void ct_audit_free(ct_audit *a)
{
	for (int k = 0; k < a->n; k++)
		ct_eval_free(&a->v[k].ev);
	free(a->v);
	free(a->images_path);
	memset(a, 0, sizeof *a);
}

int ct_audit_run(const char *images_path, const char *split, const char *positive, const ct_eval_opts *o,
		 ct_audit *out)
{
	memset(out, 0, sizeof *out);
	if (strcmp(split, "val") && strcmp(split, "test"))
		return ct_error("the shortcut audit scores the val or test split (not '%s'): it trains on 'train'", split);
	ct_h5 h;
	ct_samples s;
	ct_tensor nt = { 0 };
	memset(&s, 0, sizeof s);
	if (ct_h5_open(&h, images_path) < 0)
		return -1;
	int rc = ct_file_check(h.file, "images");
	if (rc == 0 && !ct_h5_exists(h.file, "nuisance"))
		rc = ct_error("it has no /nuisance attributes (convert it again with this version of ct-convert)");
	if (rc == 0)
		rc = ct_samples_read(h.file, &s);
	if (rc == 0)
		rc = ct_h5_read(h.file, "nuisance", CT_F32, &nt);
	ct_h5_close(&h);
	if (rc == 0 && (nt.ndim != 2 || nt.shape[0] != s.n || nt.shape[1] != CT_NUISANCE_COUNT))
		rc = ct_error("/nuisance is not %lld x %d", (long long)s.n, CT_NUISANCE_COUNT);
	for (int64_t i = 0; rc == 0 && i < ct_tensor_numel(&nt); i++)
		if (!isfinite(((float *)nt.data)[i]))
			rc = ct_error("/nuisance holds a value that is not finite");
	if (rc < 0) {
		ct_error_prefix("shortcut audit: '%s'", images_path);
		ct_samples_free(&s);
		ct_tensor_free(&nt);
		return -1;
	}
	int pos = -1;
	if (s.nclasses != 2) {
		rc = ct_error("shortcut audit: '%s' has %d classes (two needed)", images_path, s.nclasses);
	} else {
		for (int c = 0; c < 2; c++)
			if (positive && !strcmp(s.class_names[c], positive))
				pos = c;
		if (pos < 0)
			rc = ct_error("shortcut audit: '%s' has no class '%s'", images_path, positive ? positive : "");
	}
	const int F = CT_NUISANCE_COUNT;
	const float *X = nt.data;
	int64_t ntr = 0, nev = 0;
	for (int64_t i = 0; i < s.n; i++) {
		ntr += s.labels[i] >= 0 && !strcmp(s.splits[i], "train");
		nev += s.labels[i] >= 0 && !strcmp(s.splits[i], split);
	}
	if (rc == 0 && (ntr == 0 || nev == 0))
		rc = ct_error("shortcut audit: '%s' has %lld labelled train rows and %lld in '%s'", images_path,
			      (long long)ntr, (long long)nev, split);
	float *xtr = NULL, *xev = NULL;
	int *ytr = NULL;
	int32_t *yev = NULL;
	double *p = NULL;
	float *probs = NULL;
	if (rc == 0) {
		xtr = malloc((size_t)ntr * F * sizeof *xtr);
		xev = malloc((size_t)nev * F * sizeof *xev);
		ytr = malloc((size_t)ntr * sizeof *ytr);
		yev = malloc((size_t)nev * sizeof *yev);
		p = malloc((size_t)nev * sizeof *p);
		probs = malloc((size_t)nev * 2 * sizeof *probs);
		out->v = calloc(2 * (CT_NUI_NGROUPS + 1), sizeof *out->v);
		out->images_path = strdup(images_path);
		if (!xtr || !xev || !ytr || !yev || !p || !probs || !out->v || !out->images_path)
			rc = ct_error("out of memory");
	}
	for (int g = 0; rc == 0 && g <= CT_NUI_NGROUPS; g++) {
		/* the attribute columns of group g (g == NGROUPS: all) */
		int cols[CT_NUISANCE_COUNT], d = 0;
		for (int j = 0; j < F; j++)
			if (g == CT_NUI_NGROUPS || ct_nuisance_group[j] == g)
				cols[d++] = j;
		int64_t a = 0, b = 0;
		for (int64_t i = 0; i < s.n; i++) {
			if (s.labels[i] < 0)
				continue;
			if (!strcmp(s.splits[i], "train")) {
				for (int j = 0; j < d; j++)
					xtr[a * d + j] = X[i * F + cols[j]];
				ytr[a++] = s.labels[i] == pos;
			} else if (!strcmp(s.splits[i], split)) {
				for (int j = 0; j < d; j++)
					xev[b * d + j] = X[i * F + cols[j]];
				yev[b++] = s.labels[i];
			}
		}
		for (int meth = 0; meth < 2 && rc == 0; meth++) {
			rc = meth == 0 ? ct_audit_logreg(xtr, ytr, ntr, d, xev, nev, p)
				       : ct_audit_forest(xtr, ytr, ntr, d, xev, nev, o->seed, p);
			for (int64_t i = 0; rc == 0 && i < nev; i++) {
				probs[2 * i + pos] = (float)p[i];
				probs[2 * i + 1 - pos] = (float)(1 - p[i]);
			}
			ct_audit_entry *e = &out->v[out->n];
			e->attributes = g == CT_NUI_NGROUPS ? "all" : ct_nuisance_group_names[g];
			e->method = meth == 0 ? "logreg" : "forest";
			ct_eval_opts eo = *o;
			eo.positive = pos;
			eo.threshold = 0.5;
			if (rc == 0 && (rc = ct_evaluate(probs, yev, nev, 2, &eo, &e->ev)) == 0) {
				if (out->n == 0 || e->ev.m[CT_M_AUC].value > out->v[out->best].ev.m[CT_M_AUC].value)
					out->best = out->n;
				out->n++;
			}
		}
	}
	if (rc == 0) {
		snprintf(out->split, sizeof out->split, "%s", split);
		out->ntrain = ntr;
		out->neval = nev;
	}
	free(xtr);
	free(xev);
	free(ytr);
	free(yev);
	free(p);
	free(probs);
	ct_samples_free(&s);
	ct_tensor_free(&nt);
	if (rc < 0)
		ct_audit_free(out);
	return rc;
}
