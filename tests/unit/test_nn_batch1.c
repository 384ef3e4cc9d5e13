/* test_nn_batch1.c - the batch-1 paths of the conv engine: the AVX-512 short-row
 * micro-kernels give the same bits as the 12-row kernel, the thread split of one layer
 * covers every output once, and layers split by rows or by column panels over 2 threads
 * are bit-identical to 1 thread and match a double reference. */
#include "test.h"
#include "conv_ref.h"
#include "core/rng.h"
#include "nn/gemm.h"
#include "nn/gemm_split.h"
#include "nn/graph.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* One conv with kernel k at 1 and 2 threads: error against the reference, same bits? */
static double run_case(const ct_gemm_kernel *k, const ct_conv_geom *g0, int act, int *same)
{
	ct_conv_geom g = *g0;
	g.in_pitch = g.cin, g.out_pitch = g.cout;
	size_t nin = (size_t)g.n * g.h * g.w * g.cin, nout = (size_t)g.n * g.oh * g.ow * g.cout;
	size_t kk = (size_t)g.kh * g.kw * g.cin;
	float *in = rnd(nin, -1, 1), *w = rnd(kk * g.cout, -1, 1), *b = rnd(g.cout, -1, 1);
	float *res = rnd(nout, -2, 2);
	float *o1 = malloc(nout * sizeof *o1), *o2 = malloc(nout * sizeof *o2);
	double *ref = malloc(nout * sizeof *ref);
	ct_packed p;
	if (ct_packed_init(&p, k, (int64_t)kk, g.cout, w, b))
		return INFINITY;
	size_t ws = ct_conv_work_floats(k, &g);
	float *work = malloc(ws * 2 * sizeof(float));
	t_set_threads(1);
	ct_conv2d_gemm(k, &g, in, &p, res, g.cout, act, o1, work, 1);
	t_set_threads(2);
	ct_conv2d_gemm(k, &g, in, &p, res, g.cout, act, o2, work, 2);
	*same = !memcmp(o1, o2, nout * sizeof *o1);
	ref_conv(&g, in, w, b, res, act, ref);
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

/* The short-row kernels against the 12-row kernel on the same A rows (through the public
 * kernel entry: mrows <= 8 goes to the short kernels, mrows 12 computes the full tile). */
static void short_rows(void)
{
	const ct_gemm_kernel *k = ct_gemm_kernel_find("avx512");
	if (!k) {
		printf("ok %d # skip AVX-512 not supported here\n", ++t_count);
		return;
	}
	int all = 1, cases = 0;
	for (int kc = 1; kc <= 70; kc += 23)
		for (int ncols = 5; ncols <= 32; ncols += 9)
			for (int mode = 0; mode < 4; mode++) {
				float *a = rnd(12 * 80, -1, 1), *b = rnd(80 * 32, -1, 1);
				float *bias = rnd(32, -1, 1), *res = rnd(12 * 40, -2, 2);
				float *c0 = rnd(12 * 40, -1, 1);
				float *full = malloc(12 * 40 * sizeof *full);
				memcpy(full, c0, 12 * 40 * sizeof *full);
				ct_epilogue ep = { bias, mode & 1 ? res : NULL, 40,
						   mode == 2 ? CT_ACT_RELU6 : mode == 3 ? CT_ACT_RELU : 0 };
				int accumulate = mode >= 2;
				const ct_epilogue *e = mode ? &ep : NULL;
				k->fn(kc, a, 80, b, full, 40, 12, ncols, accumulate, e);
				for (int r = 1; r <= 8; r++) {
					float *part = malloc(12 * 40 * sizeof *part);
					memcpy(part, c0, 12 * 40 * sizeof *part);
					k->fn(kc, a, 80, b, part, 40, r, ncols, accumulate, e);
					/* rows < r equal the full tile's, everything else untouched */
					for (int i = 0; i < 12; i++)
						all &= !memcmp(part + i * 40, i < r ? full + i * 40 : c0 + i * 40,
							       40 * sizeof(float));
					cases++;
					free(part);
				}
				free(a), free(b), free(bias), free(res), free(c0), free(full);
			}
	ok(all, "avx512: %d short tiles (1-8 rows; accumulate, bias, residual, relu/relu6, "
		"ragged columns) give the 12-row kernel's bits and write only their rows", cases);
}

/* Every (row, panel) of an M x npan GEMM is owned by exactly one of nt threads. */
static void split_cover(void)
{
	int all = 1, cases = 0, by_cols = 0, by_pairs = 0;
	static const int64_t ms[] = { 1, 5, 12, 13, 49, 64, 100, 196, 361, 784, 3136 };
	static const int64_t ps[] = { 1, 2, 3, 4, 8, 23, 64 };
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
		for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++)
			for (int nt = 1; nt <= 4; nt++)
			for (int inplace = 0; inplace < 2; inplace++) {
				int64_t m = ms[i], np = ps[j];
				int *own = calloc((size_t)(m * np), sizeof *own);
				for (int t = 0; t < nt; t++) {
					ct_gemm_part pt;
					ct_gemm_split(m, np, 12, 256, np * 32, inplace, nt, t, &pt);
					by_cols += nt > 1 && pt.r0 == 0 && pt.r1 == m && pt.p1 - pt.p0 < np;
					by_pairs += pt.tiles > 0;
					for (int64_t r = pt.r0; r < pt.r1; r++)
						for (int64_t q = pt.p0; q < pt.p1; q++)
							own[r * np + q]++;
					for (int64_t u = pt.u0; u < pt.u1; u++) {
						int64_t q = u / pt.tiles, tile = u % pt.tiles;
						for (int64_t r = tile * 12; r < tile * 12 + 12 && r < m; r++)
							own[r * np + q]++;
					}
				}
				for (int64_t x = 0; x < m * np; x++)
					all &= own[x] == 1;
				cases++;
				free(own);
			}
	ok(all && by_cols > 0 && by_pairs > 0,
	   "the split of one layer covers every row x panel exactly once (%d cases: shapes x 1-4 "
	   "threads x A in place or not; %d shares by columns, %d by pairs)", cases, by_cols,
	   by_pairs);
	ct_gemm_part a, b;
	ct_gemm_split(49, 64, 12, 512, 2048, 0, 2, 0, &a);
	ct_gemm_split(49, 64, 12, 512, 2048, 0, 2, 1, &b);
	ok(a.r0 == 0 && a.r1 == 49 && b.r0 == 0 && b.r1 == 49 && a.p1 == 32 && b.p0 == 32,
	   "a 7x7 layer at batch 1 (M = 49, 2048 outputs) is split by column panels, 32 each");
	ct_gemm_split(3136, 2, 12, 64, 64, 1, 2, 0, &a);
	ok(a.p0 == 0 && a.p1 == 2 && a.r0 == 0 && a.r1 > 1500 && a.r1 < 1640 && a.r1 % 12 == 0,
	   "a 56x56 layer with 64 outputs is split by rows at a tile boundary (%lld)",
	   (long long)a.r1);
	ct_gemm_split(49, 5, 12, 960, 160, 1, 2, 0, &a);
	ct_gemm_split(49, 5, 12, 960, 160, 1, 2, 1, &b);
	ok(a.tiles == 5 && a.u0 == 0 && a.u1 == 12 && b.u0 == 12 && b.u1 == 25,
	   "a 7x7 1x1 conv with 160 outputs (5 tiles x 5 panels) is dealt out pair by pair, 12 "
	   "and 13");
}

int main(void)
{
	ct_rng_init(&rng, 7, 0);
	short_rows();
	split_cover();
	const char *names[] = { "avx512", "avx2", "generic" };
	for (int ki = 0; ki < 3; ki++) {
		const ct_gemm_kernel *k = ct_gemm_kernel_find(names[ki]);
		if (!k) {
			printf("ok %d # skip kernel %s not supported here\n", ++t_count, names[ki]);
			continue;
		}
		/* batch-1 shapes: 7x7 (column split), 14x14 and 10x10 (rows or columns), a
		 * strided 1x1 and a 3x3 with im2col on both threads */
		static const int shapes[][7] = {
			/* h, cin, cout, k, stride, pad, act */
			{ 7, 300, 200, 1, 1, 0, CT_ACT_RELU },
			{ 7, 96, 64, 3, 1, 1, CT_ACT_RELU6 },
			{ 14, 64, 96, 1, 1, 0, 0 },
			{ 10, 40, 130, 3, 1, 1, CT_ACT_RELU },
			{ 14, 64, 80, 1, 2, 0, 0 },
			{ 28, 16, 24, 1, 1, 0, CT_ACT_RELU6 },
			{ 7, 200, 160, 1, 1, 0, CT_ACT_RELU6 },
			{ 14, 100, 96, 1, 1, 0, 0 },
		};
		int all_same = 1;
		double worst = 0;
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
			const int *v = shapes[s];
			ct_conv_geom g = { .n = 1, .h = v[0], .w = v[0], .cin = v[1], .cout = v[2],
					   .kh = v[3], .kw = v[3], .sh = v[4], .sw = v[4], .dh = 1,
					   .dw = 1, .pad_t = v[5], .pad_l = v[5] };
			g.oh = (g.h + 2 * v[5] - v[3]) / v[4] + 1;
			g.ow = g.oh;
			int same = 0;
			double e = run_case(k, &g, v[6], &same);
			if (!same || !(e <= 1e-5))
				diag("%s: %dx%dx%d k%d s%d: err %.3g same %d", k->name, v[0], v[0], v[1],
				     v[3], v[4], e, same);
			all_same &= same;
			worst = e > worst ? e : worst;
		}
		ok(all_same && worst <= 1e-5,
		   "%s: batch-1 layers (7x7 .. 28x28, 1x1 / 3x3 / strided) over 2 threads are "
		   "bit-identical to 1 thread and within 1e-5 of the reference (%.3g)", k->name, worst);
	}
	TEST_DONE();
}
