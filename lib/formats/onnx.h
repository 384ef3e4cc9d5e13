/* onnx.h - export a graph with its weights as an ONNX model (protobuf written by hand).
 *
 * The model (IR version 7, default-domain opset 13) is the notop network up to the chosen
 * layers, each pooled as ct-features pools it, so that ONNX Runtime (or any ONNX consumer)
 * computes the same feature vectors as ct_net_new(g, w, outputs, pool) + ct_net_run:
 *
 *   input   "images": N x H x W x C float32, NHWC, already preprocessed as the graph says
 *           (Keras preprocess_input: 'tf' x / 127.5 - 1 for InceptionV3, MobileNetV2,
 *           Xception; 'caffe' for ResNet50, VGG16; 'torch' for DenseNet121; the model's
 *           metadata ctfuse.preprocessing says which); a Transpose turns it into NCHW, the
 *           layout of every op inside.
 *   outputs "<layer>/avg" (GlobalAveragePool), "<layer>/max" (GlobalMaxPool): N x C;
 *           "<layer>/flat" (pool none): N x (H*W*C), flattened in NHWC order as ct-features does.
 *   N is the fixed batch size, or the symbolic dimension "N" (batch 0).
 *
 * Op mapping (Keras layer -> ONNX): Conv2D -> Conv (kernels HWIO -> OIHW, Keras/TensorFlow
 * 'same' padding written out as explicit pads from the graph), DepthwiseConv2D -> Conv with
 * group = C, SeparableConv2D -> depthwise Conv + 1x1 Conv, BatchNormalization -> BatchNormalization (not folded: the runtime does its own
 * folding, which keeps the check independent of ours), ReLU -> Relu, ReLU(6) -> Clip(0, 6),
 * MaxPooling2D -> MaxPool, AveragePooling2D -> AveragePool (count_include_pad = 0: Keras
 * 'same' averages over the non-padded cells), ZeroPadding2D -> Pad, Concatenate -> Concat
 * (axis 1), Add -> Add / Sum, GlobalAverage/MaxPooling2D -> GlobalAveragePool/GlobalMaxPool,
 * Dense -> (Transpose to NHWC,) Flatten, Gemm, activation, Reshape to N x C x 1 x 1,
 * Softmax -> Softmax (axis 1). Value names are the Keras layer names; initializers are
 * "<layer>/<Keras weight>" (e.g. "conv2d_1/kernel", in ONNX layout). Only the layers the outputs need are written.
 * The model also carries metadata_props: ctfuse.arch, ctfuse.outputs, ctfuse.pool,
 * ctfuse.preprocessing, ctfuse.weights_sha256 (and ctfuse.finetune_model_sha256, ctfuse.finetune_source when set). */
#ifndef CT_ONNX_H
#define CT_ONNX_H

#include "nn/graph.h"
#include "nn/net.h"
#include "nn/weights.h"

#include <stddef.h>
#include <stdint.h>

#define CT_ONNX_IR_VERSION 7
#define CT_ONNX_OPSET 13

typedef struct ct_onnx_opts {
	const char *outputs; /* comma-separated layer names; NULL or "": the graph's default */
	ct_pool pool;	     /* CT_POOL_AVG, CT_POOL_MAX or CT_POOL_NONE (flattened) */
	int batch;	     /* fixed batch size >= 1, or 0 for a symbolic batch dimension */
	const char *finetune_model_sha256; /* set: the weights are those of weights_sha256 with the
					    * fine-tuned layers of this model file merged in (metadata
					    * ctfuse.finetune_model_sha256) */
	const char *finetune_source;	   /* set: "K/N", the model's source merged in (metadata
					    * ctfuse.finetune_source) */
} ct_onnx_opts;

/* Encode the model in memory: *buf (malloc'd, the caller frees it) of *len bytes. The
 * weights are checked against the graph first (ct_graph_check_weights). 0 or -1. */
int ct_onnx_encode(const ct_graph *g, const ct_weights *w, const ct_onnx_opts *o, uint8_t **buf,
		   size_t *len);

/* Encode and write to path via a temporary file and rename(2): a failure leaves no partial
 * file and any old file intact. path "-" writes to standard output. 0 or -1. */
int ct_onnx_save(const ct_graph *g, const ct_weights *w, const ct_onnx_opts *o, const char *path);

#endif
