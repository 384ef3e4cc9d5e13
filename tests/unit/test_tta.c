/* test_tta.c - test-time augmentation (eval/tta.h, ct_train_cv_tta): which names are copies,
 * each copy's original found (or a clear error), the mean against a plain double reference,
 * and cross-validation that scores each held-out image with its copies: identical copies
 * change nothing (bit for bit against ct_train_cv_ensemble), informative copies raise the
 * held-out AUC of uninformative originals. */
#include "test.h"

#include "core/error.h"
#include "core/rng.h"
#include "eval/tta.h"
#include "train/ensemble.h"
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void set_row(ct_samples *s, int64_t i, const char *name, const char *split, int label)
{
	s->names[i] = strdup(name);
	s->groups[i] = strdup("");
	s->splits[i] = strdup(split);
	s->labels[i] = label;
}

int main(void)
{
	size_t bl = 0;
	ok(ct_tta_is_copy("a/x.png#aug3", &bl) && bl == 7, "'a/x.png#aug3' is a copy of 'a/x.png'");
	ok(ct_tta_is_copy("v.nii#z4#aug12", &bl) && bl == 8, "'v.nii#z4#aug12' is a copy of 'v.nii#z4'");
	ok(!ct_tta_is_copy("x.png", &bl), "'x.png' is an original");
	ok(!ct_tta_is_copy("scan#augmented.png", &bl), "'scan#augmented.png' is an original ('#aug' not at the end)");
	ok(!ct_tta_is_copy("x#aug", &bl), "'x#aug' (no number) is an original");
	ok(!ct_tta_is_copy("x#aug2a", &bl), "'x#aug2a' is an original");

	/* originals b, a, c (out of order), copies of a and c interleaved */
	ct_samples s;
	memset(&s, 0, sizeof s);
	ok(ct_samples_alloc(&s, 6, 2) == 0, "samples");
	set_row(&s, 0, "b.png", "test", 1);
	set_row(&s, 1, "a.png#aug0", "test", 0);
	set_row(&s, 2, "a.png", "test", 0);
	set_row(&s, 3, "c.png#aug1", "val", 1);
	set_row(&s, 4, "c.png", "val", 1);
	set_row(&s, 5, "a.png#aug1", "test", 0);
	int64_t orig[6], nc = -1;
	ok(ct_tta_origins(&s, "f.h5", orig, &nc) == 0 && nc == 3, "three copies found");
	ok(orig[0] == 0 && orig[1] == 2 && orig[2] == 2 && orig[3] == 4 && orig[4] == 4 && orig[5] == 2,
	   "each copy maps to its original, originals to themselves");
	float p[12] = { 0.1f, 0.9f, 0.7f, 0.3f, 0.2f, 0.8f, 0.4f, 0.6f, 0.5f, 0.5f, 0.6f, 0.4f };
	double ref[12];
	for (int i = 0; i < 12; i++)
		ref[i] = p[i];
	ref[4] = (0.2 + 0.7 + 0.6) / 3, ref[5] = (0.8 + 0.3 + 0.4) / 3; /* a: rows 2, 1, 5 */
	ref[8] = (0.5 + 0.4) / 2, ref[9] = (0.5 + 0.6) / 2;          /* c: rows 4, 3 */
	ok(ct_tta_mean(orig, 6, 2, p) == 0, "mean");
	double err = 0;
	for (int i = 0; i < 12; i++)
		err = fmax(err, fabs(p[i] - ref[i]));
	ok(err < 1e-7, "originals hold the mean over themselves and their copies, copies unchanged (max error %.2g)", err);
	/* a copy without its original, and one in another split */
	free(s.names[2]);
	s.names[2] = strdup("d.png");
	ok(ct_tta_origins(&s, "f.h5", orig, &nc) < 0 && strstr(ct_last_error(), "'a.png#aug0' has no original row 'a.png'") &&
		   strstr(ct_last_error(), "'f.h5'"),
	   "a copy without its original: '%s'", ct_last_error());
	free(s.names[2]);
	s.names[2] = strdup("a.png");
	free(s.splits[1]);
	s.splits[1] = strdup("train");
	ok(ct_tta_origins(&s, "f.h5", orig, &nc) < 0 && strstr(ct_last_error(), "differs from its original"),
	   "a copy in another split than its original: '%s'", ct_last_error());
	ct_samples_free(&s);

	/* Cross-validation: 60 originals in 12 groups of 5 (fold = group % 5), two copies each
	 * following it. */
	enum { N0 = 60, C = 2, N = N0 * (1 + C), D = 4, K = 5 };
	static float x[N * D], xi[N * D];
	int32_t y[N], fold[N];
	uint8_t eval[N];
	int64_t org[N], none[N];
	ct_rng r;
	ct_rng_init(&r, 11, 0);
	for (int i0 = 0; i0 < N0; i0++) {
		int lab = (i0 / 5) % 2;
		for (int c = 0; c <= C; c++) {
			int i = i0 * (1 + C) + c;
			y[i] = lab, fold[i] = (i0 / 5) % K, eval[i] = c == 0, org[i] = i0 * (1 + C), none[i] = i;
			for (int j = 0; j < D; j++) {
				/* originals: mostly noise, a weak class signal; copies: a strong one */
				double sig = c == 0 ? 0.15 : 2.0;
				x[i * D + j] = (float)((lab ? sig : -sig) + ct_rng_range(&r, -1, 1));
				xi[i * D + j] = c == 0 ? x[i * D + j] : xi[(i0 * (1 + C)) * D + j];
			}
		}
	}
	ct_train_opts o;
	ct_train_defaults(&o);
	o.kind = CT_HEAD_LOGREG;
	o.dropout = 0;
	o.epochs = 40;
	o.lr = 0.05;
	o.batch = 8;
	o.seed = 5;
	ct_cv_result a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, e = { 0 };
	/* identical copies: the same rows train either way, the mean of equal probabilities is them */
	ok(ct_train_cv_ensemble(xi, y, N, D, 2, fold, K, eval, &o, 1, &a) == 0, "identical copies: without TTA");
	ok(ct_train_cv_tta(xi, y, N, D, 2, fold, K, eval, org, &o, 1, &b) == 0, "identical copies: with TTA");
	int same = a.acc_mean == b.acc_mean && a.auc_mean == b.auc_mean;
	for (int f = 0; f < K; f++)
		same &= a.acc[f] == b.acc[f] && a.auc[f] == b.auc[f] && a.best_epoch[f] == b.best_epoch[f];
	ok(same, "... the same results bit for bit (AUC %.4f)", a.auc_mean);
	ok(ct_train_cv_tta(x, y, N, D, 2, fold, K, eval, none, &o, 1, &e) == 0 &&
		   e.auc_mean == (ct_train_cv_ensemble(x, y, N, D, 2, fold, K, eval, &o, 1, &d), d.auc_mean),
	   "no copies named: equals ct_train_cv_ensemble");
	ct_cv_result_free(&a), ct_cv_result_free(&b), ct_cv_result_free(&e);
	/* informative copies: averaged in, they lift the held-out score of the noisy originals */
	ok(ct_train_cv_tta(x, y, N, D, 2, fold, K, eval, org, &o, 1, &c) == 0, "informative copies: with TTA");
	ok(c.auc_mean > d.auc_mean + 0.1 && c.auc_mean > 0.95,
	   "... held-out AUC %.4f with the copies averaged in, %.4f on the originals alone", c.auc_mean, d.auc_mean);
	ct_cv_result_free(&c), ct_cv_result_free(&d);
	printf("1..%d\n", t_count);
	TEST_DONE();
}
