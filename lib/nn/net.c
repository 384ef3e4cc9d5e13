/* net.c - binding weights to a graph, fusing layers into steps, planning buffers, running. */
#include "nn/net.h"
#include "nn/gemm.h"
#include "nn/ops.h"
#include "nn/winograd.h"
#include "nn/prep.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

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
	/* profile (ct_net_profile_enable): seconds per step and activation set, scaled to
	 * machine time (see run_images) */
	int prof_on;
	double *prof;
	double *prof_best; /* the fastest call of each step: machine seconds per image */
	int prof_ctx;
	int64_t prof_images;
};

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p)
		ct_error("out of memory");
	return p;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
	size_t o = 0;
	buf[0] = 0;
	for (int d = 0; d < ndim && o < n; d++)
		o += (size_t)snprintf(buf + o, n - o, "%s%lld", d ? "x" : "", (long long)shape[d]);
	if (ndim == 0)
		snprintf(buf, n, "scalar");
}

/* Keras 1 saved weights under names like "block1_conv1_W_1:0" (the official VGG16 and
 * Xception files still do); Keras 2 loads them by position within the layer. We do the
 * same when none of a layer's tensors carries a Keras 2 short name and the count fits. */
static int legacy_names(const ct_wlayer *l, const ct_node *nd)
{
	if (!l || l->n != nd->nw)
		return 0;
	for (int j = 0; j < nd->nw; j++)
		if (ct_wlayer_get(l, nd->wspec[j].name))
			return 0;
	return 1;
}

/* Tensor j (Keras order) of node nd in layer l, by short name or by position (above). */
static const ct_wtensor *layer_tensor(const ct_wlayer *l, const ct_node *nd, int j)
{
	const ct_wtensor *t = l ? ct_wlayer_get(l, nd->wspec[j].name) : NULL;
	return t ? t : legacy_names(l, nd) ? &l->w[j] : NULL;
}

int ct_graph_check_weights(const ct_graph *g, const ct_weights *w)
{
	for (int i = 0; i < g->n; i++) {
		const ct_node *nd = &g->nodes[i];
		if (nd->nw == 0)
			continue;
		const ct_wlayer *l = ct_weights_find(w, nd->name);
		if (!l)
			return ct_error("layer '%s': missing from the weights", nd->name);
		for (int t = 0; t < l->n && !legacy_names(l, nd); t++) {
			const char *full = l->w[t].name, *s = strrchr(full, '/');
			char shortn[64];
			snprintf(shortn, sizeof shortn, "%s", s ? s + 1 : full);
			char *colon = strchr(shortn, ':');
			if (colon)
				*colon = 0;
			int found = 0;
			for (int j = 0; j < nd->nw; j++)
				found |= !strcmp(nd->wspec[j].name, shortn);
			if (!found)
				return ct_error("layer '%s': unexpected tensor '%s'", nd->name, full);
		}
		for (int j = 0; j < nd->nw; j++) {
			const ct_wspec *s = &nd->wspec[j];
			const ct_wtensor *t = layer_tensor(l, nd, j);
			if (!t)
				return ct_error("layer '%s': missing %s", nd->name, s->name);
			int same = t->t.ndim == s->ndim && t->t.dtype == CT_F32;
			for (int d = 0; same && d < s->ndim; d++)
				same = t->t.shape[d] == s->shape[d];
			if (!same) {
				char a[64], b[64];
				shape_str(a, sizeof a, t->t.ndim, t->t.shape);
				shape_str(b, sizeof b, s->ndim, s->shape);
				return ct_error("layer '%s': %s has shape %s, expected %s", nd->name,
						s->name, a, b);
			}
			if (!ct_tensor_is_contiguous(&t->t))
				return ct_error("layer '%s': %s is not contiguous", nd->name, s->name);
		}
	}
	return 0;
}

static const float *wdata(const ct_weights *w, const ct_node *nd, const char *name)
{
	for (int j = 0; j < nd->nw; j++)
		if (!strcmp(nd->wspec[j].name, name)) {
			const ct_wtensor *t = layer_tensor(ct_weights_find(w, nd->name), nd, j);
			return t ? (const float *)t->t.data : NULL;
		}
	return NULL;
}

/* Per-channel scale and shift of an inference batch normalisation, in double. */
static void bn_coeffs(const ct_weights *w, const ct_node *bn, double *scale, double *shift)
{
	const float *gamma = wdata(w, bn, "gamma"), *beta = wdata(w, bn, "beta");
	const float *mean = wdata(w, bn, "moving_mean"), *var = wdata(w, bn, "moving_variance");
	for (int c = 0; c < bn->c; c++) {
		double s = (gamma ? gamma[c] : 1.0) / sqrt((double)var[c] + (double)bn->eps);
		scale[c] = s;
		shift[c] = (beta ? beta[c] : 0.0) - mean[c] * s;
	}
}

/* Consumers of each node among the needed ones. */
typedef struct usage {
	int count;
	int first; /* one consumer (meaningful when count == 1) */
} usage;

static int is_output(const ct_net *net, int node)
{
	for (int i = 0; i < net->nout; i++)
		if (net->outs[i].node == node)
			return 1;
	return 0;
}

static int new_value(ct_net *net, int node)
{
	const ct_node *nd = &net->g->nodes[node];
	value *v = &net->values[net->nvalues];
	v->per_image = (int64_t)nd->h * nd->w * nd->c;
	v->buf = -1;
	v->last_use = -1;
	v->parent = -1;
	v->coff = 0;
	v->pitch = nd->c;
	net->node_value[node] = net->nvalues;
	return net->nvalues++;
}

static ct_conv_geom geom_of(const ct_node *src, const ct_node *nd)
{
	ct_conv_geom g = { 0 };
	g.h = src->h, g.w = src->w, g.cin = src->c;
	g.oh = nd->h, g.ow = nd->w, g.cout = nd->c;
	g.kh = nd->kh, g.kw = nd->kw, g.sh = nd->sh, g.sw = nd->sw, g.dh = nd->dh, g.dw = nd->dw;
	g.pad_t = nd->pad_t, g.pad_l = nd->pad_l;
	g.in_pitch = src->c, g.out_pitch = nd->c;
	return g;
}

/* Build the steps for a conv / dwconv / dense node, absorbing a preceding ZeroPadding2D and
 * the following BN, activation, Add and activation when nothing else needs them. */
static int plan_conv(ct_net *net, const ct_weights *w, const usage *use, int node, step *st,
		     const int *pro_bn, const int *pro_act)
{
	const ct_graph *g = net->g;
	const ct_node *nd = &g->nodes[node];
	int src = nd->in[0];
	const ct_node *sn = &g->nodes[src];
	int sep = nd->op == CT_OP_SEPCONV2D;
	st->geom = geom_of(sn, nd);
	if (sep) { /* the pointwise half: 1x1 on the depthwise step's output (st->in[0]) */
		st->geom.h = nd->h, st->geom.w = nd->w;
		st->geom.kh = st->geom.kw = st->geom.sh = st->geom.sw = st->geom.dh = st->geom.dw = 1;
		st->geom.pad_t = st->geom.pad_l = 0;
	}
	if (nd->op == CT_OP_DENSE) {
		st->geom.h = st->geom.w = st->geom.oh = st->geom.ow = 1;
		st->geom.cin = sn->h * sn->w * sn->c;
		st->geom.in_pitch = st->geom.cin;
	}
	/* ZeroPadding2D then a 'valid' conv: pad inside the conv instead */
	if (sn->op == CT_OP_ZEROPAD && use[src].count == 1 && !is_output(net, src) &&
	    nd->op != CT_OP_DENSE && !sep) {
		const ct_node *pn = &g->nodes[sn->in[0]];
		st->geom.h = pn->h, st->geom.w = pn->w;
		st->geom.pad_t += sn->pad_t, st->geom.pad_l += sn->pad_l;
		src = sn->in[0];
	}
	st->nin = 1;
	if (!sep)
		st->in[0] = net->node_value[src];
	if (pro_bn[node] >= 0) { /* BN (+ activation) in front: read the BN's input */
		const ct_node *bn = &g->nodes[pro_bn[node]];
		st->in[0] = net->node_value[bn->in[0]];
		st->head = pro_bn[node];
		double *sc = xcalloc((size_t)bn->c, sizeof(double));
		double *sh = xcalloc((size_t)bn->c, sizeof(double));
		st->pscale = xcalloc((size_t)bn->c, sizeof(float));
		st->pshift = xcalloc((size_t)bn->c, sizeof(float));
		if (!sc || !sh || !st->pscale || !st->pshift) {
			free(sc), free(sh);
			return -1;
		}
		bn_coeffs(w, bn, sc, sh);
		for (int c = 0; c < bn->c; c++)
			st->pscale[c] = (float)sc[c], st->pshift[c] = (float)sh[c];
		free(sc), free(sh);
		st->pact = pro_act[node];
	}
	st->res = -1;
	st->act = nd->act;
	int cout = nd->c;
	int64_t k = (int64_t)st->geom.kh * st->geom.kw *
		    (nd->op == CT_OP_DWCONV2D ? 1 : st->geom.cin);
	double *scale = xcalloc((size_t)cout, sizeof(double));
	double *shift = xcalloc((size_t)cout, sizeof(double));
	float *wf = xcalloc((size_t)(k * cout), sizeof(float));
	float *bf = xcalloc((size_t)cout, sizeof(float));
	if (!scale || !shift || !wf || !bf) {
		free(scale), free(shift), free(wf), free(bf);
		return -1;
	}
	for (int c = 0; c < cout; c++)
		scale[c] = 1.0, shift[c] = 0.0;
	int tail = node;
	/* fold BN: W' = W * s, b' = b * s + (beta - mean * s) */
	if (st->act == CT_ACT_NONE && use[tail].count == 1 && !is_output(net, tail) &&
	    g->nodes[use[tail].first].op == CT_OP_BATCHNORM) {
		tail = use[tail].first;
		bn_coeffs(w, &g->nodes[tail], scale, shift);
	}
	const float *kern = wdata(w, nd, nd->op == CT_OP_DWCONV2D ? "depthwise_kernel"
					 : sep			   ? "pointwise_kernel"
								   : "kernel");
	const float *bias = nd->use_bias ? wdata(w, nd, "bias") : NULL;
	for (int64_t i = 0; i < k; i++)
		for (int c = 0; c < cout; c++)
			wf[i * cout + c] = (float)(kern[i * cout + c] * scale[c]);
	for (int c = 0; c < cout; c++)
		bf[c] = (float)((bias ? bias[c] : 0.0) * scale[c] + shift[c]);
	free(scale);
	free(shift);
	/* activation, or Add (then maybe an activation) */
	if (st->act == CT_ACT_NONE && use[tail].count == 1 && !is_output(net, tail)) {
		const ct_node *nx = &g->nodes[use[tail].first];
		if (nx->op == CT_OP_RELU || nx->op == CT_OP_RELU6) {
			st->act = nx->op == CT_OP_RELU ? CT_ACT_RELU : CT_ACT_RELU6;
			tail = use[tail].first;
		} else if (nx->op == CT_OP_ADD && nx->nin == 2) {
			int other = nx->in[0] == tail ? nx->in[1] : nx->in[0];
			if (other != tail && net->node_value[other] >= 0) {
				st->res = net->node_value[other];
				tail = use[tail].first;
				if (use[tail].count == 1 && !is_output(net, tail)) {
					const ct_node *ny = &g->nodes[use[tail].first];
					if (ny->op == CT_OP_RELU || ny->op == CT_OP_RELU6) {
						st->act = ny->op == CT_OP_RELU ? CT_ACT_RELU
									       : CT_ACT_RELU6;
						tail = use[tail].first;
					}
				}
			}
		}
	}
	st->node = tail;
	st->geom.cout = cout;
	st->geom.out_pitch = cout;
	if (nd->op == CT_OP_DWCONV2D) {
		st->kind = S_DWCONV;
		st->w = wf;
		st->b = bf;
		st->flops = 2.0 * nd->h * nd->w * cout * st->geom.kh * st->geom.kw;
		return 0;
	}
	st->kind = S_CONV;
	int rc = 0;
	if (nd->op == CT_OP_CONV2D && ct_wino_enabled() && ct_wino_fits(&st->geom))
		rc = (st->wino = ct_wino_new(net->kern, &st->geom, wf, bf)) ? 0 : -1;
	else
		rc = ct_packed_init(&st->packed, net->kern, k, cout, wf, bf);
	free(wf);
	free(bf);
	st->flops = 2.0 * st->geom.oh * st->geom.ow * (double)k * cout;
	return rc;
}

/* The depthwise half of a SeparableConv2D: its own step and an unnamed value (no bias, no
 * activation: Keras applies both after the pointwise product). */
static int plan_sepconv_dw(ct_net *net, const ct_weights *w, int node, step *st, int in_act)
{
	const ct_node *nd = &net->g->nodes[node];
	const ct_node *sn = &net->g->nodes[nd->in[0]];
	int cin = sn->c;
	st->kind = S_DWCONV;
	st->geom = geom_of(sn, nd);
	st->geom.cout = cin;
	st->geom.out_pitch = cin;
	st->nin = 1;
	st->in[0] = net->node_value[nd->in[0]];
	if (in_act != CT_ACT_NONE) { /* the ReLU in front, applied as the input is read */
		st->head = nd->in[0];
		st->in[0] = net->node_value[sn->in[0]];
		st->pact = in_act;
	}
	st->res = -1;
	st->act = CT_ACT_NONE;
	const float *kern = wdata(w, nd, "depthwise_kernel");
	int64_t k = (int64_t)nd->kh * nd->kw * cin;
	st->w = xcalloc((size_t)k, sizeof(float));
	st->b = xcalloc((size_t)cin, sizeof(float));
	if (!st->w || !st->b || st->in[0] < 0)
		return st->in[0] < 0 ? ct_error("layer '%s': input not computed", nd->name) : -1;
	memcpy(st->w, kern, (size_t)k * sizeof(float));
	st->flops = 2.0 * nd->h * nd->w * (double)k;
	/* an unnamed value: the node's own value is the pointwise step's */
	st->out = new_value(net, node);
	net->node_value[node] = -1;
	net->values[st->out].per_image = (int64_t)nd->h * nd->w * cin;
	net->values[st->out].pitch = cin;
	return 0;
}

/* The op kind a profile groups a step under. */
static void step_opname(const ct_net *net, step *st)
{
	static const char *const names[] = { "input", "conv", "dwconv", "pool", "pad", "concat",
					     "add", "bn", "act", "gpool", "softmax" };
	const ct_conv_geom *g = &st->geom;
	const char *base = names[st->kind];
	if (st->kind == S_CONV && net->g->nodes[st->head].op == CT_OP_DENSE)
		base = "dense";
	if ((st->kind == S_CONV && strcmp(base, "dense")) || st->kind == S_DWCONV) {
		snprintf(st->opname, sizeof st->opname, "%s%dx%d%s", base, g->kh, g->kw,
			 g->sh > 1 || g->sw > 1 ? "/s2" : st->wino ? "/wino" : "");
		if (g->sh > 2 || g->sw > 2)
			snprintf(st->opname, sizeof st->opname, "%s%dx%d/s%d", base, g->kh, g->kw,
				 g->sh);
	} else if (st->kind == S_POOL) {
		snprintf(st->opname, sizeof st->opname, "%spool", st->is_max ? "max" : "avg");
	} else {
		snprintf(st->opname, sizeof st->opname, "%s", base);
	}
}

static int plan(ct_net *net, const ct_weights *w)
{
	const ct_graph *g = net->g;
	int n = g->n;
	char *need = xcalloc((size_t)n, 1);
	usage *use = xcalloc((size_t)n, sizeof *use);
	int *fused = xcalloc((size_t)n, sizeof(int));
	int *pro_bn = xcalloc((size_t)n, sizeof(int)), *pro_act = xcalloc((size_t)n, sizeof(int));
	if (!need || !use || !fused || !pro_bn || !pro_act) {
		free(need), free(use), free(fused), free(pro_bn), free(pro_act);
		return -1;
	}
	for (int i = 0; i < n; i++)
		pro_bn[i] = -1;
	for (int i = 0; i < net->nout; i++)
		need[net->outs[i].node] = 1;
	for (int i = n - 1; i >= 0; i--)
		if (need[i])
			for (int j = 0; j < g->nodes[i].nin; j++)
				need[g->nodes[i].in[j]] = 1;
	for (int i = 0; i < n; i++)
		if (need[i])
			for (int j = 0; j < g->nodes[i].nin; j++) {
				usage *u = &use[g->nodes[i].in[j]];
				if (u->count++ == 0)
					u->first = i;
			}
	for (int i = 0; i < n; i++)
		net->node_value[i] = -1;
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		const ct_node *nd = &g->nodes[i];
		if (!need[i] || fused[i])
			continue;
		/* a BN (then maybe ReLU) whose only consumer is a conv becomes that conv's
		 * prologue (gemm.h): its output is never written */
		if (nd->op == CT_OP_BATCHNORM && use[i].count == 1 && !is_output(net, i) &&
		    net->node_value[nd->in[0]] >= 0) {
			int t = use[i].first, act = CT_ACT_NONE, relu = -1;
			if ((g->nodes[t].op == CT_OP_RELU || g->nodes[t].op == CT_OP_RELU6) &&
			    use[t].count == 1 && !is_output(net, t)) {
				act = g->nodes[t].op == CT_OP_RELU ? CT_ACT_RELU : CT_ACT_RELU6;
				relu = t;
				t = use[t].first;
			}
			const ct_node *cv = &g->nodes[t];
			if (cv->op == CT_OP_CONV2D && cv->nin == 1 && cv->in[0] == (relu >= 0 ? relu : i)) {
				pro_bn[t] = i;
				pro_act[t] = act;
				fused[i] = 1;
				if (relu >= 0)
					fused[relu] = 1;
				continue;
			}
		}
		/* a ReLU whose only consumer is a separable conv: applied by its depthwise half
		 * as it reads the input (Xception) */
		if ((nd->op == CT_OP_RELU || nd->op == CT_OP_RELU6) && use[i].count == 1 &&
		    !is_output(net, i) && net->node_value[nd->in[0]] >= 0 &&
		    g->nodes[use[i].first].op == CT_OP_SEPCONV2D &&
		    g->nodes[use[i].first].in[0] == i) {
			pro_act[use[i].first] = nd->op == CT_OP_RELU ? CT_ACT_RELU : CT_ACT_RELU6;
			fused[i] = 1;
			continue;
		}
		/* a ZeroPadding2D whose only consumer is a conv is absorbed by it */
		if (nd->op == CT_OP_ZEROPAD && use[i].count == 1 && !is_output(net, i)) {
			const ct_node *c = &g->nodes[use[i].first];
			if (c->op == CT_OP_CONV2D || c->op == CT_OP_DWCONV2D)
				continue;
		}
		step *st = &net->steps[net->nsteps];
		memset(st, 0, sizeof *st);
		st->node = i;
		st->head = i;
		st->res = -1;
		switch (nd->op) {
		case CT_OP_INPUT:
			st->kind = S_PREP;
			break;
		case CT_OP_SEPCONV2D: {
			rc = plan_sepconv_dw(net, w, i, st, pro_act[i]);
			if (rc)
				break;
			int dwv = st->out;
			st = &net->steps[++net->nsteps];
			memset(st, 0, sizeof *st);
			st->node = i;
			st->head = i;
			st->in[0] = dwv;
			rc = plan_conv(net, w, use, i, st, pro_bn, pro_act);
			break;
		}
		case CT_OP_CONV2D:
		case CT_OP_DWCONV2D:
		case CT_OP_DENSE:
			rc = plan_conv(net, w, use, i, st, pro_bn, pro_act);
			if (!rc && nd->op == CT_OP_DENSE && nd->act == CT_ACT_SOFTMAX) {
				st->act = CT_ACT_NONE; /* softmax runs as its own step below */
				st->out = new_value(net, i);
				net->nsteps++;
				step *sm = &net->steps[net->nsteps];
				memset(sm, 0, sizeof *sm);
				sm->kind = S_SOFTMAX;
				sm->node = i;
				sm->head = i;
				sm->nin = 1;
				sm->in[0] = st->out;
				sm->res = -1;
				net->node_value[i] = -1;
				sm->out = new_value(net, i);
				net->nsteps++;
				continue;
			}
			break;
		case CT_OP_BATCHNORM: {
			st->kind = S_BN;
			double *sc = xcalloc((size_t)nd->c, sizeof(double));
			double *sh = xcalloc((size_t)nd->c, sizeof(double));
			st->w = xcalloc((size_t)nd->c, sizeof(float));
			st->b = xcalloc((size_t)nd->c, sizeof(float));
			if (!sc || !sh || !st->w || !st->b) {
				free(sc), free(sh);
				rc = -1;
				break;
			}
			bn_coeffs(w, nd, sc, sh);
			for (int c = 0; c < nd->c; c++)
				st->w[c] = (float)sc[c], st->b[c] = (float)sh[c];
			free(sc), free(sh);
			if (use[i].count == 1 && !is_output(net, i)) {
				const ct_node *nx = &g->nodes[use[i].first];
				if (nx->op == CT_OP_RELU || nx->op == CT_OP_RELU6) {
					st->act = nx->op == CT_OP_RELU ? CT_ACT_RELU : CT_ACT_RELU6;
					st->node = use[i].first;
				}
			}
			break;
		}
		case CT_OP_RELU:
		case CT_OP_RELU6:
			st->kind = S_ACT;
			st->act = nd->op == CT_OP_RELU ? CT_ACT_RELU : CT_ACT_RELU6;
			break;
		case CT_OP_MAXPOOL:
		case CT_OP_AVGPOOL:
			st->kind = S_POOL;
			st->is_max = nd->op == CT_OP_MAXPOOL;
			st->geom = geom_of(&g->nodes[nd->in[0]], nd);
			break;
		case CT_OP_ZEROPAD:
			st->kind = S_PAD;
			break;
		case CT_OP_CONCAT:
			st->kind = S_CONCAT;
			break;
		case CT_OP_ADD:
			st->kind = S_ADD;
			break;
		case CT_OP_GAVGPOOL:
		case CT_OP_GMAXPOOL:
			st->kind = S_GPOOL;
			st->is_max = nd->op == CT_OP_GMAXPOOL;
			break;
		case CT_OP_SOFTMAX:
			st->kind = S_SOFTMAX;
			break;
		}
		if (rc)
			break;
		if (st->kind != S_CONV && st->kind != S_DWCONV && st->kind != S_PREP) {
			st->nin = nd->nin;
			for (int j = 0; j < nd->nin; j++) {
				st->in[j] = net->node_value[nd->in[j]];
				if (st->in[j] < 0) {
					rc = ct_error("layer '%s': input '%s' was not computed",
						      nd->name, g->nodes[nd->in[j]].name);
					break;
				}
			}
		}
		/* the chain members absorbed by this step (BN, activation, Add) are skipped */
		for (int t = i; t != st->node;) {
			t = use[t].first;
			fused[t] = 1;
		}
		st->out = new_value(net, st->node);
		net->nsteps++;
	}
	free(need);
	free(use);
	free(fused);
	free(pro_bn);
	free(pro_act);
	if (rc)
		return -1;
	for (int i = 0; i < net->nout; i++) {
		net->outs[i].value = net->node_value[net->outs[i].node];
		if (net->outs[i].value < 0)
			return ct_error("layer '%s': output was fused away",
					g->nodes[net->outs[i].node].name);
	}
	/* Concat inputs produced by a conv, pool or concat are written straight into their
	 * channel slice of the concat (no copy) when the concat is their only reader that
	 * needs them contiguous: other readers must be convs, depthwise convs or pools (which
	 * read with a pixel pitch). DenseNet's growing block input x_k then lives in the
	 * first channels of the final block buffer and no layer copies it. */
	int *readers = xcalloc((size_t)net->nvalues, sizeof(int));
	int *producer = xcalloc((size_t)net->nvalues, sizeof(int));
	if (!readers || !producer) {
		free(readers), free(producer);
		return -1;
	}
	for (int s = 0; s < net->nsteps; s++) {
		const step *st = &net->steps[s];
		producer[st->out] = s;
		int pitched = (st->kind == S_CONV && g->nodes[st->head].op != CT_OP_DENSE) ||
			      st->kind == S_DWCONV || st->kind == S_POOL;
		for (int j = 0; j < st->nin; j++)
			readers[st->in[j]] += pitched && j == 0 ? 0 : 1;
		if (st->res >= 0)
			readers[st->res] += st->kind == S_CONV ? 0 : 1;
	}
	for (int i = 0; i < net->nout; i++)
		readers[net->outs[i].value] += 1 << 20; /* outputs stay whole */
	for (int s = 0; s < net->nsteps; s++) {
		step *st = &net->steps[s];
		if (st->kind != S_CONCAT)
			continue;
		const ct_node *nd = &g->nodes[st->node];
		int64_t off = 0;
		for (int j = 0; j < st->nin; j++) {
			int u = st->in[j];
			enum step_kind pk = net->steps[producer[u]].kind;
			if (readers[u] == 1 && net->values[u].parent < 0 &&
			    (pk == S_CONV || pk == S_DWCONV || pk == S_POOL || pk == S_CONCAT)) {
				net->values[u].parent = st->out;
				net->values[u].coff = off;
				st->aliased[j] = 1;
			}
			off += g->nodes[nd->in[j]].c;
		}
	}
	free(readers);
	free(producer);
	for (int v = 0; v < net->nvalues; v++) {
		value *x = &net->values[v];
		x->off = 0;
		int r = v;
		while (net->values[r].parent >= 0) {
			x->off += net->values[r].coff;
			r = net->values[r].parent;
		}
		x->pitch = net->values[r].pitch;
	}
	for (int s = 0; s < net->nsteps; s++) {
		step *st = &net->steps[s];
		if (st->kind == S_CONV || st->kind == S_DWCONV || st->kind == S_POOL) {
			st->geom.out_pitch = net->values[st->out].pitch;
			if (st->kind != S_CONV || g->nodes[st->head].op != CT_OP_DENSE)
				st->geom.in_pitch = net->values[st->in[0]].pitch;
		}
	}
	/* liveness: last step reading each value; outputs live to the end */
	for (int s = 0; s < net->nsteps; s++) {
		const step *st = &net->steps[s];
		for (int j = 0; j < st->nin; j++)
			net->values[st->in[j]].last_use = s;
		if (st->res >= 0)
			net->values[st->res].last_use = s;
	}
	for (int i = 0; i < net->nout; i++)
		net->values[net->outs[i].value].last_use = net->nsteps;
	/* a concat buffer lives as long as any of its slices is read */
	for (int v = 0; v < net->nvalues; v++) {
		int r = v;
		while (net->values[r].parent >= 0)
			r = net->values[r].parent;
		if (net->values[v].last_use > net->values[r].last_use)
			net->values[r].last_use = net->values[v].last_use;
	}
	/* buffers: best fit among free ones, else a new one (sizes per image) */
	int *busy = xcalloc((size_t)net->nvalues, sizeof(int));
	net->buf_size = xcalloc((size_t)net->nvalues, sizeof(int64_t));
	if (!busy || !net->buf_size) {
		free(busy);
		return -1;
	}
	for (int s = 0; s < net->nsteps; s++) {
		int vid = net->steps[s].out, root = vid;
		while (net->values[root].parent >= 0)
			root = net->values[root].parent;
		if (net->values[root].buf >= 0) { /* a slice of a concat already placed */
			net->values[vid].buf = net->values[root].buf;
			goto release;
		}
		value *v = &net->values[root];
		int best = -1;
		for (int b = 0; b < net->nbufs; b++)
			if (!busy[b] && net->buf_size[b] >= v->per_image &&
			    (best < 0 || net->buf_size[b] < net->buf_size[best]))
				best = b;
		if (best < 0) /* grow the largest free buffer rather than add one */
			for (int b = 0; b < net->nbufs; b++)
				if (!busy[b] && (best < 0 || net->buf_size[b] > net->buf_size[best]))
					best = b;
		if (best < 0)
			best = net->nbufs++;
		if (net->buf_size[best] < v->per_image)
			net->buf_size[best] = v->per_image;
		busy[best] = 1;
		v->buf = best;
		net->values[vid].buf = best;
		if (v->last_use < 0) /* never read (not an output): free at once */
			busy[best] = 0;
release:;
		const step *st = &net->steps[s];
		for (int j = 0; j <= st->nin; j++) {
			int in = j < st->nin ? st->in[j] : st->res;
			while (in >= 0 && net->values[in].parent >= 0)
				in = net->values[in].parent; /* a slice: its concat's buffer */
			if (in >= 0 && net->values[in].last_use == s)
				busy[net->values[in].buf] = 0;
		}
	}
	free(busy);
	/* chunk: keep the largest activation of a chunk within a few MB (cache sized);
	 * CT_NN_CHUNK overrides (benchmarks) */
	int64_t maxv = 1;
	for (int v = 0; v < net->nvalues; v++)
		maxv = net->values[v].per_image > maxv ? net->values[v].per_image : maxv;
	net->chunk = (int)((int64_t)(2 << 20) / maxv);
	const char *env = getenv("CT_NN_CHUNK");
	if (env && atoi(env) > 0)
		net->chunk = atoi(env);
	if (net->chunk < 1)
		net->chunk = 1;
	if (net->chunk > 64)
		net->chunk = 64;
	for (int i = 0; i < net->nsteps; i++)
		step_opname(net, &net->steps[i]);
	return 0;
}

static void net_release_buffers(ct_net *net)
{
	if (net->bufs)
		for (int b = 0; b < net->nbufs * net->nctx; b++)
			free(net->bufs[b]);
	free(net->bufs);
	net->bufs = NULL;
	free(net->work);
	net->work = NULL;
	for (int i = 0; i < net->nout; i++) {
		free(net->outs[i].pooled);
		free(net->outs[i].raw);
		net->outs[i].pooled = net->outs[i].raw = NULL;
	}
	net->batch = 0;
	net->arena_bytes = 0;
}

int ct_net_reserve(ct_net *net, int batch)
{
	if (batch < 1)
		return ct_error("batch size must be positive");
	int threads = ct_nn_threads();
	if (batch <= net->batch && threads <= net->threads)
		return 0;
	net_release_buffers(net);
	net->nctx = threads;
	net->bufs = xcalloc((size_t)net->nbufs * threads, sizeof(float *));
	if (!net->bufs)
		return -1;
	size_t total = 0;
	int per_run = batch < net->chunk ? batch : net->chunk;
	for (int b = 0; b < net->nbufs * threads; b++) {
		size_t n, bytes;
		if (ct_mul_size((size_t)net->buf_size[b % net->nbufs], (size_t)per_run, &n) ||
		    ct_mul_size(n, sizeof(float), &bytes))
			return ct_error("activation buffer size overflow");
		bytes = (bytes + 63) / 64 * 64;
		net->bufs[b] = aligned_alloc(64, bytes);
		if (!net->bufs[b]) {
			net_release_buffers(net);
			return ct_error("out of memory for activations (%zu bytes)", bytes);
		}
		total += bytes;
	}
	size_t wmax = 0;
	for (int s = 0; s < net->nsteps; s++)
		if (net->steps[s].kind == S_CONV) {
			size_t f = net->steps[s].wino ? ct_wino_work_floats(net->kern, net->steps[s].wino)
						      : ct_conv_work_floats(net->kern, &net->steps[s].geom);
			wmax = f > wmax ? f : wmax;
		}
	net->work_per_thread = wmax;
	size_t wbytes;
	if (ct_mul_size(wmax * sizeof(float), (size_t)threads, &wbytes))
		return ct_error("workspace size overflow");
	wbytes = (wbytes + 63) / 64 * 64;
	net->work = aligned_alloc(64, wbytes ? wbytes : 64);
	if (!net->work) {
		net_release_buffers(net);
		return ct_error("out of memory for the workspace");
	}
	total += wbytes;
	for (int i = 0; i < net->nout; i++) {
		out_spec *o = &net->outs[i];
		size_t per = net->pool != CT_POOL_NONE ? (size_t)o->c : (size_t)o->h * o->w * o->c;
		float *p = xcalloc((size_t)batch * per, sizeof(float));
		if (!p) {
			net_release_buffers(net);
			return -1;
		}
		if (net->pool != CT_POOL_NONE)
			o->pooled = p;
		else
			o->raw = p;
		total += (size_t)batch * per * sizeof(float);
	}
	net->batch = batch;
	net->threads = threads;
	net->arena_bytes = total;
	return 0;
}

ct_net *ct_net_new(const ct_graph *g, const ct_weights *w, const char *outputs, ct_pool pool)
{
	if (!g || g->err || g->n == 0) {
		ct_error("graph '%s' is not usable", g ? g->arch : "");
		return NULL;
	}
	if (ct_graph_check_weights(g, w)) {
		ct_error_prefix("model '%s'", g->arch);
		return NULL;
	}
	const ct_gemm_kernel *kern = ct_gemm_kernel_get();
	if (!kern)
		return NULL;
	ct_net *net = xcalloc(1, sizeof *net);
	if (!net)
		return NULL;
	net->g = g;
	net->kern = kern;
	net->pool = pool;
	net->steps = xcalloc((size_t)g->n * 2, sizeof(step));
	net->values = xcalloc((size_t)g->n * 2, sizeof(value));
	net->node_value = xcalloc((size_t)g->n, sizeof(int));
	net->outs = xcalloc((size_t)g->n, sizeof(out_spec));
	if (!net->steps || !net->values || !net->node_value || !net->outs)
		goto fail;
	const char *spec = outputs && *outputs ? outputs : g->default_output;
	while (*spec) {
		const char *end = strchr(spec, ',');
		size_t len = end ? (size_t)(end - spec) : strlen(spec);
		char name[CT_NODE_NAME];
		if (len == 0 || len >= sizeof name) {
			ct_error("bad output layer list '%s'", outputs);
			goto fail;
		}
		memcpy(name, spec, len);
		name[len] = 0;
		int node = ct_graph_find(g, name);
		if (node < 0) {
			ct_error_usage("model '%s' has no layer '%s'", g->arch, name);
			goto fail;
		}
		out_spec *o = &net->outs[net->nout++];
		o->node = node;
		o->h = g->nodes[node].h, o->w = g->nodes[node].w, o->c = g->nodes[node].c;
		spec += len + (end ? 1 : 0);
	}
	if (net->nout == 0) {
		ct_error("model '%s': no output layer", g->arch);
		goto fail;
	}
	if (plan(net, w))
		goto fail;
	return net;
fail:
	ct_net_free(net);
	return NULL;
}

void ct_net_free(ct_net *net)
{
	if (!net)
		return;
	net_release_buffers(net);
	free(net->prof);
	free(net->prof_best);
	if (net->steps)
		for (int s = 0; s < net->nsteps; s++) {
			ct_packed_release(&net->steps[s].packed);
			ct_wino_free(net->steps[s].wino);
			free(net->steps[s].pscale);
			free(net->steps[s].pshift);
			free(net->steps[s].w);
			free(net->steps[s].b);
		}
	free(net->steps);
	free(net->values);
	free(net->node_value);
	free(net->outs);
	free(net->buf_size);
	free(net);
}

static float *vbuf(const ct_net *net, int cx, int vid)
{
	return net->bufs[(size_t)cx * net->nbufs + net->values[vid].buf] + net->values[vid].off;
}

/* One step on activation set cx (workspace work) for n images with nt threads per op. */
static void run_step(const ct_net *net, int cx, float *work, const step *st, int n, int nt)
{
	ct_conv_geom gm = st->geom; /* steps are shared by the threads of a batch */
	gm.n = n;
	const ct_graph *g = net->g;
	const ct_node *nd = &g->nodes[st->node];
	float *out = vbuf(net, cx, st->out);
	switch (st->kind) {
	case S_PREP:
		break;
	case S_CONV: {
		const float *res = st->res >= 0 ? vbuf(net, cx, st->res) : NULL;
		ct_prologue pro = { st->pscale, st->pshift, st->pact };
		if (st->wino)
			ct_wino_conv(net->kern, st->wino, &gm, vbuf(net, cx, st->in[0]),
				     st->pscale ? &pro : NULL, res, res ? net->values[st->res].pitch : 0,
				     st->act, out, work, nt);
		else
			ct_conv2d_gemm_pro(net->kern, &gm, vbuf(net, cx, st->in[0]),
					   st->pscale ? &pro : NULL, &st->packed, res,
					   res ? net->values[st->res].pitch : 0, st->act, out, work, nt);
		break;
	}
	case S_DWCONV: {
		const float *res = st->res >= 0 ? vbuf(net, cx, st->res) : NULL;
		ct_op_dwconv_pro(&gm, vbuf(net, cx, st->in[0]), st->pact, st->w, st->b, res, st->act,
				 out, nt);
		break;
	}
	case S_POOL:
		ct_op_pool(st->is_max, &gm, vbuf(net, cx, st->in[0]), out, nt);
		break;
	case S_PAD: {
		const ct_node *src = &g->nodes[nd->in[0]];
		ct_op_zeropad(n, src->h, src->w, src->c, nd->pad_t, nd->pad_b, nd->pad_l,
			      nd->pad_r, vbuf(net, cx, st->in[0]), out, nt);
		break;
	}
	case S_CONCAT: {
		const float *ins[CT_NODE_MAXIN];
		int cs[CT_NODE_MAXIN];
		int copy = 0;
		for (int j = 0; j < st->nin; j++) {
			ins[j] = st->aliased[j] ? NULL : vbuf(net, cx, st->in[j]);
			cs[j] = g->nodes[nd->in[j]].c;
			copy |= !st->aliased[j];
		}
		if (copy)
			ct_op_concat((int64_t)n * nd->h * nd->w, st->nin, ins, cs, out,
				     net->values[st->out].pitch, nt);
		break;
	}
	case S_ADD: {
		const float *ins[CT_NODE_MAXIN];
		for (int j = 0; j < st->nin; j++)
			ins[j] = vbuf(net, cx, st->in[j]);
		ct_op_add((int64_t)n * nd->h * nd->w * nd->c, st->nin, ins, out, nt);
		break;
	}
	case S_BN:
		ct_op_scale_shift((int64_t)n * nd->h * nd->w, nd->c, vbuf(net, cx, st->in[0]), st->w,
				  st->b, st->act, out, nt);
		break;
	case S_ACT:
		ct_op_act((int64_t)n * nd->h * nd->w * nd->c, vbuf(net, cx, st->in[0]), st->act, out,
			  nt);
		break;
	case S_GPOOL: {
		const ct_node *src = &g->nodes[nd->in[0]];
		ct_op_gpool(st->is_max, n, (int64_t)src->h * src->w, src->c, vbuf(net, cx, st->in[0]),
			    out);
		break;
	}
	case S_SOFTMAX:
		ct_op_softmax((int64_t)n * nd->h * nd->w, nd->c, vbuf(net, cx, st->in[0]), out);
		break;
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Images [lo, hi) through the whole network on activation set cx, nt threads per op.
 * When profiling, each step's wall time times tscale is added to prof[cx][step]: 1 when
 * the threads share each op, 1/threads when each thread runs its own images, so that the
 * sum over steps and sets is the machine's time. */
static void run_images(const ct_net *net, int cx, float *work, const ct_tensor *images,
		       int64_t lo, int64_t hi, int nt, double tscale)
{
	double *prof = net->prof_on && net->prof && cx < net->prof_ctx
			       ? net->prof + (size_t)cx * net->nsteps
			       : NULL;
	const ct_graph *g = net->g;
	const step *first = &net->steps[0];
	const int64_t *s = images->shape + (images->ndim == 4 ? 1 : 0);
	int64_t per_img = s[0] * s[1] * s[2];
	for (int64_t i0 = lo; i0 < hi; i0 += net->chunk) {
		int cn = (int)(hi - i0 < net->chunk ? hi - i0 : net->chunk);
		float *x = vbuf(net, cx, first->out);
		int64_t numel = cn * per_img;
		if (images->dtype == CT_U8) {
			ct_prep_u8(g->prep, (int)s[2], /* perf hook: prep.c */ (const uint8_t *)images->data + i0 * per_img,
				numel, x);
		} else {
			memcpy(x, (const float *)images->data + i0 * per_img,
			       (size_t)numel * sizeof(float));
		}
		for (int st = 1; st < net->nsteps; st++) {
			double t0 = prof ? now_s() : 0;
			run_step(net, cx, work, &net->steps[st], cn, nt);
			if (prof) {
				double dt = (now_s() - t0) * tscale;
				double *best = net->prof_best + (size_t)cx * net->nsteps + st;
				prof[st] += dt;
				if (*best == 0 || dt / cn < *best)
					*best = dt / cn;
			}
		}
		for (int i = 0; i < net->nout; i++) {
			out_spec *o = &net->outs[i];
			int64_t hw = (int64_t)o->h * o->w;
			if (net->pool != CT_POOL_NONE)
				ct_op_gpool(net->pool == CT_POOL_MAX, cn, hw, o->c, vbuf(net, cx, o->value),
					    o->pooled + i0 * o->c);
			else
				memcpy(o->raw + i0 * hw * o->c, vbuf(net, cx, o->value),
				       (size_t)(cn * hw * o->c) * sizeof(float));
		}
	}
}

int ct_net_run(ct_net *net, const ct_tensor *images)
{
	const ct_graph *g = net->g;
	int n4 = images->ndim == 4;
	if ((images->ndim != 3 && !n4) || (images->dtype != CT_U8 && images->dtype != CT_F32))
		return ct_error("model '%s': input must be N x H x W x C uint8 or float32",
				g->arch);
	int64_t n = n4 ? images->shape[0] : 1;
	const int64_t *s = images->shape + (n4 ? 1 : 0);
	if (s[0] != g->in_h || s[1] != g->in_w || s[2] != g->in_c)
		return ct_error("model '%s': input is %lldx%lldx%lld, expected %dx%dx%d", g->arch,
				(long long)s[0], (long long)s[1], (long long)s[2], g->in_h, g->in_w,
				g->in_c);
	if (n < 1 || n > 1 << 20)
		return ct_error("model '%s': bad batch size %lld", g->arch, (long long)n);
	if (!ct_tensor_is_contiguous(images))
		return ct_error("model '%s': input tensor is not contiguous", g->arch);
	if (ct_net_reserve(net, (int)n))
		return -1;
	int nt = ct_nn_threads();
	/* Images go through the layers `chunk` at a time (results do not depend on it, see
	 * gemm.h): a whole batch of 299x299 activations would stream from DRAM layer after
	 * layer, a chunk stays in the caches. */
	const step *first = &net->steps[0];
	if (first->kind != S_PREP)
		return ct_error("model '%s': the input layer must come first", g->arch);
	/* A batch of at least one image per thread runs whole images in parallel, each
	 * thread on its own activation set: one parallel region per batch instead of one per
	 * layer. Smaller batches split every layer over the threads instead. Either way each
	 * output value is computed by the same operations, so results do not change. */
	if (nt > 1 && n >= nt) {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
		{
			int t = omp_get_thread_num(), tn = omp_get_num_threads();
			run_images(net, t, net->work + (size_t)t * net->work_per_thread, images,
				   n * t / tn, n * (t + 1) / tn, 1, 1.0 / tn);
		}
#endif
	} else {
		run_images(net, 0, net->work, images, 0, n, nt, 1.0);
	}
	net->last_n = (int)n;
	if (net->prof_on)
		net->prof_images += n;
	return 0;
}

int ct_net_noutputs(const ct_net *net)
{
	return net->nout;
}

const char *ct_net_output_name(const ct_net *net, int i)
{
	return i >= 0 && i < net->nout ? net->g->nodes[net->outs[i].node].name : NULL;
}

int ct_net_output_channels(const ct_net *net, int i)
{
	return i >= 0 && i < net->nout ? net->outs[i].c : -1;
}

int ct_net_output(const ct_net *net, int i, ct_tensor *view)
{
	if (i < 0 || i >= net->nout)
		return ct_error("no output %d", i);
	if (net->last_n == 0)
		return ct_error("model '%s' has not run", net->g->arch);
	const out_spec *o = &net->outs[i];
	if (net->pool != CT_POOL_NONE) {
		int64_t shape[2] = { net->last_n, o->c };
		*view = ct_tensor_wrap(o->pooled, CT_F32, 2, shape);
	} else {
		int64_t shape[4] = { net->last_n, o->h, o->w, o->c };
		*view = ct_tensor_wrap(o->raw, CT_F32, 4, shape);
	}
	return 0;
}

int ct_net_features(const ct_net *net, ct_tensor *out)
{
	if (net->pool == CT_POOL_NONE)
		return ct_error("model '%s': features need pooled outputs", net->g->arch);
	if (net->last_n == 0)
		return ct_error("model '%s' has not run", net->g->arch);
	int64_t d = 0;
	for (int i = 0; i < net->nout; i++)
		d += net->outs[i].c;
	if (ct_tensor_alloc(out, CT_F32, 2, (int64_t[2]){ net->last_n, d }))
		return -1;
	float *p = out->data;
	for (int64_t r = 0; r < net->last_n; r++)
		for (int i = 0; i < net->nout; i++) {
			const out_spec *o = &net->outs[i];
			memcpy(p, o->pooled + r * o->c, (size_t)o->c * sizeof(float));
			p += o->c;
		}
	return 0;
}

size_t ct_net_arena_bytes(const ct_net *net)
{
	return net->arena_bytes;
}

double ct_net_flops(const ct_net *net)
{
	double f = 0;
	for (int s = 0; s < net->nsteps; s++)
		f += net->steps[s].flops;
	return f;
}

const char *ct_net_kernel(const ct_net *net)
{
	return net->kern->name;
}

int ct_net_profile_enable(ct_net *net, int on)
{
	free(net->prof);
	free(net->prof_best);
	net->prof = net->prof_best = NULL;
	net->prof_images = 0;
	net->prof_on = 0;
	if (!on)
		return 0;
	/* one row per activation set the run may use (threads, at most) */
	int ctx = ct_nn_threads();
	net->prof = xcalloc((size_t)ctx * (size_t)net->nsteps, sizeof(double));
	net->prof_best = xcalloc((size_t)ctx * (size_t)net->nsteps, sizeof(double));
	if (!net->prof || !net->prof_best)
		return -1;
	net->prof_ctx = ctx;
	net->prof_on = 1;
	return 0;
}

int ct_net_nsteps(const ct_net *net)
{
	return net->nsteps;
}

int ct_net_step_get(const ct_net *net, int i, ct_net_step_info *info)
{
	if (i < 0 || i >= net->nsteps)
		return ct_error("no step %d", i);
	const step *st = &net->steps[i];
	memset(info, 0, sizeof *info);
	info->layer = net->g->nodes[st->head].name;
	info->last = net->g->nodes[st->node].name;
	info->op = st->opname;
	info->kh = st->geom.kh, info->kw = st->geom.kw;
	info->sh = st->geom.sh, info->sw = st->geom.sw;
	info->cin = st->geom.cin, info->cout = st->geom.cout;
	info->oh = st->geom.oh, info->ow = st->geom.ow;
	info->flops = st->flops;
	info->images = net->prof_images;
	if (net->prof)
		for (int c = 0; c < net->prof_ctx; c++) {
			info->seconds += net->prof[(size_t)c * net->nsteps + i];
			double b = net->prof_best[(size_t)c * net->nsteps + i];
			if (b > 0 && (info->best == 0 || b < info->best))
				info->best = b;
		}
	return 0;
}
