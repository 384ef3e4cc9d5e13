/* weights.h - named weight tensors grouped by layer, as Keras keeps them (in memory).
 *
 * A layer (e.g. "conv2d_1") holds its tensors in Keras order under their full weight names
 * ("conv2d_1/kernel:0"), in Keras shapes: kernels HWIO (kh, kw, cin, cout), depthwise kernels
 * (kh, kw, cin, multiplier), dense kernels (in, out); BN tensors gamma, beta, moving_mean,
 * moving_variance (gamma/beta may be absent when scale/center are off). Layers without
 * weights have no tensors. The files (Keras HDF5) are read and written by formats/keras_h5.h. */
#ifndef CT_WEIGHTS_H
#define CT_WEIGHTS_H

#include "core/tensor.h"

typedef struct ct_wtensor {
	char *name;    /* full weight name as stored, e.g. "conv2d_1/kernel:0" */
	ct_tensor t;   /* CT_F32, Keras shape */
} ct_wtensor;

typedef struct ct_wlayer {
	char *name;    /* layer name, e.g. "conv2d_1" or "block_1_expand" */
	int n;
	ct_wtensor *w; /* in Keras order */
} ct_wlayer;

typedef struct ct_weights {
	int nlayers;
	ct_wlayer *layers;
	char sha256[65]; /* of the file loaded ("" when built in memory) */
} ct_weights;

/* Find a layer by name; NULL if absent. */
const ct_wlayer *ct_weights_find(const ct_weights *w, const char *layer);
/* Find a layer's tensor by its short name ("kernel", "bias", "gamma", "beta",
 * "moving_mean", "moving_variance", "depthwise_kernel"): the part of the weight
 * name after the last '/' and before ':'. NULL if absent. */
const ct_wtensor *ct_wlayer_get(const ct_wlayer *l, const char *short_name);
/* That short name of a full weight name: "block_1/depthwise_kernel:0" -> "depthwise_kernel",
 * cut to fit size bytes with the terminating NUL. */
void ct_weight_short_name(const char *full, char *out, size_t size);

/* Building in memory (importers, tests). Returns the new layer / tensor, NULL on error.
 * The arrays grow by realloc: a returned pointer is valid until the next add to the
 * same ct_weights (layer) or ct_wlayer (tensor). Start from a zeroed ct_weights. */
ct_wlayer *ct_weights_add_layer(ct_weights *w, const char *name);
ct_wtensor *ct_wlayer_add(ct_wlayer *l, const char *weight_name, int ndim, const int64_t *shape);

void ct_weights_free(ct_weights *w);

#endif
