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

#define UNKNOWN "(unknown)"

typedef struct key_src {
	char *key, *src;
} key_src;

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const key_src *)a)->key, ((const key_src *)b)->key);
}

static const char *lookup(const key_src *v, int64_t n, const char *key)
{
	key_src k = { (char *)key, NULL };
	const key_src *f = n ? bsearch(&k, v, (size_t)n, sizeof *v, cmp_key) : NULL;
	return f ? f->src : NULL;
}

/* Field `col` (1-based; 0 = last) of a tab-separated line, as a malloc'd string; NULL when absent. */
static char *field(const char *line, int col)
{
	int nf = 1;
	for (const char *p = line; *p; p++)
		nf += *p == '\t';
	if (col == 0)
		col = nf;
	if (col > nf)
		return NULL;
	const char *p = line;
	for (int k = 1; k < col; k++)
		p = strchr(p, '\t') + 1;
	const char *e = strchr(p, '\t');
	return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

int ct_sources_tsv_read(const char *tsv, int column, const ct_samples *s, char ***src, char **column_name)
{
	*src = NULL;
	*column_name = NULL;
	/* a regular file of at most 1 GiB: a FIFO or /dev/zero would never end */
	int fd = ct_open_regular(tsv, 1LL << 30);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		if (fd >= 0)
			close(fd);
		return fd < 0 ? -1 : ct_error_errno("cannot open '%s'", tsv);
	}
	key_src *v = NULL;
	int64_t n = 0, cap = 0, lineno = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	int rc = 0;
	while (rc == 0 && (len = getline(&line, &lcap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (len > 65536) {
			rc = ct_error("'%s' line %lld: too long", tsv, (long long)lineno);
			break;
		}
		char *key = field(line, 1), *val = field(line, column);
		if (!key) {
			free(val);
			rc = ct_error("out of memory");
			break;
		}
		if (lineno == 1 && (!strcmp(key, "file") || !strcmp(key, "name"))) {
			*column_name = val ? val : NULL;
			free(key);
			if (!val) {
				rc = ct_error("'%s' has no column %d", tsv, column);
			}
			continue;
		}
		if (!val) {
			free(key);
			rc = ct_error("'%s' line %lld has no column %d", tsv, (long long)lineno, column);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			key_src *nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				free(key);
				free(val);
				rc = ct_error("out of memory");
				break;
			}
			v = nv;
		}
		v[n].key = key;
		v[n++].src = val;
	}
	if (rc == 0 && ferror(f))
		rc = ct_error_errno("cannot read '%s'", tsv);
	fclose(f);
	free(line);
	if (rc == 0 && n == 0)
		rc = ct_error("'%s' names no file", tsv);
	if (rc == 0) {
		qsort(v, (size_t)n, sizeof *v, cmp_key);
		for (int64_t i = 1; i < n && rc == 0; i++)
			if (!strcmp(v[i].key, v[i - 1].key) && strcmp(v[i].src, v[i - 1].src))
				rc = ct_error("'%s' gives '%s' two sources ('%s', '%s')", tsv, v[i].key, v[i - 1].src, v[i].src);
	}
	char **out = rc == 0 ? calloc((size_t)s->n + 1, sizeof *out) : NULL;
	if (rc == 0 && !out)
		rc = ct_error("out of memory");
	for (int64_t i = 0; rc == 0 && i < s->n; i++) {
		const char *name = s->names[i], *hit = lookup(v, n, name);
		if (!hit) {
			const char *base = strrchr(name, '/');
			base = base ? base + 1 : name;
			char *b = strdup(base);
			if (!b) {
				rc = ct_error("out of memory");
				break;
			}
			char *hash = strrchr(b, '#');
			if (hash && (!strncmp(hash, "#aug", 4) || !strncmp(hash, "#p", 2)))
				*hash = '\0';
			hit = lookup(v, n, b);
			free(b);
		}
		if (!(out[i] = strdup(hit ? hit : UNKNOWN)))
			rc = ct_error("out of memory");
	}
	if (rc == 0 && !*column_name) {
		char buf[32];
		snprintf(buf, sizeof buf, column ? "column %d" : "last column", column);
		if (!(*column_name = strdup(buf)))
			rc = ct_error("out of memory");
	}
	for (int64_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].src);
	}
	free(v);
	if (rc < 0) {
		ct_strings_free(out, out ? s->n : 0);
		free(*column_name);
		*column_name = NULL;
		return -1;
	}
	*src = out;
	return 0;
}

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
