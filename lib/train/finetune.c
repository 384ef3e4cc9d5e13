/* finetune.c - joint training of the layers above a cut and the head (finetune.h). */
#include "train/finetune.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/activations.h"
#include "formats/keras_h5.h"
#include "models/models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int total_d(const ct_ft_source *src, int nsrc)
{
	int d = 0;
	for (int s = 0; s < nsrc; s++)
		d += src[s].d;
	return d;
}

/* Per-source buffers for a batch: gathered input rows and pooled outputs. */
typedef struct ft_bufs {
	float *x[8], *y[8];
} ft_bufs;

static int bufs_alloc(ft_bufs *b, const ct_ft_source *src, int nsrc, int64_t rows)
{
	memset(b, 0, sizeof *b);
	for (int s = 0; s < nsrc; s++) {
		b->x[s] = malloc((size_t)(rows * src[s].per) * sizeof(float));
		b->y[s] = malloc((size_t)(rows * src[s].d) * sizeof(float));
		if (!b->x[s] || !b->y[s])
			return ct_error("out of memory for a batch of %lld rows", (long long)rows);
	}
	return 0;
}

static void bufs_free(ft_bufs *b, int nsrc)
{
	for (int s = 0; s < nsrc; s++)
		free(b->x[s]), free(b->y[s]);
}

/* Forward rows idx[0..m) (m <= the buffers' rows) of every source; feats: m x D. */
static int forward_rows(ct_ft_source *src, int nsrc, const int64_t *idx, int64_t m, ft_bufs *b,
			float *feats)
{
	int D = total_d(src, nsrc), off = 0;
	for (int s = 0; s < nsrc; s++) {
		for (int64_t i = 0; i < m; i++)
			memcpy(b->x[s] + i * src[s].per, src[s].x + idx[i] * src[s].per,
			       (size_t)src[s].per * sizeof(float));
		if (ct_subnet_forward(src[s].net, b->x[s], (int)m, b->y[s]) < 0)
			return -1;
		for (int64_t i = 0; i < m; i++)
			memcpy(feats + i * D + off, b->y[s] + i * src[s].d, (size_t)src[s].d * sizeof(float));
		off += src[s].d;
	}
	return 0;
}

int ct_ft_features(ct_ft_source *src, int nsrc, int64_t n, int batch, float *feats)
{
	ft_bufs b;
	int64_t *idx = malloc((size_t)batch * sizeof *idx);
	int rc = idx ? bufs_alloc(&b, src, nsrc, batch) : ct_error("out of memory");
	int D = total_d(src, nsrc);
	for (int64_t i0 = 0; rc == 0 && i0 < n; i0 += batch) {
		int64_t m = n - i0 < batch ? n - i0 : batch;
		for (int64_t i = 0; i < m; i++)
			idx[i] = i0 + i;
		rc = forward_rows(src, nsrc, idx, m, &b, feats + i0 * D);
	}
	if (idx)
		bufs_free(&b, nsrc);
	free(idx);
	return rc;
}

int ct_ft_features_rows(ct_ft_source *src, int nsrc, const int64_t *idx, int64_t m, int batch, float *feats)
{
	ft_bufs b;
	int rc = bufs_alloc(&b, src, nsrc, batch);
	int D = total_d(src, nsrc);
	for (int64_t i0 = 0; rc == 0 && i0 < m; i0 += batch)
		rc = forward_rows(src, nsrc, idx + i0, m - i0 < batch ? m - i0 : batch, &b, feats + i0 * D);
	bufs_free(&b, nsrc);
	return rc;
}

void ct_ft_log_free(ct_ft_log *log)
{
	ct_train_log_free(&log->head);
	ct_train_log_free(&log->joint);
}

/* Head <-> double parameters. */
static void head_to_params(const ct_head *h, ct_params *p)
{
	int o1 = h->kind == CT_HEAD_MLP ? h->hidden : h->nclasses;
	for (size_t j = 0; j < (size_t)h->d_in * o1; j++)
		p->w1[j] = h->w1[j];
	for (int j = 0; j < o1; j++)
		p->b1[j] = h->b1[j];
	if (h->kind == CT_HEAD_MLP) {
		for (size_t j = 0; j < (size_t)h->hidden * h->nclasses; j++)
			p->w2[j] = h->w2[j];
		for (int c = 0; c < h->nclasses; c++)
			p->b2[c] = h->b2[c];
	}
}

static void params_to_head(const ct_params *p, ct_head *h)
{
	int o1 = h->kind == CT_HEAD_MLP ? h->hidden : h->nclasses;
	for (size_t j = 0; j < (size_t)h->d_in * o1; j++)
		h->w1[j] = (float)p->w1[j];
	for (int j = 0; j < o1; j++)
		h->b1[j] = (float)p->b1[j];
	if (h->kind == CT_HEAD_MLP) {
		for (size_t j = 0; j < (size_t)h->hidden * h->nclasses; j++)
			h->w2[j] = (float)p->w2[j];
		for (int c = 0; c < h->nclasses; c++)
			h->b2[c] = (float)p->b2[c];
	}
}

/* Trainable values of all sources, flattened: value pointers, gradients, Adam moments and
 * the best epoch's copy. */
typedef struct ft_state {
	int np;
	ct_sparam **p;
	float **m, **v, **best;
} ft_state;

static int state_init(ft_state *st, ct_ft_source *src, int nsrc)
{
	memset(st, 0, sizeof *st);
	int cap = 0;
	for (int s = 0; s < nsrc; s++)
		cap += ct_subnet_nparams(src[s].net);
	st->p = calloc((size_t)cap + 1, sizeof *st->p);
	st->m = calloc((size_t)cap + 1, sizeof *st->m);
	st->v = calloc((size_t)cap + 1, sizeof *st->v);
	st->best = calloc((size_t)cap + 1, sizeof *st->best);
	if (!st->p || !st->m || !st->v || !st->best)
		return ct_error("out of memory");
	for (int s = 0; s < nsrc; s++)
		for (int i = 0; i < ct_subnet_nparams(src[s].net); i++) {
			ct_sparam *sp = ct_subnet_param(src[s].net, i);
			if (!sp->trainable)
				continue;
			int j = st->np++;
			st->p[j] = sp;
			st->m[j] = calloc((size_t)sp->count, sizeof(float));
			st->v[j] = calloc((size_t)sp->count, sizeof(float));
			st->best[j] = malloc((size_t)sp->count * sizeof(float));
			if (!st->m[j] || !st->v[j] || !st->best[j])
				return ct_error("out of memory for the backbone's optimiser state");
			memcpy(st->best[j], sp->w, (size_t)sp->count * sizeof(float));
		}
	return 0;
}

static void state_free(ft_state *st)
{
	for (int j = 0; j < st->np; j++)
		free(st->m[j]), free(st->v[j]), free(st->best[j]);
	free(st->p), free(st->m), free(st->v), free(st->best);
}

/* Mean cross-entropy and accuracy over rows idx[0..m), in batches (no dropout). */
static int evaluate(ct_ft_source *src, int nsrc, const ct_params *p, const float *mean, const float *sd,
		    const int32_t *y, const int64_t *idx, int64_t m, int64_t bs, ft_bufs *b, float *feats,
		    int32_t *yb, double *scratch, double *loss, double *acc)
{
	int D = p->d, k = p->k;
	double sl = 0;
	int64_t right = 0;
	for (int64_t s0 = 0; s0 < m; s0 += bs) {
		int64_t r = m - s0 < bs ? m - s0 : bs;
		if (forward_rows(src, nsrc, idx + s0, r, b, feats) < 0)
			return -1;
		for (int64_t i = 0; i < r; i++) {
			yb[i] = y[idx[s0 + i]];
			for (int t = 0; t < D; t++)
				feats[i * D + t] = (feats[i * D + t] - mean[t]) / sd[t];
		}
		sl += ct_head_loss(p, feats, yb, r, NULL, 0, NULL, NULL, scratch) * (double)r;
		const double *z = ct_head_loss_z(p, r, scratch);
		for (int64_t i = 0; i < r; i++) {
			int best = 0;
			for (int c = 1; c < k; c++)
				if (z[i * k + c] > z[i * k + best])
					best = c;
			right += best == yb[i];
		}
	}
	*loss = m ? sl / (double)m : NAN;
	*acc = m ? (double)right / (double)m : NAN;
	return 0;
}

int ct_finetune(ct_ft_source *src, int nsrc, const int32_t *y, int64_t n, int k, const uint8_t *role,
		const ct_ft_opts *o, ct_head *out, ct_ft_log *log)
{
	memset(out, 0, sizeof *out);
	memset(log, 0, sizeof *log);
	if (nsrc < 1 || nsrc > 8)
		return ct_error("fine-tuning takes 1 to 8 backbones");
	const ct_train_opts *ho = &o->head;
	int D = total_d(src, nsrc), rc = 0;
	int64_t ntr = 0, nva = 0;
	for (int64_t i = 0; i < n; i++)
		ntr += role[i] == CT_ROLE_TRAIN, nva += role[i] == CT_ROLE_VAL;
	if (ntr == 0)
		return ct_error("no training rows");
	int64_t bs = ho->batch < ntr ? ho->batch : ntr, ebs = bs > 32 ? bs : 32;
	int h = ho->kind == CT_HEAD_MLP ? ho->hidden : 0;
	float *F = malloc((size_t)(n * D + 1) * sizeof *F);
	float *fb = malloc((size_t)(ebs * D + 1) * sizeof *fb), *dx = malloc((size_t)(bs * D + 1) * sizeof *dx);
	float *dy[8] = { 0 }, *mask = malloc((size_t)(bs * (h + 1)) * sizeof *mask);
	int64_t *tr = malloc((size_t)(ntr + 1) * sizeof *tr), *va = malloc((size_t)(nva + 1) * sizeof *va);
	int32_t *yb = malloc((size_t)(ebs + 1) * sizeof *yb);
	ct_params p = { 0 }, g = { 0 }, best = { 0 }, m1 = { 0 }, m2 = { 0 };
	double *scratch = NULL, cw[64];
	const double *cwp = NULL;
	ft_bufs b = { 0 };
	ft_state st = { 0 };
	ct_head h0 = { 0 };
	if (!F || !fb || !dx || !mask || !tr || !va || !yb) {
		rc = ct_error("out of memory");
		goto done;
	}
	for (int s = 0; s < nsrc; s++)
		if (!(dy[s] = malloc((size_t)(bs * src[s].d) * sizeof(float)))) {
			rc = ct_error("out of memory");
			goto done;
		}
	for (int64_t i = 0, a = 0, c = 0; i < n; i++) {
		if (role[i] == CT_ROLE_TRAIN)
			tr[a++] = i;
		else if (role[i] == CT_ROLE_VAL)
			va[c++] = i;
	}
	/* 1. the head on the pretrained features */
	double t0 = now();
	if (bufs_alloc(&b, src, nsrc, ebs) < 0 || ct_ft_features(src, nsrc, n, (int)ebs, F) < 0 ||
	    ct_train_head(F, y, n, D, k, role, ho, &h0, &log->head) < 0) {
		rc = -1;
		goto done;
	}
	if (o->verbose)
		fprintf(stderr, "ct-finetune: head on the pretrained features: epoch %d of %d kept, val loss %.4f acc %.4f (%.1f s)\n",
			log->head.best_epoch, log->head.epochs,
			nva ? log->head.val_loss[log->head.best_epoch - 1] : NAN,
			nva ? log->head.val_acc[log->head.best_epoch - 1] : NAN, now() - t0);
	if (ct_params_alloc(&p, ho->kind, D, h, k) < 0 || ct_params_alloc(&g, ho->kind, D, h, k) < 0 ||
	    ct_params_alloc(&best, ho->kind, D, h, k) < 0 || ct_params_alloc(&m1, ho->kind, D, h, k) < 0 ||
	    ct_params_alloc(&m2, ho->kind, D, h, k) < 0 ||
	    !(scratch = malloc(ct_head_loss_scratch(&p, ebs) * sizeof *scratch)) || state_init(&st, src, nsrc) < 0) {
		rc = -1;
		goto done;
	}
	head_to_params(&h0, &p);
	memcpy(best.mem, p.mem, p.count * sizeof *p.mem);
	for (int c = 0; c < k && c < 64; c++)
		cw[c] = log->head.class_weight[c];
	if (ho->balanced)
		cwp = cw;
	/* the log: epochs 1..E of the joint phase */
	ct_train_log *jl = &log->joint;
	jl->train_loss = calloc((size_t)ho->epochs + 1, sizeof(double));
	jl->train_acc = calloc((size_t)ho->epochs + 1, sizeof(double));
	jl->val_loss = calloc((size_t)ho->epochs + 1, sizeof(double));
	jl->val_acc = calloc((size_t)ho->epochs + 1, sizeof(double));
	if (!jl->train_loss || !jl->train_acc || !jl->val_loss || !jl->val_acc) {
		rc = ct_error("out of memory");
		goto done;
	}
	jl->ntrain = ntr, jl->nval = nva;
	memcpy(jl->class_weight, log->head.class_weight, sizeof jl->class_weight);
	double best_loss = INFINITY, acc0;
	if (nva && evaluate(src, nsrc, &p, h0.mean, h0.std, y, va, nva, ebs, &b, fb, yb, scratch, &best_loss, &acc0) < 0) {
		rc = -1;
		goto done;
	}
	int best_epoch = 0;
	int64_t step = 0;
	const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
	double keep = 1.0 - (ho->kind == CT_HEAD_MLP ? ho->dropout : 0.0);
	double t_epochs = 0;
	for (int e = 1; e <= ho->epochs; e++) {
		double te = now();
		ct_rng r;
		ct_rng_init(&r, ho->seed, 0x3000 + (uint64_t)e);
		for (int64_t i = ntr - 1; i > 0; i--) {
			int64_t j = (int64_t)ct_rng_below(&r, (uint64_t)i + 1), t = tr[i];
			tr[i] = tr[j];
			tr[j] = t;
		}
		double sl = 0;
		int64_t right = 0;
		for (int64_t s0 = 0; s0 < ntr; s0 += bs) {
			int64_t rows = ntr - s0 < bs ? ntr - s0 : bs;
			if (forward_rows(src, nsrc, tr + s0, rows, &b, fb) < 0) {
				rc = -1;
				goto done;
			}
			for (int64_t i = 0; i < rows; i++) {
				yb[i] = y[tr[s0 + i]];
				for (int t = 0; t < D; t++)
					fb[i * D + t] = (fb[i * D + t] - h0.mean[t]) / h0.std[t];
			}
			const float *mk = NULL;
			if (ho->kind == CT_HEAD_MLP && keep < 1.0) {
				for (int64_t i = 0; i < rows; i++) {
					ct_rng rr;
					ct_rng_init(&rr, ho->seed ^ 0xf17e7a9eULL, ((uint64_t)e << 32) + (uint64_t)(s0 + i));
					for (int j = 0; j < h; j++)
						mask[i * h + j] = ct_rng_uniform(&rr) < keep ? (float)(1.0 / keep) : 0.0f;
				}
				mk = mask;
			}
			double l = ct_head_loss(&p, fb, yb, rows, cwp, ho->weight_decay, mk, &g, scratch);
			if (!isfinite(l)) {
				rc = ct_error("fine-tuning diverged at epoch %d (the loss is not finite); try a lower --backbone-lr", e);
				goto done;
			}
			sl += l * (double)rows;
			const double *z = ct_head_loss_z(&p, rows, scratch);
			for (int64_t i = 0; i < rows; i++) {
				int bc = 0;
				for (int c = 1; c < k; c++)
					if (z[i * k + c] > z[i * k + bc])
						bc = c;
				right += bc == yb[i];
			}
			ct_head_loss_dx(&p, rows, scratch, dx);
			int off = 0;
			for (int s = 0; s < nsrc; s++) {
				for (int64_t i = 0; i < rows; i++)
					for (int j = 0; j < src[s].d; j++)
						dy[s][i * src[s].d + j] = dx[i * D + off + j] / h0.std[off + j];
				off += src[s].d;
				ct_subnet_zero_grad(src[s].net);
				if (ct_subnet_backward(src[s].net, dy[s], NULL) < 0) {
					rc = -1;
					goto done;
				}
			}
			step++;
			double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
			for (size_t j = 0; j < p.count; j++) {
				double gj = g.mem[j];
				m1.mem[j] = b1 * m1.mem[j] + (1 - b1) * gj;
				m2.mem[j] = b2 * m2.mem[j] + (1 - b2) * gj * gj;
				p.mem[j] -= o->head_lr * (m1.mem[j] / c1) / (sqrt(m2.mem[j] / c2) + eps);
			}
			for (int q = 0; q < st.np; q++) {
				ct_sparam *sp = st.p[q];
				float *mq = st.m[q], *vq = st.v[q];
				double wd = sp->decay ? o->backbone_wd : 0.0;
#pragma omp parallel for schedule(static)
				for (int64_t j = 0; j < sp->count; j++) {
					double gj = (double)sp->g[j] + wd * sp->w[j];
					double mj = b1 * mq[j] + (1 - b1) * gj, vj = b2 * vq[j] + (1 - b2) * gj * gj;
					mq[j] = (float)mj, vq[j] = (float)vj;
					sp->w[j] = (float)(sp->w[j] - o->backbone_lr * (mj / c1) / (sqrt(vj / c2) + eps));
				}
			}
		}
		jl->train_loss[e - 1] = sl / (double)ntr;
		jl->train_acc[e - 1] = (double)right / (double)ntr;
		jl->val_loss[e - 1] = jl->val_acc[e - 1] = NAN;
		if (nva && evaluate(src, nsrc, &p, h0.mean, h0.std, y, va, nva, ebs, &b, fb, yb, scratch,
				    &jl->val_loss[e - 1], &jl->val_acc[e - 1]) < 0) {
			rc = -1;
			goto done;
		}
		jl->epochs = e;
		t_epochs += now() - te;
		if (o->verbose)
			fprintf(stderr, "ct-finetune: joint epoch %3d: train loss %.4f acc %.4f  val loss %.4f acc %.4f  (%.1f s)\n", e,
				jl->train_loss[e - 1], jl->train_acc[e - 1], jl->val_loss[e - 1], jl->val_acc[e - 1],
				now() - te);
		if (nva == 0 || jl->val_loss[e - 1] < best_loss) {
			best_loss = nva ? jl->val_loss[e - 1] : best_loss;
			best_epoch = e;
			memcpy(best.mem, p.mem, p.count * sizeof *p.mem);
			for (int q = 0; q < st.np; q++)
				memcpy(st.best[q], st.p[q]->w, (size_t)st.p[q]->count * sizeof(float));
		} else if (ho->patience > 0 && e - best_epoch >= ho->patience) {
			jl->stopped_early = 1;
			break;
		}
	}
	jl->best_epoch = best_epoch;
	log->seconds_per_epoch = jl->epochs ? t_epochs / jl->epochs : 0;
	/* restore the best epoch (0: the head-only model and the pretrained layers) */
	for (int q = 0; q < st.np; q++)
		memcpy(st.p[q]->w, st.best[q], (size_t)st.p[q]->count * sizeof(float));
	if (ct_head_alloc(out, ho->kind, D, h, k) < 0) {
		rc = -1;
		goto done;
	}
	memcpy(out->mean, h0.mean, (size_t)D * sizeof(float));
	memcpy(out->std, h0.std, (size_t)D * sizeof(float));
	params_to_head(&best, out);
done:
	for (int s = 0; s < nsrc && s < 8; s++)
		free(dy[s]);
	bufs_free(&b, nsrc < 8 ? nsrc : 8);
	state_free(&st);
	ct_params_free(&p), ct_params_free(&g), ct_params_free(&best), ct_params_free(&m1), ct_params_free(&m2);
	ct_head_free(&h0);
	free(F), free(fb), free(dx), free(mask), free(tr), free(va), free(yb), free(scratch);
	if (rc < 0) {
		ct_head_free(out);
		ct_ft_log_free(log);
	}
	return rc;
}

int ct_ft_write(hid_t file, ct_ft_source *src, int nsrc, char *const *backbones, char *const *base_sha)
{
	hid_t g = ct_h5_create_group(file, "finetune");
	if (g < 0)
		return -1;
	int rc = ct_h5_set_int(g, "sources", nsrc);
	for (int s = 0; s < nsrc && rc == 0; s++) {
		char name[16];
		snprintf(name, sizeof name, "%d", s);
		hid_t sg = ct_h5_create_group(g, name);
		if (sg < 0) {
			rc = -1;
			break;
		}
		ct_weights w = { 0 };
		const ct_graph *gr = NULL;
		int cut = -1, outn = -1;
		ct_subnet_graph(src[s].net, &gr, &cut, &outn);
		if (ct_h5_set_str(sg, "backbone", backbones[s]) < 0 ||
		    ct_h5_set_str(sg, "cut_layer", gr->nodes[cut].name) < 0 ||
		    ct_h5_set_str(sg, "output_layer", gr->nodes[outn].name) < 0 ||
		    ct_h5_set_str(sg, "base_weights_sha256", base_sha[s]) < 0 || ct_subnet_export(src[s].net, &w) < 0 ||
		    ct_weights_write(sg, &w) < 0)
			rc = ct_error_prefix("cannot write the fine-tuned layers");
		ct_weights_free(&w);
		H5Gclose(sg);
	}
	H5Gclose(g);
	return rc;
}
