/* explain.c - Grad-CAM of a model on images: backbones run with raw outputs at the cut,
 * features pooled and fused as ct-features / ct-fuse do, the head's gradient sent back. */
#include "explain/explain.h"
#include "core/error.h"
#include "data/lungpool.h"
#include "explain/gradcam.h"
#include "image/resize.h"
#include "nn/ops.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int ct_explain_fusion_read(char *const *prov, int64_t nprov, ct_explain_fusion *f)
{
	f->l2 = 0;
	f->scale = 1.0;
	int seen = 0;
	for (int64_t i = 0; i < nprov; i++) {
		cJSON *e = cJSON_Parse(prov[i]);
		const cJSON *tool = e ? cJSON_GetObjectItemCaseSensitive(e, "tool") : NULL;
		if (!cJSON_IsString(tool) || strcmp(tool->valuestring, "ct-fuse")) {
			cJSON_Delete(e);
			continue;
		}
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "params");
		int st = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "standardize"));
		int l2 = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "l2"));
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(p, "weights");
		double scale = 1.0;
		int rc = 0;
		if (cJSON_IsString(w)) {
			/* Per-input weights: only a uniform one is known per block without the inputs. */
			char *s = w->valuestring, *end;
			scale = strtod(s, &end);
			for (char *q = end; rc == 0 && *q == ','; q = end) {
				double v = strtod(q + 1, &end);
				if (end == q + 1 || v != scale)
					rc = ct_error("the model's features were fused with unequal --weights '%s', which "
						      "ct-explain cannot map to the blocks; fuse without them", s);
			}
			if (rc == 0 && !(scale > 0 && isfinite(scale)))
				rc = ct_error("bad ct-fuse --weights '%s' in the model's provenance", s);
		}
		if (rc == 0 && st)
			rc = ct_error("the model's features were fused with --standardize, whose statistics are not in "
				      "the model file; fuse without it (the head standardises itself)");
		if (rc == 0 && seen && (l2 || scale != 1.0 || f->l2 || f->scale != 1.0))
			rc = ct_error("the model's features were fused more than once with --l2 or --weights");
		cJSON_Delete(e);
		if (rc < 0)
			return rc;
		seen = 1;
		f->l2 = l2;
		f->scale = scale;
	}
	return 0;
}

int ct_explainer_init(ct_explainer *x, const ct_head *m, int positive, const ct_explain_fusion *f)
{
	memset(x, 0, sizeof *x);
	if (m->nclasses != 2)
		return ct_error("the model has %d classes; Grad-CAM explains a two-class model", m->nclasses);
	if (positive < 0 || positive > 1)
		return ct_error("bad positive class %d", positive);
	if (m->nblocks < 1)
		return ct_error("the model records no feature blocks");
	x->head = m;
	x->positive = positive;
	x->negative = 1 - positive;
	x->fusion = *f;
	x->blk = calloc((size_t)m->nblocks, sizeof *x->blk);
	x->bb = calloc((size_t)m->nblocks, sizeof *x->bb);
	if (!x->blk || !x->bb) {
		ct_explainer_free(x);
		return ct_error("out of memory");
	}
	for (int i = 0; i < m->nblocks; i++) {
		const ct_fblock *b = &m->blocks[i];
		if (!strcmp(b->backbone, "user")) {
			ct_explainer_free(x);
			return ct_error("block '%s' comes from a program of your own (backbone 'user'): no network to "
					"explain",
					b->name);
		}
		ct_explain_blk *k = &x->blk[i];
		k->bb = -1;
		k->lung = ct_pool_is_lung(b->pool);
		const char *pn = k->lung ? b->pool + 5 : b->pool;
		k->pool = !strcmp(pn, "avg") ? CT_POOL_AVG : !strcmp(pn, "max") ? CT_POOL_MAX : CT_POOL_NONE;
		if (k->pool == CT_POOL_NONE && (strcmp(pn, "none") || k->lung)) {
			ct_explainer_free(x);
			return ct_error("block '%s' has unknown pooling '%s'", b->name, b->pool);
		}
	}
	return 0;
}

int ct_explainer_backbones(const ct_explainer *x, const char ***names, int *n)
{
	const ct_head *m = x->head;
	const char **v = calloc((size_t)m->nblocks + 1, sizeof *v);
	if (!v)
		return ct_error("out of memory");
	int k = 0;
	for (int i = 0; i < m->nblocks; i++) {
		int dup = 0;
		for (int j = 0; j < k && !dup; j++)
			dup = !strcmp(v[j], m->blocks[i].backbone);
		if (!dup)
			v[k++] = m->blocks[i].backbone;
	}
	*names = v;
	*n = k;
	return 0;
}

int ct_explainer_add(ct_explainer *x, const char *backbone, const ct_graph *g, const ct_weights *w)
{
	const ct_head *m = x->head;
	/* The layers of this backbone's blocks, each once, in block order. */
	size_t cap = 1;
	for (int i = 0; i < m->nblocks; i++)
		cap += strlen(m->blocks[i].layer) + 1;
	char *layers = calloc(cap, 1);
	if (!layers)
		return ct_error("out of memory");
	int any = 0;
	for (int i = 0; i < m->nblocks; i++) {
		const ct_fblock *b = &m->blocks[i];
		if (strcmp(b->backbone, backbone))
			continue;
		any = 1;
		if (b->weights_sha256[0] && w->sha256[0] && strcmp(b->weights_sha256, w->sha256)) {
			free(layers);
			return ct_error("the weights of '%s' have sha256 %.12s..., the model's block '%s' was extracted "
					"with %.12s...",
					backbone, w->sha256, b->name, b->weights_sha256);
		}
		if (ct_graph_find(g, b->layer) < 0) {
			free(layers);
			return ct_error("backbone '%s' has no layer '%s' (block '%s')", backbone, b->layer, b->name);
		}
		/* the same layer may feed two blocks (avg and max) */
		int dup = 0;
		for (int j = 0; j < i && !dup; j++)
			dup = !strcmp(m->blocks[j].backbone, backbone) && !strcmp(m->blocks[j].layer, b->layer);
		if (!dup)
			snprintf(layers + strlen(layers), cap - strlen(layers), "%s%s", layers[0] ? "," : "", b->layer);
	}
	if (!any) {
		free(layers);
		return ct_error("the model has no block of backbone '%s'", backbone);
	}
	ct_net *net = ct_net_new(g, w, layers, CT_POOL_NONE);
	free(layers);
	if (!net)
		return ct_error_prefix("backbone '%s'", backbone);
	int bi = x->nbb++;
	x->bb[bi].name = strdup(backbone);
	x->bb[bi].g = g;
	x->bb[bi].net = net;
	if (!x->bb[bi].name)
		return ct_error("out of memory");
	for (int i = 0; i < m->nblocks; i++) {
		const ct_fblock *b = &m->blocks[i];
		if (strcmp(b->backbone, backbone))
			continue;
		ct_explain_blk *k = &x->blk[i];
		k->bb = bi;
		for (int o = 0; o < ct_net_noutputs(net); o++)
			if (!strcmp(ct_net_output_name(net, o), b->layer))
				k->out = o;
		const ct_node *nd = &g->nodes[ct_graph_find(g, b->layer)];
		k->h = nd->h;
		k->w = nd->w;
		k->c = nd->c;
		int64_t width = k->pool == CT_POOL_NONE ? (int64_t)nd->h * nd->w * nd->c : nd->c;
		if (width != b->width)
			return ct_error("block '%s' has %lld columns, layer '%s' of '%s' gives %lld", b->name,
					(long long)b->width, b->layer, backbone, (long long)width);
	}
	return 0;
}

void ct_explainer_free(ct_explainer *x)
{
	for (int i = 0; i < x->nbb; i++) {
		ct_net_free(x->bb[i].net);
		free(x->bb[i].name);
	}
	free(x->bb);
	free(x->blk);
	memset(x, 0, sizeof *x);
}

int64_t ct_explainer_act_size(const ct_explainer *x)
{
	int64_t s = 0;
	for (int i = 0; i < x->head->nblocks; i++)
		s += (int64_t)x->blk[i].h * x->blk[i].w * x->blk[i].c;
	return s;
}

int64_t ct_explainer_cut_size(const ct_explainer *x)
{
	int64_t s = 0;
	for (int i = 0; i < x->head->nblocks; i++)
		s += (int64_t)x->blk[i].h * x->blk[i].w;
	return s;
}

void ct_cam_free(ct_cam *r)
{
	free(r->heat);
	free(r->block_heat);
	free(r->block_mass);
	free(r->features);
	free(r->gpooled);
	free(r->act);
	free(r->cut);
	memset(r, 0, sizeof *r);
}

int ct_cam_alloc(ct_cam *r, const ct_explainer *x, int H, int W, int debug)
{
	memset(r, 0, sizeof *r);
	size_t hw = (size_t)H * (size_t)W, nb = (size_t)x->head->nblocks;
	r->H = H;
	r->W = W;
	r->heat = malloc(hw * sizeof *r->heat + 1);
	r->block_heat = malloc(hw * nb * sizeof *r->block_heat + 1);
	r->block_mass = calloc(nb + 1, sizeof *r->block_mass);
	int okk = r->heat && r->block_heat && r->block_mass;
	if (debug) {
		r->features = malloc(((size_t)x->head->d_in + 1) * sizeof *r->features);
		r->gpooled = malloc(((size_t)x->head->d_in + 1) * sizeof *r->gpooled);
		r->act = malloc(((size_t)ct_explainer_act_size(x) + 1) * sizeof *r->act);
		r->cut = malloc(((size_t)ct_explainer_cut_size(x) + 1) * sizeof *r->cut);
		okk = okk && r->features && r->gpooled && r->act && r->cut;
	}
	if (!okk) {
		ct_cam_free(r);
		return ct_error("out of memory for the heat maps of a %dx%d image", W, H);
	}
	return 0;
}

/* Row r of the images batch to a uint8 in_h x in_w x 3 backbone input, exactly as
 * ct-features prepares it (lib/data/extract.c): grey replicated to 3 channels, float pixels
 * quantised, other sizes resized (stretch, area filter) when allowed. */
static int prepare(const ct_tensor *rows, int64_t r, int in_h, int in_w, int resize, uint8_t *dst)
{
	int64_t H = rows->shape[1], W = rows->shape[2], C = rows->shape[3], npx = H * W;
	int same = H == in_h && W == in_w;
	if (!same && !resize)
		return ct_error("images are %lldx%lld but the backbone expects %dx%d (allow resizing)", (long long)W,
				(long long)H, in_w, in_h);
	if (rows->dtype == CT_F32) {
		const float *src = (const float *)rows->data + r * npx * C;
		for (int64_t i = 0; i < npx * C; i++)
			if (!isfinite(src[i]))
				return ct_error("NaN or Inf pixel values");
	}
	if (same && rows->dtype == CT_U8 && C == 3) {
		memcpy(dst, (const uint8_t *)rows->data + r * npx * 3, (size_t)npx * 3);
		return 0;
	}
	float *fp = malloc((size_t)npx * 3 * sizeof *fp + 1);
	if (!fp)
		return ct_error("out of memory");
	for (int64_t i = 0; i < npx; i++)
		for (int c = 0; c < 3; c++) {
			int64_t k = i * C + (C == 3 ? c : 0);
			fp[i * 3 + c] = rows->dtype == CT_U8 ? ((const uint8_t *)rows->data)[r * npx * C + k] / 255.0f
							     : ((const float *)rows->data)[r * npx * C + k];
		}
	ct_tensor f = ct_tensor_wrap(fp, CT_F32, 3, (int64_t[]){ H, W, 3 }), res = { 0 };
	const float *q = fp;
	if (!same) {
		if (ct_resize(&f, in_h, in_w, CT_FIT_STRETCH, CT_FILTER_AREA, 0.0f, &res) < 0) {
			free(fp);
			return -1;
		}
		q = res.data;
	}
	int64_t m = (int64_t)in_h * in_w * 3;
	for (int64_t i = 0; i < m; i++) {
		float v = q[i] * 255.0f + 0.5f;
		dst[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
	}
	ct_tensor_free(&res);
	free(fp);
	return 0;
}

/* Everything after the backbones for image r: pooled features -> fusion -> head -> gradient
 * -> per-block CAM -> upsampled, normalised, combined. maps[b] is block b's h*w*c map, wts[b]
 * its lung-field cell weights (h*w) for a lung-pooled block, else NULL. */
static int explain_one(const ct_explainer *x, const float *const *maps, const double *const *wts, ct_cam *cam)
{
	const ct_head *m = x->head;
	int d = m->d_in, nb = m->nblocks;
	int64_t HW = (int64_t)cam->H * cam->W;
	float *raw = malloc((size_t)d * sizeof *raw * 2 + 1);
	double *g = malloc((size_t)d * sizeof *g * 3 + 1);
	if (!raw || !g) {
		free(raw);
		free(g);
		return ct_error("out of memory");
	}
	float *fused = raw + d;
	double *g1 = g + d, *graw = g + 2 * (size_t)d;
	cam->lung_fallback = 0;
	for (int b = 0; b < nb; b++) {
		const ct_explain_blk *k = &x->blk[b];
		const ct_fblock *fb = &m->blocks[b];
		float *dst = raw + fb->start;
		if (k->pool == CT_POOL_NONE)
			memcpy(dst, maps[b], (size_t)fb->width * sizeof *dst);
		else if (k->lung) /* as ct-features pools it (lib/data/extract.c) */
			cam->lung_fallback += ct_lung_pool(k->pool == CT_POOL_MAX, maps[b], (int64_t)k->h * k->w, k->c, wts[b], dst);
		else
			ct_op_gpool(k->pool == CT_POOL_MAX, 1, (int64_t)k->h * k->w, k->c, maps[b], dst);
		/* ct-fuse: scale (and L2-normalise) each block, in float as it stores them */
		double scale = x->fusion.scale;
		if (x->fusion.l2) {
			double ss = 0;
			for (int64_t j = 0; j < fb->width; j++)
				ss += (double)dst[j] * dst[j];
			scale = ss > 0 ? x->fusion.scale / sqrt(ss) : 0.0;
		}
		for (int64_t j = 0; j < fb->width; j++)
			fused[fb->start + j] = (x->fusion.l2 || x->fusion.scale != 1.0) ? (float)(dst[j] * scale) : dst[j];
	}
	double zp, zn;
	int rc = ct_head_logit_grad(m, fused, x->positive, &zp, g);
	if (rc == 0)
		rc = ct_head_logit_grad(m, fused, x->negative, &zn, g1);
	if (rc < 0) {
		free(raw);
		free(g);
		return rc;
	}
	for (int t = 0; t < d; t++)
		g[t] -= g1[t];
	cam->score = zp - zn;
	cam->p = 1.0 / (1.0 + exp(-cam->score));
	float *cut_all = cam->cut;
	float *act_all = cam->act;
	int nheat = 0;
	memset(cam->heat, 0, (size_t)HW * sizeof *cam->heat);
	for (int b = 0; b < nb; b++) {
		const ct_explain_blk *k = &x->blk[b];
		const ct_fblock *fb = &m->blocks[b];
		double *gb = graw + fb->start;
		if (x->fusion.l2)
			ct_l2_backward(raw + fb->start, fb->width, x->fusion.scale, g + fb->start, gb);
		else
			for (int64_t j = 0; j < fb->width; j++)
				gb[j] = x->fusion.scale * g[fb->start + j];
		int64_t hw = (int64_t)k->h * k->w;
		float *cut = cut_all ? cut_all : malloc((size_t)hw * sizeof *cut + 1);
		if (!cut) {
			rc = ct_error("out of memory");
			break;
		}
		ct_gradcam_map_lung(maps[b], k->h, k->w, k->c, k->pool, gb, k->lung ? wts[b] : NULL, cut);
		float *bh = cam->block_heat + (size_t)b * HW;
		ct_heat_upsample(cut, k->h, k->w, bh, cam->H, cam->W);
		cam->block_mass[b] = ct_heat_sum(cut, hw);
		double s = ct_heat_sum(bh, HW);
		if (s > 0) {
			for (int64_t i = 0; i < HW; i++)
				bh[i] = (float)(bh[i] / s);
			for (int64_t i = 0; i < HW; i++)
				cam->heat[i] += bh[i];
			nheat++;
		} else {
			memset(bh, 0, (size_t)HW * sizeof *bh);
		}
		if (act_all) {
			memcpy(act_all, maps[b], (size_t)hw * k->c * sizeof *act_all);
			act_all += hw * k->c;
		}
		if (cut_all)
			cut_all += hw;
		else
			free(cut);
	}
	if (nheat > 1)
		for (int64_t i = 0; i < HW; i++)
			cam->heat[i] /= (float)nheat;
	if (cam->features)
		memcpy(cam->features, fused, (size_t)d * sizeof *fused);
	if (cam->gpooled)
		memcpy(cam->gpooled, graw, (size_t)d * sizeof *graw);
	free(raw);
	free(g);
	return rc;
}

int ct_explain_reads_alt(const ct_graph *g, int64_t h, int64_t w, int64_t alt_h, int64_t alt_w)
{
	return alt_h == g->in_h && alt_w == g->in_w && !(h == g->in_h && w == g->in_w);
}

int ct_explainer_lung(const ct_explainer *x, int64_t h, int64_t w, int64_t alt_h, int64_t alt_w)
{
	int r = 0;
	for (int b = 0; b < x->head->nblocks; b++)
		if (x->blk[b].lung && x->blk[b].bb >= 0)
			r |= ct_explain_reads_alt(x->bb[x->blk[b].bb].g, h, w, alt_h, alt_w) ? 2 : 1;
	return r;
}

int ct_explain_batch(ct_explainer *x, const ct_tensor *rows, const ct_tensor *alt, const ct_tensor *mask,
		     const ct_tensor *alt_mask, ct_cam *cams)
{
	const ct_head *m = x->head;
	if (rows->ndim != 4 || (rows->shape[3] != 1 && rows->shape[3] != 3) ||
	    (rows->dtype != CT_U8 && rows->dtype != CT_F32))
		return ct_error("images must be N x H x W x 1 or 3, uint8 or float32");
	if (alt && (alt->ndim != 4 || alt->shape[0] != rows->shape[0] || (alt->shape[3] != 1 && alt->shape[3] != 3) ||
		    (alt->dtype != CT_U8 && alt->dtype != CT_F32)))
		return ct_error("the images at the other size must be as many, N x H x W x 1 or 3");
	for (int i = 0; i < m->nblocks; i++)
		if (x->blk[i].bb < 0)
			return ct_error("no network bound for backbone '%s'", m->blocks[i].backbone);
	int64_t n = rows->shape[0];
	int nb = m->nblocks;
	/* Each backbone's raw outputs of this batch, copied out (the next backbone's run reuses
	 * nothing of ours, but a net's views live only until its next run). */
	float **blockmaps = calloc((size_t)nb + 1, sizeof *blockmaps);
	double **blockwts = calloc((size_t)nb + 1, sizeof *blockwts);
	if (!blockmaps || !blockwts) {
		free(blockmaps);
		free(blockwts);
		return ct_error("out of memory");
	}
	int rc = 0;
	for (int bi = 0; bi < x->nbb && rc == 0; bi++) {
		const ct_graph *g = x->bb[bi].g;
		ct_tensor in;
		if (ct_tensor_alloc4(&in, CT_U8, n, g->in_h, g->in_w, 3) < 0) {
			rc = ct_error("out of memory");
			break;
		}
		int bad = -1;
		char msg[512] = "";
		int use_alt = alt && ct_explain_reads_alt(g, rows->shape[1], rows->shape[2], alt->shape[1], alt->shape[2]);
		const ct_tensor *src = use_alt ? alt : rows, *msk = use_alt ? alt_mask : mask;
#pragma omp parallel for schedule(static)
		for (int64_t r = 0; r < n; r++) {
			uint8_t *dst = (uint8_t *)in.data + r * (int64_t)g->in_h * g->in_w * 3;
			if (prepare(src, r, g->in_h, g->in_w, x->resize, dst) < 0) {
#pragma omp critical
				if (bad < 0 || r < bad) {
					bad = (int)r;
					snprintf(msg, sizeof msg, "%s", ct_last_error());
				}
			}
		}
		if (bad >= 0)
			rc = ct_error("image %d of the batch: %s", bad, msg);
		if (rc == 0 && ct_net_run(x->bb[bi].net, &in) < 0)
			rc = -1;
		for (int b = 0; b < nb && rc == 0; b++) {
			const ct_explain_blk *k = &x->blk[b];
			if (k->bb != bi)
				continue;
			ct_tensor v;
			ct_net_output(x->bb[bi].net, k->out, &v);
			size_t per = (size_t)k->h * k->w * k->c;
			if (ct_tensor_numel(&v) != (int64_t)per * n) {
				rc = ct_error("internal: output '%s' has an unexpected size", m->blocks[b].layer);
				break;
			}
			if (!(blockmaps[b] = malloc(per * (size_t)n * sizeof(float) + 1))) {
				rc = ct_error("out of memory");
				break;
			}
			memcpy(blockmaps[b], v.data, per * (size_t)n * sizeof(float));
			for (size_t i = 0; i < per * (size_t)n; i++)
				if (!isfinite(blockmaps[b][i])) {
					rc = ct_error("a non-finite activation in layer '%s' (bad weights?)", m->blocks[b].layer);
					break;
				}
			if (rc == 0 && k->lung) {
				/* the cell weights of each image's lung field, from the images the backbone read */
				int64_t MH = src->shape[1], MW = src->shape[2], hw = (int64_t)k->h * k->w;
				if (!msk || msk->dtype != CT_U8 || msk->shape[0] < n || msk->shape[1] != MH || msk->shape[2] != MW) {
					rc = ct_error("block '%s' pools over the lung field, but its %lldx%lld images have no "
						      "lung mask",
						      m->blocks[b].name, (long long)MW, (long long)MH);
					break;
				}
				if (!(blockwts[b] = malloc(((size_t)hw * (size_t)n + 1) * sizeof(double)))) {
					rc = ct_error("out of memory");
					break;
				}
#pragma omp parallel for schedule(static)
				for (int64_t r = 0; r < n; r++)
					ct_lung_weights((const uint8_t *)msk->data + r * MH * MW, MH, MW, k->h, k->w,
							blockwts[b] + r * hw);
			}
		}
		ct_tensor_free(&in);
	}
	if (rc == 0) {
		int bad = -1;
		char msg[512] = "";
#pragma omp parallel for schedule(static)
		for (int64_t r = 0; r < n; r++) {
			const float *maps[64];
			const double *wv[64];
			const float **mp = nb <= 64 ? maps : malloc((size_t)nb * sizeof *mp);
			const double **wp = nb <= 64 ? wv : malloc((size_t)nb * sizeof *wp);
			int e = -1, oom = !(mp && wp);
			if (!oom) {
				for (int b = 0; b < nb; b++) {
					mp[b] = blockmaps[b] + (size_t)r * x->blk[b].h * x->blk[b].w * x->blk[b].c;
					wp[b] = blockwts[b] ? blockwts[b] + (size_t)r * x->blk[b].h * x->blk[b].w : NULL;
				}
				e = explain_one(x, mp, wp, &cams[r]);
			}
			if (mp != maps)
				free((void *)mp);
			if (wp != wv)
				free((void *)wp);
			if (e < 0) {
#pragma omp critical
				if (bad < 0 || r < bad) {
					bad = (int)r;
					snprintf(msg, sizeof msg, "%s", oom ? "out of memory" : ct_last_error());
				}
			}
		}
		if (bad >= 0)
			rc = ct_error("image %d of the batch: %s", bad, msg);
	}
	for (int b = 0; b < nb; b++) {
		free(blockmaps[b]);
		free(blockwts[b]);
	}
	free(blockmaps);
	free(blockwts);
	return rc;
}
