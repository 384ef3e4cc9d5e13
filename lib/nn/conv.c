/* conv.c - convolution as GEMM (gemm.h): implicit im2col, the BN prologue, blocking, threads. */
#include "nn/gemm.h"
#include "nn/gemm_split.h"
#include "nn/graph.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define KC_MAX 256 /* B micro-panel kc*NR floats stays in L1 (32 KB at NR=32) */
#define MC_MAX 192 /* A block MC*KC floats stays in L2 */

/* K blocking: a function of K only (never of the thread count), see gemm.h. */
static int kc_of(int64_t k)
{
	int64_t nb = (k + KC_MAX - 1) / KC_MAX;
	return (int)((k + nb - 1) / nb);
}

size_t ct_conv_work_floats(const ct_gemm_kernel *kern, const ct_conv_geom *g)
{
	int64_t k = (int64_t)g->kh * g->kw * g->cin;
	int kc = kc_of(k);
	int mc = MC_MAX / kern->mr * kern->mr;
	/* im2col block + the ragged last row tile, zero padded */
	return (size_t)(mc + kern->mr) * (size_t)kc + 16;
}

static int is_pointwise(const ct_conv_geom *g)
{
	return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pad_t == 0 &&
	       g->pad_l == 0;
}

/* dst = act(src * scale + shift), elementwise over len channels (the prologue). */
static void pro_run(float *dst, const float *src, const float *scale, const float *shift,
		    int act, int len)
{
	if (act == CT_ACT_NONE)
		for (int i = 0; i < len; i++)
			dst[i] = src[i] * scale[i] + shift[i];
	else
		for (int i = 0; i < len; i++) {
			float v = src[i] * scale[i] + shift[i];
			v = v > 0.f ? v : 0.f;
			dst[i] = act == CT_ACT_RELU6 && v > 6.f ? 6.f : v;
		}
}

/* Rows [m0, m0+rows) x columns [k0, k0+kc) of the implicit im2col matrix, row-major with
 * leading dimension kc. Column k of a row is input channel k % cin of tap k / cin =
 * ky*kw + kx (HWIO order); taps in the padding are zeros. Contiguous channel runs are
 * copied with memcpy. */
static void im2col_rows(const ct_gemm_kernel *kern, const ct_conv_geom *g, const float *in,
			const ct_prologue *pro, int64_t m0, int rows, int k0, int kc, float *dst)
{
	if (!pro && ct_im2col_dense(g, in, m0, rows, k0, kc, dst)) /* perf hook: first layers */
		return;
	int64_t ohw = (int64_t)g->oh * g->ow;
	const int merge = !pro && g->in_pitch == g->cin && g->dw == 1 && g->cin < 64;
	/* the prologue's loop for the kernel's ISA (-O2 leaves the portable one scalar) */
	void (*prun)(float *, const float *, const float *, const float *, int, int) =
		!strcmp(kern->name, "avx512") ? ct_pro_run_avx512
		: !strcmp(kern->name, "avx2") ? ct_pro_run_avx2
					      : pro_run;
	for (int i = 0; i < rows; i++) {
		int64_t row = m0 + i;
		int64_t n = row / ohw, r = row % ohw;
		int oy = (int)(r / g->ow), ox = (int)(r % g->ow);
		float *d = dst + (size_t)i * kc;
		int k = k0, kend = k0 + kc;
		while (k < kend) {
			int tap = k / g->cin, ci = k % g->cin;
			int ky = tap / g->kw, kx = tap % g->kw;
			int len = g->cin - ci;
			if (len > kend - k)
				len = kend - k;
			int iy = oy * g->sh - g->pad_t + ky * g->dh;
			int ix = ox * g->sw - g->pad_l + kx * g->dw;
			/* dense input, no dilation: the next taps of this kernel row follow in
			 * memory, one copy takes them all (a first layer has cin = 3) */
			if (merge && iy >= 0 && iy < g->h && ix >= 0) {
				int kx_end = g->kw;
				if (ix + (kx_end - kx) > g->w)
					kx_end = kx + (g->w - ix);
				int run = (kx_end - kx) * g->cin - ci;
				if (run > len)
					len = run < kend - k ? run : kend - k;
			}
			if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
				memset(d + (k - k0), 0, (size_t)len * sizeof(float));
			else if (!pro)
				memcpy(d + (k - k0),
				       in + ((n * g->h + iy) * g->w + ix) * g->in_pitch + ci,
				       (size_t)len * sizeof(float));
			else
				prun(d + (k - k0),
				     in + ((n * g->h + iy) * g->w + ix) * g->in_pitch + ci,
				     pro->scale + ci, pro->shift + ci, pro->act, len);
			k += len;
		}
	}
}

/* One task: rows [m0, m0+mc) and column panels [p0, p1), all K blocks. */
static void conv_task(const ct_gemm_kernel *kern, const ct_conv_geom *g, const float *in,
		      const ct_prologue *pro, const ct_packed *b, const float *res, int64_t ldr, int act, float *out,
		      float *work, int64_t m0, int mc, int64_t p0, int64_t p1)
{
	const int mr = kern->mr, nr = kern->nr;
	const int64_t k = b->k, n = b->n, ldc = g->out_pitch;
	const int kc_max = kc_of(k);
	const int pointwise = is_pointwise(g) && !pro;
	float *abuf = work;
	float *aedge = abuf + (size_t)(MC_MAX / mr * mr) * kc_max;
	const int full = mc / mr * mr, edge = mc - full;
	for (int64_t k0 = 0; k0 < k; k0 += kc_max) {
		int kc = (int)(k - k0 < kc_max ? k - k0 : kc_max);
		int first = k0 == 0, last = k0 + kc == k;
		const float *a0;
		int64_t lda;
		if (pointwise) { /* the input rows are the A matrix */
			a0 = in + m0 * g->in_pitch + k0;
			lda = g->in_pitch;
		} else {
			im2col_rows(kern, g, in, pro, m0, mc, (int)k0, kc, abuf);
			a0 = abuf;
			lda = kc;
		}
		if (edge) { /* the ragged last row tile, zero padded to MR rows */
			for (int r = 0; r < mr; r++) {
				if (r < edge)
					memcpy(aedge + (size_t)r * kc, a0 + (full + r) * lda,
					       (size_t)kc * sizeof(float));
				else
					memset(aedge + (size_t)r * kc, 0, (size_t)kc * sizeof(float));
			}
		}
		for (int64_t q = p0; q < p1; q++) {
			const float *bp = b->data + q * k * nr + k0 * nr;
			int64_t col = q * nr;
			int ncols = (int)(n - col < nr ? n - col : nr);
			/* perf hook: the next B micro-panel is fetched into L2 while this one is
			 * used, where the weights outweigh L2 and so stream from L3 or DRAM
			 * (2 MB per Xception 728 x 728 layer, 4 MB for InceptionV3's 3x3/2
			 * 288 -> 384); smaller ones stay in L2 and gain nothing from it */
			const char *nx = NULL;
			int64_t nlines = 0;
			if (4.0 * (double)k * (double)n <= (double)(1 << 20))
				;
			else if (q + 1 < p1)
				nx = (const char *)(bp + k * nr), nlines = (int64_t)kc * nr / 16;
			else if (k0 + kc < k)
				nx = (const char *)(b->data + p0 * k * nr + (k0 + kc) * nr),
				nlines = (int64_t)(k - k0 - kc < kc_max ? k - k0 - kc : kc_max) * nr / 16;
			const int ntile = (mc + mr - 1) / mr;
			for (int i = 0, ti = 0; i < mc; i += mr, ti++) {
				if (nx)
					for (int64_t l = nlines * ti / ntile; l < nlines * (ti + 1) / ntile; l++)
						__builtin_prefetch(nx + l * 64, 0, 2);
				int mrows = mc - i < mr ? mc - i : mr;
				float *c = out + (m0 + i) * ldc + col;
				ct_epilogue ep = { b->bias + col, res ? res + (m0 + i) * ldr + col : NULL,
						   ldr, act };
				const float *a = mrows == mr ? a0 + i * lda : aedge;
				int64_t la = mrows == mr ? lda : kc;
				kern->fn(kc, a, la, bp, c, ldc, mrows, ncols, !first, last ? &ep : NULL);
			}
		}
	}
}

void ct_conv2d_gemm(const ct_gemm_kernel *kern, const ct_conv_geom *g, const float *in,
		    const ct_packed *b, const float *res, int64_t ldr, int act, float *out,
		    float *work, int nthreads)
{
	ct_conv2d_gemm_pro(kern, g, in, NULL, b, res, ldr, act, out, work, nthreads);
}

/* Thread tid of nt's share of the conv (gemm_split.c), in blocks of mc_max rows. */
static void conv_part(const ct_gemm_kernel *kern, const ct_conv_geom *g, const float *in,
		      const ct_prologue *pro, const ct_packed *b, const float *res, int64_t ldr,
		      int act, float *out, float *w, int tid, int nt)
{
	const int64_t m = (int64_t)g->n * g->oh * g->ow;
	const int mc_max = MC_MAX / kern->mr * kern->mr;
	const int64_t npan = (b->n + b->nr - 1) / b->nr;
	/* perf hook: this thread's rows x panels (gemm_split.c), in blocks of mc_max rows */
	ct_gemm_part pt;
	ct_gemm_split(m, npan, kern->mr, b->k, b->n, is_pointwise(g) && !pro, nt, tid, &pt);
	for (int64_t m0 = pt.r0; m0 < pt.r1 && pt.p0 < pt.p1; m0 += mc_max) {
		int rows = (int)(pt.r1 - m0 < mc_max ? pt.r1 - m0 : mc_max);
		int64_t p0 = pt.p0, p1 = pt.p1;
		conv_task(kern, g, in, pro, b, res, ldr, act, out, w, m0, rows, p0, p1);
	}
	for (int64_t u = pt.u0; u < pt.u1;) { /* (panel, row tile) pairs, A in place */
		int64_t q = u / pt.tiles, t0 = u % pt.tiles;
		int64_t t1 = t0 + (pt.u1 - u) < pt.tiles ? t0 + (pt.u1 - u) : pt.tiles;
		int64_t r0 = t0 * kern->mr, r1 = t1 * kern->mr < m ? t1 * kern->mr : m;
		for (int64_t m0 = r0; m0 < r1; m0 += mc_max)
			conv_task(kern, g, in, pro, b, res, ldr, act, out, w, m0,
				  (int)(r1 - m0 < mc_max ? r1 - m0 : mc_max), q, q + 1);
		u += t1 - t0;
	}
}

void ct_conv2d_gemm_pro(const ct_gemm_kernel *kern, const ct_conv_geom *g, const float *in,
			const ct_prologue *pro, const ct_packed *b, const float *res, int64_t ldr,
			int act, float *out, float *work, int nthreads)
{
	const int64_t m = (int64_t)g->n * g->oh * g->ow;
	if (nthreads < 1 || (double)m * b->n * b->k < (double)(1 << 18))
		nthreads = 1; /* a small GEMM is not worth waking the team */
	if (nthreads == 1) { /* no region at all: even one of one thread costs microseconds */
		conv_part(kern, g, in, pro, b, res, ldr, act, out, work, 0, 1);
		return;
	}
	const size_t wsz = ct_conv_work_floats(kern, g);
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
#endif
	{
#ifdef _OPENMP
		int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#else
		int tid = 0, nt = 1;
#endif
		conv_part(kern, g, in, pro, b, res, ldr, act, out, work + (size_t)tid * wsz, tid,
			  nt);
	}
}
