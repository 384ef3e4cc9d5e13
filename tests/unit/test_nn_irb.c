/* test_nn_irb.c - inverted residual blocks run fused in row tiles (lib/nn/irb.c) give the
 * same bits as the steps run one by one (CT_IRB=0): whole MobileNetV2 and an Xception-style
 * net of separable convs, batch 1 and 3, 1 and 2 threads, one-row and larger tiles, fused
 * blocks split over the threads, an expanded tensor asked for as an output; and the fused
 * path is the one taken (the profile books a group's time to its first step). */
#include "test.h"
#include "core/error.h"
#include "core/rng.h"
#include "models/models.h"
#include "nn/gemm.h"
#include "nn/graph.h"
#include "nn/net.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct setting {
	const char *irb, *kb, *minrows;
	int threads;
} setting;

static void apply(const setting *s)
{
	setenv("CT_IRB", s->irb, 1);
	setenv("CT_IRB_PAIRS", "1", 1); /* off by default: test the pairs' path as well */
	setenv("CT_IRB_KB", s->kb, 1);
	setenv("CT_IRB_MINROWS", s->minrows, 1);
	/* fuse also where the budget is far below a GEMM block of rows (off by default) */
	setenv("CT_IRB_WIDE", "1", 1);
	t_set_threads(s->threads);
}

/* what run() saw of its probe step: its profiled flops, and whether the steps' flops add up
 * to the net's */
static double probe_flops;
static int flops_kept;

/* Run images [i0, i0+n) of img through a fresh net under setting s; the raw outputs of
 * every requested layer are appended to *out (floats, *len of them). Returns 0 on success. */
static int run(const ct_graph *g, const ct_weights *w, const char *outs, const ct_tensor *img,
	       int i0, int n, const setting *s, float **out, size_t *len, double *first_step_s,
	       int probe)
{
	apply(s);
	ct_net *net = ct_net_new(g, w, outs, CT_POOL_NONE);
	if (!net)
		return -1;
	ct_tensor part = *img;
	int64_t per = img->shape[1] * img->shape[2] * img->shape[3];
	part.shape[0] = n;
	part.data = (uint8_t *)img->data + (size_t)i0 * per;
	int rc = (probe >= 0 && ct_net_profile_enable(net, 1)) || ct_net_run(net, &part);
	*len = 0;
	for (int i = 0; !rc && i < ct_net_noutputs(net); i++) {
		ct_tensor v;
		rc = ct_net_output(net, i, &v);
		size_t m = (size_t)ct_tensor_numel(&v);
		float *p = rc ? NULL : realloc(*out, (*len + m) * sizeof(float));
		if (!p) {
			rc = -1;
			break;
		}
		*out = p;
		memcpy(*out + *len, v.data, m * sizeof(float));
		*len += m;
	}
	if (!rc && probe >= 0) {
		ct_net_step_info si;
		rc = ct_net_step_get(net, probe, &si);
		*first_step_s = si.seconds;
		probe_flops = si.flops;
		/* the profile's flops, fused or not, add up to the net's */
		double sum = 0;
		for (int i = 0; !rc && i < ct_net_nsteps(net); i++)
			rc = ct_net_step_get(net, i, &si), sum += si.flops;
		flops_kept = fabs(sum - ct_net_flops(net)) <= 1e-9 * ct_net_flops(net);
	}
	ct_net_free(net);
	return rc;
}

static int step_of(const ct_graph *g, const ct_weights *w, const char *outs, const char *layer)
{
	ct_net *net = ct_net_new(g, w, outs, CT_POOL_NONE);
	int found = -1;
	for (int i = 0; net && i < ct_net_nsteps(net); i++) {
		ct_net_step_info si;
		if (!ct_net_step_get(net, i, &si) && !strcmp(si.layer, layer))
			found = i;
	}
	ct_net_free(net);
	return found;
}

/* Every setting against the unfused reference (2 threads, batch n and image by image). */
static void check_net(const char *what, const ct_graph *g, const char *outs, int n,
		      const char *probe_layer)
{
	ct_weights w = { 0 };
	ct_rng rng;
	ct_rng_init(&rng, 11, 0);
	int ran = !g->err && !ct_graph_testweights(g, &w);
	ct_tensor img = { 0 };
	ran = ran && !ct_tensor_alloc4(&img, CT_U8, n, g->in_h, g->in_w, g->in_c);
	for (int64_t i = 0; ran && i < ct_tensor_numel(&img); i++)
		((uint8_t *)img.data)[i] = (uint8_t)ct_rng_below(&rng, 256);
	const setting ref = { "0", "384", "7", 2 };
	float *r = NULL, *x = NULL;
	size_t rlen = 0, xlen = 0;
	double t;
	ran = ran && !run(g, &w, outs, &img, 0, n, &ref, &r, &rlen, &t, -1);
	static const setting cases[] = {
		{ "1", "384", "7", 1 }, { "1", "384", "7", 2 }, { "1", "1", "7", 2 },
		{ "1", "1", "1", 1 },	{ "1", "40", "1", 2 },	{ "1", "100000", "1", 2 },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		int same = ran && !run(g, &w, outs, &img, 0, n, &cases[c], &x, &xlen, &t, -1) &&
			   xlen == rlen && !memcmp(x, r, rlen * sizeof(float));
		ok(same, "%s, batch %d, fused (tile budget %s KiB, %d thread(s), min rows %s): the "
		   "same bits as unfused", what, n, cases[c].kb, cases[c].threads, cases[c].minrows);
		/* image by image: a fused block split over the threads at batch 1 (one output
		 * layer: image i's part of the reference is one slice) */
		int alone = ran && !strchr(outs, ',');
		size_t per = rlen / (size_t)n;
		for (int i = 0; alone && i < n; i++)
			alone = !run(g, &w, outs, &img, i, 1, &cases[c], &x, &xlen, &t, -1) &&
				xlen == per && !memcmp(x, r + (size_t)i * per, per * sizeof(float));
		if (!strchr(outs, ','))
			ok(alone, "%s, each image alone at batch 1 (%d thread(s), tile budget %s KiB, "
			   "min rows %s): the same bits", what, cases[c].threads, cases[c].kb,
			   cases[c].minrows);
	}
	/* the fused path is taken: the group's steps after the first book no time */
	int probe = step_of(g, &w, outs, probe_layer);
	double on = 0, off = 0;
	const setting son = { "1", "384", "7", 1 }, soff = { "0", "384", "7", 1 };
	int pr = probe >= 0 && !run(g, &w, outs, &img, 0, n, &son, &x, &xlen, &on, probe);
	double fused_flops = probe_flops;
	int kept = flops_kept;
	pr = pr && !run(g, &w, outs, &img, 0, n, &soff, &x, &xlen, &off, probe);
	ok(pr && on == 0 && off > 0, "%s: step '%s' runs inside the fused block (%g s) and alone "
	   "with CT_IRB=0 (%g s)", what, probe_layer, on, off);
	ok(pr && fused_flops == 0 && probe_flops > 0 && kept && flops_kept,
	   "%s: the profile counts a fused step's flops on its group's first step (%g there, %g "
	   "alone) and the steps' flops add up to the net's either way", what, fused_flops,
	   probe_flops);
	unsetenv("CT_IRB");
	unsetenv("CT_IRB_KB");
	unsetenv("CT_IRB_MINROWS");
	unsetenv("CT_IRB_PAIRS");
	unsetenv("CT_IRB_WIDE");
	free(r);
	free(x);
	ct_tensor_free(&img);
	ct_weights_free(&w);
}

/* Xception-style: ReLU in front of separable convs (no expand conv), a residual Add, stride-2
 * depthwise with odd and even sizes, a 1x1 that feeds a separable conv (the expand role). */
static ct_graph *sep_net(void)
{
	ct_graph *g = ct_graph_new("tiny_xception");
	int x = ct_graph_input(g, "in", 37, 30, 3);
	x = ct_graph_conv2d(g, "c1", x, 24, 3, 3, 2, 2, 0, 0, CT_ACT_RELU);
	int r = x;
	x = ct_graph_relu(g, "r1", x);
	x = ct_graph_sepconv2d(g, "s1", x, 24, 3, 3, 1, 1, 1, 0, CT_ACT_NONE);
	x = ct_graph_batchnorm(g, "b1", x, 1e-3f, 1, 1);
	x = ct_graph_add(g, "a1", 2, (int[]){ x, r });
	x = ct_graph_conv2d(g, "e2", x, 96, 1, 1, 1, 1, 1, 0, CT_ACT_RELU6);
	x = ct_graph_zeropad(g, "p2", x, 0, 1, 1, 1);
	x = ct_graph_dwconv2d(g, "d2", x, 3, 3, 2, 2, 0, 0);
	x = ct_graph_batchnorm(g, "d2bn", x, 1e-3f, 1, 1);
	x = ct_graph_relu6(g, "d2r", x);
	x = ct_graph_conv2d(g, "p2c", x, 40, 1, 1, 1, 1, 1, 1, CT_ACT_NONE);
	x = ct_graph_relu(g, "r3", x);
	x = ct_graph_sepconv2d(g, "s3", x, 56, 3, 3, 1, 1, 1, 1, CT_ACT_RELU);
	return g;
}

/* With the default settings Xception's entry flow fuses block2 and block3 (147 x 147 x 128,
 * 74 x 74 x 256) but not block4 (37 x 37 x 728: a GEMM block of rows needs 1.5 MB, four
 * times the tile budget): the profile books no time to a fused group's later steps. */
static void xception_groups(void)
{
	ct_graph *g = ct_model_build("xception");
	ct_weights w = { 0 };
	ct_tensor img = { 0 };
	int ok_ = g && !ct_graph_testweights(g, &w) &&
		  !ct_tensor_alloc4(&img, CT_U8, 1, g->in_h, g->in_w, g->in_c);
	t_set_threads(1);
	ct_net *net = ok_ ? ct_net_new(g, &w, "block5_sepconv1_act", CT_POOL_NONE) : NULL;
	ok_ = net && !ct_net_profile_enable(net, 1) && !ct_net_run(net, &img);
	double b3 = -1, b4 = -1;
	for (int i = 0; ok_ && i < ct_net_nsteps(net); i++) {
		ct_net_step_info si;
		ct_net_step_get(net, i, &si);
		if (!strcmp(si.op, "dwconv3x3") && !strcmp(si.layer, "block3_sepconv2"))
			b3 = si.seconds;
		if (!strcmp(si.op, "dwconv3x3") && !strcmp(si.layer, "block4_sepconv2"))
			b4 = si.seconds;
	}
	ok(ok_ && b3 == 0 && b4 > 0,
	   "xception: block3's depthwise runs inside its fused group (%g s), block4's alone (%g s)",
	   b3, b4);
	ct_net_free(net);
	ct_tensor_free(&img);
	ct_weights_free(&w);
	ct_graph_free(g);
}

int main(void)
{
	ct_gemm_kernel_set(ct_gemm_kernel_find("avx512") ? "avx512"
			   : ct_gemm_kernel_find("avx2") ? "avx2"
							 : "generic");
	ct_graph *g = sep_net();
	check_net("Xception-style net", g, "s3", 3, "s3");
	ct_graph_free(g);
	g = ct_model_build("mobilenet_v2");
	check_net("mobilenet_v2", g, "out_relu", 3, "block_1_depthwise");
	/* an expanded tensor asked for as an output stays unfused (and correct) */
	check_net("mobilenet_v2 with block_5_expand_relu as an output", g,
		  "block_5_expand_relu,out_relu", 2, "block_2_depthwise");
	ct_graph_free(g);
	xception_groups();
	TEST_DONE();
}
