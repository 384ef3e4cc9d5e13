/* irb.c - an inverted residual block run in row tiles: [conv ->] depthwise -> 1x1 conv
 * (MobileNetV2's expand 1x1 + BN + ReLU6 -> depthwise 3x3 + BN + ReLU6 -> project 1x1 + BN
 * (+ Add); Xception's separable convs alike) computed a few output rows at a time, so the
 * expanded tensor and the depthwise output stay in L2 instead of going through memory.
 *
 * Every value is computed by the same kernel calls as when the steps run one by one: the
 * expand and project GEMMs reduce each output over K in the same order whatever the rows
 * of the call, the depthwise kernels give the same bits on a row range of a smaller
 * geometry as on the whole image (a tile's first row keeps its padding or its real rows).
 * So fusing changes no bit, for any tile height and thread count. */
#include "nn/net_impl.h"
#include "nn/irb.h"
#include "nn/ops.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int env_int(const char *name, int dflt)
{
	const char *e = getenv(name);
	return e && *e ? atoi(e) : dflt;
}

static int pointwise(const ct_conv_geom *g)
{
	return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pad_t == 0 &&
	       g->pad_l == 0;
}

/* value v is written by step s, read by step s+1 only, dense and not an output */
static int private_value(const ct_net *net, int v, int s)
{
	const value *x = &net->values[v];
	return x->last_use == s + 1 && x->parent < 0 && net->steps[s + 1].in[0] == v &&
	       net->steps[s + 1].nin == 1 && net->steps[s + 1].res != v;
}

static int is_conv(const ct_net *net, const step *st)
{
	return st->kind == S_CONV && !st->wino && net->g->nodes[st->head].op != CT_OP_DENSE;
}

/* the depthwise -> pointwise pair starting at step s */
static int pair_at(const ct_net *net, int s)
{
	if (s + 1 >= net->nsteps)
		return 0;
	const step *d = &net->steps[s], *p = &net->steps[s + 1];
	return d->kind == S_DWCONV && d->res < 0 && d->geom.dh == 1 && d->geom.kh <= 7 &&
	       is_conv(net, p) && pointwise(&p->geom) && !p->pscale && private_value(net, d->out, s) && d->geom.out_pitch == d->geom.cout;
}

void ct_irb_plan(ct_net *net)
{
	/* at batch 1 a block is split by output rows: 7 each fuses MobileNetV2's 14 x 14
	 * blocks on 2 threads and leaves the 7 x 7 ones to the per-op split (gemm_split.c) */
	net->irb_minrows = env_int("CT_IRB_MINROWS", 7);
	if (!env_int("CT_IRB", 1))
		return;
	const int kb = env_int("CT_IRB_KB", 384);
	/* depthwise -> 1x1 pairs without an expand conv in front (Xception's separable convs)
	 * measured 5-10% slower fused (one thread, in-process A/B, 2026-12-02): off unless
	 * CT_IRB_PAIRS=1 */
	const int pairs = env_int("CT_IRB_PAIRS", 0);
	for (int s = 1; s < net->nsteps; s++) {
		step *st = &net->steps[s];
		int expand = 0;
		if (is_conv(net, st) && st->res < 0 && s + 2 < net->nsteps && pair_at(net, s + 1) &&
		    private_value(net, st->out, s) && st->geom.out_pitch == st->geom.cout)
			expand = 1;
		else if (!pairs || !pair_at(net, s))
			continue;
		const step *d = &net->steps[s + expand], *p = &net->steps[s + expand + 1];
		const ct_conv_geom *dg = &d->geom;
		/* worth it where the tensors kept out of memory outweigh the weights the tiles
		 * stream: not at MobileNetV2's 7 x 7 blocks (188 KB expanded, 1-2 MB of weights)
		 * nor in Xception's middle flow (1 MB, 4 MB) */
		double wbytes = 4.0 * (double)p->packed.k * p->packed.n;
		if (expand)
			wbytes += 4.0 * (double)st->packed.k * st->packed.n;
		if (4.0 * dg->h * dg->w * dg->cin < wbytes)
			continue;
		/* output rows per tile from the shape only: the expanded rows (s per output row)
		 * and the depthwise output of a tile within about kb KiB */
		double row = (double)dg->sh * dg->w * dg->cin + (double)dg->ow * dg->cin;
		int t = (int)((double)kb * 256.0 / row);
		/* and at least the rows of one GEMM block (conv.c's MC_MAX): each tile streams
		 * the weights of both 1x1 convs again (2 MB for Xception's 728 x 728) */
		int tmin = (192 + dg->ow - 1) / dg->ow;
		/* where tmin rows need more than three times the budget the group's tensors
		 * do not stay in L2 anyway, and every tile streams the weights again:
		 * Xception's block4 (37 x 37 x 728: 6-row tiles of 1.5 MB, 2.9 MB of weights
		 * per tile) runs unfused (perf6: unfused as fast on one thread, on two the
		 * fused rows split 3 tiles against 4, the last of one row) */
		if (t * 3 < tmin && env_int("CT_IRB_WIDE", 0) == 0)
			continue;
		t = t < tmin ? tmin : t;
		t = t < 1 ? 1 : t > dg->oh ? dg->oh : t;
		t = (dg->oh + (dg->oh + t - 1) / t - 1) / ((dg->oh + t - 1) / t); /* even tiles */
		int erows = (t - 1) * dg->sh + (dg->kh - 1) * dg->dh + 1;
		size_t f = 0;
		if (expand)
			f += (size_t)erows * dg->w * dg->cin + 16;
		f += (size_t)t * dg->ow * dg->cin + 16;
		size_t w1 = expand ? ct_conv_work_floats(net->kern, &st->geom) : 0;
		size_t w2 = ct_conv_work_floats(net->kern, &p->geom);
		f += w1 > w2 ? w1 : w2;
		st->fuse = 1 + expand;
		st->tile = t;
		st->fwork = f;
		/* the block's input is read until its last tile: its buffer must not be reused
		 * for the block's output (a slice keeps its concat buffer alive) */
		for (int v = st->in[0]; v >= 0; v = net->values[v].parent)
			if (net->values[v].last_use < s + st->fuse)
				net->values[v].last_use = s + st->fuse;
		s += 1 + expand;
	}
}

int ct_irb_use(const ct_net *net, const step *st, int n, int nt)
{
	if (!st->fuse)
		return 0;
	const step *d = st + st->fuse - 1;
	/* split over the threads by output rows: each thread recomputes the expanded rows
	 * at its range's edges, worth it only with enough rows each */
	return nt <= 1 || (int64_t)n * d->geom.oh >= (int64_t)nt * net->irb_minrows;
}

static float *vptr(const ct_net *net, int cx, int vid)
{
	return net->bufs[(size_t)cx * net->nbufs + net->values[vid].buf] + net->values[vid].off;
}

/* Output rows [y0, y1) of image img of the group at st, one thread, workspace work. */
/* x's geometry for one image's output rows [o0, o1) read from its input rows [i0, i1),
 * written with row pitch out_pitch (the slice starts at input row i0). */
static ct_conv_geom row_slice(const ct_conv_geom *x, int i0, int i1, int o0, int o1, int64_t out_pitch)
{
	ct_conv_geom g = *x;
	g.n = 1;
	g.h = i1 - i0;
	g.pad_t = x->pad_t - o0 * x->sh + i0;
	g.oh = o1 - o0;
	g.out_pitch = out_pitch;
	return g;
}

static void run_rows(const ct_net *net, int cx, const step *st, int img, int y0, int y1,
		     float *work)
{
	const int expand = st->fuse == 2;
	const step *e = expand ? st : NULL, *d = st + expand, *p = d + 1;
	const ct_conv_geom *dg = &d->geom;
	const int eh = dg->h, ew = dg->w, ce = dg->cin, T = st->tile;
	const int erows = (T - 1) * dg->sh + (dg->kh - 1) * dg->dh + 1;
	float *ebuf = work, *dbuf = work, *gwork;
	if (expand)
		dbuf = ebuf + ((size_t)erows * ew * ce + 15) / 16 * 16;
	gwork = dbuf + ((size_t)T * dg->ow * ce + 15) / 16 * 16;
	const float *in = vptr(net, cx, st->in[0]);
	const int64_t in_pitch = net->values[st->in[0]].pitch;
	float *out = vptr(net, cx, p->out);
	const float *res = p->res >= 0 ? vptr(net, cx, p->res) : NULL;
	const int64_t ldr = p->res >= 0 ? net->values[p->res].pitch : 0;
	const int64_t opitch = p->geom.out_pitch;
	int b0 = 0, b1 = 0; /* expanded rows [b0, b1) held in ebuf */
	for (int t0 = y0; t0 < y1; t0 += T) {
		int t1 = t0 + T < y1 ? t0 + T : y1;
		int e0 = t0 * dg->sh - dg->pad_t, e1 = (t1 - 1) * dg->sh - dg->pad_t +
						       (dg->kh - 1) * dg->dh + 1;
		e0 = e0 < 0 ? 0 : e0;
		e1 = e1 > eh ? eh : e1;
		const float *din;
		int64_t dpitch;
		if (expand) {
			const ct_conv_geom *xg = &e->geom;
			if (b1 > e0 && e0 >= b0) { /* keep the rows this tile shares with the last */
				memmove(ebuf, ebuf + (size_t)(e0 - b0) * ew * ce,
					(size_t)(b1 - e0) * ew * ce * sizeof(float));
				b0 = e0;
			} else {
				b0 = b1 = e0;
			}
			if (b1 < e1) { /* conv output rows [b1, e1): the rows of input they read */
				int i0 = b1 * xg->sh - xg->pad_t;
				int i1 = (e1 - 1) * xg->sh - xg->pad_t + (xg->kh - 1) * xg->dh + 1;
				i0 = i0 < 0 ? 0 : i0;
				i1 = i1 > xg->h ? xg->h : i1;
				ct_conv_geom g = row_slice(xg, i0, i1, b1, e1, ce);
				ct_prologue pro = { e->pscale, e->pshift, e->pact };
				ct_conv2d_gemm_pro(net->kern, &g,
						   in + ((int64_t)img * xg->h + i0) * xg->w * in_pitch,
						   e->pscale ? &pro : NULL, &e->packed, NULL, 0, e->act,
						   ebuf + (size_t)(b1 - b0) * ew * ce, gwork, 1);
				b1 = e1;
			}
			din = ebuf;
			dpitch = ce;
		} else {
			din = in + ((int64_t)img * eh + e0) * ew * in_pitch;
			dpitch = in_pitch;
		}
		ct_conv_geom g = row_slice(dg, e0, e1, t0, t1, ce);
		g.in_pitch = dpitch;
		ct_op_dwconv_pro(&g, din, d->pact, d->w, d->b, NULL, d->act, dbuf, 1);
		ct_conv_geom pg = p->geom;
		pg.n = 1;
		pg.h = pg.oh = t1 - t0;
		pg.in_pitch = ce;
		int64_t o = ((int64_t)img * dg->oh + t0) * dg->ow;
		ct_conv2d_gemm_pro(net->kern, &pg, dbuf, NULL, &p->packed, res ? res + o * ldr : NULL,
				   ldr, p->act, out + o * opitch, gwork, 1);
	}
}

void ct_irb_run(const ct_net *net, int cx, float *work, const step *st, int n, int nt)
{
	const step *d = st + st->fuse - 1;
	const int oh = d->geom.oh;
	const int64_t rows = (int64_t)n * oh;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
	{
#ifdef _OPENMP
		int t = omp_get_thread_num(), tn = omp_get_num_threads();
#else
		int t = 0, tn = 1;
#endif
		/* a fixed split of the output rows; each image's part in tiles */
		int64_t r0 = rows * t / tn, r1 = rows * (t + 1) / tn;
		float *w = tn > 1 ? net->work + (size_t)t * net->work_per_thread : work;
		while (r0 < r1) {
			int img = (int)(r0 / oh), y0 = (int)(r0 % oh);
			int y1 = r1 - (int64_t)img * oh < oh ? (int)(r1 - (int64_t)img * oh) : oh;
			run_rows(net, cx, st, img, y0, y1, w);
			r0 = (int64_t)img * oh + y1;
		}
	}
}
