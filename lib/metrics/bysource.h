/* bysource.h - metrics per data source (hospital, scanner, web site, paper figures): a
 * model that learned the source rather than the disease separates positives from one
 * source's negatives far better than from another's. For each source s of a binary problem:
 *   negatives of s against every positive of the split   (is s's "normal" easy to reject?)
 *   positives of s against every negative of the split   (are s's positives easy to find?)
 * each with ct_evaluate's metrics and bootstrap intervals (same options as the whole split).
 * Sources come from a TSV: first column a file name, matched to a sample name exactly, or
 * to its base name with any '#augK' / '#pK' suffix dropped; a header line whose first
 * column is "file" or "name" is skipped. Samples the TSV does not name get "(unknown)". */
#ifndef CT_BYSOURCE_H
#define CT_BYSOURCE_H

#include "data/dataset.h"
#include "data/sourcetsv.h"
#include "metrics/metrics.h"

typedef struct ct_source_eval {
	char *name;
	int64_t npos, nneg;    /* labelled rows of the split from this source */
	int has_neg, has_pos;  /* the two evaluations below are valid */
	ct_eval neg_vs_allpos; /* every positive + this source's negatives */
	ct_eval pos_vs_allneg; /* this source's positives + every negative */
} ct_source_eval;

typedef struct ct_by_source {
	char *column;          /* the TSV column used (its header name, or "column N") */
	int n;
	ct_source_eval *v;     /* sorted by name, "(unknown)" last */
	int64_t unmatched;     /* labelled rows of the split no TSV line named */
} ct_by_source;

/* Evaluate per source the rows i with in[i] != 0 and labels >= 0, from probs (n x 2). */
int ct_by_source_eval(const ct_samples *s, const float *probs, const int *in, char **src, const char *column,
		      const ct_eval_opts *o, ct_by_source *out);
void ct_by_source_free(ct_by_source *b);

#endif
