/* densenet121.c - DenseNet121(include_top=False) as in keras-applications densenet.py (Huang et
 * al. 2017): layer names with '/' in the stem (conv1/conv, conv1/bn), conv2_block1_0_bn ...,
 * BN epsilon 1.001e-5, growth rate 32, blocks 6-12-24-16, compression 0.5. */
#include "models/models.h"
#include "core/error.h"

#include <stdio.h>

#define BN_EPS 1.001e-5f

/* conv_block(): BN-relu-1x1 (4 x 32) - BN-relu-3x3 (32), concatenated to the input. */
static int conv_block(ct_graph *g, int x, const char *name)
{
	char nm[96]; /* name (< 64, a node name) + suffix */
	snprintf(nm, sizeof nm, "%s_0_bn", name);
	int y = ct_graph_batchnorm(g, nm, x, BN_EPS, 1, 1);
	snprintf(nm, sizeof nm, "%s_0_relu", name);
	y = ct_graph_relu(g, nm, y);
	snprintf(nm, sizeof nm, "%s_1_conv", name);
	y = ct_graph_conv2d(g, nm, y, 128, 1, 1, 1, 1, 0, 0, CT_ACT_NONE);
	snprintf(nm, sizeof nm, "%s_1_bn", name);
	y = ct_graph_batchnorm(g, nm, y, BN_EPS, 1, 1);
	snprintf(nm, sizeof nm, "%s_1_relu", name);
	y = ct_graph_relu(g, nm, y);
	snprintf(nm, sizeof nm, "%s_2_conv", name);
	y = ct_graph_conv2d(g, nm, y, 32, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	int in[2] = { x, y };
	snprintf(nm, sizeof nm, "%s_concat", name);
	return ct_graph_concat(g, nm, 2, in);
}

static int dense_block(ct_graph *g, int x, int blocks, const char *name)
{
	char nm[64];
	for (int i = 1; i <= blocks; i++) {
		snprintf(nm, sizeof nm, "%s_block%d", name, i);
		x = conv_block(g, x, nm);
	}
	return x;
}

/* transition_block(): BN-relu-1x1 (half the channels) - 2x2 average pool, stride 2. */
static int transition_block(ct_graph *g, int x, const char *name)
{
	char nm[64];
	if (x < 0 || g->err)
		return -1;
	int c = g->nodes[x].c / 2;
	snprintf(nm, sizeof nm, "%s_bn", name);
	x = ct_graph_batchnorm(g, nm, x, BN_EPS, 1, 1);
	snprintf(nm, sizeof nm, "%s_relu", name);
	x = ct_graph_relu(g, nm, x);
	snprintf(nm, sizeof nm, "%s_conv", name);
	x = ct_graph_conv2d(g, nm, x, c, 1, 1, 1, 1, 0, 0, CT_ACT_NONE);
	snprintf(nm, sizeof nm, "%s_pool", name);
	return ct_graph_pool(g, nm, CT_OP_AVGPOOL, x, 2, 2, 2, 2, 0);
}

ct_graph *ct_densenet121_build(void)
{
	ct_graph *g = ct_graph_new("densenet121");
	if (!g)
		return NULL;
	g->prep = CT_PREP_TORCH;
	snprintf(g->default_output, sizeof g->default_output, "relu");
	int x = ct_graph_input(g, "input_1", 224, 224, 3);
	/* the two ZeroPadding2D are unnamed in Keras (auto-numbered, no weights) */
	x = ct_graph_zeropad(g, "zero_padding2d_1", x, 3, 3, 3, 3);
	x = ct_graph_conv2d(g, "conv1/conv", x, 64, 7, 7, 2, 2, 0, 0, CT_ACT_NONE);
	x = ct_graph_batchnorm(g, "conv1/bn", x, BN_EPS, 1, 1);
	x = ct_graph_relu(g, "conv1/relu", x);
	x = ct_graph_zeropad(g, "zero_padding2d_2", x, 1, 1, 1, 1);
	x = ct_graph_pool(g, "pool1", CT_OP_MAXPOOL, x, 3, 3, 2, 2, 0);
	x = dense_block(g, x, 6, "conv2");
	x = transition_block(g, x, "pool2");
	x = dense_block(g, x, 12, "conv3");
	x = transition_block(g, x, "pool3");
	x = dense_block(g, x, 24, "conv4");
	x = transition_block(g, x, "pool4");
	x = dense_block(g, x, 16, "conv5");
	x = ct_graph_batchnorm(g, "bn", x, BN_EPS, 1, 1);
	ct_graph_relu(g, "relu", x);
	if (g->err) {
		ct_error_prefix("building 'densenet121'");
		ct_graph_free(g);
		return NULL;
	}
	return g;
}
