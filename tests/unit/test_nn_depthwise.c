/* test_nn_depthwise.c - the direct NHWC 3x3 depthwise kernels (depthwise.h) per ISA against
 * a double reference: strides 1-3, 'same' and 'valid' padding, channel tails, channel
 * pitches (slices), the ReLU / ReLU6 in front, bias, residual and activation; and through
 * ct_op_dwconv_pro, 1 and 2 threads bit-identical. */
#include "test.h"
#include "conv_ref.h"
#include "core/rng.h"
#include "nn/depthwise.h"
#include "nn/gemm.h"
#include "nn/graph.h"
#include "nn/ops.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double clampd(double v, int act)
{
	if (act == CT_ACT_RELU)
		return v > 0 ? v : 0;
	if (act == CT_ACT_RELU6)
		return v < 0 ? 0 : v > 6 ? 6 : v;
	return v;
}

static void ref_dw(const ct_conv_geom *g, const float *in, int in_act, const float *w,
		   const float *bias, const float *res, int act, double *out)
{
	for (int n = 0; n < g->n; n++)
		for (int oy = 0; oy < g->oh; oy++)
			for (int ox = 0; ox < g->ow; ox++)
				for (int c = 0; c < g->cin; c++) {
					double s = 0;
					for (int ky = 0; ky < 3; ky++)
						for (int kx = 0; kx < 3; kx++) {
							int iy = oy * g->sh - g->pad_t + ky, ix = ox * g->sw - g->pad_l + kx;
							if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
								continue;
							double x = in[(((int64_t)n * g->h + iy) * g->w + ix) * g->in_pitch + c];
							s += clampd(x, in_act) * w[(ky * 3 + kx) * g->cin + c];
						}
					if (bias)
						s += bias[c];
					int64_t o = (((int64_t)n * g->oh + oy) * g->ow + ox) * g->out_pitch + c;
					if (res)
						s += res[o];
					out[o] = clampd(s, act);
				}
}

int main(void)
{
	ct_rng_init(&rng, 11, 0);
	typedef void (*rows_fn)(const ct_conv_geom *, const float *, int, const float *,
				const float *, const float *, int, float *, int64_t, int64_t);
	const char *names[] = { "avx512", "avx2" };
	rows_fn fns[] = { ct_dwk_rows_avx512, ct_dwk_rows_avx2 };
	rows_fn olds[] = { ct_dwconv_rows_pro_avx512, ct_dwconv_rows_pro_avx2 };
	for (int ki = 0; ki < 2; ki++) {
		if (!ct_gemm_kernel_find(names[ki])) {
			printf("ok %d # skip %s not supported here\n", ++t_count, names[ki]);
			continue;
		}
		double worst = 0;
		int cases = 0, untouched = 1, same_bits = 1;
		for (int t = 0; t < 60; t++) {
			ct_conv_geom g = { 0 };
			g.n = 1 + (int)ct_rng_below(&rng, 2);
			g.h = 1 + (int)ct_rng_below(&rng, 12);
			g.w = 1 + (int)ct_rng_below(&rng, 14);
			g.cin = g.cout = 1 + (int)ct_rng_below(&rng, t % 4 == 0 ? 200 : 40);
			g.kh = g.kw = 3, g.dh = g.dw = 1;
			g.sh = g.sw = 1 + t % 3;
			int same = (t / 3) % 2, pb;
			if (ct_tf_padding(g.h, 3, g.sh, 1, same, &g.oh, &g.pad_t, &pb) ||
			    ct_tf_padding(g.w, 3, g.sw, 1, same, &g.ow, &g.pad_l, &pb))
				continue;
			g.in_pitch = g.cin + (t % 5 == 0 ? 7 : 0);
			g.out_pitch = g.cout + (t % 7 == 0 ? 5 : 0);
			int in_act = t % 3, act = (t / 2) % 3;
			size_t nin = (size_t)g.n * g.h * g.w * g.in_pitch;
			size_t nout = (size_t)g.n * g.oh * g.ow * g.out_pitch;
			float *in = rnd(nin, -8, 8), *w = rnd(9 * (size_t)g.cin, -1, 1);
			float *b = rnd(g.cin, -1, 1), *res = t % 2 ? rnd(nout, -2, 2) : NULL;
			float *out = malloc(nout * sizeof *out);
			double *ref = malloc(nout * sizeof *ref);
			for (size_t i = 0; i < nout; i++)
				out[i] = 1234.f, ref[i] = 1234.0; /* pitch gaps stay untouched */
			fns[ki](&g, in, in_act, w, t % 4 ? b : NULL, res, act, out, 0, (int64_t)g.n * g.oh);
			/* the per-pixel loops of ops_impl.h: the same bits, any stride and padding */
			float *old = malloc(nout * sizeof *old);
			for (size_t i = 0; i < nout; i++)
				old[i] = 1234.f;
			olds[ki](&g, in, in_act, w, t % 4 ? b : NULL, res, act, old, 0, (int64_t)g.n * g.oh);
			same_bits &= !memcmp(old, out, nout * sizeof *old);
			free(old);
			ref_dw(&g, in, in_act, w, t % 4 ? b : NULL, res, act, ref);
			double maxerr = 0, maxref = 1e-30;
			for (size_t i = 0; i < nout; i++) {
				if (ref[i] == 1234.0) {
					untouched &= out[i] == 1234.f;
					continue;
				}
				double e = fabs(out[i] - ref[i]);
				maxerr = e > maxerr ? e : maxerr;
				maxref = fabs(ref[i]) > maxref ? fabs(ref[i]) : maxref;
			}
			double e = maxerr / maxref;
			if (!(e <= 1e-5))
				diag("%s: n%d %dx%dx%d s%d same%d in_act%d act%d: %.3g", names[ki], g.n, g.h,
				     g.w, g.cin, g.sh, same, in_act, act, e);
			worst = e > worst ? e : worst;
			cases++;
			free(in), free(w), free(b), free(res), free(out), free(ref);
		}
		ok(same_bits, "%s direct 3x3 depthwise: the same bits as the per-pixel loops in all %d "
		   "cases", names[ki], cases);
		ok(cases >= 50 && worst <= 1e-5 && untouched,
		   "%s direct 3x3 depthwise: %d cases (stride 1-3, same/valid, channel tails and "
		   "pitches, ReLU/ReLU6 in front, bias, residual, activation) within 1e-5 of the "
		   "reference (%.3g), nothing written outside the outputs", names[ki], cases, worst);
	}

	/* through the op: 1 and 2 threads, the same bits (MobileNetV2's 56x56x144 layer) */
	ct_conv_geom g = { .n = 1, .h = 56, .w = 56, .cin = 144, .cout = 144, .oh = 56, .ow = 56,
			   .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pad_t = 1,
			   .pad_l = 1, .in_pitch = 144, .out_pitch = 144 };
	ok(ct_dwk_fits(&g), "a 3x3 stride-1 depthwise conv goes through the direct kernels");
	size_t nel = (size_t)56 * 56 * 144;
	float *in = rnd(nel, -3, 3), *w = rnd(9 * 144, -1, 1), *b = rnd(144, -1, 1);
	float *o1 = malloc(nel * sizeof *o1), *o2 = malloc(nel * sizeof *o2);
#ifdef _OPENMP
	omp_set_num_threads(1);
#endif
	ct_op_dwconv_pro(&g, in, CT_ACT_RELU, w, b, NULL, CT_ACT_RELU6, o1, 1);
#ifdef _OPENMP
	omp_set_num_threads(2);
#endif
	ct_op_dwconv_pro(&g, in, CT_ACT_RELU, w, b, NULL, CT_ACT_RELU6, o2, 2);
	ok(!memcmp(o1, o2, nel * sizeof *o1), "depthwise conv: 1 and 2 threads bit-identical");
	free(in), free(w), free(b), free(o1), free(o2);
	TEST_DONE();
}
