/* weights.c - named weight tensors grouped by layer, in memory: build, look up, free. */
#include "nn/weights.h"
#include "core/error.h"
#include "core/str.h"

#include <stdlib.h>
#include <string.h>

void ct_weight_short_name(const char *full, char *out, size_t size)
{
	const char *s = strrchr(full, '/');
	s = s ? s + 1 : full;
	size_t l = strcspn(s, ":");
	if (l >= size)
		l = size - 1;
	memcpy(out, s, l);
	out[l] = 0;
}

const ct_wlayer *ct_weights_find(const ct_weights *w, const char *layer)
{
	for (int i = 0; i < w->nlayers; i++)
		if (!strcmp(w->layers[i].name, layer))
			return &w->layers[i];
	return NULL;
}

const ct_wtensor *ct_wlayer_get(const ct_wlayer *l, const char *short_nm)
{
	char s[128];
	for (int k = 0; k < l->n; k++) {
		ct_weight_short_name(l->w[k].name, s, sizeof s);
		if (!strcmp(s, short_nm))
			return &l->w[k];
	}
	return NULL;
}

/* Grow to hold one more; capacities double (stored as the next power of two >= n). */
static int grow(void **p, int n, size_t elem)
{
	if (n & (n - 1) && n > 0)
		return 0; /* n is not a power of two: capacity (next power) already covers n+1 */
	size_t cap = n ? (size_t)n * 2 : 1;
	void *q = realloc(*p, cap * elem);
	if (!q)
		return ct_error("out of memory");
	*p = q;
	return 0;
}

ct_wlayer *ct_weights_add_layer(ct_weights *w, const char *name)
{
	if (w->nlayers >= 1 << 20) {
		ct_error("too many layers");
		return NULL;
	}
	if (grow((void **)&w->layers, w->nlayers, sizeof *w->layers) < 0)
		return NULL;
	ct_wlayer *l = &w->layers[w->nlayers];
	memset(l, 0, sizeof *l);
	if (!(l->name = ct_strdup(name))) {
		ct_error("out of memory");
		return NULL;
	}
	w->nlayers++;
	return l;
}

ct_wtensor *ct_wlayer_add(ct_wlayer *l, const char *weight_name, int ndim, const int64_t *shape)
{
	if (l->n >= 1 << 16) {
		ct_error("layer '%s': too many tensors", l->name);
		return NULL;
	}
	if (grow((void **)&l->w, l->n, sizeof *l->w) < 0)
		return NULL;
	ct_wtensor *t = &l->w[l->n];
	memset(t, 0, sizeof *t);
	if (ct_tensor_alloc(&t->t, CT_F32, ndim, shape) < 0) {
		ct_error_prefix("weight '%s'", weight_name);
		return NULL;
	}
	if (!(t->name = ct_strdup(weight_name))) {
		ct_tensor_free(&t->t);
		ct_error("out of memory");
		return NULL;
	}
	l->n++;
	return t;
}

void ct_weights_free(ct_weights *w)
{
	for (int i = 0; i < w->nlayers; i++) {
		ct_wlayer *l = &w->layers[i];
		for (int k = 0; k < l->n; k++) {
			free(l->w[k].name);
			ct_tensor_free(&l->w[k].t);
		}
		free(l->w);
		free(l->name);
	}
	free(w->layers);
	memset(w, 0, sizeof *w);
}
