/* gemm.h - convolution as packed GEMM with run-time chosen SIMD micro-kernels.
 *
 * C[M x N] = A[M x K] * B[K x N]: M = output pixels (N*OH*OW, NHWC rows), K = kh*kw*cin
 * (the HWIO kernel flattened, which is already K x N row-major), N = cout. B (weights)
 * is packed once at load into column panels of the kernel's NR, k-major, zero padded.
 * A is not packed: a 1x1 stride-1 conv reads the input rows in place; other convs build
 * an im2col block of MC rows x KC columns per task in the thread's workspace.
 * The K blocking depends only on K, and each output element is reduced by one thread
 * in a fixed order, so results are bit-identical for any thread count. */
#ifndef CT_GEMM_H
#define CT_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* What the last K block adds before storing: bias[N], a residual (Add) and an activation. */
typedef struct ct_epilogue {
	const float *bias; /* may be NULL */
	const float *res;  /* may be NULL: res[i*ldr + j] added after the bias */
	int64_t ldr;
	int act;	   /* ct_act: NONE, RELU, RELU6 */
} ct_epilogue;

/* A micro-kernel: C[MR x NR] (=|+=) A[MR x kc] * B_panel[kc x NR], then, when ep is
 * non-NULL, the epilogue; only the top-left mrows x ncols of C (and of the residual) are
 * read or written. A is read in place, row i at a + i*lda (the input rows of a 1x1 conv,
 * or an im2col block), all MR rows; b is k-major (b[k*NR + j]), zero padded to NR. */
typedef void (*ct_ukernel_fn)(int kc, const float *a, int64_t lda, const float *b, float *c,
			      int64_t ldc, int mrows, int ncols, int accumulate,
			      const ct_epilogue *ep);

typedef struct ct_gemm_kernel {
	const char *name; /* "avx512", "avx2", "generic" */
	int mr, nr;
	ct_ukernel_fn fn;
} ct_gemm_kernel;

/* The kernel in use: the best the CPU supports, or the one named by env CT_SIMD
 * (avx512|avx2|generic) at first call. */
const ct_gemm_kernel *ct_gemm_kernel_get(void);
/* Look a kernel up by name; NULL with an error if unknown or unsupported by this CPU. */
const ct_gemm_kernel *ct_gemm_kernel_find(const char *name);
/* Make `name` the kernel in use (tests); -1 if unknown/unsupported. */
int ct_gemm_kernel_set(const char *name);

/* Packed B: K x N weights in panels of nr columns, plus a bias padded to the panels. */
typedef struct ct_packed {
	int64_t k, n;
	int nr;
	float *data; /* ceil(n/nr) panels of k*nr floats */
	float *bias; /* ceil(n/nr)*nr floats (zeros when the layer has none) */
} ct_packed;

/* Pack w (K x N row-major) and bias (N floats or NULL) for kernel kern. */
int ct_packed_init(ct_packed *p, const ct_gemm_kernel *kern, int64_t k, int64_t n, const float *w,
		   const float *bias);
void ct_packed_release(ct_packed *p);

/* Convolution geometry on NHWC tensors (input rows n*h*w of cin floats). */
typedef struct ct_conv_geom {
	int n, h, w, cin;
	int oh, ow, cout;
	int kh, kw, sh, sw, dh, dw;
	int pad_t, pad_l; /* pads on the after side are implied by oh/ow */
	int64_t in_pitch;  /* floats between input pixels (>= cin; for channel slices) */
	int64_t out_pitch; /* floats between output pixels (>= cout) */
} ct_conv_geom;

/* Per-thread workspace in floats for a conv with this geometry and kernel. */
size_t ct_conv_work_floats(const ct_gemm_kernel *kern, const ct_conv_geom *g);

/* out = act(conv(in, B) + bias [+ res]); work holds nthreads * ct_conv_work_floats floats.
 * Runs its own OpenMP parallel region over (row block, column panel group) tasks. */
void ct_conv2d_gemm(const ct_gemm_kernel *kern, const ct_conv_geom *g, const float *in,
		    const ct_packed *b, const float *res, int64_t ldr, int act, float *out,
		    float *work, int nthreads);

/* What is applied to every input value as A is built, before the product: a[.][k] =
 * act(x * scale[c] + shift[c]) with c the input channel of column k (a batch
 * normalisation and activation in front of the conv: DenseNet's pre-activation blocks).
 * Padding taps stay zero, as they are zeros of the transformed input. */
typedef struct ct_prologue {
	const float *scale, *shift; /* cin floats each */
	int act;		    /* ct_act: NONE, RELU, RELU6 */
} ct_prologue;

/* ct_conv2d_gemm with a prologue (pro may be NULL: then exactly ct_conv2d_gemm). */
void ct_conv2d_gemm_pro(const ct_gemm_kernel *kern, const ct_conv_geom *g, const float *in,
			const ct_prologue *pro, const ct_packed *b, const float *res, int64_t ldr,
			int act, float *out, float *work, int nthreads);

/* Number of threads the engine uses (omp_get_max_threads, 1 without OpenMP). */
int ct_nn_threads(void);

/* Kernels per ISA (gemm_avx512.c, gemm_avx2.c); the portable one lives in gemm.c. */
void ct_ukernel_avx512(int kc, const float *a, int64_t lda, const float *b, float *c,
		       int64_t ldc, int mrows, int ncols, int accumulate, const ct_epilogue *ep);
void ct_ukernel_avx2(int kc, const float *a, int64_t lda, const float *b, float *c,
		     int64_t ldc, int mrows, int ncols, int accumulate, const ct_epilogue *ep);
/* The FMA peak as measured: every thread runs independent FMA chains of the kernel's ISA
 * (no memory traffic) for about `seconds`; GFLOP/s of all threads together (profile.c). */
double ct_fma_peak_gflops(int nthreads, double seconds);
/* iters x (24 chains of one vector FMA), returns a value that depends on all of them. */
float ct_fma_loop_avx512(int64_t iters);
float ct_fma_loop_avx2(int64_t iters);
#define CT_FMA_LOOP_CHAINS 24
/* The prologue's transform of len floats per ISA (conv.c has the portable loop). */
void ct_pro_run_avx512(float *dst, const float *src, const float *scale, const float *shift,
		       int act, int len);
void ct_pro_run_avx2(float *dst, const float *src, const float *scale, const float *shift,
		     int act, int len);
#define CT_AVX512_MR 12
#define CT_AVX512_NR 32
#define CT_AVX2_MR 6
#define CT_AVX2_NR 16

#endif
