/* keras_json.h - build a layer graph from a Keras model JSON (model.to_json(), or the
 * modelTopology of a TF.js model.json): lets the engine run any network made of the
 * supported layers, and checks our hand-written model files against Keras' own config. */
#ifndef CT_KERAS_JSON_H
#define CT_KERAS_JSON_H

#include "nn/graph.h"
#include <stddef.h>

/* Accepts {"class_name": "Model"|"Functional", "config": {...}}, {"model_config": ...} or
 * {"modelTopology": ...}. Layers must be listed in topological order (Keras does). The
 * graph's default output is the first of config.output_layers; preprocessing is 'tf'.
 * Flatten and Dropout become aliases of their input. NULL on error. */
ct_graph *ct_graph_from_keras_json(const char *text, size_t len, const char *what);
ct_graph *ct_graph_from_keras_json_file(const char *path);

#endif
