/* train.c - mini-batch training of the classifier head, early stopping, cross-validation. */
#include "train/train.h"
#include "train/ensemble.h"
#include "core/error.h"
#include "core/rng.h"
#include "metrics/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ct_train_defaults(ct_train_opts *o)
{
	memset(o, 0, sizeof *o);
	o->kind = CT_HEAD_MLP;
	o->hidden = 256;
	o->dropout = 0.5;
	o->optimizer = CT_OPTIM_ADAM;
	o->lr = 1e-3;
	o->momentum = 0.9;
	o->weight_decay = 1e-4;
	o->batch = 32;
	o->epochs = 100;
	o->patience = 10;
	o->seed = 42;
}

int ct_params_alloc(ct_params *p, ct_head_kind kind, int d, int h, int k)
{
	memset(p, 0, sizeof *p);
	if (d < 1 || k < 2 || (kind == CT_HEAD_MLP && h < 1))
		return ct_error("bad head shape (d %d, hidden %d, classes %d)", d, h, k);
	int out1 = kind == CT_HEAD_MLP ? h : k;
	size_t n1, n2 = 0;
	if (ct_mul_size((size_t)d, (size_t)out1, &n1) < 0 ||
	    (kind == CT_HEAD_MLP && ct_mul_size((size_t)h, (size_t)k, &n2) < 0))
		return ct_error("head too large");
	p->kind = kind;
	p->d = d;
	p->h = kind == CT_HEAD_MLP ? h : 0;
	p->k = k;
	p->count = n1 + (size_t)out1 + (kind == CT_HEAD_MLP ? n2 + (size_t)k : 0);
	p->mem = calloc(p->count, sizeof *p->mem);
	if (!p->mem)
		return ct_error("out of memory for %zu parameters", p->count);
	p->w1 = p->mem;
	p->b1 = p->w1 + n1;
	if (kind == CT_HEAD_MLP) {
		p->w2 = p->b1 + out1;
		p->b2 = p->w2 + n2;
	}
	return 0;
}

void ct_params_free(ct_params *p)
{
	free(p->mem);
	memset(p, 0, sizeof *p);
}

static int out1_of(const ct_params *p)
{
	return p->kind == CT_HEAD_MLP ? p->h : p->k;
}

size_t ct_head_loss_scratch(const ct_params *p, int64_t rows)
{
	/* a (out1), hidden (h), z (k), dz (k), da (h), per-row loss (1) */
	return (size_t)rows * ((size_t)out1_of(p) + 2 * (size_t)p->h + 2 * (size_t)p->k + 1) + 1;
}

/* Forward pass of rows [0, rows): fills a, hid, z and per-row cross-entropy ce (when y). */
static void forward(const ct_params *p, const float *x, const int32_t *y, int64_t rows, const float *mask,
		    double *a, double *hid, double *z, double *ce)
{
	int d = p->d, h = p->h, k = p->k, o1 = out1_of(p);
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < rows; i++) {
		double *ai = a + i * o1, *zi = z + i * k;
		const float *xi = x + i * d;
		for (int j = 0; j < o1; j++)
			ai[j] = p->b1[j];
		for (int t = 0; t < d; t++) {
			const double v = xi[t], *w = p->w1 + (size_t)t * o1;
			for (int j = 0; j < o1; j++)
				ai[j] += v * w[j];
		}
		if (p->kind == CT_HEAD_MLP) {
			double *hi = hid + i * h;
			const float *mi = mask ? mask + i * h : NULL;
			for (int c = 0; c < k; c++)
				zi[c] = p->b2[c];
			for (int j = 0; j < h; j++) {
				double v = ai[j] > 0 ? ai[j] : 0;
				if (mi)
					v *= mi[j];
				hi[j] = v;
				const double *w = p->w2 + (size_t)j * k;
				for (int c = 0; c < k; c++)
					zi[c] += v * w[c];
			}
		} else {
			memcpy(zi, ai, (size_t)k * sizeof *zi);
		}
		if (y) {
			double mx = zi[0], s = 0;
			for (int c = 1; c < k; c++)
				mx = zi[c] > mx ? zi[c] : mx;
			for (int c = 0; c < k; c++)
				s += exp(zi[c] - mx);
			ce[i] = mx + log(s) - zi[y[i]];
		}
	}
}

double ct_head_loss(const ct_params *p, const float *x, const int32_t *y, int64_t rows, const double *cw,
		    double wd, const float *mask, ct_params *g, double *scratch)
{
	int d = p->d, h = p->h, k = p->k, o1 = out1_of(p);
	double *a = scratch, *hid = a + rows * o1, *z = hid + rows * h, *dz = z + rows * k, *da = dz + rows * k,
	       *ce = da + rows * h;
	forward(p, x, y, rows, mask, a, hid, z, ce);
	double loss = 0, reg = 0;
	for (int64_t i = 0; i < rows; i++)
		loss += (cw ? cw[y[i]] : 1.0) * ce[i];
	loss /= (double)rows;
	size_t n1 = (size_t)d * o1, n2 = (size_t)h * k;
	for (size_t j = 0; j < n1; j++)
		reg += p->w1[j] * p->w1[j];
	for (size_t j = 0; p->kind == CT_HEAD_MLP && j < n2; j++)
		reg += p->w2[j] * p->w2[j];
	loss += 0.5 * wd * reg;
	if (!g)
		return loss;
	/* dL/dz = cw_y (softmax - onehot) / rows */
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < rows; i++) {
		const double *zi = z + i * k;
		double *di = dz + i * k, mx = zi[0], s = 0, wi = (cw ? cw[y[i]] : 1.0) / (double)rows;
		for (int c = 1; c < k; c++)
			mx = zi[c] > mx ? zi[c] : mx;
		for (int c = 0; c < k; c++)
			s += (di[c] = exp(zi[c] - mx));
		for (int c = 0; c < k; c++)
			di[c] = wi * (di[c] / s - (c == y[i]));
	}
	const double *d1 = dz; /* the gradient at the first layer's output */
	if (p->kind == CT_HEAD_MLP) {
		/* Parallel over hidden units: each sums over the rows in row order. */
#pragma omp parallel for schedule(static)
		for (int j = 0; j < h; j++) {
			double *gw = g->w2 + (size_t)j * k;
			const double *w = p->w2 + (size_t)j * k;
			for (int c = 0; c < k; c++)
				gw[c] = wd * w[c];
			for (int64_t i = 0; i < rows; i++) {
				double v = hid[i * h + j];
				for (int c = 0; c < k; c++)
					gw[c] += v * dz[i * k + c];
			}
		}
		for (int c = 0; c < k; c++)
			g->b2[c] = 0;
		for (int64_t i = 0; i < rows; i++)
			for (int c = 0; c < k; c++)
				g->b2[c] += dz[i * k + c];
#pragma omp parallel for schedule(static)
		for (int64_t i = 0; i < rows; i++) {
			const float *mi = mask ? mask + i * h : NULL;
			for (int j = 0; j < h; j++) {
				double s = 0;
				if (a[i * h + j] > 0) {
					const double *w = p->w2 + (size_t)j * k;
					for (int c = 0; c < k; c++)
						s += dz[i * k + c] * w[c];
					if (mi)
						s *= mi[j];
				}
				da[i * h + j] = s;
			}
		}
		d1 = da;
	}
	/* Parallel over input features: each row of dW1 sums over the rows in row order. */
#pragma omp parallel for schedule(static)
	for (int t = 0; t < d; t++) {
		double *gw = g->w1 + (size_t)t * o1;
		const double *w = p->w1 + (size_t)t * o1;
		for (int j = 0; j < o1; j++)
			gw[j] = wd * w[j];
		for (int64_t i = 0; i < rows; i++) {
			double v = x[i * d + t];
			const double *di = d1 + i * o1;
			for (int j = 0; j < o1; j++)
				gw[j] += v * di[j];
		}
	}
	for (int j = 0; j < o1; j++)
		g->b1[j] = 0;
	for (int64_t i = 0; i < rows; i++)
		for (int j = 0; j < o1; j++)
			g->b1[j] += d1[i * o1 + j];
	return loss;
}

/* Declared in train/finetune.h: the logits (rows x k) in ct_head_loss's scratch. */
const double *ct_head_loss_z(const ct_params *p, int64_t rows, const double *scratch);
const double *ct_head_loss_z(const ct_params *p, int64_t rows, const double *scratch)
{
	return scratch + rows * out1_of(p) + rows * p->h;
}

/* Declared in train/finetune.h: it reads ct_head_loss's scratch layout, kept here. */
void ct_head_loss_dx(const ct_params *p, int64_t rows, const double *scratch, float *dx);
void ct_head_loss_dx(const ct_params *p, int64_t rows, const double *scratch, float *dx)
{
	int d = p->d, h = p->h, k = p->k, o1 = out1_of(p);
	const double *dz = scratch + rows * o1 + rows * h + rows * k, *da = dz + rows * k;
	const double *d1 = p->kind == CT_HEAD_MLP ? da : dz;
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < rows; i++)
		for (int t = 0; t < d; t++) {
			const double *w = p->w1 + (size_t)t * o1, *di = d1 + i * o1;
			double s = 0;
			for (int j = 0; j < o1; j++)
				s += di[j] * w[j];
			dx[i * d + t] = (float)s;
		}
}

void ct_train_log_free(ct_train_log *log)
{
	free(log->train_loss);
	free(log->train_acc);
	free(log->val_loss);
	free(log->val_acc);
	memset(log, 0, sizeof *log);
}

/* Glorot (Xavier) uniform initialisation, Keras' default for Dense kernels. */
static void glorot(double *w, int fan_in, int fan_out, uint64_t seed, uint64_t stream)
{
	ct_rng r;
	ct_rng_init(&r, seed, stream);
	double lim = sqrt(6.0 / (fan_in + fan_out));
	for (size_t i = 0; i < (size_t)fan_in * fan_out; i++)
		w[i] = ct_rng_range(&r, -lim, lim);
}

/* Mean cross-entropy and accuracy of the rows idx[0..m) (inference: no dropout). */
static void evaluate(const ct_params *p, const float *xs, const int32_t *y, const int64_t *idx, int64_t m,
		     float *xb, int32_t *yb, double *scratch, int64_t chunk, double *loss, double *acc)
{
	double sl = 0;
	int64_t right = 0;
	int d = p->d, k = p->k, o1 = out1_of(p);
	for (int64_t s = 0; s < m; s += chunk) {
		int64_t r = m - s < chunk ? m - s : chunk;
		for (int64_t i = 0; i < r; i++) {
			memcpy(xb + i * d, xs + idx[s + i] * d, (size_t)d * sizeof *xb);
			yb[i] = y[idx[s + i]];
		}
		double *a = scratch, *hid = a + r * o1, *z = hid + r * p->h, *ce = z + r * k;
		forward(p, xb, yb, r, NULL, a, hid, z, ce);
		for (int64_t i = 0; i < r; i++) {
			sl += ce[i];
			int best = 0;
			for (int c = 1; c < k; c++)
				if (z[i * k + c] > z[i * k + best])
					best = c;
			right += best == yb[i];
		}
	}
	*loss = m ? sl / (double)m : NAN;
	*acc = m ? (double)right / (double)m : NAN;
}

static int grow_log(ct_train_log *log, int epochs)
{
	double **arr[4] = { &log->train_loss, &log->train_acc, &log->val_loss, &log->val_acc };
	for (int i = 0; i < 4; i++)
		if (!(*arr[i] = calloc((size_t)epochs + 1, sizeof(double))))
			return ct_error("out of memory");
	return 0;
}

int ct_train_head(const float *x, const int32_t *y, int64_t n, int d, int k, const uint8_t *role,
		  const ct_train_opts *o, ct_head *out, ct_train_log *log)
{
	memset(out, 0, sizeof *out);
	memset(log, 0, sizeof *log);
	if (o->batch < 1 || o->epochs < 1 || !(o->lr > 0) || o->dropout < 0 || o->dropout >= 1)
		return ct_error("bad training options");
	int64_t ntr = 0, nva = 0;
	for (int64_t i = 0; i < n; i++) {
		if (role[i] != CT_ROLE_NONE && (y[i] < 0 || y[i] >= k))
			return ct_error("row %lld has label %d, outside the %d classes", (long long)i, y[i], k);
		ntr += role[i] == CT_ROLE_TRAIN;
		nva += role[i] == CT_ROLE_VAL;
	}
	if (ntr == 0)
		return ct_error("no training rows");
	log->ntrain = ntr;
	log->nval = nva;
	int h = o->kind == CT_HEAD_MLP ? o->hidden : 0, o1 = o->kind == CT_HEAD_MLP ? h : k;
	int64_t bs = o->batch < ntr ? o->batch : ntr, chunk = 256;
	int64_t rows_ws = bs > chunk ? bs : chunk;
	ct_params p = { 0 }, g = { 0 }, best = { 0 }, m1 = { 0 }, m2 = { 0 };
	double *mean = calloc((size_t)d + 1, sizeof *mean), *sd = calloc((size_t)d + 1, sizeof *sd), cw[64];
	double *cwp = NULL, *scratch = NULL;
	float *xs = NULL, *xb = NULL, *mask = NULL;
	int32_t *yb = NULL;
	int64_t *tr = NULL, *va = NULL;
	size_t nx;
	int rc = 0;
	if (!mean || !sd || ct_mul_size((size_t)n, (size_t)d, &nx) < 0 || !(xs = malloc(nx * sizeof *xs + 1)) ||
	    !(xb = malloc((size_t)rows_ws * d * sizeof *xb + 1)) || !(yb = malloc((size_t)rows_ws * sizeof *yb)) ||
	    !(mask = malloc((size_t)bs * (h + 1) * sizeof *mask)) || !(tr = malloc((size_t)ntr * sizeof *tr)) ||
	    !(va = malloc(((size_t)nva + 1) * sizeof *va))) {
		rc = ct_error("out of memory");
		goto done;
	}
	if (ct_params_alloc(&p, o->kind, d, h, k) < 0 || ct_params_alloc(&g, o->kind, d, h, k) < 0 ||
	    ct_params_alloc(&best, o->kind, d, h, k) < 0 || ct_params_alloc(&m1, o->kind, d, h, k) < 0 ||
	    ct_params_alloc(&m2, o->kind, d, h, k) < 0 || grow_log(log, o->epochs) < 0 ||
	    !(scratch = malloc(ct_head_loss_scratch(&p, rows_ws) * sizeof *scratch))) {
		rc = -1;
		goto done;
	}
	for (int64_t i = 0, a = 0, b = 0; i < n; i++) {
		if (role[i] == CT_ROLE_TRAIN)
			tr[a++] = i;
		else if (role[i] == CT_ROLE_VAL)
			va[b++] = i;
	}
	/* Standardisation from the training rows only, summed in row order. */
	for (int64_t r = 0; r < ntr; r++)
		for (int t = 0; t < d; t++)
			mean[t] += x[tr[r] * d + t];
	for (int t = 0; t < d; t++)
		mean[t] /= (double)ntr;
	for (int64_t r = 0; r < ntr; r++)
		for (int t = 0; t < d; t++) {
			double e = x[tr[r] * d + t] - mean[t];
			sd[t] += e * e;
		}
	double sdsum = 0;
	for (int t = 0; t < d; t++) {
		sd[t] = sqrt(sd[t] / (double)ntr);
		sdsum += sd[t];
		if (!(sd[t] > 1e-12)) /* a constant column: centre it, do not blow it up */
			sd[t] = 1.0;
	}
	if (o->sd_floor > 0)
		for (int t = 0; t < d; t++)
			if (sd[t] < o->sd_floor * sdsum / d)
				sd[t] = o->sd_floor * sdsum / d;
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++)
		for (int t = 0; t < d; t++)
			xs[i * d + t] = (float)((x[i * d + t] - mean[t]) / sd[t]);
	/* Class weights. */
	for (int c = 0; c < k && c < 64; c++)
		cw[c] = 1.0;
	if (o->balanced) {
		if (k > 64) {
			rc = ct_error("balanced class weights support at most 64 classes");
			goto done;
		}
		int64_t cnt[64] = { 0 };
		for (int64_t r = 0; r < ntr; r++)
			cnt[y[tr[r]]]++;
		for (int c = 0; c < k; c++)
			cw[c] = cnt[c] ? (double)ntr / ((double)k * (double)cnt[c]) : 0.0;
		cwp = cw;
	}
	for (int c = 0; c < k && c < 64; c++)
		log->class_weight[c] = cw[c];
	glorot(p.w1, d, o1, o->seed, 1);
	if (o->kind == CT_HEAD_MLP)
		glorot(p.w2, h, k, o->seed, 2);
	memcpy(best.mem, p.mem, p.count * sizeof *p.mem);
	double best_loss = INFINITY;
	int best_epoch = 0;
	int64_t step = 0;
	const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
	double keep = 1.0 - (o->kind == CT_HEAD_MLP ? o->dropout : 0.0);
	for (int e = 0; e < o->epochs; e++) {
		ct_rng r;
		ct_rng_init(&r, o->seed, 0x1000 + (uint64_t)e);
		for (int64_t i = ntr - 1; i > 0; i--) {
			int64_t j = (int64_t)ct_rng_below(&r, (uint64_t)i + 1), t = tr[i];
			tr[i] = tr[j];
			tr[j] = t;
		}
		for (int64_t s = 0; s < ntr; s += bs) {
			int64_t rows = ntr - s < bs ? ntr - s : bs;
			for (int64_t i = 0; i < rows; i++) {
				memcpy(xb + i * d, xs + tr[s + i] * d, (size_t)d * sizeof *xb);
				yb[i] = y[tr[s + i]];
			}
			const float *mk = NULL;
			if (o->kind == CT_HEAD_MLP && keep < 1.0) {
				/* Inverted dropout; row s+i of epoch e draws from its own stream. */
#pragma omp parallel for schedule(static)
				for (int64_t i = 0; i < rows; i++) {
					ct_rng rr;
					ct_rng_init(&rr, o->seed, ((uint64_t)(e + 1) << 32) + (uint64_t)(s + i));
					for (int j = 0; j < h; j++)
						mask[i * h + j] = ct_rng_uniform(&rr) < keep ? (float)(1.0 / keep) : 0.0f;
				}
				mk = mask;
			}
			double l = ct_head_loss(&p, xb, yb, rows, cwp, o->weight_decay, mk, &g, scratch);
			if (!isfinite(l)) {
				rc = ct_error("training diverged at epoch %d (the loss is not finite); try a lower --lr",
					      e + 1);
				goto done;
			}
			step++;
			size_t cnt = p.count;
			double *w = p.mem, *gr = g.mem, *m = m1.mem, *v = m2.mem;
			if (o->optimizer == CT_OPTIM_ADAM) {
				double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
#pragma omp parallel for schedule(static)
				for (size_t j = 0; j < cnt; j++) {
					m[j] = b1 * m[j] + (1 - b1) * gr[j];
					v[j] = b2 * v[j] + (1 - b2) * gr[j] * gr[j];
					w[j] -= o->lr * (m[j] / c1) / (sqrt(v[j] / c2) + eps);
				}
			} else {
#pragma omp parallel for schedule(static)
				for (size_t j = 0; j < cnt; j++) {
					m[j] = o->momentum * m[j] - o->lr * gr[j];
					w[j] += m[j];
				}
			}
		}
		evaluate(&p, xs, y, tr, ntr, xb, yb, scratch, chunk, &log->train_loss[e], &log->train_acc[e]);
		evaluate(&p, xs, y, va, nva, xb, yb, scratch, chunk, &log->val_loss[e], &log->val_acc[e]);
		log->epochs = e + 1;
		if (!isfinite(log->train_loss[e])) {
			rc = ct_error("training diverged at epoch %d (the loss is not finite); try a lower --lr", e + 1);
			goto done;
		}
		if (nva == 0 || log->val_loss[e] < best_loss) {
			best_loss = nva ? log->val_loss[e] : best_loss;
			best_epoch = e + 1;
			memcpy(best.mem, p.mem, p.count * sizeof *p.mem);
		} else if (o->patience > 0 && e + 1 - best_epoch >= o->patience) {
			log->stopped_early = 1;
			break;
		}
	}
	log->best_epoch = best_epoch;
	if (ct_head_alloc(out, o->kind, d, h, k) < 0) {
		rc = -1;
		goto done;
	}
	for (int t = 0; t < d; t++) {
		out->mean[t] = (float)mean[t];
		out->std[t] = (float)sd[t];
	}
	for (size_t j = 0; j < (size_t)d * o1; j++)
		out->w1[j] = (float)best.w1[j];
	for (int j = 0; j < o1; j++)
		out->b1[j] = (float)best.b1[j];
	if (o->kind == CT_HEAD_MLP) {
		for (size_t j = 0; j < (size_t)h * k; j++)
			out->w2[j] = (float)best.w2[j];
		for (int c = 0; c < k; c++)
			out->b2[c] = (float)best.b2[c];
	}
done:
	ct_params_free(&p);
	ct_params_free(&g);
	ct_params_free(&best);
	ct_params_free(&m1);
	ct_params_free(&m2);
	free(mean);
	free(sd);
	free(scratch);
	free(xs);
	free(xb);
	free(yb);
	free(mask);
	free(tr);
	free(va);
	if (rc < 0) {
		ct_head_free(out);
		ct_train_log_free(log);
	}
	return rc;
}

void ct_train_scores(const float *probs, const int32_t *y, int64_t n, int k, double *acc, double *auc)
{
	int64_t right = 0;
	for (int64_t i = 0; i < n; i++) {
		int best = 0;
		for (int c = 1; c < k; c++)
			if (probs[i * k + c] > probs[i * k + best])
				best = c;
		right += best == y[i];
	}
	*acc = n ? (double)right / (double)n : NAN;
	*auc = NAN;
	double *score = malloc(((size_t)n + 1) * sizeof *score);
	int *pos = malloc(((size_t)n + 1) * sizeof *pos);
	if (score && pos) {
		double sum = 0;
		int defined = 0;
		for (int c = (k == 2 ? 1 : 0); c < k; c++) {
			for (int64_t i = 0; i < n; i++) {
				score[i] = probs[i * k + c];
				pos[i] = y[i] == c;
			}
			double a = ct_auc(score, pos, n);
			if (!isnan(a)) {
				sum += a;
				defined++;
			}
		}
		if (defined)
			*auc = sum / defined;
	}
	free(score);
	free(pos);
}

void ct_cv_result_free(ct_cv_result *r)
{
	free(r->acc);
	free(r->auc);
	free(r->best_epoch);
	memset(r, 0, sizeof *r);
}

static void mean_sd(const double *v, int n, double *m, double *s)
{
	double a = 0, q = 0;
	int c = 0;
	for (int i = 0; i < n; i++)
		if (!isnan(v[i])) {
			a += v[i];
			c++;
		}
	*m = c ? a / c : NAN;
	for (int i = 0; i < n; i++)
		if (!isnan(v[i]))
			q += (v[i] - *m) * (v[i] - *m);
	*s = c > 1 ? sqrt(q / (c - 1)) : NAN;
}

int ct_train_cv(const float *x, const int32_t *y, int64_t n, int d, int k, const int32_t *fold, int nfolds,
		const ct_train_opts *o, ct_cv_result *r)
{
	return ct_train_cv_eval(x, y, n, d, k, fold, nfolds, NULL, o, r);
}

int ct_train_cv_eval(const float *x, const int32_t *y, int64_t n, int d, int k, const int32_t *fold, int nfolds,
		     const uint8_t *eval, const ct_train_opts *o, ct_cv_result *r)
{
	return ct_train_cv_ensemble(x, y, n, d, k, fold, nfolds, eval, o, 1, r);
}

int ct_train_cv_ensemble(const float *x, const int32_t *y, int64_t n, int d, int k, const int32_t *fold,
			 int nfolds, const uint8_t *eval, const ct_train_opts *o, int nheads, ct_cv_result *r)
{
	return ct_train_cv_tta(x, y, n, d, k, fold, nfolds, eval, NULL, o, nheads, r);
}

int ct_train_cv_tta(const float *x, const int32_t *y, int64_t n, int d, int k, const int32_t *fold, int nfolds,
		    const uint8_t *eval, const int64_t *orig, const ct_train_opts *o, int nheads, ct_cv_result *r)
{
	memset(r, 0, sizeof *r);
	if (nheads < 1 || nheads > CT_ENSEMBLE_MAX)
		return ct_error("an ensemble of %d heads (1 to %d)", nheads, CT_ENSEMBLE_MAX);
	r->k = nfolds;
	r->acc = calloc((size_t)nfolds + 1, sizeof *r->acc);
	r->auc = calloc((size_t)nfolds + 1, sizeof *r->auc);
	r->best_epoch = calloc((size_t)nfolds + 1, sizeof *r->best_epoch);
	uint8_t *role = malloc((size_t)n + 1);
	float *xf = NULL, *pr = NULL;
	int32_t *yf = NULL;
	int64_t *pos = NULL, *cnt = NULL;
	double *acc = NULL;
	ct_head *hd = calloc((size_t)nheads, sizeof *hd);
	ct_train_log *lg = calloc((size_t)nheads, sizeof *lg);
	const ct_head **hp = calloc((size_t)nheads, sizeof *hp);
	int rc = 0;
	if (!r->acc || !r->auc || !r->best_epoch || !role || !hd || !lg || !hp ||
	    !(xf = malloc(((size_t)n * d + 1) * sizeof *xf)) || !(pr = malloc(((size_t)n * k + 1) * sizeof *pr)) ||
	    !(yf = malloc(((size_t)n + 1) * sizeof *yf)) ||
	    (orig && (!(pos = malloc(((size_t)n + 1) * sizeof *pos)) || !(cnt = malloc(((size_t)n + 1) * sizeof *cnt)) ||
		      !(acc = malloc(((size_t)n * k + 1) * sizeof *acc)))))
		rc = ct_error("out of memory");
	for (int j = 0; rc == 0 && j < nheads; j++)
		hp[j] = &hd[j];
	for (int f = 0; rc == 0 && f < nfolds; f++) {
		int64_t m = 0, mt = 0; /* held-out rows scored; rows predicted (with TTA: + copies) */
		for (int64_t i = 0; i < n; i++) {
			role[i] = fold[i] < 0 ? CT_ROLE_NONE : fold[i] == f ? CT_ROLE_VAL : CT_ROLE_TRAIN;
			if (fold[i] == f && ((eval && !eval[i]) || (orig && orig[i] != i)))
				role[i] = CT_ROLE_NONE; /* copies train, never held out */
			if (role[i] == CT_ROLE_VAL) {
				if (orig)
					pos[i] = m;
				yf[m++] = y[i];
			}
			/* rows to predict: the held-out rows, and with TTA their copies too */
			if (role[i] == CT_ROLE_VAL || (orig && fold[i] == f && orig[i] != i))
				memcpy(xf + mt++ * d, x + i * d, (size_t)d * sizeof *xf);
		}
		if (ct_train_ensemble(x, y, n, d, k, role, o, nheads, hd, lg) < 0) {
			rc = ct_error_prefix("fold %d of %d", f + 1, nfolds);
			break;
		}
		r->best_epoch[f] = lg[0].best_epoch;
		if (ct_heads_predict(hp, nheads, xf, mt, pr) < 0) {
			rc = -1;
		} else {
			if (orig) { /* each held-out row: the mean over it and its copies, in row order */
				memset(acc, 0, (size_t)m * k * sizeof *acc);
				memset(cnt, 0, (size_t)m * sizeof *cnt);
				for (int64_t i = 0, t = 0; i < n; i++) {
					if (!(role[i] == CT_ROLE_VAL || (fold[i] == f && orig[i] != i)))
						continue;
					if (role[orig[i]] == CT_ROLE_VAL) { /* else the original is not scored */
						int64_t q = pos[orig[i]];
						for (int c = 0; c < k; c++)
							acc[q * k + c] += pr[t * k + c];
						cnt[q]++;
					}
					t++;
				}
				for (int64_t q = 0; q < m; q++)
					for (int c = 0; c < k; c++)
						pr[q * k + c] = (float)(acc[q * k + c] / (double)cnt[q]);
			}
			ct_train_scores(pr, yf, m, k, &r->acc[f], &r->auc[f]);
		}
		for (int j = 0; j < nheads; j++) {
			ct_head_free(&hd[j]);
			ct_train_log_free(&lg[j]);
		}
	}
	if (rc == 0) {
		mean_sd(r->acc, nfolds, &r->acc_mean, &r->acc_sd);
		mean_sd(r->auc, nfolds, &r->auc_mean, &r->auc_sd);
	}
	free(role);
	free(xf);
	free(pr);
	free(yf);
	free(pos);
	free(cnt);
	free(acc);
	free(hd);
	free(lg);
	free(hp);
	if (rc < 0)
		ct_cv_result_free(r);
	return rc;
}

static int write_f64(hid_t g, const char *name, const double *v, int64_t n)
{
	int64_t shape[1] = { n };
	ct_tensor t = ct_tensor_wrap((void *)v, CT_F64, 1, shape);
	return ct_h5_write(g, name, &t, 0, 0);
}

int ct_train_log_write(hid_t file, const ct_train_log *log, const char *validation)
{
	hid_t g = ct_h5_create_group(file, "training");
	if (g < 0)
		return -1;
	int rc = 0;
	if (write_f64(g, "train_loss", log->train_loss, log->epochs) < 0 ||
	    write_f64(g, "train_acc", log->train_acc, log->epochs) < 0 ||
	    write_f64(g, "val_loss", log->val_loss, log->epochs) < 0 ||
	    write_f64(g, "val_acc", log->val_acc, log->epochs) < 0 || ct_h5_set_int(g, "epochs", log->epochs) < 0 ||
	    ct_h5_set_int(g, "best_epoch", log->best_epoch) < 0 ||
	    ct_h5_set_int(g, "stopped_early", log->stopped_early) < 0 ||
	    ct_h5_set_int(g, "train_rows", log->ntrain) < 0 || ct_h5_set_int(g, "val_rows", log->nval) < 0 ||
	    ct_h5_set_str(g, "validation", validation) < 0)
		rc = -1;
	H5Gclose(g);
	return rc;
}

int ct_cv_write(hid_t file, const ct_cv_result *r)
{
	hid_t g = ct_h5_create_group(file, "cv");
	if (g < 0)
		return -1;
	int64_t shape[1] = { r->k };
	ct_tensor be = ct_tensor_wrap(r->best_epoch, CT_I32, 1, shape);
	int rc = 0;
	if (write_f64(g, "acc", r->acc, r->k) < 0 || write_f64(g, "auc", r->auc, r->k) < 0 ||
	    ct_h5_write(g, "best_epoch", &be, 0, 0) < 0 || ct_h5_set_int(g, "folds", r->k) < 0 ||
	    ct_h5_set_double(g, "acc_mean", r->acc_mean) < 0 || ct_h5_set_double(g, "acc_sd", r->acc_sd) < 0 ||
	    ct_h5_set_double(g, "auc_mean", r->auc_mean) < 0 || ct_h5_set_double(g, "auc_sd", r->auc_sd) < 0)
		rc = -1;
	H5Gclose(g);
	return rc;
}
