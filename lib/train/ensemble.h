/* ensemble.h - seed ensembles of the classifier head (ct-finetune --ensemble K): K heads trained
 * alike on the same rows, head j with seed S + j (S the run's seed), each with its own early
 * stopping; the ensemble's class probabilities are the mean of the K heads' probabilities. In a
 * model file head 0 is /head and heads 1..K-1 are /ensemble/<j> (docs/formats.md). A reader
 * that predicts either averages every head (ct_heads_predict) or refuses the file: it never
 * uses /head alone. */
#ifndef CT_ENSEMBLE_H
#define CT_ENSEMBLE_H

#include "train/train.h"

enum { CT_ENSEMBLE_MAX = 100 }; /* heads a model file may hold (ct-finetune --ensemble 1..100) */

/* Train nheads heads on the rows of ct_train_head: head j with seed o->seed + j (mod 2^64), every
 * other option as o. heads and logs: nheads each; on failure nothing is left allocated. */
int ct_train_ensemble(const float *x, const int32_t *y, int64_t n, int d, int k, const uint8_t *role,
		      const ct_train_opts *o, int nheads, ct_head *heads, ct_train_log *logs);

/* Class probabilities (n x nclasses) of the mean of the heads (same d_in and nclasses): summed in
 * head order in double, divided by nheads, rounded to float once. One head: ct_head_predict
 * exactly. Deterministic and independent of the thread count. */
int ct_heads_predict(const ct_head *const *heads, int nheads, const float *x, int64_t n, float *probs);

/* k-fold cross-validation of an ensemble (ct_train_cv_eval, train.h, with nheads == 1): each fold
 * trains nheads heads (seeds o->seed + j) and is scored by their mean probability on its held-out
 * rows; r->best_epoch holds head 0's. */
int ct_train_cv_ensemble(const float *x, const int32_t *y, int64_t n, int d, int k, const int32_t *fold,
			 int nfolds, const uint8_t *eval, const ct_train_opts *o, int nheads, ct_cv_result *r);
/* The same with test-time augmentation when orig is not NULL (eval/tta.h ct_tta_origins: each
 * row's original): a held-out row is scored by the mean probability over it and its copies in
 * the same fold (copies train, never held out themselves). orig NULL: exactly
 * ct_train_cv_ensemble. */
int ct_train_cv_tta(const float *x, const int32_t *y, int64_t n, int d, int k, const int32_t *fold, int nfolds,
		    const uint8_t *eval, const int64_t *orig, const ct_train_opts *o, int nheads, ct_cv_result *r);

/* Group /ensemble of an open model file: attribute heads (K >= 2) and combine ("mean
 * probability"); for j = 1..K-1 the group /ensemble/<j>: head j as /head (ct_head_group_write)
 * with attributes seed, epochs, best_epoch, stopped_early from logs[j]. heads, seeds and logs: K
 * each (index 0, /head, is not written here). */
int ct_ensemble_write(hid_t file, const ct_head *heads, const uint64_t *seeds, const ct_train_log *logs, int nheads);

/* Read the members of an open model file whose /head is head0: *nheads = 1 and *members = NULL
 * without /ensemble; else *nheads = K and *members the K - 1 heads /ensemble/1.. (no class names
 * or blocks), each checked to take head0's inputs and give its classes. Errors name the group. */
int ct_ensemble_read(hid_t file, const ct_head *head0, int *nheads, ct_head **members);
void ct_ensemble_free(ct_head *members, int nheads);

#endif
