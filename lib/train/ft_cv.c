/* ft_cv.c - cross-validation of fine-tuning (ft_cv.h). */
#include "train/ft_cv.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A copy of every parameter of the sources' sub-networks (the pretrained layers). */
typedef struct ft_snapshot {
	int n;
	ct_sparam **p;
	float **v;
} ft_snapshot;

static void snap_free(ft_snapshot *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->p), free(s->v);
	memset(s, 0, sizeof *s);
}

static int snap_take(ft_snapshot *s, ct_ft_source *src, int nsrc)
{
	memset(s, 0, sizeof *s);
	int cap = 0;
	for (int q = 0; q < nsrc; q++)
		cap += ct_subnet_nparams(src[q].net);
	s->p = calloc((size_t)cap + 1, sizeof *s->p);
	s->v = calloc((size_t)cap + 1, sizeof *s->v);
	if (!s->p || !s->v)
		return ct_error("out of memory");
	for (int q = 0; q < nsrc; q++)
		for (int i = 0; i < ct_subnet_nparams(src[q].net); i++) {
			ct_sparam *sp = ct_subnet_param(src[q].net, i);
			float *v = malloc((size_t)sp->count * sizeof *v);
			if (!v)
				return ct_error("out of memory for a copy of the pretrained layers");
			memcpy(v, sp->w, (size_t)sp->count * sizeof *v);
			s->p[s->n] = sp;
			s->v[s->n++] = v;
		}
	return 0;
}

static void snap_restore(const ft_snapshot *s)
{
	for (int i = 0; i < s->n; i++)
		memcpy(s->p[i]->w, s->v[i], (size_t)s->p[i]->count * sizeof *s->v[i]);
}

static void mean_sd(const double *v, int n, double *m, double *sd)
{
	double a = 0, q = 0;
	for (int i = 0; i < n; i++)
		a += v[i];
	a /= n;
	for (int i = 0; i < n; i++)
		q += (v[i] - a) * (v[i] - a);
	*m = a;
	*sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

int ct_finetune_cv(ct_ft_source *src, int nsrc, const int32_t *y, int64_t n, int k, const int32_t *fold,
		   int nfolds, const uint8_t *eval, const ct_ft_opts *o, ct_cv_result *r)
{
	memset(r, 0, sizeof *r);
	r->k = nfolds;
	r->acc = calloc((size_t)nfolds + 1, sizeof *r->acc);
	r->auc = calloc((size_t)nfolds + 1, sizeof *r->auc);
	r->best_epoch = calloc((size_t)nfolds + 1, sizeof *r->best_epoch);
	int D = 0;
	for (int q = 0; q < nsrc; q++)
		D += src[q].d;
	uint8_t *role = malloc((size_t)n + 1);
	int64_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
	int32_t *yf = malloc(((size_t)n + 1) * sizeof *yf);
	float *feats = malloc(((size_t)n * (size_t)D + 1) * sizeof *feats), *pr = malloc(((size_t)n * k + 1) * sizeof *pr);
	ft_snapshot snap = { 0 };
	int rc = 0;
	if (!r->acc || !r->auc || !r->best_epoch || !role || !idx || !yf || !feats || !pr)
		rc = ct_error("out of memory");
	else
		rc = snap_take(&snap, src, nsrc);
	int batch = o->head.batch > 32 ? o->head.batch : 32;
	for (int f = 0; rc == 0 && f < nfolds; f++) {
		int64_t m = 0;
		for (int64_t i = 0; i < n; i++) {
			role[i] = fold[i] < 0 ? CT_ROLE_NONE : fold[i] == f ? CT_ROLE_VAL : CT_ROLE_TRAIN;
			if (fold[i] == f && eval && !eval[i])
				role[i] = CT_ROLE_NONE;
			if (role[i] == CT_ROLE_VAL) {
				idx[m] = i;
				yf[m++] = y[i];
			}
		}
		ct_head hd;
		ct_ft_log lg;
		snap_restore(&snap);
		if (ct_finetune(src, nsrc, y, n, k, role, o, &hd, &lg) < 0) {
			rc = ct_error_prefix("fold %d of %d", f + 1, nfolds);
			break;
		}
		r->best_epoch[f] = lg.joint.best_epoch;
		/* the fold's model (its best epoch, restored by ct_finetune) on its held-out rows */
		if (ct_ft_features_rows(src, nsrc, idx, m, batch, feats) < 0 || ct_head_predict(&hd, feats, m, pr) < 0)
			rc = ct_error_prefix("fold %d of %d", f + 1, nfolds);
		else
			ct_train_scores(pr, yf, m, k, &r->acc[f], &r->auc[f]);
		if (rc == 0 && o->verbose)
			fprintf(stderr, "ct-finetune: cv fold %d/%d: joint epoch %d of %d kept, held-out accuracy %.4f, AUC %.4f\n",
				f + 1, nfolds, lg.joint.best_epoch, lg.joint.epochs, r->acc[f], r->auc[f]);
		ct_head_free(&hd);
		ct_ft_log_free(&lg);
	}
	if (snap.n)
		snap_restore(&snap);
	if (rc == 0) {
		mean_sd(r->acc, nfolds, &r->acc_mean, &r->acc_sd);
		mean_sd(r->auc, nfolds, &r->auc_mean, &r->auc_sd);
	}
	snap_free(&snap);
	free(role), free(idx), free(yf), free(feats), free(pr);
	if (rc < 0)
		ct_cv_result_free(r);
	return rc;
}
