/* score.h - applying a model file to a features file and evaluating it (ct-score): the
 * class probabilities and predictions of every row, the threshold (fixed, or Youden's J on
 * the val split), metrics with bootstrap intervals on one split, the training curves and
 * provenance of both inputs, and the outputs: the scores file (kind "scores",
 * docs/formats.md), a TSV and a JSON summary. */
#ifndef CT_SCORE_H
#define CT_SCORE_H

#include "data/dataset.h"
#include "metrics/audit.h"
#include "metrics/bysource.h"
#include "metrics/metrics.h"
#include "train/modelfile.h"

#include <stdio.h>

typedef enum ct_thresh_mode {
	CT_THRESH_DEFAULT = 0, /* 0.5 */
	CT_THRESH_FIXED,       /* a number given */
	CT_THRESH_YOUDEN,      /* Youden's J on the labelled rows of the val split */
} ct_thresh_mode;

typedef struct ct_score_opts {
	const char *split;     /* "train", "val", "test", "all", or NULL: test if any row has it, else all */
	const char *positive;  /* class name, or NULL for ct_positive_class's default */
	ct_thresh_mode mode;
	double threshold;      /* CT_THRESH_FIXED */
	ct_eval_opts eval;     /* bootstrap, resample, level, seed, grid (positive/threshold are set here) */
	const char *sources;   /* TSV of sample sources (bysource.h), or NULL */
	int source_column;     /* its column, 1-based; 0 = the last */
	const char *audit;     /* images file (ct-convert) for the shortcut audit (audit.h), or NULL */
	const char *weights;   /* a fine-tuned model on images files: the backbones' pretrained
				* weights, FILE[,FILE...] one per source (NULL or an empty item:
				* the weights search path) */
	int batch;             /* ... images per forward pass (0: 16) */
	int tta;               /* test-time augmentation: augmented copies ("NAME#augk") averaged
				* into their original's probabilities and dropped (eval/tta.h) */
} ct_score_opts;

typedef struct ct_scored {
	char *model_path, *features_path;            /* features_path: the first input */
	char model_sha256[65], features_sha256[65];  /* of the bytes read (stdin's too) */
	int ninputs;           /* the inputs: one, or one per source of a fine-tuned model */
	char **input_paths;
	char (*input_sha256)[65];
	ct_samples s;          /* every row of the features file */
	int nclasses;
	float *probs;          /* n x K */
	int32_t *pred;         /* n: predicted class */
	char split[8];         /* the evaluated split: "train", "val", "test" or "all" */
	int64_t nsplit, nlabelled;                   /* rows in the split; of those labelled */
	int positive;          /* binary: positive class; -1 for K > 2 */
	double threshold;      /* binary: the threshold used; NaN for K > 2 */
	const char *threshold_method;                /* "default", "fixed", "youden", "argmax" */
	double youden_j;       /* youden: J on the val split */
	int64_t youden_n;      /* youden: labelled val rows it was chosen on */
	int evaluated;         /* ev is valid (the split has labelled rows) */
	ct_eval ev;
	ct_head_kind kind;
	int d_in, hidden;
	int heads;             /* 1, or K of a seed ensemble (mean of K heads' probabilities) */
	int nblocks;
	ct_fblock *blocks;     /* the feature layout (from the features file) */
	char **model_prov, **features_prov;
	int64_t nmodel_prov, nfeatures_prov;
	int has_curves;
	ct_curves curves;
	int has_by_source;     /* metrics per source (opts.sources, binary, labelled split) */
	ct_by_source by_source;
	int has_audit;         /* shortcut baselines on the same split (opts.audit) */
	ct_audit audit;
	int tta;               /* opts.tta: rows are the originals, copies averaged in */
	int64_t tta_copies;    /* ... the copies averaged */
	int64_t copies_as_rows; /* without tta: augmented copies outside train, scored as rows */
} ct_scored;

/* Load the model and its inputs: for a head-only model one features file; for a model with
 * fine-tuned layers one input per source, in the model's order, each a cut file of that
 * source's cut or an images file (train/ft_apply.h ct_ft_inputs_features: the sources'
 * features side by side; the samples, splits, labels and provenance are the first input's).
 * Check the layout (ct_head_check), predict every row, choose the threshold and evaluate the
 * split. Errors name the file; a wrong number of inputs is a usage error. A split without
 * rows is an error; a split without labelled rows is not (evaluated = 0). */
int ct_score_run(const char *model_path, char *const *inputs, int ninputs, const ct_score_opts *o, ct_scored *r);
void ct_scored_free(ct_scored *r);

/* The JSON summary (malloc'd): metrics with intervals, confusion matrix, per-class metrics,
 * ROC curves, threshold and how it was chosen, counts, model and features provenance
 * (schema in man/ct-score.1). */
char *ct_score_json(const ct_scored *r, int pretty);

/* The scores file: created before the work (io/h5.h ct_h5_create: an existing file is refused
 * unless force), written by ct_score_write_h5, then committed or abandoned. */
int ct_scores_create(ct_h5 *h, const char *path, int force);
int ct_scores_commit(ct_h5 *h);
void ct_scores_abort(ct_h5 *h);

/* Write the scores file into the created h (not committed): root stamp (kind "scores"),
 * sample metadata, /probabilities, /predicted, threshold attributes, /metrics (json). */
int ct_score_write_h5(ct_h5 *h, const ct_scored *r, const ct_run *run, const char *json);

/* TSV: a header, then per row: name, split, label, probability, predicted (binary:
 * probability of the positive class; K > 2: one p:<class> column per class). Labels are
 * class names ("" when unlabelled). Tabs, newlines and backslashes in names are escaped
 * as \t, \n, \\. */
int ct_score_write_tsv(FILE *f, const ct_scored *r);

/* The metrics table printed by ct-score. */
void ct_score_print(FILE *f, const ct_scored *r);

/* Provenance of the scores file: the model's chain, then the entries of the features
 * file's chain that the model's does not contain (malloc'd array of borrowed strings). */
char **ct_score_upstream(const ct_scored *r, int64_t *n);

#endif
