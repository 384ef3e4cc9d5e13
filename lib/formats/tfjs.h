/* tfjs.h - import a TensorFlow.js layers model (model.json + binary shards) as Keras-layout weights.
 *
 * model.json (tfjs-converter "layers-model" format) holds `modelTopology` (Keras'
 * own model JSON, either {model_config: {...}} or the {class_name, config} object
 * itself) and `weightsManifest`: groups of {paths: [shard files], weights:
 * [{name, shape, dtype, quantization?}]}. A group's shards, concatenated, hold its
 * weights back to back in manifest order, little-endian. Quantised weights are
 * stored as quantization.dtype and dequantised as tfjs does: uint8/uint16 q ->
 * q * scale + min (in double, rounded to float32), float16 -> float32 exactly.
 *
 * The result lists every layer of the topology in topology order (nested models
 * flattened), each with its weights in Keras order (kernel/depthwise_kernel before
 * bias; gamma, beta, moving_mean, moving_variance) and Keras names: the tfjs name
 * "conv2d_1/kernel" becomes "conv2d_1/kernel:0". */
#ifndef CT_TFJS_H
#define CT_TFJS_H

#include "nn/weights.h"

/* Read model.json at `path` and its shards (paths relative to its folder). */
int ct_tfjs_import(const char *path, ct_weights *out);

/* The same from model.json text already in memory; shards are read from `dir`. */
int ct_tfjs_import_json(const char *json, size_t len, const char *dir, const char *what, ct_weights *out);

/* Dequantise n stored values of type `qdtype` ("uint8", "uint16", "float16", or
 * "float32" for none) into float32, with scale/min for the integer types. */
int ct_tfjs_dequantise(const void *src, int64_t n, const char *qdtype, double scale, double min, float *dst);

/* IEEE binary16 bits to float32 (exact, subnormals, infinities and NaN kept). */
float ct_half_to_float(uint16_t h);

#endif
