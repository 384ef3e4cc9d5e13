/* plan.c - a graph bound to weights becomes steps: fusion (BN folded into the conv, BN and
 * activation in front of a conv as its prologue, activation and Add as its epilogue, padding
 * into the conv), concat inputs written in place, liveness, buffers, the chunk size. */
#include "nn/net_impl.h"
#include "nn/irb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		ct_net_bn_coeffs(w, bn, sc, sh);
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
		ct_net_bn_coeffs(w, &g->nodes[tail], scale, shift);
	}
	const float *kern = ct_net_weight(w, nd, nd->op == CT_OP_DWCONV2D ? "depthwise_kernel"
					 : sep			   ? "pointwise_kernel"
								   : "kernel");
	const float *bias = nd->use_bias ? ct_net_weight(w, nd, "bias") : NULL;
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
	const float *kern = ct_net_weight(w, nd, "depthwise_kernel");
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

/* Pass 1: the nodes the outputs need, and the consumers of each among them. */
static void find_needed(const ct_net *net, char *need, usage *use)
{
	const ct_graph *g = net->g;
	int n = g->n;
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
}

/* Pass 2, per node: is node i absorbed by its only consumer (no step of its own)? Then 1,
 * with the consumer's prologue (pro_bn, pro_act) and the fused marks set. */
static int absorbed(ct_net *net, const usage *use, int i, int *fused, int *pro_bn, int *pro_act)
{
	const ct_graph *g = net->g;
	const ct_node *nd = &g->nodes[i];
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
			return 1;
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
		return 1;
	}
	/* a ZeroPadding2D whose only consumer is a conv is absorbed by it */
	if (nd->op == CT_OP_ZEROPAD && use[i].count == 1 && !is_output(net, i)) {
		const ct_node *c = &g->nodes[use[i].first];
		if (c->op == CT_OP_CONV2D || c->op == CT_OP_DWCONV2D)
			return 1;
	}
	return 0;
}

/* Pass 2: the steps, in graph order. A conv takes in the ZeroPadding2D before it and the BN,
 * activation and Add after it (plan_conv); a separable conv makes two steps, a dense layer
 * with softmax two; a BN takes a following activation. */
static int make_steps(ct_net *net, const ct_weights *w, const char *need, const usage *use,
		      int *fused, int *pro_bn, int *pro_act)
{
	const ct_graph *g = net->g;
	int n = g->n;
	for (int i = 0; i < n; i++)
		net->node_value[i] = -1;
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		const ct_node *nd = &g->nodes[i];
		if (!need[i] || fused[i])
			continue;
		if (absorbed(net, use, i, fused, pro_bn, pro_act))
			continue;
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
			ct_net_bn_coeffs(w, nd, sc, sh);
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
			/* an Add of the pool and a value already computed, the pool's only
			 * reader, is done as the pool writes (Xception's entry flow: one
			 * pass over the activations less) */
			if (use[i].count == 1 && !is_output(net, i)) {
				const ct_node *nx = &g->nodes[use[i].first];
				int other = nx->nin == 2 ? nx->in[nx->in[0] == i] : -1;
				if (nx->op == CT_OP_ADD && other >= 0 && other != i &&
				    net->node_value[other] >= 0) {
					st->res = net->node_value[other];
					st->node = use[i].first;
				}
			}
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
	return rc;
}

/* Pass 3: the value of each output; an output must not have been fused away. */
static int find_outputs(ct_net *net)
{
	const ct_graph *g = net->g;
	for (int i = 0; i < net->nout; i++) {
		net->outs[i].value = net->node_value[net->outs[i].node];
		if (net->outs[i].value < 0)
			return ct_error("layer '%s': output was fused away",
					g->nodes[net->outs[i].node].name);
	}
	return 0;
}

/* Pass 4: concat inputs produced by a conv, pool or concat are written straight into their
 * channel slice of the concat (no copy) when the concat is their only reader that
 * needs them contiguous: other readers must be convs, depthwise convs or pools (which
 * read with a pixel pitch). DenseNet's growing block input x_k then lives in the
 * first channels of the final block buffer and no layer copies it. */
static int alias_concat_inputs(ct_net *net)
{
	const ct_graph *g = net->g;
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
	return 0;
}

/* Pass 5: where each value sits in its buffer (a slice: its concat's offset and pitch), and
 * the pitches the convs and pools read and write with. */
static void resolve_offsets(ct_net *net)
{
	const ct_graph *g = net->g;
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
}

/* Pass 6: liveness, the last step reading each value; outputs live to the end. */
static void find_liveness(ct_net *net)
{
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
}

/* Pass 7: buffers, best fit among free ones, else a new one (sizes per image). */
static int assign_buffers(ct_net *net)
{
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
	return 0;
}

/* Pass 8: the chunk, images run through the layers at a time: keep the largest activation
 * of a chunk within a few MB (cache sized); CT_NN_CHUNK overrides (benchmarks). */
static void choose_chunk(ct_net *net)
{
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
}

int ct_net_plan(ct_net *net, const ct_weights *w)
{
	int n = net->g->n;
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
	find_needed(net, need, use);
	int rc = make_steps(net, w, need, use, fused, pro_bn, pro_act);
	free(need);
	free(use);
	free(fused);
	free(pro_bn);
	free(pro_act);
	if (rc)
		return -1;
	if (find_outputs(net) || alias_concat_inputs(net))
		return -1;
	resolve_offsets(net);
	find_liveness(net);
	ct_irb_plan(net); /* perf hook: fused inverted residual blocks (irb.c) */
	if (assign_buffers(net))
		return -1;
	choose_chunk(net);
	for (int i = 0; i < net->nsteps; i++)
		step_opname(net, &net->steps[i]);
	return 0;
}
