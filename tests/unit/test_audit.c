/* test_audit.c - the shortcut audit's classifiers (logistic regression against
 * scikit-learn, the random forest on separable and on pure-noise data, determinism for any
 * thread count), the nuisance attributes on images whose values are known, and the per-source
 * TSV matching. */
#include "test.h"

#include "core/rng.h"
#include "image/nuisance.h"
#include "metrics/audit.h"
#include "metrics/bysource.h"
#include "metrics/metrics.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { N = 240, D = 5, M = 200 };

static void make_data(uint64_t seed, int separable, float *x, int *y, int64_t n)
{
	ct_rng r;
	ct_rng_init(&r, seed, 0);
	for (int64_t i = 0; i < n; i++) {
		double a = 0;
		for (int j = 0; j < D; j++) {
			x[i * D + j] = (float)(ct_rng_normal(&r) * (j + 1) + j);
			a += (j % 2 ? -0.6 : 0.8) * (x[i * D + j] - j) / (j + 1);
		}
		if (separable)
			y[i] = x[i * D + 2] > 2.0f;
		else if (separable < 0)
			y[i] = ct_rng_uniform(&r) < 0.5;
		else
			y[i] = ct_rng_uniform(&r) < 1 / (1 + exp(-a));
	}
}

static double auc_of(const double *p, const int *y, int64_t n)
{
	return ct_auc(p, y, n);
}

/* scikit-learn's LogisticRegression on the same standardised data, through /usr/bin/python3. */
static void logreg_vs_sklearn(void)
{
	static float x[N * D];
	static int y[N];
	static double p[N];
	make_data(7, 0, x, y, N);
	ok(ct_audit_logreg(x, y, N, D, x, N, p) == 0, "logistic regression fits");
	if (system("/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1") != 0) {
		printf("ok %d # skip scikit-learn not installed (python3-sklearn)\n", ++t_count);
		return;
	}
	char path[512], cmd[2048];
	snprintf(path, sizeof path, "%s/logreg.csv", t_tmpdir());
	FILE *f = fopen(path, "w");
	for (int i = 0; i < N; i++) {
		for (int j = 0; j < D; j++)
			fprintf(f, "%.9g,", x[i * D + j]);
		fprintf(f, "%d,%.17g\n", y[i], p[i]);
	}
	fclose(f);
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c '\n"
		 "import numpy as np, sys\n"
		 "from sklearn.linear_model import LogisticRegression\n"
		 "a = np.loadtxt(\"%s\", delimiter=\",\")\n"
		 "x, y, p = a[:, :%d], a[:, %d], a[:, %d + 1]\n"
		 "z = (x - x.mean(0)) / x.std(0)\n"
		 "m = LogisticRegression(C=1 / (1e-2 * len(y)), tol=1e-12, max_iter=100000).fit(z, y)\n"
		 "d = np.abs(m.predict_proba(z)[:, 1] - p).max()\n"
		 "print(\"# largest difference from scikit-learn: %%.3g\" %% d)\n"
		 "sys.exit(0 if d < 1e-5 else 1)'",
		 path, D, D, D);
	ok(system(cmd) == 0, "probabilities equal scikit-learn's LogisticRegression (C = 1 / (lambda n)) within 1e-5");
}

static void forest(void)
{
	static float x[N * D], xe[M * D];
	static int y[N], ye[M];
	static double p[M], q[M];
	make_data(11, 1, x, y, N);
	make_data(12, 1, xe, ye, M);
	ok(ct_audit_forest(x, y, N, D, xe, M, 5, p) == 0, "forest fits separable data");
	double a = auc_of(p, ye, M);
	ok(a > 0.97, "forest: held-out AUC on a threshold rule is %.3f (> 0.97)", a);
	int ok_range = 1;
	for (int i = 0; i < M; i++)
		ok_range &= p[i] >= 0 && p[i] <= 1;
	ok(ok_range, "forest probabilities lie in [0, 1]");
#ifdef _OPENMP
	omp_set_num_threads(1);
#endif
	ct_audit_forest(x, y, N, D, xe, M, 5, q);
#ifdef _OPENMP
	omp_set_num_threads(2);
#endif
	ok(!memcmp(p, q, sizeof p), "forest: the same probabilities with 1 and 2 threads");
	ct_audit_forest(x, y, N, D, xe, M, 6, q);
	ok(memcmp(p, q, sizeof p) != 0, "forest: another seed gives other trees");
	/* labels that no attribute explains */
	ct_rng r;
	ct_rng_init(&r, 99, 1);
	for (int i = 0; i < N; i++)
		y[i] = ct_rng_uniform(&r) < 0.5;
	for (int i = 0; i < M; i++)
		ye[i] = ct_rng_uniform(&r) < 0.5;
	ct_audit_forest(x, y, N, D, xe, M, 5, p);
	a = auc_of(p, ye, M);
	ok(a > 0.35 && a < 0.65, "forest: held-out AUC on random labels is %.3f (near 0.5)", a);
}

static int idx(const char *name)
{
	for (int k = 0; k < CT_NUISANCE_COUNT; k++)
		if (!strcmp(ct_nuisance_names[k], name))
			return k;
	return -1;
}

static void nuisance(void)
{
	int groups_ok = 1, names_ok = 1;
	for (int k = 0; k < CT_NUISANCE_COUNT; k++) {
		groups_ok &= ct_nuisance_group[k] >= 0 && ct_nuisance_group[k] < CT_NUI_NGROUPS;
		names_ok &= ct_nuisance_names[k] != NULL && idx(ct_nuisance_names[k]) == k;
		if (k > 0)
			groups_ok &= ct_nuisance_group[k] >= ct_nuisance_group[k - 1];
	}
	ok(groups_ok && names_ok, "every attribute has a unique name and a group, groups in order");
	/* 100 x 80 grey: a white frame 10 pixels wide around a black interior */
	ct_tensor t;
	ct_tensor_alloc3(&t, CT_U8, 100, 80, 1);
	uint8_t *v = t.data;
	for (int y = 0; y < 100; y++)
		for (int xx = 0; xx < 80; xx++)
			v[y * 80 + xx] = (y < 10 || y >= 90 || xx < 10 || xx >= 70) ? 255 : 0;
	float a[CT_NUISANCE_COUNT];
	ok(ct_nuisance(&t, "png", 8, a) == 0, "attributes of a framed image");
	double white = 1 - 80.0 * 60.0 / 8000.0;
	ok(a[idx("orig_height")] == 100 && a[idx("orig_width")] == 80 && fabsf(a[idx("aspect")] - 0.8f) < 1e-6,
	   "size attributes are the stored height, width and aspect");
	ok(a[idx("is_png")] == 1 && a[idx("is_jpeg")] == 0 && a[idx("channels")] == 1 && a[idx("bit_depth")] == 8,
	   "format attributes");
	ok(fabs(a[idx("mean")] - white) < 1e-6 && fabs(a[idx("white_share")] - white) < 1e-6 &&
		   fabs(a[idx("black_share")] - (1 - white)) < 1e-6,
	   "mean, white and black shares are the frame's and the interior's areas");
	ok(fabs(a[idx("margin_rows")] - 0.2) < 1e-6 && fabs(a[idx("margin_cols")] - 0.25) < 1e-6,
	   "uniform margins: 20 of 100 rows, 20 of 80 columns");
	ok(fabs(a[idx("border_mean")] - 1) < 1e-6 && a[idx("border_std")] < 1e-6, "the outer 5%% frame is white");
	ct_tensor_free(&t);
	/* an RGB image with a red arrow-like stroke: colour share and chroma */
	ct_tensor_alloc3(&t, CT_U8, 50, 50, 3);
	v = t.data;
	memset(v, 128, 50 * 50 * 3);
	for (int i = 0; i < 50; i++) {
		v[(25 * 50 + i) * 3 + 0] = 255;
		v[(25 * 50 + i) * 3 + 1] = 0;
		v[(25 * 50 + i) * 3 + 2] = 0;
	}
	ok(ct_nuisance(&t, "jpeg", 8, a) == 0 && fabs(a[idx("colour_share")] - 50.0 / 2500.0) < 1e-6 &&
		   fabs(a[idx("chroma")] - 50.0 / 2500.0) < 1e-6 && a[idx("is_jpeg")] == 1,
	   "a red stroke on grey: colour share and chroma are its area");
	ct_tensor_free(&t);
}

static void sources(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/src.tsv", t_tmpdir());
	FILE *f = fopen(path, "w");
	fprintf(f, "file\tclass\tkind\n a.png\tX\tweb\nb.png\tX\thospital\nc.png\tY\thospital\n");
	fclose(f);
	ct_samples s;
	ct_samples_alloc(&s, 4, 2);
	const char *names[4] = { "CT_COVID/b.png", "CT_COVID/b.png#aug3", "z/c.png#p2", "q.png" };
	for (int i = 0; i < 4; i++)
		s.names[i] = strdup(names[i]);
	char **src = NULL, *col = NULL;
	ok(ct_sources_tsv_read(path, 3, &s, &src, &col) == 0, "sources TSV read");
	ok(src && !strcmp(src[0], "hospital") && !strcmp(src[1], "hospital") && !strcmp(src[2], "hospital") &&
		   !strcmp(src[3], "(unknown)") && !strcmp(col, "kind"),
	   "matched by base name, #aug/#p suffixes dropped, unnamed samples unknown, column named by the header");
	ct_strings_free(src, 4);
	free(col);
	ok(ct_sources_tsv_read(path, 7, &s, &src, &col) < 0, "a column the TSV lacks is an error");
	ct_samples_free(&s);
}

int main(void)
{
	logreg_vs_sklearn();
	forest();
	nuisance();
	sources();
	printf("1..%d\n", t_count);
	TEST_DONE();
}
