/* test_metrics.c - metrics against hand-computed cases and O(n^2) references; bootstrap
 * determinism, seed dependence, thread independence and intervals around the estimate. */
#include "test.h"

#include "core/rng.h"
#include "metrics/metrics.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int near(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

/* Pairwise reference: P(pos > neg) + 1/2 P(pos == neg). */
static double auc_pairs(const double *s, const int *pos, int64_t n)
{
	double sum = 0, np = 0, nn = 0;
	for (int64_t i = 0; i < n; i++) {
		np += pos[i] != 0;
		nn += pos[i] == 0;
		if (!pos[i])
			continue;
		for (int64_t j = 0; j < n; j++)
			if (!pos[j])
				sum += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
	}
	return sum / (np * nn);
}

/* Binary probabilities rows (1 - p, p) for class 1 = positive. */
static void two_col(const double *p, int64_t n, float *probs)
{
	for (int64_t i = 0; i < n; i++) {
		probs[2 * i + 1] = (float)p[i];
		probs[2 * i] = 1.0f - (float)p[i];
	}
}

static void test_auc_roc_youden(void)
{
	/* scikit-learn's roc_auc_score example */
	double s[4] = { 0.1, 0.4, 0.35, 0.8 };
	int y[4] = { 0, 0, 1, 1 };
	ok(near(ct_auc(s, y, 4), 0.75, 1e-15), "auc of the ranking 0.1- 0.4- 0.35+ 0.8+ is 0.75");
	double *f, *t, *h;
	int64_t np;
	ok(ct_roc(s, y, 4, &f, &t, &h, &np) == 0 && np == 5, "roc has a point per distinct score plus (0,0)");
	double ef[5] = { 0, 0, 0.5, 0.5, 1 }, et[5] = { 0, 0.5, 0.5, 1, 1 }, eh[5] = { INFINITY, 0.8, 0.4, 0.35, 0.1 };
	int same = np == 5;
	for (int k = 0; same && k < 5; k++)
		same = f[k] == ef[k] && t[k] == et[k] && h[k] == eh[k];
	ok(same, "roc points and thresholds match scikit-learn's roc_curve (drop_intermediate=False)");
	free(f);
	free(t);
	free(h);
	double thr, j;
	ok(ct_youden(s, y, 4, &thr, &j) == 0 && thr == 0.8 && near(j, 0.5, 1e-15),
	   "youden: J = 0.5 at 0.8 and at 0.35; the tie goes to the higher threshold 0.8");
	double s2[6] = { 0.1, 0.2, 0.3, 0.6, 0.7, 0.9 };
	int y2[6] = { 0, 0, 1, 0, 1, 1 };
	ok(ct_youden(s2, y2, 6, &thr, &j) == 0 && thr == 0.7 && near(j, 2.0 / 3, 1e-15),
	   "youden: J = 2/3 - 0 at 0.7 ties exactly with 1 - 1/3 at 0.3 (integer comparison): 0.7");
	double s7[7] = { 0.1, 0.2, 0.3, 0.6, 0.65, 0.7, 0.9 };
	int y7[7] = { 0, 0, 1, 0, 0, 1, 1 };
	ok(ct_youden(s7, y7, 7, &thr, &j) == 0 && thr == 0.7 && near(j, 2.0 / 3, 1e-15),
	   "youden: unique maximum J = 2/3 at threshold 0.7");

	/* ties: 0.5+ vs 0.5- counts 1/2 */
	double s3[4] = { 0.2, 0.5, 0.5, 0.9 };
	int y3[4] = { 0, 0, 1, 1 };
	ok(near(ct_auc(s3, y3, 4), 0.875, 1e-15), "auc with a tied positive/negative pair is 3.5/4");
	double s4[4] = { 0.5, 0.5, 0.5, 0.5 };
	int y4[4] = { 0, 1, 0, 1 };
	ok(near(ct_auc(s4, y4, 4), 0.5, 1e-15), "auc of constant scores is 0.5");
	int y5[4] = { 1, 1, 1, 1 };
	ok(isnan(ct_auc(s4, y5, 4)), "auc without negatives is undefined (NaN)");
	ok(ct_roc(s4, y5, 4, &f, &t, &h, &np) < 0, "roc without negatives is an error");
	double s6[4] = { 0.9, 0.8, 0.2, 0.1 };
	int y6[4] = { 0, 0, 1, 1 };
	ok(ct_auc(s6, y6, 4) == 0.0, "a perfectly inverted ranking has auc 0");

	/* random scores with many ties against the pairwise definition, and against the
	 * trapezoidal area under the roc curve */
	ct_rng r;
	ct_rng_init(&r, 7, 0);
	double worst = 0, worst_trap = 0;
	for (int rep = 0; rep < 20; rep++) {
		int64_t n = 5 + (int64_t)ct_rng_below(&r, 400);
		double *sc = malloc((size_t)n * sizeof *sc);
		int *lab = malloc((size_t)n * sizeof *lab);
		int levels = rep % 2 ? 10 : 1000000;
		for (int64_t i = 0; i < n; i++) {
			lab[i] = ct_rng_uniform(&r) < 0.4;
			sc[i] = floor((ct_rng_uniform(&r) * 0.7 + 0.3 * lab[i]) * levels) / levels;
		}
		lab[0] = 1;
		lab[1] = 0;
		double a = ct_auc(sc, lab, n), ref = auc_pairs(sc, lab, n);
		worst = fmax(worst, fabs(a - ref));
		if (ct_roc(sc, lab, n, &f, &t, &h, &np) == 0) {
			double area = 0;
			for (int64_t k = 1; k < np; k++)
				area += (f[k] - f[k - 1]) * (t[k] + t[k - 1]) / 2;
			worst_trap = fmax(worst_trap, fabs(area - ref));
			free(f);
			free(t);
			free(h);
		}
		free(sc);
		free(lab);
	}
	diag("auc vs pairwise reference: max error %.3g; trapezoid %.3g", worst, worst_trap);
	ok(worst < 1e-12, "auc equals the O(n^2) pairwise count on 20 random sets with ties (max error < 1e-12)");
	ok(worst_trap < 1e-12, "auc equals the trapezoidal area under the roc curve");
}

static void test_binary_metrics(void)
{
	/* TP 3, FN 1, FP 2, TN 4 at threshold 0.5 */
	double p[10] = { 0.9, 0.8, 0.7, 0.3, 0.6, 0.55, 0.4, 0.2, 0.1, 0.05 };
	int32_t y[10] = { 1, 1, 1, 1, 0, 0, 0, 0, 0, 0 };
	float probs[20];
	two_col(p, 10, probs);
	ct_eval_opts o;
	ct_eval_defaults(&o);
	o.bootstrap = 0;
	ct_eval ev;
	ok(ct_evaluate(probs, y, 10, 2, &o, &ev) == 0, "evaluate a 10-row binary case");
	int64_t *c = ev.confusion;
	ok(c[0] == 4 && c[1] == 2 && c[2] == 1 && c[3] == 3, "confusion matrix [[TN 4, FP 2], [FN 1, TP 3]]");
	ok(near(ev.m[CT_M_ACCURACY].value, 0.7, 1e-15), "accuracy 7/10");
	ok(near(ev.m[CT_M_PRECISION].value, 0.6, 1e-15), "precision 3/5");
	ok(near(ev.m[CT_M_RECALL].value, 0.75, 1e-15), "recall (sensitivity) 3/4");
	ok(near(ev.m[CT_M_SPECIFICITY].value, 4.0 / 6, 1e-15), "specificity 4/6");
	ok(near(ev.m[CT_M_F1].value, 2.0 / 3, 1e-15), "f1 = 2*3/(2*3+2+1)");
	ok(near(ev.m[CT_M_BALANCED_ACCURACY].value, (0.75 + 4.0 / 6) / 2, 1e-15), "balanced accuracy");
	/* AUC: positives .9 .8 .7 .3 vs negatives .6 .55 .4 .2 .1 .05: 6+6+6+3 = 21 of 24 */
	ok(near(ev.m[CT_M_AUC].value, 21.0 / 24, 1e-12), "auc 21/24");
	ok(ev.support[0] == 6 && ev.support[1] == 4, "support 6 negatives, 4 positives");
	double *pc = NULL;
	(void)pc;
	ok(near(ev.per_class[0 * CT_C_COUNT + CT_C_PRECISION].value, 4.0 / 5, 1e-15) &&
		   near(ev.per_class[0 * CT_C_COUNT + CT_C_RECALL].value, 4.0 / 6, 1e-15) &&
		   near(ev.per_class[0 * CT_C_COUNT + CT_C_AUC].value, 21.0 / 24, 1e-12),
	   "per-class metrics of the negative class (precision 4/5, recall 4/6, same auc)");
	ok(isnan(ev.m[CT_M_AUC].lo), "no interval without bootstrap");
	ok(ev.roc[1].npts == 11 && ev.roc[1].tpr_lo == NULL, "roc of the positive class, no band without bootstrap");
	ct_eval_free(&ev);

	o.threshold = 0.35;
	ct_evaluate(probs, y, 10, 2, &o, &ev);
	ok(ev.confusion[3] == 3 && ev.confusion[1] == 3 && ev.threshold == 0.35,
	   "threshold 0.35: p >= t is positive (0.4 becomes a false positive)");
	ct_eval_free(&ev);
	o.threshold = 0.95;
	ct_evaluate(probs, y, 10, 2, &o, &ev);
	ok(isnan(ev.m[CT_M_PRECISION].value) && ev.m[CT_M_RECALL].value == 0,
	   "threshold 0.95: no predicted positive, precision undefined (NaN), recall 0");
	ct_eval_free(&ev);
	/* class 0 as the positive class */
	o.threshold = 0.5;
	o.positive = 0;
	ct_evaluate(probs, y, 10, 2, &o, &ev);
	ok(near(ev.m[CT_M_RECALL].value, 4.0 / 6, 1e-15) && near(ev.m[CT_M_AUC].value, 21.0 / 24, 1e-12),
	   "--positive 0: recall of class 0 is 4/6, auc of p(class 0) is the same 21/24");
	ct_eval_free(&ev);
	ok(ct_evaluate(probs, y, 0, 2, &o, &ev) < 0, "zero rows is an error");
}

static void test_multiclass(void)
{
	/* 3 classes; truths and arg-max predictions:
	 * y:    0 0 0 1 1 1 2 2
	 * pred: 0 0 1 1 1 2 2 0 */
	float P[8][3] = { { .7f, .2f, .1f }, { .5f, .3f, .2f }, { .3f, .6f, .1f }, { .1f, .8f, .1f },
			  { .2f, .5f, .3f }, { .2f, .3f, .5f }, { .1f, .1f, .8f }, { .6f, .1f, .3f } };
	int32_t y[8] = { 0, 0, 0, 1, 1, 1, 2, 2 };
	ct_eval_opts o;
	ct_eval_defaults(&o);
	o.bootstrap = 50;
	ct_eval ev;
	ok(ct_evaluate(&P[0][0], y, 8, 3, &o, &ev) == 0, "evaluate a 3-class case");
	int64_t want[9] = { 2, 1, 0, 0, 2, 1, 1, 0, 1 };
	ok(!memcmp(ev.confusion, want, sizeof want), "3x3 confusion matrix of the arg-max");
	ok(near(ev.m[CT_M_ACCURACY].value, 5.0 / 8, 1e-15), "accuracy 5/8");
	ok(near(ev.per_class[0 * CT_C_COUNT + CT_C_PRECISION].value, 2.0 / 3, 1e-15) &&
		   near(ev.per_class[1 * CT_C_COUNT + CT_C_PRECISION].value, 2.0 / 3, 1e-15) &&
		   near(ev.per_class[2 * CT_C_COUNT + CT_C_PRECISION].value, 0.5, 1e-15),
	   "per-class precision 2/3, 2/3, 1/2");
	ok(near(ev.per_class[2 * CT_C_COUNT + CT_C_RECALL].value, 0.5, 1e-15) &&
		   near(ev.per_class[2 * CT_C_COUNT + CT_C_F1].value, 0.5, 1e-15),
	   "class 2 recall 1/2, f1 1/2");
	ok(near(ev.m[CT_M_F1].value, (2.0 / 3 + 2.0 / 3 + 0.5) / 3, 1e-15), "macro f1 is the mean of the classes");
	double s[8];
	int pos[8];
	double macro = 0;
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 8; i++)
			s[i] = P[i][k], pos[i] = y[i] == k;
		double a = auc_pairs(s, pos, 8);
		macro += a / 3;
		ok(near(ev.per_class[k * CT_C_COUNT + CT_C_AUC].value, a, 1e-12), "one-vs-rest auc of class %d", k);
	}
	ok(near(ev.m[CT_M_AUC].value, macro, 1e-12), "macro auc is the mean of the one-vs-rest aucs");
	ok(!isnan(ev.m[CT_M_ACCURACY].lo) && ev.roc[2].tpr_lo, "multi-class intervals and bands exist");
	ct_eval_free(&ev);
}

static void random_case(int64_t n, uint64_t seed, float **probs, int32_t **y)
{
	ct_rng r;
	ct_rng_init(&r, seed, 99);
	*probs = malloc((size_t)n * 2 * sizeof **probs);
	*y = malloc((size_t)n * sizeof **y);
	for (int64_t i = 0; i < n; i++) {
		(*y)[i] = ct_rng_uniform(&r) < 0.45;
		double z = ct_rng_normal(&r) + 1.2 * (*y)[i];
		double p = 1 / (1 + exp(-z));
		(*probs)[2 * i + 1] = (float)p;
		(*probs)[2 * i] = 1.0f - (float)p;
	}
}

static int same_eval(const ct_eval *a, const ct_eval *b)
{
	for (int m = 0; m < CT_M_COUNT; m++) {
		const ct_stat *x = &a->m[m], *y = &b->m[m];
		if (memcmp(&x->value, &y->value, sizeof(double)) || memcmp(&x->lo, &y->lo, sizeof(double)) ||
		    memcmp(&x->hi, &y->hi, sizeof(double)) || x->nboot != y->nboot)
			return 0;
	}
	for (int k = 0; k < a->nclasses; k++)
		if (a->roc[k].tpr_lo && memcmp(a->roc[k].tpr_lo, b->roc[k].tpr_lo, 101 * sizeof(double)))
			return 0;
	return 1;
}

static void test_bootstrap(void)
{
	float *probs;
	int32_t *y;
	int64_t n = 300;
	random_case(n, 5, &probs, &y);
	ct_eval_opts o;
	ct_eval_defaults(&o);
	o.bootstrap = 500;
	ct_eval a, b, c;
	ok(ct_evaluate(probs, y, n, 2, &o, &a) == 0 && ct_evaluate(probs, y, n, 2, &o, &b) == 0,
	   "bootstrap 500 resamples twice");
	ok(same_eval(&a, &b), "same seed gives bit-identical intervals and bands");
	int inside = 1, ordered = 1;
	for (int m = 0; m < CT_M_COUNT; m++) {
		inside &= a.m[m].lo <= a.m[m].value && a.m[m].value <= a.m[m].hi;
		ordered &= a.m[m].lo < a.m[m].hi && a.m[m].nboot == 500;
		diag("%-17s %.4f [%.4f, %.4f]", ct_metric_names[m], a.m[m].value, a.m[m].lo, a.m[m].hi);
	}
	ok(inside, "every 95%% interval contains its point estimate");
	ok(ordered, "intervals are non-degenerate, every resample counted (stratified)");
	double se = sqrt(a.m[CT_M_AUC].value * (1 - a.m[CT_M_AUC].value) / 100);
	ok(a.m[CT_M_AUC].hi - a.m[CT_M_AUC].lo < 8 * se && a.m[CT_M_AUC].hi - a.m[CT_M_AUC].lo > 0.02,
	   "auc interval width is plausible for n=300 (%.3f)", a.m[CT_M_AUC].hi - a.m[CT_M_AUC].lo);
	int band_ok = 1;
	ct_roc_curve *rc = &a.roc[1];
	for (int g = 0; g < rc->ngrid; g++)
		band_ok &= rc->tpr_lo[g] <= rc->tpr_hi[g] && rc->tpr_lo[g] >= 0 && rc->tpr_hi[g] <= 1 &&
			   (g == 0 || rc->tpr_lo[g] >= rc->tpr_lo[g - 1]);
	ok(band_ok && rc->tpr_hi[rc->ngrid - 1] == 1, "roc band: lo <= hi within [0, 1], monotone, ends at 1");
	int mid_in = 0;
	for (int g = 0; g < rc->ngrid; g++)
		mid_in += rc->tpr_lo[g] <= rc->tpr_mid[g] && rc->tpr_mid[g] <= rc->tpr_hi[g];
	ok(mid_in >= rc->ngrid - 2, "the roc curve lies inside its band (%d of %d grid points)", mid_in, rc->ngrid);

	o.seed = 43;
	ct_evaluate(probs, y, n, 2, &o, &c);
	ok(c.m[CT_M_AUC].lo != a.m[CT_M_AUC].lo && c.m[CT_M_AUC].value == a.m[CT_M_AUC].value,
	   "another seed moves the interval, not the estimate");
	ct_eval_free(&c);
	o.seed = 42;
#ifdef _OPENMP
	ct_eval d;
	int nt = omp_get_max_threads();
	omp_set_num_threads(1);
	ct_evaluate(probs, y, n, 2, &o, &c);
	omp_set_num_threads(4);
	ct_evaluate(probs, y, n, 2, &o, &d);
	omp_set_num_threads(nt);
	ok(same_eval(&a, &c) && same_eval(&a, &d), "1, 4 and %d threads give bit-identical results", nt);
	ct_eval_free(&c);
	ct_eval_free(&d);
#else
	ok(1, "# SKIP built without OpenMP");
#endif
	o.resample = CT_RESAMPLE_PLAIN;
	ct_evaluate(probs, y, n, 2, &o, &c);
	ok(c.m[CT_M_AUC].lo <= c.m[CT_M_AUC].value && c.m[CT_M_AUC].value <= c.m[CT_M_AUC].hi &&
		   c.m[CT_M_AUC].lo != a.m[CT_M_AUC].lo,
	   "plain resampling gives another interval around the same estimate");
	ct_eval_free(&c);
	/* plain resampling of a tiny set: some resamples lack a class and are left out */
	o.bootstrap = 400;
	ct_evaluate(probs, y, 6, 2, &o, &c);
	ok(c.m[CT_M_AUC].nboot < 400 && c.m[CT_M_AUC].nboot > 0 && c.m[CT_M_ACCURACY].nboot == 400,
	   "plain, n=6: auc defined in %lld of 400 resamples, accuracy in all", (long long)c.m[CT_M_AUC].nboot);
	ct_eval_free(&c);
	ct_eval_free(&a);
	ct_eval_free(&b);
	free(probs);
	free(y);
}

static void test_helpers(void)
{
	char *a[2] = { "CT_COVID", "CT_NonCOVID" }, *b[2] = { "lesion", "normal" }, *c[2] = { "normal", "Lesion" },
	     *d[2] = { "cat", "dog" };
	ok(ct_positive_class(a, 2, NULL) == 0, "positive class of CT_COVID/CT_NonCOVID is CT_COVID");
	ok(ct_positive_class(b, 2, NULL) == 0 && ct_positive_class(c, 2, NULL) == 1,
	   "positive class is the lesion class, case-insensitive");
	ok(ct_positive_class(d, 2, NULL) == 1, "default positive class is 1");
	ok(ct_positive_class(d, 2, "cat") == 0, "--positive names a class");
	ok(ct_positive_class(d, 2, "cow") < 0, "an unknown class name is an error");
	double v[4] = { 4, 1, 3, 2 };
	ok(ct_quantile(v, 4, 0.5) == 2.5 && ct_quantile(v, 4, 0) == 1 && ct_quantile(v, 4, 1) == 4 &&
		   near(ct_quantile(v, 4, 0.025), 1.075, 1e-12),
	   "quantiles interpolate linearly between order statistics");
	float p[2] = { 0.5f, 0.5f }, q[3] = { 0.2f, 0.4f, 0.4f };
	ok(ct_predict_label(p, 2, 1, 0.5) == 1 && ct_predict_label(p, 2, 0, 0.6) == 1 &&
		   ct_predict_label(q, 3, -1, NAN) == 1,
	   "prediction: p >= threshold is positive; arg-max takes the lowest index on ties");
}

int main(void)
{
	test_auc_roc_youden();
	test_binary_metrics();
	test_multiclass();
	test_bootstrap();
	test_helpers();
	TEST_DONE();
}
