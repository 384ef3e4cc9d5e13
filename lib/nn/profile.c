/* profile.c - the engine's per-step profile as text, and the measured FMA peak it is
 * compared with (ct-features --profile, bench_nn --profile, docs/performance.md). */
#include "nn/net.h"
#include "nn/gemm.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* FMA chains of the engine's kernel ISA on every thread at once; the best of a few rounds
 * (a shared host steals cycles: the best round is the closest to the hardware's peak). */
double ct_fma_peak_gflops(int nthreads, double seconds)
{
	const ct_gemm_kernel *k = ct_gemm_kernel_get();
	if (!k)
		return 0;
	int isa = !strcmp(k->name, "avx512") ? 16 : !strcmp(k->name, "avx2") ? 8 : 0;
	if (!isa)
		return 0; /* the portable kernel has no defined peak */
	if (nthreads < 1)
		nthreads = 1;
	float (*loop)(int64_t) = isa == 16 ? ct_fma_loop_avx512 : ct_fma_loop_avx2;
	/* calibrate: iterations for about seconds/5 per round */
	int64_t iters = 1 << 16;
	double t;
	for (;;) {
		t = now_s();
		volatile float sink = loop(iters);
		(void)sink;
		t = now_s() - t;
		if (t > 0.01 || iters > ((int64_t)1 << 40))
			break;
		iters *= 4;
	}
	iters = (int64_t)((double)iters * (seconds / 5) / t) + 1;
	double best = 0;
	for (int r = 0; r < 5; r++) {
		double t0 = now_s();
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
#endif
		{
			volatile float sink = loop(iters);
			(void)sink;
		}
		double dt = now_s() - t0;
		double gf = (double)nthreads * (double)iters * CT_FMA_LOOP_CHAINS * isa * 2 / dt * 1e-9;
		best = gf > best ? gf : best;
	}
	return best;
}

typedef struct kind_sum {
	char op[16];
	int steps;
	double flops, seconds, best;
} kind_sum;

static int by_seconds(const void *a, const void *b)
{
	double x = ((const kind_sum *)a)->seconds, y = ((const kind_sum *)b)->seconds;
	return x < y ? 1 : x > y ? -1 : 0;
}

int ct_net_profile_write(const ct_net *net, FILE *f, double peak)
{
	int n = ct_net_nsteps(net);
	ct_net_step_info in;
	if (ct_net_step_get(net, 0, &in))
		return -1;
	if (in.images <= 0)
		return ct_error("no profiled run");
	double total = 0, tflops = 0, tbest = 0;
	kind_sum *ks = calloc((size_t)n, sizeof *ks);
	if (!ks)
		return ct_error("out of memory");
	int nk = 0;
	for (int i = 0; i < n; i++) {
		ct_net_step_get(net, i, &in);
		total += in.seconds;
		tbest += in.best;
		tflops += in.flops;
		int k = 0;
		while (k < nk && strcmp(ks[k].op, in.op))
			k++;
		if (k == nk)
			snprintf(ks[nk++].op, sizeof ks[0].op, "%s", in.op);
		ks[k].steps++;
		ks[k].flops += in.flops;
		ks[k].seconds += in.seconds;
		ks[k].best += in.best;
	}
	double img = (double)in.images;
	fprintf(f, "# profile: %lld images, %.3f ms per image (sum of the best calls %.3f), "
		   "%.2f GFLOP per image, %.1f GFLOP/s (best %.1f); FMA peak %.1f GFLOP/s "
		   "(measured, %d threads)\n",
		(long long)in.images, total / img * 1e3, tbest * 1e3, tflops * 1e-9,
		total > 0 ? tflops * img / total * 1e-9 : 0, tbest > 0 ? tflops / tbest * 1e-9 : 0,
		peak, ct_nn_threads());
	fprintf(f, "# mean: all calls; best: the fastest call of the step (per image), GFLOP/s and "
		   "%%peak from the best; a fused group runs as one call, timed on its first step with "
		   "the group's flops (its other steps show 0)\n");
	fprintf(f, "# step layer(..last fused) op geometry ms/image(mean) %%time ms/image(best) "
		   "GFLOP/s %%peak\n");
	for (int i = 0; i < n; i++) {
		ct_net_step_get(net, i, &in);
		char geo[64] = "";
		if (in.kh > 0)
			snprintf(geo, sizeof geo, "%dx%dx%d->%dx%dx%d", in.kh, in.kw, in.cin, in.oh,
				 in.ow, in.cout);
		double gf = in.best > 0 ? in.flops / in.best * 1e-9 : 0;
		char name[160];
		if (strcmp(in.layer, in.last))
			snprintf(name, sizeof name, "%s..%s", in.layer, in.last);
		else
			snprintf(name, sizeof name, "%s", in.layer);
		fprintf(f, "%4d %-44s %-11s %-22s %8.4f %5.1f %8.4f", i, name, in.op, geo,
			in.seconds / img * 1e3, total > 0 ? in.seconds / total * 100 : 0,
			in.best * 1e3);
		if (in.flops > 0)
			fprintf(f, " %7.1f %5.1f", gf, peak > 0 ? gf / peak * 100 : 0);
		fputc('\n', f);
	}
	qsort(ks, (size_t)nk, sizeof *ks, by_seconds);
	fprintf(f, "# per op kind: op steps ms/image(mean) %%time ms/image(best) %%time(best) "
		   "GFLOP/image GFLOP/s(best) %%peak\n");
	for (int k = 0; k < nk; k++) {
		double gf = ks[k].best > 0 ? ks[k].flops / ks[k].best * 1e-9 : 0;
		fprintf(f, "%-11s %4d %8.3f %5.1f %8.3f %5.1f %7.3f", ks[k].op, ks[k].steps,
			ks[k].seconds / img * 1e3, total > 0 ? ks[k].seconds / total * 100 : 0,
			ks[k].best * 1e3, tbest > 0 ? ks[k].best / tbest * 100 : 0,
			ks[k].flops * 1e-9);
		if (ks[k].flops > 0)
			fprintf(f, " %7.1f %5.1f", gf, peak > 0 ? gf / peak * 100 : 0);
		fputc('\n', f);
	}
	free(ks);
	return 0;
}
