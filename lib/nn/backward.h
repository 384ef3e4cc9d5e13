/* backward.h - training the layers of a graph above a cut: backward passes of the layer
 * ops and a sub-network (cut -> output) that runs forward, keeps its activations and walks
 * the nodes in reverse to get the gradients of its trainable weights.
 *
 * The sub-network is unfused (each Keras layer its own buffer) so every layer's gradient
 * is available; its forward reuses the inference kernels (ct_conv2d_gemm, ops.h) with
 * weights repacked from the current parameters. Batch normalisation keeps its moving
 * statistics frozen (inference mode, as Keras' fine-tuning recipe with BN layers frozen
 * in inference mode) while gamma and beta train. Results do not depend on the thread
 * count: every parallel loop runs over disjoint outputs, each reduced serially in a
 * fixed order, and the GEMM blocking depends only on shapes (gemm.h). */
#ifndef CT_BACKWARD_H
#define CT_BACKWARD_H

#include "nn/gemm.h"
#include "nn/graph.h"
#include "nn/net.h"
#include "nn/weights.h"

/* ---- op backward passes: all ACCUMULATE into their outputs (dx += ..., dw += ...) ----
 * Geometry and layouts as the forward kernels (gemm.h, ops.h): NHWC, contiguous
 * (in_pitch == cin, out_pitch == cout). */

/* Conv2D / Dense (as 1x1 on a 1x1 input): w is the (kh*kw*cin) x cout kernel (HWIO).
 * dw = im2col(x)^T dy and dx = col2im(dy w^T), both through the packed GEMM of gemm.h;
 * db = column sums of dy. dx, dw, db may each be NULL. Returns 0 or -1 (out of memory). */
int ct_bw_conv2d(const ct_conv_geom *g, const float *x, const float *w, const float *dy,
		 float *dx, float *dw, float *db, int nthreads);
/* DepthwiseConv2D, multiplier 1: w is kh*kw*c. */
void ct_bw_dwconv(const ct_conv_geom *g, const float *x, const float *w, const float *dy,
		  float *dx, float *dw, float *db, int nthreads);
/* Max (padding never wins, the first maximum in window order takes the gradient) or
 * average pooling (divided by the in-bounds cell count, as the forward). */
void ct_bw_pool(int is_max, const ct_conv_geom *g, const float *x, const float *dy, float *dx,
		int nthreads);
/* Inference batch normalisation y = gamma (x - mean) inv + beta, inv = 1/sqrt(var + eps):
 * dx += dy gamma inv, dgamma += sum dy (x - mean) inv, dbeta += sum dy (gamma NULL: 1;
 * dgamma, dbeta may be NULL). */
void ct_bw_batchnorm(int64_t rows, int c, const float *x, const float *mean, const float *inv,
		     const float *gamma, const float *dy, float *dx, float *dgamma, float *dbeta,
		     int nthreads);
/* ReLU / ReLU6 (a ct_act) from the forward OUTPUT y: the gradient passes where
 * 0 < y (< 6 for ReLU6). */
void ct_bw_act(int64_t numel, int act, const float *y, const float *dy, float *dx);
/* Global average pooling n x hw x c -> n x c: dx += dy / hw. */
void ct_bw_gavgpool(int n, int64_t hw, int c, const float *dy, float *dx);
/* Global max pooling: the first maximum of each channel takes the gradient. */
void ct_bw_gmaxpool(int n, int64_t hw, int c, const float *x, const float *dy, float *dx);
/* Dropout with a fixed mask (0 or 1/(1-rate)): dx += dy * mask. */
void ct_bw_dropout(int64_t numel, const float *mask, const float *dy, float *dx);
/* ZeroPadding2D: dx (n x h x w x c) += the interior of dy. */
void ct_bw_zeropad(int n, int h, int w, int c, int t, int l, int r, int b, const float *dy,
		   float *dx);

/* ---- the sub-network above a cut ---- */

typedef struct ct_sparam {
	int node;	/* graph node */
	char name[24];	/* Keras short name: kernel, bias, depthwise_kernel, gamma, beta,
			 * moving_mean, moving_variance */
	int trainable;	/* 0: frozen (BN moving statistics) */
	int decay;	/* 1: a kernel (weight decay applies), 0: bias / BN offset and scale */
	int ndim;
	int64_t shape[4];
	int64_t count;
	float *w;	/* the value */
	float *g;	/* its gradient (accumulated by ct_subnet_backward), NULL if frozen */
} ct_sparam;

typedef struct ct_subnet ct_subnet;

/* The nodes that `output` needs and that depend on `cut` (the cut itself is the input;
 * it may be the graph's input layer). Every path to the output must pass through the cut.
 * Weights are copied from w (only the sub-network's layers are needed). pool:
 * CT_POOL_AVG / CT_POOL_MAX give n x C outputs, CT_POOL_NONE the raw n x H x W x C map. */
ct_subnet *ct_subnet_new(const ct_graph *g, const ct_weights *w, const char *cut,
			 const char *output, ct_pool pool);
void ct_subnet_free(ct_subnet *s);

/* Shapes: input per image (the cut's h*w*c) and output per image. */
void ct_subnet_in_shape(const ct_subnet *s, int *h, int *w, int *c);
int64_t ct_subnet_out_size(const ct_subnet *s);
/* The graph and the node indices of the cut and the output. */
void ct_subnet_graph(const ct_subnet *s, const ct_graph **g, int *cut, int *output);
int ct_subnet_nlayers(const ct_subnet *s); /* layers with weights */
int ct_subnet_nparams(const ct_subnet *s);
ct_sparam *ct_subnet_param(ct_subnet *s, int i);
int64_t ct_subnet_trainable_count(const ct_subnet *s);

/* Forward n images (x: n x cut map, float) into y (n x out_size); the activations are kept
 * for ct_subnet_backward. */
int ct_subnet_forward(ct_subnet *s, const float *x, int n, float *y);
/* Gradients of the last forward given dy (n x out_size): ACCUMULATED into the trainable
 * parameters' g; dx (n x cut map) receives dL/dx when non-NULL (overwritten). */
int ct_subnet_backward(ct_subnet *s, const float *dy, float *dx);
void ct_subnet_zero_grad(ct_subnet *s);

/* Append the sub-network's layers, all their tensors in Keras order under the names
 * "<layer>/<short>:0", to w (a fresh or growing ct_weights). */
int ct_subnet_export(const ct_subnet *s, ct_weights *w);
/* Bytes held for activations, gradients and parameters (reports). */
size_t ct_subnet_bytes(const ct_subnet *s);

#endif
