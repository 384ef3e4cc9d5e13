/* ft_apply.h - using the fine-tuned layers a model file stores (/finetune, finetune.h):
 * reading its sources, the pretrained weights they were fine-tuned from (checked against the
 * model's base_weights_sha256), the features each source gives from a cut file (its cut
 * activations) or from plain images (the backbone up to the cut with the pretrained weights,
 * then the stored layers), all sources side by side for the head (ct-score MODEL IN_1 [IN_2
 * ...]), and the backbone's weights with the stored layers merged in (ct-weights export-onnx
 * --model). ct_ft_apply_file (finetune.h) is implemented here too. */
#ifndef CT_FT_APPLY_H
#define CT_FT_APPLY_H

#include "data/features.h"
#include "io/h5.h"
#include "nn/weights.h"

struct ct_actfile;

/* One fine-tuned source of a model (/finetune/<i>): a backbone above its cut. */
typedef struct ct_ft_part {
	char *backbone, *cut, *output;  /* attributes backbone, cut_layer, output_layer */
	char *base_sha256;              /* of the pretrained weights it started from */
	ct_weights w;                   /* the layers above the cut, Keras layout */
} ct_ft_part;

/* 1 when the model file has fine-tuned layers (group /finetune), 0 when not. */
int ct_ft_present(hid_t model_file);
/* Read every source of /finetune of an open model file (model_path names it in errors), in the
 * model's source order. Returns 1 with *parts (malloc'd, *n of them), 0 when the model has no
 * /finetune, -1 on a malformed group. */
int ct_ft_parts_read(hid_t model_file, const char *model_path, ct_ft_part **parts, int *n);
void ct_ft_parts_free(ct_ft_part *parts, int n);
/* The same for a model of one source: 1 and fills p, 0 without /finetune, -1 on a malformed
 * group or a model that fine-tunes several backbones. */
int ct_ft_part_read(hid_t model_file, const char *model_path, ct_ft_part *p);
void ct_ft_part_free(ct_ft_part *p);

/* Load the pretrained weights of p's backbone: weights_path, or NULL for NAME.h5 on the weights
 * search path (nn/weights_path.h); their sha256 must be p's base_weights_sha256. */
int ct_ft_base_weights(const ct_ft_part *p, const char *model_path, const char *weights_path, ct_weights *w);
/* Replace, in w (the backbone's weights), every tensor of the layers p stores by p's value. */
int ct_ft_merge(const ct_ft_part *p, ct_weights *w);

/* The pretrained weights of one source's backbone (weights_path, or the search path; sha256
 * checked) with its fine-tuned layers merged in: the weights ct-weights export-onnx --model
 * exports. The source: source (1-based, in the model's source order), else the one source of
 * backbone (a name), else the model's only source; *source receives the one chosen, *nsources
 * the model's count. A model of several sources without a choice, a source out of range, or a
 * backbone that no source (or more than one) fine-tunes is a usage error (core/error.h) listing
 * the sources. p receives that fine-tuned part, model_sha256 the model file's sha256. */
int ct_ft_merged_weights(const char *model_path, const char *weights_path, int *source, int *nsources,
			 const char *backbone, ct_ft_part *p, ct_weights *w, char model_sha256[65]);

typedef struct ct_ft_images_opts {
	const char *weights;  /* pretrained weights: FILE[,FILE...], item i for source i (an empty
			       * item or NULL: NAME.h5 on the search path) */
	int batch;            /* images per forward pass (0: 16) */
} ct_ft_images_opts;

/* ---- per source ---- */

/* The pooled features (n x d floats, malloc'd into *x; *d) source p gives from the cut
 * activations of an open cut file a (read from cut_path; ct-features --cut at p's cut of p's
 * backbone, else an error naming the file). */
int ct_ft_part_cut_features(const ct_ft_part *p, const char *model_path, struct ct_actfile *a, const char *cut_path,
			    float **x, int64_t *d);
/* The same from an open images file (ct-convert): the backbone from the images to the cut with
 * the pretrained weights (weights_path or the search path, sha256-checked: base_sha receives
 * it), then the stored layers and average pooling. Images must be of the backbone's input
 * size; batch images per forward pass. */
int ct_ft_part_images_features(const ct_ft_part *p, const char *model_path, ct_images *im, const char *images_path,
			       const char *weights_path, int batch, float **x, int64_t *d, char base_sha[65]);

/* ---- every source ---- */

/* The features a fine-tuned model's head reads, from its inputs (ct-score MODEL IN_1 [IN_2 ...]):
 * one input per source of the model, in its source order, each a cut file of that source's cut
 * (ct-features --cut) or an images file (ct-convert, prepared like the model's training images:
 * model_prov is the model's provenance, data/preprocessing.h). The sources' pooled features
 * are put side by side in source order, one block "BACKBONE/OUTPUT/avg" each with consecutive
 * starts, as ct-finetune --finetune laid them out. Every input must hold the samples of the
 * first (names and labels, in order); f gets the first input's samples and provenance. A
 * wrong number of inputs, or --weights / --batch (o) without an images input, is a usage error
 * (core/error.h ct_error_usage). Errors name the file. */
int ct_ft_inputs_features(hid_t model_file, const char *model_path, char *const *model_prov, int64_t nmodel_prov,
			  char *const *inputs, int ninputs, const ct_ft_images_opts *o, ct_features *f);

/* ct_ft_inputs_features of one images file (a model of one source). */
int ct_ft_images_features(hid_t model_file, const char *model_path, char *const *model_prov, int64_t nmodel_prov,
			  const char *images_path, const ct_ft_images_opts *o, ct_features *f);

#endif
