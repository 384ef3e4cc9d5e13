/* winograd.c - Winograd convolutions (winograd.h), F(4x4, 3x3) and F(2, 7): filter
 * transform and packing, the block driver (transform, one GEMM per point on the packed
 * micro-kernels, inverse transform), and the portable build of the transforms. */
#include "nn/winograd.h"
#include "core/error.h"
#include "winograd_impl.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define KC_MAX 256		/* as gemm.c: K blocks of at most 256, a function of K only */
#define BLOCK_FLOATS (1 << 20)	/* V and M of a block: 4 MB, L3 resident */

int ct_wino_enabled(void)
{
	const char *e = getenv("CT_WINOGRAD");
	return !(e && !strcmp(e, "0"));
}

int ct_wino_fits(const ct_conv_geom *g)
{
	if (g->sh != 1 || g->sw != 1 || g->dh != 1 || g->dw != 1 || g->cin < 16)
		return 0;
	if (g->kh == 3 && g->kw == 3)
		return g->oh >= 8 && g->ow >= 8;
	const char *e = getenv("CT_WINOGRAD");
	if (e && !strcmp(e, "3"))
		return 0;
	return (g->kh == 1 && g->kw == 7 && g->ow >= 8) || (g->kh == 7 && g->kw == 1 && g->oh >= 8);
}

/* Tiles of the geometry, all images. */
static int64_t wino_ntiles(const ct_wino *wi, const ct_conv_geom *g)
{
	if (wi->kind == CT_WINO_3X3)
		return (int64_t)g->n * ((g->oh + 3) / 4) * ((g->ow + 3) / 4);
	if (wi->kind == CT_WINO_1X7)
		return (int64_t)g->n * g->oh * ((g->ow + 1) / 2);
	return (int64_t)g->n * ((g->oh + 1) / 2) * g->ow;
}

void ct_wino_free(ct_wino *wi)
{
	if (!wi)
		return;
	for (int p = 0; p < CT_WINO_POINTS; p++)
		ct_packed_release(&wi->u[p]);
	free(wi->bias);
	free(wi);
}

/* G (6 x 3) of F(4x4, 3x3) */
static const double G[6][3] = {
	{ 1.0 / 4, 0, 0 },
	{ -1.0 / 6, -1.0 / 6, -1.0 / 6 },
	{ -1.0 / 6, 1.0 / 6, -1.0 / 6 },
	{ 1.0 / 24, 1.0 / 12, 1.0 / 6 },
	{ 1.0 / 24, -1.0 / 12, 1.0 / 6 },
	{ 0, 0, 1 },
};

/* U = G g G^T per (cin, cout) pair, in double; u[p][ci][co] (w: 3x3 taps of cin x cout) */
static void wino3_filters(const float *w, int cin, int cout, float *u)
{
	const size_t plane = (size_t)cin * cout;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
	for (int ci = 0; ci < cin; ci++)
		for (int co = 0; co < cout; co++) {
			double gg[3][3], t[6][3];
			for (int ky = 0; ky < 3; ky++)
				for (int kx = 0; kx < 3; kx++)
					gg[ky][kx] = w[((size_t)(ky * 3 + kx) * cin + ci) * cout + co];
			for (int a = 0; a < 6; a++)
				for (int kx = 0; kx < 3; kx++)
					t[a][kx] = G[a][0] * gg[0][kx] + G[a][1] * gg[1][kx] +
						   G[a][2] * gg[2][kx];
			for (int a = 0; a < 6; a++)
				for (int b = 0; b < 6; b++)
					u[(size_t)(a * 6 + b) * plane + (size_t)ci * cout + co] =
						(float)(t[a][0] * G[b][0] + t[a][1] * G[b][1] +
							t[a][2] * G[b][2]);
		}
}

/* G (8 x 7) of F(2, 7): row i of a finite point a holds a^k / prod_{j != i} (a - a_j) (the
 * first row's sign flipped, with B^T's in winograd_impl.h), the last row is infinity's */
static const double G7[8][7] = {
	{ 1, 0, 0, 0, 0, 0, 0 },
	{ -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9 },
	{ -2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9 },
	{ 1.0 / 90, 1.0 / 45, 2.0 / 45, 4.0 / 45, 8.0 / 45, 16.0 / 45, 32.0 / 45 },
	{ 1.0 / 90, -1.0 / 45, 2.0 / 45, -4.0 / 45, 8.0 / 45, -16.0 / 45, 32.0 / 45 },
	{ 32.0 / 45, 16.0 / 45, 8.0 / 45, 4.0 / 45, 2.0 / 45, 1.0 / 45, 1.0 / 90 },
	{ 32.0 / 45, -16.0 / 45, 8.0 / 45, -4.0 / 45, 2.0 / 45, -1.0 / 45, 1.0 / 90 },
	{ 0, 0, 0, 0, 0, 0, 1 },
};

/* U = G7 g per (cin, cout) pair, in double; u[p][ci][co] (w: 7 taps of cin x cout) */
static void wino7_filters(const float *w, int cin, int cout, float *u)
{
	const size_t plane = (size_t)cin * cout;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
	for (int ci = 0; ci < cin; ci++)
		for (int co = 0; co < cout; co++) {
			double gg[7];
			for (int k = 0; k < 7; k++)
				gg[k] = w[((size_t)k * cin + ci) * cout + co];
			for (int p = 0; p < 8; p++) {
				double s = 0;
				for (int k = 0; k < 7; k++)
					s += G7[p][k] * gg[k];
				u[(size_t)p * plane + (size_t)ci * cout + co] = (float)s;
			}
		}
}

ct_wino *ct_wino_new(const ct_gemm_kernel *kern, const ct_conv_geom *g, const float *w,
		     const float *bias)
{
	const int cin = g->cin, cout = g->cout;
	const int kind = g->kh == 3 ? CT_WINO_3X3 : g->kw == 7 ? CT_WINO_1X7 : CT_WINO_7X1;
	const int np = kind == CT_WINO_3X3 ? CT_WINO_POINTS : 8;
	ct_wino *wi = calloc(1, sizeof *wi);
	float *u = malloc((size_t)np * cin * cout * sizeof(float));
	if (!wi || !u) {
		free(wi), free(u);
		ct_error("out of memory for the Winograd filters");
		return NULL;
	}
	wi->cin = cin, wi->cout = cout, wi->kind = kind, wi->np = np;
	int64_t tb = BLOCK_FLOATS / (np * (int64_t)(cin + cout));
	tb = tb / kern->mr * kern->mr;
	if (tb < kern->mr)
		tb = kern->mr;
	if (tb > 16 * kern->mr)
		tb = 16 * kern->mr;
	wi->tb = (int)tb;
	/* bind time: VGG16's 14.7 M filter weights take seconds on one core; every element is
	 * computed alone, so the threads change no bit */
	const size_t plane = (size_t)cin * cout;
	if (kind == CT_WINO_3X3)
		wino3_filters(w, cin, cout, u);
	else
		wino7_filters(w, cin, cout, u);
	int rc = 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) reduction(| : rc)
#endif
	for (int p = 0; p < np; p++)
		rc |= ct_packed_init(&wi->u[p], kern, cin, cout, u + (size_t)p * plane, NULL) != 0;
	free(u);
	wi->bias = calloc((size_t)cout, sizeof(float));
	if (rc || !wi->bias) {
		if (!rc)
			ct_error("out of memory for the Winograd filters");
		ct_wino_free(wi);
		return NULL;
	}
	if (bias)
		memcpy(wi->bias, bias, (size_t)cout * sizeof(float));
	return wi;
}

size_t ct_wino_bytes(const ct_wino *wi)
{
	size_t b = 0;
	for (int p = 0; p < wi->np; p++)
		b += (size_t)wi->u[p].k * (size_t)((wi->u[p].n + wi->u[p].nr - 1) / wi->u[p].nr) *
		     (size_t)wi->u[p].nr * sizeof(float);
	return b;
}

size_t ct_wino_work_floats(const ct_gemm_kernel *kern, const ct_wino *wi)
{
	int64_t cap = ((int64_t)wi->tb * 3 / 2 + kern->mr) / kern->mr * kern->mr;
	return (size_t)wi->np * (size_t)cap * (size_t)(wi->cin + wi->cout) + 16;
}

/* M_p[:, panel q] = V_p * U_p[:, panel q] for rows [0, rows) (padded to MR rows in V_p). */
static void wino_gemm(const ct_gemm_kernel *kern, const ct_wino *wi, const float *vp, float *mp,
		      const ct_packed *u, int64_t q, int rows)
{
	const int mr = kern->mr, nr = kern->nr, cin = wi->cin, cout = wi->cout;
	const int64_t nb = (cin + KC_MAX - 1) / KC_MAX;
	const int kcm = (int)((cin + nb - 1) / nb);
	const int ncols = cout - q * nr < nr ? (int)(cout - q * nr) : nr;
	for (int k0 = 0; k0 < cin; k0 += kcm) {
		int kc = cin - k0 < kcm ? cin - k0 : kcm;
		const float *bp = u->data + q * (int64_t)cin * nr + (int64_t)k0 * nr;
		for (int i = 0; i < rows; i += mr)
			kern->fn(kc, vp + (int64_t)i * cin + k0, cin, bp, mp + (int64_t)i * cout + q * nr,
				 cout, rows - i < mr ? rows - i : mr, ncols, k0 > 0, NULL);
	}
}

/* Rows a block holds: blocks are cut to the nearest whole number of tb-tile blocks, so up
 * to 1.5 tb tiles, padded to MR. */
static int64_t block_cap(const ct_gemm_kernel *kern, const ct_wino *wi)
{
	return ((int64_t)wi->tb * 3 / 2 + kern->mr) / kern->mr * kern->mr;
}

/* Tiles [t0, t0 + rows) through the three phases. Thread tid of nt takes its static share
 * of each phase, with a barrier between phases when nt > 1 (the team shares the block);
 * a thread working alone on its own block passes tid 0, nt 1. */
static void wino_block(const ct_gemm_kernel *kern, const ct_wino *wi, const ct_conv_geom *g,
		       const float *in, const ct_prologue *pro, const float *res, int64_t ldr,
		       int act, float *out, float *v, float *m, int64_t cap, int64_t t0, int rows,
		       int tid, int nt, ct_wino_in_fn tin, ct_wino_out_fn tout)
{
	const int mr = kern->mr, nr = kern->nr;
	const int rpad = (rows + mr - 1) / mr * mr;
	const int64_t npan = (wi->cout + nr - 1) / nr, ntask = wi->np * npan;
	const int64_t vs = cap * wi->cin, ms = cap * wi->cout;
	/* 1. input transform, one tile at a time; rows up to the MR padding zeroed */
	for (int r = rpad * tid / nt; r < rpad * (tid + 1) / nt; r++) {
		if (r < rows)
			tin(g, in, pro, t0 + r, 1, v + (int64_t)r * wi->cin, vs);
		else
			for (int p = 0; p < wi->np; p++)
				memset(v + p * vs + (int64_t)r * wi->cin, 0,
				       (size_t)wi->cin * sizeof(float));
	}
#ifdef _OPENMP
	if (nt > 1) {
#pragma omp barrier
	}
#endif
	/* 2. one GEMM per (point, column panel) */
	for (int64_t task = ntask * tid / nt; task < ntask * (tid + 1) / nt; task++) {
		int p = (int)(task / npan);
		wino_gemm(kern, wi, v + p * vs, m + p * ms, &wi->u[p], task % npan, rows);
	}
#ifdef _OPENMP
	if (nt > 1) {
#pragma omp barrier
	}
#endif
	/* 3. output transform, bias, residual, activation */
	for (int r = rows * tid / nt; r < rows * (tid + 1) / nt; r++)
		tout(g, m + (int64_t)r * wi->cout, ms, t0 + r, 1, wi->bias, res, ldr, act, out);
#ifdef _OPENMP
	if (nt > 1) {
#pragma omp barrier
	}
#endif
}

void ct_wino_conv(const ct_gemm_kernel *kern, const ct_wino *wi, const ct_conv_geom *g,
		  const float *in, const ct_prologue *pro, const float *res, int64_t ldr, int act,
		  float *out, float *work, int nthreads)
{
	ct_wino_in_fn tin = wino_in; /* the portable build of winograd_impl.h */
	ct_wino_out_fn tout = wino_out;
	const int avx512 = !strcmp(kern->name, "avx512"), avx2 = !strcmp(kern->name, "avx2");
	if (wi->kind != CT_WINO_3X3)
		tin = avx512 ? ct_wino7_in_avx512 : avx2 ? ct_wino7_in_avx2 : wino7_in,
		tout = avx512 ? ct_wino7_out_avx512 : avx2 ? ct_wino7_out_avx2 : wino7_out;
	else if (avx512)
		tin = ct_wino_in_avx512, tout = ct_wino_out_avx512;
	else if (avx2)
		tin = ct_wino_in_avx2, tout = ct_wino_out_avx2;
	const int64_t ntiles = wino_ntiles(wi, g);
	const int64_t cap = block_cap(kern, wi);
	const size_t wsz = ct_wino_work_floats(kern, wi);
	if (nthreads < 1)
		nthreads = 1;
	/* Two ways to share a conv over the threads (either gives each output value the same
	 * operations, so the same bits):
	 * - tiles: each thread takes a contiguous range of tiles and runs it alone, as blocks of
	 *   about tb tiles in its own workspace, no barriers; every thread streams all of U;
	 * - team: the threads share each block: input tiles, then the 36 x panels GEMM tasks,
	 *   then output tiles, with a barrier between; each thread streams a share of U but
	 *   reads V and M rows the other threads wrote.
	 * Tiles unless U outweighs a thread's share of the block (V and M: 36 (cin + cout) per
	 * tile) four times over: at batch 1 DenseNet's 56 x 56 .. 14 x 14 convs (128 -> 32) ran
	 * 1.2-1.8x faster by tiles, InceptionV3's 8 x 8 (448 -> 384) and ResNet50's 14 x 14
	 * (256 -> 256) 1.4-2x slower (two threads, best of 200 calls). */
	const int by_tiles = nthreads > 1 && (ntiles / nthreads) * (wi->cin + wi->cout) * 4 >=
						      (int64_t)wi->cin * wi->cout;
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
#endif
	{
#ifdef _OPENMP
		int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#else
		int tid = 0, nt = 1;
#endif
		if (by_tiles || nt == 1) {
			/* range ends on whole row tiles of the kernel when there are plenty, else on
			 * multiples of 4 (the short-row kernels' sizes) */
			const int q = ntiles >= 4 * kern->mr * nt ? kern->mr : 4;
			int64_t r0 = tid == 0 ? 0 : (ntiles * tid / nt + q / 2) / q * q;
			int64_t r1 = tid == nt - 1 ? ntiles : (ntiles * (tid + 1) / nt + q / 2) / q * q;
			r1 = r1 < ntiles ? r1 : ntiles;
			float *v = work + (size_t)tid * wsz;
			float *m = v + wi->np * cap * wi->cin;
			int64_t nb = (r1 - r0 + wi->tb / 2) / wi->tb; /* blocks of at most 1.5 tb */
			nb = nb < 1 ? 1 : nb;
			for (int64_t b = 0; b < nb && r1 > r0; b++) {
				int64_t t0 = r0 + (r1 - r0) * b / nb, t1 = r0 + (r1 - r0) * (b + 1) / nb;
				wino_block(kern, wi, g, in, pro, res, ldr, act, out, v, m, cap, t0,
					   (int)(t1 - t0), 0, 1, tin, tout);
			}
		} else {
			/* blocks of about tb tiles (rows are independent: the cut changes no result) */
			float *v = work, *m = v + wi->np * cap * wi->cin;
			int64_t nblocks = (ntiles + wi->tb / 2) / wi->tb;
			nblocks = nblocks < 1 ? 1 : nblocks;
			for (int64_t b = 0; b < nblocks; b++) {
				int64_t t0 = ntiles * b / nblocks, t1 = ntiles * (b + 1) / nblocks;
				wino_block(kern, wi, g, in, pro, res, ldr, act, out, v, m, cap, t0,
					   (int)(t1 - t0), tid, nt, tin, tout);
			}
		}
	}
}
