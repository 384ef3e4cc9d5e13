/* bench_nn.c - throughput of the CNN engine: GEMM GFLOP/s and images/s per backbone at
 * batch 1 and 16 with synthetic weights; prints peak RSS. Not a test (timings vary).
 *   usage: bench_nn [arch ...]      (CT_SIMD=avx512|avx2|generic, OMP_NUM_THREADS=n)
 *          bench_nn --profile [--batch N] [--reps R] arch ...
 *            the per-step profile (ct_net_profile_write) of R runs at batch N (16, 5),
 *            against the FMA peak measured first
 *          bench_nn --run [--batch N] [--reps R] arch ...
 *            only R timed runs at batch N (16, 5) after one warm-up, the best printed, and
 *            the peak RSS (scripts/bench.sh; A/B comparisons as whole processes, e.g.
 *            CT_WINOGRAD=0 against 1) */
#include "core/tensor.h"
#include "models/models.h"
#include "nn/gemm.h"
#include "nn/net.h"
#include "nn/testweights.h"
#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long peak_rss_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

/* A large 1x1 convolution as a square-ish GEMM: the achievable peak of this kernel. */
static void bench_gemm(void)
{
	const ct_gemm_kernel *k = ct_gemm_kernel_get();
	ct_conv_geom g = { .n = 1, .h = 48, .w = 48, .cin = 512, .oh = 48, .ow = 48, .cout = 512,
			   .kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
			   .in_pitch = 512, .out_pitch = 512 };
	int64_t m = 48 * 48;
	float *a = calloc((size_t)m * 512, sizeof(float)), *w = calloc(512 * 512, sizeof(float));
	float *c = calloc((size_t)m * 512, sizeof(float));
	for (int64_t i = 0; i < m * 512; i++)
		a[i] = (float)(i % 7) * 0.1f;
	for (int i = 0; i < 512 * 512; i++)
		w[i] = (float)(i % 5) * 0.01f;
	ct_packed p;
	ct_packed_init(&p, k, 512, 512, w, NULL);
	int nt = ct_nn_threads();
	float *work = malloc(ct_conv_work_floats(k, &g) * nt * sizeof(float));
	double flop = 2.0 * m * 512 * 512, best = 1e30;
	for (int r = 0; r < 20; r++) {
		double t = now();
		ct_conv2d_gemm(k, &g, a, &p, NULL, 0, 0, c, work, nt);
		t = now() - t;
		best = t < best ? t : best;
	}
	printf("gemm %-8s M=%lld K=512 N=512 threads=%d: %.1f GFLOP/s\n", k->name, (long long)m,
	       nt, flop / best * 1e-9);
	ct_packed_release(&p);
	free(a), free(w), free(c), free(work);
}

static int bench_arch(const char *arch)
{
	ct_graph *g = ct_model_build(arch);
	if (!g)
		return -1;
	ct_weights w = { 0 };
	if (ct_graph_testweights(g, &w))
		return -1;
	ct_net *net = ct_net_new(g, &w, NULL, CT_POOL_AVG);
	ct_weights_free(&w);
	if (!net)
		return -1;
	static const int batches[] = { 1, 16 };
	for (int bi = 0; bi < 2; bi++) {
		int b = batches[bi];
		ct_tensor x;
		if (ct_tensor_alloc4(&x, CT_U8, b, g->in_h, g->in_w, g->in_c))
			return -1;
		for (int i = 0; i < b; i++)
			ct_testinput_fill(i, g->in_h, g->in_w, (uint8_t *)x.data + (size_t)i * g->in_h * g->in_w * g->in_c);
		if (ct_net_run(net, &x)) /* warm-up: plans the arena */
			return -1;
		int reps = b == 1 ? 16 : 5; /* best of: the machine may be shared */
		double best = 1e30;
		for (int r = 0; r < reps; r++) {
			double t = now();
			ct_net_run(net, &x);
			t = now() - t;
			best = t < best ? t : best;
		}
		printf("%-13s batch %2d threads %d kernel %s: %7.1f images/s  %6.1f GFLOP/s  "
		       "arena %zu MB  peak RSS %ld MB\n",
		       arch, b, ct_nn_threads(), ct_net_kernel(net), b / best,
		       ct_net_flops(net) * b / best * 1e-9, ct_net_arena_bytes(net) >> 20,
		       peak_rss_mb());
		ct_tensor_free(&x);
	}
	ct_net_free(net);
	ct_graph_free(g);
	return 0;
}

static int profile_arch(const char *arch, int batch, int reps, double peak)
{
	const int run_only = peak < 0;
	ct_graph *g = ct_model_build(arch);
	if (!g)
		return -1;
	ct_weights w = { 0 };
	if (ct_graph_testweights(g, &w))
		return -1;
	ct_net *net = ct_net_new(g, &w, NULL, CT_POOL_AVG);
	ct_weights_free(&w);
	if (!net)
		return -1;
	ct_tensor x;
	if (ct_tensor_alloc4(&x, CT_U8, batch, g->in_h, g->in_w, g->in_c))
		return -1;
	for (int i = 0; i < batch; i++)
		ct_testinput_fill(i, g->in_h, g->in_w, (uint8_t *)x.data + (size_t)i * g->in_h * g->in_w * g->in_c);
	if (ct_net_run(net, &x) || (!run_only && ct_net_profile_enable(net, 1)))
		return -1;
	double t = now(), best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t1 = now();
		ct_net_run(net, &x);
		t1 = now() - t1;
		best = t1 < best ? t1 : best;
	}
	t = now() - t;
	printf("## %s batch %d threads %d kernel %s: %.1f images/s over %d runs (best run %.1f) "
	       "peak RSS %ld MB\n",
	       arch, batch, ct_nn_threads(), ct_net_kernel(net), batch * reps / t, reps,
	       batch / best, peak_rss_mb());
	if (!run_only)
		ct_net_profile_write(net, stdout, peak);
	ct_tensor_free(&x);
	ct_net_free(net);
	ct_graph_free(g);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--profile") || !strcmp(argv[1], "--run"))) {
		const int run_only = !strcmp(argv[1], "--run");
		int batch = 16, reps = 5, i = 2, rc = 0;
		for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
			if (!strcmp(argv[i], "--batch"))
				batch = atoi(argv[i + 1]);
			else if (!strcmp(argv[i], "--reps"))
				reps = atoi(argv[i + 1]);
			else
				break;
		}
		if (batch < 1 || reps < 1 || i >= argc || argv[i][0] == '-') {
			fprintf(stderr, "usage: bench_nn --profile|--run [--batch N] [--reps R] arch...\n");
			return 2;
		}
		double peak = run_only ? -1 : ct_fma_peak_gflops(ct_nn_threads(), 0.5);
		if (!run_only)
			printf("# FMA peak: %.1f GFLOP/s with %d threads (%s)\n", peak, ct_nn_threads(),
		       ct_gemm_kernel_get()->name);
		for (; i < argc; i++)
			if (profile_arch(argv[i], batch, reps, peak))
				rc = 1, fprintf(stderr, "bench_nn: %s\n", ct_last_error());
		return rc;
	}
	bench_gemm();
	const char *const *names = ct_model_names();
	int rc = 0;
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (bench_arch(argv[i]))
				rc = 1, fprintf(stderr, "bench_nn: %s\n", ct_last_error());
	} else {
		for (int i = 0; names[i]; i++)
			if (bench_arch(names[i]))
				rc = 1, fprintf(stderr, "bench_nn: %s\n", ct_last_error());
	}
	return rc;
}
