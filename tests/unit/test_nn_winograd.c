/* test_nn_winograd.c - Winograd F(4x4, 3x3) convolutions (lib/nn/winograd.c) against a direct
 * convolution in double and against the direct GEMM path, on random data, for each SIMD
 * kernel: relative error, bit-identical results for 1 and 2 threads and for an image run
 * alone or in a batch, the prologue (BN + ReLU in front), bias, residual, activations,
 * channel pitches; and a whole network with CT_WINOGRAD=0 and 1. */
#include "test.h"
#define CONV_REF_NO_REF_CONV /* its ref_conv takes a prologue */
#include "conv_ref.h"
#include "core/rng.h"
#include "nn/gemm.h"
#include "nn/graph.h"
#include "nn/net.h"
#include "nn/winograd.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Direct 3x3 convolution in double on pitched NHWC tensors, prologue in front. */
static void ref_conv(const ct_conv_geom *g, const float *in, const ct_prologue *pro,
		     const float *w, const float *bias, const float *res, int act, double *out)
{
	for (int n = 0; n < g->n; n++)
		for (int oy = 0; oy < g->oh; oy++)
			for (int ox = 0; ox < g->ow; ox++)
				for (int co = 0; co < g->cout; co++) {
					double s = bias ? bias[co] : 0;
					for (int ky = 0; ky < 3; ky++)
						for (int kx = 0; kx < 3; kx++) {
							int iy = oy - g->pad_t + ky, ix = ox - g->pad_l + kx;
							if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
								continue;
							for (int ci = 0; ci < g->cin; ci++) {
								double x = in[(((size_t)n * g->h + iy) * g->w + ix) * g->in_pitch + ci];
								if (pro) {
									x = (float)(x * pro->scale[ci]) + pro->shift[ci];
									if (pro->act && x < 0)
										x = 0;
									if (pro->act == CT_ACT_RELU6 && x > 6)
										x = 6;
								}
								s += x * w[((ky * 3 + kx) * g->cin + ci) * g->cout + co];
							}
						}
					size_t pix = ((size_t)n * g->oh + oy) * g->ow + ox;
					if (res)
						s += res[pix * g->cout + co];
					if (act && s < 0)
						s = 0;
					if (act == CT_ACT_RELU6 && s > 6)
						s = 6;
					out[pix * g->out_pitch + co] = s;
				}
}

typedef struct result {
	double err_wino, err_direct; /* max|x - ref| / max|ref| */
	int same_threads, same_alone;
} result;

static double rel_err(const float *o, const double *ref, const ct_conv_geom *g)
{
	double maxerr = 0, maxref = 1e-30;
	size_t npix = (size_t)g->n * g->oh * g->ow;
	for (size_t p = 0; p < npix; p++)
		for (int c = 0; c < g->cout; c++) {
			double r = ref[p * g->out_pitch + c], e = fabs(o[p * g->out_pitch + c] - r);
			maxerr = e > maxerr ? e : maxerr;
			maxref = fabs(r) > maxref ? fabs(r) : maxref;
		}
	return maxerr / maxref;
}

static result run_case(const ct_gemm_kernel *k, const ct_conv_geom *g0, int use_pro, int use_res,
		       int act)
{
	result rs = { INFINITY, INFINITY, 0, 0 };
	ct_conv_geom g = *g0;
	size_t nin = (size_t)g.n * g.h * g.w * g.in_pitch;
	size_t nout = (size_t)g.n * g.oh * g.ow * g.out_pitch;
	float *in = rnd(nin, -1, 1), *w = rnd((size_t)9 * g.cin * g.cout, -1, 1);
	float *b = rnd(g.cout, -1, 1), *sc = rnd(g.cin, 0.5, 1.5), *sh = rnd(g.cin, -0.5, 0.5);
	float *res = use_res ? rnd(nout / g.out_pitch * g.cout, -2, 2) : NULL;
	ct_prologue pro = { sc, sh, act ? act : CT_ACT_RELU };
	const ct_prologue *pp = use_pro ? &pro : NULL;
	float *o1 = calloc(nout, sizeof *o1), *o2 = calloc(nout, sizeof *o2);
	float *o3 = calloc(nout, sizeof *o3), *od = calloc(nout, sizeof *od);
	double *ref = calloc(nout, sizeof *ref);
	ct_wino *wi = ct_wino_new(k, &g, w, b);
	ct_packed pk;
	if (!wi || ct_packed_init(&pk, k, (int64_t)9 * g.cin, g.cout, w, b))
		return rs;
	size_t ws = ct_wino_work_floats(k, wi), wd = ct_conv_work_floats(k, &g);
	float *work = malloc((ws > wd ? ws : wd) * 2 * sizeof(float));
	t_set_threads(1);
	ct_wino_conv(k, wi, &g, in, pp, res, g.cout, act, o1, work, 1);
	ct_conv2d_gemm_pro(k, &g, in, pp, &pk, res, g.cout, act, od, work, 1);
	t_set_threads(2);
	ct_wino_conv(k, wi, &g, in, pp, res, g.cout, act, o2, work, 2);
	rs.same_threads = !memcmp(o1, o2, nout * sizeof *o1);
	/* each image alone gives the bits of the batch */
	ct_conv_geom g1 = g;
	g1.n = 1;
	size_t in1 = nin / g.n, out1 = nout / g.n, res1 = out1 / g.out_pitch * g.cout;
	rs.same_alone = 1;
	for (int i = 0; i < g.n; i++) {
		ct_wino_conv(k, wi, &g1, in + i * in1, pp, res ? res + i * res1 : NULL, g.cout, act,
			     o3 + i * out1, work, 1);
		rs.same_alone &= !memcmp(o3 + i * out1, o1 + i * out1, out1 * sizeof *o1);
	}
	ref_conv(&g, in, pp, w, b, res, act, ref);
	rs.err_wino = rel_err(o1, ref, &g);
	rs.err_direct = rel_err(od, ref, &g);
	ct_wino_free(wi);
	ct_packed_release(&pk);
	free(in), free(w), free(b), free(sc), free(sh), free(res);
	free(o1), free(o2), free(o3), free(od), free(ref), free(work);
	return rs;
}

/* Largest |a - b| / max|b| over two feature tensors. */
static double feat_err(const ct_tensor *a, const ct_tensor *b)
{
	const float *x = a->data, *y = b->data;
	int64_t n = a->shape[0] * a->shape[1];
	double e = 0, m = 1e-30;
	for (int64_t i = 0; i < n; i++) {
		e = fabs(x[i] - y[i]) > e ? fabs(x[i] - y[i]) : e;
		m = fabs(y[i]) > m ? fabs(y[i]) : m;
	}
	return e / m;
}

int main(void)
{
	ct_rng_init(&rng, 7, 0);
	const char *names[] = { "avx512", "avx2", "generic" };
	for (int ki = 0; ki < 3; ki++) {
		const ct_gemm_kernel *k = ct_gemm_kernel_find(names[ki]);
		if (!k) {
			diag("kernel %s not supported here, skipped", names[ki]);
			continue;
		}
		double worst = 0, worst_direct = 0;
		int all_ok = 1, same_t = 1, same_a = 1, ncase = 0;
		for (int c = 0; c < 16; c++) {
			ct_conv_geom g = { 0 };
			g.n = 1 + (int)ct_rng_below(&rng, 3);
			g.h = 8 + (int)ct_rng_below(&rng, 14);
			g.w = 8 + (int)ct_rng_below(&rng, 14);
			g.cin = 16 + (int)ct_rng_below(&rng, c % 5 == 0 ? 400 : 60);
			g.cout = 1 + (int)ct_rng_below(&rng, c % 4 == 0 ? 130 : 50);
			g.kh = g.kw = 3, g.sh = g.sw = g.dh = g.dw = 1;
			int same = c % 3 != 2; /* 'same' (pad 1) or 'valid' */
			g.pad_t = g.pad_l = same;
			g.oh = same ? g.h : g.h - 2, g.ow = same ? g.w : g.w - 2;
			/* channel slices: pitches wider than the channels now and then */
			g.in_pitch = g.cin + (c % 4 == 1 ? 5 : 0);
			g.out_pitch = g.cout + (c % 4 == 3 ? 3 : 0);
			if (!ct_wino_fits(&g)) {
				g.oh = g.h = g.oh < 8 ? 10 : g.h;
				g.ow = g.w = g.ow < 8 ? 10 : g.w;
				g.pad_t = g.pad_l = 1;
			}
			int act = c % 3;
			result r = run_case(k, &g, c % 4 == 2, c % 2 == 1, act);
			ncase++;
			/* bound: the conformance bound (1e-4), for one layer of random weights */
			if (!(r.err_wino <= 1e-4)) {
				all_ok = 0;
				diag("%s: n=%d %dx%dx%d -> %dx%dx%d pad=%d err %.3g (direct %.3g)", k->name,
				     g.n, g.h, g.w, g.cin, g.oh, g.ow, g.cout, g.pad_t, r.err_wino,
				     r.err_direct);
			}
			same_t &= r.same_threads;
			same_a &= r.same_alone;
			worst = r.err_wino > worst ? r.err_wino : worst;
			worst_direct = r.err_direct > worst_direct ? r.err_direct : worst_direct;
		}
		diag("%s: %d random 3x3 convolutions, largest relative error Winograd %.3g, direct "
		     "GEMM %.3g", k->name, ncase, worst, worst_direct);
		ok(all_ok, "%s kernel: Winograd 3x3 convs (same/valid, prologue, bias, residual, "
		   "relu/relu6, pitches) match the double reference within 1e-4 (largest %.2g)",
		   k->name, worst);
		ok(same_t, "%s kernel: Winograd with 1 and 2 threads gives bit-identical outputs",
		   k->name);
		ok(same_a, "%s kernel: an image run alone gives the bits it gets in a batch", k->name);
		/* enough tiles for several blocks: with 2 threads each runs its own blocks */
		ct_conv_geom gb = { .n = 4, .h = 28, .w = 28, .cin = 560, .oh = 28, .ow = 28,
				    .cout = 16, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
				    .pad_t = 1, .pad_l = 1, .in_pitch = 560, .out_pitch = 16 };
		result r = run_case(k, &gb, 0, 1, CT_ACT_RELU);
		ok(r.err_wino <= 1e-4 && r.same_threads && r.same_alone,
		   "%s kernel: 196 tiles in blocks per thread: error %.2g, bit-identical for 1 and 2 "
		   "threads and alone", k->name, r.err_wino);
		/* batch 1, the two ways of sharing a conv (winograd.c): tile ranges per thread
		 * (DenseNet-like: 30 tiles of 128 -> 32, cut 16 + 14) and the team on each
		 * block (4 tiles of 256 -> 200: the filters outweigh the tiles) */
		ct_conv_geom gt = { .n = 1, .h = 21, .w = 19, .cin = 128, .oh = 21, .ow = 19,
				    .cout = 32, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
				    .pad_t = 1, .pad_l = 1, .in_pitch = 160, .out_pitch = 32 };
		r = run_case(k, &gt, 1, 1, CT_ACT_RELU);
		ok(r.err_wino <= 1e-4 && r.same_threads,
		   "%s kernel: batch 1, tile ranges per thread: error %.2g, bit-identical for 1 and "
		   "2 threads", k->name, r.err_wino);
		ct_conv_geom gs = { .n = 1, .h = 8, .w = 8, .cin = 256, .oh = 8, .ow = 8,
				    .cout = 200, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
				    .pad_t = 1, .pad_l = 1, .in_pitch = 256, .out_pitch = 200 };
		r = run_case(k, &gs, 0, 0, CT_ACT_RELU6);
		ok(r.err_wino <= 1e-4 && r.same_threads,
		   "%s kernel: batch 1, the team on each block: error %.2g, bit-identical for 1 and "
		   "2 threads", k->name, r.err_wino);
	}
	{ /* geometry that does not fit: strided, 5x5, too small, too few channels */
		ct_conv_geom g = { .n = 1, .h = 16, .w = 16, .cin = 32, .oh = 16, .ow = 16, .cout = 8,
				   .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
		int fits = ct_wino_fits(&g);
		g.sh = g.sw = 2;
		int s2 = ct_wino_fits(&g);
		g.sh = g.sw = 1, g.oh = g.ow = 7;
		int small = ct_wino_fits(&g);
		g.oh = g.ow = 16, g.cin = 3;
		int thin = ct_wino_fits(&g);
		ok(fits && !s2 && !small && !thin,
		   "Winograd takes 3x3 stride-1 convs only, with cin >= 16 and an output >= 8x8");
	}
	/* a whole network: VGG-style 3x3 stacks, a residual Add, a BN folded in, a pool */
	{
		ct_gemm_kernel_set(ct_gemm_kernel_find("avx512") ? "avx512" : "avx2");
		ct_graph *gr = ct_graph_new("tiny_vgg");
		int x = ct_graph_input(gr, "in", 45, 38, 3);
		x = ct_graph_conv2d(gr, "c1", x, 24, 3, 3, 1, 1, 1, 1, CT_ACT_RELU);
		int y = ct_graph_conv2d(gr, "c2", x, 24, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
		y = ct_graph_batchnorm(gr, "bn2", y, 1e-3f, 1, 1);
		x = ct_graph_add(gr, "add", 2, (int[]){ x, y });
		x = ct_graph_relu(gr, "relu", x);
		x = ct_graph_pool(gr, "pool", CT_OP_MAXPOOL, x, 2, 2, 2, 2, 0);
		x = ct_graph_conv2d(gr, "c3", x, 40, 3, 3, 1, 1, 0, 1, CT_ACT_RELU);
		ct_graph_conv2d(gr, "c4", x, 70, 3, 3, 1, 1, 1, 1, CT_ACT_RELU);
		ct_weights w = { 0 };
		int ran = !gr->err && !ct_graph_testweights(gr, &w);
		ct_tensor img = { 0 }, f[3] = { 0 };
		ran = ran && !ct_tensor_alloc4(&img, CT_U8, 3, 45, 38, 3);
		for (int64_t i = 0; ran && i < 3 * 45 * 38 * 3; i++)
			((uint8_t *)img.data)[i] = (uint8_t)ct_rng_below(&rng, 256);
		for (int v = 0; ran && v < 3; v++) {
			setenv("CT_WINOGRAD", v == 0 ? "0" : "1", 1);
			t_set_threads(v == 2 ? 1 : 2);
			ct_net *net = ct_net_new(gr, &w, "c4", CT_POOL_AVG);
			ran = net && !ct_net_run(net, &img) && !ct_net_features(net, &f[v]);
			ct_net_free(net);
		}
		unsetenv("CT_WINOGRAD");
		double e = ran ? feat_err(&f[1], &f[0]) : INFINITY;
		diag("small VGG-style net, Winograd against direct: relative error %.3g", e);
		ok(ran && e <= 1e-5, "a net's features with Winograd match CT_WINOGRAD=0 within 1e-5");
		ok(ran && !memcmp(f[1].data, f[2].data, (size_t)3 * f[1].shape[1] * sizeof(float)),
		   "a net with Winograd: 1 and 2 threads give bit-identical features");
		ok(ran && memcmp(f[1].data, f[0].data, (size_t)3 * f[1].shape[1] * sizeof(float)),
		   "CT_WINOGRAD=0 takes the other path (the features differ in their last bits)");
		for (int v = 0; v < 3; v++)
			ct_tensor_free(&f[v]);
		ct_tensor_free(&img);
		ct_weights_free(&w);
		ct_graph_free(gr);
	}
	TEST_DONE();
}
