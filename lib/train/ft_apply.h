/* ft_apply.h - using the fine-tuned layers a model file stores (/finetune, finetune.h):
 * reading them, the pretrained weights they were fine-tuned from (checked against the model's
 * base_weights_sha256), the features they give from plain images (the backbone up to the cut
 * with the pretrained weights, then the stored layers: ct-score MODEL IMAGES.h5), and the
 * backbone's weights with the stored layers merged in (ct-weights export-onnx --model).
 * The features from cut activations (ct-score MODEL CUT.h5) are ct_ft_apply_file
 * (finetune.h), implemented here too. */
#ifndef CT_FT_APPLY_H
#define CT_FT_APPLY_H

#include "data/features.h"
#include "io/h5.h"
#include "nn/weights.h"

/* The fine-tuned part of a model of one backbone (/finetune/0). */
typedef struct ct_ft_part {
	char *backbone, *cut, *output;  /* attributes backbone, cut_layer, output_layer */
	char *base_sha256;              /* of the pretrained weights it started from */
	ct_weights w;                   /* the layers above the cut, Keras layout */
} ct_ft_part;

/* 1 when the model file has fine-tuned layers (group /finetune), 0 when not. */
int ct_ft_present(hid_t model_file);
/* Read /finetune of an open model file (model_path names it in errors). Returns 1 and fills
 * p, 0 when the model has no /finetune, -1 on a malformed group or a model that fine-tunes
 * several backbones (applying takes one). */
int ct_ft_part_read(hid_t model_file, const char *model_path, ct_ft_part *p);
void ct_ft_part_free(ct_ft_part *p);

/* Load the pretrained weights of p's backbone: weights_path, or NULL for NAME.h5 on the weights
 * search path (nn/weights_path.h); their sha256 must be p's base_weights_sha256. */
int ct_ft_base_weights(const ct_ft_part *p, const char *model_path, const char *weights_path, ct_weights *w);
/* Replace, in w (the backbone's weights), every tensor of the layers p stores by p's value. */
int ct_ft_merge(const ct_ft_part *p, ct_weights *w);

/* The pretrained weights of the model file's backbone (weights_path, or the search path; sha256
 * checked) with its fine-tuned layers merged in: the weights ct-weights export-onnx --model
 * exports. p receives the model's fine-tuned part, model_sha256 the model file's sha256. */
int ct_ft_merged_weights(const char *model_path, const char *weights_path, ct_ft_part *p, ct_weights *w,
			 char model_sha256[65]);

typedef struct ct_ft_images_opts {
	const char *weights;  /* pretrained weights (NULL: the search path) */
	int batch;            /* images per forward pass (0: 16) */
} ct_ft_images_opts;

/* Features of every image of an images file (ct-convert) through the fine-tuned model: the
 * backbone from the images to the cut with the pretrained weights (the inference engine, as
 * ct-features --cut), then the stored layers and average pooling, as ct_ft_apply_file computes
 * them from a cut file. Images must be of the backbone's input size and prepared like the
 * model's training images (model_prov: the model's provenance; data/preprocessing.h). f gets
 * the samples, provenance and features (one block "BACKBONE/OUTPUT/avg"). Errors name the file. */
int ct_ft_images_features(hid_t model_file, const char *model_path, char *const *model_prov, int64_t nmodel_prov,
			  const char *images_path, const ct_ft_images_opts *o, ct_features *f);

#endif
