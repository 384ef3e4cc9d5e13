/* sourcetsv.c - a value per sample from a TSV keyed by file name (sourcetsv.h). */
#include "data/sourcetsv.h"
#include "core/error.h"
#include "io/h5.h"
#include "io/target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
		char *b = hit ? NULL : strdup(name);
		if (!hit && !b) {
			rc = ct_error("out of memory");
			break;
		}
		if (b) {
			/* the name without its '#augK' / '#pK' suffix, then its base name */
			char *hash = strrchr(b, '#');
			if (hash && (!strncmp(hash, "#aug", 4) || !strncmp(hash, "#p", 2)))
				*hash = '\0';
			hit = lookup(v, n, b);
			if (!hit) {
				const char *base = strrchr(b, '/');
				hit = lookup(v, n, base ? base + 1 : b);
			}
		}
		if (!(out[i] = strdup(hit ? hit : CT_TSV_UNKNOWN)))
			rc = ct_error("out of memory");
		free(b);
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
