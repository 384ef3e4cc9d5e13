/* test_gradcam.c - Grad-CAM for ct-explain: the head's input gradient against finite
 * differences, the CAM of pooled activations against the gradient of the score with respect to
 * the activation map taken by finite differences, the bilinear upsampling, the heat share, and
 * the L2-fusion backward step. (The whole chain against numpy: tests/cli/test_explain.sh.) */
#include "core/error.h"
#include "data/lungpool.h"
#include "explain/explain.h"
#include "explain/gradcam.h"
#include "nn/testweights.h"
#include "image/phantom.h"
#include "nn/ops.h"
#include "test.h"
#include "train/head.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdint.h>

static uint64_t st = 12345;
static double urand(void)
{
	st = st * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(st >> 11) / 9007199254740992.0;
}
static float frand(double a, double b)
{
	return (float)(a + (b - a) * urand());
}

static void random_head(ct_head *m, ct_head_kind kind, int d, int hid, int k)
{
	ct_head_alloc(m, kind, d, hid, k);
	int out1 = kind == CT_HEAD_MLP ? hid : k;
	for (int t = 0; t < d; t++) {
		m->mean[t] = frand(-1, 1);
		m->std[t] = frand(0.3f, 2);
	}
	for (int i = 0; i < d * out1; i++)
		m->w1[i] = frand(-1, 1);
	for (int j = 0; j < out1; j++)
		m->b1[j] = frand(-0.5, 0.5);
	if (kind == CT_HEAD_MLP) {
		for (int i = 0; i < hid * k; i++)
			m->w2[i] = frand(-1, 1);
		for (int c = 0; c < k; c++)
			m->b2[c] = frand(-0.5, 0.5);
	}
}

/* log-odds of class 1 against class 0 from the probabilities of ct_head_predict: an
 * independent route to the logits (softmax is invariant to a shift, the difference is not). */
static double logodds(const ct_head *m, const float *x)
{
	float p[8];
	ct_head_predict(m, x, 1, p);
	return log((double)p[1]) - log((double)p[0]);
}

static void test_head_grad(ct_head_kind kind)
{
	const char *kn = kind == CT_HEAD_MLP ? "mlp" : "logreg";
	int d = 12, hid = 7, k = 3;
	ct_head m;
	random_head(&m, kind, d, hid, k);
	float x[12];
	double worst = 0, zerr = 0;
	for (int trial = 0; trial < 20; trial++) {
		for (int t = 0; t < d; t++)
			x[t] = frand(-2, 2);
		double g1[12], g0[12], z1, z0;
		ct_head_logit_grad(&m, x, 1, &z1, g1);
		ct_head_logit_grad(&m, x, 0, &z0, g0);
		zerr = fmax(zerr, fabs((z1 - z0) - logodds(&m, x)));
		for (int t = 0; t < d; t++) {
			/* Central differences of the log-odds in float input; step large enough for
			 * float rounding, small enough to stay on one ReLU piece (checked below). */
			double h = 1e-2;
			float xp[12], xm[12];
			memcpy(xp, x, sizeof x);
			memcpy(xm, x, sizeof x);
			xp[t] += (float)h;
			xm[t] -= (float)h;
			double fd = (logodds(&m, xp) - logodds(&m, xm)) / ((double)xp[t] - xm[t]);
			double an = g1[t] - g0[t];
			double e = fabs(fd - an) / fmax(1.0, fabs(an));
			worst = fmax(worst, e);
		}
	}
	diag("%s: largest relative error of the gradient %.2e, of the logit difference %.2e", kn, worst, zerr);
	ok(zerr < 1e-4, "%s: z1 - z0 from ct_head_logit_grad equals log(p1/p0) of ct_head_predict", kn);
	ok(worst < 2e-3, "%s: d(z1 - z0)/dx matches central finite differences", kn);
	ok(ct_head_logit_grad(&m, x, k, NULL, NULL) < 0, "%s: a class out of range is an error", kn);
	ct_head_free(&m);
}


/* The score of an activation map A (h x w x c) through the pooling and the head. */
static double map_score(const ct_head *m, const float *A, int h, int w, int c, ct_pool pool)
{
	float f[64];
	if (pool == CT_POOL_NONE)
		memcpy(f, A, (size_t)h * w * c * sizeof *f);
	else
		ct_op_gpool(pool == CT_POOL_MAX, 1, (int64_t)h * w, c, A, f);
	return logodds(m, f);
}

/* Reference CAM from the definition: G = d score / d A by central differences on A itself;
 * heat = ReLU(sum_k G_k(i,j) A_k(i,j)) for pooled maps (avg: G is uniform, so this is
 * ReLU(sum_k mean(G_k) A_k), the paper's form; max: only the arg-max location has G), and
 * heat = ReLU(sum_k mean_ij(G_k) A_k(i,j)) without pooling. */
static void test_cam(ct_pool pool, ct_head_kind kind)
{
	const char *pn = pool == CT_POOL_AVG ? "avg" : pool == CT_POOL_MAX ? "max" : "none";
	int h = 3, w = 4, c = 5, hw = h * w, d = pool == CT_POOL_NONE ? hw * c : c;
	ct_head m;
	random_head(&m, kind, d, 6, 2);
	float A[60], f[64];
	double worst = 0, scale = 0;
	int any = 0;
	for (int trial = 0; trial < 10; trial++) {
		for (int i = 0; i < hw * c; i++)
			A[i] = frand(0, 3); /* post-ReLU activations */
		if (pool == CT_POOL_NONE)
			memcpy(f, A, sizeof A);
		else
			ct_op_gpool(pool == CT_POOL_MAX, 1, hw, c, A, f);
		double g1[64], g0[64], g[64];
		ct_head_logit_grad(&m, f, 1, NULL, g1);
		ct_head_logit_grad(&m, f, 0, NULL, g0);
		for (int i = 0; i < d; i++)
			g[i] = g1[i] - g0[i];
		float heat[12];
		ct_gradcam_map(A, h, w, c, pool, g, heat);
		double G[60];
		for (int i = 0; i < hw * c; i++) {
			float ap[60], am[60];
			memcpy(ap, A, sizeof A);
			memcpy(am, A, sizeof A);
			ap[i] += 1e-3f;
			am[i] -= 1e-3f;
			G[i] = (map_score(&m, ap, h, w, c, pool) - map_score(&m, am, h, w, c, pool)) / ((double)ap[i] - am[i]);
		}
		for (int s = 0; s < hw; s++) {
			double v = 0;
			for (int k = 0; k < c; k++) {
				double gk = G[s * c + k];
				if (pool == CT_POOL_NONE) {
					gk = 0;
					for (int q = 0; q < hw; q++)
						gk += G[q * c + k] / hw;
				}
				v += gk * A[s * c + k];
			}
			double ref = v > 0 ? v : 0;
			any |= ref > 0;
			scale = fmax(scale, ref);
			worst = fmax(worst, fabs(ref - heat[s]));
		}
	}
	diag("cam %s/%s: largest error %.2e (largest heat %.2e)", pn, ct_head_kind_name(kind), worst, scale);
	ok(any && worst < 2e-3 * fmax(1, scale), "%s pooling, %s head: the CAM equals ReLU(sum_k dS/dA_k A_k) with dS/dA by finite differences",
	   pn, ct_head_kind_name(kind));
	ct_head_free(&m);
}

/* Lung-field pooling (data/lungpool.h): the cell weights against a brute-force reference that
 * splits every pixel into h x w sub-pixels (each cell is then exactly H x W of them), on random
 * masks whose sizes are no multiple of the grid's. */
static void test_lung_weights(void)
{
	double worst = 0;
	int sums = 1;
	for (int trial = 0; trial < 20; trial++) {
		int H = 5 + trial % 7, W = 4 + (trial * 3) % 9, h = 1 + trial % 4, w = 1 + (trial / 2) % 5;
		uint8_t mk[16 * 16];
		for (int i = 0; i < H * W; i++)
			mk[i] = urand() < 0.4;
		double wt[32], tot = ct_lung_weights(mk, H, W, h, w, wt), s = 0;
		for (int i = 0; i < h; i++)
			for (int j = 0; j < w; j++) {
				/* sub-pixel (Y, X) of the (H h) x (W w) grid lies in pixel (Y / h, X / w) and in
				 * cell (Y / H, X / W) */
				int on = 0;
				for (int Y = i * H; Y < (i + 1) * H; Y++)
					for (int X = j * W; X < (j + 1) * W; X++)
						on += mk[(Y / h) * W + X / w] != 0;
				double ref = (double)on / (H * W);
				worst = fmax(worst, fabs(ref - wt[i * w + j]));
				s += wt[i * w + j];
			}
		sums &= fabs(s - tot) < 1e-12;
	}
	ok(worst < 1e-12 && sums, "lung cell weights equal the sub-pixel count (largest error %.1e)", worst);
	uint8_t none[35] = { 0 };
	double wt[6];
	ok(ct_lung_weights(none, 5, 7, 2, 3, wt) == 0, "an empty mask has weight 0");
}

static double lung_score(const ct_head *m, const float *A, int hw, int c, int is_max, const double *wt)
{
	float f[64];
	ct_lung_pool(is_max, A, hw, c, wt, f);
	return logodds(m, f);
}

/* The CAM of a lung-pooled block (ct_gradcam_map_lung) from the definition: ReLU(sum_k
 * dS/dA_k(s) A_k(s)) with dS/dA by finite differences through ct_lung_pool; zero outside the
 * lung field; with an empty field, the whole-map CAM. */
static void test_cam_lung(int is_max, ct_head_kind kind)
{
	int h = 3, w = 4, c = 5, hw = h * w;
	ct_head m;
	random_head(&m, kind, c, 6, 2);
	double worst = 0, scale = 0;
	int any = 0, outside = 1, same_empty = 1;
	for (int trial = 0; trial < 10; trial++) {
		float A[60], f[64];
		double wt[12], g1[64], g0[64], g[64];
		for (int i = 0; i < hw * c; i++)
			A[i] = frand(0, 3);
		for (int s = 0; s < hw; s++)
			wt[s] = urand() < 0.4 ? 0.0 : urand();
		/* max: a top two within the differences' step would split the gradient; draw again */
		int close = 0;
		for (int k = 0; is_max && k < c; k++)
			for (int s = 0; s < hw; s++)
				for (int q = 0; q < s; q++)
					close |= wt[s] > 0 && wt[q] > 0 && fabs(A[s * c + k] - A[q * c + k]) < 1e-2;
		if (close) {
			trial--;
			continue;
		}
		ct_lung_pool(is_max, A, hw, c, wt, f);
		ct_head_logit_grad(&m, f, 1, NULL, g1);
		ct_head_logit_grad(&m, f, 0, NULL, g0);
		for (int i = 0; i < c; i++)
			g[i] = g1[i] - g0[i];
		float heat[12], plain[12], empty[12];
		ct_gradcam_map_lung(A, h, w, c, is_max ? CT_POOL_MAX : CT_POOL_AVG, g, wt, heat);
		for (int s = 0; s < hw; s++) {
			double v = 0;
			for (int k = 0; k < c; k++) {
				float ap[60], am[60];
				memcpy(ap, A, sizeof A);
				memcpy(am, A, sizeof A);
				ap[s * c + k] += 1e-3f;
				am[s * c + k] -= 1e-3f;
				double G = (lung_score(&m, ap, hw, c, is_max, wt) - lung_score(&m, am, hw, c, is_max, wt)) /
					   ((double)ap[s * c + k] - am[s * c + k]);
				v += G * A[s * c + k];
			}
			double ref = v > 0 ? v : 0;
			any |= ref > 0;
			scale = fmax(scale, ref);
			worst = fmax(worst, fabs(ref - heat[s]));
			outside &= wt[s] > 0 || heat[s] == 0;
		}
		double zero[12] = { 0 };
		ct_gradcam_map_lung(A, h, w, c, is_max ? CT_POOL_MAX : CT_POOL_AVG, g, zero, empty);
		ct_gradcam_map(A, h, w, c, is_max ? CT_POOL_MAX : CT_POOL_AVG, g, plain);
		same_empty &= !memcmp(empty, plain, sizeof plain);
	}
	const char *pn = is_max ? "lung-max" : "lung-avg";
	diag("cam %s/%s: largest error %.2e (largest heat %.2e)", pn, ct_head_kind_name(kind), worst, scale);
	ok(any && worst < 2e-3 * fmax(1, scale),
	   "%s pooling, %s head: the CAM equals ReLU(sum_k dS/dA_k A_k), dS/dA by finite differences", pn,
	   ct_head_kind_name(kind));
	ok(outside, "%s: no heat on cells outside the lung field", pn);
	ok(same_empty, "%s: an empty lung field gives the whole-map CAM", pn);
	ct_head_free(&m);
}

static void test_upsample(void)
{
	float in[6] = { 0, 1, 2, 3, 4, 5 }, out[6 * 8], same[6];
	ct_heat_upsample(in, 2, 3, same, 2, 3);
	ok(!memcmp(in, same, sizeof in), "upsampling to the same size is the identity");
	ct_heat_upsample(in, 2, 3, out, 4, 6);
	/* Half-pixel centres: output (y, x) samples ((y + .5)/2 - .5, (x + .5)/2 - .5), clamped.
	 * Output (1, 1) -> source (0.25, 0.25): .75*.75*0 + .75*.25*1 + .25*.75*3 + .25*.25*4. */
	double e11 = .75 * .25 * 1 + .25 * .75 * 3 + .25 * .25 * 4;
	ok(fabs(out[1 * 6 + 1] - e11) < 1e-6 && out[0] == 0 && out[4 * 6 - 1] == 5,
	   "bilinear upsampling with half-pixel centres and clamped edges (hand-computed values)");
	float cst[4] = { 2, 2, 2, 2 }, big[35];
	ct_heat_upsample(cst, 2, 2, big, 5, 7);
	int flat = 1;
	for (int i = 0; i < 35; i++)
		flat &= fabsf(big[i] - 2) < 1e-6f;
	ok(flat, "a constant map stays constant at any size");
}

static void test_share(void)
{
	float heat[4] = { 1, 3, 0, 4 };
	uint8_t mask[4] = { 1, 0, 1, 255 };
	ok(fabs(ct_heat_share(heat, mask, 4) - 5.0 / 8) < 1e-12, "share of heat on the mask (non-zero mask pixels)");
	float zero[4] = { 0 };
	ok(isnan(ct_heat_share(zero, mask, 4)), "no heat: the share is undefined (NaN)");
}

/* y = s x / ||x||: the backward step against central differences of the forward. */
static void test_l2(void)
{
	float x[5] = { 0.5f, -1, 2, 0.25f, 1.5f };
	double gy[5] = { 0.3, -0.7, 0.2, 1.1, -0.4 }, gx[5], s = 1.7, worst = 0;
	ct_l2_backward(x, 5, s, gy, gx);
	for (int j = 0; j < 5; j++) {
		double fp = 0, fm = 0;
		for (int sign = -1; sign <= 1; sign += 2) {
			double xs[5], n = 0, f = 0;
			for (int t = 0; t < 5; t++)
				xs[t] = x[t] + (t == j ? sign * 1e-6 : 0);
			for (int t = 0; t < 5; t++)
				n += xs[t] * xs[t];
			for (int t = 0; t < 5; t++)
				f += gy[t] * s * xs[t] / sqrt(n);
			*(sign < 0 ? &fm : &fp) = f;
		}
		worst = fmax(worst, fabs((fp - fm) / 2e-6 - gx[j]));
	}
	ok(worst < 1e-6, "L2 fusion backward matches central differences (error %.1e)", worst);
}

/* Helper mode for tests/cli/test_explain.sh (not a test): the true lung masks of phantom
 * slices, so the CLI test can write /lung_mask without a segmentation of its own.
 *   test_gradcam phantom-masks W H SLICES SEED < "patient slice" lines (0-based) > masks.raw
 * writes H*W bytes (1 on lung) per line, in order. */
static int phantom_masks(char **argv)
{
	ct_phantom_opts o;
	ct_phantom_defaults(&o);
	o.width = atoi(argv[2]);
	o.height = atoi(argv[3]);
	o.slices_per_patient = atoi(argv[4]);
	o.seed = strtoull(argv[5], NULL, 10);
	size_t n = (size_t)o.width * o.height;
	float *hu = malloc(n * sizeof *hu);
	uint8_t *mask = malloc(n);
	int p, sl;
	while (hu && mask && scanf("%d %d", &p, &sl) == 2) {
		if (ct_phantom_render_into(&o, p, sl, 0, hu, mask) < 0 || fwrite(mask, 1, n, stdout) != n)
			return 1;
	}
	free(hu);
	free(mask);
	return fflush(stdout) != 0;
}

/* The driver on a hand-built network: blocks c1/avg, c2/max and c1/none (the same layer
 * twice) of a two-conv graph. The features it builds are those ct-features' pooled nets give
 * (bit for bit), its probability is ct_head_predict's, each block map sums to 1 (or is 0),
 * the combined map is their mean, and results do not depend on the thread count. */
static ct_graph *tiny_graph(void)
{
	ct_graph *g = ct_graph_new("tiny");
	int x = ct_graph_input(g, "in", 12, 12, 3);
	x = ct_graph_conv2d(g, "c1", x, 4, 3, 3, 2, 2, 1, 1, CT_ACT_RELU);
	ct_graph_conv2d(g, "c2", x, 5, 3, 3, 1, 1, 1, 1, CT_ACT_RELU);
	return g;
}

static void set_block(ct_fblock *b, const char *layer, const char *pool, int64_t start, int64_t width)
{
	char name[64];
	snprintf(name, sizeof name, "tiny/%s/%s", layer, pool);
	b->name = strdup(name);
	b->backbone = strdup("tiny");
	b->layer = strdup(layer);
	b->pool = strdup(pool);
	b->weights_sha256 = strdup("");
	b->start = start;
	b->width = width;
}

static void run_cams(ct_explainer *x, const ct_tensor *img, ct_cam *cams, int n, int H, int W)
{
	for (int i = 0; i < n; i++)
		ct_cam_alloc(&cams[i], x, H, W, 1);
	ct_explain_batch(x, img, NULL, NULL, NULL, cams);
}

static void test_driver(void)
{
	ct_graph *g = tiny_graph();
	ct_weights w = { 0 };
	ct_graph_testweights(g, &w);
	int d = 4 + 5 + 6 * 6 * 4;
	ct_head m;
	random_head(&m, CT_HEAD_MLP, d, 6, 2);
	m.class_names = calloc(2, sizeof *m.class_names);
	m.class_names[0] = strdup("normal");
	m.class_names[1] = strdup("lesion");
	m.nblocks = 3;
	m.blocks = calloc(3, sizeof *m.blocks);
	set_block(&m.blocks[0], "c1", "avg", 0, 4);
	set_block(&m.blocks[1], "c2", "max", 4, 5);
	set_block(&m.blocks[2], "c1", "none", 9, 144);
	ct_explain_fusion fu = { 0, 1.0 };
	ct_explainer x;
	int okk = ct_explainer_init(&x, &m, 1, &fu) == 0 && ct_explainer_add(&x, "tiny", g, &w) == 0;
	ok(okk, "the explainer binds a hand-built network to the model's three blocks");
	if (!okk) {
		diag("%s", ct_last_error());
		ct_head_free(&m);
		ct_weights_free(&w);
		ct_graph_free(g);
		return;
	}
	enum { N = 3 };
	ct_tensor img;
	ct_tensor_alloc4(&img, CT_U8, N, 12, 12, 3);
	for (int i = 0; i < N; i++)
		ct_testinput_fill(i, 12, 12, (uint8_t *)img.data + i * 12 * 12 * 3);
	ct_cam cams[N];
	run_cams(&x, &img, cams, N, 12, 12);
	/* ct-features' way: one pooled net per pooling */
	float ref[N][153];
	const char *layer[3] = { "c1", "c2", "c1" };
	ct_pool pool[3] = { CT_POOL_AVG, CT_POOL_MAX, CT_POOL_NONE };
	for (int b = 0; b < 3; b++) {
		ct_net *net = ct_net_new(g, &w, layer[b], pool[b]);
		ct_tensor v;
		ct_net_run(net, &img);
		ct_net_output(net, 0, &v);
		int64_t wd = m.blocks[b].width;
		for (int i = 0; i < N; i++)
			memcpy(&ref[i][m.blocks[b].start], (float *)v.data + i * wd, (size_t)wd * sizeof(float));
		ct_net_free(net);
	}
	int same = 1, psame = 1, sums = 1, mean = 1, anyheat = 0;
	for (int i = 0; i < N; i++) {
		same &= !memcmp(ref[i], cams[i].features, sizeof ref[i]);
		float p[2];
		ct_head_predict(&m, ref[i], 1, p);
		psame &= fabs(p[1] - cams[i].p) < 1e-6;
		double tot = 0;
		int nh = 0;
		for (int b = 0; b < 3; b++) {
			double s = ct_heat_sum(cams[i].block_heat + b * 144, 144);
			sums &= fabs(s - 1) < 1e-5 || s == 0;
			nh += s > 0;
		}
		anyheat |= nh > 0;
		for (int q = 0; q < 144; q++) {
			double v = 0;
			for (int b = 0; b < 3; b++)
				v += cams[i].block_heat[b * 144 + q];
			mean &= fabs(v / (nh ? nh : 1) - cams[i].heat[q]) < 1e-6;
			tot += cams[i].heat[q];
		}
		sums &= fabs(tot - 1) < 1e-5 || (nh == 0 && tot == 0);
	}
	ok(same, "the pooled features are bit-identical to ct-features' pooled outputs (avg, max, none)");
	ok(psame, "the probability is ct_head_predict's on those features");
	ok(sums && anyheat, "each block's upsampled map sums to 1 (or is all 0), the combined one too");
	ok(mean, "the combined map is the mean of the blocks with heat");
#ifdef _OPENMP
	ct_cam one[N];
	int nt = omp_get_max_threads();
	omp_set_num_threads(1);
	run_cams(&x, &img, one, N, 12, 12);
	omp_set_num_threads(nt > 1 ? nt : 2);
	int eq = 1;
	for (int i = 0; i < N; i++) {
		eq &= !memcmp(one[i].heat, cams[i].heat, 144 * sizeof(float)) && one[i].p == cams[i].p;
		ct_cam_free(&one[i]);
	}
	ok(eq, "one thread gives the same maps and probabilities");
#endif
	/* grey float images of another size: resized only when allowed */
	ct_tensor grey;
	ct_tensor_alloc4(&grey, CT_F32, 1, 10, 14, 1);
	for (int q = 0; q < 140; q++)
		((float *)grey.data)[q] = (float)(q % 17) / 16.0f;
	ct_cam gc;
	ct_cam_alloc(&gc, &x, 10, 14, 0);
	x.resize = 0;
	ok(ct_explain_batch(&x, &grey, NULL, NULL, NULL, &gc) < 0 && strstr(ct_last_error(), "expects 12x12"),
	   "images of another size are refused unless resizing is allowed");
	x.resize = 1;
	ok(ct_explain_batch(&x, &grey, NULL, NULL, NULL, &gc) == 0 && gc.p > 0 && gc.p < 1,
	   "a grey float image of another size is resized and explained at its own size");
	ct_cam_free(&gc);
	for (int i = 0; i < N; i++)
		ct_cam_free(&cams[i]);
	ct_tensor_free(&grey);
	ct_tensor_free(&img);
	ct_explainer_free(&x);
	/* a block of a user's own extractor cannot be explained; weights of another sha256 are refused */
	free(m.blocks[1].backbone);
	m.blocks[1].backbone = strdup("user");
	ok(ct_explainer_init(&x, &m, 1, &fu) < 0 && strstr(ct_last_error(), "user"),
	   "a block of backbone 'user' cannot be explained");
	free(m.blocks[1].backbone);
	m.blocks[1].backbone = strdup("tiny");
	free(m.blocks[0].weights_sha256);
	m.blocks[0].weights_sha256 = strdup("abc");
	snprintf(w.sha256, sizeof w.sha256, "def");
	ok(ct_explainer_init(&x, &m, 1, &fu) == 0 && ct_explainer_add(&x, "tiny", g, &w) < 0 &&
	       strstr(ct_last_error(), "sha256"),
	   "weights of another sha256 than the blocks record are refused");
	ct_explainer_free(&x);
	ct_head_free(&m);
	ct_weights_free(&w);
	ct_graph_free(g);
}

/* The fusion read from the provenance: ct-fuse's params. */
static void test_fusion(void)
{
	char *p1[] = { "{\"tool\":\"ct-features\",\"params\":{}}",
		       "{\"tool\":\"ct-fuse\",\"params\":{\"standardize\":false,\"l2\":true,\"weights\":\"2,2\"}}" };
	ct_explain_fusion f;
	ok(ct_explain_fusion_read(p1, 2, &f) == 0 && f.l2 && f.scale == 2, "--l2 with equal weights is reproduced");
	char *p2[] = { "{\"tool\":\"ct-fuse\",\"params\":{\"standardize\":true,\"l2\":false,\"weights\":null}}" };
	ok(ct_explain_fusion_read(p2, 1, &f) < 0, "--standardize is refused");
	char *p3[] = { "{\"tool\":\"ct-fuse\",\"params\":{\"standardize\":false,\"l2\":false,\"weights\":\"1,0.5\"}}" };
	ok(ct_explain_fusion_read(p3, 1, &f) < 0, "unequal weights are refused");
	ok(ct_explain_fusion_read(p1, 1, &f) == 0 && !f.l2 && f.scale == 1, "no ct-fuse: the features as extracted");
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "phantom-masks"))
		return phantom_masks(argv);
	test_head_grad(CT_HEAD_LOGREG);
	test_head_grad(CT_HEAD_MLP);
	for (int p = 0; p < 3; p++)
		for (int kind = 0; kind < 2; kind++)
			test_cam(p == 0 ? CT_POOL_AVG : p == 1 ? CT_POOL_MAX : CT_POOL_NONE, kind ? CT_HEAD_MLP : CT_HEAD_LOGREG);
	test_lung_weights();
	for (int kind = 0; kind < 2; kind++) {
		test_cam_lung(0, kind ? CT_HEAD_MLP : CT_HEAD_LOGREG);
		test_cam_lung(1, kind ? CT_HEAD_MLP : CT_HEAD_LOGREG);
	}
	test_upsample();
	test_share();
	test_l2();
	test_driver();
	test_fusion();
	printf("1..%d\n", t_count);
	TEST_DONE();
}
