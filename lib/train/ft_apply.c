/* ft_apply.c - the stored fine-tuned layers of a model file applied to cut activations or to
 * plain images, and merged into the backbone's weights (ft_apply.h). */
#include "train/ft_apply.h"
#include "core/error.h"
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

int ct_ft_part_read(hid_t model_file, const char *model_path, ct_ft_part *p)
{
	memset(p, 0, sizeof *p);
	if (!ct_ft_present(model_file))
		return 0;
	int rc = 1;
	int64_t nsrc = 0;
	hid_t g = H5Gopen2(model_file, "finetune", H5P_DEFAULT), sg = H5I_INVALID_HID;
	if (g < 0 || ct_h5_get_int(g, "sources", &nsrc) < 0) {
		rc = ct_error("'%s': bad /finetune group", model_path);
		goto out;
	}
	if (nsrc != 1) {
		rc = ct_error("'%s' fine-tunes %lld backbones; scoring takes a model of one (score each "
			      "backbone's model, or train the fused head on features)",
			      model_path, (long long)nsrc);
		goto out;
	}
	sg = H5Gopen2(g, "0", H5P_DEFAULT);
	if (sg < 0 || ct_h5_get_str(sg, "backbone", &p->backbone) < 0 || ct_h5_get_str(sg, "cut_layer", &p->cut) < 0 ||
	    ct_h5_get_str(sg, "output_layer", &p->output) < 0 ||
	    ct_h5_get_str(sg, "base_weights_sha256", &p->base_sha256) < 0 || ct_weights_read(sg, &p->w) < 0)
		rc = ct_error_prefix("'%s': bad /finetune/0", model_path);
out:
	if (sg >= 0)
		H5Gclose(sg);
	if (g >= 0)
		H5Gclose(g);
	if (rc < 0)
		ct_ft_part_free(p);
	return rc;
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

int ct_ft_merged_weights(const char *model_path, const char *weights_path, ct_ft_part *p, ct_weights *w,
			 char model_sha256[65])
{
	memset(w, 0, sizeof *w);
	memset(p, 0, sizeof *p);
	ct_h5 h;
	if (ct_h5_open(&h, model_path) < 0)
		return -1;
	int rc = ct_file_check(h.file, "model") < 0 ? ct_error_prefix("'%s'", model_path)
						    : ct_ft_part_read(h.file, model_path, p);
	ct_h5_close(&h);
	if (rc == 0)
		rc = ct_error("'%s' has no fine-tuned layers (a model of ct-finetune --finetune has)", model_path);
	if (rc < 0 || ct_h5_sha256(model_path, model_sha256) < 0 || ct_ft_base_weights(p, model_path, weights_path, w) < 0 ||
	    ct_ft_merge(p, w) < 0) {
		ct_ft_part_free(p);
		ct_weights_free(w);
		return -1;
	}
	return 0;
}

/* The features block the stored layers give (named like ct-features'). */
static int set_block(ct_features *f, const ct_ft_part *p, const char *weights_sha256, int64_t d)
{
	ct_fblocks_free(f->blocks, f->nblocks);
	f->nblocks = 0;
	if (!(f->blocks = calloc(1, sizeof *f->blocks)))
		return ct_error("out of memory");
	f->nblocks = 1;
	char bname[256];
	snprintf(bname, sizeof bname, "%s/%s/avg", p->backbone, p->output);
	ct_fblock *b = f->blocks;
	b->name = strdup(bname);
	b->backbone = strdup(p->backbone);
	b->layer = strdup(p->output);
	b->pool = strdup("avg");
	b->weights_sha256 = strdup(weights_sha256);
	b->start = 0;
	b->width = d;
	if (!b->name || !b->backbone || !b->layer || !b->pool || !b->weights_sha256)
		return ct_error("out of memory");
	return 0;
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
	ct_ft_part p;
	int rc = ct_ft_part_read(model_file, model_path, &p);
	if (rc <= 0)
		return rc;
	rc = 0;
	ct_graph *gr = NULL;
	ct_subnet *sn = NULL;
	ct_actfile a = { 0 };
	float *x = NULL;
	ct_tensor nx = { 0 };
	if (ct_actfile_open(&a, features_path) < 0) {
		rc = ct_error("model '%s' fine-tuned the layers above '%s' of %s: score a file from "
			      "ct-features --backbone %s --cut %s, or the images file itself ('%s' has no cut activations)",
			      model_path, p.cut, p.backbone, p.backbone, p.cut, features_path);
		goto out;
	}
	if (strcmp(a.cut, p.cut) || strcmp(a.backbone, p.backbone) || a.n != f->s.n) {
		rc = ct_error("'%s' is cut at %s/%s, the model at %s/%s", features_path, a.backbone, a.cut, p.backbone,
			      p.cut);
		goto out;
	}
	if (!(gr = ct_model_build(p.backbone)) || !(sn = ct_subnet_new(gr, &p.w, p.cut, p.output, CT_POOL_AVG))) {
		rc = ct_error_prefix("'%s'", model_path);
		goto out;
	}
	const ct_node *cn = &gr->nodes[ct_graph_find(gr, p.cut)];
	int64_t per = (int64_t)a.height * a.width * a.channels, d = ct_subnet_out_size(sn), B = 16;
	if (per != (int64_t)cn->h * cn->w * cn->c) {
		rc = ct_error("'%s': activation maps do not match layer '%s'", features_path, p.cut);
		goto out;
	}
	x = malloc((size_t)(B * per) * sizeof *x);
	if (!x || ct_tensor_alloc(&nx, CT_F32, 2, (int64_t[2]){ a.n, d }) < 0) {
		rc = ct_error("out of memory");
		goto out;
	}
	for (int64_t i0 = 0; i0 < a.n && rc == 0; i0 += B) {
		int64_t m = a.n - i0 < B ? a.n - i0 : B;
		if (ct_actfile_read(&a, i0, m, x) < 0 || ct_subnet_forward(sn, x, (int)m, (float *)nx.data + i0 * d) < 0)
			rc = ct_error_prefix("'%s'", features_path);
	}
	if (rc == 0 && (rc = set_block(f, &p, a.weights_sha256, d)) == 0) {
		ct_tensor_free(&f->x);
		f->x = nx;
		memset(&nx, 0, sizeof nx);
	}
out:
	ct_tensor_free(&nx);
	free(x);
	ct_actfile_close(&a);
	ct_subnet_free(sn);
	ct_graph_free(gr);
	ct_ft_part_free(&p);
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

int ct_ft_images_features(hid_t model_file, const char *model_path, char *const *model_prov, int64_t nmodel_prov,
			  const char *images_path, const ct_ft_images_opts *o, ct_features *f)
{
	memset(f, 0, sizeof *f);
	ct_ft_part p;
	int rc = ct_ft_part_read(model_file, model_path, &p);
	if (rc == 0)
		return ct_error("model '%s' has no fine-tuned layers: score a features file of its blocks", model_path);
	if (rc < 0)
		return -1;
	rc = 0;
	int B = o && o->batch > 0 ? o->batch : 16;
	ct_images im;
	memset(&im, 0, sizeof im);
	int opened = 0;
	ct_graph *g = NULL;
	ct_net *net = NULL;
	ct_subnet *sn = NULL;
	ct_weights base = { 0 };
	ct_tensor rows = { 0 }, batch = { 0 };
	float *cutx = NULL, *feats = NULL;
	char base_sha[65] = "";
	if (ct_images_open(&im, images_path) < 0) {
		rc = -1;
		goto out;
	}
	opened = 1;
	/* the model applies to images prepared like its training images: refuse before the work */
	if (ct_preprocessing_check(model_prov, nmodel_prov, im.prov, im.nprov) < 0) {
		rc = ct_error_prefix("'%s'", images_path);
		goto out;
	}
	if (!(g = ct_model_build(p.backbone))) {
		rc = ct_error_prefix("'%s'", model_path);
		goto out;
	}
	if (im.channels != 1 && im.channels != 3) {
		rc = ct_error("'%s': images have %lld channels, the backbone needs 3 (or 1, replicated)", images_path,
			      (long long)im.channels);
		goto out;
	}
	if (im.height != g->in_h || im.width != g->in_w) {
		rc = ct_error("'%s': images are %lldx%lld but the fine-tuned %s expects %dx%d; convert them with --size %d",
			      images_path, (long long)im.width, (long long)im.height, p.backbone, g->in_w, g->in_h, g->in_w);
		goto out;
	}
	if (ct_ft_base_weights(&p, model_path, o ? o->weights : NULL, &base) < 0) {
		rc = -1;
		goto out;
	}
	snprintf(base_sha, sizeof base_sha, "%s", base.sha256);
	net = ct_net_new(g, &base, p.cut, CT_POOL_NONE);
	ct_weights_free(&base);
	if (!net || !(sn = ct_subnet_new(g, &p.w, p.cut, p.output, CT_POOL_AVG))) {
		rc = ct_error_prefix("'%s'", model_path);
		goto out;
	}
	int sh, sw, sc;
	ct_subnet_in_shape(sn, &sh, &sw, &sc);
	int64_t per = (int64_t)sh * sw * sc, d = ct_subnet_out_size(sn), n = im.n;
	if (ct_tensor_alloc4(&rows, im.dtype, B, im.height, im.width, im.channels) < 0 ||
	    ct_tensor_alloc4(&batch, CT_U8, B, g->in_h, g->in_w, 3) < 0 ||
	    !(cutx = malloc((size_t)B * (size_t)per * sizeof *cutx)) ||
	    !(feats = malloc(((size_t)n * (size_t)d + 1) * sizeof *feats))) {
		rc = ct_error("out of memory");
		goto out;
	}
	for (int64_t b = 0; rc == 0 && b < n; b += B) {
		int64_t cnt = n - b < B ? n - b : B;
		ct_tensor rv = ct_tensor_slice0(&rows, 0, cnt);
		if (ct_images_read(&im, b, &rv) < 0) {
			rc = -1;
			break;
		}
		for (int64_t r = 0; r < cnt; r++)
			if (prepare(&im, &rv, r, (uint8_t *)batch.data + r * (int64_t)g->in_h * g->in_w * 3) < 0) {
				rc = ct_error("'%s': sample '%s' has NaN or Inf pixel values", images_path, im.s.names[b + r]);
				goto out;
			}
		ct_tensor bv = ct_tensor_slice0(&batch, 0, cnt), v;
		if (ct_net_run(net, &bv) < 0 || ct_net_output(net, 0, &v) < 0) {
			rc = ct_error_prefix("'%s': rows %lld..%lld", images_path, (long long)b, (long long)(b + cnt));
			break;
		}
		if (ct_tensor_numel(&v) != cnt * per) {
			rc = ct_error("internal: the cut '%s' gives %lld values per image, expected %lld", p.cut,
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
						      im.s.names[b + r]);
					break;
				}
	}
	if (rc < 0)
		goto out;
	f->x = ct_tensor_wrap(feats, CT_F32, 2, (int64_t[2]){ n, d });
	f->x.owned = 1;
	feats = NULL;
	if (set_block(f, &p, base_sha, d) < 0) {
		rc = -1;
		goto out;
	}
	f->s = im.s;
	memset(&im.s, 0, sizeof im.s);
	f->prov = im.prov;
	f->nprov = im.nprov;
	im.prov = NULL;
	im.nprov = 0;
out:
	if (rc < 0)
		ct_features_free(f);
	free(feats);
	free(cutx);
	ct_tensor_free(&rows);
	ct_tensor_free(&batch);
	ct_subnet_free(sn);
	ct_net_free(net);
	ct_graph_free(g);
	ct_weights_free(&base);
	if (opened)
		ct_images_close(&im);
	ct_ft_part_free(&p);
	return rc;
}
