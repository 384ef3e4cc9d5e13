/* ft_run.c - the inputs of ct-finetune --finetune: cut files, their weights and activations (ft_run.h). */
#include "train/ft_run.h"
#include "core/error.h"
#include "core/str.h"
#include "data/activations.h"
#include "formats/keras_h5.h"
#include "models/models.h"
#include "nn/weights_path.h"

#include <stdlib.h>
#include <string.h>

void ct_ft_run_free(ct_ft_run *r)
{
	for (int s = 0; s < r->nsrc; s++) {
		ct_subnet_free(r->src[s].net);
		ct_graph_free(r->g[s]);
		free(r->backbone[s]), free(r->sha[s]), free(r->x[s]);
	}
	if (r->blocks)
		ct_fblocks_free(r->blocks, r->nsrc);
	free(r->idx);
}

/* Open every cut file, check it matches the first input's samples, load the weights above the
 * cut (sha256 as recorded by ct-features) and the activations of the used rows. */
int ct_ft_run_prepare(ct_ft_run *r, char *const *paths, int npaths, const ct_features *f, const uint8_t *role,
		      const char *weights_list, const char *outputs_list)
{
	memset(r, 0, sizeof *r);
	/* one item per cut file: a longer list is a mistake, not extra layers to ignore */
	char tmp[4096];
	int nout = 0, nw = 0;
	ct_list_item(outputs_list, 0, tmp, sizeof tmp, &nout);
	ct_list_item(weights_list, 0, tmp, sizeof tmp, &nw);
	if (nout > npaths)
		return ct_error("--output-layer names %d layers for %d cut file%s", nout, npaths, npaths == 1 ? "" : "s");
	if (nw > npaths)
		return ct_error("--weights names %d files for %d cut file%s", nw, npaths, npaths == 1 ? "" : "s");
	r->idx = malloc(((size_t)f->s.n + 1) * sizeof *r->idx);
	if (!r->idx)
		return ct_error("out of memory");
	for (int64_t i = 0; i < f->s.n; i++)
		if (role[i] != CT_ROLE_NONE)
			r->idx[r->nuse++] = i;
	int rc = 0;
	for (int s = 0; s < npaths && rc == 0; s++) {
		/* item s of --weights; an empty or missing item: the search path (as ct-score) */
		char witem[4096];
		const char *wp = ct_list_item(weights_list, s, witem, sizeof witem, NULL) ? witem : NULL;
		ct_actfile a;
		if (ct_actfile_open(&a, paths[s]) < 0)
			return -1;
		r->nsrc = s + 1;
		r->backbone[s] = strdup(a.backbone);
		r->sha[s] = strdup(a.weights_sha256);
		if (a.n != f->s.n) {
			rc = ct_error("'%s' has %lld samples, '%s' %lld", paths[s], (long long)a.n, paths[0], (long long)f->s.n);
		} else if (s > 0) {
			ct_features o;
			memset(&o, 0, sizeof o);
			if (ct_features_read(paths[s], &o) < 0)
				rc = -1;
			for (int64_t i = 0; rc == 0 && i < f->s.n; i++)
				if (strcmp(o.s.names[i], f->s.names[i]) || o.s.labels[i] != f->s.labels[i])
					rc = ct_error("'%s' and '%s' differ at sample %lld ('%s'); extract both from one images file",
						      paths[s], paths[0], (long long)i, o.s.names[i]);
			ct_features_free(&o);
		}
		char located[4096];
		const char *wpath = wp;
		if (!wpath && ct_weights_locate(a.backbone, located, sizeof located) == 0)
			wpath = located;
		ct_weights w = { 0 };
		if (rc == 0 && !(r->g[s] = ct_model_build(a.backbone)))
			rc = ct_error("'%s': unknown backbone '%s'", paths[s], a.backbone);
		if (rc == 0 && (!wpath || ct_weights_load(&w, wpath) < 0))
			rc = -1;
		else if (rc == 0 && strcmp(w.sha256, a.weights_sha256))
			rc = ct_error("'%s' has sha256 %.12s..., but '%s' was cut with weights %.12s...", wpath, w.sha256,
				      paths[s], a.weights_sha256);
		char outl[256];
		const char *output = ct_list_item(outputs_list, s, outl, sizeof outl, NULL) ? outl : NULL;
		if (rc == 0 && !(r->src[s].net = ct_subnet_new(r->g[s], &w, a.cut, output, CT_POOL_AVG)))
			rc = ct_error_prefix("'%s'", paths[s]);
		ct_weights_free(&w);
		int64_t per = (int64_t)a.height * a.width * a.channels;
		if (rc == 0 && !(r->x[s] = malloc((size_t)(r->nuse * per + 1) * sizeof(float))))
			rc = ct_error("out of memory for %lld activation maps of '%s'", (long long)r->nuse, paths[s]);
		for (int64_t i = 0; rc == 0 && i < r->nuse; i++)
			if (ct_actfile_read(&a, r->idx[i], 1, r->x[s] + i * per) < 0)
				rc = ct_error_prefix("'%s'", paths[s]);
		if (rc == 0) {
			r->src[s].x = r->x[s];
			r->src[s].per = per;
			r->src[s].d = (int)ct_subnet_out_size(r->src[s].net);
		}
		ct_actfile_close(&a);
	}
	if (rc < 0)
		return -1;
	if (!(r->blocks = calloc((size_t)r->nsrc, sizeof *r->blocks)))
		return ct_error("out of memory");
	int64_t start = 0;
	for (int s = 0; s < r->nsrc; s++) {
		const ct_graph *gr;
		int cut, outn;
		ct_subnet_graph(r->src[s].net, &gr, &cut, &outn);
		char name[256];
		snprintf(name, sizeof name, "%s/%s/avg", r->backbone[s], gr->nodes[outn].name);
		ct_fblock *b = &r->blocks[s];
		b->name = strdup(name);
		b->backbone = strdup(r->backbone[s]);
		b->layer = strdup(gr->nodes[outn].name);
		b->pool = strdup("avg");
		b->weights_sha256 = strdup(r->sha[s]);
		b->start = start;
		b->width = r->src[s].d;
		start += b->width;
	}
	return 0;
}

