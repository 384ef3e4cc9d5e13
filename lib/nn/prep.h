/* prep.h - Keras preprocess_input on uint8 pixels, the network's first step. */
#ifndef CT_NN_PREP_H
#define CT_NN_PREP_H

#include "nn/graph.h"

#include <stdint.h>

/* x[i] = preprocess(p[i]) for numel values of c channels (keras-applications
 * imagenet_utils), in float32 step by step as numpy does it: 'tf' x/127.5 - 1; 'caffe'
 * RGB->BGR then minus the BGR ImageNet mean; 'torch' x/255, minus the RGB mean, over the
 * RGB std ('caffe' and 'torch' are defined for RGB only: other c are taken as 'none'). */
void ct_prep_u8(ct_prep prep, int c, const uint8_t *p, int64_t numel, float *x);

#endif
