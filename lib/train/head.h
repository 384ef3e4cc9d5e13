/* head.h - the classifier head trained on (fused) features: logistic regression or a
 * small MLP (dense -> ReLU -> dropout -> dense -> softmax), with the feature
 * standardisation learned on the training split, and its model file (kind "model",
 * docs/formats.md). Contract between ct-finetune (writes) and ct-score (applies). */
#ifndef CT_HEAD_H
#define CT_HEAD_H

#include "data/features.h"

typedef enum ct_head_kind { CT_HEAD_LOGREG = 0, CT_HEAD_MLP } ct_head_kind;

typedef struct ct_head {
	ct_head_kind kind;
	int d_in;           /* feature columns */
	int hidden;         /* MLP hidden units (0 for logreg) */
	int nclasses;
	char **class_names; /* nclasses */
	float *mean, *std;  /* d_in: x' = (x - mean) / std */
	float *w1, *b1;     /* logreg: d_in x nclasses; MLP: d_in x hidden */
	float *w2, *b2;     /* MLP: hidden x nclasses; NULL for logreg */
	int nblocks;        /* the feature layout the head was trained on */
	ct_fblock *blocks;
} ct_head;

/* Load a model file; errors name the file. A seed ensemble (group /ensemble) is refused: its
 * prediction is the mean of every head (ct_model_open and ct_model_predict, train/modelfile.h). */
int ct_head_load(const char *path, ct_head *m);
/* Check that features have the layout the head was trained on (same D, same
 * blocks by name and width, same class names); error names the first mismatch. */
int ct_head_check(const ct_head *m, const ct_features *f);
/* Class probabilities, n x nclasses, row-major (inference: no dropout).
 * Deterministic and independent of the thread count. */
int ct_head_predict(const ct_head *m, const float *x, int64_t n, float *probs);
void ct_head_free(ct_head *m);

/* ---- additions for ct-finetune ---- */

/* Allocate a zeroed head (mean 0, std 1); class names and blocks are left empty
 * (NULL / 0) for the caller to fill. hidden is ignored for logreg. */
int ct_head_alloc(ct_head *m, ct_head_kind kind, int d_in, int hidden, int nclasses);
const char *ct_head_kind_name(ct_head_kind k); /* "logreg", "mlp" */
/* Write the head's part of a model file into an open file: /class_names, the group
 * /head (attributes type, d_in, hidden, nclasses, activation; datasets mean, std,
 * w1, b1, w2, b2) and /blocks. The caller stamps the file (kind "model"). */
int ct_head_write(hid_t file, const ct_head *m);
/* Read the head's part of an open model file (ct_head_load = open + check + this). */
int ct_head_read(hid_t file, ct_head *m);
/* The /head group alone (attributes and weights, no class names or blocks), written into or read
 * from the group `name` (a path) under parent: the members of a seed ensemble (train/ensemble.h)
 * are stored like /head. Errors name the group. */
int ct_head_group_write(hid_t parent, const char *name, const ct_head *m);
int ct_head_group_read(hid_t parent, const char *name, ct_head *m);

/* ---- addition for ct-explain (Grad-CAM) ---- */

/* The logit z[cls] (pre-softmax score of class cls) of one raw input row x (d_in values, as
 * in a features file: before the head's standardisation) and its gradient d z[cls] / d x
 * (d_in values) through the standardisation, the first layer and, for an MLP, the ReLU and
 * the output layer (inference: no dropout; at a hidden pre-activation of exactly 0 the ReLU
 * counts as inactive). z and grad may be NULL. */
int ct_head_logit_grad(const ct_head *m, const float *x, int cls, double *z, double *grad);

#endif
