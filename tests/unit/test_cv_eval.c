/* test_cv_eval.c - ct_train_cv_eval: rows marked not to evaluate (augmented copies) train but
 * are never scored when their fold is held out. Mislabelled "copies" would cost accuracy if
 * they were scored; excluded, the held-out originals of two separated clusters score 1.
 * With every row evaluated, ct_train_cv_eval equals ct_train_cv bit for bit. */
#include "test.h"

#include "core/rng.h"
#include "train/train.h"

#include <math.h>

int main(void)
{
	enum { N0 = 60, NC = 12, N = N0 + NC, D = 4, K = 5 };
	static float x[N * D];
	int32_t y[N], fold[N];
	uint8_t eval[N];
	ct_rng r;
	ct_rng_init(&r, 7, 0);
	/* 60 originals in two well separated clusters, one per class, 12 groups of 5 (fold = group % 5);
	 * then 12 "copies", one of the first row of each group, with the label flipped. */
	for (int i = 0; i < N0; i++) {
		y[i] = (i / 5) % 2;
		fold[i] = (i / 5) % K;
		eval[i] = 1;
		for (int j = 0; j < D; j++)
			x[i * D + j] = (float)((y[i] ? 3.0 : -3.0) + ct_rng_range(&r, -1, 1));
	}
	for (int c = 0; c < NC; c++) {
		int i = N0 + c, src = c * 5;
		y[i] = 1 - y[src];
		fold[i] = fold[src];
		eval[i] = 0;
		for (int j = 0; j < D; j++)
			x[i * D + j] = x[src * D + j] + (float)ct_rng_range(&r, -0.1, 0.1);
	}
	ct_train_opts o;
	ct_train_defaults(&o);
	o.kind = CT_HEAD_LOGREG;
	o.dropout = 0;
	o.epochs = 50;
	o.lr = 0.05;
	o.batch = 8;
	o.seed = 3;
	ct_cv_result a = { 0 }, b = { 0 }, c = { 0 };
	ok(ct_train_cv_eval(x, y, N, D, 2, fold, K, eval, &o, &a) == 0, "cross-validates with 12 copies excluded from scoring");
	ok(ct_train_cv(x, y, N, D, 2, fold, K, &o, &b) == 0, "cross-validates scoring every row");
	ok(a.acc_mean == 1.0, "excluded: the held-out originals are all right (accuracy %.4f)", a.acc_mean);
	/* Each fold holds 12 originals and 2-3 flipped copies: scoring them costs >= 2/14. */
	ok(b.acc_mean < 0.9, "scored: the flipped copies cost accuracy (%.4f)", b.acc_mean);
	uint8_t all[N];
	memset(all, 1, sizeof all);
	ok(ct_train_cv_eval(x, y, N, D, 2, fold, K, all, &o, &c) == 0, "every row evaluated");
	int same = c.acc_mean == b.acc_mean && c.auc_mean == b.auc_mean;
	for (int f = 0; f < K; f++)
		same &= c.acc[f] == b.acc[f] && c.auc[f] == b.auc[f] && c.best_epoch[f] == b.best_epoch[f];
	ok(same, "... equals ct_train_cv bit for bit");
	ct_cv_result_free(&a);
	ct_cv_result_free(&b);
	ct_cv_result_free(&c);
	printf("1..%d\n", t_count);
	TEST_DONE();
}
