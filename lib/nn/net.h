/* net.h - the inference engine: a graph bound to weights, fused and planned for a batch.
 *
 * Typical use (see tests/bench/bench_nn.c):
 *   ct_graph *g = ct_model_build("inception_v3");
 *   ct_weights w; ct_weights_load(&w, "inception_v3_notop.h5");
 *   ct_net *net = ct_net_new(g, &w, "mixed5,mixed10", CT_POOL_AVG);   (NULL: default layer)
 *   ct_net_run(net, &images);                  images: N x H x W x 3, uint8 or float32
 *   ct_tensor f; ct_net_output(net, 0, &f);    N x C view, valid until the next run
 *   ct_net_free(net); ct_weights_free(&w); ct_graph_free(g);
 *
 * At ct_net_new every layer's weights are checked against the graph, batch normalisation
 * is folded into the preceding convolution (scale = gamma / sqrt(var + eps), gamma = 1
 * when scale=False), conv -> BN -> activation / Add chains become one GEMM with a fused
 * epilogue, ZeroPadding2D is folded into the next convolution's padding, and weights are
 * packed for the SIMD kernel chosen at run time. Activation buffers are planned once per
 * batch size by liveness and reused for every batch (no allocation in the hot loop). */
#ifndef CT_NET_H
#define CT_NET_H

#include "core/tensor.h"
#include "nn/graph.h"
#include "nn/weights.h"

#include <stdio.h>

typedef enum ct_pool { CT_POOL_NONE = 0, CT_POOL_AVG, CT_POOL_MAX } ct_pool;

typedef struct ct_net ct_net;

/* Check that w holds exactly the tensors g expects: a missing layer, an extra tensor in
 * a layer or a mis-shaped tensor is an error naming the layer. Layers of w that g does
 * not have (a classifier top) are ignored. */
int ct_graph_check_weights(const ct_graph *g, const ct_weights *w);

/* Append to w synthetic weights for every layer of g (ct_testweight_fill values, names
 * "<layer>/<short>:0"): for tests, benchmarks and the TF.js conformance goldens. */
int ct_graph_testweights(const ct_graph *g, ct_weights *w);

/* Bind and plan. outputs: comma-separated layer names, NULL or "" for the graph's
 * default output; pool applies to every output (NONE: raw N x H x W x C activations).
 * The graph must outlive the net; the weights may be freed after this call. */
ct_net *ct_net_new(const ct_graph *g, const ct_weights *w, const char *outputs, ct_pool pool);
void ct_net_free(ct_net *net);

/* Plan buffers for batches up to `batch` now (run does it on demand). */
int ct_net_reserve(ct_net *net, int batch);

/* Run one batch: images N x H x W x C (or H x W x C) of uint8 pixels, preprocessed as the
 * graph says ('tf': x / 127.5 - 1), or float32 already preprocessed. */
int ct_net_run(ct_net *net, const ct_tensor *images);

int ct_net_noutputs(const ct_net *net);
const char *ct_net_output_name(const ct_net *net, int i);
/* Channels of output i (its feature dimension when pooled). */
int ct_net_output_channels(const ct_net *net, int i);
/* A view of output i of the last run: N x C pooled, N x H x W x C raw. Valid until the
 * next run or free. */
int ct_net_output(const ct_net *net, int i, ct_tensor *view);

/* All pooled outputs of the last run side by side, in output order: a new N x sum(C)
 * tensor (the caller frees it). The feature vector of ct-features. */
int ct_net_features(const ct_net *net, ct_tensor *out);

/* Bytes of activation buffers + workspace planned (for reports). */
size_t ct_net_arena_bytes(const ct_net *net);
/* Floating-point operations of one image's forward pass (2 per multiply-add). */
double ct_net_flops(const ct_net *net);
/* Name of the SIMD kernel the weights were packed for. */
const char *ct_net_kernel(const ct_net *net);

/* Profile: with profiling on, every run adds each step's time (machine time: the
 * threads' time over the thread count when whole images run in parallel) to a per-step
 * total; enabling (again) resets the totals. A step is one fused kernel call: a conv with
 * its BN, activation and Add, a pool, a concat (in place: no copy), ... */
int ct_net_profile_enable(ct_net *net, int on);
typedef struct ct_net_step_info {
	const char *layer; /* the step's first graph layer */
	const char *last;  /* its last fused layer (== layer when nothing is fused) */
	const char *op;	   /* kind: conv1x1, conv3x3, conv3x3/s2, dwconv3x3, dense, maxpool,
			    * avgpool, concat, add, bn, act, pad, gpool, softmax */
	int kh, kw, sh, sw, cin, cout, oh, ow;
	double flops;	   /* per image (2 per multiply-add; 0 for data movement) */
	double seconds;	   /* profiled time, summed over runs */
	double best;	   /* the fastest call, seconds per image: robust where other
			    * processes steal the cores now and then */
	int64_t images;	   /* images run while profiling */
} ct_net_step_info;
int ct_net_nsteps(const ct_net *net);
int ct_net_step_get(const ct_net *net, int i, ct_net_step_info *info);
/* Write the profile (per step, then per op kind: ms per image, GFLOP/s and the share of
 * peak_gflops, e.g. ct_fma_peak_gflops) as text to f (lib/nn/profile.c). */
int ct_net_profile_write(const ct_net *net, FILE *f, double peak_gflops);

#endif
