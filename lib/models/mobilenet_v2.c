/* mobilenet_v2.c - MobileNetV2(alpha=1.0, include_top=False) as in keras-applications
 * mobilenet_v2.py (Sandler et al. 2018): layer names and paddings match the Keras model. */
#include "models/models.h"
#include "core/error.h"

#include <stdio.h>

/* keras-applications correct_pad(): the ZeroPadding2D before a stride-2 3x3 'valid'
 * convolution, ((1-adj, 1), (1-adj, 1)) with adj = 1 for an even size. */
static int correct_pad(ct_graph *g, const char *name, int x)
{
	if (x < 0 || g->err)
		return -1;
	const ct_node *n = &g->nodes[x];
	int at = n->h % 2 == 0, al = n->w % 2 == 0;
	return ct_graph_zeropad(g, name, x, 1 - at, 1, 1 - al, 1);
}

static int inverted_res_block(ct_graph *g, int inputs, int expansion, int stride, int filters,
			      int block_id)
{
	char prefix[32], nm[64];
	if (inputs < 0 || g->err)
		return -1;
	int in_channels = g->nodes[inputs].c;
	int x = inputs;
	if (block_id) {
		snprintf(prefix, sizeof prefix, "block_%d_", block_id);
		snprintf(nm, sizeof nm, "%sexpand", prefix);
		x = ct_graph_conv2d(g, nm, x, expansion * in_channels, 1, 1, 1, 1, 1, 0, CT_ACT_NONE);
		snprintf(nm, sizeof nm, "%sexpand_BN", prefix);
		x = ct_graph_batchnorm(g, nm, x, 1e-3f, 1, 1);
		snprintf(nm, sizeof nm, "%sexpand_relu", prefix);
		x = ct_graph_relu6(g, nm, x);
	} else {
		snprintf(prefix, sizeof prefix, "expanded_conv_");
	}
	if (stride == 2) {
		snprintf(nm, sizeof nm, "%spad", prefix);
		x = correct_pad(g, nm, x);
	}
	snprintf(nm, sizeof nm, "%sdepthwise", prefix);
	x = ct_graph_dwconv2d(g, nm, x, 3, 3, stride, stride, stride == 1, 0);
	snprintf(nm, sizeof nm, "%sdepthwise_BN", prefix);
	x = ct_graph_batchnorm(g, nm, x, 1e-3f, 1, 1);
	snprintf(nm, sizeof nm, "%sdepthwise_relu", prefix);
	x = ct_graph_relu6(g, nm, x);
	snprintf(nm, sizeof nm, "%sproject", prefix);
	x = ct_graph_conv2d(g, nm, x, filters, 1, 1, 1, 1, 1, 0, CT_ACT_NONE);
	snprintf(nm, sizeof nm, "%sproject_BN", prefix);
	x = ct_graph_batchnorm(g, nm, x, 1e-3f, 1, 1);
	if (in_channels == filters && stride == 1) {
		int in2[2] = { inputs, x };
		snprintf(nm, sizeof nm, "%sadd", prefix);
		x = ct_graph_add(g, nm, 2, in2);
	}
	return x;
}

ct_graph *ct_mobilenet_v2_build(void)
{
	static const int cfg[][4] = {
		/* filters, stride, expansion, block_id */
		{ 16, 1, 1, 0 },   { 24, 2, 6, 1 },   { 24, 1, 6, 2 },   { 32, 2, 6, 3 },
		{ 32, 1, 6, 4 },   { 32, 1, 6, 5 },   { 64, 2, 6, 6 },   { 64, 1, 6, 7 },
		{ 64, 1, 6, 8 },   { 64, 1, 6, 9 },   { 96, 1, 6, 10 },  { 96, 1, 6, 11 },
		{ 96, 1, 6, 12 },  { 160, 2, 6, 13 }, { 160, 1, 6, 14 }, { 160, 1, 6, 15 },
		{ 320, 1, 6, 16 },
	};
	ct_graph *g = ct_graph_new("mobilenet_v2");
	if (!g)
		return NULL;
	g->prep = CT_PREP_TF;
	snprintf(g->default_output, sizeof g->default_output, "out_relu");
	int x = ct_graph_input(g, "input_1", 224, 224, 3);
	x = correct_pad(g, "Conv1_pad", x);
	x = ct_graph_conv2d(g, "Conv1", x, 32, 3, 3, 2, 2, 0, 0, CT_ACT_NONE);
	x = ct_graph_batchnorm(g, "bn_Conv1", x, 1e-3f, 1, 1);
	x = ct_graph_relu6(g, "Conv1_relu", x);
	for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++)
		x = inverted_res_block(g, x, cfg[i][2], cfg[i][1], cfg[i][0], cfg[i][3]);
	x = ct_graph_conv2d(g, "Conv_1", x, 1280, 1, 1, 1, 1, 0, 0, CT_ACT_NONE);
	x = ct_graph_batchnorm(g, "Conv_1_bn", x, 1e-3f, 1, 1);
	ct_graph_relu6(g, "out_relu", x);
	if (g->err) {
		ct_error_prefix("building 'mobilenet_v2'");
		ct_graph_free(g);
		return NULL;
	}
	return g;
}
