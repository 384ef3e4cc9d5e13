/* finetune.h - fine-tuning the backbone layers above a cut jointly with the classifier head
 * (ct-finetune --finetune), and applying a fine-tuned model to cut activations (ct-score).
 *
 * Each source is one backbone: its cut activations (ct-features --cut) and the sub-network
 * from the cut to the backbone's feature layer (nn/backward.h), average pooled. The pooled
 * outputs of all sources, side by side, are the head's features. Training:
 *   1. the head alone on the pretrained features (ct_train_head: its own early stopping),
 *      which fixes the standardisation (mean, sd of the train rows' pretrained features);
 *   2. joint epochs: Adam on the head (head_lr) and on the layers above the cut (backbone_lr),
 *      L2 weight decay on the head's matrices (weight_decay) and on the backbone kernels
 *      (backbone_wd), BN statistics frozen, head dropout as in train.h; after each epoch the
 *      validation loss decides early stopping, and the best epoch's weights (epoch 0 = the
 *      head-only model) are restored.
 * Bit-reproducible for a seed at any thread count (train.h, backward.h). */
#ifndef CT_FINETUNE_H
#define CT_FINETUNE_H

#include "nn/backward.h"
#include "train/train.h"

typedef struct ct_ft_opts {
	ct_train_opts head;  /* head, lr, weight decay, dropout, batch, epochs, patience, seed */
	double backbone_lr;  /* Adam learning rate of the layers above the cut */
	double backbone_wd;  /* L2 penalty (wd / 2) ||K||^2 on their kernels */
	double head_lr;	     /* Adam learning rate of the head in the joint phase (Keras' recipe:
			      * once the head has converged, everything trains at a low rate) */
	int verbose;	     /* per-epoch lines on stderr */
} ct_ft_opts;

typedef struct ct_ft_source {
	ct_subnet *net;	 /* cut -> feature layer, CT_POOL_AVG */
	const float *x;	 /* activations of the rows, row-major n x per (row i = sample i) */
	int64_t per;	 /* floats per row */
	int d;		 /* features it gives */
} ct_ft_source;

typedef struct ct_ft_log {
	ct_train_log head;   /* step 1 */
	ct_train_log joint;  /* step 2: best_epoch 0 = the head-only model was kept;
			      * train_loss = mean mini-batch loss of the epoch (with dropout) */
	double seconds_per_epoch;
} ct_ft_log;

/* Train; rows with role CT_ROLE_TRAIN / CT_ROLE_VAL as ct_train_head. On success the
 * sources' sub-networks hold the best epoch's weights and *out the head. */
int ct_finetune(ct_ft_source *src, int nsrc, const int32_t *y, int64_t n, int k, const uint8_t *role,
		const ct_ft_opts *o, ct_head *out, ct_ft_log *log);
void ct_ft_log_free(ct_ft_log *log);

/* Pooled features of rows [0, n) of every source, side by side (n x sum d). */
int ct_ft_features(ct_ft_source *src, int nsrc, int64_t n, int batch, float *feats);

/* The same for rows idx[0..m) (m x sum d). */
int ct_ft_features_rows(ct_ft_source *src, int nsrc, const int64_t *idx, int64_t m, int batch, float *feats);

/* Model file part: group /finetune (attribute sources) with one subgroup per source
 * "/finetune/<i>": attributes backbone, cut_layer, output_layer, base_weights_sha256 and the
 * fine-tuned layers in the Keras weights layout (ct_weights_write). */
int ct_ft_write(hid_t file, ct_ft_source *src, int nsrc, char *const *backbones,
		char *const *base_sha);

/* If the model file has /finetune, replace the features of f (read from features_path, which
 * must hold the cut activations of the model's single source) by the fine-tuned layers'
 * pooled outputs. Returns 0 (also when the model has no /finetune) or -1. */
int ct_ft_apply(const char *model_path, const char *features_path, ct_features *f);
/* The same on an open model file (train/modelfile.h ct_model_apply_finetune); model_path names
 * it in errors. */
int ct_ft_apply_file(hid_t model_file, const char *model_path, const char *features_path, ct_features *f);

/* dL/dx of the rows of the last ct_head_loss call made with gradients (rows x d), from the
 * same scratch: the head's input gradient that fine-tuning sends down the backbone. */
void ct_head_loss_dx(const ct_params *p, int64_t rows, const double *scratch, float *dx);
/* The logits (rows x k) of that call, in the same scratch. */
const double *ct_head_loss_z(const ct_params *p, int64_t rows, const double *scratch);

#endif
