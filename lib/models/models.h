/* models.h - the architectures the engine knows: one file per network builds its graph.
 * To add one: write lib/models/<arch>.c with a ct_<arch>_build(), list it in models.c. */
#ifndef CT_MODELS_H
#define CT_MODELS_H

#include "nn/graph.h"

/* Build the notop graph of a named architecture ("inception_v3", "mobilenet_v2"); the
 * graph carries its input size, preprocessing and default feature layer. NULL on error. */
ct_graph *ct_model_build(const char *arch);
/* NULL-terminated list of architecture names. */
const char *const *ct_model_names(void);

/* keras-applications InceptionV3(include_top=False), 299x299x3, Keras 2.0 layer numbering
 * (conv2d_1 .. conv2d_94) as in the nsfwjs TF.js export. */
ct_graph *ct_inception_v3_build(void);
/* keras-applications MobileNetV2(alpha=1.0, include_top=False), 224x224x3. */
ct_graph *ct_mobilenet_v2_build(void);

#endif
