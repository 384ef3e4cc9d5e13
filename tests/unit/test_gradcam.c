/* test_gradcam.c - Grad-CAM for ct-explain: the head's input gradient against finite
 * differences, the CAM of pooled activations against the gradient of the score with respect to
 * the activation map taken by finite differences, the bilinear upsampling, the heat share, and
 * the L2-fusion backward step. (The whole chain against numpy: tests/cli/test_explain.sh.) */
#include "explain/gradcam.h"
#include "image/phantom.h"
#include "nn/ops.h"
#include "test.h"
#include "train/head.h"

#include <math.h>
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

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "phantom-masks"))
		return phantom_masks(argv);
	test_head_grad(CT_HEAD_LOGREG);
	test_head_grad(CT_HEAD_MLP);
	for (int p = 0; p < 3; p++)
		for (int kind = 0; kind < 2; kind++)
			test_cam(p == 0 ? CT_POOL_AVG : p == 1 ? CT_POOL_MAX : CT_POOL_NONE, kind ? CT_HEAD_MLP : CT_HEAD_LOGREG);
	test_upsample();
	test_share();
	test_l2();
	printf("1..%d\n", t_count);
	TEST_DONE();
}
