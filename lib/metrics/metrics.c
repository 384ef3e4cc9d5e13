/* metrics.c - confusion matrix, threshold metrics, exact AUC, ROC curves, Youden's J and
 * thread-independent bootstrap intervals (definitions in metrics.h).
 *
 * Every metric is computed from integer row weights: 1 for the point estimate, the
 * multiplicity of each row for a bootstrap resample. The rows are sorted by score once per
 * class, so a resample costs O(n K) and never re-sorts. */
#include "metrics/metrics.h"
#include "core/error.h"
#include "core/rng.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

const char *const ct_metric_names[CT_M_COUNT] = { "accuracy", "precision", "recall", "specificity",
						  "f1",       "auc",       "balanced_accuracy" };

void ct_eval_defaults(ct_eval_opts *o)
{
	memset(o, 0, sizeof *o);
	o->positive = 1;
	o->threshold = 0.5;
	o->bootstrap = 1000;
	o->resample = CT_RESAMPLE_STRATIFIED;
	o->level = 0.95;
	o->seed = 42;
	o->grid = 101;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

/* ---- sorting by score ---- */

typedef struct scored {
	double s;
	int64_t i;
} scored;

static int cmp_scored(const void *a, const void *b)
{
	const scored *x = a, *y = b;
	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/* idx = rows ordered by ascending score (ties by row). */
static int order_by_score(const double *s, int64_t n, int64_t *idx)
{
	scored *t = malloc(((size_t)n + 1) * sizeof *t);
	if (!t)
		return ct_error("out of memory");
	for (int64_t i = 0; i < n; i++)
		t[i] = (scored){ s[i], i };
	qsort(t, (size_t)n, sizeof *t, cmp_scored);
	for (int64_t i = 0; i < n; i++)
		idx[i] = t[i].i;
	free(t);
	return 0;
}

/* order_by_score into a new array (n + 1 entries so that n == 0 allocates); NULL on error. */
static int64_t *sorted_rows(const double *s, int64_t n)
{
	int64_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
	if (!idx) {
		ct_error("out of memory");
		return NULL;
	}
	if (order_by_score(s, n, idx) < 0) {
		free(idx);
		return NULL;
	}
	return idx;
}

/* Walking rows sorted by ascending score from the top: add the group of rows tied with row
 * b to the positive (tp) and negative (fp) counts; returns the row below the group. */
static int64_t count_ties(const double *s, const int *pos, const int64_t *idx, int64_t b, int64_t *tp, int64_t *fp)
{
	int64_t a = b;
	while (a >= 0 && s[idx[a]] == s[idx[b]]) {
		if (pos[idx[a]])
			(*tp)++;
		else
			(*fp)++;
		a--;
	}
	return a;
}

/* ---- weighted kernels over rows sorted by ascending score ---- */

/* Mann-Whitney AUC: for each group of tied scores, its positives beat every negative below
 * and tie (1/2) with the negatives inside the group. */
static double auc_sorted(const double *s, const int *pos, const int64_t *idx, const int64_t *w, int64_t n)
{
	double below = 0, sum = 0, wp = 0, wn = 0;
	for (int64_t a = 0; a < n;) {
		int64_t b = a;
		double gp = 0, gn = 0;
		while (b < n && s[idx[b]] == s[idx[a]]) {
			int64_t i = idx[b++];
			double wi = w ? (double)w[i] : 1.0;
			if (pos[i])
				gp += wi;
			else
				gn += wi;
		}
		sum += gp * (below + 0.5 * gn);
		below += gn;
		wp += gp;
		wn += gn;
		a = b;
	}
	return wp > 0 && wn > 0 ? sum / (wp * wn) : NAN;
}

/* The ROC curve walked from the highest score down, one point per group of ties, sampled
 * on the regular grid of `ng` FPR values. TPR at a grid FPR x: the highest TPR among the
 * points with FPR == x if any, else linear interpolation between the neighbouring points
 * (the diagonal of a tie group, or the step). Returns 0, or -1 when a group is empty. */
static int roc_grid_sorted(const double *s, const int *pos, const int64_t *idx, const int64_t *w, int64_t n,
			   int ng, double *out)
{
	double wp = 0, wn = 0;
	for (int64_t k = 0; k < n; k++) {
		int64_t i = idx[k];
		double wi = w ? (double)w[i] : 1.0;
		if (pos[i])
			wp += wi;
		else
			wn += wi;
	}
	if (wp <= 0 || wn <= 0)
		return -1;
	double x0 = 0, y0 = 0, tp = 0, fp = 0;
	int g = 0;
	for (int64_t b = n - 1; b >= 0;) {
		int64_t a = b;
		while (a >= 0 && s[idx[a]] == s[idx[b]]) {
			int64_t i = idx[a--];
			double wi = w ? (double)w[i] : 1.0;
			if (pos[i])
				tp += wi;
			else
				fp += wi;
		}
		b = a;
		double x1 = fp / wn, y1 = tp / wp;
		for (; g < ng; g++) {
			double x = (double)g / (ng - 1);
			if (x >= x1)
				break;
			out[g] = x <= x0 ? y0 : y0 + (y1 - y0) * (x - x0) / (x1 - x0);
		}
		x0 = x1;
		y0 = y1;
	}
	for (; g < ng; g++)
		out[g] = y0;
	return 0;
}

double ct_auc(const double *score, const int *pos, int64_t n)
{
	int64_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
	if (!idx || order_by_score(score, n, idx) < 0) {
		free(idx);
		return NAN;
	}
	double a = auc_sorted(score, pos, idx, NULL, n);
	free(idx);
	return a;
}

static int roc_points(const double *s, const int *pos, const int64_t *idx, int64_t n, double **fpr,
		      double **tpr, double **thr, int64_t *npts)
{
	*fpr = *tpr = *thr = NULL;
	*npts = 0;
	int64_t np = 0, nn = 0;
	for (int64_t i = 0; i < n; i++)
		np += pos[i] != 0, nn += pos[i] == 0;
	if (!np || !nn)
		return ct_error("a roc curve needs positive and negative samples (%lld and %lld given)", (long long)np,
				(long long)nn);
	double *f = malloc(((size_t)n + 2) * sizeof *f), *t = malloc(((size_t)n + 2) * sizeof *t),
	       *h = malloc(((size_t)n + 2) * sizeof *h);
	if (!f || !t || !h) {
		free(f);
		free(t);
		free(h);
		return ct_error("out of memory");
	}
	int64_t k = 0, tp = 0, fp = 0;
	f[k] = 0;
	t[k] = 0;
	h[k++] = INFINITY;
	for (int64_t b = n - 1; b >= 0;) {
		int64_t a = count_ties(s, pos, idx, b, &tp, &fp);
		f[k] = (double)fp / (double)nn;
		t[k] = (double)tp / (double)np;
		h[k++] = s[idx[b]];
		b = a;
	}
	*fpr = f;
	*tpr = t;
	*thr = h;
	*npts = k;
	return 0;
}

int ct_roc(const double *score, const int *pos, int64_t n, double **fpr, double **tpr, double **thr, int64_t *npts)
{
	int64_t *idx = sorted_rows(score, n);
	if (!idx)
		return -1;
	int rc = roc_points(score, pos, idx, n, fpr, tpr, thr, npts);
	free(idx);
	return rc;
}

int ct_youden(const double *score, const int *pos, int64_t n, double *threshold, double *j)
{
	int64_t *idx = sorted_rows(score, n);
	if (!idx)
		return -1;
	int64_t np = 0, nn = 0;
	for (int64_t i = 0; i < n; i++)
		np += pos[i] != 0, nn += pos[i] == 0;
	if (!np || !nn) {
		free(idx);
		return ct_error("youden's threshold needs positive and negative samples (%lld and %lld given)",
				(long long)np, (long long)nn);
	}
	/* J = tp/np - fp/nn compared exactly as tp*nn - fp*np (integers), walking down the
	 * scores so that the first maximum is the highest threshold */
	int64_t tp = 0, fp = 0, best = INT64_MIN, btp = 0, bfp = 0;
	double bt = NAN;
	for (int64_t b = n - 1; b >= 0;) {
		int64_t a = count_ties(score, pos, idx, b, &tp, &fp);
		int64_t v = tp * nn - fp * np;
		if (v > best) {
			best = v;
			bt = score[idx[b]];
			btp = tp;
			bfp = fp;
		}
		b = a;
	}
	free(idx);
	*threshold = bt;
	*j = (double)btp / (double)np - (double)bfp / (double)nn;
	return 0;
}

/* ---- positive class ---- */

static int contains_ci(const char *s, const char *w)
{
	size_t m = strlen(w);
	for (; *s; s++) {
		size_t k = 0;
		while (k < m && s[k] && tolower((unsigned char)s[k]) == w[k])
			k++;
		if (k == m)
			return 1;
	}
	return 0;
}

int ct_positive_class(char *const *class_names, int nclasses, const char *name)
{
	if (name) {
		for (int k = 0; k < nclasses; k++)
			if (!strcmp(class_names[k], name))
				return k;
		return ct_error_usage("no class named '%s'", name);
	}
	int found = -1, count = 0;
	for (int k = 0; k < nclasses; k++) {
		const char *c = class_names[k];
		if (!contains_ci(c, "covid") && !contains_ci(c, "lesion"))
			continue;
		if (contains_ci(c, "non") || contains_ci(c, "no_") || contains_ci(c, "no-") || contains_ci(c, "not"))
			continue;
		found = k;
		count++;
	}
	if (count == 1)
		return found;
	return nclasses > 1 ? 1 : 0;
}

int ct_predict_label(const float *p, int nclasses, int positive, double threshold)
{
	if (nclasses == 2)
		return (double)p[positive] >= threshold ? positive : 1 - positive;
	int best = 0;
	for (int k = 1; k < nclasses; k++)
		if (p[k] > p[best])
			best = k;
	return best;
}

/* ---- quantiles ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double ct_quantile(double *v, int64_t n, double q)
{
	if (n <= 0)
		return NAN;
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	double h = q * (double)(n - 1);
	int64_t lo = (int64_t)floor(h);
	if (lo >= n - 1)
		return v[n - 1];
	if (lo < 0)
		return v[0];
	return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

/* ---- the evaluation ---- */

typedef struct ctx {
	int64_t n;
	int K, binary, positive;
	const int32_t *y;
	int32_t *pred;    /* n */
	double *score;    /* K x n: the one-vs-rest score of class k */
	int *is;          /* K x n: y == k */
	int64_t *order;   /* K x n: rows by ascending score[k] */
	int ngrid;
} ctx;

/* All metrics for row weights w (NULL = 1): CT_M_COUNT summary values, then K x CT_C_COUNT
 * per-class values; the ROC of each class on the grid into band (K x ngrid) when not NULL. */
static void compute(const ctx *c, const int64_t *w, int64_t *conf, double *out, double *band)
{
	int K = c->K;
	memset(conf, 0, (size_t)K * (size_t)K * sizeof *conf);
	for (int64_t i = 0; i < c->n; i++)
		conf[c->y[i] * K + c->pred[i]] += w ? w[i] : 1;
	double total = 0, correct = 0;
	for (int k = 0; k < K; k++) {
		correct += (double)conf[k * K + k];
		for (int j = 0; j < K; j++)
			total += (double)conf[k * K + j];
	}
	double *pc = out + CT_M_COUNT;
	double mp = 0, mr = 0, ms = 0, mf = 0, ma = 0;
	int np = 0, nr = 0, ns = 0, nf = 0, na = 0;
	for (int k = 0; k < K; k++) {
		double tp = (double)conf[k * K + k], row = 0, col = 0;
		for (int j = 0; j < K; j++) {
			row += (double)conf[k * K + j];
			col += (double)conf[j * K + k];
		}
		double fn = row - tp, fp = col - tp, tn = total - tp - fn - fp;
		double *v = pc + k * CT_C_COUNT;
		v[CT_C_PRECISION] = ratio(tp, tp + fp);
		v[CT_C_RECALL] = ratio(tp, tp + fn);
		v[CT_C_F1] = ratio(2 * tp, 2 * tp + fp + fn);
		v[CT_C_AUC] = auc_sorted(c->score + (size_t)k * c->n, c->is + (size_t)k * c->n,
					 c->order + (size_t)k * c->n, w, c->n);
		double spec = ratio(tn, tn + fp);
		if (c->binary && k == c->positive) {
			out[CT_M_PRECISION] = v[CT_C_PRECISION];
			out[CT_M_RECALL] = v[CT_C_RECALL];
			out[CT_M_SPECIFICITY] = spec;
			out[CT_M_F1] = v[CT_C_F1];
			out[CT_M_AUC] = v[CT_C_AUC];
		}
		if (!isnan(v[CT_C_PRECISION]))
			mp += v[CT_C_PRECISION], np++;
		if (!isnan(v[CT_C_RECALL]))
			mr += v[CT_C_RECALL], nr++;
		if (!isnan(spec))
			ms += spec, ns++;
		if (!isnan(v[CT_C_F1]))
			mf += v[CT_C_F1], nf++;
		if (!isnan(v[CT_C_AUC]))
			ma += v[CT_C_AUC], na++;
		if (band && roc_grid_sorted(c->score + (size_t)k * c->n, c->is + (size_t)k * c->n,
					    c->order + (size_t)k * c->n, w, c->n, c->ngrid,
					    band + (size_t)k * c->ngrid) < 0)
			for (int g = 0; g < c->ngrid; g++)
				band[(size_t)k * c->ngrid + g] = NAN;
	}
	out[CT_M_ACCURACY] = ratio(correct, total);
	if (!c->binary) {
		out[CT_M_PRECISION] = np ? mp / np : NAN;
		out[CT_M_RECALL] = nr ? mr / nr : NAN;
		out[CT_M_SPECIFICITY] = ns ? ms / ns : NAN;
		out[CT_M_F1] = nf ? mf / nf : NAN;
		out[CT_M_AUC] = na ? ma / na : NAN;
		out[CT_M_BALANCED_ACCURACY] = out[CT_M_RECALL];
	} else {
		out[CT_M_BALANCED_ACCURACY] = 0.5 * (out[CT_M_RECALL] + out[CT_M_SPECIFICITY]);
	}
}

void ct_eval_free(ct_eval *ev)
{
	if (ev->roc)
		for (int k = 0; k < ev->nclasses; k++) {
			ct_roc_curve *r = &ev->roc[k];
			free(r->fpr);
			free(r->tpr);
			free(r->thr);
			free(r->grid);
			free(r->tpr_lo);
			free(r->tpr_hi);
			free(r->tpr_mid);
		}
	free(ev->roc);
	free(ev->support);
	free(ev->confusion);
	free(ev->per_class);
	memset(ev, 0, sizeof *ev);
}

static ct_stat stat_of(double v)
{
	return (ct_stat){ v, NAN, NAN, 0 };
}

/* Percentile interval of column m of vals (B rows of M), over the defined values. */
static void interval(const double *vals, int64_t B, int64_t M, int64_t m, double level, double *tmp, ct_stat *st)
{
	int64_t k = 0;
	for (int64_t b = 0; b < B; b++) {
		double v = vals[b * M + m];
		if (!isnan(v))
			tmp[k++] = v;
	}
	st->nboot = k;
	st->lo = ct_quantile(tmp, k, (1 - level) / 2);
	st->hi = ct_quantile(tmp, k, (1 + level) / 2);
}

int ct_evaluate(const float *probs, const int32_t *labels, int64_t n, int nclasses, const ct_eval_opts *o,
		ct_eval *ev)
{
	memset(ev, 0, sizeof *ev);
	if (n < 1)
		return ct_error("no labelled samples to evaluate");
	if (nclasses < 2)
		return ct_error("metrics need at least 2 classes, got %d", nclasses);
	if (o->bootstrap < 0 || o->grid < 2 || !(o->level > 0 && o->level < 1))
		return ct_error("bad evaluation options");
	if (nclasses == 2 && (o->positive < 0 || o->positive > 1))
		return ct_error("positive class %d is not 0 or 1", o->positive);
	for (int64_t i = 0; i < n; i++)
		if (labels[i] < 0 || labels[i] >= nclasses)
			return ct_error("row %lld has label %d, outside [0, %d)", (long long)i, labels[i], nclasses);
	const int K = nclasses;
	const size_t N = (size_t)n, KN = (size_t)K * N;
	const int64_t M = CT_M_COUNT + (int64_t)K * CT_C_COUNT;
	ctx c = { .n = n, .K = K, .binary = K == 2, .positive = K == 2 ? o->positive : -1, .y = labels,
		  .ngrid = o->grid };
	ev->opts = *o;
	ev->nclasses = K;
	ev->binary = c.binary;
	ev->positive = c.positive;
	ev->threshold = c.binary ? o->threshold : NAN;
	ev->n = n;
	ev->nresamples = o->bootstrap;
	ev->support = calloc((size_t)K, sizeof *ev->support);
	ev->confusion = calloc((size_t)K * (size_t)K, sizeof *ev->confusion);
	ev->per_class = calloc((size_t)K * CT_C_COUNT, sizeof *ev->per_class);
	ev->roc = calloc((size_t)K, sizeof *ev->roc);
	c.pred = malloc(N * sizeof *c.pred);
	c.score = malloc(KN * sizeof *c.score);
	c.is = malloc(KN * sizeof *c.is);
	c.order = malloc(KN * sizeof *c.order);
	double *point = malloc((size_t)M * sizeof *point);
	double *vals = NULL, *bands = NULL, *tmp = NULL;
	int64_t *wbuf = NULL, *cbuf = NULL, *rows = NULL, *cstart = NULL;
	int rc = 0;
	if (!ev->support || !ev->confusion || !ev->per_class || !ev->roc || !c.pred || !c.score || !c.is ||
	    !c.order || !point) {
		rc = ct_error("out of memory");
		goto done;
	}
	for (int64_t i = 0; i < n; i++) {
		const float *p = probs + (size_t)i * (size_t)K;
		c.pred[i] = ct_predict_label(p, K, c.positive, o->threshold);
		ev->support[labels[i]]++;
		for (int k = 0; k < K; k++) {
			/* binary: both classes rank by p(positive), so the two curves mirror exactly
			 * (1 - p is exact in double for a float p) */
			double sk = c.binary ? (k == c.positive ? p[k] : 1.0 - (double)p[c.positive]) : p[k];
			c.score[(size_t)k * N + (size_t)i] = sk;
			c.is[(size_t)k * N + (size_t)i] = labels[i] == k;
		}
	}
	for (int k = 0; rc == 0 && k < K; k++)
		rc = order_by_score(c.score + (size_t)k * N, n, c.order + (size_t)k * N);
	if (rc < 0)
		goto done;

	/* point estimates and curves */
	compute(&c, NULL, ev->confusion, point, NULL);
	for (int m = 0; m < CT_M_COUNT; m++)
		ev->m[m] = stat_of(point[m]);
	for (int64_t m = 0; m < (int64_t)K * CT_C_COUNT; m++)
		ev->per_class[m] = stat_of(point[CT_M_COUNT + m]);
	for (int k = 0; rc == 0 && k < K; k++) {
		ct_roc_curve *r = &ev->roc[k];
		if (ev->support[k] == 0 || ev->support[k] == n)
			continue;
		if (roc_points(c.score + (size_t)k * N, c.is + (size_t)k * N, c.order + (size_t)k * N, n, &r->fpr,
			       &r->tpr, &r->thr, &r->npts) < 0) {
			rc = -1;
			break;
		}
		r->ngrid = o->grid;
		r->grid = malloc((size_t)o->grid * sizeof *r->grid);
		r->tpr_mid = malloc((size_t)o->grid * sizeof *r->tpr_mid);
		if (!r->grid || !r->tpr_mid) {
			rc = ct_error("out of memory");
			break;
		}
		for (int g = 0; g < o->grid; g++)
			r->grid[g] = (double)g / (o->grid - 1);
		roc_grid_sorted(c.score + (size_t)k * N, c.is + (size_t)k * N, c.order + (size_t)k * N, NULL, n,
				o->grid, r->tpr_mid);
	}
	if (rc < 0 || o->bootstrap == 0)
		goto done;

	/* bootstrap: resample b draws from rng stream b; every resample writes its own row */
	const int64_t B = o->bootstrap, G = o->grid;
	int nt = 1;
#ifdef _OPENMP
	nt = omp_get_max_threads();
#endif
	size_t bandsz = (size_t)K * (size_t)G;
	vals = malloc((size_t)B * (size_t)M * sizeof *vals);
	bands = malloc((size_t)B * bandsz * sizeof *bands);
	tmp = malloc(((size_t)B + 1) * sizeof *tmp);
	wbuf = malloc((size_t)nt * N * sizeof *wbuf);
	cbuf = malloc((size_t)nt * (size_t)K * (size_t)K * sizeof *cbuf);
	rows = malloc(N * sizeof *rows);
	cstart = calloc((size_t)K + 1, sizeof *cstart);
	if (!vals || !bands || !tmp || !wbuf || !cbuf || !rows || !cstart) {
		rc = ct_error("out of memory for %lld bootstrap resamples", (long long)B);
		goto done;
	}
	/* rows grouped by class, for stratified draws */
	for (int k = 0; k < K; k++)
		cstart[k + 1] = cstart[k] + ev->support[k];
	{
		int64_t *fill = calloc((size_t)K, sizeof *fill);
		if (!fill) {
			rc = ct_error("out of memory");
			goto done;
		}
		for (int64_t i = 0; i < n; i++)
			rows[cstart[labels[i]] + fill[labels[i]]++] = i;
		free(fill);
	}
	const int stratified = o->resample == CT_RESAMPLE_STRATIFIED;
#pragma omp parallel num_threads(nt)
	{
		int t = 0;
#ifdef _OPENMP
		t = omp_get_thread_num();
#endif
		int64_t *w = wbuf + (size_t)t * N, *conf = cbuf + (size_t)t * (size_t)K * (size_t)K;
#pragma omp for schedule(dynamic, 8)
		for (int64_t b = 0; b < B; b++) {
			ct_rng r;
			ct_rng_init(&r, o->seed, (uint64_t)b);
			memset(w, 0, N * sizeof *w);
			if (stratified) {
				for (int k = 0; k < K; k++) {
					int64_t nk = cstart[k + 1] - cstart[k];
					for (int64_t d = 0; d < nk; d++)
						w[rows[cstart[k] + (int64_t)ct_rng_below(&r, (uint64_t)nk)]]++;
				}
			} else {
				for (int64_t d = 0; d < n; d++)
					w[ct_rng_below(&r, (uint64_t)n)]++;
			}
			compute(&c, w, conf, vals + (size_t)b * (size_t)M, bands + (size_t)b * bandsz);
		}
	}
	for (int m = 0; m < CT_M_COUNT; m++)
		interval(vals, B, M, m, o->level, tmp, &ev->m[m]);
	for (int64_t m = 0; m < (int64_t)K * CT_C_COUNT; m++)
		interval(vals, B, M, CT_M_COUNT + m, o->level, tmp, &ev->per_class[m]);
	for (int k = 0; k < K; k++) {
		ct_roc_curve *r = &ev->roc[k];
		if (!r->fpr)
			continue;
		r->tpr_lo = malloc((size_t)G * sizeof *r->tpr_lo);
		r->tpr_hi = malloc((size_t)G * sizeof *r->tpr_hi);
		if (!r->tpr_lo || !r->tpr_hi) {
			rc = ct_error("out of memory");
			break;
		}
		for (int64_t g = 0; g < G; g++) {
			ct_stat st;
			interval(bands, B, (int64_t)bandsz, (int64_t)k * G + g, o->level, tmp, &st);
			r->tpr_lo[g] = st.lo;
			r->tpr_hi[g] = st.hi;
		}
	}
done:
	free(c.pred);
	free(c.score);
	free(c.is);
	free(c.order);
	free(point);
	free(vals);
	free(bands);
	free(tmp);
	free(wbuf);
	free(cbuf);
	free(rows);
	free(cstart);
	if (rc < 0)
		ct_eval_free(ev);
	return rc;
}
