/* vgg16.c - VGG16(include_top=False) as in keras-applications vgg16.py (Simonyan & Zisserman
 * 2014): block1_conv1 .. block5_pool, 3x3 'same' convolutions with bias and ReLU. */
#include "models/models.h"
#include "core/error.h"

#include <stdio.h>

ct_graph *ct_vgg16_build(void)
{
	static const int convs[5] = { 2, 2, 3, 3, 3 }, filters[5] = { 64, 128, 256, 512, 512 };
	ct_graph *g = ct_graph_new("vgg16");
	if (!g)
		return NULL;
	g->prep = CT_PREP_CAFFE;
	snprintf(g->default_output, sizeof g->default_output, "block5_pool");
	int x = ct_graph_input(g, "input_1", 224, 224, 3);
	for (int b = 0; b < 5; b++) {
		char nm[64];
		for (int c = 0; c < convs[b]; c++) {
			snprintf(nm, sizeof nm, "block%d_conv%d", b + 1, c + 1);
			x = ct_graph_conv2d(g, nm, x, filters[b], 3, 3, 1, 1, 1, 1, CT_ACT_RELU);
		}
		snprintf(nm, sizeof nm, "block%d_pool", b + 1);
		x = ct_graph_pool(g, nm, CT_OP_MAXPOOL, x, 2, 2, 2, 2, 0);
	}
	if (g->err) {
		ct_error_prefix("building 'vgg16'");
		ct_graph_free(g);
		return NULL;
	}
	return g;
}
