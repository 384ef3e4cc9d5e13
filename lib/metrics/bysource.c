/* bysource.c - metrics per data source (bysource.h). */
#include "metrics/bysource.h"
#include "core/error.h"
#include "io/h5.h"
#include "io/target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNKNOWN CT_TSV_UNKNOWN

static int cmp_name(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	int ux = !strcmp(x, UNKNOWN), uy = !strcmp(y, UNKNOWN);
	return ux != uy ? ux - uy : strcmp(x, y);
}

void ct_by_source_free(ct_by_source *b)
{
	for (int k = 0; k < b->n; k++) {
		free(b->v[k].name);
		if (b->v[k].has_neg)
			ct_eval_free(&b->v[k].neg_vs_allpos);
		if (b->v[k].has_pos)
			ct_eval_free(&b->v[k].pos_vs_allneg);
	}
	free(b->v);
	free(b->column);
	memset(b, 0, sizeof *b);
}

/* Evaluate the rows where pick(i) holds. */
static int eval_subset(const float *probs, const int32_t *labels, const int64_t *rows, int64_t m, const ct_eval_opts *o,
		       ct_eval *ev)
{
	float *p = malloc(((size_t)m * 2 + 1) * sizeof *p);
	int32_t *y = malloc(((size_t)m + 1) * sizeof *y);
	if (!p || !y) {
		free(p);
		free(y);
		return ct_error("out of memory");
	}
	for (int64_t k = 0; k < m; k++) {
		p[2 * k] = probs[2 * rows[k]];
		p[2 * k + 1] = probs[2 * rows[k] + 1];
		y[k] = labels[rows[k]];
	}
	int rc = ct_evaluate(p, y, m, 2, o, ev);
	free(p);
	free(y);
	return rc;
}

int ct_by_source_eval(const ct_samples *s, const float *probs, const int *in, char **src, const char *column,
		      const ct_eval_opts *o, ct_by_source *out)
{
	memset(out, 0, sizeof *out);
	if (s->nclasses != 2)
		return ct_error("metrics per source need two classes (the data has %d)", s->nclasses);
	const int pos = o->positive;
	int64_t n = s->n;
	char **names = malloc(((size_t)n + 1) * sizeof *names);
	int64_t *rows = malloc(((size_t)n + 1) * sizeof *rows);
	int rc = names && rows && (out->column = strdup(column)) ? 0 : ct_error("out of memory");
	int64_t nn = 0;
	for (int64_t i = 0; rc == 0 && i < n; i++)
		if (in[i] && s->labels[i] >= 0) {
			names[nn++] = src[i];
			out->unmatched += !strcmp(src[i], UNKNOWN);
		}
	if (rc == 0 && nn)
		qsort(names, (size_t)nn, sizeof *names, cmp_name);
	int nd = 0;
	for (int64_t i = 0; i < nn; i++)
		if (i == 0 || strcmp(names[i], names[i - 1]))
			names[nd++] = names[i];
	if (rc == 0 && !(out->v = calloc((size_t)nd + 1, sizeof *out->v)))
		rc = ct_error("out of memory");
	for (int k = 0; rc == 0 && k < nd; k++) {
		ct_source_eval *e = &out->v[k];
		if (!(e->name = strdup(names[k]))) {
			rc = ct_error("out of memory");
			break;
		}
		out->n = k + 1;
		int64_t m = 0, npos_all = 0, nneg_all = 0;
		for (int64_t i = 0; i < n; i++)
			if (in[i] && s->labels[i] >= 0 && !strcmp(src[i], e->name)) {
				if (s->labels[i] == pos)
					e->npos++;
				else
					e->nneg++;
			}
		for (int64_t i = 0; i < n; i++)
			if (in[i] && s->labels[i] >= 0) {
				npos_all += s->labels[i] == pos;
				nneg_all += s->labels[i] != pos;
			}
		if (e->nneg > 0 && npos_all > 0) {
			for (int64_t i = 0; i < n; i++)
				if (in[i] && s->labels[i] >= 0 && (s->labels[i] == pos || !strcmp(src[i], e->name)))
					rows[m++] = i;
			rc = eval_subset(probs, s->labels, rows, m, o, &e->neg_vs_allpos);
			e->has_neg = rc == 0;
		}
		m = 0;
		if (rc == 0 && e->npos > 0 && nneg_all > 0) {
			for (int64_t i = 0; i < n; i++)
				if (in[i] && s->labels[i] >= 0 && (s->labels[i] != pos || !strcmp(src[i], e->name)))
					rows[m++] = i;
			rc = eval_subset(probs, s->labels, rows, m, o, &e->pos_vs_allneg);
			e->has_pos = rc == 0;
		}
	}
	free(names);
	free(rows);
	if (rc < 0)
		ct_by_source_free(out);
	return rc;
}
