/* metrics.h - classification metrics on predicted class probabilities: confusion matrix,
 * accuracy, precision, recall, specificity, F1, exact AUC, ROC curves, the Youden threshold,
 * and seeded bootstrap confidence intervals that do not depend on the thread count.
 *
 * Definitions (binary case; "positive" is the class chosen with ct_positive_class):
 *   predicted positive  <=>  p(positive) >= threshold
 *   accuracy    (TP + TN) / N          precision   TP / (TP + FP)      recall  TP / (TP + FN)
 *   specificity TN / (TN + FP)         F1          2TP / (2TP + FP + FN)
 *   AUC         Mann-Whitney U / (N+ N-): the probability that a random positive scores above a
 *               random negative, ties counted 1/2 (exact, O(n log n), equals the trapezoidal area
 *               under the ROC curve).
 * A ratio whose denominator is zero is undefined: NaN here, null in JSON.
 * Multi-class (K > 2): the predicted class is the arg-max (lowest index on ties); precision,
 * recall and F1 per class one-vs-rest; macro averages are unweighted means over the classes
 * where the value is defined; AUC per class one-vs-rest on p(class), macro AUC their mean.
 *
 * Bootstrap (Efron's percentile interval): resample b (0 <= b < B) draws its rows from
 * ct_rng stream b of the seed, so every resample is the same for any thread count. Stratified
 * resampling (the default) draws n_c rows with replacement within each true class c, so each
 * resample keeps the class counts and AUC, recall and specificity stay defined; plain
 * resampling draws N rows from all, and a resample where a metric is undefined is left out
 * of that metric's interval. The interval is the (1-level)/2 and (1+level)/2 quantiles of the
 * resampled values, linearly interpolated between order statistics (numpy's default). The
 * threshold is held fixed across resamples. */
#ifndef CT_METRICS_H
#define CT_METRICS_H

#include <stdint.h>

/* Exact AUC of scores for rows with pos[i] = 1 against rows with pos[i] = 0; NaN when
 * either group is empty. */
double ct_auc(const double *score, const int *pos, int64_t n);

/* ROC curve of scores against pos: one point per distinct score, from (0,0) at threshold
 * +inf to (1,1); point k classifies score >= thr[k] as positive. Arrays are malloc'd
 * (*npts points). Returns -1 when either group is empty. */
int ct_roc(const double *score, const int *pos, int64_t n, double **fpr, double **tpr, double **thr,
	   int64_t *npts);

/* Youden's J = TPR - FPR maximised over the thresholds "score >= t" with t a score of the
 * data; on ties the highest such t. Returns -1 with a message when either group is empty. */
int ct_youden(const double *score, const int *pos, int64_t n, double *threshold, double *j);

/* The positive class of a binary problem: the class named `name` when given (error when no
 * class has that name), else the one class whose name contains "covid" or "lesion"
 * (case-insensitive) and no negation ("non", "no_", "no-", "not"), else class 1. */
int ct_positive_class(char *const *class_names, int nclasses, const char *name);

typedef enum ct_resample { CT_RESAMPLE_STRATIFIED = 0, CT_RESAMPLE_PLAIN } ct_resample;

typedef struct ct_eval_opts {
	int positive;        /* binary: the positive class index */
	double threshold;    /* binary: predicted positive when p(positive) >= threshold */
	int bootstrap;       /* resamples; 0 = no intervals */
	ct_resample resample;
	double level;        /* confidence level of the intervals, e.g. 0.95 */
	uint64_t seed;
	int grid;            /* FPR grid points of the ROC band (>= 2), e.g. 101 */
} ct_eval_opts;

void ct_eval_defaults(ct_eval_opts *o);

/* A metric with its bootstrap interval (lo = hi = NaN without bootstrap or when undefined). */
typedef struct ct_stat {
	double value, lo, hi;
	int64_t nboot;       /* resamples where the metric was defined */
} ct_stat;

/* One-vs-rest ROC curve of a class, with the pointwise percentile band of the TPR over a
 * regular FPR grid (grid[g] = g / (ngrid - 1)); band arrays are NULL without bootstrap. */
typedef struct ct_roc_curve {
	int64_t npts;
	double *fpr, *tpr, *thr;
	int ngrid;
	double *grid, *tpr_lo, *tpr_hi, *tpr_mid;  /* mid: the curve itself on the grid */
} ct_roc_curve;

enum { CT_M_ACCURACY = 0, CT_M_PRECISION, CT_M_RECALL, CT_M_SPECIFICITY, CT_M_F1, CT_M_AUC,
       CT_M_BALANCED_ACCURACY, CT_M_COUNT };
/* Names of the summary metrics, indexed by CT_M_*: "accuracy", "precision", ... Binary: of
 * the positive class. Multi-class: precision, recall, specificity, F1 and AUC are macro
 * averages; balanced accuracy is the macro recall in both cases. */
extern const char *const ct_metric_names[CT_M_COUNT];

enum { CT_C_PRECISION = 0, CT_C_RECALL, CT_C_F1, CT_C_AUC, CT_C_COUNT };

typedef struct ct_eval {
	int nclasses;
	int binary;          /* nclasses == 2 */
	int positive;        /* binary: positive class; -1 otherwise */
	double threshold;    /* binary: the threshold used; NaN otherwise (arg-max) */
	int64_t n;           /* rows evaluated (labelled) */
	int64_t *support;    /* K: rows per true class */
	int64_t *confusion;  /* K x K, row = true class, column = predicted class */
	ct_stat m[CT_M_COUNT];
	ct_stat *per_class;  /* K x CT_C_COUNT: precision, recall, F1, AUC of class k vs the rest */
	ct_roc_curve *roc;   /* K one-vs-rest curves (entry k zeroed when class k or its rest is empty) */
	ct_eval_opts opts;
	int64_t nresamples;  /* opts.bootstrap */
} ct_eval;

/* Evaluate n rows: probs is n x K row-major, labels in [0, K) (callers drop unlabelled
 * rows). n must be >= 1. Bootstrap resamples run in parallel (OpenMP); results are
 * identical for any thread count. */
int ct_evaluate(const float *probs, const int32_t *labels, int64_t n, int nclasses, const ct_eval_opts *o,
		ct_eval *ev);
void ct_eval_free(ct_eval *ev);

/* The predicted class of one row of probabilities: binary by the threshold on the positive
 * class, otherwise the arg-max. */
int ct_predict_label(const float *p, int nclasses, int positive, double threshold);

/* Quantile q in [0, 1] of n values (sorted in place), linear interpolation (numpy default). */
double ct_quantile(double *v, int64_t n, double q);

#endif
