/* test_nn_gemm.c - the packed-GEMM convolution, each SIMD kernel, against a direct double
 * reference; epilogues; bit-identical results for 1 and 2 threads. */
#include "test.h"
#include "conv_ref.h"
#include "core/rng.h"
#include "nn/gemm.h"
#include "nn/graph.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int set_threads(int n)
{
#ifdef _OPENMP
	omp_set_num_threads(n);
	return n;
#else
	(void)n;
	return 1;
#endif
}

/* Run one conv case with kernel k; return the normalised error vs the reference and
 * whether 1 and 2 threads agree bit for bit. */
static double run_case(const ct_gemm_kernel *k, const ct_conv_geom *g0, int use_bias, int use_res,
		       int act, int *same_bits)
{
	ct_conv_geom g = *g0;
	g.in_pitch = g.cin, g.out_pitch = g.cout;
	size_t nin = (size_t)g.n * g.h * g.w * g.cin, nout = (size_t)g.n * g.oh * g.ow * g.cout;
	size_t kk = (size_t)g.kh * g.kw * g.cin;
	float *in = rnd(nin, -1, 1), *w = rnd(kk * g.cout, -1, 1), *b = rnd(g.cout, -1, 1);
	float *res = use_res ? rnd(nout, -2, 2) : NULL;
	float *o1 = malloc(nout * sizeof *o1), *o2 = malloc(nout * sizeof *o2);
	double *ref = malloc(nout * sizeof *ref);
	ct_packed p;
	if (ct_packed_init(&p, k, (int64_t)kk, g.cout, w, use_bias ? b : NULL))
		return INFINITY;
	size_t ws = ct_conv_work_floats(k, &g);
	float *work = malloc(ws * 2 * sizeof(float));
	set_threads(1);
	ct_conv2d_gemm(k, &g, in, &p, res, g.cout, act, o1, work, 1);
	set_threads(2);
	ct_conv2d_gemm(k, &g, in, &p, res, g.cout, act, o2, work, 2);
	*same_bits = !memcmp(o1, o2, nout * sizeof *o1);
	ref_conv(&g, in, w, use_bias ? b : NULL, res, act, ref);
	double maxerr = 0, maxref = 1e-30;
	for (size_t i = 0; i < nout; i++) {
		double e = fabs(o1[i] - ref[i]);
		maxerr = e > maxerr ? e : maxerr;
		maxref = fabs(ref[i]) > maxref ? fabs(ref[i]) : maxref;
	}
	ct_packed_release(&p);
	free(in), free(w), free(b), free(res), free(o1), free(o2), free(ref), free(work);
	return maxerr / maxref;
}

int main(void)
{
	ct_rng_init(&rng, 42, 0);
	setenv("CT_SIMD", "avx2", 1);
	const ct_gemm_kernel *forced = ct_gemm_kernel_get();
	ok(forced && !strcmp(forced->name, "avx2"), "CT_SIMD=avx2 forces the AVX2 kernel");
	const char *names[] = { "avx512", "avx2", "generic" };
	for (int ki = 0; ki < 3; ki++) {
		const ct_gemm_kernel *k = ct_gemm_kernel_find(names[ki]);
		if (!k) {
			diag("kernel %s not supported here, skipped", names[ki]);
			continue;
		}
		double worst = 0;
		int all_ok = 1, all_same = 1, ncase = 0;
		for (int c = 0; c < 40; c++) {
			ct_conv_geom g = { 0 };
			g.n = 1 + (int)ct_rng_below(&rng, 3);
			g.h = 1 + (int)ct_rng_below(&rng, 13);
			g.w = 1 + (int)ct_rng_below(&rng, 13);
			g.cin = 1 + (int)ct_rng_below(&rng, c % 5 == 0 ? 300 : 40);
			g.cout = 1 + (int)ct_rng_below(&rng, c % 7 == 0 ? 100 : 50);
			static const int ks[][2] = { { 1, 1 }, { 3, 3 }, { 1, 7 }, { 7, 1 }, { 5, 5 }, { 1, 3 }, { 3, 1 }, { 2, 2 } };
			int kc = (int)ct_rng_below(&rng, 8);
			g.kh = ks[kc][0], g.kw = ks[kc][1];
			g.sh = g.sw = 1 + (int)ct_rng_below(&rng, 2);
			g.dh = g.dw = c % 9 == 4 ? 2 : 1;
			int same = (int)ct_rng_below(&rng, 2);
			int pb, pa;
			if (ct_tf_padding(g.h, g.kh, g.sh, g.dh, same, &g.oh, &g.pad_t, &pb) ||
			    ct_tf_padding(g.w, g.kw, g.sw, g.dw, same, &g.ow, &g.pad_l, &pa))
				continue;
			(void)pb, (void)pa;
			int act = (int)ct_rng_below(&rng, 3);
			int same_bits;
			double e = run_case(k, &g, c % 2, c % 3 == 0, act, &same_bits);
			ncase++;
			if (!(e <= 1e-5)) {
				all_ok = 0;
				diag("%s: n=%d %dx%dx%d -> %dx%dx%d k=%dx%d s=%d d=%d same=%d err %.3g",
				     k->name, g.n, g.h, g.w, g.cin, g.oh, g.ow, g.cout, g.kh, g.kw, g.sh,
				     g.dh, same, e);
			}
			all_same &= same_bits;
			worst = e > worst ? e : worst;
		}
		diag("%s: %d random convolutions, largest relative error %.3g", k->name, ncase,
		     worst);
		ok(ncase >= 30 && all_ok,
		   "%s kernel: convolutions (1x1/3x3/1x7/7x1/5x5, stride 1/2, same/valid, "
		   "dilation, bias, residual, relu/relu6) match the reference within 1e-5",
		   k->name);
		ok(all_same, "%s kernel: 1 and 2 threads give bit-identical outputs", k->name);

		/* a deep K (several K blocks) and a ragged M and N */
		ct_conv_geom g = { .n = 2, .h = 9, .w = 11, .cin = 700, .oh = 9, .ow = 11,
				   .cout = 77, .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1 };
		int sb;
		double e = run_case(k, &g, 1, 1, CT_ACT_RELU, &sb);
		diag("%s: K=700 1x1 error %.3g", k->name, e);
		ok(e <= 1e-5 && sb, "%s kernel: K split in blocks accumulates correctly", k->name);

		/* a 3x3 conv large enough to be split over both threads */
		ct_conv_geom g3 = { .n = 2, .h = 20, .w = 19, .cin = 32, .oh = 20, .ow = 19,
				    .cout = 70, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
				    .pad_t = 1, .pad_l = 1 };
		e = run_case(k, &g3, 1, 0, CT_ACT_RELU6, &sb);
		ok(e <= 1e-5 && sb, "%s kernel: a 3x3 conv split over 2 threads is bit-identical to 1 thread (%.3g)", k->name, e);
	}
	ok(ct_gemm_kernel_find("nosuch") == NULL, "an unknown kernel name is refused");
	ok(ct_gemm_kernel_set("generic") == 0 && !strcmp(ct_gemm_kernel_get()->name, "generic"),
	   "the kernel in use can be switched by name");
	TEST_DONE();
}
