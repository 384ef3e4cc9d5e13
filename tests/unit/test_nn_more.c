/* test_nn_more.c - engine additions for the ResNet50/VGG16/DenseNet121/Xception backbones:
 * SeparableConv2D (one Keras layer, two engine steps) against the double reference
 * interpreter alone and fused with BN, activation, Add; Keras' 'caffe' and 'torch'
 * preprocessing of uint8 input element by element; Keras 1 weight names bound by position. */
#include "test.h"
#include "nn_check.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/net.h"
#include "nn/testweights.h"

static void sepconv_tests(void)
{
	double emax = 0;
	int okall = 1;
	for (int t = 0; t < 16; t++) {
		ct_graph *g = ct_graph_new("t");
		int h = irand(3, 14), w = irand(3, 14), c = t < 8 ? irand(1, 20) : 16 * irand(1, 3);
		int k = t % 3 ? 3 : irand(1, 5), s = irand(1, 2), same = t % 2;
		int x = ct_graph_input(g, "in", h, w, c);
		ct_graph_sepconv2d(g, "sep", x, irand(1, 40), k, k, s, s, same, t % 4 == 0,
				   t % 5 == 1 ? CT_ACT_RELU : CT_ACT_NONE);
		double e = check(g, "sep", irand(1, 3), CT_POOL_NONE);
		if (!(e <= 1e-5)) {
			okall = 0;
			diag("sepconv %dx%dx%d k=%d s=%d same=%d: %.3g", h, w, c, k, s, same, e);
		}
		emax = e > emax ? e : emax;
		ct_graph_free(g);
	}
	diag("separable conv largest relative error %.3g", emax);
	ok(okall, "SeparableConv2D (k 1..5, stride 1/2, same/valid, bias, relu) matches the reference");

	/* Xception's pattern: relu -> sep -> BN -> relu -> sep -> BN -> maxpool 3/2 same (+) 1x1/2
	 * conv -> BN; every intermediate layer asked for as well (no fusion across outputs) */
	ct_graph *g = ct_graph_new("t");
	int x = ct_graph_input(g, "in", 13, 11, 8);
	int r = ct_graph_conv2d(g, "res", x, 24, 1, 1, 2, 2, 1, 0, CT_ACT_NONE);
	r = ct_graph_batchnorm(g, "res_bn", r, 1e-3f, 1, 1);
	int y = ct_graph_relu(g, "act1", x);
	y = ct_graph_sepconv2d(g, "sep1", y, 16, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	y = ct_graph_batchnorm(g, "sep1_bn", y, 1e-3f, 1, 1);
	y = ct_graph_relu(g, "act2", y);
	y = ct_graph_sepconv2d(g, "sep2", y, 24, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	y = ct_graph_batchnorm(g, "sep2_bn", y, 1e-3f, 1, 1);
	y = ct_graph_pool(g, "pool", CT_OP_MAXPOOL, y, 3, 3, 2, 2, 1);
	int in2[2] = { y, r };
	y = ct_graph_add(g, "add", 2, in2);
	/* the middle flow: relu -> sep -> BN, added to the block input */
	int z = ct_graph_relu(g, "act3", y);
	z = ct_graph_sepconv2d(g, "sep3", z, 24, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	z = ct_graph_batchnorm(g, "sep3_bn", z, 1e-3f, 1, 1);
	int in3[2] = { z, y };
	ct_graph_add(g, "add2", 2, in3);
	double e1 = check(g, "add2", 3, CT_POOL_NONE);
	double e2 = check(g, "sep1,sep1_bn,sep2,pool,add,sep3,add2", 2, CT_POOL_NONE);
	diag("xception pattern errors: fused %.3g, every layer %.3g", e1, e2);
	ok(e1 <= 1e-5 && e2 <= 1e-5,
	   "sepconv -> BN -> relu / maxpool / Add chains (Xception blocks) match, fused or not");
	/* the same net twice: no uninitialised scratch between the two steps */
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	ct_tensor t;
	ct_tensor_alloc4(&t, CT_U8, 2, 13, 11, 8);
	for (size_t i = 0; i < (size_t)2 * 13 * 11 * 8; i++)
		((uint8_t *)t.data)[i] = (uint8_t)irand(0, 255);
	float first[24 * 7 * 6 * 2];
	int same = 1;
	for (int rep = 0; rep < 3; rep++) {
		ct_net *net = ct_net_new(g, &w, "sep1", CT_POOL_NONE);
		ct_tensor o;
		ct_net_run(net, &t);
		ct_net_output(net, 0, &o);
		size_t bytes = (size_t)ct_tensor_numel(&o) * sizeof(float);
		if (rep == 0)
			memcpy(first, o.data, bytes < sizeof first ? bytes : sizeof first);
		else
			same &= !memcmp(first, o.data, bytes < sizeof first ? bytes : sizeof first);
		ct_net_free(net);
	}
	ok(same, "a separable conv output is the same in three fresh nets");
	ct_tensor_free(&t);
	ct_weights_free(&w);
	ct_graph_free(g);
}

/* The engine's preprocessing of uint8 RGB against Keras' preprocess_input steps in float32. */
static void prep_tests(void)
{
	static const struct {
		ct_prep prep;
		const char *name;
	} modes[] = { { CT_PREP_TF, "tf" }, { CT_PREP_CAFFE, "caffe" }, { CT_PREP_TORCH, "torch" },
		      { CT_PREP_NONE, "none" } };
	for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
		ct_graph *g = ct_graph_new("prep");
		g->prep = modes[m].prep;
		int x = ct_graph_input(g, "in", 5, 7, 3);
		ct_graph_relu(g, "id", x); /* something to plan; we read the input layer */
		ct_weights w = { 0 };
		ct_net *net = ct_net_new(g, &w, "in", CT_POOL_NONE);
		ct_tensor t, o;
		ct_tensor_alloc4(&t, CT_U8, 2, 5, 7, 3);
		uint8_t *p = t.data;
		for (int i = 0; i < 2 * 5 * 7 * 3; i++)
			p[i] = (uint8_t)(i * 37 + 11);
		p[0] = 0, p[1] = 255, p[2] = 128;
		int good = net && ct_net_run(net, &t) == 0 && ct_net_output(net, 0, &o) == 0;
		for (int i = 0; good && i < 2 * 5 * 7 * 3; i++) {
			int c = i % 3;
			float want;
			switch (modes[m].prep) {
			case CT_PREP_TF:
				want = (float)p[i] / 127.5f - 1.f;
				break;
			case CT_PREP_CAFFE: { /* x[..., ::-1]; x[..., c] -= mean[c] (BGR) */
				static const float mean[3] = { 103.939f, 116.779f, 123.68f };
				want = (float)p[i - c + 2 - c] - mean[c];
				break;
			}
			case CT_PREP_TORCH: { /* x /= 255; x -= mean; x /= std (RGB) */
				static const float mean[3] = { 0.485f, 0.456f, 0.406f };
				static const float sd[3] = { 0.229f, 0.224f, 0.225f };
				float v = (float)p[i] / 255.f;
				v -= mean[c];
				want = v / sd[c];
				break;
			}
			default:
				want = (float)p[i];
			}
			good = ((float *)o.data)[i] == want;
		}
		if (modes[m].prep == CT_PREP_CAFFE && good) /* pixel 0: R=0 G=255 B=128 */
			good = ((float *)o.data)[0] == 128.f - 103.939f &&
			       ((float *)o.data)[2] == 0.f - 123.68f;
		ok(good, "'%s' preprocessing of uint8 RGB equals Keras' float32 steps (%s)",
		   modes[m].name, ct_prep_name(modes[m].prep));
		ct_tensor_free(&t);
		ct_net_free(net);
		ct_graph_free(g);
	}
}

/* Keras 1 files name tensors "<layer>_W_1:0", "<layer>_b_1:0": bound in Keras order. */
static void legacy_names_tests(void)
{
	ct_graph *g = ct_graph_new("t");
	int x = ct_graph_input(g, "in", 6, 6, 3);
	x = ct_graph_conv2d(g, "conv", x, 4, 3, 3, 1, 1, 1, 1, CT_ACT_RELU);
	ct_graph_batchnorm(g, "bn", x, 1e-3f, 1, 1);
	ct_weights ref = { 0 }, old = { 0 }, mixed = { 0 };
	ct_graph_testweights(g, &ref);
	static const char *k1[2][4] = { { "conv_W_1:0", "conv_b_1:0" },
					{ "bn_gamma:0", "bn_beta:0", "bn_running_mean:0", "bn_running_std:0" } };
	for (int li = 0; li < 2; li++) {
		const ct_wlayer *src = &ref.layers[li];
		ct_wlayer *l = ct_weights_add_layer(&old, src->name);
		ct_wlayer *lm = ct_weights_add_layer(&mixed, src->name);
		for (int j = 0; j < src->n; j++) {
			ct_wtensor *t = ct_wlayer_add(l, k1[li][j], src->w[j].t.ndim, src->w[j].t.shape);
			memcpy(t->t.data, src->w[j].t.data, (size_t)ct_tensor_numel(&t->t) * sizeof(float));
			t = ct_wlayer_add(lm, j == 0 ? src->w[j].name : k1[li][j], src->w[j].t.ndim,
					  src->w[j].t.shape);
			memcpy(t->t.data, src->w[j].t.data, (size_t)ct_tensor_numel(&t->t) * sizeof(float));
		}
	}
	ct_net *a = ct_net_new(g, &ref, "bn", CT_POOL_NONE), *b = ct_net_new(g, &old, "bn", CT_POOL_NONE);
	int same = 0;
	if (a && b) {
		ct_tensor t, oa, ob;
		ct_tensor_alloc4(&t, CT_U8, 1, 6, 6, 3);
		ct_testinput_fill(0, 6, 6, t.data);
		ct_net_run(a, &t);
		ct_net_run(b, &t);
		ct_net_output(a, 0, &oa);
		ct_net_output(b, 0, &ob);
		same = !memcmp(oa.data, ob.data, 6 * 6 * 4 * sizeof(float));
		ct_tensor_free(&t);
	}
	ok(same, "Keras 1 weight names (conv_W_1:0, bn_running_std:0) bind by position");
	ok(ct_graph_check_weights(g, &mixed) < 0 && strstr(ct_last_error(), "'conv'"),
	   "a layer mixing Keras 1 and Keras 2 names is refused: %s", ct_last_error());
	ct_net_free(a);
	ct_net_free(b);
	ct_weights_free(&ref);
	ct_weights_free(&old);
	ct_weights_free(&mixed);
	ct_graph_free(g);
}

int main(void)
{
	ct_rng_init(&rng, 20240611, 0);
	sepconv_tests();
	prep_tests();
	legacy_names_tests();
	TEST_DONE();
}
