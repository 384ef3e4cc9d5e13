/* ft_apply.c - the stored fine-tuned layers of a model file applied to cut activations or to
 * plain images, and merged into the backbone's weights (ft_apply.h). */
#include "train/ft_apply.h"
#include "core/error.h"
#include "core/str.h"
#include "data/activations.h"
#include "data/preprocessing.h"
#include "formats/keras_h5.h"
#include "models/models.h"
#include "nn/backward.h"
#include "nn/net.h"
#include "nn/weights_path.h"
#include "train/finetune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ct_ft_present(hid_t model_file)
{
	return ct_h5_exists(model_file, "finetune") > 0;
}

void ct_ft_part_free(ct_ft_part *p)
{
	free(p->backbone), free(p->cut), free(p->output), free(p->base_sha256);
	ct_weights_free(&p->w);
	memset(p, 0, sizeof *p);
}

void ct_ft_parts_free(ct_ft_part *parts, int n)
{
	for (int i = 0; parts && i < n; i++)
		ct_ft_part_free(&parts[i]);
	free(parts);
}

/* Source i of /finetune (open as g). */
static int part_read(hid_t g, int i, const char *model_path, ct_ft_part *p)
{
	char name[16];
	snprintf(name, sizeof name, "%d", i);
	hid_t sg = ct_h5_exists(g, name) > 0 ? H5Gopen2(g, name, H5P_DEFAULT) : H5I_INVALID_HID;
	int rc = 0;
	if (sg < 0 || ct_h5_get_str(sg, "backbone", &p->backbone) < 0 || ct_h5_get_str(sg, "cut_layer", &p->cut) < 0 ||
	    ct_h5_get_str(sg, "output_layer", &p->output) < 0 ||
	    ct_h5_get_str(sg, "base_weights_sha256", &p->base_sha256) < 0 || ct_weights_read(sg, &p->w) < 0)
		rc = sg < 0 ? ct_error("'%s': no /finetune/%d", model_path, i)
			    : ct_error_prefix("'%s': bad /finetune/%d", model_path, i);
	if (sg >= 0)
		H5Gclose(sg);
	return rc;
}

int ct_ft_parts_read(hid_t model_file, const char *model_path, ct_ft_part **parts, int *n)
{
	*parts = NULL;
	*n = 0;
	if (!ct_ft_present(model_file))
		return 0;
	int64_t nsrc = 0;
	hid_t g = H5Gopen2(model_file, "finetune", H5P_DEFAULT);
	if (g < 0 || ct_h5_get_int(g, "sources", &nsrc) < 0 || nsrc < 1 || nsrc > 64) {
		if (g >= 0)
			H5Gclose(g);
		return ct_error("'%s': bad /finetune group", model_path);
	}
	ct_ft_part *v = calloc((size_t)nsrc, sizeof *v);
	int rc = v ? 1 : ct_error("out of memory");
	for (int i = 0; rc == 1 && i < (int)nsrc; i++)
		if (part_read(g, i, model_path, &v[i]) < 0)
			rc = -1;
	H5Gclose(g);
	if (rc < 0) {
		ct_ft_parts_free(v, (int)nsrc);
		return -1;
	}
	*parts = v;
	*n = (int)nsrc;
	return 1;
}

int ct_ft_part_read(hid_t model_file, const char *model_path, ct_ft_part *p)
{
	memset(p, 0, sizeof *p);
	ct_ft_part *v;
	int n, rc = ct_ft_parts_read(model_file, model_path, &v, &n);
	if (rc <= 0)
		return rc;
	if (n != 1) {
		ct_ft_parts_free(v, n);
		return ct_error("'%s' fine-tunes %d backbones; this takes a model of one", model_path, n);
	}
	*p = v[0];
	free(v);
	return 1;
}

int ct_ft_base_weights(const ct_ft_part *p, const char *model_path, const char *weights_path, ct_weights *w)
{
	char buf[4096];
	memset(w, 0, sizeof *w);
	if (!weights_path) {
		if (ct_weights_locate(p->backbone, buf, sizeof buf) < 0)
			return -1;
		weights_path = buf;
	}
	if (ct_weights_load(w, weights_path) < 0)
		return -1;
	if (strcmp(w->sha256, p->base_sha256)) {
		ct_error("'%s' has sha256 %.12s..., but model '%s' was fine-tuned from %s weights %.12s... (give "
			 "those with --weights)",
			 weights_path, w->sha256, model_path, p->backbone, p->base_sha256);
		ct_weights_free(w);
		return -1;
	}
	return 0;
}

int ct_ft_merge(const ct_ft_part *p, ct_weights *w)
{
	for (int i = 0; i < p->w.nlayers; i++) {
		const ct_wlayer *fl = &p->w.layers[i], *bl = ct_weights_find(w, fl->name);
		if (!bl || bl->n != fl->n)
			return ct_error("the %s weights have no layer '%s' of %d tensors to merge the fine-tuned one into",
					p->backbone, fl->name, fl->n);
		for (int j = 0; j < fl->n; j++) {
			char sn[64];
			ct_weight_short_name(fl->w[j].name, sn, sizeof sn);
			const ct_wtensor *bt = ct_wlayer_get(bl, sn);
			if (!bt || ct_tensor_numel(&bt->t) != ct_tensor_numel(&fl->w[j].t) || bt->t.dtype != fl->w[j].t.dtype)
				return ct_error("layer '%s': the fine-tuned tensor '%s' does not fit the %s weights", fl->name,
						fl->w[j].name, p->backbone);
			memcpy(bt->t.data, fl->w[j].t.data, ct_tensor_nbytes(&bt->t));
		}
	}
	return 0;
}

/* Choose the source of parts (n of them) for ct_ft_merged_weights: 0-based index or -1. */
static int choose_source(const ct_ft_part *parts, int n, int source, const char *backbone, const char *model_path)
{
	char list[1024] = "";
	size_t k = 0;
	int found = -1, nfound = 0;
	for (int i = 0; i < n; i++) {
		if (backbone && !strcmp(parts[i].backbone, backbone))
			found = i, nfound++;
		if (k < sizeof list)
			k += (size_t)snprintf(list + k, sizeof list - k, "%s%d: %s %s -> %s", i ? ", " : "", i + 1,
					      parts[i].backbone, parts[i].cut, parts[i].output);
	}
	if (source > 0) {
		if (source > n)
			return ct_error_usage("'%s' fine-tunes %d backbone%s (%s): no source %d", model_path, n,
					      n > 1 ? "s" : "", list, source);
		if (backbone && strcmp(parts[source - 1].backbone, backbone))
			return ct_error_usage("source %d of '%s' fine-tunes %s, not --backbone %s (%s)", source, model_path,
					      parts[source - 1].backbone, backbone, list);
		return source - 1;
	}
	if (backbone) {
		if (nfound == 1)
			return found;
		return nfound ? ct_error_usage("'%s' fine-tunes %s %d times (%s): choose one with --source K", model_path,
					       backbone, nfound, list)
			      : n == 1 ? ct_error_usage("'%s' fine-tunes %s, not --backbone %s", model_path, parts[0].backbone,
							  backbone)
				       : ct_error_usage("'%s' fine-tunes no %s (%s)", model_path, backbone, list);
	}
	if (n == 1)
		return 0;
	return ct_error_usage("'%s' fine-tunes %d backbones (%s): choose one with --source K or --backbone NAME", model_path,
			      n, list);
}

int ct_ft_merged_weights(const char *model_path, const char *weights_path, int *source, int *nsources,
			 const char *backbone, ct_ft_part *p, ct_weights *w, char model_sha256[65])
{
	memset(w, 0, sizeof *w);
	memset(p, 0, sizeof *p);
	ct_h5 h;
	if (ct_h5_open(&h, model_path) < 0)
		return -1;
	ct_ft_part *parts = NULL;
	int n = 0;
	int rc = ct_file_check(h.file, "model") < 0 ? ct_error_prefix("'%s'", model_path)
						    : ct_ft_parts_read(h.file, model_path, &parts, &n);
	ct_h5_close(&h);
	if (rc == 0)
		rc = ct_error("'%s' has no fine-tuned layers (a model of ct-finetune --finetune has)", model_path);
	int k = rc < 0 ? -1 : choose_source(parts, n, *source, backbone, model_path);
	if (k >= 0) {
		*p = parts[k];
		memset(&parts[k], 0, sizeof parts[k]);
		*source = k + 1;
		*nsources = n;
	}
	ct_ft_parts_free(parts, n);
	if (k < 0 || ct_h5_sha256(model_path, model_sha256) < 0 || ct_ft_base_weights(p, model_path, weights_path, w) < 0 ||
	    ct_ft_merge(p, w) < 0) {
		ct_ft_part_free(p);
		ct_weights_free(w);
		return -1;
	}
	return 0;
}

/* ---- features of one source ---- */

/* Replace f's matrix and blocks by the features of the n sources side by side (rows x sum d),
 * one block "BACKBONE/OUTPUT/avg" per source with consecutive starts, as ct-finetune --finetune
 * lays them out for the head (lib/train/ft_run.c). */
static int set_features(ct_features *f, const ct_ft_part *parts, int n, float *const *x, const int64_t *d,
			char (*sha)[65], int64_t rows)
{
	int64_t D = 0;
	for (int s = 0; s < n; s++)
		D += d[s];
	ct_tensor t = { 0 };
	ct_fblock *b = calloc((size_t)n, sizeof *b);
	if (!b || ct_tensor_alloc(&t, CT_F32, 2, (int64_t[2]){ rows, D }) < 0) {
		free(b);
		return ct_error("out of memory");
	}
	int64_t start = 0;
	int rc = 0;
	for (int s = 0; s < n; s++) {
		for (int64_t i = 0; i < rows; i++)
			memcpy((float *)t.data + i * D + start, x[s] + i * d[s], (size_t)d[s] * sizeof(float));
		char bname[256];
		snprintf(bname, sizeof bname, "%s/%s/avg", parts[s].backbone, parts[s].output);
		b[s].name = strdup(bname);
		b[s].backbone = strdup(parts[s].backbone);
		b[s].layer = strdup(parts[s].output);
		b[s].pool = strdup("avg");
		b[s].weights_sha256 = strdup(sha[s]);
		b[s].start = start;
		b[s].width = d[s];
		start += d[s];
		if (!b[s].name || !b[s].backbone || !b[s].layer || !b[s].pool || !b[s].weights_sha256)
			rc = ct_error("out of memory");
	}
	if (rc < 0) {
		ct_fblocks_free(b, n);
		ct_tensor_free(&t);
		return -1;
	}
	ct_fblocks_free(f->blocks, f->nblocks);
	f->blocks = b;
	f->nblocks = n;
	ct_tensor_free(&f->x);
	f->x = t;
	return 0;
}

/* Open the cut activations of path for source p (a = { 0 } before; ct_actfile_close after). */
static int open_cut(const ct_ft_part *p, const char *model_path, const char *path, ct_actfile *a)
{
	if (ct_actfile_open(a, path) == 0)
		return 0;
	return ct_error("model '%s' fine-tuned the layers above '%s' of %s: score a file from "
			"ct-features --backbone %s --cut %s, or the images file itself ('%s' has no cut activations)",
			model_path, p->cut, p->backbone, p->backbone, p->cut, path);
}

/* Whether the cut file path (a) is cut where source i of n is. */
static int check_cut(const ct_ft_part *p, int i, int n, const char *model_path, const ct_actfile *a, const char *path)
{
	if (!strcmp(a->cut, p->cut) && !strcmp(a->backbone, p->backbone))
		return 0;
	if (n == 1)
		return ct_error("'%s' is cut at %s/%s, the model at %s/%s", path, a->backbone, a->cut, p->backbone, p->cut);
	return ct_error("'%s' is cut at %s/%s, but source %d of %d of model '%s' is cut at %s/%s (give one input per "
			"source, in the model's order)",
			path, a->backbone, a->cut, i + 1, n, model_path, p->backbone, p->cut);
}

int ct_ft_part_cut_features(const ct_ft_part *p, const char *model_path, ct_actfile *a, const char *cut_path,
			    float **out, int64_t *dout)
{
	*out = NULL;
	*dout = 0;
	if (check_cut(p, 0, 1, model_path, a, cut_path) < 0)
		return -1;
	int rc = 0;
	ct_graph *gr = NULL;
	ct_subnet *sn = NULL;
	float *x = NULL, *feats = NULL;
	if (!(gr = ct_model_build(p->backbone)) || !(sn = ct_subnet_new(gr, &p->w, p->cut, p->output, CT_POOL_AVG))) {
		rc = ct_error_prefix("'%s'", model_path);
		goto out;
	}
	const ct_node *cn = &gr->nodes[ct_graph_find(gr, p->cut)];
	int64_t per = (int64_t)a->height * a->width * a->channels, d = ct_subnet_out_size(sn), B = 16;
	if (per != (int64_t)cn->h * cn->w * cn->c) {
		rc = ct_error("'%s': activation maps do not match layer '%s'", cut_path, p->cut);
		goto out;
	}
	x = malloc((size_t)(B * per) * sizeof *x);
	feats = malloc(((size_t)a->n * (size_t)d + 1) * sizeof *feats);
	if (!x || !feats) {
		rc = ct_error("out of memory");
		goto out;
	}
	for (int64_t i0 = 0; i0 < a->n && rc == 0; i0 += B) {
		int64_t m = a->n - i0 < B ? a->n - i0 : B;
		if (ct_actfile_read(a, i0, m, x) < 0 || ct_subnet_forward(sn, x, (int)m, feats + i0 * d) < 0)
			rc = ct_error_prefix("'%s'", cut_path);
	}
	if (rc == 0) {
		*out = feats;
		feats = NULL;
		*dout = d;
	}
out:
	free(feats);
	free(x);
	ct_subnet_free(sn);
	ct_graph_free(gr);
	return rc;
}

int ct_ft_apply(const char *model_path, const char *features_path, ct_features *f)
{
	ct_h5 h;
	if (ct_h5_open(&h, model_path) < 0)
		return -1;
	int rc = ct_ft_apply_file(h.file, model_path, features_path, f);
	ct_h5_close(&h);
	return rc;
}

int ct_ft_apply_file(hid_t model_file, const char *model_path, const char *features_path, ct_features *f)
{
	ct_ft_part *parts;
	int np, rc = ct_ft_parts_read(model_file, model_path, &parts, &np);
	if (rc <= 0)
		return rc;
	rc = 0;
	ct_actfile a = { 0 };
	float *x = NULL;
	int64_t d = 0;
	if (np != 1)
		rc = ct_error("'%s' fine-tunes %d backbones: give one input per backbone", model_path, np);
	else if (open_cut(&parts[0], model_path, features_path, &a) < 0 ||
		 check_cut(&parts[0], 0, 1, model_path, &a, features_path) < 0)
		rc = -1;
	else if (a.n != f->s.n)
		rc = ct_error("'%s' has %lld activation maps for %lld samples", features_path, (long long)a.n,
			      (long long)f->s.n);
	else if (ct_ft_part_cut_features(&parts[0], model_path, &a, features_path, &x, &d) < 0)
		rc = -1;
	if (rc == 0) {
		char sha[1][65];
		snprintf(sha[0], sizeof sha[0], "%s", a.weights_sha256);
		rc = set_features(f, parts, 1, &x, &d, sha, f->s.n);
	}
	free(x);
	ct_actfile_close(&a);
	ct_ft_parts_free(parts, np);
	return rc;
}

/* Row r of a batch read from the images file as the backbone's uint8 H x W x 3 input, exactly
 * as ct-features prepares it (lib/data/extract.c, images of the backbone's size): uint8 RGB
 * as is; grey replicated to 3 channels and float pixels in [0, 1] quantised to 0..255. */
static int prepare(const ct_images *in, const ct_tensor *rows, int64_t r, uint8_t *dst)
{
	int64_t npx = in->height * in->width, C = in->channels;
	if (in->dtype == CT_U8 && C == 3) {
		memcpy(dst, (const uint8_t *)rows->data + r * npx * 3, (size_t)npx * 3);
		return 0;
	}
	for (int64_t i = 0; i < npx; i++)
		for (int c = 0; c < 3; c++) {
			int64_t k = r * npx * C + i * C + (C == 3 ? c : 0);
			float f;
			if (in->dtype == CT_U8) {
				f = ((const uint8_t *)rows->data)[k] / 255.0f;
			} else {
				f = ((const float *)rows->data)[k];
				if (!isfinite(f))
					return -1;
			}
			float v = f * 255.0f + 0.5f;
			dst[i * 3 + c] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
		}
	return 0;
}

int ct_ft_part_images_features(const ct_ft_part *p, const char *model_path, ct_images *im, const char *images_path,
			       const char *weights_path, int batch, float **out, int64_t *dout, char base_sha[65])
{
	*out = NULL;
	*dout = 0;
	base_sha[0] = '\0';
	int rc = 0, B = batch > 0 ? batch : 16;
	ct_graph *g = NULL;
	ct_net *net = NULL;
	ct_subnet *sn = NULL;
	ct_weights base = { 0 };
	ct_tensor rows = { 0 }, bt = { 0 };
	float *cutx = NULL, *feats = NULL;
	if (!(g = ct_model_build(p->backbone))) {
		rc = ct_error_prefix("'%s'", model_path);
		goto out;
	}
	if (im->channels != 1 && im->channels != 3) {
		rc = ct_error("'%s': images have %lld channels, the backbone needs 3 (or 1, replicated)", images_path,
			      (long long)im->channels);
		goto out;
	}
	if (im->height != g->in_h || im->width != g->in_w) {
		rc = ct_error("'%s': images are %lldx%lld but the fine-tuned %s expects %dx%d; convert them with --size %d",
			      images_path, (long long)im->width, (long long)im->height, p->backbone, g->in_w, g->in_h,
			      g->in_w);
		goto out;
	}
	if (ct_ft_base_weights(p, model_path, weights_path, &base) < 0) {
		rc = -1;
		goto out;
	}
	snprintf(base_sha, 65, "%s", base.sha256);
	net = ct_net_new(g, &base, p->cut, CT_POOL_NONE);
	ct_weights_free(&base);
	if (!net || !(sn = ct_subnet_new(g, &p->w, p->cut, p->output, CT_POOL_AVG))) {
		rc = ct_error_prefix("'%s'", model_path);
		goto out;
	}
	int sh, sw, sc;
	ct_subnet_in_shape(sn, &sh, &sw, &sc);
	int64_t per = (int64_t)sh * sw * sc, d = ct_subnet_out_size(sn), n = im->n;
	if (ct_tensor_alloc4(&rows, im->dtype, B, im->height, im->width, im->channels) < 0 ||
	    ct_tensor_alloc4(&bt, CT_U8, B, g->in_h, g->in_w, 3) < 0 ||
	    !(cutx = malloc((size_t)B * (size_t)per * sizeof *cutx)) ||
	    !(feats = malloc(((size_t)n * (size_t)d + 1) * sizeof *feats))) {
		rc = ct_error("out of memory");
		goto out;
	}
	for (int64_t b = 0; rc == 0 && b < n; b += B) {
		int64_t cnt = n - b < B ? n - b : B;
		ct_tensor rv = ct_tensor_slice0(&rows, 0, cnt);
		if (ct_images_read(im, b, &rv) < 0) {
			rc = -1;
			break;
		}
		for (int64_t r = 0; r < cnt; r++)
			if (prepare(im, &rv, r, (uint8_t *)bt.data + r * (int64_t)g->in_h * g->in_w * 3) < 0) {
				rc = ct_error("'%s': sample '%s' has NaN or Inf pixel values", images_path, im->s.names[b + r]);
				goto out;
			}
		ct_tensor bv = ct_tensor_slice0(&bt, 0, cnt), v;
		if (ct_net_run(net, &bv) < 0 || ct_net_output(net, 0, &v) < 0) {
			rc = ct_error_prefix("'%s': rows %lld..%lld", images_path, (long long)b, (long long)(b + cnt));
			break;
		}
		if (ct_tensor_numel(&v) != cnt * per) {
			rc = ct_error("internal: the cut '%s' gives %lld values per image, expected %lld", p->cut,
				      (long long)(ct_tensor_numel(&v) / cnt), (long long)per);
			break;
		}
		for (int64_t r = 0; r < cnt; r++)
			memcpy(cutx + r * per, (const char *)v.data + r * v.stride[0], (size_t)per * sizeof *cutx);
		if (ct_subnet_forward(sn, cutx, (int)cnt, feats + b * d) < 0) {
			rc = ct_error_prefix("'%s'", model_path);
			break;
		}
		for (int64_t r = 0; r < cnt && rc == 0; r++)
			for (int64_t j = 0; j < d; j++)
				if (!isfinite(feats[(b + r) * d + j])) {
					rc = ct_error("'%s': sample '%s' gives a non-finite feature (bad weights?)", images_path,
						      im->s.names[b + r]);
					break;
				}
	}
	if (rc == 0) {
		*out = feats;
		feats = NULL;
		*dout = d;
	}
out:
	free(feats);
	free(cutx);
	ct_tensor_free(&rows);
	ct_tensor_free(&bt);
	ct_subnet_free(sn);
	ct_net_free(net);
	ct_graph_free(g);
	ct_weights_free(&base);
	return rc;
}

/* ---- every source ---- */

/* Whether an input file is an images file (ct-convert); anything else (or unreadable) goes to
 * the features reader, whose errors name the problem. */
static int input_is_images(const char *path)
{
	ct_h5 h;
	if (ct_h5_open(&h, path) < 0) {
		ct_error_clear();
		return 0;
	}
	char *kind = NULL;
	int yes = ct_h5_attr_exists(h.file, "kind") && ct_h5_get_str(h.file, "kind", &kind) == 0 && !strcmp(kind, "images");
	free(kind);
	ct_h5_close(&h);
	return yes;
}

/* Inputs a and b hold the same samples: names and labels, in the same order. */
static int same_samples(const ct_samples *a, const char *pa, const ct_samples *b, const char *pb)
{
	if (a->n != b->n)
		return ct_error("'%s' has %lld samples, '%s' %lld: give inputs made from one images file", pa,
				(long long)a->n, pb, (long long)b->n);
	for (int64_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]) || a->labels[i] != b->labels[i])
			return ct_error("'%s' and '%s' differ at sample %lld ('%s', '%s'): give inputs made from one "
					"images file",
					pa, pb, (long long)i, a->names[i], b->names[i]);
	return 0;
}

typedef struct ft_input {
	int images;           /* an images file, else a cut file */
	int im_open;
	ct_images im;
	ct_actfile a;
	ct_features cf;       /* a cut file read as a features file: its samples and provenance */
	const ct_samples *s;
	char **prov;
	int64_t nprov;
	float *x;             /* the source's features, n x d */
	int64_t d;
} ft_input;

int ct_ft_inputs_features(hid_t model_file, const char *model_path, char *const *model_prov, int64_t nmodel_prov,
			  char *const *inputs, int ninputs, const ct_ft_images_opts *o, ct_features *f)
{
	memset(f, 0, sizeof *f);
	ct_ft_part *parts;
	int np, rc = ct_ft_parts_read(model_file, model_path, &parts, &np);
	if (rc == 0)
		return ct_error("model '%s' has no fine-tuned layers: score a features file of its blocks", model_path);
	if (rc < 0)
		return -1;
	if (ninputs != np) {
		ct_ft_parts_free(parts, np);
		return ct_error_usage("model '%s' fine-tunes %d backbone%s: give %d input%s (a cut file or an images file "
				      "per source, in the model's order), not %d",
				      model_path, np, np == 1 ? "" : "s", np, np == 1 ? "" : "s", ninputs);
	}
	const char *wlist = o ? o->weights : NULL;
	int batch = o ? o->batch : 0;
	ft_input *in = calloc((size_t)np, sizeof *in);
	float **xs = calloc((size_t)np, sizeof *xs);
	int64_t *ds = calloc((size_t)np, sizeof *ds);
	char(*sha)[65] = calloc((size_t)np, sizeof *sha);
	rc = in && xs && ds && sha ? 0 : ct_error("out of memory");
	int nimages = 0;
	/* open every input and check it before any work: kind, samples, preparation, cut */
	for (int s = 0; s < np && rc == 0; s++) {
		ft_input *q = &in[s];
		const char *path = inputs[s];
		q->a.dset = H5I_INVALID_HID;
		if ((q->images = input_is_images(path))) {
			if (ct_images_open(&q->im, path) < 0) {
				rc = -1;
				break;
			}
			q->im_open = 1;
			q->s = &q->im.s;
			q->prov = q->im.prov;
			q->nprov = q->im.nprov;
			nimages++;
		} else {
			if (ct_features_read(path, &q->cf) < 0) {
				rc = -1;
				break;
			}
			q->s = &q->cf.s;
			q->prov = q->cf.prov;
			q->nprov = q->cf.nprov;
			if (open_cut(&parts[s], model_path, path, &q->a) < 0 ||
			    check_cut(&parts[s], s, np, model_path, &q->a, path) < 0) {
				rc = -1;
				break;
			}
			if (q->a.n != q->s->n) {
				rc = ct_error("'%s' has %lld activation maps for %lld samples", path, (long long)q->a.n,
					      (long long)q->s->n);
				break;
			}
		}
		if (s > 0 && same_samples(q->s, path, in[0].s, inputs[0]) < 0)
			rc = -1;
		/* the model applies to images prepared like its training images: refuse before the work */
		else if (ct_preprocessing_check(model_prov, nmodel_prov, q->prov, q->nprov) < 0)
			rc = ct_error_prefix("'%s'", path);
	}
	int nw = 0;
	char wbuf[4096];
	if (wlist)
		ct_list_item(wlist, 0, wbuf, sizeof wbuf, &nw);
	if (rc == 0 && nimages == 0 && (wlist || batch > 0))
		rc = ct_error_usage("--weights and --batch apply to a model with fine-tuned layers scoring an images file");
	else if (rc == 0 && nw > np)
		rc = ct_error_usage("--weights lists %d files, but model '%s' has %d source%s", nw, model_path, np,
				    np == 1 ? "" : "s");
	for (int s = 0; s < np && rc == 0; s++) {
		ft_input *q = &in[s];
		if (q->images) {
			const char *wp = ct_list_item(wlist, s, wbuf, sizeof wbuf, NULL) ? wbuf : NULL;
			rc = ct_ft_part_images_features(&parts[s], model_path, &q->im, inputs[s], wp, batch, &xs[s], &ds[s],
							sha[s]);
		} else {
			rc = ct_ft_part_cut_features(&parts[s], model_path, &q->a, inputs[s], &xs[s], &ds[s]);
			snprintf(sha[s], sizeof sha[s], "%s", q->a.weights_sha256);
		}
	}
	if (rc == 0) {
		/* the first input gives the samples and provenance */
		ft_input *q = &in[0];
		if (q->images) {
			f->s = q->im.s;
			memset(&q->im.s, 0, sizeof q->im.s);
			f->prov = q->im.prov;
			f->nprov = q->im.nprov;
			q->im.prov = NULL;
			q->im.nprov = 0;
		} else {
			*f = q->cf;
			memset(&q->cf, 0, sizeof q->cf);
		}
		rc = set_features(f, parts, np, xs, ds, sha, f->s.n);
		if (rc < 0)
			ct_features_free(f);
	}
	for (int s = 0; in && s < np; s++) {
		if (in[s].im_open)
			ct_images_close(&in[s].im);
		ct_actfile_close(&in[s].a);
		ct_features_free(&in[s].cf);
		free(xs ? xs[s] : NULL);
	}
	free(in);
	free(xs);
	free(ds);
	free(sha);
	ct_ft_parts_free(parts, np);
	return rc;
}

int ct_ft_images_features(hid_t model_file, const char *model_path, char *const *model_prov, int64_t nmodel_prov,
			  const char *images_path, const ct_ft_images_opts *o, ct_features *f)
{
	char *in[1] = { (char *)images_path };
	return ct_ft_inputs_features(model_file, model_path, model_prov, nmodel_prov, in, 1, o, f);
}
