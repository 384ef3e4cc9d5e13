/* graph_weights.c - synthetic weights for a whole graph (tests, benchmarks, conformance):
 * every tensor the graph expects, filled by ct_testweight_fill (see testweights.h). */
#include "nn/net.h"
#include "nn/testweights.h"
#include "core/error.h"

#include <stdio.h>

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
