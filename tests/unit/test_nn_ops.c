/* test_nn_ops.c - every layer kind of the engine against the double reference interpreter
 * (test_nn_ref.h) on random shapes: odd sizes, strides 1/2, same/valid, 1x7/7x1, for every
 * SIMD kernel; BN folding vs unfolded; weight binding errors name the layer. */
#include "test.h"
#include "nn_check.h"
#include "core/error.h"
#include "core/rng.h"
#include "nn/gemm.h"
#include "nn/net.h"
#include "nn/ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static const int kshapes[][2] = { { 1, 1 }, { 3, 3 }, { 1, 7 }, { 7, 1 }, { 5, 5 }, { 2, 2 }, { 3, 1 } };

static void ops_for_kernel(const char *kname)
{
	char what[64];
	snprintf(what, sizeof what, "[%s]", kname);
	double e, emax;
	int okall;

	/* Conv2D with TF padding, any kernel, strides 1/2, bias, fused activation */
	emax = 0, okall = 1;
	for (int t = 0; t < 14; t++) {
		ct_graph *g = ct_graph_new("t");
		int h = irand(1, 13), w = irand(1, 13), c = irand(1, 20);
		const int *k = kshapes[irand(0, 6)];
		int s = irand(1, 2), same = t % 2 || h < k[0] || w < k[1];
		int x = ct_graph_input(g, "in", h, w, c);
		ct_graph_conv2d(g, "conv", x, irand(1, 40), k[0], k[1], s, s, same, t % 3 != 0,
				t % 4 == 1 ? CT_ACT_RELU : CT_ACT_NONE);
		e = check(g, "conv", irand(1, 3), CT_POOL_NONE);
		if (!(e <= 1e-5)) {
			okall = 0;
			diag("conv %dx%dx%d k=%dx%d s=%d same=%d: %.3g", h, w, c, k[0], k[1], s, same, e);
		}
		emax = e > emax ? e : emax;
		ct_graph_free(g);
	}
	diag("%s conv2d largest relative error %.3g", what, emax);
	ok(okall, "%s conv2d (1x1..7x1, stride 1/2, same/valid incl. asymmetric) matches the reference", what);

	/* dilated conv */
	{
		ct_graph *g = ct_graph_new("t");
		int x = ct_graph_input(g, "in", 11, 9, 5);
		ct_graph_conv2d_dilated(g, "conv", x, 7, 3, 3, 1, 1, 2, 2, 1, 1, CT_ACT_NONE);
		e = check(g, "conv", 2, CT_POOL_NONE);
		diag("%s dilated conv error %.3g", what, e);
		ok(e <= 1e-5, "%s dilated 3x3 'same' conv matches the reference", what);
		ct_graph_free(g);
	}

	/* DepthwiseConv2D */
	emax = 0, okall = 1;
	for (int t = 0; t < 8; t++) {
		ct_graph *g = ct_graph_new("t");
		int h = irand(3, 15), w = irand(3, 15), c = t < 4 ? irand(1, 20) : 16 * irand(1, 4);
		int s = irand(1, 2), same = t % 2;
		int x = ct_graph_input(g, "in", h, w, c);
		ct_graph_dwconv2d(g, "dw", x, 3, 3, s, s, same, t % 3 == 0);
		e = check(g, "dw", 2, CT_POOL_NONE);
		if (!(e <= 1e-5))
			okall = 0, diag("dwconv %dx%dx%d s=%d same=%d: %.3g", h, w, c, s, same, e);
		emax = e > emax ? e : emax;
		ct_graph_free(g);
	}
	diag("%s depthwise largest relative error %.3g", what, emax);
	ok(okall, "%s depthwise conv (stride 1/2, same/valid, channels not a multiple of 16) matches", what);

	/* pooling: max/avg, 'same' (asymmetric pads, count excludes padding) and 'valid' */
	emax = 0, okall = 1;
	for (int t = 0; t < 16; t++) {
		ct_graph *g = ct_graph_new("t");
		int h = irand(3, 14), w = irand(3, 14), k = irand(2, 3), s = irand(1, 2);
		int x = ct_graph_input(g, "in", h, w, irand(1, 40));
		ct_graph_pool(g, "pool", t % 2 ? CT_OP_MAXPOOL : CT_OP_AVGPOOL, x, k, k, s, s, t / 2 % 2);
		e = check(g, "pool", 2, CT_POOL_NONE);
		if (!(e <= 1e-6))
			okall = 0, diag("pool %s %dx%d k=%d s=%d same=%d: %.3g", t % 2 ? "max" : "avg", h, w, k, s, t / 2 % 2, e);
		emax = e > emax ? e : emax;
		ct_graph_free(g);
	}
	diag("%s pooling largest relative error %.3g", what, emax);
	ok(okall, "%s max/avg pooling (Keras 'same': padding excluded from max and from the average count) match", what);
	/* ZeroPadding2D (asymmetric), alone and folded into a following conv / dwconv */
	{
		ct_graph *g = ct_graph_new("t");
		int x = ct_graph_input(g, "in", 8, 7, 16);
		int p = ct_graph_zeropad(g, "pad", x, 0, 1, 0, 1);
		ct_graph_dwconv2d(g, "dw", p, 3, 3, 2, 2, 0, 0);
		e = check(g, "pad", 2, CT_POOL_NONE);
		ok(e == 0, "%s ZeroPadding2D ((0,1),(0,1)) is exact", what);
		e = check(g, "dw", 2, CT_POOL_NONE);
		ok(e <= 1e-5, "%s ZeroPadding2D folded into a stride-2 'valid' depthwise conv matches (%.3g)", what, e);
		ct_graph_free(g);
		g = ct_graph_new("t");
		x = ct_graph_input(g, "in", 9, 10, 3);
		p = ct_graph_zeropad(g, "pad", x, 1, 1, 1, 1);
		ct_graph_conv2d(g, "conv", p, 8, 3, 3, 2, 2, 0, 0, CT_ACT_NONE);
		e = check(g, "conv", 2, CT_POOL_NONE);
		ok(e <= 1e-5, "%s ZeroPadding2D ((1,1),(1,1)) folded into a conv matches (%.3g)", what, e);
		ct_graph_free(g);
	}
}

static void ops_once(void)
{
	double e;
	/* standalone BN (scale on and off), ReLU, ReLU6 */
	for (int scale = 0; scale < 2; scale++) {
		ct_graph *g = ct_graph_new("t");
		int x = ct_graph_input(g, "in", 5, 7, 9);
		int b = ct_graph_batchnorm(g, "bn", x, 1e-3f, scale, 1);
		ct_graph_relu(g, "relu", b);
		ct_graph_relu6(g, "relu6", b);
		e = check(g, "bn,relu,relu6", 2, CT_POOL_NONE);
		ok(e <= 1e-5, "batchnorm (scale=%d) not after a conv, relu and relu6 match (%.3g)", scale, e);
		ct_graph_free(g);
	}
	/* the activation values themselves: relu6 clips at 6 */
	{
		ct_graph *g = ct_graph_new("t");
		int x = ct_graph_input(g, "in", 1, 1, 3);
		ct_graph_relu6(g, "r6", x);
		ct_weights w = { 0 };
		ct_net *net = ct_net_new(g, &w, "r6", CT_POOL_NONE);
		float v[3] = { -1.f, 3.f, 9.f };
		int64_t sh[4] = { 1, 1, 1, 3 };
		ct_tensor t = ct_tensor_wrap(v, CT_F32, 4, sh), o;
		ct_net_run(net, &t);
		ct_net_output(net, 0, &o);
		float *r = o.data;
		ok(r[0] == 0.f && r[1] == 3.f && r[2] == 6.f, "relu6 maps -1,3,9 to 0,3,6");
		ct_net_free(net);
		ct_graph_free(g);
	}
	/* concat, add, global pooling, dense, softmax */
	{
		ct_graph *g = ct_graph_new("t");
		int x = ct_graph_input(g, "in", 6, 5, 4);
		int a = ct_graph_conv2d(g, "a", x, 3, 1, 1, 1, 1, 1, 1, CT_ACT_NONE);
		int b = ct_graph_conv2d(g, "b", x, 5, 3, 3, 1, 1, 1, 1, CT_ACT_NONE);
		int c = ct_graph_conv2d(g, "c", x, 3, 1, 7, 1, 1, 1, 0, CT_ACT_NONE);
		int cat[3] = { a, b, c }, ad[2] = { a, c };
		ct_graph_concat(g, "cat", 3, cat);
		int s = ct_graph_add(g, "add", 2, ad);
		int ga = ct_graph_gpool(g, "gap", CT_OP_GAVGPOOL, s);
		ct_graph_gpool(g, "gmp", CT_OP_GMAXPOOL, s);
		int d = ct_graph_dense(g, "dense", ga, 7, 1, CT_ACT_RELU);
		int d2 = ct_graph_dense(g, "logits", d, 4, 1, CT_ACT_NONE);
		ct_graph_softmax(g, "softmax", d2);
		ct_graph_dense(g, "probs", d, 4, 1, CT_ACT_SOFTMAX);
		e = check(g, "cat,add,gap,gmp,dense,softmax,probs", 3, CT_POOL_NONE);
		ok(e <= 1e-5, "concat, add, global avg/max pooling, dense (+relu, +softmax), softmax match (%.3g)", e);
		e = check(g, "cat,add", 3, CT_POOL_AVG);
		ok(e <= 1e-5, "outputs pooled by average match (%.3g)", e);
		e = check(g, "cat,add", 3, CT_POOL_MAX);
		ok(e <= 1e-5, "outputs pooled by max match (%.3g)", e);
		ct_graph_free(g);
	}
	/* softmax over the channels of every pixel; depthwise conv + BN + Add + ReLU6 */
	{
		ct_graph *g = ct_graph_new("t");
		int x = ct_graph_input(g, "in", 5, 6, 32);
		ct_graph_softmax(g, "sm", x);
		int d = ct_graph_dwconv2d(g, "dw", x, 3, 3, 1, 1, 1, 1);
		int b = ct_graph_batchnorm(g, "bn", d, 1e-3f, 1, 1);
		int ad[2] = { b, x };
		int s = ct_graph_add(g, "add", 2, ad);
		ct_graph_relu6(g, "r6", s);
		e = check(g, "sm,r6", 2, CT_POOL_NONE);
		ok(e <= 1e-5, "per-pixel softmax and a fused dwconv+BN+Add+ReLU6 match (%.3g)", e);
		ct_graph_free(g);
	}
	/* residual: conv -> BN -> Add -> ReLU (one fused GEMM) and the unfused path */
	{
		ct_graph *g = ct_graph_new("t");
		int x = ct_graph_input(g, "in", 7, 6, 8);
		int c = ct_graph_conv2d(g, "conv", x, 8, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
		int b = ct_graph_batchnorm(g, "bn", c, 1e-3f, 1, 1);
		int ad[2] = { x, b };
		int s = ct_graph_add(g, "add", 2, ad);
		ct_graph_relu(g, "relu", s);
		e = check(g, "relu", 2, CT_POOL_NONE);
		ok(e <= 1e-5, "conv+BN+Add+ReLU fused into one GEMM epilogue matches (%.3g)", e);
		e = check(g, "conv,bn,add,relu", 2, CT_POOL_NONE);
		ok(e <= 1e-5, "the same chain unfused (every layer requested) matches (%.3g)", e);
		ct_graph_free(g);
	}
}

/* BN folded into the conv vs the BN run on the conv's raw output. */
static void bn_folding(void)
{
	ct_graph *g = ct_graph_new("t");
	int x = ct_graph_input(g, "in", 9, 9, 6);
	int c = ct_graph_conv2d(g, "conv", x, 12, 3, 3, 2, 2, 1, 0, CT_ACT_NONE);
	int b = ct_graph_batchnorm(g, "bn", c, 1e-3f, 0, 1);
	ct_graph_relu(g, "relu", b);
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	ct_net *folded = ct_net_new(g, &w, "relu", CT_POOL_NONE);
	ct_net *unfolded = ct_net_new(g, &w, "conv,relu", CT_POOL_NONE);
	ct_tensor in;
	ct_tensor_alloc4(&in, CT_F32, 2, 9, 9, 6);
	for (int i = 0; i < 2 * 9 * 9 * 6; i++)
		((float *)in.data)[i] = (float)ct_rng_range(&rng, -1, 1);
	ct_net_run(folded, &in);
	ct_net_run(unfolded, &in);
	ct_tensor a, u;
	ct_net_output(folded, 0, &a);
	ct_net_output(unfolded, 1, &u);
	double e = 0, m = 1e-30;
	for (int i = 0; i < 2 * 5 * 5 * 12; i++) {
		double d = fabs(((float *)a.data)[i] - ((float *)u.data)[i]);
		e = d > e ? d : e;
		m = fabs(((float *)u.data)[i]) > m ? fabs(((float *)u.data)[i]) : m;
	}
	diag("BN folded vs unfolded: relative difference %.3g", e / m);
	ok(e / m <= 1e-5, "BN folded into the conv agrees with BN applied after it within 1e-5");
	ct_tensor_free(&in);
	ct_net_free(folded);
	ct_net_free(unfolded);
	ct_weights_free(&w);
	ct_graph_free(g);
}

/* Binding checks every layer: missing, extra tensor, wrong shape. */
static void binding_errors(void)
{
	ct_graph *g = ct_graph_new("t");
	int x = ct_graph_input(g, "in", 8, 8, 32);
	int c = ct_graph_conv2d(g, "conv2d_5", x, 64, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	ct_graph_batchnorm(g, "bn", c, 1e-3f, 0, 1);
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	ct_net *net = ct_net_new(g, &w, "bn", CT_POOL_NONE);
	ok(net != NULL, "complete weights bind");
	ct_net_free(net);
	/* mis-shaped kernel */
	ct_weights bad = { 0 };
	ct_wlayer *l = ct_weights_add_layer(&bad, "conv2d_5");
	int64_t ks[4] = { 3, 3, 64, 64 };
	ct_wlayer_add(l, "conv2d_5/kernel:0", 4, ks);
	ct_wlayer *lb = ct_weights_add_layer(&bad, "bn");
	int64_t cs[1] = { 64 };
	ct_wlayer_add(lb, "bn/beta:0", 1, cs);
	ct_wlayer_add(lb, "bn/moving_mean:0", 1, cs);
	ct_wlayer_add(lb, "bn/moving_variance:0", 1, cs);
	net = ct_net_new(g, &bad, "bn", CT_POOL_NONE);
	ok(!net && strstr(ct_last_error(),
			  "layer 'conv2d_5': kernel has shape 3x3x64x64, expected 3x3x32x64"),
	   "a mis-shaped kernel is refused naming the layer and both shapes");
	diag("%s", ct_last_error());
	/* extra tensor */
	ks[2] = 32;
	ct_weights_free(&bad);
	memset(&bad, 0, sizeof bad);
	l = ct_weights_add_layer(&bad, "conv2d_5");
	ct_wlayer_add(l, "conv2d_5/kernel:0", 4, ks);
	lb = ct_weights_add_layer(&bad, "bn");
	ct_wlayer_add(lb, "bn/gamma:0", 1, cs);
	ct_wlayer_add(lb, "bn/beta:0", 1, cs);
	ct_wlayer_add(lb, "bn/moving_mean:0", 1, cs);
	ct_wlayer_add(lb, "bn/moving_variance:0", 1, cs);
	net = ct_net_new(g, &bad, "bn", CT_POOL_NONE);
	ok(!net && strstr(ct_last_error(), "layer 'bn': unexpected tensor 'bn/gamma:0'"),
	   "an extra tensor (gamma on a scale=False BN) is refused naming the layer");
	diag("%s", ct_last_error());
	ct_weights_free(&bad);
	/* missing layer */
	memset(&bad, 0, sizeof bad);
	l = ct_weights_add_layer(&bad, "conv2d_5");
	ct_wlayer_add(l, "conv2d_5/kernel:0", 4, ks);
	net = ct_net_new(g, &bad, "bn", CT_POOL_NONE);
	ok(!net && strstr(ct_last_error(), "layer 'bn': missing from the weights"),
	   "a missing layer is refused naming it");
	ct_weights_free(&bad);
	/* unknown output */
	net = ct_net_new(g, &w, "nosuch", CT_POOL_NONE);
	ok(!net && strstr(ct_last_error(), "no layer 'nosuch'"), "an unknown output layer is refused");
	ct_weights_free(&w);
	ct_graph_free(g);
}

/* A standalone BN (+ ReLU / ReLU6) as scale and shift: every kernel's row loop gives the floats
 * of x * scale + shift (multiply, then add) clamped, bit for bit, on 1 and 2 threads. */
static void scale_shift_kernels(void)
{
	const char *names[] = { "avx512", "avx2", "generic" };
	const int cs[] = { 7, 16, 37, 1024 };
	for (int i = 0; i < 3; i++) {
		if (ct_gemm_kernel_set(names[i]))
			continue;
		int same = 1;
		for (int ci = 0; ci < 4; ci++)
			for (int act = CT_ACT_NONE; act <= CT_ACT_RELU6; act++) {
				int c = cs[ci], rows = 70; /* 70 x 1024: split over the threads */
				size_t n = (size_t)rows * c;
				float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
				float *sc = malloc(c * sizeof *sc), *sh = malloc(c * sizeof *sh);
				float *want = malloc(n * sizeof *want);
				for (int k = 0; k < c; k++)
					sc[k] = (float)ct_rng_uniform(&rng) * 3.f - 1.f,
					sh[k] = (float)ct_rng_uniform(&rng) * 4.f - 2.f;
				for (size_t k = 0; k < n; k++) {
					x[k] = (float)ct_rng_uniform(&rng) * 16.f - 8.f;
					volatile float p = x[k] * sc[k % c]; /* rounded, then added */
					float v = p + sh[k % c];
					if (act != CT_ACT_NONE)
						v = v > 0.f ? v : 0.f;
					if (act == CT_ACT_RELU6)
						v = v > 6.f ? 6.f : v;
					want[k] = v;
				}
				for (int nt = 1; nt <= 2; nt++) {
					memset(y, 0xff, n * sizeof *y);
					ct_op_scale_shift(rows, c, x, sc, sh, act, y, nt);
					same &= !memcmp(y, want, n * sizeof *y);
				}
				free(x), free(y), free(sc), free(sh), free(want);
			}
		ok(same, "[%s] BN as scale and shift (+ ReLU, ReLU6), 7-1024 channels: the floats of "
		   "multiply then add, on 1 and 2 threads", names[i]);
	}
	ct_gemm_kernel_set(ct_gemm_kernel_find("avx512") ? "avx512" : "generic");
}

int main(void)
{
	ct_rng_init(&rng, 7, 0);
	const char *names[] = { "avx512", "avx2", "generic" };
	for (int i = 0; i < 3; i++) {
		if (ct_gemm_kernel_set(names[i])) {
			diag("kernel %s unsupported here, skipped", names[i]);
			continue;
		}
		ops_for_kernel(names[i]);
	}
	ct_gemm_kernel_set(ct_gemm_kernel_find("avx512") ? "avx512" : "generic");
	ops_once();
	bn_folding();
	binding_errors();
	scale_shift_kernels();
	/* thread-count independence through the whole engine */
	{
		ct_graph *g = ct_graph_new("t");
		int x = ct_graph_input(g, "in", 33, 31, 16); /* big enough for every op to split */
		int c = ct_graph_conv2d(g, "c1", x, 24, 3, 3, 2, 2, 1, 0, CT_ACT_RELU);
		int d = ct_graph_dwconv2d(g, "dw", c, 3, 3, 1, 1, 1, 1);
		int p = ct_graph_pool(g, "p", CT_OP_AVGPOOL, d, 3, 3, 1, 1, 1);
		ct_graph_conv2d(g, "c2", p, 40, 1, 1, 1, 1, 1, 1, CT_ACT_RELU6);
		ct_weights w = { 0 };
		ct_graph_testweights(g, &w);
		ct_net *net = ct_net_new(g, &w, "c2", CT_POOL_NONE);
		ct_tensor in, o;
		ct_tensor_alloc4(&in, CT_F32, 3, 33, 31, 16);
		for (int i = 0; i < 3 * 33 * 31 * 16; i++)
			((float *)in.data)[i] = (float)ct_rng_range(&rng, -1, 1);
		size_t nb = 3 * 17 * 16 * 40 * sizeof(float);
		float *o1 = malloc(nb);
#ifdef _OPENMP
		omp_set_num_threads(1);
#endif
		ct_net_run(net, &in);
		ct_net_output(net, 0, &o);
		memcpy(o1, o.data, nb);
#ifdef _OPENMP
		omp_set_num_threads(2);
#endif
		ct_net_run(net, &in);
		ct_net_output(net, 0, &o);
		ok(!memcmp(o1, o.data, nb),
		   "a batch of 3 (whole images per thread) is bit-identical with 1 and 2 threads");
		ct_tensor one = ct_tensor_slice0(&in, 2, 1);
		ct_net_run(net, &one); /* one image: every layer split over the threads */
		ct_net_output(net, 0, &o);
		ok(!memcmp(o1 + 2 * nb / 3 / sizeof(float), o.data, nb / 3),
		   "one image with every layer split over 2 threads is bit-identical too");
		free(o1);
		ct_tensor_free(&in);
		ct_net_free(net);
		ct_weights_free(&w);
		ct_graph_free(g);
	}
	diag("largest relative error over all op checks: %.3g", worst);
	TEST_DONE();
}
