/* inception_v3.c - InceptionV3(include_top=False) as in keras-applications inception_v3.py
 * (Szegedy et al. 2015). Layers are created in the Keras code's order so that Keras 2.0's
 * auto-numbering (conv2d_1, batch_normalization_1, activation_1, ...) matches the
 * official notop weights and the nsfwjs TF.js export. */
#include "models/models.h"
#include "core/error.h"

#include <stdio.h>

typedef struct counters {
	int conv, bn, act, maxpool, avgpool, concat;
} counters;

/* keras-applications conv2d_bn(): Conv2D(use_bias=False) -> BatchNormalization(scale=False,
 * epsilon=1e-3) -> Activation('relu'); padding defaults to 'same'. */
static int conv2d_bn(ct_graph *g, counters *k, int x, int filters, int kh, int kw, int s,
		     int same)
{
	char nm[64];
	snprintf(nm, sizeof nm, "conv2d_%d", ++k->conv);
	x = ct_graph_conv2d(g, nm, x, filters, kh, kw, s, s, same, 0, CT_ACT_NONE);
	snprintf(nm, sizeof nm, "batch_normalization_%d", ++k->bn);
	x = ct_graph_batchnorm(g, nm, x, 1e-3f, 0, 1);
	snprintf(nm, sizeof nm, "activation_%d", ++k->act);
	return ct_graph_relu(g, nm, x);
}

static int maxpool(ct_graph *g, counters *k, int x)
{
	char nm[64];
	snprintf(nm, sizeof nm, "max_pooling2d_%d", ++k->maxpool);
	return ct_graph_pool(g, nm, CT_OP_MAXPOOL, x, 3, 3, 2, 2, 0);
}

static int avgpool(ct_graph *g, counters *k, int x)
{
	char nm[64];
	snprintf(nm, sizeof nm, "average_pooling2d_%d", ++k->avgpool);
	return ct_graph_pool(g, nm, CT_OP_AVGPOOL, x, 3, 3, 1, 1, 1);
}

static int concat(ct_graph *g, const char *name, int n, const int *in)
{
	return ct_graph_concat(g, name, n, in);
}

ct_graph *ct_inception_v3_build(void)
{
	counters k = { 0 };
	char nm[64];
	ct_graph *g = ct_graph_new("inception_v3");
	if (!g)
		return NULL;
	g->prep = CT_PREP_TF;
	snprintf(g->default_output, sizeof g->default_output, "mixed10");

	int x = ct_graph_input(g, "input_1", 299, 299, 3);
	x = conv2d_bn(g, &k, x, 32, 3, 3, 2, 0);
	x = conv2d_bn(g, &k, x, 32, 3, 3, 1, 0);
	x = conv2d_bn(g, &k, x, 64, 3, 3, 1, 1);
	x = maxpool(g, &k, x);
	x = conv2d_bn(g, &k, x, 80, 1, 1, 1, 0);
	x = conv2d_bn(g, &k, x, 192, 3, 3, 1, 0);
	x = maxpool(g, &k, x);

	/* mixed0..2: 35 x 35 x 256/288/288 */
	for (int i = 0; i < 3; i++) {
		int b[4];
		b[0] = conv2d_bn(g, &k, x, 64, 1, 1, 1, 1);
		b[1] = conv2d_bn(g, &k, x, 48, 1, 1, 1, 1);
		b[1] = conv2d_bn(g, &k, b[1], 64, 5, 5, 1, 1);
		b[2] = conv2d_bn(g, &k, x, 64, 1, 1, 1, 1);
		b[2] = conv2d_bn(g, &k, b[2], 96, 3, 3, 1, 1);
		b[2] = conv2d_bn(g, &k, b[2], 96, 3, 3, 1, 1);
		b[3] = avgpool(g, &k, x);
		b[3] = conv2d_bn(g, &k, b[3], i == 0 ? 32 : 64, 1, 1, 1, 1);
		snprintf(nm, sizeof nm, "mixed%d", i);
		x = concat(g, nm, 4, b);
	}

	/* mixed3: 17 x 17 x 768 */
	{
		int b[3];
		b[0] = conv2d_bn(g, &k, x, 384, 3, 3, 2, 0);
		b[1] = conv2d_bn(g, &k, x, 64, 1, 1, 1, 1);
		b[1] = conv2d_bn(g, &k, b[1], 96, 3, 3, 1, 1);
		b[1] = conv2d_bn(g, &k, b[1], 96, 3, 3, 2, 0);
		b[2] = maxpool(g, &k, x);
		x = concat(g, "mixed3", 3, b);
	}

	/* mixed4..7: 17 x 17 x 768 with factorised 1x7 / 7x1 convolutions */
	for (int i = 4; i <= 7; i++) {
		int c = i == 4 ? 128 : i == 7 ? 192 : 160;
		int b[4];
		b[0] = conv2d_bn(g, &k, x, 192, 1, 1, 1, 1);
		b[1] = conv2d_bn(g, &k, x, c, 1, 1, 1, 1);
		b[1] = conv2d_bn(g, &k, b[1], c, 1, 7, 1, 1);
		b[1] = conv2d_bn(g, &k, b[1], 192, 7, 1, 1, 1);
		b[2] = conv2d_bn(g, &k, x, c, 1, 1, 1, 1);
		b[2] = conv2d_bn(g, &k, b[2], c, 7, 1, 1, 1);
		b[2] = conv2d_bn(g, &k, b[2], c, 1, 7, 1, 1);
		b[2] = conv2d_bn(g, &k, b[2], c, 7, 1, 1, 1);
		b[2] = conv2d_bn(g, &k, b[2], 192, 1, 7, 1, 1);
		b[3] = avgpool(g, &k, x);
		b[3] = conv2d_bn(g, &k, b[3], 192, 1, 1, 1, 1);
		snprintf(nm, sizeof nm, "mixed%d", i);
		x = concat(g, nm, 4, b);
	}

	/* mixed8: 8 x 8 x 1280 */
	{
		int b[3];
		b[0] = conv2d_bn(g, &k, x, 192, 1, 1, 1, 1);
		b[0] = conv2d_bn(g, &k, b[0], 320, 3, 3, 2, 0);
		b[1] = conv2d_bn(g, &k, x, 192, 1, 1, 1, 1);
		b[1] = conv2d_bn(g, &k, b[1], 192, 1, 7, 1, 1);
		b[1] = conv2d_bn(g, &k, b[1], 192, 7, 1, 1, 1);
		b[1] = conv2d_bn(g, &k, b[1], 192, 3, 3, 2, 0);
		b[2] = maxpool(g, &k, x);
		x = concat(g, "mixed8", 3, b);
	}

	/* mixed9, mixed10: 8 x 8 x 2048 */
	for (int i = 0; i < 2; i++) {
		int b[4], t[2];
		b[0] = conv2d_bn(g, &k, x, 320, 1, 1, 1, 1);
		b[1] = conv2d_bn(g, &k, x, 384, 1, 1, 1, 1);
		t[0] = conv2d_bn(g, &k, b[1], 384, 1, 3, 1, 1);
		t[1] = conv2d_bn(g, &k, b[1], 384, 3, 1, 1, 1);
		snprintf(nm, sizeof nm, "mixed9_%d", i);
		b[1] = concat(g, nm, 2, t);
		b[2] = conv2d_bn(g, &k, x, 448, 1, 1, 1, 1);
		b[2] = conv2d_bn(g, &k, b[2], 384, 3, 3, 1, 1);
		t[0] = conv2d_bn(g, &k, b[2], 384, 1, 3, 1, 1);
		t[1] = conv2d_bn(g, &k, b[2], 384, 3, 1, 1, 1);
		snprintf(nm, sizeof nm, "concatenate_%d", ++k.concat);
		b[2] = concat(g, nm, 2, t);
		b[3] = avgpool(g, &k, x);
		b[3] = conv2d_bn(g, &k, b[3], 192, 1, 1, 1, 1);
		snprintf(nm, sizeof nm, "mixed%d", 9 + i);
		x = concat(g, nm, 4, b);
	}
	if (g->err) {
		ct_error_prefix("building 'inception_v3'");
		ct_graph_free(g);
		return NULL;
	}
	return g;
}
