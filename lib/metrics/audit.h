/* audit.h - the shortcut audit: how well simple classifiers separate the classes from
 * nuisance attributes alone (image/nuisance.h: stored size, file format, channels,
 * intensity histogram, borders and text-like content), trained on the train split and
 * scored on the evaluated split, for each attribute group and for all of them together.
 * A model is worth its margin over the best of these baselines: where they score high,
 * the data let a classifier tell the classes apart by where the images come from.
 *
 * Classifiers (deterministic, thread-count independent):
 *   logreg  L2-regularised logistic regression (lambda 1e-2 on standardised attributes,
 *           Newton's method), the linear baseline;
 *   forest  a random forest of 200 Gini trees (depth <= 6, >= 2 rows a leaf, sqrt(F)
 *           attributes tried per split, bootstrap rows; tree t draws from ct_rng stream t),
 *           the non-linear one, as in the audit that found the shortcut in COVID-CT. */
#ifndef CT_AUDIT_H
#define CT_AUDIT_H

#include "metrics/metrics.h"

#include <stdint.h>

typedef struct ct_audit_entry {
	const char *attributes;  /* a group name of nuisance.h, or "all" */
	const char *method;      /* "logreg" or "forest" */
	ct_eval ev;
} ct_audit_entry;

typedef struct ct_audit {
	char *images_path;
	char split[8];
	int64_t ntrain, neval;   /* labelled rows trained on / scored */
	int n;
	ct_audit_entry *v;
	int best;                /* entry with the highest AUC */
} ct_audit;

/* Run the audit on an images file written by ct-convert (it holds /nuisance): train on
 * its labelled train rows, score its labelled rows of `split` ("val" or "test"), with the
 * class named `positive` as the positive class and o's bootstrap options. */
int ct_audit_run(const char *images_path, const char *split, const char *positive, const ct_eval_opts *o,
		 ct_audit *out);
void ct_audit_free(ct_audit *a);

/* The two classifiers on a row-major n x d matrix x with labels y (0/1): p[i] = P(y = 1)
 * for the m rows of xe. Exposed for tests. */
int ct_audit_logreg(const float *x, const int *y, int64_t n, int d, const float *xe, int64_t m, double *p);
int ct_audit_forest(const float *x, const int *y, int64_t n, int d, const float *xe, int64_t m, uint64_t seed,
		    double *p);

#endif
