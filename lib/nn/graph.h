/* graph.h - a CNN as data: Keras layers as nodes (op kind, params, inputs by index, name).
 *
 * A model file (lib/models/<arch>.c) builds a graph with the ct_graph_* builders in
 * Keras order; the engine (net.h) walks it, the weight binder checks it against a
 * weight file, and later passes (ONNX export, Grad-CAM, backward) can walk the same
 * nodes. Nodes are stored topologically: a node's inputs have smaller indices.
 * Shapes are per image (H x W x C, NHWC); 'same' padding is resolved at build time
 * into explicit (top, bottom, left, right) pads following TensorFlow:
 *   out = ceil(in / s), pad_total = max((out - 1) * s + (k - 1) * d + 1 - in, 0),
 *   pad_before = pad_total / 2 (floor), the extra cell on the after side. */
#ifndef CT_GRAPH_H
#define CT_GRAPH_H

#include <stdint.h>

typedef enum ct_op {
	CT_OP_INPUT = 0,
	CT_OP_CONV2D,	 /* Conv2D: kernel (kh,kw,cin,cout) [, bias] */
	CT_OP_DWCONV2D,	 /* DepthwiseConv2D: depthwise_kernel (kh,kw,cin,mult) [, bias] */
	CT_OP_BATCHNORM, /* BatchNormalization: [gamma,] [beta,] moving_mean, moving_variance */
	CT_OP_RELU,	 /* Activation('relu') */
	CT_OP_RELU6,	 /* ReLU(6.) */
	CT_OP_MAXPOOL,	 /* MaxPooling2D: padding cells never win */
	CT_OP_AVGPOOL,	 /* AveragePooling2D: 'same' divides by the count of non-padded cells */
	CT_OP_ZEROPAD,	 /* ZeroPadding2D ((top,bottom),(left,right)) */
	CT_OP_CONCAT,	 /* Concatenate on the channel axis */
	CT_OP_ADD,	 /* Add */
	CT_OP_GAVGPOOL,	 /* GlobalAveragePooling2D -> 1 x 1 x C */
	CT_OP_GMAXPOOL,	 /* GlobalMaxPooling2D -> 1 x 1 x C */
	CT_OP_DENSE,	 /* Dense on a 1x1xC (or flattened) input: kernel (in,out) [, bias] */
	CT_OP_SOFTMAX,	 /* Softmax over channels */
	CT_OP_SEPCONV2D, /* SeparableConv2D (multiplier 1): depthwise_kernel (kh,kw,cin,1),
			  * pointwise_kernel (1,1,cin,cout) [, bias]; the engine runs it as a
			  * depthwise step and a 1x1 GEMM step, both bound to this one layer */
} ct_op;

/* A fused activation (Keras' `activation=` argument, also used by the engine's epilogues). */
typedef enum ct_act { CT_ACT_NONE = 0, CT_ACT_RELU, CT_ACT_RELU6, CT_ACT_SOFTMAX } ct_act;

#define CT_NODE_NAME 64
#define CT_NODE_MAXIN 8
#define CT_NODE_MAXW 4

/* A weight tensor a layer expects: Keras short name and Keras shape. */
typedef struct ct_wspec {
	char name[24]; /* "kernel", "bias", "depthwise_kernel", "gamma", "beta", ... */
	int ndim;
	int64_t shape[4];
} ct_wspec;

typedef struct ct_node {
	char name[CT_NODE_NAME];
	ct_op op;
	int nin;
	int in[CT_NODE_MAXIN];
	/* conv / pool geometry */
	int kh, kw, sh, sw, dh, dw;
	int same; /* 1: Keras padding='same', 0: 'valid' (pads below are resolved either way) */
	int pad_t, pad_b, pad_l, pad_r;
	int filters;  /* conv: output channels; dense: units; dwconv: depth multiplier */
	int use_bias;
	ct_act act;   /* conv / dense activation argument */
	float eps;    /* batchnorm */
	int bn_scale, bn_center;
	/* output shape per image */
	int h, w, c;
	int nw;
	ct_wspec wspec[CT_NODE_MAXW];
} ct_node;

/* Keras' preprocess_input modes for uint8 RGB input (keras-applications imagenet_utils). */
typedef enum ct_prep {
	CT_PREP_TF = 0, /* x / 127.5 - 1 */
	CT_PREP_NONE,	/* x as float */
	CT_PREP_CAFFE,	/* RGB -> BGR, minus the ImageNet mean [103.939, 116.779, 123.68] (BGR) */
	CT_PREP_TORCH,	/* (x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225] (RGB) */
} ct_prep;

typedef struct ct_graph {
	char arch[32];
	int n, cap;
	ct_node *nodes;
	int in_h, in_w, in_c;
	ct_prep prep;
	char default_output[CT_NODE_NAME]; /* the notop feature layer, e.g. "mixed10" */
	int err;	 /* sticky: a builder failed (message in ct_last_error) */
} ct_graph;

ct_graph *ct_graph_new(const char *arch);
void ct_graph_free(ct_graph *g);

/* Builders: return the new node's index, or -1 (and set the graph's sticky error) on a
 * bad argument, a duplicate name or an input < 0, so a model can chain calls and check
 * g->err once. Padding: same=1 is Keras 'same', same=0 'valid'. */
int ct_graph_input(ct_graph *g, const char *name, int h, int w, int c);
int ct_graph_conv2d(ct_graph *g, const char *name, int in, int filters, int kh, int kw, int sh,
		    int sw, int same, int use_bias, ct_act act);
int ct_graph_conv2d_dilated(ct_graph *g, const char *name, int in, int filters, int kh, int kw,
			    int sh, int sw, int dh, int dw, int same, int use_bias, ct_act act);
int ct_graph_dwconv2d(ct_graph *g, const char *name, int in, int kh, int kw, int sh, int sw,
		      int same, int use_bias);
/* SeparableConv2D(depth_multiplier=1, dilation 1): one Keras layer, two engine steps. */
int ct_graph_sepconv2d(ct_graph *g, const char *name, int in, int filters, int kh, int kw, int sh,
		       int sw, int same, int use_bias, ct_act act);
int ct_graph_batchnorm(ct_graph *g, const char *name, int in, float eps, int scale, int center);
int ct_graph_relu(ct_graph *g, const char *name, int in);
int ct_graph_relu6(ct_graph *g, const char *name, int in);
int ct_graph_pool(ct_graph *g, const char *name, ct_op op, int in, int kh, int kw, int sh, int sw,
		  int same);
int ct_graph_zeropad(ct_graph *g, const char *name, int in, int top, int bottom, int left,
		     int right);
int ct_graph_concat(ct_graph *g, const char *name, int n, const int *in);
int ct_graph_add(ct_graph *g, const char *name, int n, const int *in);
int ct_graph_gpool(ct_graph *g, const char *name, ct_op op, int in);
int ct_graph_dense(ct_graph *g, const char *name, int in, int units, int use_bias, ct_act act);
int ct_graph_softmax(ct_graph *g, const char *name, int in);

/* Node index by Keras layer name, -1 if absent (no error recorded). */
int ct_graph_find(const ct_graph *g, const char *name);
/* Total number of weight elements (Keras' count_params, incl. BN moving statistics). */
int64_t ct_graph_nparams(const ct_graph *g);
const char *ct_op_name(ct_op op);
/* Keras' name of a preprocessing mode: "tf", "none", "caffe", "torch". */
const char *ct_prep_name(ct_prep p);

/* TensorFlow's padding for one axis: output size and pad before/after. Returns -1 on a
 * non-positive output. */
int ct_tf_padding(int in, int k, int s, int d, int same, int *out, int *before, int *after);

#endif
