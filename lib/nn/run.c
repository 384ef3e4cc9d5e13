/* run.c - a batch through the planned steps: Keras preprocessing of uint8 pixels, each step's
 * kernel, whole images per thread or each op over the threads, profiling. */
#include "nn/net_impl.h"
#include "nn/ops.h"
#include "nn/prep.h"
#include "nn/irb.h"

#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

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
		ct_op_pool_res(st->is_max, &gm, vbuf(net, cx, st->in[0]),
			       st->res >= 0 ? vbuf(net, cx, st->res) : NULL,
			       st->res >= 0 ? net->values[st->res].pitch : 0, out, nt);
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
			ct_prep_u8(g->prep, (int)s[2], (const uint8_t *)images->data + i0 * per_img,
				numel, x);
		} else {
			memcpy(x, (const float *)images->data + i0 * per_img,
			       (size_t)numel * sizeof(float));
		}
		for (int st = 1; st < net->nsteps; st++) {
			double t0 = prof ? now_s() : 0;
			const step *sp = &net->steps[st];
			int fused = ct_irb_use(net, sp, cn, nt); /* perf hook: irb.c */
			if (fused)
				ct_irb_run(net, cx, work, sp, cn, nt);
			else
				run_step(net, cx, work, sp, cn, nt);
			if (prof) {
				double dt = (now_s() - t0) * tscale;
				double *best = net->prof_best + (size_t)cx * net->nsteps + st;
				prof[st] += dt;
				if (*best == 0 || dt / cn < *best)
					*best = dt / cn;
			}
			if (fused)
				st += sp->fuse; /* the group's time is its first step's */
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
