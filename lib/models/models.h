/* models.h - the architectures the engine knows: one file per network builds its graph.
 * To add one: write lib/models/<arch>.c with a ct_<arch>_build(), list it in models.c. */
#ifndef CT_MODELS_H
#define CT_MODELS_H

#include "nn/graph.h"

/* Build the notop graph of a named architecture (ct_model_names()); the
 * graph carries its input size, preprocessing and default feature layer. NULL on error. */
ct_graph *ct_model_build(const char *arch);
/* NULL-terminated list of architecture names. */
const char *const *ct_model_names(void);

/* keras-applications InceptionV3(include_top=False), 299x299x3, Keras 2.0 layer numbering
 * (conv2d_1 .. conv2d_94) as in the nsfwjs TF.js export. */
ct_graph *ct_inception_v3_build(void);
/* keras-applications MobileNetV2(alpha=1.0, include_top=False), 224x224x3. */
ct_graph *ct_mobilenet_v2_build(void);
/* ResNet50(include_top=False), 224x224x3, 'caffe' preprocessing, tf.keras / resnet_common
 * naming (conv1_conv, conv2_block1_1_conv, ...) of the official notop file. */
ct_graph *ct_resnet50_build(void);
/* VGG16(include_top=False), 224x224x3, 'caffe' preprocessing, block1_conv1 .. block5_pool. */
ct_graph *ct_vgg16_build(void);
/* DenseNet121(include_top=False), 224x224x3, 'torch' preprocessing (conv1/conv, ...). */
ct_graph *ct_densenet121_build(void);
/* Xception(include_top=False), 299x299x3, 'tf' preprocessing, SeparableConv2D layers. */
ct_graph *ct_xception_build(void);

#endif
