/* gemm.c - the GEMM micro-kernels: run-time dispatch, the portable kernel, B packing. */
#include "nn/gemm.h"
#include "nn/graph.h"
#include "core/error.h"
#include "core/tensor.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define GEN_MR 4
#define GEN_NR 16

static inline float act_apply(float v, int act)
{
	if (act == CT_ACT_RELU)
		return v > 0.f ? v : 0.f;
	if (act == CT_ACT_RELU6)
		return v > 0.f ? (v < 6.f ? v : 6.f) : 0.f;
	return v;
}

/* Portable kernel: plain loops the compiler may vectorise for baseline SSE2. */
static void ukernel_generic(int kc, const float *a, int64_t lda, const float *b, float *c,
			    int64_t ldc, int mrows, int ncols, int accumulate,
			    const ct_epilogue *ep)
{
	float acc[GEN_MR][GEN_NR];
	memset(acc, 0, sizeof acc);
	for (int k = 0; k < kc; k++)
		for (int i = 0; i < GEN_MR; i++) {
			float av = a[i * lda + k];
			for (int j = 0; j < GEN_NR; j++)
				acc[i][j] += av * b[k * GEN_NR + j];
		}
	for (int i = 0; i < mrows; i++)
		for (int j = 0; j < ncols; j++) {
			float v = acc[i][j];
			if (accumulate)
				v = c[i * ldc + j] + v;
			if (ep) {
				if (ep->bias)
					v += ep->bias[j];
				if (ep->res)
					v += ep->res[i * ep->ldr + j];
				v = act_apply(v, ep->act);
			}
			c[i * ldc + j] = v;
		}
}

static const ct_gemm_kernel kernels[] = {
	{ "avx512", CT_AVX512_MR, CT_AVX512_NR, ct_ukernel_avx512 },
	{ "avx2", CT_AVX2_MR, CT_AVX2_NR, ct_ukernel_avx2 },
	{ "generic", GEN_MR, GEN_NR, ukernel_generic },
};

static int supported(const ct_gemm_kernel *k)
{
	__builtin_cpu_init();
	if (!strcmp(k->name, "avx512"))
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
		       __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
	if (!strcmp(k->name, "avx2"))
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	return 1;
}

const ct_gemm_kernel *ct_gemm_kernel_find(const char *name)
{
	for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
		if (name && !strcmp(name, kernels[i].name)) {
			if (!supported(&kernels[i])) {
				ct_error("simd kernel '%s' is not supported by this cpu", name);
				return NULL;
			}
			return &kernels[i];
		}
	ct_error("unknown simd kernel '%s' (avx512, avx2, generic)", name ? name : "");
	return NULL;
}

static const ct_gemm_kernel *current;

const ct_gemm_kernel *ct_gemm_kernel_get(void)
{
	if (current)
		return current;
	const ct_gemm_kernel *k = NULL;
	const char *env = getenv("CT_SIMD");
	if (env && *env)
		k = ct_gemm_kernel_find(env);
	for (size_t i = 0; !k && i < sizeof kernels / sizeof kernels[0]; i++)
		if (supported(&kernels[i]))
			k = &kernels[i];
	current = k;
	return k;
}

int ct_gemm_kernel_set(const char *name)
{
	const ct_gemm_kernel *k = ct_gemm_kernel_find(name);
	if (!k)
		return -1;
	current = k;
	return 0;
}

int ct_nn_threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

static float *alloc_floats(size_t n)
{
	size_t bytes;
	if (ct_mul_size(n ? n : 1, sizeof(float), &bytes)) {
		ct_error("size overflow");
		return NULL;
	}
	bytes = (bytes + 63) / 64 * 64;
	float *p = aligned_alloc(64, bytes);
	if (!p)
		ct_error("out of memory (%zu bytes)", bytes);
	return p;
}

int ct_packed_init(ct_packed *p, const ct_gemm_kernel *kern, int64_t k, int64_t n, const float *w,
		   const float *bias)
{
	memset(p, 0, sizeof *p);
	int nr = kern->nr;
	int64_t npan = (n + nr - 1) / nr;
	size_t sz, pan;
	if (k <= 0 || n <= 0 || ct_mul_size((size_t)k, (size_t)nr, &pan) ||
	    ct_mul_size(pan, (size_t)npan, &sz))
		return ct_error("bad gemm size %lld x %lld", (long long)k, (long long)n);
	p->data = alloc_floats(sz);
	p->bias = alloc_floats((size_t)(npan * nr));
	if (!p->data || !p->bias) {
		ct_packed_release(p);
		return -1;
	}
	p->k = k, p->n = n, p->nr = nr;
	for (int64_t q = 0; q < npan; q++) {
		float *dst = p->data + q * k * nr;
		for (int64_t kk = 0; kk < k; kk++)
			for (int j = 0; j < nr; j++) {
				int64_t col = q * nr + j;
				dst[kk * nr + j] = col < n ? w[kk * n + col] : 0.f;
			}
	}
	for (int64_t j = 0; j < npan * nr; j++)
		p->bias[j] = bias && j < n ? bias[j] : 0.f;
	return 0;
}

void ct_packed_release(ct_packed *p)
{
	free(p->data);
	free(p->bias);
	memset(p, 0, sizeof *p);
}
