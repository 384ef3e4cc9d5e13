/* net_impl.h - private to the engine (net.c, bind.c, plan.c, run.c): steps, values and the
 * net they make up. The public interface is net.h. */
#ifndef CT_NET_IMPL_H
#define CT_NET_IMPL_H

#include "nn/net.h"
#include "nn/gemm.h"
#include "nn/winograd.h"
#include "core/error.h"

#include <stdlib.h>

enum step_kind {
	S_PREP, S_CONV, S_DWCONV, S_POOL, S_PAD, S_CONCAT, S_ADD, S_BN, S_ACT, S_GPOOL, S_SOFTMAX,
};

typedef struct value {
	int64_t per_image; /* floats */
	int buf;	   /* buffer index after planning */
	int last_use;	   /* step index, or INT_MAX-like for outputs */
	/* A value feeding only a Concatenate is written in place into the concat's buffer
	 * (a channel slice): parent is the concat's value, coff the channel offset. */
	int parent;
	int64_t coff;
	int64_t off, pitch; /* resolved: floats from the buffer start, floats per pixel */
} value;

typedef struct step {
	enum step_kind kind;
	int node; /* the graph node whose output this step produces */
	int nin;
	int in[CT_NODE_MAXIN]; /* value ids */
	char aliased[CT_NODE_MAXIN]; /* concat: input already written in place */
	int out;	       /* value id */
	int res;	       /* value id added in the epilogue, -1 if none */
	int act;
	int is_max;
	ct_conv_geom geom; /* n set per run */
	ct_packed packed;  /* conv / dense */
	ct_wino *wino;	   /* conv: 3x3 stride 1 by Winograd (packed then unused) */
	float *w, *b;	   /* dwconv weights and bias; BN scale and shift */
	float *pscale, *pshift; /* conv: a BN (+ activation) in front, as the A prologue */
	int pact;
	double flops;	   /* per image */
	int head;	   /* the first graph node of the step (node is the last fused one) */
	char opname[16];   /* op kind for profiles: conv1x1, conv3x3, conv3x3/s2, dwconv3x3, ... */
	/* irb.c: this step and the next `fuse` ones ([conv ->] dwconv -> 1x1 conv) may run
	 * as one, in tiles of `tile` output rows, with fwork floats of workspace per thread */
	int fuse, tile;
	size_t fwork;
} step;

typedef struct out_spec {
	int node, value;
	int h, w, c;
	float *pooled; /* N x C when pooled */
	float *raw;    /* N x H x W x C when not pooled */
} out_spec;

struct ct_net {
	const ct_graph *g;
	const ct_gemm_kernel *kern;
	ct_pool pool;
	int nsteps;
	step *steps;
	int nvalues;
	value *values;
	int *node_value; /* node -> value id, -1 when fused away or unused */
	int nout;
	out_spec *outs;
	/* planned memory */
	int batch, nbufs, threads;
	int chunk; /* images run through the layers at a time */
	int64_t *buf_size; /* floats per image */
	int nctx;     /* activation sets: one per thread when whole images run in parallel */
	float **bufs; /* [ctx * nbufs + buffer] */
	float *work;  /* per-thread GEMM workspaces, work_per_thread floats each */
	size_t work_per_thread, arena_bytes;
	int last_n;
	int irb_minrows; /* irb.c: fused blocks split over threads need this many rows each */
	/* profile (ct_net_profile_enable): seconds per step and activation set, scaled to
	 * machine time (see run_images) */
	int prof_on;
	double *prof;
	double *prof_best; /* the fastest call of each step: machine seconds per image */
	int prof_ctx;
	int64_t prof_images;
};

static inline void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p)
		ct_error("out of memory");
	return p;
}

/* bind.c: the tensor `name` (a wspec short name) of node nd in w, found by short name or by
 * position (Keras 1 names); NULL if absent. */
const float *ct_net_weight(const ct_weights *w, const ct_node *nd, const char *name);
/* bind.c: per-channel scale and shift of an inference batch normalisation, in double. */
void ct_net_bn_coeffs(const ct_weights *w, const ct_node *bn, double *scale, double *shift);

/* plan.c: fuse the graph into steps, place values in buffers, choose the chunk. */
int ct_net_plan(ct_net *net, const ct_weights *w);

/* net.c: free the activation buffers, the workspace and the outputs (ct_net_reserve). */
void ct_net_release_buffers(ct_net *net);

#endif
