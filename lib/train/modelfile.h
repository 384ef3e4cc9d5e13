/* modelfile.h - the model file (kind "model", docs/formats.md): the one module that creates,
 * writes, commits, opens, validates and reads it. Its groups are written by their owners
 * (/head and /blocks: head.h; /training and /cv: train.h; /finetune: finetune.h) and put
 * together only here; a tool never writes a model attribute itself. A model file is opened
 * once: the head, provenance and training curves are read, and the file stays open for the
 * fine-tuned layers, so "-" (standard input) works like a named file. */
#ifndef CT_MODELFILE_H
#define CT_MODELFILE_H

#include "data/dataset.h"
#include "io/h5.h"
#include "train/ensemble.h"
#include "train/finetune.h"
#include "train/ft_apply.h"
#include "train/head.h"
#include "train/train.h"

/* Training curves as read back from a model file (NULL series when absent). */
typedef struct ct_curves {
	int epochs;
	double *train_loss, *val_loss, *train_acc, *val_acc;
	int best_epoch;        /* 1-based; 0 when unknown */
} ct_curves;

/* Read the training curves of an open model file (group /training, or Keras' /history or
 * /curves); returns 1 and fills c when present, 0 when the file has none, -1 on a malformed
 * curve group. */
int ct_curves_read(hid_t model_file, ct_curves *c);
void ct_curves_free(ct_curves *c);

/* ---- writing ---- */

/* What a trained model file holds; NULL / 0 for the parts a run did not make. */
typedef struct ct_model_parts {
	const ct_head *head;          /* with class names and blocks */
	const ct_train_log *log;      /* the kept run's curves */
	const char *validation;       /* how the validation rows were chosen (/training attribute) */
	const ct_cv_result *cv;       /* --cv */
	ct_ft_source *ft;             /* --finetune: one source per backbone */
	int nft;
	char *const *ft_backbones, *const *ft_base_sha;
	int nheads;                   /* --ensemble K: heads (K > 1 writes /ensemble), 0 or 1: head alone */
	const ct_head *heads;         /* K heads (heads[0] as head); K > 1 only */
	const uint64_t *seeds;        /* their seeds */
	const ct_train_log *logs;     /* their curves (logs[0] as log) */
} ct_model_parts;

/* Create the output (io/h5.h ct_h5_create: claimed, temporary until committed). */
int ct_model_create(ct_h5 *h, const char *path, int force);
/* Stamp the file (kind "model", run, the input's provenance) and write every part. */
int ct_model_write(ct_h5 *h, const ct_run *run, char *const *upstream, int64_t nup, const ct_model_parts *p);
/* Commit (rename into place) or abandon: ct_h5_commit / ct_h5_abort. */
int ct_model_commit(ct_h5 *h);
void ct_model_abort(ct_h5 *h);

/* ---- reading ---- */

typedef struct ct_model {
	ct_h5 h;               /* open until ct_model_close */
	ct_head head;          /* head 0 (/head) */
	int nheads;            /* 1, or K of a seed ensemble (/ensemble: train/ensemble.h) */
	ct_head *members;      /* heads 1..K-1 of an ensemble, else NULL */
	char **prov;           /* provenance lines */
	int64_t nprov;
	ct_curves curves;
	int has_curves;
} ct_model;

/* Open and validate a model file: kind "model", the head (every head of an ensemble), its
 * provenance and curves. Errors name the file. */
int ct_model_open(ct_model *m, const char *path);
/* The model's class probabilities (n x nclasses) of feature rows that passed ct_head_check: the
 * head's, or the mean of an ensemble's heads (ct_heads_predict). */
int ct_model_predict(const ct_model *m, const float *x, int64_t n, float *probs);
/* A reader that uses the head in a way other than its probabilities (the gradients of ct-explain)
 * refuses an ensemble: -1 with "'PATH': ensemble of K heads: not supported by WHO", else 0. */
int ct_model_single_head(const ct_model *m, const char *who);
/* If the model has fine-tuned layers (/finetune), replace the features of f (read from
 * features_path, the cut activations of the model's single source) by their pooled outputs.
 * Returns 0 (also without /finetune) or -1. */
int ct_model_apply_finetune(ct_model *m, const char *features_path, ct_features *f);
/* 1 when the model has fine-tuned layers (/finetune), else 0. */
int ct_model_finetuned(const ct_model *m);
/* A fine-tuned model's features of every image of an images file (train/ft_apply.h
 * ct_ft_images_features): the backbone to the cut with the pretrained weights, then the
 * stored layers. f receives the images' samples and provenance. */
int ct_model_images_features(ct_model *m, const char *images_path, const ct_ft_images_opts *o, ct_features *f);
/* A fine-tuned model's features from its inputs, one per source in the model's order, each a
 * cut file or an images file (train/ft_apply.h ct_ft_inputs_features): the sources' pooled
 * features side by side. f receives the first input's samples and provenance. */
int ct_model_inputs_features(ct_model *m, char *const *inputs, int ninputs, const ct_ft_images_opts *o,
			     ct_features *f);
/* Read the fine-tuned part of a model of one source (train/ft_apply.h ct_ft_part_read): 1, 0
 * without, -1. */
int ct_model_ft_part(ct_model *m, ct_ft_part *p);
/* Close and free; safe on a zeroed struct and after a failed open. */
void ct_model_close(ct_model *m);

#endif
