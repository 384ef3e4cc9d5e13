/* test_models.c - the architecture files: Keras layer names and numbering, output shapes,
 * parameter counts of the notop models, named/multiple outputs, batch invariance. */
#include "test.h"
#include "nn_testutil.h"
#include "core/error.h"
#include "models/models.h"
#include "nn/net.h"
#include "nn/testweights.h"

int main(void)
{
	ok(ct_model_build("resnet9000") == NULL && strstr(ct_last_error(), "'resnet9000'"),
	   "an unknown architecture is refused by name");

	ct_graph *inc = ct_model_build("inception_v3");
	ok(inc != NULL, "inception_v3 builds");
	if (!inc)
		return 1;
	ok(ct_graph_nparams(inc) == 21802784, "inception_v3 notop has 21,802,784 parameters (%lld)",
	   (long long)ct_graph_nparams(inc));
	ok(inc->in_h == 299 && inc->in_w == 299 && inc->in_c == 3 && inc->prep == CT_PREP_TF,
	   "inception_v3 takes 299x299x3 with 'tf' preprocessing");
	ok(!strcmp(inc->default_output, "mixed10") && shape_is(inc, "mixed10", 8, 8, 2048),
	   "inception_v3 default output mixed10 is 8x8x2048");
	ok(count_op(inc, CT_OP_CONV2D) == 94 && count_op(inc, CT_OP_BATCHNORM) == 94 &&
		   count_op(inc, CT_OP_RELU) == 94,
	   "inception_v3 has 94 conv/BN/activation triples");
	ok(node(inc, "conv2d_1") && node(inc, "conv2d_94") && !node(inc, "conv2d_95") &&
		   node(inc, "batch_normalization_94") && node(inc, "activation_94"),
	   "inception_v3 uses Keras 2.0 numbering conv2d_1..conv2d_94");
	ok(shape_is(inc, "mixed0", 35, 35, 256) && shape_is(inc, "mixed2", 35, 35, 288) &&
		   shape_is(inc, "mixed3", 17, 17, 768) && shape_is(inc, "mixed7", 17, 17, 768) &&
		   shape_is(inc, "mixed8", 8, 8, 1280) && shape_is(inc, "mixed9_0", 8, 8, 768) &&
		   shape_is(inc, "concatenate_2", 8, 8, 768),
	   "inception_v3 mixed blocks have the Keras shapes");
	const ct_node *c5 = node(inc, "conv2d_5");
	ok(c5 && c5->kh == 3 && c5->filters == 192 && !c5->same && !c5->use_bias &&
		   node(inc, "batch_normalization_5")->nw == 3 && node(inc, "batch_normalization_5")->eps == 1e-3f,
	   "conv2d_5 is 3x3 valid, no bias; its BN has beta/mean/variance only (scale=False)");
	const ct_node *ap = node(inc, "average_pooling2d_9");
	ok(ap && ap->same && ap->kh == 3 && ap->sh == 1 && !node(inc, "average_pooling2d_10"),
	   "inception_v3 has 9 'same' 3x3 average pools");
	const ct_node *k17 = node(inc, "conv2d_33");
	ok(k17 && k17->kh == 1 && k17->kw == 7, "conv2d_33 is the first 1x7 convolution (mixed4)");

	ct_graph *mob = ct_model_build("mobilenet_v2");
	ok(mob != NULL, "mobilenet_v2 builds");
	if (!mob)
		return 1;
	ok(ct_graph_nparams(mob) == 2257984, "mobilenet_v2 notop has 2,257,984 parameters (%lld)",
	   (long long)ct_graph_nparams(mob));
	ok(mob->in_h == 224 && !strcmp(mob->default_output, "out_relu") &&
		   shape_is(mob, "out_relu", 7, 7, 1280),
	   "mobilenet_v2 takes 224x224, default output out_relu 7x7x1280");
	const ct_node *p1 = node(mob, "block_1_pad");
	ok(p1 && p1->pad_t == 0 && p1->pad_b == 1 && p1->pad_l == 0 && p1->pad_r == 1 &&
		   node(mob, "Conv1_pad") && shape_is(mob, "Conv1", 112, 112, 32),
	   "mobilenet_v2 pads ((0,1),(0,1)) before stride-2 convolutions (correct_pad)");
	ok(node(mob, "expanded_conv_depthwise") && node(mob, "expanded_conv_project_BN") &&
		   !node(mob, "block_0_expand") && node(mob, "block_16_project_BN") &&
		   node(mob, "Conv_1_bn") && node(mob, "block_2_add") && !node(mob, "block_3_add") &&
		   node(mob, "block_15_add") && !node(mob, "block_16_add"),
	   "mobilenet_v2 layer names follow keras-applications (adds only where shapes match)");
	ok(count_op(mob, CT_OP_DWCONV2D) == 17 && count_op(mob, CT_OP_ADD) == 10 &&
		   count_op(mob, CT_OP_RELU6) == 35,
	   "mobilenet_v2 has 17 depthwise convs, 10 adds, 35 ReLU6");

	/* several named outputs at once, pooled and raw, and batch invariance */
	ct_weights w = { 0 };
	ct_graph_testweights(mob, &w);
	ct_net *net = ct_net_new(mob, &w, "block_6_project_BN,out_relu", CT_POOL_AVG);
	ct_net *raw = ct_net_new(mob, &w, "block_13_expand_relu", CT_POOL_NONE);
	ct_net *def = ct_net_new(mob, &w, NULL, CT_POOL_MAX);
	ok(net && raw && def, "nets with several, raw and default outputs bind");
	if (net && raw && def) {
		ct_tensor x;
		ct_tensor_alloc4(&x, CT_U8, 3, 224, 224, 3);
		for (int i = 0; i < 3; i++)
			ct_testinput_fill(i, 224, 224, (uint8_t *)x.data + (size_t)i * 224 * 224 * 3);
		ok(ct_net_run(net, &x) == 0 && ct_net_run(raw, &x) == 0 && ct_net_run(def, &x) == 0,
		   "a batch of 3 runs");
		ct_tensor a, b, r, d;
		ct_net_output(net, 0, &a);
		ct_net_output(net, 1, &b);
		ct_net_output(raw, 0, &r);
		ct_net_output(def, 0, &d);
		ok(ct_net_noutputs(net) == 2 && a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 64 &&
			   b.shape[1] == 1280 && r.ndim == 4 && r.shape[1] == 14 && r.shape[2] == 14 &&
			   r.shape[3] == 576 && d.shape[1] == 1280,
		   "outputs have shapes 3x64, 3x1280 (pooled) and 3x14x14x576 (raw)");
		float *b3 = malloc(3 * 1280 * sizeof(float));
		memcpy(b3, b.data, 3 * 1280 * sizeof(float));
		ct_tensor one = ct_tensor_slice0(&x, 1, 1);
		ct_net_run(net, &one);
		ct_net_output(net, 1, &b);
		ok(b.shape[0] == 1 && !memcmp(b.data, b3 + 1280, 1280 * sizeof(float)),
		   "image 1 alone gives bit-identical features to image 1 within a batch of 3");
		ct_net_run(net, &x);
		ct_tensor f;
		ok(ct_net_features(net, &f) == 0 && f.shape[0] == 3 && f.shape[1] == 64 + 1280 &&
			   !memcmp((float *)f.data + 2 * 1344 + 64, b3 + 2 * 1280, 1280 * sizeof(float)),
		   "features put the pooled outputs side by side (3 x 1344)");
		ct_tensor_free(&f);
		int differ = memcmp(b3, b3 + 1280, 1280 * sizeof(float)) != 0;
		ok(differ, "different images give different features");
		free(b3);
		ct_tensor_free(&x);
	}
	ct_net_free(net);
	ct_net_free(raw);
	ct_net_free(def);
	ct_weights_free(&w);
	ct_graph_free(inc);
	ct_graph_free(mob);
	TEST_DONE();
}
