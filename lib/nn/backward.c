/* backward.c - backward passes of the layer ops (conv through the packed GEMM) and the
 * trainable sub-network above a cut (backward.h). */
#include "nn/backward.h"
#include "nn/ops.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Thread t of nt gets items [n*t/nt, n*(t+1)/nt) of a loop over disjoint outputs. */
#ifdef _OPENMP
#define TID() omp_get_thread_num()
#define NTH() omp_get_num_threads()
#else
#define TID() 0
#define NTH() 1
#endif

static int few(int64_t work, int nthreads)
{
	return work < (1 << 16) ? 1 : nthreads < 1 ? 1 : nthreads;
}

/* ---------------- conv2d ---------------- */

/* Images per GEMM chunk: keep the im2col / col2im matrix within 4M floats (16 MB). A
 * function of the shapes only, so results do not depend on the thread count. */
static int conv_chunk(const ct_conv_geom *g, int64_t k)
{
	int64_t per = (int64_t)g->oh * g->ow * (k > g->cout ? k : g->cout);
	int64_t c = ((int64_t)1 << 22) / (per ? per : 1);
	if (c < 1)
		c = 1;
	return c > g->n ? g->n : (int)c;
}

/* C (rows x n) = A (rows x k, row-major, lda = k) * B (k x n, row-major) with the packed
 * GEMM: A is run as the input of a 1x1 convolution, B is packed on the fly. */
static int gemm_rows(const ct_gemm_kernel *kern, int64_t rows, int64_t k, int64_t n,
		     const float *a, const float *b, float *c, int nthreads)
{
	ct_packed pb;
	if (ct_packed_init(&pb, kern, k, n, b, NULL))
		return -1;
	ct_conv_geom g = { 0 };
	g.n = 1, g.h = (int)rows, g.w = 1, g.cin = (int)k, g.oh = (int)rows, g.ow = 1;
	g.cout = (int)n;
	g.kh = g.kw = g.sh = g.sw = g.dh = g.dw = 1;
	g.in_pitch = k, g.out_pitch = n;
	int nt = nthreads < 1 ? 1 : nthreads;
	size_t wf = ct_conv_work_floats(kern, &g);
	float *work = aligned_alloc(64, ((wf * (size_t)nt * sizeof(float)) + 63) / 64 * 64);
	if (!work) {
		ct_packed_release(&pb);
		return ct_error("out of memory for a GEMM workspace");
	}
	ct_conv2d_gemm(kern, &g, a, &pb, NULL, 0, CT_ACT_NONE, c, work, nt);
	free(work);
	ct_packed_release(&pb);
	return 0;
}

int ct_bw_conv2d(const ct_conv_geom *g, const float *x, const float *w, const float *dy,
		 float *dx, float *dw, float *db, int nthreads)
{
	const ct_gemm_kernel *kern = ct_gemm_kernel_get();
	if (!kern)
		return -1;
	const int64_t k = (int64_t)g->kh * g->kw * g->cin, n = g->cout;
	const int64_t p = (int64_t)g->oh * g->ow, hwc = (int64_t)g->h * g->w * g->cin;
	const int pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 &&
			      g->pad_t == 0 && g->pad_l == 0 && g->oh == g->h && g->ow == g->w;
	if (db) { /* column sums in row order, parallel over columns */
		int64_t m = g->n * p;
		int nt = few(m * n, nthreads);
		(void)nt; /* unused without OpenMP */
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
		{
			int64_t j0 = n * TID() / NTH(), j1 = n * (TID() + 1) / NTH();
			for (int64_t r = 0; r < m; r++)
				for (int64_t j = j0; j < j1; j++)
					db[j] += dy[r * n + j];
		}
	}
	if (!dx && !dw)
		return 0;
	const int chunk = conv_chunk(g, k);
	const int64_t mmax = chunk * p;
	float *col = malloc((size_t)(mmax * k) * sizeof(float));
	float *tmp = malloc((size_t)((mmax > k ? mmax : k) * (k > n ? k : n)) * sizeof(float));
	float *wt = dx ? malloc((size_t)(k * n) * sizeof(float)) : NULL;
	if (!col || !tmp || (dx && !wt)) {
		free(col), free(tmp), free(wt);
		return ct_error("out of memory for a convolution gradient");
	}
	if (wt) /* w^T: n x k */
		for (int64_t i = 0; i < k; i++)
			for (int64_t j = 0; j < n; j++)
				wt[j * k + i] = w[i * n + j];
	int rc = 0;
	for (int i0 = 0; i0 < g->n && !rc; i0 += chunk) {
		int cn = g->n - i0 < chunk ? g->n - i0 : chunk;
		const int64_t mc = cn * p;
		const float *dyc = dy + i0 * p * n;
		const float *xc = x + i0 * hwc;
		if (dw) {
			/* col = im2col(x)^T: k x mc, column m is output pixel m's receptive field */
			int nt = few(mc * k, nthreads);
			(void)nt; /* unused without OpenMP */
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
#endif
			for (int64_t m = 0; m < mc; m++) {
				int64_t img = m / p, r = m % p;
				int oy = (int)(r / g->ow), ox = (int)(r % g->ow);
				for (int ky = 0; ky < g->kh; ky++)
					for (int kx = 0; kx < g->kw; kx++) {
						int iy = oy * g->sh - g->pad_t + ky * g->dh;
						int ix = ox * g->sw - g->pad_l + kx * g->dw;
						int64_t kb = (int64_t)(ky * g->kw + kx) * g->cin;
						int in = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
						const float *src = xc + img * hwc +
								   ((int64_t)iy * g->w + ix) * g->cin;
						for (int c = 0; c < g->cin; c++)
							col[(kb + c) * mc + m] = in ? src[c] : 0.f;
					}
			}
			rc = gemm_rows(kern, k, mc, n, col, dyc, tmp, nthreads);
			if (rc)
				break;
			for (int64_t i = 0; i < k * n; i++)
				dw[i] += tmp[i];
		}
		if (dx) {
			float *dxc = dx + i0 * hwc;
			rc = gemm_rows(kern, mc, n, k, dyc, wt, tmp, nthreads);
			if (rc)
				break;
			if (pointwise) {
				for (int64_t i = 0; i < mc * k; i++)
					dxc[i] += tmp[i];
				continue;
			}
			/* col2im: each channel's sums run in (pixel, tap) order; threads split
			 * the channels */
			int nt = few(mc * k, nthreads);
			(void)nt; /* unused without OpenMP */
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
			{
				int c0 = (int)((int64_t)g->cin * TID() / NTH());
				int c1 = (int)((int64_t)g->cin * (TID() + 1) / NTH());
				for (int64_t m = 0; m < mc; m++) {
					int64_t img = m / p, r = m % p;
					int oy = (int)(r / g->ow), ox = (int)(r % g->ow);
					for (int ky = 0; ky < g->kh; ky++) {
						int iy = oy * g->sh - g->pad_t + ky * g->dh;
						if (iy < 0 || iy >= g->h)
							continue;
						for (int kx = 0; kx < g->kw; kx++) {
							int ix = ox * g->sw - g->pad_l + kx * g->dw;
							if (ix < 0 || ix >= g->w)
								continue;
							const float *s = tmp + m * k +
									 (int64_t)(ky * g->kw + kx) * g->cin;
							float *d = dxc + img * hwc +
								   ((int64_t)iy * g->w + ix) * g->cin;
							for (int c = c0; c < c1; c++)
								d[c] += s[c];
						}
					}
				}
			}
		}
	}
	free(col), free(tmp), free(wt);
	return rc;
}

/* ---------------- depthwise conv, pooling ---------------- */

void ct_bw_dwconv(const ct_conv_geom *g, const float *x, const float *w, const float *dy,
		  float *dx, float *dw, float *db, int nthreads)
{
	const int c = g->cin;
	int nt = few((int64_t)g->n * g->oh * g->ow * c * g->kh * g->kw, nthreads);
	(void)nt; /* unused without OpenMP */
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
	{
		int c0 = (int)((int64_t)c * TID() / NTH()), c1 = (int)((int64_t)c * (TID() + 1) / NTH());
		for (int n = 0; n < g->n; n++)
			for (int oy = 0; oy < g->oh; oy++)
				for (int ox = 0; ox < g->ow; ox++) {
					const float *d = dy + (((int64_t)n * g->oh + oy) * g->ow + ox) * c;
					if (db)
						for (int ch = c0; ch < c1; ch++)
							db[ch] += d[ch];
					for (int ky = 0; ky < g->kh; ky++) {
						int iy = oy * g->sh - g->pad_t + ky * g->dh;
						if (iy < 0 || iy >= g->h)
							continue;
						for (int kx = 0; kx < g->kw; kx++) {
							int ix = ox * g->sw - g->pad_l + kx * g->dw;
							if (ix < 0 || ix >= g->w)
								continue;
							int64_t o = (((int64_t)n * g->h + iy) * g->w + ix) * c;
							const float *wp = w + (int64_t)(ky * g->kw + kx) * c;
							float *dwp = dw ? dw + (int64_t)(ky * g->kw + kx) * c : NULL;
							for (int ch = c0; ch < c1; ch++) {
								if (dx)
									dx[o + ch] += wp[ch] * d[ch];
								if (dwp)
									dwp[ch] += x[o + ch] * d[ch];
							}
						}
					}
				}
	}
}

void ct_bw_pool(int is_max, const ct_conv_geom *g, const float *x, const float *dy, float *dx,
		int nthreads)
{
	const int c = g->cin;
	int nt = few((int64_t)g->n * g->oh * g->ow * c * g->kh * g->kw, nthreads);
	(void)nt; /* unused without OpenMP */
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
	{
		int c0 = (int)((int64_t)c * TID() / NTH()), c1 = (int)((int64_t)c * (TID() + 1) / NTH());
		for (int n = 0; n < g->n; n++)
			for (int oy = 0; oy < g->oh; oy++)
				for (int ox = 0; ox < g->ow; ox++) {
					const float *d = dy + (((int64_t)n * g->oh + oy) * g->ow + ox) * c;
					int y0 = oy * g->sh - g->pad_t, x0 = ox * g->sw - g->pad_l;
					int ya = y0 < 0 ? 0 : y0, xa = x0 < 0 ? 0 : x0;
					int yb = y0 + g->kh > g->h ? g->h : y0 + g->kh;
					int xb = x0 + g->kw > g->w ? g->w : x0 + g->kw;
					int cnt = (yb - ya) * (xb - xa);
					if (cnt <= 0)
						continue;
					for (int ch = c0; ch < c1; ch++) {
						if (!is_max) {
							float v = d[ch] / (float)cnt;
							for (int iy = ya; iy < yb; iy++)
								for (int ix = xa; ix < xb; ix++)
									dx[(((int64_t)n * g->h + iy) * g->w + ix) * c + ch] += v;
							continue;
						}
						int64_t best = -1;
						float bv = 0.f;
						for (int iy = ya; iy < yb; iy++)
							for (int ix = xa; ix < xb; ix++) {
								int64_t o = (((int64_t)n * g->h + iy) * g->w + ix) * c + ch;
								if (best < 0 || x[o] > bv)
									best = o, bv = x[o];
							}
						dx[best] += d[ch];
					}
				}
	}
}

/* ---------------- elementwise and reductions ---------------- */

void ct_bw_batchnorm(int64_t rows, int c, const float *x, const float *mean, const float *inv,
		     const float *gamma, const float *dy, float *dx, float *dgamma, float *dbeta,
		     int nthreads)
{
	int nt = few(rows * c, nthreads);
	(void)nt; /* unused without OpenMP */
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
	{
		int c0 = (int)((int64_t)c * TID() / NTH()), c1 = (int)((int64_t)c * (TID() + 1) / NTH());
		for (int64_t r = 0; r < rows; r++) {
			const float *d = dy + r * c, *xr = x + r * c;
			for (int ch = c0; ch < c1; ch++) {
				float s = (gamma ? gamma[ch] : 1.f) * inv[ch];
				if (dx)
					dx[r * c + ch] += d[ch] * s;
				if (dgamma)
					dgamma[ch] += d[ch] * (xr[ch] - mean[ch]) * inv[ch];
				if (dbeta)
					dbeta[ch] += d[ch];
			}
		}
	}
}

void ct_bw_act(int64_t numel, int act, const float *y, const float *dy, float *dx)
{
	for (int64_t i = 0; i < numel; i++) {
		int pass = act == CT_ACT_RELU6 ? y[i] > 0.f && y[i] < 6.f
			   : act == CT_ACT_RELU ? y[i] > 0.f
						: 1;
		if (pass)
			dx[i] += dy[i];
	}
}

void ct_bw_gavgpool(int n, int64_t hw, int c, const float *dy, float *dx)
{
	for (int i = 0; i < n; i++)
		for (int64_t p = 0; p < hw; p++)
			for (int ch = 0; ch < c; ch++)
				dx[((int64_t)i * hw + p) * c + ch] += dy[(int64_t)i * c + ch] / (float)hw;
}

void ct_bw_gmaxpool(int n, int64_t hw, int c, const float *x, const float *dy, float *dx)
{
	for (int i = 0; i < n; i++)
		for (int ch = 0; ch < c; ch++) {
			int64_t best = 0;
			for (int64_t p = 1; p < hw; p++)
				if (x[((int64_t)i * hw + p) * c + ch] > x[((int64_t)i * hw + best) * c + ch])
					best = p;
			dx[((int64_t)i * hw + best) * c + ch] += dy[(int64_t)i * c + ch];
		}
}

void ct_bw_dropout(int64_t numel, const float *mask, const float *dy, float *dx)
{
	for (int64_t i = 0; i < numel; i++)
		dx[i] += dy[i] * mask[i];
}

void ct_bw_zeropad(int n, int h, int w, int c, int t, int l, int r, int b, const float *dy,
		   float *dx)
{
	int ow = w + l + r, oh = h + t + b;
	for (int i = 0; i < n; i++)
		for (int y = 0; y < h; y++)
			for (int xx = 0; xx < w; xx++) {
				const float *s = dy + (((int64_t)i * oh + y + t) * ow + xx + l) * c;
				float *d = dx + (((int64_t)i * h + y) * w + xx) * c;
				for (int ch = 0; ch < c; ch++)
					d[ch] += s[ch];
			}
}

/* ---------------- the sub-network ---------------- */

typedef struct snode {
	int node;
	int64_t size;	/* floats per image */
	float *y, *dy;	/* batch activations and their gradients */
	int p0;		/* index of the node's first tensor among the params (wspec order) */
	float *bn_inv;	/* BN: 1/sqrt(var + eps) */
	float *scale, *shift; /* BN forward coefficients (scratch) */
} snode;

struct ct_subnet {
	const ct_graph *g;
	int cut, output;
	ct_pool pool;
	int nn;
	snode *sn;
	int *slot; /* graph node -> index in sn, -1 if outside; the cut is slot -2 */
	int np;
	ct_sparam *p;
	int cap; /* batch capacity of the buffers */
	int n;	 /* images of the last forward */
	const float *x; /* the last forward's input (caller's memory) */
	float *cut_dy;	/* gradient at the cut */
	float *scratch; /* largest node activation, for conv/dense pre-activation gradients */
	int64_t maxsize;
};

static int supported(const ct_node *nd)
{
	switch (nd->op) {
	case CT_OP_CONV2D:
	case CT_OP_DENSE:
		return nd->act == CT_ACT_NONE || nd->act == CT_ACT_RELU || nd->act == CT_ACT_RELU6;
	case CT_OP_DWCONV2D:
		return nd->filters == 1;
	case CT_OP_BATCHNORM:
	case CT_OP_RELU:
	case CT_OP_RELU6:
	case CT_OP_MAXPOOL:
	case CT_OP_AVGPOOL:
	case CT_OP_ZEROPAD:
	case CT_OP_CONCAT:
	case CT_OP_ADD:
	case CT_OP_GAVGPOOL:
	case CT_OP_GMAXPOOL:
		return 1;
	default:
		return 0;
	}
}

static const float *wsrc(const ct_weights *w, const ct_node *nd, int j)
{
	const ct_wlayer *l = ct_weights_find(w, nd->name);
	const ct_wtensor *t = l ? ct_wlayer_get(l, nd->wspec[j].name) : NULL;
	if (!t && l && l->n == nd->nw) /* Keras 1 names: by position (as bind.c) */
		t = &l->w[j];
	if (!t)
		return NULL;
	int ok = t->t.dtype == CT_F32 && t->t.ndim == nd->wspec[j].ndim && ct_tensor_is_contiguous(&t->t);
	for (int d = 0; ok && d < t->t.ndim; d++)
		ok = t->t.shape[d] == nd->wspec[j].shape[d];
	return ok ? (const float *)t->t.data : NULL;
}

void ct_subnet_free(ct_subnet *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nn; i++) {
		free(s->sn[i].y), free(s->sn[i].dy), free(s->sn[i].bn_inv);
		free(s->sn[i].scale), free(s->sn[i].shift);
	}
	for (int i = 0; i < s->np; i++)
		free(s->p[i].w), free(s->p[i].g);
	free(s->sn), free(s->slot), free(s->p), free(s->cut_dy), free(s->scratch);
	free(s);
}

ct_subnet *ct_subnet_new(const ct_graph *g, const ct_weights *w, const char *cut,
			 const char *output, ct_pool pool)
{
	if (!g || g->err || g->n == 0) {
		ct_error("graph is not usable");
		return NULL;
	}
	int ci = ct_graph_find(g, cut);
	const char *oname = output && *output ? output : g->default_output;
	int oi = ct_graph_find(g, oname);
	if (ci < 0 || oi < 0) {
		ct_error("model '%s' has no layer '%s'", g->arch, ci < 0 ? cut : oname);
		return NULL;
	}
	if (oi <= ci) {
		ct_error("model '%s': layer '%s' does not come after the cut '%s'", g->arch, oname, cut);
		return NULL;
	}
	ct_subnet *s = calloc(1, sizeof *s);
	char *need = calloc((size_t)g->n, 1), *dep = calloc((size_t)g->n, 1);
	if (!s || !need || !dep) {
		free(s), free(need), free(dep);
		ct_error("out of memory");
		return NULL;
	}
	s->g = g, s->cut = ci, s->output = oi, s->pool = pool;
	need[oi] = 1;
	for (int i = oi; i > ci; i--)
		if (need[i])
			for (int j = 0; j < g->nodes[i].nin; j++)
				need[g->nodes[i].in[j]] = 1;
	dep[ci] = 1;
	for (int i = ci + 1; i <= oi; i++)
		for (int j = 0; j < g->nodes[i].nin; j++)
			dep[i] |= dep[g->nodes[i].in[j]];
	s->slot = malloc((size_t)g->n * sizeof(int));
	s->sn = calloc((size_t)g->n, sizeof(snode));
	int nparams = 0;
	for (int i = 0; i < g->n; i++)
		nparams += g->nodes[i].nw;
	s->p = calloc((size_t)nparams + 1, sizeof(ct_sparam));
	if (!s->slot || !s->sn || !s->p) {
		ct_error("out of memory");
		goto fail;
	}
	for (int i = 0; i < g->n; i++)
		s->slot[i] = -1;
	s->slot[ci] = -2;
	for (int i = ci + 1; i <= oi; i++) {
		if (!need[i])
			continue;
		const ct_node *nd = &g->nodes[i];
		if (!dep[i]) {
			ct_error("model '%s': layer '%s' reaches '%s' without passing the cut '%s'",
				 g->arch, nd->name, oname, cut);
			goto fail;
		}
		for (int j = 0; j < nd->nin; j++)
			if (s->slot[nd->in[j]] == -1) {
				ct_error("model '%s': input '%s' of layer '%s' is above the cut '%s'",
					 g->arch, g->nodes[nd->in[j]].name, nd->name, cut);
				goto fail;
			}
		if (!supported(nd)) {
			ct_error("model '%s': layer '%s' (%s) cannot be fine-tuned", g->arch, nd->name,
				 ct_op_name(nd->op));
			goto fail;
		}
		snode *sn = &s->sn[s->nn];
		sn->node = i;
		sn->size = (int64_t)nd->h * nd->w * nd->c;
		sn->p0 = s->np;
		if (sn->size > s->maxsize)
			s->maxsize = sn->size;
		for (int j = 0; j < nd->nw; j++) {
			const float *src = wsrc(w, nd, j);
			if (!src) {
				ct_error("layer '%s': missing or mis-shaped %s", nd->name, nd->wspec[j].name);
				goto fail;
			}
			ct_sparam *p = &s->p[s->np++];
			p->node = i;
			snprintf(p->name, sizeof p->name, "%s", nd->wspec[j].name);
			p->ndim = nd->wspec[j].ndim;
			p->count = 1;
			for (int d = 0; d < p->ndim; d++)
				p->shape[d] = nd->wspec[j].shape[d], p->count *= p->shape[d];
			p->trainable = strcmp(p->name, "moving_mean") && strcmp(p->name, "moving_variance");
			p->decay = strstr(p->name, "kernel") != NULL;
			p->w = malloc((size_t)p->count * sizeof(float));
			p->g = p->trainable ? calloc((size_t)p->count, sizeof(float)) : NULL;
			if (!p->w || (p->trainable && !p->g)) {
				ct_error("out of memory");
				goto fail;
			}
			memcpy(p->w, src, (size_t)p->count * sizeof(float));
		}
		if (nd->op == CT_OP_BATCHNORM) {
			sn->bn_inv = malloc((size_t)nd->c * sizeof(float));
			sn->scale = malloc((size_t)nd->c * sizeof(float));
			sn->shift = malloc((size_t)nd->c * sizeof(float));
			if (!sn->bn_inv || !sn->scale || !sn->shift) {
				ct_error("out of memory");
				goto fail;
			}
		}
		s->slot[i] = s->nn++;
	}
	/* BN: 1/sqrt(var + eps) from the frozen statistics, in double as bind.c */
	for (int k = 0; k < s->nn; k++) {
		snode *sn = &s->sn[k];
		const ct_node *nd = &g->nodes[sn->node];
		if (nd->op != CT_OP_BATCHNORM)
			continue;
		const float *var = NULL;
		for (int j = 0; j < nd->nw; j++)
			if (!strcmp(s->p[sn->p0 + j].name, "moving_variance"))
				var = s->p[sn->p0 + j].w;
		for (int c = 0; c < nd->c; c++)
			sn->bn_inv[c] = (float)(1.0 / sqrt((double)var[c] + (double)nd->eps));
	}
	if (s->nn == 0) {
		ct_error("model '%s': nothing between '%s' and '%s'", g->arch, cut, oname);
		goto fail;
	}
	free(need), free(dep);
	return s;
fail:
	free(need), free(dep);
	ct_subnet_free(s);
	return NULL;
}

void ct_subnet_in_shape(const ct_subnet *s, int *h, int *w, int *c)
{
	const ct_node *nd = &s->g->nodes[s->cut];
	*h = nd->h, *w = nd->w, *c = nd->c;
}

int64_t ct_subnet_out_size(const ct_subnet *s)
{
	const ct_node *nd = &s->g->nodes[s->output];
	return s->pool != CT_POOL_NONE ? nd->c : (int64_t)nd->h * nd->w * nd->c;
}

void ct_subnet_graph(const ct_subnet *s, const ct_graph **g, int *cut, int *output)
{
	*g = s->g, *cut = s->cut, *output = s->output;
}

int ct_subnet_nlayers(const ct_subnet *s)
{
	int n = 0;
	for (int i = 0; i < s->nn; i++)
		n += s->g->nodes[s->sn[i].node].nw > 0;
	return n;
}

int ct_subnet_nparams(const ct_subnet *s)
{
	return s->np;
}

ct_sparam *ct_subnet_param(ct_subnet *s, int i)
{
	return i >= 0 && i < s->np ? &s->p[i] : NULL;
}

int64_t ct_subnet_trainable_count(const ct_subnet *s)
{
	int64_t n = 0;
	for (int i = 0; i < s->np; i++)
		n += s->p[i].trainable ? s->p[i].count : 0;
	return n;
}

size_t ct_subnet_bytes(const ct_subnet *s)
{
	size_t b = 0;
	for (int i = 0; i < s->nn; i++)
		b += (size_t)s->sn[i].size * (size_t)s->cap * 2 * sizeof(float);
	for (int i = 0; i < s->np; i++)
		b += (size_t)s->p[i].count * (s->p[i].trainable ? 2 : 1) * sizeof(float);
	const ct_node *c = &s->g->nodes[s->cut];
	b += ((size_t)c->h * c->w * c->c + (size_t)s->maxsize) * (size_t)s->cap * sizeof(float);
	return b;
}

static int reserve(ct_subnet *s, int n)
{
	if (n <= s->cap)
		return 0;
	const ct_node *c = &s->g->nodes[s->cut];
	for (int i = 0; i < s->nn; i++) {
		free(s->sn[i].y), free(s->sn[i].dy);
		s->sn[i].y = malloc((size_t)(s->sn[i].size * n) * sizeof(float));
		s->sn[i].dy = malloc((size_t)(s->sn[i].size * n) * sizeof(float));
		if (!s->sn[i].y || !s->sn[i].dy)
			goto oom;
	}
	free(s->cut_dy), free(s->scratch);
	s->cut_dy = malloc((size_t)((int64_t)c->h * c->w * c->c * n) * sizeof(float));
	s->scratch = malloc((size_t)(s->maxsize * n) * sizeof(float));
	if (!s->cut_dy || !s->scratch)
		goto oom;
	s->cap = n;
	return 0;
oom:
	s->cap = 0;
	return ct_error("out of memory for %d images of activations", n);
}

static const float *val(const ct_subnet *s, int node)
{
	int k = s->slot[node];
	return k == -2 ? s->x : s->sn[k].y;
}

static float *grad(ct_subnet *s, int node)
{
	int k = s->slot[node];
	return k == -2 ? s->cut_dy : s->sn[k].dy;
}

static ct_conv_geom node_geom(const ct_node *src, const ct_node *nd, int n)
{
	ct_conv_geom g = { 0 };
	g.n = n;
	g.h = src->h, g.w = src->w, g.cin = src->c;
	g.oh = nd->h, g.ow = nd->w, g.cout = nd->c;
	g.kh = nd->kh, g.kw = nd->kw, g.sh = nd->sh, g.sw = nd->sw, g.dh = nd->dh, g.dw = nd->dw;
	g.pad_t = nd->pad_t, g.pad_l = nd->pad_l;
	if (nd->op == CT_OP_DENSE) {
		g.h = g.w = g.oh = g.ow = 1;
		g.cin = src->h * src->w * src->c;
		g.kh = g.kw = g.sh = g.sw = g.dh = g.dw = 1;
		g.pad_t = g.pad_l = 0;
	}
	if (nd->op == CT_OP_MAXPOOL || nd->op == CT_OP_AVGPOOL || nd->op == CT_OP_DWCONV2D)
		g.cout = g.cin;
	g.in_pitch = g.cin, g.out_pitch = g.cout;
	return g;
}

static float *param_of(ct_subnet *s, const snode *sn, const char *name, int grad_of)
{
	const ct_node *nd = &s->g->nodes[sn->node];
	for (int j = 0; j < nd->nw; j++)
		if (!strcmp(s->p[sn->p0 + j].name, name))
			return grad_of ? s->p[sn->p0 + j].g : s->p[sn->p0 + j].w;
	return NULL;
}

static int forward_node(ct_subnet *s, snode *sn, int n, int nt)
{
	const ct_graph *g = s->g;
	const ct_node *nd = &g->nodes[sn->node];
	const ct_node *src = &g->nodes[nd->in[0]];
	const float *x = val(s, nd->in[0]);
	float *y = sn->y;
	int64_t rows = (int64_t)n * nd->h * nd->w;
	switch (nd->op) {
	case CT_OP_CONV2D:
	case CT_OP_DENSE: {
		const ct_gemm_kernel *kern = ct_gemm_kernel_get();
		ct_conv_geom gm = node_geom(src, nd, n);
		int64_t k = (int64_t)gm.kh * gm.kw * gm.cin;
		ct_packed pk;
		if (!kern || ct_packed_init(&pk, kern, k, nd->c, param_of(s, sn, "kernel", 0),
					    nd->use_bias ? param_of(s, sn, "bias", 0) : NULL))
			return -1;
		size_t wf = ct_conv_work_floats(kern, &gm);
		float *work = aligned_alloc(64, (wf * (size_t)nt * sizeof(float) + 63) / 64 * 64);
		if (!work) {
			ct_packed_release(&pk);
			return ct_error("out of memory for a GEMM workspace");
		}
		ct_conv2d_gemm(kern, &gm, x, &pk, NULL, 0, nd->act, y, work, nt);
		free(work);
		ct_packed_release(&pk);
		break;
	}
	case CT_OP_DWCONV2D: {
		ct_conv_geom gm = node_geom(src, nd, n);
		ct_op_dwconv(&gm, x, param_of(s, sn, "depthwise_kernel", 0),
			     nd->use_bias ? param_of(s, sn, "bias", 0) : NULL, NULL, CT_ACT_NONE, y, nt);
		break;
	}
	case CT_OP_BATCHNORM: {
		const float *gamma = param_of(s, sn, "gamma", 0), *beta = param_of(s, sn, "beta", 0);
		const float *mean = param_of(s, sn, "moving_mean", 0);
		for (int c = 0; c < nd->c; c++) {
			sn->scale[c] = (gamma ? gamma[c] : 1.f) * sn->bn_inv[c];
			sn->shift[c] = (beta ? beta[c] : 0.f) - mean[c] * sn->scale[c];
		}
		ct_op_scale_shift(rows, nd->c, x, sn->scale, sn->shift, CT_ACT_NONE, y, nt);
		break;
	}
	case CT_OP_RELU:
	case CT_OP_RELU6:
		ct_op_act(rows * nd->c, x, nd->op == CT_OP_RELU ? CT_ACT_RELU : CT_ACT_RELU6, y, nt);
		break;
	case CT_OP_MAXPOOL:
	case CT_OP_AVGPOOL: {
		ct_conv_geom gm = node_geom(src, nd, n);
		ct_op_pool(nd->op == CT_OP_MAXPOOL, &gm, x, y, nt);
		break;
	}
	case CT_OP_ZEROPAD:
		ct_op_zeropad(n, src->h, src->w, src->c, nd->pad_t, nd->pad_b, nd->pad_l, nd->pad_r,
			      x, y, nt);
		break;
	case CT_OP_CONCAT:
	case CT_OP_ADD: {
		const float *ins[CT_NODE_MAXIN];
		int cs[CT_NODE_MAXIN];
		for (int j = 0; j < nd->nin; j++)
			ins[j] = val(s, nd->in[j]), cs[j] = g->nodes[nd->in[j]].c;
		if (nd->op == CT_OP_CONCAT)
			ct_op_concat(rows, nd->nin, ins, cs, y, nd->c, nt);
		else
			ct_op_add(rows * nd->c, nd->nin, ins, y, nt);
		break;
	}
	case CT_OP_GAVGPOOL:
	case CT_OP_GMAXPOOL:
		ct_op_gpool(nd->op == CT_OP_GMAXPOOL, n, (int64_t)src->h * src->w, src->c, x, y);
		break;
	default:
		return ct_error("layer '%s': no forward for %s", nd->name, ct_op_name(nd->op));
	}
	return 0;
}

int ct_subnet_forward(ct_subnet *s, const float *x, int n, float *y)
{
	if (n < 1)
		return ct_error("batch size must be positive");
	if (reserve(s, n))
		return -1;
	s->x = x;
	s->n = n;
	int nt = ct_nn_threads();
	for (int i = 0; i < s->nn; i++)
		if (forward_node(s, &s->sn[i], n, nt))
			return -1;
	const ct_node *o = &s->g->nodes[s->output];
	const float *out = s->sn[s->slot[s->output]].y;
	int64_t hw = (int64_t)o->h * o->w;
	if (s->pool != CT_POOL_NONE)
		ct_op_gpool(s->pool == CT_POOL_MAX, n, hw, o->c, out, y);
	else
		memcpy(y, out, (size_t)(n * hw * o->c) * sizeof(float));
	return 0;
}

void ct_subnet_zero_grad(ct_subnet *s)
{
	for (int i = 0; i < s->np; i++)
		if (s->p[i].g)
			memset(s->p[i].g, 0, (size_t)s->p[i].count * sizeof(float));
}

static int backward_node(ct_subnet *s, snode *sn, int n, int nt)
{
	const ct_graph *g = s->g;
	const ct_node *nd = &g->nodes[sn->node];
	const ct_node *src = &g->nodes[nd->in[0]];
	const float *x = val(s, nd->in[0]);
	float *dx = grad(s, nd->in[0]);
	const float *dy = sn->dy;
	int64_t rows = (int64_t)n * nd->h * nd->w;
	switch (nd->op) {
	case CT_OP_CONV2D:
	case CT_OP_DENSE: {
		ct_conv_geom gm = node_geom(src, nd, n);
		if (nd->act != CT_ACT_NONE) { /* through the fused activation first */
			memset(s->scratch, 0, (size_t)(rows * nd->c) * sizeof(float));
			ct_bw_act(rows * nd->c, nd->act, sn->y, dy, s->scratch);
			dy = s->scratch;
		}
		return ct_bw_conv2d(&gm, x, param_of(s, sn, "kernel", 0), dy, dx,
				    param_of(s, sn, "kernel", 1),
				    nd->use_bias ? param_of(s, sn, "bias", 1) : NULL, nt);
	}
	case CT_OP_DWCONV2D: {
		ct_conv_geom gm = node_geom(src, nd, n);
		ct_bw_dwconv(&gm, x, param_of(s, sn, "depthwise_kernel", 0), dy, dx,
			     param_of(s, sn, "depthwise_kernel", 1),
			     nd->use_bias ? param_of(s, sn, "bias", 1) : NULL, nt);
		return 0;
	}
	case CT_OP_BATCHNORM:
		ct_bw_batchnorm(rows, nd->c, x, param_of(s, sn, "moving_mean", 0), sn->bn_inv,
				param_of(s, sn, "gamma", 0), dy, dx, param_of(s, sn, "gamma", 1),
				param_of(s, sn, "beta", 1), nt);
		return 0;
	case CT_OP_RELU:
	case CT_OP_RELU6:
		ct_bw_act(rows * nd->c, nd->op == CT_OP_RELU ? CT_ACT_RELU : CT_ACT_RELU6, sn->y, dy, dx);
		return 0;
	case CT_OP_MAXPOOL:
	case CT_OP_AVGPOOL: {
		ct_conv_geom gm = node_geom(src, nd, n);
		ct_bw_pool(nd->op == CT_OP_MAXPOOL, &gm, x, dy, dx, nt);
		return 0;
	}
	case CT_OP_ZEROPAD:
		ct_bw_zeropad(n, src->h, src->w, src->c, nd->pad_t, nd->pad_l, nd->pad_r, nd->pad_b,
			      dy, dx);
		return 0;
	case CT_OP_CONCAT: {
		int off = 0;
		for (int j = 0; j < nd->nin; j++) {
			int cj = g->nodes[nd->in[j]].c;
			float *d = grad(s, nd->in[j]);
			for (int64_t r = 0; r < rows; r++)
				for (int c = 0; c < cj; c++)
					d[r * cj + c] += dy[r * nd->c + off + c];
			off += cj;
		}
		return 0;
	}
	case CT_OP_ADD:
		for (int j = 0; j < nd->nin; j++) {
			float *d = grad(s, nd->in[j]);
			for (int64_t i = 0; i < rows * nd->c; i++)
				d[i] += dy[i];
		}
		return 0;
	case CT_OP_GAVGPOOL:
		ct_bw_gavgpool(n, (int64_t)src->h * src->w, src->c, dy, dx);
		return 0;
	case CT_OP_GMAXPOOL:
		ct_bw_gmaxpool(n, (int64_t)src->h * src->w, src->c, x, dy, dx);
		return 0;
	default:
		return ct_error("layer '%s': no backward for %s", nd->name, ct_op_name(nd->op));
	}
}

int ct_subnet_backward(ct_subnet *s, const float *dy, float *dx)
{
	int n = s->n;
	if (n < 1)
		return ct_error("backward without a forward");
	const ct_node *c = &s->g->nodes[s->cut];
	for (int i = 0; i < s->nn; i++)
		memset(s->sn[i].dy, 0, (size_t)(s->sn[i].size * n) * sizeof(float));
	memset(s->cut_dy, 0, (size_t)((int64_t)c->h * c->w * c->c * n) * sizeof(float));
	const ct_node *o = &s->g->nodes[s->output];
	snode *so = &s->sn[s->slot[s->output]];
	int64_t hw = (int64_t)o->h * o->w;
	if (s->pool == CT_POOL_AVG)
		ct_bw_gavgpool(n, hw, o->c, dy, so->dy);
	else if (s->pool == CT_POOL_MAX)
		ct_bw_gmaxpool(n, hw, o->c, so->y, dy, so->dy);
	else
		memcpy(so->dy, dy, (size_t)(n * hw * o->c) * sizeof(float));
	int nt = ct_nn_threads();
	for (int i = s->nn - 1; i >= 0; i--)
		if (backward_node(s, &s->sn[i], n, nt))
			return -1;
	if (dx)
		memcpy(dx, s->cut_dy, (size_t)((int64_t)c->h * c->w * c->c * n) * sizeof(float));
	return 0;
}

int ct_subnet_export(const ct_subnet *s, ct_weights *w)
{
	for (int i = 0; i < s->nn; i++) {
		const ct_node *nd = &s->g->nodes[s->sn[i].node];
		if (nd->nw == 0)
			continue;
		ct_wlayer *l = ct_weights_add_layer(w, nd->name);
		if (!l)
			return -1;
		for (int j = 0; j < nd->nw; j++) {
			const ct_sparam *p = &s->p[s->sn[i].p0 + j];
			char name[CT_NODE_NAME + 40];
			snprintf(name, sizeof name, "%s/%s:0", nd->name, p->name);
			ct_wtensor *t = ct_wlayer_add(l, name, p->ndim, p->shape);
			if (!t)
				return -1;
			memcpy(t->t.data, p->w, (size_t)p->count * sizeof(float));
		}
	}
	return 0;
}
