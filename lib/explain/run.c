/* run.c - ct-explain end to end: model, fusion and threshold, backbones, batches of images,
 * lung-field shares, overlays, explain.json and gallery.html, the temporary output folder. */
#include "explain/run.h"
#include "io/target.h"
#include "core/error.h"
#include "data/preprocessing.h"
#include "explain/explain.h"
#include "explain/gallery.h"
#include "explain/gradcam.h"
#include "image/codec.h"
#include "io/outfile.h"
#include "metrics/metrics.h"
#include "models/models.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"
#include "train/modelfile.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the output folder ---- */

/* Remove a flat folder of files (ours: no sub-folders). */
static int rm_flat(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : ct_error_errno("cannot open '%s'", dir);
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = malloc(strlen(dir) + strlen(e->d_name) + 2);
		if (!p) {
			rc = ct_error("out of memory");
			break;
		}
		sprintf(p, "%s/%s", dir, e->d_name);
		if (unlink(p) < 0 && rc == 0)
			rc = ct_error_errno("cannot remove '%s'", p);
		free(p);
	}
	closedir(d);
	if (rc == 0 && rmdir(dir) < 0)
		rc = ct_error_errno("cannot remove '%s'", dir);
	return rc;
}

/* Whether an existing folder may be replaced: empty or a previous output, files only. */
static int replaceable(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return ct_error_errno("cannot open '%s'", dir);
	struct dirent *e;
	int files = 0, ours = 0, sub = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = malloc(strlen(dir) + strlen(e->d_name) + 2);
		struct stat st;
		if (p) {
			sprintf(p, "%s/%s", dir, e->d_name);
			if (lstat(p, &st) == 0 && !S_ISREG(st.st_mode))
				sub = 1;
			free(p);
		}
		files++;
		ours |= !strcmp(e->d_name, "explain.json");
	}
	closedir(d);
	if (sub || (files && !ours))
		return ct_error("'%s' exists and is not a ct-explain output folder; not replacing it", dir);
	return 0;
}

int ct_outdir_create(ct_outdir *d, const char *path, int force)
{
	memset(d, 0, sizeof *d);
	struct stat st;
	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return ct_error("cannot create '%s': it exists and is not a folder", path);
		if (!force)
			return ct_error("cannot create '%s': it exists (use --force to replace it)", path);
		if (replaceable(path) < 0)
			return -1;
	}
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	d->path = strndup(path, n);
	d->tmp = malloc(n + 16);
	if (!d->path || !d->tmp) {
		ct_outdir_abort(d);
		return ct_error("out of memory");
	}
	sprintf(d->tmp, "%s.tmp.XXXXXX", d->path);
	if (!mkdtemp(d->tmp)) {
		int e = errno;
		free(d->tmp);
		d->tmp = NULL;
		ct_outdir_abort(d);
		errno = e;
		return ct_error_errno("cannot create '%s'", path);
	}
	chmod(d->tmp, 0777 & ~umask(umask(0)));
	d->force = force;
	return 0;
}

int ct_outdir_commit(ct_outdir *d)
{
	struct stat st;
	char *old = NULL;
	if (stat(d->path, &st) == 0) {
		/* a previous output (checked at create): move it aside, put ours in, remove it */
		if (!d->force || replaceable(d->path) < 0) {
			if (!d->force)
				ct_error("cannot create '%s': it exists", d->path);
			ct_outdir_abort(d);
			return -1;
		}
		old = malloc(strlen(d->path) + 16);
		if (!old) {
			ct_outdir_abort(d);
			return ct_error("out of memory");
		}
		sprintf(old, "%s.old.XXXXXX", d->path);
		if (!mkdtemp(old) || rename(d->path, old) < 0) {
			ct_error_errno("cannot replace '%s'", d->path);
			free(old);
			ct_outdir_abort(d);
			return -1;
		}
	}
	if (rename(d->tmp, d->path) < 0) {
		ct_error_errno("cannot rename '%s' to '%s'", d->tmp, d->path);
		if (old)
			rename(old, d->path);
		free(old);
		ct_outdir_abort(d);
		return -1;
	}
	if (old) {
		rm_flat(old);
		free(old);
	}
	free(d->tmp);
	d->tmp = NULL;
	ct_outdir_abort(d);
	return 0;
}

void ct_outdir_abort(ct_outdir *d)
{
	if (d->tmp)
		rm_flat(d->tmp);
	free(d->tmp);
	free(d->path);
	memset(d, 0, sizeof *d);
}

/* ---- helpers ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median of the finite values among v[i] for which sel(i) holds; NaN when none. */
static double median_of(const double *v, const int *keep, int64_t n, int64_t *count)
{
	double *t = malloc(((size_t)n + 1) * sizeof *t);
	int64_t k = 0;
	for (int64_t i = 0; t && i < n; i++)
		if ((!keep || keep[i]) && isfinite(v[i]))
			t[k++] = v[i];
	double m = NAN;
	if (t && k) {
		qsort(t, (size_t)k, sizeof *t, cmp_double);
		m = k % 2 ? t[k / 2] : 0.5 * (t[k / 2 - 1] + t[k / 2]);
	}
	free(t);
	if (count)
		*count = k;
	return m;
}

static cJSON *num_or_null(double v)
{
	return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* The threshold and positive class of a ct-score --json document. */
static int read_metrics(const char *path, double *thr, char **positive)
{
	char *text = NULL;
	size_t len;
	if (ct_read_file(path, 1LL << 26, &text, &len) < 0)
		return -1;
	cJSON *j = cJSON_Parse(text);
	free(text);
	const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "threshold") : NULL;
	const cJSON *v = t ? cJSON_GetObjectItemCaseSensitive(t, "value") : NULL;
	if (!j || !cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1)) {
		cJSON_Delete(j);
		return ct_error("'%s': not a ct-score --json output (no threshold.value in [0, 1])", path);
	}
	*thr = v->valuedouble;
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "positive_class");
	*positive = cJSON_IsString(p) ? strdup(p->valuestring) : NULL;
	cJSON_Delete(j);
	return 0;
}

/* File name of an overlay: row number, then the sample name with '/' (and control
 * characters) replaced by '_', its image extension dropped, cut at 120 bytes on a UTF-8
 * character boundary. Spaces and other characters stay. */
static void png_name(char *buf, size_t n, int64_t row, int digits, const char *name)
{
	char s[128];
	size_t k = 0;
	for (const char *p = name; *p && k < 120; p++) {
		unsigned char c = (unsigned char)*p;
		if (k >= 117 && (c & 0xC0) != 0x80 && c >= 0x80)
			break; /* no room for a whole multi-byte character */
		s[k++] = c == '/' || c == '\\' || c < 0x20 || c == 0x7f ? '_' : (char)c;
	}
	s[k] = '\0';
	char *dot = strrchr(s, '.');
	if (dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
		    !strcasecmp(dot, ".tif") || !strcasecmp(dot, ".tiff")))
		*dot = '\0';
	snprintf(buf, n, "%0*lld_%s.png", digits, (long long)row, s);
}

/* The images file's /lung_mask (N x H x W [x 1], uint8) opened into *d, or H5I_INVALID_HID when
 * it has none; an error when it has one of another shape or type. */
static int open_mask(const ct_images *im, const char *path, hid_t *d)
{
	*d = H5I_INVALID_HID;
	if (!ct_h5_exists(im->h.file, "lung_mask"))
		return 0;
	int nd;
	int64_t sh[CT_MAX_DIMS];
	if (ct_h5_shape(im->h.file, "lung_mask", &nd, sh) < 0 ||
	    !((nd == 3 || (nd == 4 && sh[3] == 1)) && sh[0] == im->n && sh[1] == im->height && sh[2] == im->width))
		return ct_error("'%s': dataset 'lung_mask' is not %lld x %lld x %lld (one mask per image)", path,
				(long long)im->n, (long long)im->height, (long long)im->width);
	*d = H5Dopen2(im->h.file, "lung_mask", H5P_DEFAULT);
	hid_t ty = *d >= 0 ? H5Dget_type(*d) : H5I_INVALID_HID;
	int good = ty >= 0 && H5Tget_class(ty) == H5T_INTEGER && H5Tget_size(ty) == 1;
	if (ty >= 0)
		H5Tclose(ty);
	if (!good)
		return ct_error("'%s': dataset 'lung_mask' is not uint8", path);
	return 0;
}

/* Row `row` of an open /lung_mask into mk (1 x H x W x 1). */
static int read_mask(hid_t d, int64_t row, ct_tensor *mk, const char *path)
{
	hid_t sp = H5Dget_space(d);
	int nd = sp >= 0 && H5Sget_simple_extent_ndims(sp) == 3 ? 3 : 4;
	if (sp >= 0)
		H5Sclose(sp);
	ct_tensor v = *mk;
	v.ndim = nd;
	if (ct_h5_read_rows(d, row, &v) < 0)
		return ct_error_prefix("'%s': lung_mask", path);
	return 0;
}

/* ---- the debug dump ---- */

typedef struct dump {
	ct_h5 h;
	hid_t d[9];
	int open;
} dump;

enum { D_ROW, D_P, D_SCORE, D_FEAT, D_GPOOL, D_ACT, D_CUT, D_HEAT, D_BHEAT };

static int dump_open(dump *x, const ct_explain_opts *o, const ct_explainer *e, int64_t n, int64_t H, int64_t W,
		     char *const *names, char **prov, int64_t nprov)
{
	memset(x, 0, sizeof *x);
	if (ct_h5_create(&x->h, o->dump_path, o->force) < 0)
		return -1;
	x->open = 1;
	int64_t d = e->head->d_in, nb = e->head->nblocks;
	if (ct_file_stamp(x->h.file, "gradcam-dump", o->run, prov, nprov) < 0 ||
	    ct_h5_write_strings(x->h.file, "names", names, n) < 0)
		return -1;
	struct {
		const char *name;
		ct_dtype t;
		int nd;
		int64_t s[4];
	} spec[9] = {
		{ "rows", CT_I64, 1, { n } },
		{ "p", CT_F64, 1, { n } },
		{ "score", CT_F64, 1, { n } },
		{ "features", CT_F32, 2, { n, d } },
		{ "gpooled", CT_F64, 2, { n, d } },
		{ "act", CT_F32, 2, { n, ct_explainer_act_size(e) } },
		{ "cut", CT_F32, 2, { n, ct_explainer_cut_size(e) } },
		{ "heat", CT_F32, 3, { n, H, W } },
		{ "block_heat", CT_F32, 4, { n, nb, H, W } },
	};
	for (int i = 0; i < 9; i++)
		if ((x->d[i] = ct_h5_create_dataset(x->h.file, spec[i].name, spec[i].t, spec[i].nd, spec[i].s, 1, 0)) < 0)
			return -1;
	/* the blocks' cut shapes, to cut act and cut apart */
	int32_t *shp = malloc(((size_t)nb * 3 + 1) * sizeof *shp);
	if (!shp)
		return ct_error("out of memory");
	for (int b = 0; b < nb; b++) {
		shp[b * 3] = e->blk[b].h;
		shp[b * 3 + 1] = e->blk[b].w;
		shp[b * 3 + 2] = e->blk[b].c;
	}
	ct_tensor t = ct_tensor_wrap(shp, CT_I32, 2, (int64_t[]){ nb, 3 });
	int rc = ct_h5_write(x->h.file, "cut_shape", &t, 0, 0);
	free(shp);
	return rc;
}

static int dump_rows(dump *x, int64_t at, const ct_explainer *e, const ct_cam *c, const int64_t *rows, int64_t cnt)
{
	int64_t d = e->head->d_in, nb = e->head->nblocks, A = ct_explainer_act_size(e),
		Cc = ct_explainer_cut_size(e), H = c[0].H, W = c[0].W;
	for (int64_t r = 0; r < cnt; r++) {
		int64_t i = at + r;
		double p = c[r].p, s = c[r].score;
		ct_tensor t[9] = {
			ct_tensor_wrap((void *)&rows[r], CT_I64, 1, (int64_t[]){ 1 }),
			ct_tensor_wrap(&p, CT_F64, 1, (int64_t[]){ 1 }),
			ct_tensor_wrap(&s, CT_F64, 1, (int64_t[]){ 1 }),
			ct_tensor_wrap(c[r].features, CT_F32, 2, (int64_t[]){ 1, d }),
			ct_tensor_wrap(c[r].gpooled, CT_F64, 2, (int64_t[]){ 1, d }),
			ct_tensor_wrap(c[r].act, CT_F32, 2, (int64_t[]){ 1, A }),
			ct_tensor_wrap(c[r].cut, CT_F32, 2, (int64_t[]){ 1, Cc }),
			ct_tensor_wrap(c[r].heat, CT_F32, 3, (int64_t[]){ 1, H, W }),
			ct_tensor_wrap(c[r].block_heat, CT_F32, 4, (int64_t[]){ 1, nb, H, W }),
		};
		for (int k = 0; k < 9; k++)
			if (ct_h5_write_rows(x->d[k], i, &t[k]) < 0)
				return ct_error_prefix("'%s'", x->h.path);
	}
	return 0;
}

static int dump_close(dump *x, int commit)
{
	for (int i = 0; i < 9; i++)
		if (x->d[i] > 0)
			H5Dclose(x->d[i]);
	int rc = 0;
	if (x->open) {
		if (commit)
			rc = ct_h5_commit(&x->h);
		else
			ct_h5_abort(&x->h);
	}
	memset(x, 0, sizeof *x);
	return rc;
}

/* ---- the run ---- */

static const char *const group_names[] = { "TP", "FN", "FP", "TN", "unlabelled" };

int ct_explain_run(const ct_explain_opts *o, const char *dir, cJSON **doc_out)
{
	*doc_out = NULL;
	ct_head m;
	ct_images im, im2;
	ct_explainer ex;
	memset(&ex, 0, sizeof ex);
	memset(&im, 0, sizeof im);
	im.dset = H5I_INVALID_HID;
	char **prov = NULL, *mpos = NULL;
	int64_t nprov = 0;
	ct_graph **graphs = NULL;
	const char **bbs = NULL;
	int nbbs = 0, rc = 0, im_open = 0, im2_open = 0;
	hid_t mask_d = H5I_INVALID_HID, mask2_d = H5I_INVALID_HID;
	int64_t lung_fallback = 0;
	int64_t *rows = NULL;
	dump dp;
	memset(&dp, 0, sizeof dp);
	double *share = NULL, *bshare = NULL, *bmass = NULL, *prob = NULL, *score = NULL;
	int *group = NULL, *keep = NULL;
	char **pngs = NULL;
	cJSON *doc = NULL;
	ct_tensor batch = { 0 }, masks = { 0 }, batch2 = { 0 }, masks2 = { 0 };
	double *area = NULL;
	ct_cam *cams = NULL;
	int64_t n = 0;
	double thr = 0.5;

	{
		/* the model file, read once (train/modelfile.h): the head and its provenance */
		ct_model mf;
		if (ct_model_open(&mf, o->model_path) < 0)
			return -1;
		/* Grad-CAM follows one head's logit: an ensemble's mean probability has none */
		if (ct_model_single_head(&mf, "ct-explain") < 0) {
			ct_model_close(&mf);
			return -1;
		}
		m = mf.head;
		memset(&mf.head, 0, sizeof mf.head);
		prov = mf.prov;
		nprov = mf.nprov;
		mf.prov = NULL;
		mf.nprov = 0;
		ct_model_close(&mf);
	}
	ct_explain_fusion fu;
	if (ct_explain_fusion_read(prov, nprov, &fu) < 0) {
		rc = ct_error_prefix("'%s'", o->model_path);
		goto out;
	}
	/* threshold: option, metrics file, metrics.json beside the model, 0.5 */
	thr = 0.5;
	char thr_src[4096] = "default";
	char mdef[4096];
	const char *mp = o->metrics_path;
	if (!mp) {
		const char *sl = strrchr(o->model_path, '/');
		snprintf(mdef, sizeof mdef, "%.*smetrics.json", sl ? (int)(sl - o->model_path + 1) : 0, o->model_path);
		if (access(mdef, F_OK) == 0)
			mp = mdef;
	}
	if (mp) {
		double t = 0.5;
		if ((rc = read_metrics(mp, &t, &mpos)) < 0)
			goto out;
		if (!o->threshold_set) {
			thr = t;
			snprintf(thr_src, sizeof thr_src, "%s", mp);
		}
	}
	if (o->threshold_set) {
		thr = o->threshold;
		snprintf(thr_src, sizeof thr_src, "--threshold");
	}
	if (m.nclasses != 2) {
		rc = ct_error("'%s': the model has %d classes; ct-explain explains two-class models", o->model_path,
			      m.nclasses);
		goto out;
	}
	int pos = ct_positive_class(m.class_names, 2, o->positive ? o->positive : mpos);
	if (pos < 0) {
		rc = ct_error_prefix("'%s'", o->model_path);
		goto out;
	}
	if ((rc = ct_explainer_init(&ex, &m, pos, &fu)) < 0) {
		ct_error_prefix("'%s'", o->model_path);
		goto out;
	}
	ex.resize = 1;

	if ((rc = ct_images_open(&im, o->images_path)) < 0)
		goto out;
	im_open = 1;
	if (im.s.nclasses != 2 || strcmp(im.s.class_names[0], m.class_names[0]) ||
	    strcmp(im.s.class_names[1], m.class_names[1])) {
		rc = ct_error("'%s': its classes are not the model's ('%s', '%s')", o->images_path, m.class_names[0],
			      m.class_names[1]);
		goto out;
	}
	if (im.channels != 1 && im.channels != 3) {
		rc = ct_error("'%s': images have %lld channels (1 or 3 expected)", o->images_path, (long long)im.channels);
		goto out;
	}
	if ((rc = ct_preprocessing_check(prov, nprov, im.prov, im.nprov)) < 0) {
		rc = ct_error_prefix("'%s'", o->images_path);
		goto out;
	}
	if (o->also_path) {
		if ((rc = ct_images_open(&im2, o->also_path)) < 0)
			goto out;
		im2_open = 1;
		if (im2.n != im.n || (im2.channels != 1 && im2.channels != 3)) {
			rc = ct_error("'%s': %lld images, '%s' has %lld", o->also_path, (long long)im2.n, o->images_path,
				      (long long)im.n);
			goto out;
		}
		for (int64_t i = 0; i < im.n; i++)
			if (strcmp(im.s.names[i], im2.s.names[i])) {
				rc = ct_error("'%s': image %lld is '%s', expected '%s' (as in '%s')", o->also_path, (long long)i,
					      im2.s.names[i], im.s.names[i], o->images_path);
				goto out;
			}
	}
	int64_t H = im.height, W = im.width, HW = H * W;
	/* the lung field (of the images shown, and of the --also ones: a lung-pooled block takes the
	 * mask of the images its backbone reads) */
	if ((rc = open_mask(&im, o->images_path, &mask_d)) < 0 || (o->also_path && (rc = open_mask(&im2, o->also_path, &mask2_d)) < 0))
		goto out;
	/* the rows */
	const char *split = o->split;
	if (!split)
		split = ct_samples_count(&im.s, "test", -2) > 0 ? "test" : "all";
	if (!(rows = malloc(((size_t)im.n + 1) * sizeof *rows))) {
		rc = ct_error("out of memory");
		goto out;
	}
	for (int64_t i = 0; i < im.n; i++)
		if (!strcmp(split, "all") || !strcmp(im.s.splits[i], split))
			rows[n++] = i;
	if (n == 0) {
		rc = ct_error("'%s': no images in split '%s'", o->images_path, split);
		goto out;
	}
	/* the backbones */
	if ((rc = ct_explainer_backbones(&ex, &bbs, &nbbs)) < 0)
		goto out;
	if (!(graphs = calloc((size_t)nbbs + 1, sizeof *graphs))) {
		rc = ct_error("out of memory");
		goto out;
	}
	for (int b = 0; b < nbbs; b++) {
		if (!(graphs[b] = ct_model_build(bbs[b]))) {
			rc = ct_error("'%s': unknown backbone '%s'", o->model_path, bbs[b]);
			goto out;
		}
		char wp[4096];
		const char *wd = o->weights_dir ? o->weights_dir : getenv("CT_WEIGHTS_DIR");
		snprintf(wp, sizeof wp, "%s/%s.h5", wd && *wd ? wd : "weights", bbs[b]);
		ct_weights w;
		if ((rc = ct_weights_load(&w, wp)) < 0)
			goto out;
		rc = ct_explainer_add(&ex, bbs[b], graphs[b], &w);
		ct_weights_free(&w);
		if (rc < 0) {
			ct_error_prefix("'%s'", wp);
			goto out;
		}
	}
	/* a model on features pooled over the lung field is explained under the same mask */
	int lung = ct_explainer_lung(&ex, im.height, im.width, o->also_path ? im2.height : 0, o->also_path ? im2.width : 0);
	if (((lung & 1) && mask_d < 0) || ((lung & 2) && mask2_d < 0)) {
		rc = ct_error("'%s' has no /lung_mask: the model's features were pooled over the lung field "
			      "(ct-features --pool lung-avg); convert the images with --lung-mask",
			      (lung & 1) && mask_d < 0 ? o->images_path : o->also_path);
		goto out;
	}
	/* per image results */
	int nb = m.nblocks;
	share = malloc(((size_t)n + 1) * sizeof *share);
	bshare = malloc(((size_t)n * nb + 1) * sizeof *bshare);
	bmass = malloc(((size_t)n * nb + 1) * sizeof *bmass);
	prob = malloc(((size_t)n + 1) * sizeof *prob);
	score = malloc(((size_t)n + 1) * sizeof *score);
	group = malloc(((size_t)n + 1) * sizeof *group);
	keep = malloc(((size_t)n + 1) * sizeof *keep);
	pngs = calloc((size_t)n + 1, sizeof *pngs);
	int B = o->batch > 0 ? o->batch : 8;
	cams = calloc((size_t)B, sizeof *cams);
	if (!share || !bshare || !bmass || !prob || !score || !group || !keep || !pngs || !cams ||
	    ct_tensor_alloc4(&batch, im.dtype, B, H, W, im.channels) < 0 ||
	    ct_tensor_alloc4(&masks, CT_U8, B, H, W, 1) < 0 ||
	    (mask2_d >= 0 && ct_tensor_alloc4(&masks2, CT_U8, B, im2.height, im2.width, 1) < 0) ||
	    (o->also_path && ct_tensor_alloc4(&batch2, im2.dtype, B, im2.height, im2.width, im2.channels) < 0) ||
	    !(area = malloc(((size_t)n + 1) * sizeof *area))) {
		rc = ct_error("out of memory");
		goto out;
	}
	for (int b = 0; b < B; b++)
		if ((rc = ct_cam_alloc(&cams[b], &ex, (int)H, (int)W, o->dump_path != NULL)) < 0)
			goto out;
	if (o->dump_path) {
		char **nm = malloc(((size_t)n + 1) * sizeof *nm);
		if (!nm) {
			rc = ct_error("out of memory");
			goto out;
		}
		for (int64_t i = 0; i < n; i++)
			nm[i] = im.s.names[rows[i]];
		rc = dump_open(&dp, o, &ex, n, H, W, nm, prov, nprov);
		free(nm);
		if (rc < 0)
			goto out;
	}
	int digits = 1;
	for (int64_t v = im.n - 1; v >= 10; v /= 10)
		digits++;
	size_t dl = strlen(dir);
	for (int64_t at = 0; at < n && rc == 0; at += B) {
		int64_t cnt = n - at < B ? n - at : B;
		int64_t rowbytes = HW * im.channels * (int64_t)ct_dtype_size(im.dtype);
		for (int64_t r = 0; r < cnt && rc == 0; r++) {
			ct_tensor one = ct_tensor_slice0(&batch, r, 1);
			rc = ct_images_read(&im, rows[at + r], &one);
			if (rc == 0 && o->also_path) {
				ct_tensor two = ct_tensor_slice0(&batch2, r, 1);
				rc = ct_images_read(&im2, rows[at + r], &two);
			}
			if (rc == 0 && mask_d >= 0) {
				ct_tensor mk = ct_tensor_slice0(&masks, r, 1);
				rc = read_mask(mask_d, rows[at + r], &mk, o->images_path);
			}
			if (rc == 0 && mask2_d >= 0) {
				ct_tensor mk = ct_tensor_slice0(&masks2, r, 1);
				rc = read_mask(mask2_d, rows[at + r], &mk, o->also_path);
			}
		}
		(void)rowbytes;
		if (rc < 0)
			break;
		ct_tensor bv = ct_tensor_slice0(&batch, 0, cnt);
		ct_tensor bv2 = o->also_path ? ct_tensor_slice0(&batch2, 0, cnt) : bv;
		ct_tensor mv = ct_tensor_slice0(&masks, 0, cnt), mv2 = ct_tensor_slice0(mask2_d >= 0 ? &masks2 : &masks, 0, cnt);
		if ((rc = ct_explain_batch(&ex, &bv, o->also_path ? &bv2 : NULL, mask_d >= 0 ? &mv : NULL,
					   mask2_d >= 0 ? &mv2 : NULL, cams)) < 0) {
			char msg[1024];
			snprintf(msg, sizeof msg, "%s", ct_last_error());
			ct_error("'%s': rows %lld..%lld: %s", o->images_path, (long long)rows[at], (long long)rows[at + cnt - 1],
				 msg);
			break;
		}
		if (o->dump_path && (rc = dump_rows(&dp, at, &ex, cams, rows + at, cnt)) < 0)
			break;
		for (int64_t r = 0; r < cnt && rc == 0; r++) {
			int64_t i = at + r, row = rows[i];
			const ct_cam *c = &cams[r];
			const uint8_t *mk = mask_d >= 0 ? (const uint8_t *)masks.data + r * HW : NULL;
			prob[i] = c->p;
			score[i] = c->score;
			lung_fallback += c->lung_fallback > 0;
			share[i] = mk ? ct_heat_share(c->heat, mk, HW) : NAN;
			area[i] = NAN;
			if (mk) {
				int64_t on = 0;
				for (int64_t q = 0; q < HW; q++)
					on += mk[q] != 0;
				area[i] = (double)on / (double)HW;
			}
			for (int b = 0; b < nb; b++) {
				bshare[i * nb + b] = mk ? ct_heat_share(c->block_heat + (size_t)b * HW, mk, HW) : NAN;
				bmass[i * nb + b] = c->block_mass[b];
			}
			int lab = im.s.labels[row], pred = c->p >= thr;
			group[i] = lab < 0 ? 4 : (lab == pos) ? (pred ? 0 : 1) : (pred ? 2 : 3);
			char fname[256];
			png_name(fname, sizeof fname, row, digits, im.s.names[row]);
			if (!(pngs[i] = strdup(fname))) {
				rc = ct_error("out of memory");
				break;
			}
			ct_tensor img = ct_tensor_slice0(&batch, r, 1), ov;
			img.ndim = 3;
			for (int k = 0; k < 3; k++) {
				img.shape[k] = img.shape[k + 1];
				img.stride[k] = img.stride[k + 1];
			}
			if ((rc = ct_overlay(&img, c->heat, mk, &ov)) < 0)
				break;
			char *path = malloc(dl + strlen(fname) + 2);
			if (!path) {
				ct_tensor_free(&ov);
				rc = ct_error("out of memory");
				break;
			}
			sprintf(path, "%s/%s", dir, fname);
			rc = ct_image_write_png(path, &ov);
			free(path);
			ct_tensor_free(&ov);
		}
	}
	if (rc < 0)
		goto out;

	/* the document */
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "tool", "ct-explain");
	cJSON_AddStringToObject(doc, "version", CT_VERSION);
	cJSON *jm = cJSON_AddObjectToObject(doc, "model");
	cJSON_AddStringToObject(jm, "path", o->model_path);
	cJSON_AddStringToObject(jm, "head", ct_head_kind_name(m.kind));
	cJSON *jb = cJSON_AddArrayToObject(jm, "blocks");
	for (int b = 0; b < nb; b++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", m.blocks[b].name);
		cJSON_AddStringToObject(e, "backbone", m.blocks[b].backbone);
		cJSON_AddStringToObject(e, "layer", m.blocks[b].layer);
		cJSON_AddStringToObject(e, "pool", m.blocks[b].pool);
		int cut[3] = { ex.blk[b].h, ex.blk[b].w, ex.blk[b].c };
		cJSON_AddItemToObject(e, "cut", cJSON_CreateIntArray(cut, 3));
		cJSON_AddItemToArray(jb, e);
	}
	cJSON *jf = cJSON_AddObjectToObject(jm, "fusion");
	cJSON_AddBoolToObject(jf, "l2", fu.l2);
	cJSON_AddNumberToObject(jf, "weight", fu.scale);
	cJSON *ji = cJSON_AddObjectToObject(doc, "images");
	cJSON_AddStringToObject(ji, "path", o->images_path);
	if (o->also_path)
		cJSON_AddStringToObject(ji, "also", o->also_path);
	cJSON_AddNumberToObject(ji, "height", (double)H);
	cJSON_AddNumberToObject(ji, "width", (double)W);
	cJSON_AddBoolToObject(ji, "lung_mask", mask_d >= 0);
	cJSON *jp = cJSON_AddObjectToObject(doc, "lung_pool");
	cJSON_AddBoolToObject(jp, "used", lung != 0);
	cJSON_AddNumberToObject(jp, "fallback", (double)lung_fallback);
	cJSON_AddStringToObject(doc, "split", split);
	cJSON_AddStringToObject(doc, "positive_class", m.class_names[pos]);
	cJSON_AddStringToObject(doc, "score", "log-odds of the positive class");
	cJSON_AddStringToObject(doc, "combine", "mean over blocks of the upsampled block maps, each normalised to sum 1");
	cJSON *jt = cJSON_AddObjectToObject(doc, "threshold");
	cJSON_AddNumberToObject(jt, "value", thr);
	cJSON_AddStringToObject(jt, "source", thr_src);
	cJSON *jc = cJSON_AddObjectToObject(doc, "counts");
	cJSON_AddNumberToObject(jc, "images", (double)n);
	for (int g = 0; g < 5; g++) {
		int64_t k = 0;
		for (int64_t i = 0; i < n; i++)
			k += group[i] == g;
		cJSON_AddNumberToObject(jc, group_names[g], (double)k);
	}
	cJSON *jl = cJSON_AddObjectToObject(doc, "lung_share");
	cJSON_AddBoolToObject(jl, "available", mask_d >= 0);
	if (mask_d >= 0) {
		int64_t k = 0;
		double med = median_of(share, NULL, n, &k);
		cJSON_AddItemToObject(jl, "median", num_or_null(med));
		cJSON_AddNumberToObject(jl, "images", (double)k);
		cJSON_AddNumberToObject(jl, "no_heat", (double)(n - k));
		/* the share heat spread evenly over the image would have */
		cJSON_AddItemToObject(jl, "median_lung_area", num_or_null(median_of(area, NULL, n, NULL)));
		cJSON *bg = cJSON_AddObjectToObject(jl, "median_by_group");
		for (int g = 0; g < 5; g++) {
			int64_t c = 0;
			for (int64_t i = 0; i < n; i++)
				c += (keep[i] = group[i] == g);
			if (c)
				cJSON_AddItemToObject(bg, group_names[g], num_or_null(median_of(share, keep, n, NULL)));
		}
		cJSON *bs = cJSON_AddObjectToObject(jl, "median_by_split");
		cJSON *bsn = cJSON_AddObjectToObject(jl, "images_by_split");
		static const char *const sp[] = { "train", "val", "test", "" };
		for (int s = 0; s < 4; s++) {
			int64_t c = 0;
			for (int64_t i = 0; i < n; i++)
				c += (keep[i] = !strcmp(im.s.splits[rows[i]], sp[s]));
			if (c) {
				const char *key = sp[s][0] ? sp[s] : "none";
				cJSON_AddItemToObject(bs, key, num_or_null(median_of(share, keep, n, NULL)));
				cJSON_AddNumberToObject(bsn, key, (double)c);
			}
		}
		cJSON *bb = cJSON_AddObjectToObject(jl, "median_by_block");
		double *col = malloc(((size_t)n + 1) * sizeof *col);
		for (int b = 0; col && b < nb; b++) {
			for (int64_t i = 0; i < n; i++)
				col[i] = bshare[i * nb + b];
			cJSON_AddItemToObject(bb, m.blocks[b].name, num_or_null(median_of(col, NULL, n, NULL)));
		}
		free(col);
	}
	cJSON *js = cJSON_AddArrayToObject(doc, "samples");
	for (int64_t i = 0; i < n; i++) {
		int64_t row = rows[i];
		cJSON *e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "row", (double)row);
		cJSON_AddStringToObject(e, "name", im.s.names[row]);
		cJSON_AddStringToObject(e, "split", im.s.splits[row]);
		if (im.s.labels[row] >= 0)
			cJSON_AddStringToObject(e, "label", im.s.class_names[im.s.labels[row]]);
		else
			cJSON_AddNullToObject(e, "label");
		cJSON_AddNumberToObject(e, "p", prob[i]);
		cJSON_AddNumberToObject(e, "score", score[i]);
		cJSON_AddStringToObject(e, "predicted", m.class_names[prob[i] >= thr ? pos : 1 - pos]);
		cJSON_AddStringToObject(e, "group", group_names[group[i]]);
		cJSON_AddStringToObject(e, "png", pngs[i]);
		cJSON_AddItemToObject(e, "lung_share", num_or_null(share[i]));
		cJSON_AddItemToObject(e, "lung_area", num_or_null(area[i]));
		cJSON *a = cJSON_AddArrayToObject(e, "block_lung_share"), *ms = cJSON_AddArrayToObject(e, "block_heat_mass");
		for (int b = 0; b < nb; b++) {
			cJSON_AddItemToArray(a, num_or_null(bshare[i * nb + b]));
			cJSON_AddItemToArray(ms, cJSON_CreateNumber(bmass[i * nb + b]));
		}
		cJSON_AddItemToArray(js, e);
	}
	/* explain.json and gallery.html */
	{
		char *text = cJSON_Print(doc);
		char *path = malloc(dl + 32);
		if (!text || !path) {
			free(text);
			free(path);
			rc = ct_error("out of memory");
			goto out;
		}
		sprintf(path, "%s/explain.json", dir);
		size_t tl = strlen(text);
		text[tl] = '\n';
		rc = ct_write_file_atomic(path, text, tl + 1);
		free(text);
		if (rc == 0) {
			sprintf(path, "%s/gallery.html", dir);
			ct_outfile of;
			if ((rc = ct_outfile_create(&of, path, 1)) == 0) {
				if ((rc = ct_gallery_write(of.f, doc, dir, o->max_per_group)) < 0)
					ct_outfile_abort(&of);
				else
					rc = ct_outfile_commit(&of);
			}
		}
		free(path);
	}
	if (rc == 0 && o->dump_path)
		rc = dump_close(&dp, 1);
out:
	dump_close(&dp, 0);
	if (rc < 0) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	*doc_out = doc;
	if (cams)
		for (int b = 0; b < (o->batch > 0 ? o->batch : 8); b++)
			ct_cam_free(&cams[b]);
	free(cams);
	ct_tensor_free(&batch);
	ct_tensor_free(&masks);
	ct_tensor_free(&masks2);
	ct_tensor_free(&batch2);
	free(area);
	if (im2_open)
		ct_images_close(&im2);
	if (pngs)
		for (int64_t i = 0; i < n; i++)
			free(pngs[i]);
	free(pngs);
	free(share);
	free(bshare);
	free(bmass);
	free(prob);
	free(score);
	free(group);
	free(keep);
	free(rows);
	if (mask_d >= 0)
		H5Dclose(mask_d);
	if (mask2_d >= 0)
		H5Dclose(mask2_d);
	ct_explainer_free(&ex);
	if (graphs)
		for (int b = 0; b < nbbs; b++)
			ct_graph_free(graphs[b]);
	free(graphs);
	free(bbs);
	if (im_open)
		ct_images_close(&im);
	if (prov)
		ct_strings_free(prov, nprov);
	free(mpos);
	ct_head_free(&m);
	return rc;
}
