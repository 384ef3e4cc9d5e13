/* head.c - the classifier head: allocation, model-file read/write, layout check, inference. */
#include "train/head.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ct_head_kind_name(ct_head_kind k)
{
	return k == CT_HEAD_MLP ? "mlp" : "logreg";
}

void ct_head_free(ct_head *m)
{
	if (m->class_names)
		ct_strings_free(m->class_names, m->nclasses);
	free(m->mean);
	free(m->std);
	free(m->w1);
	free(m->b1);
	free(m->w2);
	free(m->b2);
	ct_fblocks_free(m->blocks, m->nblocks);
	memset(m, 0, sizeof *m);
}

static float *falloc(int64_t a, int64_t b)
{
	size_t n;
	if (a < 0 || b < 0 || ct_mul_size((size_t)a, (size_t)b, &n) < 0)
		return NULL;
	return calloc(n + 1, sizeof(float));
}

int ct_head_alloc(ct_head *m, ct_head_kind kind, int d_in, int hidden, int nclasses)
{
	memset(m, 0, sizeof *m);
	if (d_in < 1 || nclasses < 2 || (kind == CT_HEAD_MLP && hidden < 1))
		return ct_error("bad head shape (d_in %d, hidden %d, classes %d)", d_in, hidden, nclasses);
	m->kind = kind;
	m->d_in = d_in;
	m->hidden = kind == CT_HEAD_MLP ? hidden : 0;
	m->nclasses = nclasses;
	int out1 = kind == CT_HEAD_MLP ? hidden : nclasses;
	m->mean = falloc(d_in, 1);
	m->std = falloc(d_in, 1);
	m->w1 = falloc(d_in, out1);
	m->b1 = falloc(out1, 1);
	int ok = m->mean && m->std && m->w1 && m->b1;
	if (kind == CT_HEAD_MLP) {
		m->w2 = falloc(hidden, nclasses);
		m->b2 = falloc(nclasses, 1);
		ok = ok && m->w2 && m->b2;
	}
	if (!ok) {
		ct_head_free(m);
		return ct_error("out of memory for a %d x %d head", d_in, out1);
	}
	for (int j = 0; j < d_in; j++)
		m->std[j] = 1.0f;
	return 0;
}

static int write_f32(hid_t g, const char *name, const float *v, int64_t a, int64_t b, int ndim)
{
	int64_t shape[2] = { a, b };
	ct_tensor t = ct_tensor_wrap((void *)v, CT_F32, ndim, shape);
	return ct_h5_write(g, name, &t, 0, 0);
}

int ct_head_group_write(hid_t parent, const char *name, const ct_head *m)
{
	hid_t g = ct_h5_create_group(parent, name);
	if (g < 0)
		return -1;
	int out1 = m->kind == CT_HEAD_MLP ? m->hidden : m->nclasses;
	int rc = 0;
	if (ct_h5_set_str(g, "type", ct_head_kind_name(m->kind)) < 0 || ct_h5_set_int(g, "d_in", m->d_in) < 0 ||
	    ct_h5_set_int(g, "hidden", m->hidden) < 0 || ct_h5_set_int(g, "nclasses", m->nclasses) < 0 ||
	    ct_h5_set_str(g, "activation", m->kind == CT_HEAD_MLP ? "relu" : "none") < 0 ||
	    write_f32(g, "mean", m->mean, m->d_in, 0, 1) < 0 || write_f32(g, "std", m->std, m->d_in, 0, 1) < 0 ||
	    write_f32(g, "w1", m->w1, m->d_in, out1, 2) < 0 || write_f32(g, "b1", m->b1, out1, 0, 1) < 0)
		rc = -1;
	if (rc == 0 && m->kind == CT_HEAD_MLP &&
	    (write_f32(g, "w2", m->w2, m->hidden, m->nclasses, 2) < 0 ||
	     write_f32(g, "b2", m->b2, m->nclasses, 0, 1) < 0))
		rc = -1;
	H5Gclose(g);
	return rc;
}

int ct_head_write(hid_t file, const ct_head *m)
{
	if (ct_h5_write_strings(file, "class_names", m->class_names, m->nclasses) < 0 ||
	    ct_head_group_write(file, "head", m) < 0)
		return -1;
	return ct_fblocks_write(file, m->blocks, m->nblocks);
}

/* Read a float dataset that must have exactly the given shape (b = 0: 1-d). */
static int read_f32(hid_t g, const char *gname, const char *name, float *dst, int64_t a, int64_t b)
{
	ct_tensor t;
	if (ct_h5_read(g, name, CT_F32, &t) < 0)
		return ct_error_prefix("%s", gname);
	int good = b ? (t.ndim == 2 && t.shape[0] == a && t.shape[1] == b) : (t.ndim == 1 && t.shape[0] == a);
	if (!good) {
		ct_tensor_free(&t);
		return b ? ct_error("dataset '%s/%s' is not %lld x %lld", gname, name, (long long)a, (long long)b)
			 : ct_error("dataset '%s/%s' does not have %lld values", gname, name, (long long)a);
	}
	memcpy(dst, t.data, ct_tensor_nbytes(&t));
	ct_tensor_free(&t);
	for (int64_t i = 0; i < a * (b ? b : 1); i++)
		if (!isfinite(dst[i]))
			return ct_error("dataset '%s/%s' has a non-finite value", gname, name);
	return 0;
}

int ct_head_group_read(hid_t parent, const char *name, ct_head *m)
{
	memset(m, 0, sizeof *m);
	if (!ct_h5_exists(parent, name))
		return ct_error("missing group '%s'", name);
	hid_t g = H5Gopen2(parent, name, H5P_DEFAULT);
	if (g < 0)
		return ct_error("cannot open group '%s'", name);
	char *type = NULL;
	int64_t d = 0, h = 0, k = 0;
	int rc = 0;
	if (ct_h5_get_str(g, "type", &type) < 0 || ct_h5_get_int(g, "d_in", &d) < 0 ||
	    ct_h5_get_int(g, "hidden", &h) < 0 || ct_h5_get_int(g, "nclasses", &k) < 0)
		rc = -1;
	ct_head_kind kind = CT_HEAD_LOGREG;
	if (rc == 0) {
		if (!strcmp(type, "mlp"))
			kind = CT_HEAD_MLP;
		else if (strcmp(type, "logreg"))
			rc = ct_error("unknown head type '%s'", type);
	}
	if (rc == 0 && (d < 1 || d > (1 << 28) || k < 2 || k > (1 << 20) || h < 0 || h > (1 << 24)))
		rc = ct_error("bad head shape (d_in %lld, hidden %lld, classes %lld)", (long long)d, (long long)h,
			      (long long)k);
	if (rc == 0)
		rc = ct_head_alloc(m, kind, (int)d, (int)h, (int)k);
	int out1 = kind == CT_HEAD_MLP ? (int)h : (int)k;
	if (rc == 0 && (read_f32(g, name, "mean", m->mean, d, 0) < 0 || read_f32(g, name, "std", m->std, d, 0) < 0 ||
			read_f32(g, name, "w1", m->w1, d, out1) < 0 || read_f32(g, name, "b1", m->b1, out1, 0) < 0))
		rc = -1;
	if (rc == 0 && kind == CT_HEAD_MLP &&
	    (read_f32(g, name, "w2", m->w2, h, k) < 0 || read_f32(g, name, "b2", m->b2, k, 0) < 0))
		rc = -1;
	for (int64_t j = 0; rc == 0 && j < d; j++)
		if (!(m->std[j] > 0))
			rc = ct_error("dataset '%s/std' has a non-positive value", name);
	H5Gclose(g);
	free(type);
	if (rc < 0)
		ct_head_free(m);
	return rc;
}

int ct_head_read(hid_t file, ct_head *m)
{
	if (ct_head_group_read(file, "head", m) < 0)
		return -1;
	int64_t d = m->d_in, k = m->nclasses;
	int rc = 0;
	char **cls = NULL;
	int64_t ncls = 0;
	if (rc == 0 && ct_h5_read_strings(file, "class_names", &cls, &ncls) < 0)
		rc = -1;
	if (rc == 0 && ncls != k) {
		ct_strings_free(cls, ncls);
		rc = ct_error("'class_names' has %lld entries, the head %lld classes", (long long)ncls, (long long)k);
	} else if (rc == 0) {
		free(m->class_names);
		m->class_names = cls;
	}
	if (rc == 0 && ct_fblocks_read(file, &m->blocks, &m->nblocks) < 0)
		rc = -1;
	int64_t at = 0;
	for (int i = 0; rc == 0 && i < m->nblocks; i++) {
		if (m->blocks[i].start != at || m->blocks[i].width < 1)
			rc = ct_error("model blocks do not tile the %lld columns", (long long)d);
		at += m->blocks[i].width;
	}
	if (rc == 0 && at != d)
		rc = ct_error("model blocks cover %lld of the %lld columns", (long long)at, (long long)d);
	if (rc < 0)
		ct_head_free(m);
	return rc;
}

int ct_head_load(const char *path, ct_head *m)
{
	memset(m, 0, sizeof *m);
	ct_h5 h;
	if (ct_h5_open(&h, path) < 0)
		return -1;
	int rc = 0;
	if (ct_file_check(h.file, "model") < 0 || ct_head_read(h.file, m) < 0)
		rc = ct_error_prefix("'%s'", path);
	else if (ct_h5_exists(h.file, "ensemble")) {
		ct_head_free(m);
		rc = ct_error("'%s': ensemble of heads: not supported by ct_head_load (read it with ct_model_open)", path);
	}
	ct_h5_close(&h);
	return rc;
}

int ct_head_check(const ct_head *m, const ct_features *f)
{
	int64_t d = f->x.ndim == 2 ? f->x.shape[1] : -1;
	if (d != m->d_in)
		return ct_error("features have %lld columns, the model expects %d", (long long)d, m->d_in);
	if (f->nblocks != m->nblocks)
		return ct_error("features have %d blocks, the model was trained on %d", f->nblocks, m->nblocks);
	for (int i = 0; i < m->nblocks; i++) {
		const ct_fblock *a = &f->blocks[i], *b = &m->blocks[i];
		if (strcmp(a->name, b->name) || a->width != b->width)
			return ct_error("feature block %d is '%s' (%lld columns), the model expects '%s' (%lld columns)",
					i, a->name, (long long)a->width, b->name, (long long)b->width);
	}
	if (f->s.nclasses != m->nclasses)
		return ct_error("features have %d classes, the model %d", f->s.nclasses, m->nclasses);
	for (int c = 0; c < m->nclasses; c++)
		if (strcmp(f->s.class_names[c], m->class_names[c]))
			return ct_error("class %d is '%s' in the features, '%s' in the model", c, f->s.class_names[c],
					m->class_names[c]);
	return 0;
}

int ct_head_predict(const ct_head *m, const float *x, int64_t n, float *probs)
{
	int d = m->d_in, k = m->nclasses, out1 = m->kind == CT_HEAD_MLP ? m->hidden : k;
	int bad = 0;
	/* Rows are independent and each is computed serially in a fixed order, so the
	 * result does not depend on the thread count. */
#pragma omp parallel reduction(| : bad)
	{
		double *xs = malloc(((size_t)d + (size_t)out1 + (size_t)k + 1) * sizeof *xs);
		if (!xs)
			bad = 1;
#pragma omp for schedule(static)
		for (int64_t i = 0; i < n; i++) {
			if (!xs)
				continue;
			double *a = xs + d, *z = a + out1;
			const float *xi = x + i * d;
			for (int t = 0; t < d; t++)
				xs[t] = ((double)xi[t] - m->mean[t]) / m->std[t];
			for (int j = 0; j < out1; j++)
				a[j] = m->b1[j];
			for (int t = 0; t < d; t++) {
				const float *w = m->w1 + (size_t)t * out1;
				double v = xs[t];
				for (int j = 0; j < out1; j++)
					a[j] += v * w[j];
			}
			if (m->kind == CT_HEAD_MLP) {
				for (int c = 0; c < k; c++)
					z[c] = m->b2[c];
				for (int j = 0; j < out1; j++) {
					double h = a[j] > 0 ? a[j] : 0;
					const float *w = m->w2 + (size_t)j * k;
					for (int c = 0; c < k; c++)
						z[c] += h * w[c];
				}
			} else {
				memcpy(z, a, (size_t)k * sizeof *z);
			}
			double mx = z[0], s = 0;
			for (int c = 1; c < k; c++)
				mx = z[c] > mx ? z[c] : mx;
			for (int c = 0; c < k; c++)
				s += (z[c] = exp(z[c] - mx));
			for (int c = 0; c < k; c++)
				probs[i * k + c] = (float)(z[c] / s);
		}
		free(xs);
	}
	return bad ? ct_error("out of memory") : 0;
}

int ct_head_logit_grad(const ct_head *m, const float *x, int cls, double *z, double *grad)
{
	int d = m->d_in, k = m->nclasses, hid = m->kind == CT_HEAD_MLP ? m->hidden : 0;
	if (cls < 0 || cls >= k)
		return ct_error("no class %d in a %d-class head", cls, k);
	/* Logreg: z_c = sum_t x'_t W1[t,c] + b1[c], so dz_c/dx_t = W1[t,c] / std_t.
	 * MLP: z_c = sum_j relu(a_j) W2[j,c] + b2[c], a_j = sum_t x'_t W1[t,j] + b1[j], so
	 * dz_c/dx_t = sum_j W1[t,j] [a_j > 0] W2[j,c] / std_t. */
	double *a = NULL, *back = NULL;
	if (hid) {
		a = malloc(((size_t)hid * 2 + 1) * sizeof *a);
		if (!a)
			return ct_error("out of memory");
		back = a + hid;
		for (int j = 0; j < hid; j++)
			a[j] = m->b1[j];
		for (int t = 0; t < d; t++) {
			double v = ((double)x[t] - m->mean[t]) / m->std[t];
			const float *w = m->w1 + (size_t)t * hid;
			for (int j = 0; j < hid; j++)
				a[j] += v * w[j];
		}
		double zc = m->b2[cls];
		for (int j = 0; j < hid; j++) {
			int on = a[j] > 0;
			zc += on ? a[j] * m->w2[(size_t)j * k + cls] : 0.0;
			back[j] = on ? m->w2[(size_t)j * k + cls] : 0.0;
		}
		if (z)
			*z = zc;
		if (grad)
			for (int t = 0; t < d; t++) {
				const float *w = m->w1 + (size_t)t * hid;
				double s = 0;
				for (int j = 0; j < hid; j++)
					s += w[j] * back[j];
				grad[t] = s / m->std[t];
			}
		free(a);
		return 0;
	}
	double zc = m->b1[cls];
	for (int t = 0; t < d; t++) {
		double wt = m->w1[(size_t)t * k + cls];
		zc += ((double)x[t] - m->mean[t]) / m->std[t] * wt;
		if (grad)
			grad[t] = wt / m->std[t];
	}
	if (z)
		*z = zc;
	return 0;
}
