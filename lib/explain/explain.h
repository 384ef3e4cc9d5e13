/* explain.h - Grad-CAM of a trained model (ct-finetune) on images: the backbones of the model's
 * feature blocks are run as ct-features runs them, but the activation maps at the cut are kept;
 * the pooled features go through the fusion and the head as in ct-fuse and ct-score, and the
 * gradient of the positive class's log-odds flows back to each block's map (gradcam.h).
 *
 * Score explained: the log-odds of the positive class, z_pos - z_neg, whose softmax is the
 * probability ct-score reports (a two-class head's single logit is defined only up to a shift).
 * Fused models: each block's heat map is upsampled to the image, normalised to sum 1 (a block
 * without positive evidence stays 0), and the combined map is their mean over the blocks with
 * heat; so each block (backbone, layer) weighs the same, and the combined lung-field share is
 * the mean of the blocks' shares. Per-block maps are kept too. */
#ifndef CT_EXPLAIN_H
#define CT_EXPLAIN_H

#include "nn/net.h"
#include "train/head.h"

/* How ct-fuse transformed the pooled features before the head saw them. */
typedef struct ct_explain_fusion {
	int l2;               /* ct-fuse --l2: each block scaled to norm `scale` */
	double scale;         /* the (uniform) --weights value, 1 when none */
} ct_explain_fusion;

/* Read the fusion from a model's provenance chain (the ct-fuse entries' params). Fusions
 * ct-explain cannot reproduce from the model file alone are an error: --standardize (the
 * statistics are in the fused features file, not in the model) and unequal --weights. */
int ct_explain_fusion_read(char *const *prov, int64_t nprov, ct_explain_fusion *f);

typedef struct ct_explain_bb {
	char *name;           /* backbone, as in the blocks */
	const ct_graph *g;
	ct_net *net;          /* outputs: the layers of its blocks, raw (no pooling) */
} ct_explain_bb;

typedef struct ct_explain_blk {
	int bb, out;          /* backbone index, output index in its net */
	ct_pool pool;         /* avg or max also for the lung-pooled blocks */
	int lung;             /* pooled over the lung field (block pool lung-avg / lung-max) */
	int h, w, c;          /* the cut's map */
} ct_explain_blk;

typedef struct ct_explainer {
	const ct_head *head;
	int positive, negative;
	ct_explain_fusion fusion;
	int nbb;
	ct_explain_bb *bb;
	ct_explain_blk *blk;  /* head->nblocks */
	int resize;           /* resize images of another size to a backbone's input (else refuse) */
} ct_explainer;

/* The model must have two classes; positive is the class explained. */
int ct_explainer_init(ct_explainer *x, const ct_head *m, int positive, const ct_explain_fusion *f);
/* Names of the backbones the model's blocks need, in block order, each once (valid while
 * the head lives); *n receives the count. Blocks of backbone "user" (features from another
 * program) cannot be explained: an error. */
int ct_explainer_backbones(const ct_explainer *x, const char ***names, int *n);
/* Bind a backbone's graph (must outlive x) and weights (may be freed after the call); the
 * weights' sha256 must match the blocks' weights_sha256 when both are known. */
int ct_explainer_add(ct_explainer *x, const char *backbone, const ct_graph *g, const ct_weights *w);
void ct_explainer_free(ct_explainer *x);

/* One image's explanation. */
typedef struct ct_cam {
	int H, W;             /* the image's size */
	double p;             /* probability of the positive class */
	double score;         /* its log-odds z_pos - z_neg */
	float *heat;          /* H x W combined map (sum 1, or all 0 when no block has heat) */
	float *block_heat;    /* nblocks x H x W, each sum 1 or all 0 */
	double *block_mass;   /* nblocks: total heat at the cut before normalisation */
	int lung_fallback;    /* lung-pooled blocks whose mask was empty (pooled over the whole map) */
	/* with `debug` (for tests and --dump): */
	float *features;      /* d_in: the row the head saw (after fusion) */
	double *gpooled;      /* d_in: d score / d pooled features (before fusion) */
	float *act;           /* the blocks' maps, h*w*c each, concatenated in block order */
	float *cut;           /* the blocks' heat at the cut, h*w each, concatenated */
} ct_cam;

int ct_cam_alloc(ct_cam *r, const ct_explainer *x, int H, int W, int debug);
void ct_cam_free(ct_cam *r);
/* Sizes of the debug arrays act and cut (floats). */
int64_t ct_explainer_act_size(const ct_explainer *x);
int64_t ct_explainer_cut_size(const ct_explainer *x);

/* Whether backbone graph g reads the images at alt's size (alt_h x alt_w; 0: no alt) rather
 * than rows' (h x w): alt holds its input size and rows does not. */
int ct_explain_reads_alt(const ct_graph *g, int64_t h, int64_t w, int64_t alt_h, int64_t alt_w);
/* Which images the blocks pooled over the lung field read (after ct_explainer_add): 1 when one
 * reads rows' (h x w), 2 when one reads alt's, both or'ed; 0 when no block pools so. */
int ct_explainer_lung(const ct_explainer *x, int64_t h, int64_t w, int64_t alt_h, int64_t alt_w);

/* Explain n images (rows: n x H x W x C, uint8 0..255 or float 0..1, C 1 or 3, as in an images
 * file) into cams[0..n), allocated by the caller with ct_cam_alloc for this H x W. alt (may be
 * NULL) holds the same n images at another size: a backbone whose input is alt's size takes
 * its pixels from alt, as when its features were extracted from an images file of that size;
 * the heat is always mapped onto rows' size. mask and alt_mask (n x H x W [x 1] uint8, may be
 * NULL) are the lung fields of rows and alt: a lung-pooled block takes the one of the images
 * its backbone reads (an error when it is NULL). Results do not depend on the thread count. */
int ct_explain_batch(ct_explainer *x, const ct_tensor *rows, const ct_tensor *alt, const ct_tensor *mask,
		     const ct_tensor *alt_mask, ct_cam *cams);

#endif
