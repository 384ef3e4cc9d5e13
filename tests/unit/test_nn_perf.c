/* test_nn_perf.c - the engine's fast paths against the plain ones: the GEMM prologue (a BN
 * and ReLU applied as A is built) against a double reference, DenseNet-style concatenation
 * in place and BN prologues against the same graph run unfused, thread-count independence,
 * and the per-step profile's bookkeeping. */
#include "test.h"
#include "conv_ref.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/gemm.h"
#include "nn/graph.h"
#include "nn/net.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* conv(act(x * scale + shift)) in double with zero padding of the transformed input;
 * the input has pixel pitch `pitch` (a channel slice of a wider buffer). */
static void ref_pro_conv(const ct_conv_geom *g, const float *in, int64_t pitch,
			 const float *scale, const float *shift, int pact, const float *w,
			 const float *bias, double *out)
{
	for (int n = 0; n < g->n; n++)
		for (int oy = 0; oy < g->oh; oy++)
			for (int ox = 0; ox < g->ow; ox++)
				for (int co = 0; co < g->cout; co++) {
					double s = bias[co];
					for (int ky = 0; ky < g->kh; ky++)
						for (int kx = 0; kx < g->kw; kx++) {
							int iy = oy * g->sh - g->pad_t + ky;
							int ix = ox * g->sw - g->pad_l + kx;
							if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
								continue;
							for (int ci = 0; ci < g->cin; ci++) {
								double x = in[((int64_t)(n * g->h + iy) * g->w + ix) * pitch + ci];
								x = x * scale[ci] + shift[ci];
								if (pact != CT_ACT_NONE && x < 0)
									x = 0;
								if (pact == CT_ACT_RELU6 && x > 6)
									x = 6;
								s += x * w[((ky * g->kw + kx) * g->cin + ci) * g->cout + co];
							}
						}
					out[(((size_t)n * g->oh + oy) * g->ow + ox) * g->cout + co] = s;
				}
}

static void prologue_cases(const ct_gemm_kernel *k)
{
	/* 1x1 (pointwise: A is normally read in place) and 3x3 'same' (padding stays zero
	 * after the transform), inputs a channel slice of a wider buffer */
	static const int shapes[][6] = { /* h w cin cout kh stride */
					 { 14, 13, 150, 70, 1, 1 },
					 { 12, 11, 40, 33, 3, 1 },
					 { 13, 13, 300, 40, 1, 1 },
					 { 11, 12, 24, 17, 3, 2 } };
	for (int c = 0; c < 4; c++) {
		ct_conv_geom g = { 0 };
		g.n = 2, g.h = shapes[c][0], g.w = shapes[c][1], g.cin = shapes[c][2];
		g.cout = shapes[c][3], g.kh = g.kw = shapes[c][4], g.sh = g.sw = shapes[c][5];
		g.dh = g.dw = 1;
		int pb;
		ct_tf_padding(g.h, g.kh, g.sh, 1, 1, &g.oh, &g.pad_t, &pb);
		ct_tf_padding(g.w, g.kw, g.sw, 1, 1, &g.ow, &g.pad_l, &pb);
		g.in_pitch = g.cin + 19;
		g.out_pitch = g.cout;
		int pact = c % 3; /* none, relu, relu6 */
		size_t nin = (size_t)g.n * g.h * g.w * g.in_pitch;
		size_t nout = (size_t)g.n * g.oh * g.ow * g.cout, kk = (size_t)g.kh * g.kw * g.cin;
		float *in = rnd(nin, -4, 4), *w = rnd(kk * g.cout, -1, 1), *b = rnd(g.cout, -1, 1);
		float *sc = rnd(g.cin, 0.2, 2), *sh = rnd(g.cin, -3, 3);
		float *o1 = malloc(nout * sizeof *o1), *o2 = malloc(nout * sizeof *o2);
		double *ref = malloc(nout * sizeof *ref);
		ct_packed p;
		ct_packed_init(&p, k, (int64_t)kk, g.cout, w, b);
		float *work = malloc(ct_conv_work_floats(k, &g) * 2 * sizeof(float));
		ct_prologue pro = { sc, sh, pact };
		t_set_threads(1);
		ct_conv2d_gemm_pro(k, &g, in, &pro, &p, NULL, 0, CT_ACT_NONE, o1, work, 1);
		t_set_threads(2);
		ct_conv2d_gemm_pro(k, &g, in, &pro, &p, NULL, 0, CT_ACT_NONE, o2, work, 2);
		ref_pro_conv(&g, in, g.in_pitch, sc, sh, pact, w, b, ref);
		double me = 0, mr = 1e-30;
		for (size_t i = 0; i < nout; i++) {
			me = fmax(me, fabs(o1[i] - ref[i]));
			mr = fmax(mr, fabs(ref[i]));
		}
		ok(me / mr <= 1e-5 && !memcmp(o1, o2, nout * sizeof *o1),
		   "%s: conv %dx%d/s%d with a BN%s prologue on a channel slice matches the double "
		   "reference (%.2g) and is bit-identical on 1 and 2 threads",
		   k->name, g.kh, g.kw, g.sh, pact == 1 ? "+ReLU" : pact == 2 ? "+ReLU6" : "",
		   me / mr);
		ct_packed_release(&p);
		free(in), free(w), free(b), free(sc), free(sh), free(o1), free(o2), free(ref);
		free(work);
	}
}

/* A small DenseNet: stem conv, two dense blocks of three layers (BN-ReLU-1x1, BN-ReLU-3x3,
 * concat), a transition (BN-ReLU-1x1, avg pool), a final BN-ReLU. */
static ct_graph *tiny_densenet(void)
{
	ct_graph *g = ct_graph_new("tiny_densenet");
	int x = ct_graph_input(g, "in", 40, 36, 3);
	x = ct_graph_conv2d(g, "stem", x, 16, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	char nm[64];
	for (int b = 1; b <= 2; b++) {
		for (int l = 1; l <= 3; l++) {
			snprintf(nm, sizeof nm, "b%d_%d_bn0", b, l);
			int y = ct_graph_batchnorm(g, nm, x, 1e-3f, 1, 1);
			snprintf(nm, sizeof nm, "b%d_%d_relu0", b, l);
			y = ct_graph_relu(g, nm, y);
			snprintf(nm, sizeof nm, "b%d_%d_conv1", b, l);
			y = ct_graph_conv2d(g, nm, y, 24, 1, 1, 1, 1, 1, 0, CT_ACT_NONE);
			snprintf(nm, sizeof nm, "b%d_%d_bn1", b, l);
			y = ct_graph_batchnorm(g, nm, y, 1e-3f, 1, 1);
			snprintf(nm, sizeof nm, "b%d_%d_relu1", b, l);
			y = ct_graph_relu(g, nm, y);
			snprintf(nm, sizeof nm, "b%d_%d_conv2", b, l);
			y = ct_graph_conv2d(g, nm, y, 8, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
			snprintf(nm, sizeof nm, "b%d_%d_cat", b, l);
			x = ct_graph_concat(g, nm, 2, (int[]){ x, y });
		}
		if (b == 1) {
			x = ct_graph_batchnorm(g, "t_bn", x, 1e-3f, 1, 1);
			x = ct_graph_relu(g, "t_relu", x);
			x = ct_graph_conv2d(g, "t_conv", x, 20, 1, 1, 1, 1, 1, 0, CT_ACT_NONE);
			x = ct_graph_pool(g, "t_pool", CT_OP_AVGPOOL, x, 2, 2, 2, 2, 0);
		}
	}
	x = ct_graph_batchnorm(g, "bn", x, 1e-3f, 1, 1);
	ct_graph_relu(g, "relu", x);
	return g;
}

static void densenet_paths(void)
{
	ct_graph *g = tiny_densenet();
	ok(!g->err, "a small DenseNet builds");
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	/* every intermediate as an output: nothing is fused away or aliased (the plain path) */
	char all[4096] = "";
	for (int i = 1; i < g->n; i++) {
		if (i > 1)
			strcat(all, ",");
		strcat(all, g->nodes[i].name);
	}
	ct_net *fast = ct_net_new(g, &w, "relu", CT_POOL_NONE);
	ct_net *plain = ct_net_new(g, &w, all, CT_POOL_NONE);
	ok(fast && plain, "the nets bind (%s)", fast && plain ? "" : ct_last_error());
	if (!fast || !plain)
		return;
	ok(ct_net_nsteps(fast) < ct_net_nsteps(plain) - 12,
	   "BN+ReLU prologues remove steps (%d fused, %d plain)", ct_net_nsteps(fast),
	   ct_net_nsteps(plain));
	const int n = 3;
	ct_tensor in, o;
	ct_tensor_alloc4(&in, CT_F32, n, 40, 36, 3);
	for (int64_t i = 0; i < ct_tensor_numel(&in); i++)
		((float *)in.data)[i] = (float)ct_rng_range(&rng, -1, 1);
	t_set_threads(2);
	ct_net_run(plain, &in);
	int last = ct_net_noutputs(plain) - 1;
	ct_net_output(plain, last, &o);
	size_t cnt = (size_t)ct_tensor_numel(&o);
	float *ref = malloc(cnt * sizeof *ref);
	memcpy(ref, o.data, cnt * sizeof *ref);
	t_set_threads(1);
	ct_net_run(fast, &in);
	ct_net_output(fast, 0, &o);
	float *f1 = malloc(cnt * sizeof *f1);
	memcpy(f1, o.data, cnt * sizeof *f1);
	double me = 0, mr = 1e-30;
	for (size_t i = 0; i < cnt; i++) {
		me = fmax(me, fabs((double)f1[i] - ref[i]));
		mr = fmax(mr, fabs((double)ref[i]));
	}
	ok((size_t)ct_tensor_numel(&o) == cnt && me / mr <= 1e-5,
	   "in-place concatenation and BN prologues give the unfused result (%.2g)", me / mr);
	t_set_threads(2);
	ct_net_run(fast, &in); /* whole images per thread */
	ct_net_output(fast, 0, &o);
	ok(!memcmp(f1, o.data, cnt * sizeof *f1), "batch of 3: bit-identical with 1 and 2 threads");
	ct_tensor one = ct_tensor_slice0(&in, 1, 1);
	ct_net_run(fast, &one); /* one image: each layer split over the threads */
	ct_net_output(fast, 0, &o);
	ok(!memcmp(f1 + cnt / n, o.data, cnt / n * sizeof *f1),
	   "one image split over 2 threads: bit-identical too");

	/* the profile: bookkeeping, and it changes nothing */
	ok(ct_net_profile_enable(fast, 1) == 0, "profiling can be enabled");
	ct_net_run(fast, &in);
	ct_net_run(fast, &one);
	ct_net_output(fast, 0, &o);
	ok(!memcmp(f1 + cnt / n, o.data, cnt / n * sizeof *f1), "profiling changes no output");
	double flops = 0, secs = 0;
	int conv_timed = 1, nconv = 0, images_ok = 1, concat_steps = 0;
	for (int i = 0; i < ct_net_nsteps(fast); i++) {
		ct_net_step_info si;
		ct_net_step_get(fast, i, &si);
		flops += si.flops;
		secs += si.seconds;
		images_ok &= si.images == n + 1;
		if (!strncmp(si.op, "conv", 4))
			nconv++, conv_timed &= si.seconds > 0;
		concat_steps += !strcmp(si.op, "concat");
	}
	ok(fabs(flops - ct_net_flops(fast)) <= 1e-9 * flops && nconv == 14 && conv_timed &&
		   images_ok && concat_steps == 6,
	   "the profile has every step: flops add up to the net's, 14 timed convs, 6 concats, "
	   "4 images");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = ct_net_profile_write(fast, f, 100.0);
	fclose(f);
	ok(rc == 0 && strstr(buf, "per op kind") && strstr(buf, "conv1x1") &&
		   strstr(buf, "b1_1_bn0..b1_1_relu1") && strstr(buf, "conv3x3"),
	   "the profile report names fused steps (bn0..relu1: BN, ReLU, conv, BN, ReLU) and groups op kinds");
	free(buf);
	ct_net_profile_enable(fast, 0);
	free(ref), free(f1);
	ct_tensor_free(&in);
	ct_net_free(fast);
	ct_net_free(plain);
	ct_weights_free(&w);
	ct_graph_free(g);
}

/* Xception's pattern: Add -> ReLU -> SeparableConv (the ReLU read by the depthwise half
 * only), against the same graph with every layer an output (nothing fused). */
static void relu_sepconv(void)
{
	ct_graph *g = ct_graph_new("tiny_xception");
	int x = ct_graph_input(g, "in", 23, 21, 20);
	int a = ct_graph_conv2d(g, "c0", x, 32, 3, 3, 2, 2, 1, 1, CT_ACT_NONE);
	int r = ct_graph_relu(g, "r1", a);
	int s1 = ct_graph_sepconv2d(g, "s1", r, 32, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	int b = ct_graph_batchnorm(g, "b1", s1, 1e-3f, 1, 1);
	int sum = ct_graph_add(g, "add", 2, (int[]){ a, b });
	int r2 = ct_graph_relu6(g, "r2", sum);
	ct_graph_sepconv2d(g, "s2", r2, 24, 3, 3, 1, 1, 1, 1, CT_ACT_NONE);
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	ct_net *fast = ct_net_new(g, &w, "s2", CT_POOL_NONE);
	ct_net *plain = ct_net_new(g, &w, "c0,r1,s1,b1,add,r2,s2", CT_POOL_NONE);
	ct_tensor in, o;
	ct_tensor_alloc4(&in, CT_F32, 2, 23, 21, 20);
	for (int64_t i = 0; i < ct_tensor_numel(&in); i++)
		((float *)in.data)[i] = (float)ct_rng_range(&rng, -1, 1);
	ct_net_run(plain, &in);
	ct_net_output(plain, 6, &o);
	size_t cnt = (size_t)ct_tensor_numel(&o);
	float *ref = malloc(cnt * sizeof *ref);
	memcpy(ref, o.data, cnt * sizeof *ref);
	ct_net_run(fast, &in);
	ct_net_output(fast, 0, &o);
	double me = 0, mr = 1e-30;
	for (size_t i = 0; i < cnt; i++) {
		me = fmax(me, fabs((double)((float *)o.data)[i] - ref[i]));
		mr = fmax(mr, fabs((double)ref[i]));
	}
	int acts = 0;
	for (int i = 0; i < ct_net_nsteps(fast); i++) {
		ct_net_step_info si;
		ct_net_step_get(fast, i, &si);
		acts += !strcmp(si.op, "act");
	}
	ok(acts == 0 && me / mr <= 1e-5,
	   "ReLU and ReLU6 in front of separable convs run inside the depthwise step (%d act "
	   "steps left) with the unfused result (%.2g)", acts, me / mr);
	free(ref);
	ct_tensor_free(&in);
	ct_net_free(fast);
	ct_net_free(plain);
	ct_weights_free(&w);
	ct_graph_free(g);
}

int main(void)
{
	ct_rng_init(&rng, 7, 0);
	const char *names[] = { "avx512", "avx2", "generic" };
	for (int i = 0; i < 3; i++) {
		const ct_gemm_kernel *k = ct_gemm_kernel_find(names[i]);
		if (!k) {
			diag("kernel %s not supported here, skipped", names[i]);
			continue;
		}
		prologue_cases(k);
	}
	densenet_paths();
	relu_sepconv();
	double peak = ct_fma_peak_gflops(1, 0.05);
	ok(peak > 0.1, "the FMA peak probe measures something (%.1f GFLOP/s, 1 thread)", peak);
	TEST_DONE();
}
