/* ops.c - the non-GEMM layer kernels: depthwise conv, pooling, padding, concat, add,
 * batch normalisation, activations, global pooling, softmax. */
#include "nn/ops.h"
#include "nn/graph.h"
#include "nn/depthwise.h"

#include <float.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "ops_impl.h"

/* One OpenMP region; thread t gets items [n*t/nt, n*(t+1)/nt): a fixed split. */
#ifdef _OPENMP
#define PAR_RANGE(nitems, nthreads, lo, hi)                                            \
	_Pragma("omp parallel num_threads(nthreads) if (nthreads > 1)") for (int64_t lo = (int64_t)(nitems) * \
		omp_get_thread_num() / omp_get_num_threads(),                            \
		hi = (int64_t)(nitems) * (omp_get_thread_num() + 1) / omp_get_num_threads(), \
		once_ = 1; once_; once_ = 0)
#else
#define PAR_RANGE(nitems, nthreads, lo, hi)                                             \
	for (int64_t lo = 0, hi = (int64_t)(nitems) + 0 * (nthreads), once_ = 1; once_; once_ = 0)
#endif

/* The row kernels follow the GEMM kernel's ISA: 2 AVX-512, 1 AVX2, 0 portable C. */
static int kernel_isa(void)
{
	const ct_gemm_kernel *k = ct_gemm_kernel_get();
	return k && !strcmp(k->name, "avx512") ? 2 : k && !strcmp(k->name, "avx2") ? 1 : 0;
}

/* Threads for an op of `work` multiply-adds or copies: small ops run on one thread, as
 * waking the team costs more than it saves (and much more on a busy machine). The split
 * never changes results. */
static int par_threads(int64_t work, int nthreads)
{
	return work < (1 << 16) ? 1 : nthreads;
}

void ct_op_dwconv(const ct_conv_geom *g, const float *in, const float *w, const float *bias,
		  const float *res, int act, float *out, int nthreads)
{
	ct_op_dwconv_pro(g, in, CT_ACT_NONE, w, bias, res, act, out, nthreads);
}

void ct_op_dwconv_pro(const ct_conv_geom *g, const float *in, int in_act, const float *w,
		      const float *bias, const float *res, int act, float *out, int nthreads)
{
	int isa = kernel_isa();
	int64_t rows = (int64_t)g->n * g->oh;
	nthreads = par_threads(rows * g->ow * g->cin * g->kh * g->kw, nthreads);
	/* perf hook: the direct 3x3 kernels (depthwise.h) give the same bits as the loops
	 * below; they are faster on one thread, slower when a layer is split over the threads */
	const int direct = ct_dwk_fits(g) && nthreads == 1;
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		if (direct && isa == 2)
			ct_dwk_rows_avx512(g, in, in_act, w, bias, res, act, out, r0, r1);
		else if (direct && isa == 1)
			ct_dwk_rows_avx2(g, in, in_act, w, bias, res, act, out, r0, r1);
		else if (isa == 2)
			ct_dwconv_rows_pro_avx512(g, in, in_act, w, bias, res, act, out, r0, r1);
		else if (isa == 1)
			ct_dwconv_rows_pro_avx2(g, in, in_act, w, bias, res, act, out, r0, r1);
		else
			dw_rows_pro(g, in, in_act, w, bias, res, act, out, r0, r1);
	}
}

void ct_op_pool(int is_max, const ct_conv_geom *g, const float *in, float *out, int nthreads)
{
	int isa = kernel_isa();
	int64_t rows = (int64_t)g->n * g->oh;
	nthreads = par_threads(rows * g->ow * g->cin * g->kh * g->kw, nthreads);
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		if (isa == 2)
			ct_pool_rows_avx512(is_max, g, in, out, r0, r1);
		else if (isa == 1)
			ct_pool_rows_avx2(is_max, g, in, out, r0, r1);
		else
			pool_rows(is_max, g, in, out, r0, r1);
	}
}

void ct_op_zeropad(int n, int h, int w, int c, int t, int b, int l, int r, const float *in,
		   float *out, int nthreads)
{
	int oh = h + t + b, ow = w + l + r;
	int64_t rows = (int64_t)n * oh;
	nthreads = par_threads(rows * ow * c, nthreads);
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		for (int64_t row = r0; row < r1; row++) {
			int img = (int)(row / oh), oy = (int)(row % oh);
			float *o = out + row * ow * c;
			int iy = oy - t;
			if (iy < 0 || iy >= h) {
				memset(o, 0, (size_t)ow * c * sizeof(float));
				continue;
			}
			memset(o, 0, (size_t)l * c * sizeof(float));
			memcpy(o + (int64_t)l * c, in + (((int64_t)img * h + iy) * w) * c,
			       (size_t)w * c * sizeof(float));
			memset(o + (int64_t)(l + w) * c, 0, (size_t)r * c * sizeof(float));
		}
	}
}

void ct_op_concat(int64_t rows, int nin, const float *const *in, const int *c, float *out,
		  int64_t out_pitch, int nthreads)
{
	nthreads = par_threads(rows * out_pitch, nthreads);
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		for (int64_t r = r0; r < r1; r++) {
			float *o = out + r * out_pitch;
			for (int i = 0; i < nin; i++) {
				if (in[i]) /* NULL: already written in place */
					memcpy(o, in[i] + r * c[i], (size_t)c[i] * sizeof(float));
				o += c[i];
			}
		}
	}
}

void ct_op_add(int64_t numel, int nin, const float *const *in, float *out, int nthreads)
{
	nthreads = par_threads(numel * nin, nthreads);
	PAR_RANGE(numel, nthreads, e0, e1)
	{
		for (int64_t e = e0; e < e1; e++) {
			float s = in[0][e];
			for (int i = 1; i < nin; i++)
				s += in[i][e];
			out[e] = s;
		}
	}
}

void ct_op_scale_shift(int64_t rows, int c, const float *in, const float *scale,
		       const float *shift, int act, float *out, int nthreads)
{
	nthreads = par_threads(rows * c, nthreads);
	PAR_RANGE(rows, nthreads, r0, r1)
	{
		for (int64_t r = r0; r < r1; r++)
			for (int ch = 0; ch < c; ch++)
				out[r * c + ch] = dw_act(in[r * c + ch] * scale[ch] + shift[ch], act);
	}
}

void ct_op_act(int64_t numel, const float *in, int act, float *out, int nthreads)
{
	nthreads = par_threads(numel, nthreads);
	PAR_RANGE(numel, nthreads, e0, e1)
	{
		for (int64_t e = e0; e < e1; e++)
			out[e] = dw_act(in[e], act);
	}
}

void ct_op_gpool(int is_max, int n, int64_t hw, int c, const float *in, float *out)
{
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++) {
			const float *p = in + (int64_t)i * hw * c + ch;
			if (is_max) {
				float m = -FLT_MAX;
				for (int64_t s = 0; s < hw; s++)
					m = p[s * c] > m ? p[s * c] : m;
				out[(int64_t)i * c + ch] = m;
			} else {
				double s = 0;
				for (int64_t q = 0; q < hw; q++)
					s += p[q * c];
				out[(int64_t)i * c + ch] = (float)(s / (double)hw);
			}
		}
}

void ct_op_softmax(int64_t rows, int c, const float *in, float *out)
{
	for (int64_t r = 0; r < rows; r++) {
		const float *x = in + r * c;
		float *y = out + r * c;
		float m = -FLT_MAX;
		for (int ch = 0; ch < c; ch++)
			m = x[ch] > m ? x[ch] : m;
		double s = 0;
		for (int ch = 0; ch < c; ch++) {
			y[ch] = expf(x[ch] - m);
			s += y[ch];
		}
		for (int ch = 0; ch < c; ch++)
			y[ch] = (float)(y[ch] / s);
	}
}
