/* xception.c - Xception(include_top=False) as in keras-applications xception.py (Chollet 2017):
 * named layers block1_conv1 .. block14_sepconv2_act; the four projection shortcuts and the
 * adds are unnamed in Keras and get Keras 2's auto names (conv2d_1..4,
 * batch_normalization_1..4, add_1..12). SeparableConv2D layers have no bias. */
#include "models/models.h"
#include "core/error.h"

#include <stdio.h>

#define BN_EPS 1e-3f

typedef struct counters {
	int conv, bn, add;
} counters;

/* [relu ->] SeparableConv2D 3x3 'same' -> BN: <p>_act, <p>, <p>_bn. */
static int sep_bn(ct_graph *g, int x, int filters, const char *act, const char *p)
{
	char nm[64];
	if (act)
		x = ct_graph_relu(g, act, x);
	x = ct_graph_sepconv2d(g, p, x, filters, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	snprintf(nm, sizeof nm, "%s_bn", p);
	return ct_graph_batchnorm(g, nm, x, BN_EPS, 1, 1);
}

static int add2(ct_graph *g, counters *k, int a, int b)
{
	char nm[64];
	int in[2] = { a, b };
	snprintf(nm, sizeof nm, "add_%d", ++k->add);
	return ct_graph_add(g, nm, 2, in);
}

/* The projection shortcut: Conv2D 1x1 stride 2 'same', no bias -> BN. */
static int shortcut(ct_graph *g, counters *k, int x, int filters)
{
	char nm[64];
	snprintf(nm, sizeof nm, "conv2d_%d", ++k->conv);
	x = ct_graph_conv2d(g, nm, x, filters, 1, 1, 2, 2, 1, 0, CT_ACT_NONE);
	snprintf(nm, sizeof nm, "batch_normalization_%d", ++k->bn);
	return ct_graph_batchnorm(g, nm, x, BN_EPS, 1, 1);
}

/* Entry-flow block b (2..4) and block 13: two separable convs, a 3x3/2 'same' max pool, plus
 * the projection of the block input. Block 2 has no activation before its first conv. */
static int down_block(ct_graph *g, counters *k, int x, int b, int f1, int f2)
{
	char act1[64], p1[64], act2[64], p2[64], pool[64];
	int res = shortcut(g, k, x, f2);
	snprintf(act1, sizeof act1, "block%d_sepconv1_act", b);
	snprintf(p1, sizeof p1, "block%d_sepconv1", b);
	snprintf(act2, sizeof act2, "block%d_sepconv2_act", b);
	snprintf(p2, sizeof p2, "block%d_sepconv2", b);
	snprintf(pool, sizeof pool, "block%d_pool", b);
	x = sep_bn(g, x, f1, b == 2 ? NULL : act1, p1);
	x = sep_bn(g, x, f2, act2, p2);
	x = ct_graph_pool(g, pool, CT_OP_MAXPOOL, x, 3, 3, 2, 2, 1);
	return add2(g, k, x, res);
}

ct_graph *ct_xception_build(void)
{
	counters k = { 0 };
	char nm[64], act[64];
	ct_graph *g = ct_graph_new("xception");
	if (!g)
		return NULL;
	g->prep = CT_PREP_TF;
	snprintf(g->default_output, sizeof g->default_output, "block14_sepconv2_act");
	int x = ct_graph_input(g, "input_1", 299, 299, 3);
	x = ct_graph_conv2d(g, "block1_conv1", x, 32, 3, 3, 2, 2, 0, 0, CT_ACT_NONE);
	x = ct_graph_batchnorm(g, "block1_conv1_bn", x, BN_EPS, 1, 1);
	x = ct_graph_relu(g, "block1_conv1_act", x);
	x = ct_graph_conv2d(g, "block1_conv2", x, 64, 3, 3, 1, 1, 0, 0, CT_ACT_NONE);
	x = ct_graph_batchnorm(g, "block1_conv2_bn", x, BN_EPS, 1, 1);
	x = ct_graph_relu(g, "block1_conv2_act", x);
	x = down_block(g, &k, x, 2, 128, 128);
	x = down_block(g, &k, x, 3, 256, 256);
	x = down_block(g, &k, x, 4, 728, 728);
	/* middle flow: 8 residual blocks of three separable convs at 19x19x728 */
	for (int b = 5; b <= 12; b++) {
		int res = x;
		for (int j = 1; j <= 3; j++) {
			snprintf(act, sizeof act, "block%d_sepconv%d_act", b, j);
			snprintf(nm, sizeof nm, "block%d_sepconv%d", b, j);
			x = sep_bn(g, x, 728, act, nm);
		}
		x = add2(g, &k, x, res);
	}
	x = down_block(g, &k, x, 13, 728, 1024);
	x = sep_bn(g, x, 1536, NULL, "block14_sepconv1");
	x = ct_graph_relu(g, "block14_sepconv1_act", x);
	x = sep_bn(g, x, 2048, NULL, "block14_sepconv2");
	ct_graph_relu(g, "block14_sepconv2_act", x);
	if (g->err) {
		ct_error_prefix("building 'xception'");
		ct_graph_free(g);
		return NULL;
	}
	return g;
}
