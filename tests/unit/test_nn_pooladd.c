/* test_nn_pooladd.c - a pooling layer followed by an Add (Xception's entry flow:
 * MaxPool(x) + BN(conv1x1/s2(input))) run as one step that adds as it writes: the same bits
 * as the graph run unfused (every layer an output), for max and average pooling, either
 * order of the Add's inputs, batch 1 and 3, 1 and 2 threads, and every SIMD kernel; plus a
 * check of the unfused path itself against a plain loop. */
#include "test.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/gemm.h"
#include "nn/graph.h"
#include "nn/net.h"

#include <float.h>
#include <math.h>

static ct_rng rng;

/* in -> c0 (3x3, relu) -> sepconv -> pool 3x3/2 same -> add(pool, bn(conv 1x1/2 (c0)))
 * -> relu -> conv 1x1: 23 x 21 x 20 input, 37 channels after c0 (a ragged vector tail). */
static ct_graph *net_graph(ct_op pool, int swap)
{
	ct_graph *g = ct_graph_new("tiny_pooladd");
	int x = ct_graph_input(g, "in", 23, 21, 20);
	int a = ct_graph_conv2d(g, "c0", x, 37, 3, 3, 1, 1, 1, 1, CT_ACT_RELU);
	/* the residual first, as Keras builds Xception (else the Add would go into its conv) */
	int r = ct_graph_conv2d(g, "res", a, 37, 1, 1, 2, 2, 1, 0, CT_ACT_NONE);
	int rb = ct_graph_batchnorm(g, "res_bn", r, 1e-3f, 1, 1);
	int s = ct_graph_sepconv2d(g, "s1", a, 37, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	int p = ct_graph_pool(g, "pool", pool, s, 3, 3, 2, 2, 1);
	int sum = ct_graph_add(g, "add", 2, swap ? (int[]){ rb, p } : (int[]){ p, rb });
	int y = ct_graph_relu(g, "relu", sum);
	ct_graph_conv2d(g, "out", y, 19, 1, 1, 1, 1, 1, 1, CT_ACT_NONE);
	return g;
}

static int count_op(const ct_net *net, const char *op)
{
	int c = 0;
	for (int i = 0; i < ct_net_nsteps(net); i++) {
		ct_net_step_info si;
		ct_net_step_get(net, i, &si);
		c += !strcmp(si.op, op);
	}
	return c;
}

static void run_case(ct_op pool, int swap, const char *kname)
{
	ct_graph *g = net_graph(pool, swap);
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	ct_net *fast = ct_net_new(g, &w, "out", CT_POOL_NONE);
	/* the pool an output too: the Add runs as its own step, the rest as in fast */
	ct_net *plain = ct_net_new(g, &w, "pool,out", CT_POOL_NONE);
	/* every layer an output: nothing fused at all */
	ct_net *all = ct_net_new(g, &w, "c0,res,res_bn,s1,pool,add,relu,out", CT_POOL_NONE);
	const char *pname = pool == CT_OP_MAXPOOL ? "max" : "avg";
	if (!ok(fast && plain && all, "%s %s: the nets bind", kname, pname))
		return;
	ok(count_op(fast, "add") == 0 && count_op(plain, "add") == 1,
	   "%s %s%s: the Add runs inside the pool step (%d add steps fused, %d plain)", kname, pname,
	   swap ? " (inputs swapped)" : "", count_op(fast, "add"), count_op(plain, "add"));
	const int n = 3;
	ct_tensor in, o;
	ct_tensor_alloc4(&in, CT_F32, n, 23, 21, 20);
	for (int64_t i = 0; i < ct_tensor_numel(&in); i++)
		((float *)in.data)[i] = (float)ct_rng_range(&rng, -1, 1);
	/* the unfused Add against a loop over the pool and BN outputs */
	t_set_threads(1);
	ct_net_run(all, &in);
	ct_tensor tp, tr, ta;
	ct_net_output(all, 4, &tp);
	ct_net_output(all, 2, &tr);
	ct_net_output(all, 5, &ta);
	size_t na = (size_t)ct_tensor_numel(&ta);
	int same = 1;
	for (size_t i = 0; i < na; i++)
		same &= ((float *)ta.data)[i] == ((float *)tp.data)[i] + ((float *)tr.data)[i];
	ok(same && na == (size_t)n * 12 * 11 * 37, "%s %s: the unfused Add is pool + BN (%zu values)",
	   kname, pname, na);
	ct_net_run(plain, &in);
	ct_net_output(plain, 1, &o);
	size_t cnt = (size_t)ct_tensor_numel(&o);
	float *ref = malloc(cnt * sizeof *ref);
	memcpy(ref, o.data, cnt * sizeof *ref);
	for (int nt = 1; nt <= 2; nt++) {
		t_set_threads(nt);
		ct_net_run(fast, &in);
		ct_net_output(fast, 0, &o);
		ok((size_t)ct_tensor_numel(&o) == cnt && !memcmp(o.data, ref, cnt * sizeof *ref),
		   "%s %s: batch 3, %d thread(s): the same bits as unfused", kname, pname, nt);
	}
	/* one image alone on 2 threads (the layer split over the threads) */
	ct_tensor one = in;
	one.shape[0] = 1;
	t_set_threads(2);
	ct_net_run(fast, &one);
	ct_net_output(fast, 0, &o);
	ok(!memcmp(o.data, ref, cnt / n * sizeof *ref),
	   "%s %s: batch 1, 2 threads: the same bits as unfused", kname, pname);
	t_set_threads(1);
	free(ref);
	ct_tensor_free(&in);
	ct_net_free(fast);
	ct_net_free(plain);
	ct_net_free(all);
	ct_weights_free(&w);
	ct_graph_free(g);
}

int main(void)
{
	ct_rng_init(&rng, 11, 0);
	const char *names[] = { "avx512", "avx2", "generic" };
	for (int i = 0; i < 3; i++) {
		if (ct_gemm_kernel_set(names[i])) {
			diag("kernel %s not supported here, skipped", names[i]);
			continue;
		}
		run_case(CT_OP_MAXPOOL, 0, names[i]);
		run_case(CT_OP_AVGPOOL, 1, names[i]);
	}
	TEST_DONE();
}
