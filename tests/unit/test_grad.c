/* test_grad.c - gradients of the layer ops and of a sub-network above a cut (nn/backward.h)
 * against central finite differences of the double-precision reference interpreter
 * (test_nn_ref.h, written independently of the engine from the Keras definitions).
 *
 * Why the tolerance is tight: every op here is piecewise linear in any one input or weight
 * (conv, dense, depthwise, batch norm with frozen statistics, pooling, concat, add are
 * linear; ReLU, ReLU6 and max pooling switch linear pieces at kinks), so with a step of
 * 1e-5 on random inputs the central difference of the double reference equals the
 * derivative up to ~1e-10 (no kink is crossed except with negligible probability). The
 * analytic gradient is accumulated in float32 over at most a few thousand terms, a
 * relative error below 1e-5; we accept 1e-3 of the largest gradient of each tensor. A
 * weight step is the exact difference of the two float32 weights, so quantising the step
 * to float adds no error. */
#include "test.h"
#include "test_nn_ref.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/backward.h"
#include "nn/net.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static ct_rng rng;
#define TOL 1e-3
#define STEP 1e-5

/* L = sum r_i y_i of the reference output (pooled as the sub-network pools). */
static double ref_loss(const ct_graph *g, const ct_weights *w, int n, const double *x, int out,
		       ct_pool pool, const double *r)
{
	double **v = ref_run(g, w, n, x, out);
	const ct_node *o = &g->nodes[out];
	int64_t hw = (int64_t)o->h * o->w;
	double L = 0;
	if (pool == CT_POOL_NONE) {
		for (int64_t i = 0; i < n * hw * o->c; i++)
			L += r[i] * v[out][i];
	} else {
		for (int b = 0; b < n; b++)
			for (int c = 0; c < o->c; c++) {
				double s = 0, m = -DBL_MAX;
				for (int64_t q = 0; q < hw; q++) {
					double e = v[out][((int64_t)b * hw + q) * o->c + c];
					s += e, m = e > m ? e : m;
				}
				L += r[b * o->c + c] * (pool == CT_POOL_AVG ? s / (double)hw : m);
			}
	}
	ref_free(g, v);
	return L;
}

/* Up to 48 coordinates of a tensor of `count` values, all when few. */
static int pick(int64_t count, int64_t *idx)
{
	if (count <= 48) {
		for (int64_t i = 0; i < count; i++)
			idx[i] = i;
		return (int)count;
	}
	for (int i = 0; i < 48; i++)
		idx[i] = (int64_t)ct_rng_below(&rng, (uint64_t)count);
	return 48;
}

/* Check the gradients of the sub-network cut -> out of g (synthetic weights) at random
 * inputs in [lo, hi]: its forward against the reference, dL/d(every trainable tensor)
 * and, when the cut is the input layer, dL/dx. Returns the worst normalised error. */
static double gradcheck(const ct_graph *g, const char *cut, const char *outname, ct_pool pool,
			int n, double lo, double hi, const char *what)
{
	if (g->err) {
		diag("%s: graph error %s", what, ct_last_error());
		return INFINITY;
	}
	ct_weights w = { 0 };
	if (ct_graph_testweights(g, &w))
		return INFINITY;
	ct_subnet *s = ct_subnet_new(g, &w, cut, outname, pool);
	if (!s) {
		diag("%s: %s", what, ct_last_error());
		ct_weights_free(&w);
		return INFINITY;
	}
	int ci = ct_graph_find(g, cut), oi = ct_graph_find(g, outname);
	int at_input = g->nodes[ci].op == CT_OP_INPUT;
	int64_t nin = (int64_t)n * g->in_h * g->in_w * g->in_c;
	double *x = malloc((size_t)nin * sizeof *x);
	for (int64_t i = 0; i < nin; i++)
		x[i] = ct_rng_range(&rng, lo, hi);
	/* the cut's activations as the sub-network's input */
	double **v = ref_run(g, &w, n, x, ci);
	int64_t ncut = (int64_t)n * g->nodes[ci].h * g->nodes[ci].w * g->nodes[ci].c;
	float *xc = malloc((size_t)ncut * sizeof *xc), *dx = malloc((size_t)ncut * sizeof *dx);
	for (int64_t i = 0; i < ncut; i++)
		xc[i] = (float)v[ci][i];
	ref_free(g, v);
	int64_t nout = n * ct_subnet_out_size(s);
	float *y = malloc((size_t)nout * sizeof *y), *dy = malloc((size_t)nout * sizeof *dy);
	double *r = malloc((size_t)nout * sizeof *r);
	for (int64_t i = 0; i < nout; i++)
		r[i] = ct_rng_range(&rng, -1, 1), dy[i] = (float)r[i];
	double err = 0;
	if (ct_subnet_forward(s, xc, n, y) || ct_subnet_backward(s, dy, dx)) {
		diag("%s: %s", what, ct_last_error());
		err = INFINITY;
	}
	/* forward against the reference */
	if (err == 0) {
		double L = ref_loss(g, &w, n, x, oi, pool, r), Lf = 0, S = 0;
		for (int64_t i = 0; i < nout; i++)
			Lf += r[i] * y[i], S += fabs(r[i] * y[i]);
		double e = fabs(L - Lf) / (S > 1e-30 ? S : 1);
		if (e > 1e-5) {
			diag("%s: forward differs from the reference by %.3g", what, e);
			err = INFINITY;
		}
	}
	int64_t idx[48];
	/* dL/dx (cut at the input layer: the reference takes x directly) */
	if (err == 0 && at_input) {
		int m = pick(nin, idx);
		double e = 0, gm = 1e-30;
		for (int j = 0; j < m; j++) {
			double x0 = x[idx[j]];
			x[idx[j]] = x0 + STEP;
			double lp = ref_loss(g, &w, n, x, oi, pool, r);
			x[idx[j]] = x0 - STEP;
			double lm = ref_loss(g, &w, n, x, oi, pool, r);
			x[idx[j]] = x0;
			double fd = (lp - lm) / (2 * STEP);
			e = fabs(fd - dx[idx[j]]) > e ? fabs(fd - dx[idx[j]]) : e;
			gm = fabs(fd) > gm ? fabs(fd) : gm;
		}
		e /= gm > 1e-3 ? gm : 1e-3;
		if (e > TOL)
			diag("%s: dL/dx error %.3g", what, e);
		err = e > err ? e : err;
	}
	/* dL/dW of every trainable tensor */
	for (int p = 0; err < INFINITY && p < ct_subnet_nparams(s); p++) {
		ct_sparam *sp = ct_subnet_param(s, p);
		if (!sp->trainable)
			continue;
		const ct_wtensor *t =
			ct_wlayer_get(ct_weights_find(&w, g->nodes[sp->node].name), sp->name);
		float *wd = t->t.data;
		int m = pick(sp->count, idx);
		double e = 0, gm = 1e-30;
		for (int j = 0; j < m; j++) {
			float w0 = wd[idx[j]];
			float wp = (float)(w0 + STEP * (1 + fabs(w0))), wm = (float)(w0 - STEP * (1 + fabs(w0)));
			wd[idx[j]] = wp;
			double lp = ref_loss(g, &w, n, x, oi, pool, r);
			wd[idx[j]] = wm;
			double lm = ref_loss(g, &w, n, x, oi, pool, r);
			wd[idx[j]] = w0;
			double fd = (lp - lm) / ((double)wp - (double)wm);
			e = fabs(fd - sp->g[idx[j]]) > e ? fabs(fd - sp->g[idx[j]]) : e;
			gm = fabs(fd) > gm ? fabs(fd) : gm;
		}
		e /= gm > 1e-3 ? gm : 1e-3;
		if (e > TOL)
			diag("%s: dL/d %s/%s error %.3g", what, g->nodes[sp->node].name, sp->name, e);
		err = e > err ? e : err;
	}
	free(x), free(xc), free(dx), free(y), free(dy), free(r);
	ct_subnet_free(s);
	ct_weights_free(&w);
	return err;
}

static void conv_cases(void)
{
	static const struct {
		int h, w, c, f, kh, kw, s, same, bias;
		ct_act act;
		const char *what;
	} cs[] = {
		{ 5, 4, 3, 4, 1, 1, 1, 0, 1, CT_ACT_NONE, "1x1" },
		{ 6, 5, 3, 4, 3, 3, 1, 1, 0, CT_ACT_NONE, "3x3 same" },
		{ 7, 6, 2, 3, 3, 3, 1, 0, 1, CT_ACT_NONE, "3x3 valid" },
		{ 7, 8, 3, 4, 3, 3, 2, 1, 1, CT_ACT_NONE, "3x3 same stride 2 (asymmetric pad)" },
		{ 9, 9, 2, 3, 3, 3, 2, 0, 0, CT_ACT_NONE, "3x3 valid stride 2" },
		{ 8, 9, 3, 2, 1, 7, 1, 1, 0, CT_ACT_NONE, "1x7 same" },
		{ 9, 8, 3, 2, 7, 1, 1, 1, 1, CT_ACT_NONE, "7x1 same" },
		{ 6, 6, 3, 5, 1, 1, 2, 0, 1, CT_ACT_NONE, "1x1 stride 2" },
		{ 5, 5, 2, 3, 3, 3, 1, 1, 1, CT_ACT_RELU, "3x3 with fused relu" },
	};
	for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
		ct_graph *g = ct_graph_new("t");
		int x = ct_graph_input(g, "in", cs[i].h, cs[i].w, cs[i].c);
		ct_graph_conv2d(g, "conv", x, cs[i].f, cs[i].kh, cs[i].kw, cs[i].s, cs[i].s, cs[i].same,
				cs[i].bias, cs[i].act);
		double e = gradcheck(g, "in", "conv", CT_POOL_NONE, 2, -2, 2, cs[i].what);
		ok(e <= TOL, "conv2d %s: dx, dkernel%s match finite differences (err %.2g)",
		   cs[i].what, cs[i].bias ? ", dbias" : "", e);
		ct_graph_free(g);
	}
}

static void op_cases(void)
{
	double e;
	ct_graph *g;
	int x;

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 7, 6, 5);
	ct_graph_dwconv2d(g, "dw", x, 3, 3, 1, 1, 1, 1);
	e = gradcheck(g, "in", "dw", CT_POOL_NONE, 2, -2, 2, "dwconv");
	ok(e <= TOL, "depthwise conv 3x3 same with bias: dx, dkernel, dbias (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 8, 7, 4);
	ct_graph_dwconv2d(g, "dw", x, 3, 3, 2, 2, 0, 0);
	e = gradcheck(g, "in", "dw", CT_POOL_NONE, 2, -2, 2, "dwconv s2");
	ok(e <= TOL, "depthwise conv 3x3 valid stride 2: dx, dkernel (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 4, 3, 5);
	ct_graph_batchnorm(g, "bn", x, 1e-3f, 1, 1);
	e = gradcheck(g, "in", "bn", CT_POOL_NONE, 3, -2, 2, "bn");
	ok(e <= TOL, "batch norm (frozen statistics): dx, dgamma, dbeta (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 4, 3, 5);
	ct_graph_batchnorm(g, "bn", x, 1e-3f, 0, 1);
	e = gradcheck(g, "in", "bn", CT_POOL_NONE, 3, -2, 2, "bn scale=False");
	ok(e <= TOL, "batch norm scale=False (InceptionV3's): dx, dbeta (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 4, 5, 3);
	ct_graph_relu(g, "relu", x);
	e = gradcheck(g, "in", "relu", CT_POOL_NONE, 2, -2, 2, "relu");
	ok(e <= TOL, "relu: dx (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 4, 5, 3);
	ct_graph_relu6(g, "relu6", x);
	e = gradcheck(g, "in", "relu6", CT_POOL_NONE, 2, -3, 9, "relu6");
	ok(e <= TOL, "relu6 on [-3, 9] (both kinks): dx (err %.2g)", e);
	ct_graph_free(g);

	static const struct {
		ct_op op;
		int k, s, same;
		const char *what;
	} ps[] = {
		{ CT_OP_MAXPOOL, 3, 2, 0, "max pool 3x3 stride 2 valid" },
		{ CT_OP_MAXPOOL, 3, 1, 1, "max pool 3x3 stride 1 same" },
		{ CT_OP_MAXPOOL, 2, 2, 1, "max pool 2x2 stride 2 same" },
		{ CT_OP_AVGPOOL, 3, 1, 1, "avg pool 3x3 stride 1 same (border counts)" },
		{ CT_OP_AVGPOOL, 2, 2, 0, "avg pool 2x2 stride 2 valid" },
		{ CT_OP_AVGPOOL, 3, 2, 1, "avg pool 3x3 stride 2 same" },
	};
	for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
		g = ct_graph_new("t");
		x = ct_graph_input(g, "in", 7, 6, 3);
		ct_graph_pool(g, "pool", ps[i].op, x, ps[i].k, ps[i].k, ps[i].s, ps[i].s, ps[i].same);
		e = gradcheck(g, "in", "pool", CT_POOL_NONE, 2, -2, 2, ps[i].what);
		ok(e <= TOL, "%s: dx (err %.2g)", ps[i].what, e);
		ct_graph_free(g);
	}

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 4, 3, 3);
	int a = ct_graph_conv2d(g, "a", x, 2, 1, 1, 1, 1, 1, 1, CT_ACT_NONE);
	int b = ct_graph_relu(g, "b", x);
	ct_graph_concat(g, "cat", 3, (int[]){ a, b, x });
	e = gradcheck(g, "in", "cat", CT_POOL_NONE, 2, -2, 2, "concat");
	ok(e <= TOL, "concat of three branches (one the input itself): dx (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 4, 3, 3);
	a = ct_graph_conv2d(g, "a", x, 3, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	ct_graph_add(g, "add", 2, (int[]){ a, x });
	e = gradcheck(g, "in", "add", CT_POOL_NONE, 2, -2, 2, "add");
	ok(e <= TOL, "add (residual: the input reaches the sum twice): dx, dkernel (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 5, 4, 3);
	ct_graph_gpool(g, "gap", CT_OP_GAVGPOOL, x);
	e = gradcheck(g, "in", "gap", CT_POOL_NONE, 2, -2, 2, "gap");
	ok(e <= TOL, "global average pooling: dx (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 5, 4, 3);
	ct_graph_gpool(g, "gmp", CT_OP_GMAXPOOL, x);
	e = gradcheck(g, "in", "gmp", CT_POOL_NONE, 2, -2, 2, "gmp");
	ok(e <= TOL, "global max pooling: dx (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 3, 2, 4);
	ct_graph_conv2d(g, "c", x, 3, 1, 1, 1, 1, 1, 0, CT_ACT_NONE);
	e = gradcheck(g, "in", "c", CT_POOL_AVG, 3, -2, 2, "pooled output");
	ok(e <= TOL, "sub-network with an average-pooled output (the feature vector) (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 2, 2, 3);
	ct_graph_dense(g, "fc", x, 5, 1, CT_ACT_NONE);
	e = gradcheck(g, "in", "fc", CT_POOL_NONE, 3, -2, 2, "dense");
	ok(e <= TOL, "dense on a flattened 2x2x3 map: dx, dkernel, dbias (err %.2g)", e);
	ct_graph_free(g);

	g = ct_graph_new("t");
	x = ct_graph_input(g, "in", 6, 5, 2);
	int zp = ct_graph_zeropad(g, "pad", x, 1, 0, 1, 0);
	ct_graph_conv2d(g, "c", zp, 3, 3, 3, 2, 2, 0, 0, CT_ACT_NONE);
	e = gradcheck(g, "in", "c", CT_POOL_NONE, 2, -2, 2, "zeropad");
	ok(e <= TOL, "zero padding ((1,0),(1,0)) then a strided valid conv (MobileNetV2's): (err %.2g)", e);
	ct_graph_free(g);

	/* dropout: y = x * mask, mask 0 or 1/(1-rate); dL/dx = r * mask */
	{
		enum { N = 64 };
		float mask[N], dy[N], dx[N];
		double e2 = 0;
		for (int i = 0; i < N; i++) {
			mask[i] = ct_rng_uniform(&rng) < 0.3 ? 0.f : (float)(1 / 0.7);
			dy[i] = (float)ct_rng_range(&rng, -1, 1);
			dx[i] = 0;
		}
		ct_bw_dropout(N, mask, dy, dx);
		for (int i = 0; i < N; i++) {
			double xv = ct_rng_range(&rng, -2, 2);
			double fd = (dy[i] * (xv + STEP) * mask[i] - dy[i] * (xv - STEP) * mask[i]) / (2 * STEP);
			e2 = fabs(fd - dx[i]) > e2 ? fabs(fd - dx[i]) : e2;
		}
		ok(e2 <= 1e-6, "dropout with a fixed mask: dx (err %.2g)", e2);
	}
}

/* An Inception/MobileNet-like graph: conv-BN-ReLU stem, 1x1 / 1x7-7x1 / avg-pool branches
 * concatenated, zero-padded depthwise conv with ReLU6, a residual Add, a strided conv next
 * to a max pool, a fused-ReLU 1x1, global pooling and a dense layer. */
static ct_graph *small_graph(int hw, int c)
{
	ct_graph *g = ct_graph_new("small");
	int x = ct_graph_input(g, "in", hw, hw, c);
	int c0 = ct_graph_conv2d(g, "c0", x, 8, 3, 3, 1, 1, 1, 1, CT_ACT_NONE);
	int b0 = ct_graph_batchnorm(g, "b0", c0, 1e-3f, 1, 1);
	int r0 = ct_graph_relu(g, "r0", b0);
	int a1 = ct_graph_conv2d(g, "a1", r0, 4, 1, 1, 1, 1, 1, 0, CT_ACT_NONE);
	int bn1 = ct_graph_batchnorm(g, "bn1", a1, 1e-3f, 0, 1);
	int ra1 = ct_graph_relu(g, "ra1", bn1);
	int a2 = ct_graph_conv2d(g, "a2", r0, 4, 1, 7, 1, 1, 1, 0, CT_ACT_NONE);
	int a3 = ct_graph_conv2d(g, "a3", a2, 4, 7, 1, 1, 1, 1, 1, CT_ACT_NONE);
	int ap = ct_graph_pool(g, "ap", CT_OP_AVGPOOL, r0, 3, 3, 1, 1, 1);
	int a4 = ct_graph_conv2d(g, "a4", ap, 4, 1, 1, 1, 1, 1, 1, CT_ACT_NONE);
	int cat = ct_graph_concat(g, "mixed", 3, (int[]){ ra1, a3, a4 });
	int zp = ct_graph_zeropad(g, "zp", cat, 1, 1, 1, 1);
	int dw = ct_graph_dwconv2d(g, "dw", zp, 3, 3, 1, 1, 0, 1);
	int bnd = ct_graph_batchnorm(g, "bnd", dw, 1e-3f, 1, 1);
	int r6 = ct_graph_relu6(g, "r6", bnd);
	int add = ct_graph_add(g, "add", 2, (int[]){ r6, cat });
	int sc = ct_graph_conv2d(g, "s", add, 8, 3, 3, 2, 2, 0, 1, CT_ACT_NONE);
	int mp = ct_graph_pool(g, "mp", CT_OP_MAXPOOL, add, 3, 3, 2, 2, 0);
	int cat2 = ct_graph_concat(g, "mixed2", 2, (int[]){ sc, mp });
	int top = ct_graph_conv2d(g, "top", cat2, 6, 1, 1, 1, 1, 1, 1, CT_ACT_RELU);
	int gap = ct_graph_gpool(g, "gap", CT_OP_GAVGPOOL, top);
	ct_graph_dense(g, "fc", gap, 3, 1, CT_ACT_NONE);
	return g;
}

static void subnet_cases(void)
{
	ct_graph *g = small_graph(9, 3);
	double e = gradcheck(g, "in", "fc", CT_POOL_NONE, 2, -2, 2, "whole graph");
	ok(e <= TOL, "whole small graph from the input: dx and every weight tensor (err %.2g)",
	   e);
	e = gradcheck(g, "r0", "fc", CT_POOL_NONE, 2, -2, 2, "cut r0");
	ok(e <= TOL, "sub-network above the cut 'r0': forward and every trainable tensor (err %.2g)", e);
	e = gradcheck(g, "add", "top", CT_POOL_AVG, 3, -2, 2, "cut add");
	ok(e <= TOL, "sub-network 'add' -> 'top' pooled: forward and gradients (err %.2g)", e);

	/* a cut that a branch bypasses is refused */
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	ct_subnet *s = ct_subnet_new(g, &w, "a2", "fc", CT_POOL_NONE);
	ok(!s && strstr(ct_last_error(), "without passing the cut"),
	   "a cut that another branch goes around is refused: %s", ct_last_error());
	ct_subnet_free(s);
	s = ct_subnet_new(g, &w, "r0", "nope", CT_POOL_NONE);
	ok(!s && strstr(ct_last_error(), "'nope'"), "an unknown output layer is named: %s",
	   ct_last_error());
	ct_subnet_free(s);

	/* export: the layers above the cut by Keras names, all their tensors */
	s = ct_subnet_new(g, &w, "r0", "fc", CT_POOL_NONE);
	ct_weights ex = { 0 };
	int rc = s ? ct_subnet_export(s, &ex) : -1;
	const ct_wlayer *l = ct_weights_find(&ex, "bnd");
	ok(rc == 0 && ct_subnet_nlayers(s) == ex.nlayers && l && l->n == 4 &&
		   ct_wlayer_get(l, "moving_variance") && !ct_weights_find(&ex, "c0"),
	   "export holds the %d layers above the cut (BN with its 4 tensors), none below",
	   ex.nlayers);
	ct_weights_free(&ex);
	ct_subnet_free(s);
	ct_weights_free(&w);
	ct_graph_free(g);
}

/* Gradients bit-identical for 1 and 2 threads on a graph big enough to use both. */
static void threads_case(void)
{
	ct_graph *g = small_graph(24, 16);
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	int n = 6;
	const ct_node *c = &g->nodes[ct_graph_find(g, "r0")];
	int64_t nin = (int64_t)n * c->h * c->w * c->c;
	float *x = malloc((size_t)nin * sizeof *x), *dx[2];
	for (int64_t i = 0; i < nin; i++)
		x[i] = (float)ct_rng_range(&rng, 0, 2);
	float y[6 * 3], dy[6 * 3];
	for (int i = 0; i < n * 3; i++)
		dy[i] = (float)ct_rng_range(&rng, -1, 1);
	float *gk[2];
	int same = 1;
	for (int t = 0; t < 2; t++) {
#ifdef _OPENMP
		omp_set_num_threads(t + 1);
#endif
		ct_subnet *s = ct_subnet_new(g, &w, "r0", "fc", CT_POOL_NONE);
		dx[t] = malloc((size_t)nin * sizeof(float));
		ct_subnet_forward(s, x, n, y);
		ct_subnet_backward(s, dy, dx[t]);
		int64_t tot = 0;
		for (int p = 0; p < ct_subnet_nparams(s); p++)
			tot += ct_subnet_param(s, p)->trainable ? ct_subnet_param(s, p)->count : 0;
		gk[t] = malloc((size_t)tot * sizeof(float));
		int64_t o = 0;
		for (int p = 0; p < ct_subnet_nparams(s); p++) {
			ct_sparam *sp = ct_subnet_param(s, p);
			if (sp->trainable)
				memcpy(gk[t] + o, sp->g, (size_t)sp->count * sizeof(float)), o += sp->count;
		}
		if (t == 1)
			same = !memcmp(gk[0], gk[1], (size_t)tot * sizeof(float)) &&
			       !memcmp(dx[0], dx[1], (size_t)nin * sizeof(float));
		ct_subnet_free(s);
	}
	ok(same, "gradients are bit-identical with 1 and 2 threads");
	free(x), free(dx[0]), free(dx[1]), free(gk[0]), free(gk[1]);
	ct_weights_free(&w);
	ct_graph_free(g);
}

int main(void)
{
	(void)rel_err;
	ct_rng_init(&rng, 20261201, 0);
	conv_cases();
	op_cases();
	subnet_cases();
	threads_case();
	TEST_DONE();
}
