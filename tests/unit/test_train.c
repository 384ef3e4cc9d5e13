/* test_train.c - the classifier head and its training: analytic gradients of both heads (weight
 * decay, class weights, dropout mask) against central differences in double; a linearly separable
 * set is learnt; bit-identical weights for 1 and 2 threads; early stopping restores the best epoch;
 * standardisation uses training rows only; model files round-trip; ct_head_check refuses another
 * feature layout. */
#include "test.h"

#include "core/error.h"
#include "core/rng.h"
#include "train/train.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double grad_check(ct_head_kind kind)
{
	int d = 5, h = 4, k = 3;
	int64_t rows = 7;
	ct_params p, g;
	ct_params_alloc(&p, kind, d, h, k);
	ct_params_alloc(&g, kind, d, h, k);
	ct_rng r;
	ct_rng_init(&r, 7, kind);
	for (size_t i = 0; i < p.count; i++)
		p.mem[i] = ct_rng_normal(&r) * 0.7;
	float x[7 * 5], mask[7 * 4];
	int32_t y[7];
	for (int i = 0; i < rows * d; i++)
		x[i] = (float)ct_rng_normal(&r);
	for (int i = 0; i < rows; i++)
		y[i] = (int32_t)ct_rng_below(&r, (uint64_t)k);
	for (int i = 0; i < rows * h; i++)
		mask[i] = ct_rng_uniform(&r) < 0.7 ? (float)(1 / 0.7) : 0.0f;
	double cw[3] = { 1.0, 2.5, 0.5 }, wd = 0.03;
	double *scratch = malloc(ct_head_loss_scratch(&p, rows) * sizeof *scratch);
	const float *mk = kind == CT_HEAD_MLP ? mask : NULL;
	ct_head_loss(&p, x, y, rows, cw, wd, mk, &g, scratch);
	double worst = 0, eps = 1e-6;
	for (size_t i = 0; i < p.count; i++) {
		double v = p.mem[i];
		p.mem[i] = v + eps;
		double lp = ct_head_loss(&p, x, y, rows, cw, wd, mk, NULL, scratch);
		p.mem[i] = v - eps;
		double lm = ct_head_loss(&p, x, y, rows, cw, wd, mk, NULL, scratch);
		p.mem[i] = v;
		double fd = (lp - lm) / (2 * eps), e = fabs(fd - g.mem[i]) / fmax(1e-3, fabs(fd) + fabs(g.mem[i]));
		worst = e > worst ? e : worst;
	}
	free(scratch);
	ct_params_free(&p);
	ct_params_free(&g);
	return worst;
}

/* n rows, d columns; label = [w . x > 0] with a margin; roles: first 60% train, then val, test. */
static void separable(int64_t n, int d, uint64_t seed, float *x, int32_t *y, uint8_t *role)
{
	ct_rng r;
	ct_rng_init(&r, seed, 0);
	double w[64];
	for (int j = 0; j < d; j++)
		w[j] = ct_rng_normal(&r);
	for (int64_t i = 0; i < n; i++) {
		double s;
		do {
			s = 0;
			for (int j = 0; j < d; j++) {
				x[i * d + j] = (float)(ct_rng_normal(&r) * (1 + j) + 3 * j);
				s += w[j] * (x[i * d + j] - 3 * j) / (1 + j);
			}
		} while (fabs(s) < 0.5);
		y[i] = s > 0;
		role[i] = i < n * 6 / 10 ? CT_ROLE_TRAIN : i < n * 8 / 10 ? CT_ROLE_VAL : CT_ROLE_NONE;
	}
}

static double accuracy(const ct_head *m, const float *x, const int32_t *y, const uint8_t *role, int want, int64_t n)
{
	float *p = malloc((size_t)n * m->nclasses * sizeof *p);
	ct_head_predict(m, x, n, p);
	int64_t right = 0, tot = 0;
	for (int64_t i = 0; i < n; i++) {
		if (role[i] != want)
			continue;
		tot++;
		right += (p[i * 2 + 1] > p[i * 2]) == (y[i] == 1);
	}
	free(p);
	return (double)right / (double)tot;
}

static int same_head(const ct_head *a, const ct_head *b)
{
	int o1 = a->kind == CT_HEAD_MLP ? a->hidden : a->nclasses;
	if (a->kind != b->kind || a->d_in != b->d_in || a->hidden != b->hidden)
		return 0;
	int same = !memcmp(a->w1, b->w1, sizeof(float) * a->d_in * o1) && !memcmp(a->b1, b->b1, sizeof(float) * o1) &&
		   !memcmp(a->mean, b->mean, sizeof(float) * a->d_in) && !memcmp(a->std, b->std, sizeof(float) * a->d_in);
	if (a->kind == CT_HEAD_MLP)
		same = same && !memcmp(a->w2, b->w2, sizeof(float) * a->hidden * a->nclasses) &&
		       !memcmp(a->b2, b->b2, sizeof(float) * a->nclasses);
	return same;
}

/* A features struct in memory with the given blocks (names and widths). */
static void make_features(ct_features *f, int64_t n, int nb, const char **names, const int64_t *widths)
{
	memset(f, 0, sizeof *f);
	ct_samples_alloc(&f->s, n, 2);
	f->s.class_names[0] = strdup("normal");
	f->s.class_names[1] = strdup("covid");
	int64_t d = 0;
	f->blocks = calloc((size_t)nb, sizeof *f->blocks);
	f->nblocks = nb;
	for (int b = 0; b < nb; b++) {
		f->blocks[b] = (ct_fblock){ strdup(names[b]), strdup("user"), strdup("l"), strdup("avg"), strdup(""), d,
					    widths[b] };
		d += widths[b];
	}
	ct_tensor_alloc(&f->x, CT_F32, 2, (int64_t[2]){ n, d });
}

int main(void)
{
	double e = grad_check(CT_HEAD_LOGREG);
	ok(e < 1e-6, "logreg gradient (weight decay, class weights) matches central differences: rel err %.2e", e);
	e = grad_check(CT_HEAD_MLP);
	ok(e < 1e-6, "mlp gradient (weight decay, class weights, dropout mask) matches central differences: rel err %.2e",
	   e);

	int64_t n = 400;
	int d = 10;
	float *x = malloc((size_t)n * d * sizeof *x);
	int32_t *y = malloc((size_t)n * sizeof *y);
	uint8_t *role = malloc((size_t)n);
	separable(n, d, 3, x, y, role);
	ct_train_opts o;
	ct_train_defaults(&o);
	o.epochs = 60;
	o.patience = 0;
	o.lr = 0.01;
	ct_head m1, m2;
	ct_train_log l1, l2;
	o.kind = CT_HEAD_LOGREG;
	int rc = ct_train_head(x, y, n, d, 2, role, &o, &m1, &l1);
	ok(rc == 0, "logreg trains on a linearly separable set");
	double a_tr = accuracy(&m1, x, y, role, CT_ROLE_TRAIN, n), a_va = accuracy(&m1, x, y, role, CT_ROLE_VAL, n);
	ok(a_tr >= 0.99 && a_va >= 0.95, "logreg: train accuracy %.3f >= 0.99, val %.3f >= 0.95", a_tr, a_va);
	ok(fabs(l1.train_acc[l1.epochs - 1] - a_tr) < 1e-9, "the log's last train accuracy is the head's (%.3f)",
	   l1.train_acc[l1.epochs - 1]);
	ct_head_free(&m1);
	ct_train_log_free(&l1);
	o.kind = CT_HEAD_MLP;
	o.hidden = 32;
	rc = ct_train_head(x, y, n, d, 2, role, &o, &m1, &l1);
	a_tr = accuracy(&m1, x, y, role, CT_ROLE_TRAIN, n);
	a_va = accuracy(&m1, x, y, role, CT_ROLE_VAL, n);
	ok(rc == 0 && a_tr >= 0.99 && a_va >= 0.95, "mlp: train accuracy %.3f >= 0.99, val %.3f >= 0.95", a_tr, a_va);

	/* Thread independence: 1 vs 2 threads, MLP with dropout and balanced class weights. */
	o.balanced = 1;
	o.epochs = 15;
	ct_head_free(&m1);
	ct_train_log_free(&l1);
	t_set_threads(1);
	rc = ct_train_head(x, y, n, d, 2, role, &o, &m1, &l1);
	t_set_threads(2);
	rc |= ct_train_head(x, y, n, d, 2, role, &o, &m2, &l2);
	ok(rc == 0 && same_head(&m1, &m2), "mlp weights are bit-identical for 1 and 2 threads");
	ok(l1.epochs == l2.epochs && !memcmp(l1.val_loss, l2.val_loss, sizeof(double) * l1.epochs),
	   "... and so is the training curve");
	ct_head_free(&m2);
	ct_train_log_free(&l2);
	o.kind = CT_HEAD_LOGREG;
	o.optimizer = CT_OPTIM_SGD;
	t_set_threads(1);
	ct_head_free(&m1);
	ct_train_log_free(&l1);
	rc = ct_train_head(x, y, n, d, 2, role, &o, &m1, &l1);
	t_set_threads(2);
	rc |= ct_train_head(x, y, n, d, 2, role, &o, &m2, &l2);
	ok(rc == 0 && same_head(&m1, &m2), "logreg (sgd) weights are bit-identical for 1 and 2 threads");
	ct_head_free(&m1);
	ct_head_free(&m2);
	ct_train_log_free(&l1);
	ct_train_log_free(&l2);
	ct_train_defaults(&o);
	o.hidden = 16;
	o.epochs = 10;
	ct_train_head(x, y, n, d, 2, role, &o, &m1, &l1);
	o.seed = 43;
	ct_train_head(x, y, n, d, 2, role, &o, &m2, &l2);
	ok(!same_head(&m1, &m2), "another seed gives other weights");
	ct_head_free(&m1);
	ct_head_free(&m2);
	ct_train_log_free(&l1);
	ct_train_log_free(&l2);

	/* Early stopping: noisy labels; a wide MLP first learns the signal, then memorises the 30
	 * training rows and the validation loss rises; the head must hold the best epoch's weights. */
	{
		int64_t nn = 90;
		int dd = 10;
		float *xr = malloc((size_t)nn * dd * sizeof *xr), *pr = malloc((size_t)nn * 2 * sizeof *pr);
		int32_t *yr = malloc((size_t)nn * sizeof *yr);
		uint8_t *rr = malloc((size_t)nn);
		ct_rng g;
		ct_rng_init(&g, 11, 0);
		for (int64_t i = 0; i < nn * dd; i++)
			xr[i] = (float)ct_rng_normal(&g);
		for (int64_t i = 0; i < nn; i++) {
			/* weakly informative: the sign of column 0, flipped for 20% of the rows */
			yr[i] = (xr[i * dd] > 0) ^ (ct_rng_uniform(&g) < 0.2);
			rr[i] = i < 30 ? CT_ROLE_TRAIN : CT_ROLE_VAL;
		}
		ct_train_defaults(&o);
		o.hidden = 128;
		o.dropout = 0;
		o.weight_decay = 0;
		o.lr = 0.002;
		o.epochs = 300;
		o.patience = 5;
		rc = ct_train_head(xr, yr, nn, dd, 2, rr, &o, &m1, &l1);
		ok(rc == 0 && l1.stopped_early && l1.best_epoch > 1 && l1.epochs == l1.best_epoch + o.patience,
		   "early stopping: stopped at epoch %d, %d epochs after the best (%d)", l1.epochs, o.patience,
		   l1.best_epoch);
		int best = l1.best_epoch - 1;
		double minloss = INFINITY;
		for (int i = 0; i < l1.epochs; i++)
			minloss = l1.val_loss[i] < minloss ? l1.val_loss[i] : minloss;
		ok(l1.val_loss[best] == minloss && l1.val_loss[l1.epochs - 1] > minloss,
		   "the best epoch has the lowest val loss (%.4f < last %.4f)", minloss, l1.val_loss[l1.epochs - 1]);
		ct_head_predict(&m1, xr, nn, pr);
		double vl = 0;
		for (int64_t i = 30; i < nn; i++)
			vl -= log(pr[i * 2 + yr[i]]);
		vl /= (double)(nn - 30);
		ok(fabs(vl - l1.val_loss[best]) < 1e-4,
		   "the returned head is the best epoch's: its val loss %.5f matches the log's %.5f", vl,
		   l1.val_loss[best]);
		ct_head_free(&m1);
		ct_train_log_free(&l1);
		free(xr);
		free(pr);
		free(yr);
		free(rr);
	}

	/* Standardisation from training rows only: a huge value in a val and an unused row. */
	{
		float *x2 = malloc((size_t)n * d * sizeof *x2);
		memcpy(x2, x, (size_t)n * d * sizeof *x2);
		int64_t iv = -1, it = -1;
		for (int64_t i = 0; i < n; i++) {
			if (role[i] == CT_ROLE_VAL && iv < 0)
				iv = i;
			if (role[i] == CT_ROLE_NONE && it < 0)
				it = i;
		}
		x2[iv * d + 2] = 1e6f;
		x2[it * d + 4] = -1e6f;
		ct_train_defaults(&o);
		o.epochs = 1;
		rc = ct_train_head(x2, y, n, d, 2, role, &o, &m1, &l1);
		double worst = 0;
		int64_t ntr = 0;
		for (int64_t i = 0; i < n; i++)
			ntr += role[i] == CT_ROLE_TRAIN;
		for (int j = 0; j < d; j++) {
			double mu = 0, var = 0;
			for (int64_t i = 0; i < n; i++)
				if (role[i] == CT_ROLE_TRAIN)
					mu += x[i * d + j];
			mu /= (double)ntr;
			for (int64_t i = 0; i < n; i++)
				if (role[i] == CT_ROLE_TRAIN)
					var += (x[i * d + j] - mu) * (x[i * d + j] - mu);
			double sd = sqrt(var / (double)ntr);
			worst = fmax(worst, fabs(m1.mean[j] - mu) / sd + fabs(m1.std[j] - sd) / sd);
		}
		ok(rc == 0 && worst < 1e-5, "mean and sd come from the training rows only (huge val/test values ignored)");
		ct_head_free(&m1);
		ct_train_log_free(&l1);
		free(x2);
	}

	/* Model file round trip and layout checks. */
	{
		ct_train_defaults(&o);
		o.hidden = 8;
		o.epochs = 3;
		rc = ct_train_head(x, y, n, d, 2, role, &o, &m1, &l1);
		const char *names[2] = { "a/l/avg", "b/l/avg" };
		int64_t widths[2] = { 6, 4 }, other[2] = { 5, 5 };
		ct_features f, g2;
		make_features(&f, 3, 2, names, widths);
		m1.class_names = calloc(2, sizeof(char *));
		m1.class_names[0] = strdup("normal");
		m1.class_names[1] = strdup("covid");
		m1.nblocks = 2;
		m1.blocks = calloc(2, sizeof *m1.blocks);
		for (int b = 0; b < 2; b++)
			m1.blocks[b] = (ct_fblock){ strdup(names[b]), strdup("user"), strdup("l"), strdup("avg"), strdup(""),
						    f.blocks[b].start, widths[b] };
		ok(rc == 0 && ct_head_check(&m1, &f) == 0, "ct_head_check accepts the layout the head was trained on");
		make_features(&g2, 3, 2, names, other);
		ok(ct_head_check(&m1, &g2) < 0 && strstr(ct_last_error(), "block 0 is 'a/l/avg' (5 columns)"),
		   "ct_head_check refuses other block widths: %s", ct_last_error());
		ct_features_free(&g2);
		const char *renamed[2] = { "a/l/avg", "c/l/avg" };
		make_features(&g2, 3, 2, renamed, widths);
		ok(ct_head_check(&m1, &g2) < 0 && strstr(ct_last_error(), "'c/l/avg'"),
		   "ct_head_check refuses another block name: %s", ct_last_error());
		ct_features_free(&g2);
		make_features(&g2, 3, 1, names, widths);
		ok(ct_head_check(&m1, &g2) < 0, "ct_head_check refuses fewer columns: %s", ct_last_error());
		ct_features_free(&g2);
		make_features(&g2, 3, 2, names, widths);
		free(g2.s.class_names[1]);
		g2.s.class_names[1] = strdup("lesion");
		ok(ct_head_check(&m1, &g2) < 0 && strstr(ct_last_error(), "'lesion'"),
		   "ct_head_check refuses other class names: %s", ct_last_error());
		ct_features_free(&g2);

		char path[512];
		snprintf(path, sizeof path, "%s/model.h5", t_tmpdir());
		ct_h5 h;
		ct_run run = { "test_train", "test_train", "{}" };
		rc = ct_h5_create(&h, path, 1);
		rc = rc ? rc : ct_file_stamp(h.file, "model", &run, NULL, 0);
		rc = rc ? rc : ct_head_write(h.file, &m1);
		rc = rc ? rc : ct_train_log_write(h.file, &l1, "val split");
		rc = rc ? rc : ct_h5_commit(&h);
		ct_head m3;
		ok(rc == 0 && ct_head_load(path, &m3) == 0 && same_head(&m1, &m3) && m3.nblocks == 2 &&
			   !strcmp(m3.class_names[1], "covid") && !strcmp(m3.blocks[1].name, "b/l/avg"),
		   "a model file round-trips weights, standardisation, classes and blocks");
		float p1[20], p3[20];
		ct_head_predict(&m1, x, 10, p1);
		ct_head_predict(&m3, x, 10, p3);
		ok(!memcmp(p1, p3, sizeof p1), "the loaded head predicts the same probabilities");
		ct_head_free(&m3);
		ok(ct_head_load("/nonexistent/m.h5", &m3) < 0 && strstr(ct_last_error(), "'/nonexistent/m.h5'"),
		   "loading a missing model names the file: %s", ct_last_error());
		ct_head_free(&m3);
		ct_features_free(&f);
		ct_head_free(&m1);
		ct_train_log_free(&l1);
	}

	/* Errors. */
	{
		memset(role, 0, (size_t)n);
		ct_train_defaults(&o);
		ok(ct_train_head(x, y, n, d, 2, role, &o, &m1, &l1) < 0 && strstr(ct_last_error(), "no training rows"),
		   "no training rows is an error: %s", ct_last_error());
	}
	free(x);
	free(y);
	free(role);
	TEST_DONE();
}
