/* bind.c - weights bound to a graph: the check of real weights (names, shapes, Keras 1 names
 * by position), the tensors and batch-normalisation coefficients the planner reads, and
 * synthetic weights for a whole graph (tests, benchmarks, conformance: every tensor the graph
 * expects, filled by ct_testweight_fill, see testweights.h). */
#include "nn/net_impl.h"
#include "nn/testweights.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
	size_t o = 0;
	buf[0] = 0;
	for (int d = 0; d < ndim && o < n; d++)
		o += (size_t)snprintf(buf + o, n - o, "%s%lld", d ? "x" : "", (long long)shape[d]);
	if (ndim == 0)
		snprintf(buf, n, "scalar");
}

/* Keras 1 saved weights under names like "block1_conv1_W_1:0" (the official VGG16 and
 * Xception files still do); Keras 2 loads them by position within the layer. We do the
 * same when none of a layer's tensors carries a Keras 2 short name and the count fits. */
static int legacy_names(const ct_wlayer *l, const ct_node *nd)
{
	if (!l || l->n != nd->nw)
		return 0;
	for (int j = 0; j < nd->nw; j++)
		if (ct_wlayer_get(l, nd->wspec[j].name))
			return 0;
	return 1;
}

/* Tensor j (Keras order) of node nd in layer l, by short name or by position (above). */
static const ct_wtensor *layer_tensor(const ct_wlayer *l, const ct_node *nd, int j)
{
	const ct_wtensor *t = l ? ct_wlayer_get(l, nd->wspec[j].name) : NULL;
	return t ? t : legacy_names(l, nd) ? &l->w[j] : NULL;
}

int ct_graph_check_weights(const ct_graph *g, const ct_weights *w)
{
	for (int i = 0; i < g->n; i++) {
		const ct_node *nd = &g->nodes[i];
		if (nd->nw == 0)
			continue;
		const ct_wlayer *l = ct_weights_find(w, nd->name);
		if (!l)
			return ct_error("layer '%s': missing from the weights", nd->name);
		for (int t = 0; t < l->n && !legacy_names(l, nd); t++) {
			const char *full = l->w[t].name, *s = strrchr(full, '/');
			char shortn[64];
			snprintf(shortn, sizeof shortn, "%s", s ? s + 1 : full);
			char *colon = strchr(shortn, ':');
			if (colon)
				*colon = 0;
			int found = 0;
			for (int j = 0; j < nd->nw; j++)
				found |= !strcmp(nd->wspec[j].name, shortn);
			if (!found)
				return ct_error("layer '%s': unexpected tensor '%s'", nd->name, full);
		}
		for (int j = 0; j < nd->nw; j++) {
			const ct_wspec *s = &nd->wspec[j];
			const ct_wtensor *t = layer_tensor(l, nd, j);
			if (!t)
				return ct_error("layer '%s': missing %s", nd->name, s->name);
			int same = t->t.ndim == s->ndim && t->t.dtype == CT_F32;
			for (int d = 0; same && d < s->ndim; d++)
				same = t->t.shape[d] == s->shape[d];
			if (!same) {
				char a[64], b[64];
				shape_str(a, sizeof a, t->t.ndim, t->t.shape);
				shape_str(b, sizeof b, s->ndim, s->shape);
				return ct_error("layer '%s': %s has shape %s, expected %s", nd->name,
						s->name, a, b);
			}
			if (!ct_tensor_is_contiguous(&t->t))
				return ct_error("layer '%s': %s is not contiguous", nd->name, s->name);
		}
	}
	return 0;
}

const float *ct_net_weight(const ct_weights *w, const ct_node *nd, const char *name)
{
	for (int j = 0; j < nd->nw; j++)
		if (!strcmp(nd->wspec[j].name, name)) {
			const ct_wtensor *t = layer_tensor(ct_weights_find(w, nd->name), nd, j);
			return t ? (const float *)t->t.data : NULL;
		}
	return NULL;
}

/* Per-channel scale and shift of an inference batch normalisation, in double. */
void ct_net_bn_coeffs(const ct_weights *w, const ct_node *bn, double *scale, double *shift)
{
	const float *gamma = ct_net_weight(w, bn, "gamma"), *beta = ct_net_weight(w, bn, "beta");
	const float *mean = ct_net_weight(w, bn, "moving_mean"), *var = ct_net_weight(w, bn, "moving_variance");
	for (int c = 0; c < bn->c; c++) {
		double s = (gamma ? gamma[c] : 1.0) / sqrt((double)var[c] + (double)bn->eps);
		scale[c] = s;
		shift[c] = (beta ? beta[c] : 0.0) - mean[c] * s;
	}
}

int ct_graph_testweights(const ct_graph *g, ct_weights *w)
{
	for (int i = 0; i < g->n; i++) {
		const ct_node *nd = &g->nodes[i];
		if (nd->nw == 0)
			continue;
		ct_wlayer *l = ct_weights_add_layer(w, nd->name);
		if (!l)
			return -1;
		for (int j = 0; j < nd->nw; j++) {
			const ct_wspec *s = &nd->wspec[j];
			char full[128];
			snprintf(full, sizeof full, "%s/%s:0", nd->name, s->name);
			ct_wtensor *t = ct_wlayer_add(l, full, s->ndim, s->shape);
			if (!t)
				return -1;
			ct_testweight_fill(nd->name, j, s->name, s->ndim, s->shape, t->t.data);
		}
	}
	return 0;
}
