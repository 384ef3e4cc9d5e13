/* nn_testutil.h - graph look-ups shared by the architecture tests (test_models.c, test_backbones.c). */
#ifndef NN_TESTUTIL_H
#define NN_TESTUTIL_H

#include "nn/graph.h"

static const ct_node *node(const ct_graph *g, const char *name)
{
	int i = ct_graph_find(g, name);
	return i >= 0 ? &g->nodes[i] : NULL;
}

static int shape_is(const ct_graph *g, const char *name, int h, int w, int c)
{
	const ct_node *n = node(g, name);
	return n && n->h == h && n->w == w && n->c == c;
}

static int count_op(const ct_graph *g, ct_op op)
{
	int n = 0;
	for (int i = 0; i < g->n; i++)
		n += g->nodes[i].op == op;
	return n;
}

#endif
