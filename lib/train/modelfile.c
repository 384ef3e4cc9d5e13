/* modelfile.c - the model file: create, write, commit, open, validate, read (modelfile.h). */
#include "train/modelfile.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- training curves ---- */

void ct_curves_free(ct_curves *c)
{
	free(c->train_loss);
	free(c->val_loss);
	free(c->train_acc);
	free(c->val_acc);
	memset(c, 0, sizeof *c);
}

/* A 1-d float64 series of length n (or any length when *n < 0) named one of names. */
static int read_series(hid_t g, const char *const *names, int *n, double **out)
{
	*out = NULL;
	for (; *names; names++) {
		if (!ct_h5_exists(g, *names))
			continue;
		ct_tensor t = { 0 };
		if (ct_h5_read(g, *names, CT_F64, &t) < 0)
			return -1;
		if (t.ndim != 1 || (*n >= 0 && t.shape[0] != *n)) {
			ct_tensor_free(&t);
			return ct_error("training curve '%s' has the wrong length", *names);
		}
		*n = (int)t.shape[0];
		*out = malloc(((size_t)*n + 1) * sizeof **out);
		if (!*out) {
			ct_tensor_free(&t);
			return ct_error("out of memory");
		}
		memcpy(*out, t.data, (size_t)*n * sizeof **out);
		ct_tensor_free(&t);
		return 0;
	}
	return 0;
}

int ct_curves_read(hid_t f, ct_curves *c)
{
	memset(c, 0, sizeof *c);
	static const char *const groups[] = { "training", "history", "curves", NULL };
	static const char *const tl[] = { "train_loss", "loss", NULL }, *const vl[] = { "val_loss", NULL },
				 *const ta[] = { "train_acc", "train_accuracy", "accuracy", "acc", NULL },
				 *const va[] = { "val_acc", "val_accuracy", NULL };
	for (int k = 0; groups[k]; k++) {
		if (!ct_h5_exists(f, groups[k]))
			continue;
		hid_t g = H5Gopen2(f, groups[k], H5P_DEFAULT);
		if (g < 0)
			continue;
		int n = -1, rc = 0;
		if (read_series(g, tl, &n, &c->train_loss) < 0 || read_series(g, vl, &n, &c->val_loss) < 0 ||
		    read_series(g, ta, &n, &c->train_acc) < 0 || read_series(g, va, &n, &c->val_acc) < 0)
			rc = -1;
		int64_t best = 0;
		if (rc == 0 && ct_h5_attr_exists(g, "best_epoch") && ct_h5_get_int(g, "best_epoch", &best) == 0)
			c->best_epoch = best >= 1 && best <= n ? (int)best : 0;
		if (rc == 0 && c->best_epoch == 0 && ct_h5_attr_exists(f, "best_epoch") &&
		    ct_h5_get_int(f, "best_epoch", &best) == 0)
			c->best_epoch = best >= 1 && best <= n ? (int)best : 0;
		H5Gclose(g);
		if (rc < 0) {
			ct_curves_free(c);
			return ct_error_prefix("group '%s'", groups[k]);
		}
		if (n > 0 && (c->train_loss || c->val_loss || c->train_acc || c->val_acc)) {
			c->epochs = n;
			return 1;
		}
		ct_curves_free(c);
	}
	return 0;
}

/* ---- writing ---- */

int ct_model_create(ct_h5 *h, const char *path, int force)
{
	return ct_h5_create(h, path, force);
}

int ct_model_write(ct_h5 *h, const ct_run *run, char *const *upstream, int64_t nup, const ct_model_parts *p)
{
	hid_t f = h->file;
	if (ct_file_stamp(f, "model", run, upstream, nup) < 0 || ct_head_write(f, p->head) < 0)
		return -1;
	if (p->log && ct_train_log_write(f, p->log, p->validation) < 0)
		return -1;
	if (p->nheads > 1 && ct_ensemble_write(f, p->heads, p->seeds, p->logs, p->nheads) < 0)
		return -1;
	if (p->cv && ct_cv_write(f, p->cv) < 0)
		return -1;
	if (p->nft && ct_ft_write(f, p->ft, p->nft, p->ft_backbones, p->ft_base_sha) < 0)
		return -1;
	return 0;
}

int ct_model_commit(ct_h5 *h)
{
	return ct_h5_commit(h);
}

void ct_model_abort(ct_h5 *h)
{
	ct_h5_abort(h);
}

/* ---- reading ---- */

int ct_model_open(ct_model *m, const char *path)
{
	memset(m, 0, sizeof *m);
	if (ct_h5_open(&m->h, path) < 0)
		return -1;
	hid_t f = m->h.file;
	if (ct_file_check(f, "model") < 0 || ct_head_read(f, &m->head) < 0 ||
	    ct_ensemble_read(f, &m->head, &m->nheads, &m->members) < 0 ||
	    ct_provenance_read(f, &m->prov, &m->nprov) < 0) {
		ct_error_prefix("'%s'", path);
		ct_model_close(m);
		return -1;
	}
	int cr = ct_curves_read(f, &m->curves);
	if (cr < 0) {
		ct_error_prefix("'%s'", path);
		ct_model_close(m);
		return -1;
	}
	m->has_curves = cr == 1;
	return 0;
}

int ct_model_predict(const ct_model *m, const float *x, int64_t n, float *probs)
{
	if (m->nheads <= 1)
		return ct_head_predict(&m->head, x, n, probs);
	const ct_head **h = calloc((size_t)m->nheads, sizeof *h);
	if (!h)
		return ct_error("out of memory");
	h[0] = &m->head;
	for (int j = 1; j < m->nheads; j++)
		h[j] = &m->members[j - 1];
	int rc = ct_heads_predict(h, m->nheads, x, n, probs);
	free(h);
	return rc;
}

int ct_model_single_head(const ct_model *m, const char *who)
{
	if (m->nheads > 1)
		return ct_error("'%s': ensemble of %d heads: not supported by %s", m->h.path, m->nheads, who);
	return 0;
}

int ct_model_apply_finetune(ct_model *m, const char *features_path, ct_features *f)
{
	return ct_ft_apply_file(m->h.file, m->h.path, features_path, f);
}

int ct_model_finetuned(const ct_model *m)
{
	return ct_ft_present(m->h.file);
}

int ct_model_images_features(ct_model *m, const char *images_path, const ct_ft_images_opts *o, ct_features *f)
{
	return ct_ft_images_features(m->h.file, m->h.path, m->prov, m->nprov, images_path, o, f);
}

int ct_model_inputs_features(ct_model *m, char *const *inputs, int ninputs, const ct_ft_images_opts *o,
			     ct_features *f)
{
	return ct_ft_inputs_features(m->h.file, m->h.path, m->prov, m->nprov, inputs, ninputs, o, f);
}

int ct_model_ft_part(ct_model *m, ct_ft_part *p)
{
	return ct_ft_part_read(m->h.file, m->h.path, p);
}

void ct_model_close(ct_model *m)
{
	if (m->h.path) /* opened (a zeroed struct holds file id 0, not "none") */
		ct_h5_close(&m->h);
	ct_head_free(&m->head);
	ct_ensemble_free(m->members, m->nheads);
	ct_strings_free(m->prov, m->nprov);
	ct_curves_free(&m->curves);
	memset(m, 0, sizeof *m);
}
