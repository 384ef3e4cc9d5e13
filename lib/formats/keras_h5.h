/* keras_h5.h - Keras HDF5 weight files: the layout of ct_weights on disk.
 *
 * A Keras HDF5 weight file (keras-applications' *_notop.h5, model.save_weights)
 * holds, on the root group or on /model_weights, the attribute `layer_names`
 * (strings, in model order); each layer group <L> has the attribute
 * `weight_names` (strings such as "conv2d_1/kernel:0") and a dataset at each of
 * those paths relative to the group. Kernels are stored HWIO (kh, kw, cin, cout),
 * depthwise kernels (kh, kw, cin, multiplier), dense kernels (in, out); BN tensors
 * are gamma, beta, moving_mean, moving_variance (gamma/beta may be absent when
 * scale/center are off). Layers without weights are listed with no weight names. */
#ifndef CT_KERAS_H5_H
#define CT_KERAS_H5_H

#include "nn/weights.h"

#include <hdf5.h>

/* Load a Keras-layout HDF5 weight file (float16/32/64 datasets converted to F32). */
int ct_weights_load(ct_weights *w, const char *path);
/* Write one in the same layout (layer_names on the root, fixed-length strings). */
int ct_weights_save(const ct_weights *w, const char *path);

/* The same layout inside an open file or group loc (attribute layer_names, one group per
 * layer): a model file keeps fine-tuned layers this way. Read with ct_weights_read. */
int ct_weights_write(hid_t loc, const ct_weights *w);
int ct_weights_read(hid_t loc, ct_weights *w);

#endif
