/* net.c - the engine's public face: a net's life (new, reserve, free) and what it reports.
 * Weights are bound in bind.c, the steps and buffers planned in plan.c, batches run in run.c. */
#include "nn/net_impl.h"

#include <string.h>

void ct_net_release_buffers(ct_net *net)
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
	ct_net_release_buffers(net);
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
			ct_net_release_buffers(net);
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
	for (int s = 0; s < net->nsteps; s++) /* fused blocks (irb.c) */
		wmax = net->steps[s].fwork > wmax ? net->steps[s].fwork : wmax;
	net->work_per_thread = wmax;
	size_t wbytes;
	if (ct_mul_size(wmax * sizeof(float), (size_t)threads, &wbytes))
		return ct_error("workspace size overflow");
	wbytes = (wbytes + 63) / 64 * 64;
	net->work = aligned_alloc(64, wbytes ? wbytes : 64);
	if (!net->work) {
		ct_net_release_buffers(net);
		return ct_error("out of memory for the workspace");
	}
	total += wbytes;
	for (int i = 0; i < net->nout; i++) {
		out_spec *o = &net->outs[i];
		size_t per = net->pool != CT_POOL_NONE ? (size_t)o->c : (size_t)o->h * o->w * o->c;
		float *p = xcalloc((size_t)batch * per, sizeof(float));
		if (!p) {
			ct_net_release_buffers(net);
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
	if (ct_net_plan(net, w))
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
	ct_net_release_buffers(net);
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

/* Profiled seconds of step i, all contexts. */
static double step_seconds(const ct_net *net, int i)
{
	double s = 0;
	for (int c = 0; net->prof && c < net->prof_ctx; c++)
		s += net->prof[(size_t)c * net->nsteps + i];
	return s;
}

/* The first step of the fused group (irb.c) step i belongs to, or i. A group is at most
 * three steps (fuse <= 2: [conv ->] dwconv -> 1x1 conv). */
static int group_head(const ct_net *net, int i)
{
	for (int j = i - 1; j >= 0 && j >= i - 2; j--)
		if (net->steps[j].fuse >= i - j)
			return j;
	return i;
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
	/* A group that ran fused is timed on its first step: its flops are counted there, and
	 * its other steps (never run alone) report none. */
	int h = group_head(net, i);
	if (net->prof && h != i && step_seconds(net, i) == 0 && step_seconds(net, h) > 0)
		info->flops = 0;
	for (int j = i + 1; net->prof && h == i && j <= i + st->fuse && j < net->nsteps; j++)
		if (step_seconds(net, j) == 0 && step_seconds(net, i) > 0)
			info->flops += net->steps[j].flops;
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
