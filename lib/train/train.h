/* train.h - training the classifier head (lib/train/head.h) on feature rows: mini-batch
 * Adam or SGD with momentum on the class-weighted cross-entropy plus L2 weight decay,
 * dropout (MLP), standardisation learned on the training rows, early stopping on the
 * validation loss with the best epoch restored, and k-fold cross-validation.
 *
 * Reproducibility: a seed gives bit-identical weights for any thread count. Every
 * parallel loop runs over independent outputs (rows of a batch, units of a layer),
 * each computed serially in a fixed order; sums over rows are taken in row order;
 * shuffles, dropout masks and initial weights come from ct_rng streams derived from
 * (seed, epoch, position), never from a shared generator. */
#ifndef CT_TRAIN_H
#define CT_TRAIN_H

#include "train/head.h"

#include <stddef.h>
#include <stdint.h>

typedef enum ct_optim { CT_OPTIM_ADAM = 0, CT_OPTIM_SGD } ct_optim;

typedef struct ct_train_opts {
	ct_head_kind kind;
	int hidden;           /* MLP hidden units */
	double dropout;       /* MLP: drop rate of the hidden units while training, [0, 1) */
	ct_optim optimizer;
	double lr;            /* learning rate */
	double momentum;      /* SGD momentum (Keras form: v = mu v - lr g; w += v) */
	double weight_decay;  /* L2 penalty (wd / 2) ||W||^2 on the weight matrices (not biases) */
	int balanced;         /* class weights n / (K n_c) from the training rows, else all 1 */
	int batch;
	int epochs;           /* maximum */
	int patience;         /* stop after this many epochs without a lower val loss; 0 = never */
	uint64_t seed;
	double sd_floor;      /* > 0: standardisation sd of a column at least sd_floor x the mean
			       * column sd (fine-tuning: a near-constant feature must not amplify
			       * the backbone's changes); 0: only constant columns get sd 1 */
} ct_train_opts;

void ct_train_defaults(ct_train_opts *o); /* mlp 256, dropout 0.5, adam 1e-3, wd 1e-4, batch 32, 100 epochs, patience 10, seed 42 */

enum { CT_ROLE_NONE = 0, CT_ROLE_TRAIN = 1, CT_ROLE_VAL = 2 };

typedef struct ct_train_log {
	int epochs;              /* epochs run */
	double *train_loss, *train_acc, *val_loss, *val_acc; /* per epoch; val NaN without val rows */
	int best_epoch;          /* 1-based: the epoch whose weights the head holds */
	int stopped_early;
	int64_t ntrain, nval;
	double class_weight[64]; /* first min(K, 64) class weights used */
} ct_train_log;

/* Train a head on x (n x d, row-major float, finite) with labels y in [0, k): rows with
 * role CT_ROLE_TRAIN are trained on, CT_ROLE_VAL rows are evaluated each epoch and drive
 * early stopping (without any, every epoch runs and the last is kept). The losses in the
 * log are the plain mean cross-entropy (no class weights, no decay, no dropout) after each
 * epoch. On success *out holds the weights of the best epoch (class names and blocks left
 * empty for the caller). */
int ct_train_head(const float *x, const int32_t *y, int64_t n, int d, int k, const uint8_t *role,
		  const ct_train_opts *o, ct_head *out, ct_train_log *log);
void ct_train_log_free(ct_train_log *log);

/* k-fold cross-validation: for each fold f, train on rows with fold[i] >= 0 and != f and
 * validate (early stopping, accuracy, AUC) on fold f; rows with fold[i] < 0 are unused. */
typedef struct ct_cv_result {
	int k;
	double *acc, *auc;       /* per fold; AUC one-vs-rest macro for K > 2 */
	int32_t *best_epoch;
	double acc_mean, acc_sd, auc_mean, auc_sd; /* sd: sample standard deviation (n - 1) */
} ct_cv_result;

int ct_train_cv(const float *x, const int32_t *y, int64_t n, int d, int k, const int32_t *fold, int nfolds,
		const ct_train_opts *o, ct_cv_result *r);
/* The same, but rows with eval[i] == 0 (eval NULL: none) are only trained on: unused while
 * their own fold is held out (augmented copies: a fold is validated on originals only, as the
 * val split is). */
int ct_train_cv_eval(const float *x, const int32_t *y, int64_t n, int d, int k, const int32_t *fold, int nfolds,
		     const uint8_t *eval, const ct_train_opts *o, ct_cv_result *r);
void ct_cv_result_free(ct_cv_result *r);

/* Accuracy and AUC (binary: of class 1; K > 2: macro one-vs-rest) of probabilities. */
void ct_train_scores(const float *probs, const int32_t *y, int64_t n, int k, double *acc, double *auc);

/* Model-file parts (docs/formats.md, kind = model). Group /training: float64 datasets
 * train_loss, train_acc, val_loss, val_acc (one value per epoch run; val NaN without
 * validation rows), attributes epochs, best_epoch (1-based), stopped_early, train_rows,
 * val_rows, validation (how the validation rows were chosen). */
int ct_train_log_write(hid_t file, const ct_train_log *log, const char *validation);
/* Group /cv: float64 datasets acc, auc (per fold), int32 best_epoch, attributes folds,
 * acc_mean, acc_sd, auc_mean, auc_sd. */
int ct_cv_write(hid_t file, const ct_cv_result *r);

/* ---- the loss, exposed for gradient checks ----
 * Parameters in double. logreg: w1 d x k, b1 k; mlp: w1 d x h, b1 h, w2 h x k, b2 k. */
typedef struct ct_params {
	ct_head_kind kind;
	int d, h, k;
	size_t count;     /* total values, contiguous in mem: w1, b1, w2, b2 */
	double *mem, *w1, *b1, *w2, *b2;
} ct_params;

int ct_params_alloc(ct_params *p, ct_head_kind kind, int d, int h, int k);
void ct_params_free(ct_params *p);

/* Scratch values ct_head_loss needs for `rows` rows. */
size_t ct_head_loss_scratch(const ct_params *p, int64_t rows);

/* L = (1/rows) sum_i cw[y_i] CE_i + (wd / 2) (||W1||^2 + ||W2||^2) on standardised rows x
 * (rows x d float). cw NULL = all 1. mask (MLP, may be NULL): rows x h multipliers applied
 * to the hidden activations (0 or 1 / (1 - rate) for dropout). When g is non-NULL it
 * receives dL/dparams. scratch: ct_head_loss_scratch values. Returns L. */
double ct_head_loss(const ct_params *p, const float *x, const int32_t *y, int64_t rows, const double *cw,
		    double wd, const float *mask, ct_params *g, double *scratch);

#endif
