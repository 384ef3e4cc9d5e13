/* test_nn_winograd.c - Winograd F(4x4, 3x3) and F(2, 7) convolutions (lib/nn/winograd.c)
 * against a direct convolution in double and against the direct GEMM path, on random data,
 * for each SIMD kernel: relative error, bit-identical results for 1 and 2 threads and for an
 * image run alone or in a batch, the prologue (BN + ReLU in front), bias, residual,
 * activations, channel pitches; and whole networks with CT_WINOGRAD=0 and 1. */
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

/* Direct kh x kw convolution in double on pitched NHWC tensors, prologue in front. */
static void ref_conv(const ct_conv_geom *g, const float *in, const ct_prologue *pro,
		     const float *w, const float *bias, const float *res, int act, double *out)
{
	for (int n = 0; n < g->n; n++)
		for (int oy = 0; oy < g->oh; oy++)
			for (int ox = 0; ox < g->ow; ox++)
				for (int co = 0; co < g->cout; co++) {
					double s = bias ? bias[co] : 0;
					for (int ky = 0; ky < g->kh; ky++)
						for (int kx = 0; kx < g->kw; kx++) {
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
								s += x * w[((ky * g->kw + kx) * g->cin + ci) * g->cout + co];
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
	const int taps = g.kh * g.kw;
	float *in = rnd(nin, -1, 1), *w = rnd((size_t)taps * g.cin * g.cout, -1, 1);
	float *b = rnd(g.cout, -1, 1), *sc = rnd(g.cin, 0.5, 1.5), *sh = rnd(g.cin, -0.5, 0.5);
	float *res = use_res ? rnd(nout / g.out_pitch * g.cout, -2, 2) : NULL;
	ct_prologue pro = { sc, sh, act ? act : CT_ACT_RELU };
	const ct_prologue *pp = use_pro ? &pro : NULL;
	float *o1 = calloc(nout, sizeof *o1), *o2 = calloc(nout, sizeof *o2);
	float *o3 = calloc(nout, sizeof *o3), *od = calloc(nout, sizeof *od);
	double *ref = calloc(nout, sizeof *ref);
	ct_wino *wi = ct_wino_new(k, &g, w, b);
	ct_packed pk;
	if (!wi || ct_packed_init(&pk, k, (int64_t)taps * g.cin, g.cout, w, b))
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

/* ct_wino_fits on a 3x3 stride-1 copy of g */
static int fits_3x3(const ct_conv_geom *g)
{
	ct_conv_geom c = *g;
	c.kh = c.kw = 3, c.sh = c.sw = 1, c.oh = c.ow = 16;
	return ct_wino_fits(&c);
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

/* A whole net (output "c4", synthetic weights, n random images of its input size) with
 * Winograd against CT_WINOGRAD=off: features within 1e-5, bit-identical for 1 and 2 threads,
 * and the other path really taken (the last bits differ). Frees gr. */
static void net_ab(ct_graph *gr, int n, const char *off, const char *what, const char *other)
{
	ct_gemm_kernel_set(ct_gemm_kernel_find("avx512") ? "avx512" : "avx2");
	ct_weights w = { 0 };
	int ran = !gr->err && !ct_graph_testweights(gr, &w);
	const ct_node *in = &gr->nodes[0];
	int64_t px = (int64_t)n * in->h * in->w * 3;
	ct_tensor img = { 0 }, f[3] = { 0 };
	ran = ran && !ct_tensor_alloc4(&img, CT_U8, n, in->h, in->w, 3);
	for (int64_t i = 0; ran && i < px; i++)
		((uint8_t *)img.data)[i] = (uint8_t)ct_rng_below(&rng, 256);
	for (int v = 0; ran && v < 3; v++) {
		setenv("CT_WINOGRAD", v == 0 ? off : "1", 1);
		t_set_threads(v == 2 ? 1 : 2);
		ct_net *net = ct_net_new(gr, &w, "c4", CT_POOL_AVG);
		ran = net && !ct_net_run(net, &img) && !ct_net_features(net, &f[v]);
		ct_net_free(net);
	}
	unsetenv("CT_WINOGRAD");
	double e = ran ? feat_err(&f[1], &f[0]) : INFINITY;
	size_t bytes = ran ? (size_t)n * f[1].shape[1] * sizeof(float) : 0;
	diag("%s against %s: relative error %.3g", what, other, e);
	ok(ran && e <= 1e-5, "%s: a net's features match %s within 1e-5", what, other);
	ok(ran && !memcmp(f[1].data, f[2].data, bytes),
	   "%s: 1 and 2 threads give bit-identical features", what);
	ok(ran && memcmp(f[1].data, f[0].data, bytes),
	   "%s: %s takes the other path (the features differ in their last bits)", what, other);
	for (int v = 0; v < 3; v++)
		ct_tensor_free(&f[v]);
	ct_tensor_free(&img);
	ct_weights_free(&w);
	ct_graph_free(gr);
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
		result r7;
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
		/* F(2, 7): 1x7 and 7x1 filters, odd and even lengths along the axis (a ragged last
		 * tile), 'same' (pad 3) and 'valid'; their own random stream, so the 3x3 cases
		 * draw the data they always drew */
		ct_rng rng3 = rng;
		ct_rng_init(&rng, 77 + ki, 0);
		double worst7 = 0, worst7_direct = 0;
		int ok7 = 1, same7_t = 1, same7_a = 1;
		for (int c = 0; c < 16; c++) {
			ct_conv_geom g = { 0 };
			int along_x = c % 2 == 0, same = c % 3 != 2;
			g.n = 1 + (int)ct_rng_below(&rng, 3);
			g.h = 1 + (int)ct_rng_below(&rng, 20);
			g.w = 1 + (int)ct_rng_below(&rng, 20);
			if (along_x)
				g.w = 14 + (int)ct_rng_below(&rng, 10);
			else
				g.h = 14 + (int)ct_rng_below(&rng, 10);
			g.cin = 16 + (int)ct_rng_below(&rng, c % 5 == 0 ? 300 : 60);
			g.cout = 1 + (int)ct_rng_below(&rng, c % 4 == 0 ? 200 : 50);
			g.kh = along_x ? 1 : 7, g.kw = along_x ? 7 : 1;
			g.sh = g.sw = g.dh = g.dw = 1;
			g.pad_t = same && !along_x ? 3 : 0, g.pad_l = same && along_x ? 3 : 0;
			g.oh = g.h - (same ? 0 : g.kh - 1), g.ow = g.w - (same ? 0 : g.kw - 1);
			g.in_pitch = g.cin + (c % 4 == 1 ? 5 : 0);
			g.out_pitch = g.cout + (c % 4 == 3 ? 3 : 0);
			int act = c % 3;
			result r = ct_wino_fits(&g) ? run_case(k, &g, c % 4 == 2, c % 2 == 1, act)
						    : (result){ INFINITY, INFINITY, 0, 0 };
			if (!(r.err_wino <= 1e-4)) {
				ok7 = 0;
				diag("%s: %dx%d n=%d %dx%dx%d -> %dx%dx%d err %.3g (direct %.3g)", k->name,
				     g.kh, g.kw, g.n, g.h, g.w, g.cin, g.oh, g.ow, g.cout, r.err_wino,
				     r.err_direct);
			}
			same7_t &= r.same_threads;
			same7_a &= r.same_alone;
			worst7 = r.err_wino > worst7 ? r.err_wino : worst7;
			worst7_direct = r.err_direct > worst7_direct ? r.err_direct : worst7_direct;
		}
		diag("%s: 16 random 1x7 / 7x1 convolutions, largest relative error F(2, 7) %.3g, "
		     "direct GEMM %.3g", k->name, worst7, worst7_direct);
		ok(ok7, "%s kernel: F(2, 7) 1x7 and 7x1 convs (same/valid, ragged tiles, prologue, "
		   "bias, residual, relu/relu6, pitches) match the double reference within 1e-4 "
		   "(largest %.2g)", k->name, worst7);
		ok(same7_t && same7_a, "%s kernel: F(2, 7) with 1 and 2 threads, and an image alone, "
		   "give bit-identical outputs", k->name);
		/* InceptionV3's: 17 x 17, 192 -> 192 at batch 1 (the team on each block) and 160 ->
		 * 192 at batch 3 (tile ranges per thread) */
		for (int v = 0; v < 2; v++) {
			ct_conv_geom gi = { .n = v ? 3 : 1, .h = 17, .w = 17, .cin = v ? 160 : 192,
					    .oh = 17, .ow = 17, .cout = 192, .kh = v ? 7 : 1,
					    .kw = v ? 1 : 7, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
					    .pad_t = v ? 3 : 0, .pad_l = v ? 0 : 3,
					    .in_pitch = v ? 160 : 768, .out_pitch = 192 };
			r7 = run_case(k, &gi, 0, 0, CT_ACT_RELU);
			ok(r7.err_wino <= 1e-4 && r7.same_threads && r7.same_alone,
			   "%s kernel: InceptionV3's %s 17x17 %d -> 192, batch %d: error %.2g "
			   "(direct %.2g), bit-identical for 1 and 2 threads and alone", k->name,
			   v ? "7x1" : "1x7", gi.cin, gi.n, r7.err_wino, r7.err_direct);
		}
		rng = rng3;
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
		/* F(2, 7): 1x7 / 7x1, at least 8 outputs along the axis; not 1x3, not strided;
		 * CT_WINOGRAD=3 keeps them direct (and the 3x3 ones on Winograd) */
		ct_conv_geom h = { .n = 1, .h = 17, .w = 17, .cin = 32, .oh = 17, .ow = 17,
				   .cout = 8, .kh = 1, .kw = 7, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
		int f17 = ct_wino_fits(&h);
		h.kh = 7, h.kw = 1, h.oh = 8, h.ow = 3;
		int f71 = ct_wino_fits(&h);
		h.oh = 7;
		int short71 = ct_wino_fits(&h);
		h.kh = 1, h.kw = 3, h.oh = h.ow = 17;
		int f13 = ct_wino_fits(&h);
		h.kw = 7, h.sw = 2, h.ow = 9;
		int s17 = ct_wino_fits(&h);
		h.sw = 1, h.ow = 17;
		setenv("CT_WINOGRAD", "3", 1);
		int only3 = !ct_wino_fits(&h) && fits_3x3(&h);
		unsetenv("CT_WINOGRAD");
		ok(f17 && f71 && !short71 && !f13 && !s17 && only3,
		   "F(2, 7) takes 1x7 and 7x1 stride-1 convs with >= 8 outputs along the filter, "
		   "not 1x3 or strided ones; CT_WINOGRAD=3 leaves them direct");
	}
	/* a whole network: VGG-style 3x3 stacks, a residual Add, a BN folded in, a pool */
	{
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
		net_ab(gr, 3, "0", "small VGG-style net, Winograd", "CT_WINOGRAD=0 (every conv direct)");
	}
	/* an InceptionV3-like branch: 1x1, 1x7, 7x1 (BN folded), a 3x3; F(2, 7) against the
	 * direct 1x7 / 7x1 (CT_WINOGRAD=3) */
	{
		ct_graph *gr = ct_graph_new("tiny_inception");
		int x = ct_graph_input(gr, "in", 35, 33, 3);
		x = ct_graph_conv2d(gr, "c1", x, 32, 3, 3, 2, 2, 0, 1, CT_ACT_RELU);
		x = ct_graph_conv2d(gr, "c2", x, 48, 1, 7, 1, 1, 1, 0, CT_ACT_NONE);
		x = ct_graph_batchnorm(gr, "bn2", x, 1e-3f, 1, 1);
		x = ct_graph_relu(gr, "relu2", x);
		x = ct_graph_conv2d(gr, "c3", x, 40, 7, 1, 1, 1, 1, 1, CT_ACT_RELU);
		ct_graph_conv2d(gr, "c4", x, 24, 3, 3, 1, 1, 1, 1, CT_ACT_RELU);
		net_ab(gr, 2, "3", "small Inception-style net, F(2, 7)",
		       "CT_WINOGRAD=3 (1x7 / 7x1 direct)");
	}
	TEST_DONE();
}
