/* resnet50.c - ResNet50(include_top=False) as in keras-applications resnet_common.py / tf.keras
 * resnet.py (He et al. 2015): the naming of the official notop file
 * keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5
 * (conv1_conv, conv2_block1_1_conv, ...; every Conv2D has a bias, BN epsilon 1.001e-5). */
#include "models/models.h"
#include "core/error.h"

#include <stdio.h>

#define BN_EPS 1.001e-5f

/* conv -> BN [-> relu]: layers <name>_conv, <name>_bn, <name>_relu. */
static int conv_bn(ct_graph *g, const char *name, int x, int filters, int k, int s, int same,
		   int relu)
{
	char nm[64];
	snprintf(nm, sizeof nm, "%s_conv", name);
	x = ct_graph_conv2d(g, nm, x, filters, k, k, s, s, same, 1, CT_ACT_NONE);
	snprintf(nm, sizeof nm, "%s_bn", name);
	x = ct_graph_batchnorm(g, nm, x, BN_EPS, 1, 1);
	if (!relu)
		return x;
	snprintf(nm, sizeof nm, "%s_relu", name);
	return ct_graph_relu(g, nm, x);
}

/* resnet_common block1(): bottleneck 1x1 (stride here, Caffe style) - 3x3 - 1x1 (x4), with a
 * projection shortcut <name>_0_conv/_0_bn in the first block of a stage. */
static int block1(ct_graph *g, int x, int filters, int stride, int conv_shortcut,
		  const char *name)
{
	char nm[64];
	int sc = x;
	if (conv_shortcut) {
		snprintf(nm, sizeof nm, "%s_0", name);
		sc = conv_bn(g, nm, x, 4 * filters, 1, stride, 0, 0);
	}
	snprintf(nm, sizeof nm, "%s_1", name);
	x = conv_bn(g, nm, x, filters, 1, stride, 0, 1);
	snprintf(nm, sizeof nm, "%s_2", name);
	x = conv_bn(g, nm, x, filters, 3, 1, 1, 1);
	snprintf(nm, sizeof nm, "%s_3", name);
	x = conv_bn(g, nm, x, 4 * filters, 1, 1, 0, 0);
	int in[2] = { sc, x };
	snprintf(nm, sizeof nm, "%s_add", name);
	x = ct_graph_add(g, nm, 2, in);
	snprintf(nm, sizeof nm, "%s_out", name);
	return ct_graph_relu(g, nm, x);
}

static int stack1(ct_graph *g, int x, int filters, int blocks, int stride1, const char *name)
{
	char nm[64];
	snprintf(nm, sizeof nm, "%s_block1", name);
	x = block1(g, x, filters, stride1, 1, nm);
	for (int i = 2; i <= blocks; i++) {
		snprintf(nm, sizeof nm, "%s_block%d", name, i);
		x = block1(g, x, filters, 1, 0, nm);
	}
	return x;
}

ct_graph *ct_resnet50_build(void)
{
	ct_graph *g = ct_graph_new("resnet50");
	if (!g)
		return NULL;
	g->prep = CT_PREP_CAFFE;
	snprintf(g->default_output, sizeof g->default_output, "conv5_block3_out");
	int x = ct_graph_input(g, "input_1", 224, 224, 3);
	x = ct_graph_zeropad(g, "conv1_pad", x, 3, 3, 3, 3);
	x = conv_bn(g, "conv1", x, 64, 7, 2, 0, 1);
	x = ct_graph_zeropad(g, "pool1_pad", x, 1, 1, 1, 1);
	x = ct_graph_pool(g, "pool1_pool", CT_OP_MAXPOOL, x, 3, 3, 2, 2, 0);
	x = stack1(g, x, 64, 3, 1, "conv2");
	x = stack1(g, x, 128, 4, 2, "conv3");
	x = stack1(g, x, 256, 6, 2, "conv4");
	stack1(g, x, 512, 3, 2, "conv5");
	if (g->err) {
		ct_error_prefix("building 'resnet50'");
		ct_graph_free(g);
		return NULL;
	}
	return g;
}
