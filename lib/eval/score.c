/* score.c - applying a model to a features file, the threshold, the evaluation of a split,
 * and the scores file, TSV and JSON summary (score.h). */
#include "eval/score.h"
#include "eval/tta.h"
#include "data/preprocessing.h"
#include "core/error.h"
#include "core/sha256.h"
#include "train/finetune.h"
#include "train/modelfile.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- running ---- */

void ct_scored_free(ct_scored *r)
{
	free(r->model_path);
	free(r->features_path);
	ct_strings_free(r->input_paths, r->input_paths ? r->ninputs : 0);
	free(r->input_sha256);
	ct_samples_free(&r->s);
	free(r->probs);
	free(r->pred);
	if (r->evaluated)
		ct_eval_free(&r->ev);
	ct_fblocks_free(r->blocks, r->nblocks);
	ct_strings_free(r->model_prov, r->nmodel_prov);
	ct_strings_free(r->features_prov, r->nfeatures_prov);
	ct_curves_free(&r->curves);
	if (r->has_by_source)
		ct_by_source_free(&r->by_source);
	if (r->has_audit)
		ct_audit_free(&r->audit);
	memset(r, 0, sizeof *r);
}

static int in_split(const char *row_split, const char *split)
{
	return !strcmp(split, "all") || !strcmp(row_split, split);
}

static int hash_file(const char *path, char hex[65])
{
	return ct_h5_sha256(path, hex);
}

/* Metrics per source of the evaluated split (bysource.h). */
static int score_by_source(ct_scored *r, const ct_samples *s, const ct_score_opts *o)
{
	char **src = NULL, *column = NULL;
	int *in = malloc(((size_t)s->n + 1) * sizeof *in);
	if (!in)
		return ct_error("out of memory");
	for (int64_t i = 0; i < s->n; i++)
		in[i] = in_split(s->splits[i], r->split);
	int rc = ct_sources_tsv_read(o->sources, o->source_column, s, &src, &column);
	if (rc == 0) {
		ct_eval_opts eo = r->ev.opts;
		rc = ct_by_source_eval(s, r->probs, in, src, column, &eo, &r->by_source);
		r->has_by_source = rc == 0;
	}
	ct_strings_free(src, src ? s->n : 0);
	free(column);
	free(in);
	return rc;
}

/* --tta: each original's probabilities become the mean over it and its augmented copies
 * (tta.h); the copies' rows are dropped, so everything after (threshold, metrics, outputs)
 * sees one row per source image. */
static int tta_apply(ct_scored *r, ct_samples *s, const char *path, int K)
{
	const int64_t n = s->n;
	int64_t *orig = malloc(((size_t)n + 1) * sizeof *orig), nc = 0, m = 0;
	if (!orig)
		return ct_error("out of memory");
	if (ct_tta_origins(s, path, orig, &nc) < 0 || ct_tta_mean(orig, n, K, r->probs) < 0) {
		free(orig);
		return -1;
	}
	for (int64_t i = 0; i < n; i++) {
		if (orig[i] != i) {
			free(s->names[i]), free(s->groups[i]), free(s->splits[i]);
			continue;
		}
		s->names[m] = s->names[i], s->groups[m] = s->groups[i], s->splits[m] = s->splits[i];
		s->labels[m] = s->labels[i];
		memmove(r->probs + (size_t)m * (size_t)K, r->probs + (size_t)i * (size_t)K, (size_t)K * sizeof *r->probs);
		m++;
	}
	s->n = m;
	r->tta = 1;
	r->tta_copies = nc;
	free(orig);
	return 0;
}

int ct_score_run(const char *model_path, char *const *inputs, int ninputs, const ct_score_opts *o, ct_scored *r)
{
	memset(r, 0, sizeof *r);
	r->positive = -1;
	r->threshold = NAN;
	r->youden_j = NAN;
	ct_model mf;
	ct_features f;
	memset(&mf, 0, sizeof mf);
	memset(&f, 0, sizeof f);
	const ct_head *mh = &mf.head;
	const char *features_path = inputs[0];
	r->model_path = strdup(model_path);
	r->features_path = strdup(features_path);
	r->input_paths = calloc((size_t)ninputs, sizeof *r->input_paths);
	r->input_sha256 = calloc((size_t)ninputs, sizeof *r->input_sha256);
	if (!r->model_path || !r->features_path || !r->input_paths || !r->input_sha256) {
		ct_error("out of memory");
		goto fail;
	}
	r->ninputs = ninputs;
	for (int i = 0; i < ninputs; i++)
		if (!(r->input_paths[i] = strdup(inputs[i]))) {
			ct_error("out of memory");
			goto fail;
		}
	/* the model file, read once: head, provenance, training curves, fine-tuned layers */
	if (ct_model_open(&mf, model_path) < 0)
		goto fail;
	r->kind = mh->kind;
	r->d_in = mh->d_in;
	r->hidden = mh->hidden;
	r->heads = mf.nheads > 1 ? mf.nheads : 1;
	r->model_prov = mf.prov;
	r->nmodel_prov = mf.nprov;
	mf.prov = NULL;
	mf.nprov = 0;
	r->curves = mf.curves;
	r->has_curves = mf.has_curves;
	memset(&mf.curves, 0, sizeof mf.curves);
	if (hash_file(model_path, r->model_sha256) < 0)
		goto fail;
	if (ct_model_finetuned(&mf)) {
		/* its own layers above each cut give the features, from cut files or plain images */
		ct_ft_images_opts fo = { o->weights, o->batch };
		if (ct_model_inputs_features(&mf, inputs, ninputs, &fo, &f) < 0)
			goto fail;
	} else {
		if (ninputs != 1) {
			ct_error_usage("model '%s' has no fine-tuned layers: it scores one features file, not %d inputs "
				       "(ct-fuse puts features side by side)",
				       model_path, ninputs);
			goto fail;
		}
		if (o->weights || o->batch > 0) {
			ct_error_usage("--weights and --batch apply to a model with fine-tuned layers scoring an images file");
			goto fail;
		}
		if (ct_features_read(features_path, &f) < 0)
			goto fail;
	}
	for (int i = 0; i < ninputs; i++)
		if (hash_file(inputs[i], r->input_sha256[i]) < 0)
			goto fail;
	memcpy(r->features_sha256, r->input_sha256[0], sizeof r->features_sha256);
	if (ct_head_check(mh, &f) < 0) {
		ct_error_prefix("features '%s' do not fit model '%s'", features_path, model_path);
		goto fail;
	}
	const int K = mh->nclasses;
	int64_t n = f.s.n;
	r->nclasses = K;
	r->probs = malloc(((size_t)n * (size_t)K + 1) * sizeof *r->probs);
	r->pred = malloc(((size_t)n + 1) * sizeof *r->pred);
	if (!r->probs || !r->pred) {
		ct_error("out of memory for %lld x %d probabilities", (long long)n, K);
		goto fail;
	}
	if (n > 0 && ct_model_predict(&mf, f.x.data, n, r->probs) < 0)
		goto fail;
	if (o->tta) {
		if (tta_apply(r, &f.s, features_path, K) < 0)
			goto fail;
		n = f.s.n;
	} else {
		for (int64_t i = 0; i < n; i++) { /* copies scored as rows of their own: say so */
			size_t bl;
			r->copies_as_rows += ct_tta_is_copy(f.s.names[i], &bl) && strcmp(f.s.splits[i], "train");
		}
	}

	/* positive class and threshold */
	if (K == 2) {
		r->positive = ct_positive_class(f.s.class_names, K, o->positive);
		if (r->positive < 0) {
			ct_error_usage("--positive: no class named '%s' (classes: '%s', '%s')", o->positive,
				 f.s.class_names[0], f.s.class_names[1]);
			goto fail;
		}
		r->threshold = o->mode == CT_THRESH_FIXED ? o->threshold : 0.5;
		r->threshold_method = o->mode == CT_THRESH_FIXED ? "fixed" : "default";
		if (o->mode == CT_THRESH_YOUDEN) {
			int64_t nv = 0;
			double *sc = malloc(((size_t)n + 1) * sizeof *sc);
			int *pos = malloc(((size_t)n + 1) * sizeof *pos);
			if (!sc || !pos) {
				free(sc);
				free(pos);
				ct_error("out of memory");
				goto fail;
			}
			for (int64_t i = 0; i < n; i++)
				if (!strcmp(f.s.splits[i], "val") && f.s.labels[i] >= 0) {
					sc[nv] = r->probs[(size_t)i * 2 + (size_t)r->positive];
					pos[nv++] = f.s.labels[i] == r->positive;
				}
			int yr = ct_youden(sc, pos, nv, &r->threshold, &r->youden_j);
			free(sc);
			free(pos);
			if (yr < 0) {
				ct_error_prefix("--threshold youden: '%s', split 'val'", features_path);
				goto fail;
			}
			r->youden_n = nv;
			r->threshold_method = "youden";
		}
	} else {
		if (o->positive || o->mode != CT_THRESH_DEFAULT) {
			ct_error("'%s' has %d classes: --positive and --threshold apply to two classes only",
				 features_path, K);
			goto fail;
		}
		r->threshold_method = "argmax";
	}
	for (int64_t i = 0; i < n; i++)
		r->pred[i] = ct_predict_label(r->probs + (size_t)i * (size_t)K, K, r->positive, r->threshold);

	/* the split to evaluate */
	const char *split = o->split;
	if (!split)
		split = ct_samples_count(&f.s, "test", -2) > 0 ? "test" : "all";
	snprintf(r->split, sizeof r->split, "%s", split);
	for (int64_t i = 0; i < n; i++)
		if (in_split(f.s.splits[i], r->split)) {
			r->nsplit++;
			r->nlabelled += f.s.labels[i] >= 0;
		}
	if (r->nsplit == 0) {
		if (!strcmp(r->split, "all"))
			ct_error("'%s' has no samples", features_path);
		else
			ct_error("'%s' has no samples in split '%s'", features_path, r->split);
		goto fail;
	}
	if (r->nlabelled > 0) {
		float *p = malloc((size_t)r->nlabelled * (size_t)K * sizeof *p);
		int32_t *y = malloc((size_t)r->nlabelled * sizeof *y);
		if (!p || !y) {
			free(p);
			free(y);
			ct_error("out of memory");
			goto fail;
		}
		int64_t k = 0;
		for (int64_t i = 0; i < n; i++)
			if (in_split(f.s.splits[i], r->split) && f.s.labels[i] >= 0) {
				memcpy(p + (size_t)k * (size_t)K, r->probs + (size_t)i * (size_t)K, (size_t)K * sizeof *p);
				y[k++] = f.s.labels[i];
			}
		ct_eval_opts eo = o->eval;
		eo.positive = r->positive < 0 ? 0 : r->positive;
		eo.threshold = K == 2 ? r->threshold : 0.5;
		int er = ct_evaluate(p, y, r->nlabelled, K, &eo, &r->ev);
		free(p);
		free(y);
		if (er < 0)
			goto fail;
		r->evaluated = 1;
	}
	if (o->sources && r->evaluated && K == 2 && score_by_source(r, &f.s, o) < 0)
		goto fail;
	if (o->audit) {
		if (!r->evaluated || K != 2) {
			ct_error("--audit needs two classes and labelled rows in split '%s'", r->split);
			goto fail;
		}
		if (ct_audit_run(o->audit, r->split, f.s.class_names[r->positive], &r->ev.opts, &r->audit) < 0)
			goto fail;
		r->has_audit = 1;
	}
	/* keep the metadata, blocks and provenance; drop the matrix */
	r->s = f.s;
	memset(&f.s, 0, sizeof f.s);
	r->blocks = f.blocks;
	r->nblocks = f.nblocks;
	f.blocks = NULL;
	f.nblocks = 0;
	r->features_prov = f.prov;
	r->nfeatures_prov = f.nprov;
	f.prov = NULL;
	f.nprov = 0;
	/* a model applies to images prepared like its training images */
	if (ct_preprocessing_check(r->model_prov, r->nmodel_prov, r->features_prov, r->nfeatures_prov) < 0) {
		ct_error_prefix("'%s'", features_path);
		goto fail;
	}
	ct_features_free(&f);
	ct_model_close(&mf);
	return 0;
fail:
	ct_features_free(&f);
	ct_model_close(&mf);
	ct_scored_free(r);
	return -1;
}

/* ---- JSON ---- */

static cJSON *num(double v)
{
	return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *stat_json(const ct_stat *s, int with_ci)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "value", num(s->value));
	if (with_ci) {
		cJSON *ci = cJSON_AddArrayToObject(o, "ci");
		cJSON_AddItemToArray(ci, num(s->lo));
		cJSON_AddItemToArray(ci, num(s->hi));
		cJSON_AddNumberToObject(o, "resamples", (double)s->nboot);
	}
	return o;
}

static cJSON *darray(const double *v, int64_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (int64_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, num(v[i]));
	return a;
}

static cJSON *prov_json(char **lines, int64_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (int64_t i = 0; i < n; i++) {
		cJSON *e = cJSON_Parse(lines[i]);
		cJSON_AddItemToArray(a, e ? e : cJSON_CreateString(lines[i]));
	}
	return a;
}

static const char *const split_names[4] = { "train", "val", "test", "" };

char *ct_score_json(const ct_scored *r, int pretty)
{
	cJSON *o = cJSON_CreateObject();
	const ct_samples *s = &r->s;
	const int K = r->nclasses;
	cJSON_AddStringToObject(o, "tool", "ct-score");
	cJSON_AddStringToObject(o, "version", CT_VERSION);
	cJSON *mo = cJSON_AddObjectToObject(o, "model");
	cJSON_AddStringToObject(mo, "path", r->model_path);
	cJSON_AddStringToObject(mo, "sha256", r->model_sha256);
	cJSON_AddStringToObject(mo, "type", ct_head_kind_name(r->kind));
	cJSON_AddNumberToObject(mo, "d_in", r->d_in);
	cJSON_AddNumberToObject(mo, "hidden", r->hidden);
	cJSON_AddNumberToObject(mo, "heads", r->heads);
	cJSON_AddItemToObject(mo, "provenance", prov_json(r->model_prov, r->nmodel_prov));
	cJSON *fo = cJSON_AddObjectToObject(o, "features");
	cJSON_AddStringToObject(fo, "path", r->features_path);
	cJSON_AddStringToObject(fo, "sha256", r->features_sha256);
	cJSON *ins = cJSON_AddArrayToObject(fo, "inputs");
	for (int i = 0; i < r->ninputs; i++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "path", r->input_paths[i]);
		cJSON_AddStringToObject(e, "sha256", r->input_sha256[i]);
		cJSON_AddItemToArray(ins, e);
	}
	cJSON *bl = cJSON_AddArrayToObject(fo, "blocks");
	for (int b = 0; b < r->nblocks; b++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", r->blocks[b].name);
		cJSON_AddNumberToObject(e, "width", (double)r->blocks[b].width);
		cJSON_AddItemToArray(bl, e);
	}
	cJSON_AddItemToObject(fo, "provenance", prov_json(r->features_prov, r->nfeatures_prov));

	cJSON *cls = cJSON_AddArrayToObject(o, "classes");
	for (int k = 0; k < K; k++)
		cJSON_AddItemToArray(cls, cJSON_CreateString(s->class_names[k]));
	if (r->positive >= 0)
		cJSON_AddStringToObject(o, "positive_class", s->class_names[r->positive]);
	else
		cJSON_AddNullToObject(o, "positive_class");
	cJSON_AddStringToObject(o, "split", r->split);
	if (r->tta)
		cJSON_AddNumberToObject(o, "tta_copies", (double)r->tta_copies);

	cJSON *co = cJSON_AddObjectToObject(o, "counts");
	cJSON_AddNumberToObject(co, "samples", (double)r->nsplit);
	cJSON_AddNumberToObject(co, "labelled", (double)r->nlabelled);
	cJSON_AddNumberToObject(co, "unlabelled", (double)(r->nsplit - r->nlabelled));
	cJSON *pcnt = cJSON_AddObjectToObject(co, "per_class");
	for (int k = 0; k < K; k++)
		cJSON_AddNumberToObject(pcnt, s->class_names[k],
					(double)ct_samples_count(s, strcmp(r->split, "all") ? r->split : NULL, k));
	cJSON *fc = cJSON_AddObjectToObject(co, "file");
	cJSON_AddNumberToObject(fc, "samples", (double)s->n);
	for (int q = 0; q < 4; q++)
		cJSON_AddNumberToObject(fc, q < 3 ? split_names[q] : "none", (double)ct_samples_count(s, split_names[q], -2));

	cJSON *th = cJSON_AddObjectToObject(o, "threshold");
	cJSON_AddItemToObject(th, "value", num(r->threshold));
	cJSON_AddStringToObject(th, "method", r->threshold_method);
	if (!strcmp(r->threshold_method, "youden")) {
		cJSON_AddStringToObject(th, "chosen_on", "val");
		cJSON_AddNumberToObject(th, "chosen_on_samples", (double)r->youden_n);
		cJSON_AddItemToObject(th, "youden_j", num(r->youden_j));
	}

	if (!r->evaluated) {
		cJSON_AddFalseToObject(o, "evaluated");
		cJSON_AddNullToObject(o, "metrics");
	} else {
		const ct_eval *ev = &r->ev;
		int ci = ev->nresamples > 0;
		cJSON_AddTrueToObject(o, "evaluated");
		cJSON *bo = cJSON_AddObjectToObject(o, "bootstrap");
		cJSON_AddNumberToObject(bo, "resamples", (double)ev->nresamples);
		cJSON_AddStringToObject(bo, "resample",
					ev->opts.resample == CT_RESAMPLE_STRATIFIED ? "stratified" : "plain");
		cJSON_AddNumberToObject(bo, "level", ev->opts.level);
		cJSON_AddNumberToObject(bo, "seed", (double)ev->opts.seed);
		cJSON_AddStringToObject(bo, "interval", "percentile");
		cJSON *me = cJSON_AddObjectToObject(o, "metrics");
		for (int q = 0; q < CT_M_COUNT; q++)
			cJSON_AddItemToObject(me, ct_metric_names[q], stat_json(&ev->m[q], ci));
		cJSON *pc = cJSON_AddArrayToObject(o, "per_class");
		static const char *const cn[CT_C_COUNT] = { "precision", "recall", "f1", "auc" };
		for (int k = 0; k < K; k++) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "class", s->class_names[k]);
			cJSON_AddNumberToObject(e, "support", (double)ev->support[k]);
			for (int q = 0; q < CT_C_COUNT; q++)
				cJSON_AddItemToObject(e, cn[q], stat_json(&ev->per_class[k * CT_C_COUNT + q], ci));
			cJSON_AddItemToArray(pc, e);
		}
		cJSON *cm = cJSON_AddObjectToObject(o, "confusion_matrix");
		cJSON_AddStringToObject(cm, "rows", "true class");
		cJSON_AddStringToObject(cm, "columns", "predicted class");
		cJSON *mat = cJSON_AddArrayToObject(cm, "matrix");
		for (int k = 0; k < K; k++) {
			cJSON *row = cJSON_CreateArray();
			for (int j = 0; j < K; j++)
				cJSON_AddItemToArray(row, cJSON_CreateNumber((double)ev->confusion[k * K + j]));
			cJSON_AddItemToArray(mat, row);
		}
		cJSON *roc = cJSON_AddArrayToObject(o, "roc");
		for (int k = 0; k < K; k++) {
			const ct_roc_curve *c = &ev->roc[k];
			if (!c->fpr || (ev->binary && k != ev->positive))
				continue;
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "class", s->class_names[k]);
			cJSON_AddItemToObject(e, "fpr", darray(c->fpr, c->npts));
			cJSON_AddItemToObject(e, "tpr", darray(c->tpr, c->npts));
			cJSON_AddItemToObject(e, "thresholds", darray(c->thr, c->npts));
			if (c->tpr_lo) {
				cJSON *b = cJSON_AddObjectToObject(e, "band");
				cJSON_AddItemToObject(b, "fpr", darray(c->grid, c->ngrid));
				cJSON_AddItemToObject(b, "tpr_lo", darray(c->tpr_lo, c->ngrid));
				cJSON_AddItemToObject(b, "tpr_hi", darray(c->tpr_hi, c->ngrid));
			}
			cJSON_AddItemToArray(roc, e);
		}
	}
	if (r->has_audit) {
		const ct_audit *a = &r->audit;
		int ci = r->ev.nresamples > 0;
		cJSON *au = cJSON_AddObjectToObject(o, "shortcut_audit");
		cJSON_AddStringToObject(au, "images", a->images_path);
		cJSON_AddStringToObject(au, "split", a->split);
		cJSON_AddNumberToObject(au, "train_rows", (double)a->ntrain);
		cJSON_AddNumberToObject(au, "rows", (double)a->neval);
		cJSON *bases = cJSON_AddArrayToObject(au, "baselines");
		for (int k = 0; k < a->n; k++) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "attributes", a->v[k].attributes);
			cJSON_AddStringToObject(e, "method", a->v[k].method);
			cJSON_AddItemToObject(e, "auc", stat_json(&a->v[k].ev.m[CT_M_AUC], ci));
			cJSON_AddItemToArray(bases, e);
		}
		const ct_audit_entry *b = &a->v[a->best];
		cJSON *be = cJSON_AddObjectToObject(au, "best");
		cJSON_AddStringToObject(be, "attributes", b->attributes);
		cJSON_AddStringToObject(be, "method", b->method);
		cJSON_AddItemToObject(be, "auc", num(b->ev.m[CT_M_AUC].value));
		cJSON_AddItemToObject(au, "model_auc", num(r->ev.m[CT_M_AUC].value));
		cJSON_AddItemToObject(au, "margin", num(r->ev.m[CT_M_AUC].value - b->ev.m[CT_M_AUC].value));
	}
	if (r->has_by_source) {
		const ct_by_source *b = &r->by_source;
		int ci = r->ev.nresamples > 0;
		cJSON *bs = cJSON_AddObjectToObject(o, "by_source");
		cJSON_AddStringToObject(bs, "column", b->column);
		cJSON_AddNumberToObject(bs, "unmatched", (double)b->unmatched);
		cJSON *arr = cJSON_AddArrayToObject(bs, "sources");
		for (int k = 0; k < b->n; k++) {
			const ct_source_eval *e = &b->v[k];
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "source", e->name);
			cJSON_AddNumberToObject(x, "positives", (double)e->npos);
			cJSON_AddNumberToObject(x, "negatives", (double)e->nneg);
			const ct_eval *evs[2] = { e->has_neg ? &e->neg_vs_allpos : NULL, e->has_pos ? &e->pos_vs_allneg : NULL };
			const char *keys[2] = { "negatives_vs_all_positives", "positives_vs_all_negatives" };
			for (int q = 0; q < 2; q++) {
				if (!evs[q]) {
					cJSON_AddNullToObject(x, keys[q]);
					continue;
				}
				cJSON *m = cJSON_AddObjectToObject(x, keys[q]);
				cJSON_AddNumberToObject(m, "samples", (double)evs[q]->n);
				for (int t = 0; t < CT_M_COUNT; t++)
					cJSON_AddItemToObject(m, ct_metric_names[t], stat_json(&evs[q]->m[t], ci));
			}
			cJSON_AddItemToArray(arr, x);
		}
	}
	char *out = pretty ? cJSON_Print(o) : cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!out)
		ct_error("out of memory");
	return out;
}

/* ---- outputs ---- */

char **ct_score_upstream(const ct_scored *r, int64_t *n)
{
	char **u = malloc(((size_t)r->nmodel_prov + (size_t)r->nfeatures_prov + 1) * sizeof *u);
	*n = 0;
	if (!u) {
		ct_error("out of memory");
		return NULL;
	}
	for (int64_t i = 0; i < r->nmodel_prov; i++)
		u[(*n)++] = r->model_prov[i];
	for (int64_t i = 0; i < r->nfeatures_prov; i++) {
		int seen = 0;
		for (int64_t j = 0; j < r->nmodel_prov && !seen; j++)
			seen = !strcmp(r->features_prov[i], r->model_prov[j]);
		if (!seen)
			u[(*n)++] = r->features_prov[i];
	}
	return u;
}

int ct_scores_create(ct_h5 *h, const char *path, int force)
{
	return ct_h5_create(h, path, force);
}

int ct_scores_commit(ct_h5 *h)
{
	return ct_h5_commit(h);
}

void ct_scores_abort(ct_h5 *h)
{
	ct_h5_abort(h);
}

int ct_score_write_h5(ct_h5 *h, const ct_scored *r, const ct_run *run, const char *json)
{
	hid_t file = h->file;
	int64_t nup;
	char **up = ct_score_upstream(r, &nup);
	if (!up)
		return -1;
	int rc = ct_file_stamp(file, "scores", run, up, nup);
	free(up);
	int64_t shape[2] = { r->s.n, r->nclasses };
	ct_tensor p = ct_tensor_wrap(r->probs, CT_F32, 2, shape);
	ct_tensor q = ct_tensor_wrap(r->pred, CT_I32, 1, shape);
	char *js = (char *)json;
	if (rc == 0)
		rc = ct_samples_write(file, &r->s);
	if (rc == 0)
		rc = ct_h5_write(file, "probabilities", &p, 0, 0);
	if (rc == 0)
		rc = ct_h5_write(file, "predicted", &q, 0, 0);
	if (rc == 0)
		rc = ct_h5_write_strings(file, "metrics", &js, 1);
	if (rc == 0)
		rc = ct_h5_set_double(file, "threshold", r->threshold) < 0 ||
				     ct_h5_set_str(file, "threshold_method", r->threshold_method) < 0 ||
				     ct_h5_set_int(file, "positive_class", r->positive) < 0 ||
				     ct_h5_set_str(file, "split", r->split) < 0 ||
				     ct_h5_set_str(file, "model_sha256", r->model_sha256) < 0 ||
				     ct_h5_set_str(file, "features_sha256", r->features_sha256) < 0
			     ? -1
			     : 0;
	return rc;
}

static void tsv_field(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\r')
			fputs("\\r", f);
		else if (*s == '\\')
			fputs("\\\\", f);
		else
			fputc(*s, f);
	}
}

int ct_score_write_tsv(FILE *f, const ct_scored *r)
{
	const int K = r->nclasses;
	const ct_samples *s = &r->s;
	fputs("name\tsplit\tlabel\t", f);
	if (K == 2) {
		fputs("probability\t", f);
	} else {
		for (int k = 0; k < K; k++) {
			fputs("p:", f);
			tsv_field(f, s->class_names[k]);
			fputc('\t', f);
		}
	}
	fputs("predicted\n", f);
	for (int64_t i = 0; i < s->n; i++) {
		tsv_field(f, s->names[i]);
		fputc('\t', f);
		tsv_field(f, s->splits[i]);
		fputc('\t', f);
		if (s->labels[i] >= 0)
			tsv_field(f, s->class_names[s->labels[i]]);
		fputc('\t', f);
		const float *p = r->probs + (size_t)i * (size_t)K;
		if (K == 2)
			fprintf(f, "%.9g\t", (double)p[r->positive]);
		else
			for (int k = 0; k < K; k++)
				fprintf(f, "%.9g\t", (double)p[k]);
		tsv_field(f, s->class_names[r->pred[i]]);
		fputc('\n', f);
	}
	return ferror(f) ? ct_error_errno("cannot write the tsv") : 0;
}

static void print_stat(FILE *f, const char *name, const ct_stat *st, int ci)
{
	if (isnan(st->value))
		fprintf(f, "  %-18s %8s\n", name, "n/a");
	else if (ci && !isnan(st->lo))
		fprintf(f, "  %-18s %8.4f   [%.4f, %.4f]\n", name, st->value, st->lo, st->hi);
	else
		fprintf(f, "  %-18s %8.4f\n", name, st->value);
}

void ct_score_print(FILE *f, const ct_scored *r)
{
	const ct_samples *s = &r->s;
	const int K = r->nclasses;
	if (r->heads > 1)
		fprintf(f, "model:      %s (mean of %d %s heads, %d inputs)\n", r->model_path, r->heads,
			ct_head_kind_name(r->kind), r->d_in);
	else
		fprintf(f, "model:      %s (%s, %d inputs)\n", r->model_path, ct_head_kind_name(r->kind), r->d_in);
	fprintf(f, "features:   %s", r->features_path);
	for (int i = 1; i < r->ninputs; i++)
		fprintf(f, " + %s", r->input_paths[i]);
	fprintf(f, " (%lld samples)\n", (long long)s->n);
	fprintf(f, "split:      %s: %lld samples, %lld labelled\n", r->split, (long long)r->nsplit,
		(long long)r->nlabelled);
	if (r->tta)
		fprintf(f, "tta:        %lld augmented copies averaged into their originals\n", (long long)r->tta_copies);
	if (r->positive >= 0) {
		fprintf(f, "positive:   %s\n", s->class_names[r->positive]);
		fprintf(f, "threshold:  %.6g (%s", r->threshold, r->threshold_method);
		if (!strcmp(r->threshold_method, "youden"))
			fprintf(f, ": J = %.4f on %lld val samples", r->youden_j, (long long)r->youden_n);
		fprintf(f, ")\n");
	} else {
		fprintf(f, "prediction: arg-max of %d classes\n", K);
	}
	if (!r->evaluated) {
		fprintf(f, "metrics:    none (no labelled samples in split '%s')\n", r->split);
		return;
	}
	const ct_eval *ev = &r->ev;
	int ci = ev->nresamples > 0;
	if (ci)
		fprintf(f, "metrics:    (%g%% %s bootstrap interval, %lld resamples, seed %llu)\n", 100 * ev->opts.level,
			ev->opts.resample == CT_RESAMPLE_STRATIFIED ? "stratified" : "plain",
			(long long)ev->nresamples, (unsigned long long)ev->opts.seed);
	else
		fprintf(f, "metrics:\n");
	static const char *const label[CT_M_COUNT] = { "accuracy", "precision", "recall (sens.)", "specificity",
						       "f1", "auc", "balanced accuracy" };
	for (int q = 0; q < CT_M_COUNT; q++) {
		char name[40];
		snprintf(name, sizeof name, "%s%s", K > 2 && q != CT_M_ACCURACY && q != CT_M_BALANCED_ACCURACY
							     ? "macro "
							     : "",
			 label[q]);
		print_stat(f, name, &ev->m[q], ci);
	}
	fprintf(f, "per class:  %-16s %8s %10s %10s %10s %10s\n", "", "support", "precision", "recall", "f1", "auc");
	for (int k = 0; k < K; k++) {
		const ct_stat *pc = ev->per_class + k * CT_C_COUNT;
		fprintf(f, "            %-16s %8lld", s->class_names[k], (long long)ev->support[k]);
		for (int q = 0; q < CT_C_COUNT; q++)
			if (isnan(pc[q].value))
				fprintf(f, " %10s", "n/a");
			else
				fprintf(f, " %10.4f", pc[q].value);
		fprintf(f, "\n");
	}
	int w = 10;
	for (int k = 0; k < K; k++)
		if ((int)strlen(s->class_names[k]) > w)
			w = (int)strlen(s->class_names[k]);
	if (w > 24)
		w = 24;
	fprintf(f, "confusion:  rows = true class, columns = predicted\n");
	fprintf(f, "            %-*s", w, "");
	for (int j = 0; j < K; j++)
		fprintf(f, " %*.*s", w, w, s->class_names[j]);
	fprintf(f, "\n");
	for (int k = 0; k < K; k++) {
		fprintf(f, "            %-*.*s", w, w, s->class_names[k]);
		for (int j = 0; j < K; j++)
			fprintf(f, " %*lld", w, (long long)ev->confusion[k * K + j]);
		fprintf(f, "\n");
	}
	if (r->has_audit) {
		const ct_audit *a = &r->audit;
		fprintf(f, "shortcuts:  AUC from nuisance attributes alone (trained on %lld train rows of '%s')\n",
			(long long)a->ntrain, a->images_path);
		for (int k = 0; k < a->n; k++) {
			char name[48];
			snprintf(name, sizeof name, "%s/%s", a->v[k].attributes, a->v[k].method);
			print_stat(f, name, &a->v[k].ev.m[CT_M_AUC], ev->nresamples > 0);
		}
		const ct_audit_entry *b = &a->v[a->best];
		fprintf(f, "  margin of the model over the best (%s/%s): %+.4f AUC\n", b->attributes, b->method,
			ev->m[CT_M_AUC].value - b->ev.m[CT_M_AUC].value);
	}
	if (!r->has_by_source)
		return;
	const ct_by_source *b = &r->by_source;
	fprintf(f, "by source:  (%s; AUC with its interval)\n", b->column);
	fprintf(f, "            %-28s %5s %5s  %-28s %-28s\n", "source", "pos", "neg", "its negatives vs all pos",
		"its positives vs all neg");
	for (int k = 0; k < b->n; k++) {
		const ct_source_eval *e = &b->v[k];
		char a[2][64];
		const ct_eval *evs[2] = { e->has_neg ? &e->neg_vs_allpos : NULL, e->has_pos ? &e->pos_vs_allneg : NULL };
		for (int q = 0; q < 2; q++) {
			const ct_stat *st = evs[q] ? &evs[q]->m[CT_M_AUC] : NULL;
			if (!st || isnan(st->value))
				snprintf(a[q], sizeof a[q], "-");
			else if (!isnan(st->lo))
				snprintf(a[q], sizeof a[q], "%.4f [%.4f, %.4f]", st->value, st->lo, st->hi);
			else
				snprintf(a[q], sizeof a[q], "%.4f", st->value);
		}
		fprintf(f, "            %-28.28s %5lld %5lld  %-28s %-28s\n", e->name, (long long)e->npos, (long long)e->nneg,
			a[0], a[1]);
	}
}
