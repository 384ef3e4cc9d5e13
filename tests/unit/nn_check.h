/* nn_check.h - the engine-vs-reference harness shared by test_nn_ops.c and test_nn_more.c. */
#ifndef NN_CHECK_H
#define NN_CHECK_H

#include "test.h"
#include "test_nn_ref.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/net.h"
#include "nn/testweights.h"

/* Seeded by each test's main so that a failure reproduces. */
static ct_rng rng;
static double worst;

static int irand(int lo, int hi)
{
	return lo + (int)ct_rng_below(&rng, (uint64_t)(hi - lo + 1));
}

/* Run g with synthetic weights on n random images; compare each listed output (raw) with
 * the reference. Returns the largest relative error, or INFINITY on an engine error. */
static double check(const ct_graph *g, const char *outputs, int n, ct_pool pool)
{
	if (g->err) {
		diag("graph error: %s", ct_last_error());
		return INFINITY;
	}
	ct_weights w = { 0 };
	if (ct_graph_testweights(g, &w))
		return INFINITY;
	ct_net *net = ct_net_new(g, &w, outputs, pool);
	if (!net) {
		diag("net: %s", ct_last_error());
		ct_weights_free(&w);
		return INFINITY;
	}
	size_t nin = (size_t)n * g->in_h * g->in_w * g->in_c;
	ct_tensor x;
	ct_tensor_alloc4(&x, CT_F32, n, g->in_h, g->in_w, g->in_c);
	double *xd = malloc(nin * sizeof *xd);
	for (size_t i = 0; i < nin; i++)
		xd[i] = ((float *)x.data)[i] = (float)ct_rng_range(&rng, -2, 2);
	double err = 0;
	if (ct_net_run(net, &x)) {
		diag("run: %s", ct_last_error());
		err = INFINITY;
	}
	int upto = 0;
	for (int i = 0; i < ct_net_noutputs(net); i++) {
		int id = ct_graph_find(g, ct_net_output_name(net, i));
		upto = id > upto ? id : upto;
	}
	double **ref = ref_run(g, &w, n, xd, upto);
	for (int i = 0; err == 0 && i < ct_net_noutputs(net); i++) {
		const ct_node *nd = &g->nodes[ct_graph_find(g, ct_net_output_name(net, i))];
		const double *r = ref[nd - g->nodes];
		ct_tensor o;
		ct_net_output(net, i, &o);
		double e;
		if (pool == CT_POOL_NONE) {
			e = rel_err(o.data, r, (size_t)n * nd->h * nd->w * nd->c);
		} else {
			double *pr = calloc((size_t)n * nd->c, sizeof *pr);
			for (int b = 0; b < n; b++)
				for (int c = 0; c < nd->c; c++) {
					double m = -DBL_MAX, s = 0;
					for (int q = 0; q < nd->h * nd->w; q++) {
						double v = r[((size_t)b * nd->h * nd->w + q) * nd->c + c];
						m = v > m ? v : m;
						s += v;
					}
					pr[(size_t)b * nd->c + c] = pool == CT_POOL_MAX ? m : s / (nd->h * nd->w);
				}
			e = rel_err(o.data, pr, (size_t)n * nd->c);
			free(pr);
		}
		err = e > err ? e : err;
	}
	ref_free(g, ref);
	free(xd);
	ct_tensor_free(&x);
	ct_net_free(net);
	ct_weights_free(&w);
	worst = err > worst ? err : worst;
	return err;
}

#endif
