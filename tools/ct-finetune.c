/* ct-finetune - train a classifier head (logistic regression or MLP) on (fused) features. */
#include "tool.h"

#include "data/split.h"
#include "io/h5.h"
#include "train/train.h"

#include <math.h>
#include <string.h>

static const char *out_path, *head_s = "mlp", *optim_s = "adam", *cw_s = "none";
static int hidden = 256, batch = 32, epochs = 100, patience = 10, cv, threads, force, quiet, verbose;
static double dropout = 0.5, lr = 1e-3, momentum = 0.9, weight_decay = 1e-4, val_fraction = 0.2;
static uint64_t seed = 42;

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output model file ('-' for stdout)"),
	CT_OPT_CHOICE_(0, "head", &head_s, "logreg|mlp", "logistic regression, or dense-ReLU-dropout-dense"),
	CT_OPT_INT_(0, "hidden", &hidden, "N", "MLP hidden units", 1, 65536),
	CT_OPT_DOUBLE_(0, "dropout", &dropout, "P", "MLP dropout rate of the hidden units while training", 0, 0.95),
	CT_OPT_CHOICE_(0, "optimizer", &optim_s, "adam|sgd", "Adam, or SGD with momentum"),
	CT_OPT_DOUBLE_(0, "lr", &lr, "RATE", "learning rate (0.01 with --optimizer sgd)", 1e-9, 10),
	CT_OPT_DOUBLE_(0, "momentum", &momentum, "MU", "SGD momentum", 0, 0.999),
	CT_OPT_DOUBLE_(0, "weight-decay", &weight_decay, "L", "L2 penalty (L/2)||W||^2 on the weight matrices", 0, 10),
	CT_OPT_CHOICE_(0, "class-weights", &cw_s, "none|balanced", "balanced: weight class c by n / (K n_c)"),
	CT_OPT_INT_(0, "batch", &batch, "N", "mini-batch size", 1, 1 << 20),
	CT_OPT_INT_(0, "epochs", &epochs, "N", "maximum epochs", 1, 100000),
	CT_OPT_INT_(0, "patience", &patience, "N",
		    "stop after N epochs without a lower validation loss (0 = run every epoch)", 0, 100000),
	CT_OPT_DOUBLE_(0, "val-fraction", &val_fraction, "F",
		       "without a val split: hold out this share of the train groups (0 = fixed epochs)", 0, 0.9),
	CT_OPT_INT_(0, "cv", &cv, "K", "also run K-fold cross-validation on train+val and report it", 2, 100),
	CT_OPT_U64_(0, "seed", &seed, "S", "random seed (initialisation, shuffling, dropout, hold-out, folds)"),
	CT_OPT_THREADS_(threads),
	CT_OPT_FLAG_('v', "verbose", &verbose, "print the loss and accuracy of every epoch"),
	CT_OPT_FORCE_(force),
	CT_OPT_FLAG_('q', "quiet", &quiet, "no summary on stderr"),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-finetune",
	"[OPTIONS] FEATURES.h5 -o MODEL.h5",
	"Train a classifier head on a features file (from ct-features or ct-fuse): the train split\n"
	"is trained on, the val split drives early stopping (the best epoch is kept).",
	"Features are standardised with the train split's mean and sd (stored in the model).\n"
	"The same seed gives a bit-identical model for any number of threads.\n"
	"Exit status: 0 success, 1 failure (bad input, training diverged, unwritable output),\n"
	"2 usage error.",
	options,
	1,
	1,
};

/* The input's /folds when present (NULL otherwise); "-" cannot be reopened. */
static int32_t *read_folds(const char *path, int64_t n)
{
	if (!strcmp(path, "-"))
		return NULL;
	ct_h5 h;
	if (ct_h5_open(&h, path) < 0)
		return NULL;
	int32_t *f = NULL;
	ct_tensor t;
	if (ct_h5_exists(h.file, "folds") && ct_h5_read(h.file, "folds", CT_I32, &t) == 0) {
		if (t.ndim == 1 && t.shape[0] == n && (f = malloc(((size_t)n + 1) * sizeof *f)))
			memcpy(f, t.data, (size_t)n * sizeof *f);
		ct_tensor_free(&t);
	}
	ct_h5_close(&h);
	return f;
}

/* First class without samples among rows with role r, or -1. */
static int empty_class(const ct_features *f, const uint8_t *role, int r)
{
	for (int c = 0; c < f->s.nclasses; c++) {
		int64_t m = 0;
		for (int64_t i = 0; i < f->s.n; i++)
			m += role[i] == r && f->s.labels[i] == c;
		if (!m)
			return c;
	}
	return -1;
}

static int prepare_cv(const char *path, const ct_features *f, const uint8_t *role, int32_t **fold_out)
{
	int64_t n = f->s.n;
	int32_t *fold = read_folds(path, n);
	if (fold) {
		int kmax = -1;
		for (int64_t i = 0; i < n; i++) {
			if (role[i] == CT_ROLE_NONE)
				fold[i] = -1;
			kmax = fold[i] > kmax ? fold[i] : kmax;
		}
		if (kmax + 1 != cv) {
			free(fold);
			return ct_error("'%s' has %d folds in /folds, --cv asks for %d", path, kmax + 1, cv);
		}
		if (!quiet)
			fprintf(stderr, "ct-finetune: cross-validation uses the %d folds of '%s'\n", cv, path);
	} else {
		uint8_t *use = malloc((size_t)n + 1);
		fold = malloc(((size_t)n + 1) * sizeof *fold);
		if (!use || !fold) {
			free(use);
			free(fold);
			return ct_error("out of memory");
		}
		for (int64_t i = 0; i < n; i++)
			use[i] = role[i] != CT_ROLE_NONE;
		int rc = ct_folds_make(&f->s, use, cv, seed, fold);
		free(use);
		if (rc < 0) {
			free(fold);
			return ct_error_prefix("'%s'", path);
		}
	}
	*fold_out = fold;
	return 0;
}

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	const char *in = args[0];
	if (!out_path)
		return ct_tool_usage(&cmd, "missing output (-o FILE)");
	ct_train_opts o;
	ct_train_defaults(&o);
	o.kind = !strcmp(head_s, "mlp") ? CT_HEAD_MLP : CT_HEAD_LOGREG;
	if (o.kind == CT_HEAD_LOGREG && (ct_opts_seen(&cmd, "hidden") || ct_opts_seen(&cmd, "dropout")))
		return ct_tool_usage(&cmd, "--hidden and --dropout apply to --head mlp");
	o.optimizer = !strcmp(optim_s, "sgd") ? CT_OPTIM_SGD : CT_OPTIM_ADAM;
	if (o.optimizer == CT_OPTIM_ADAM && ct_opts_seen(&cmd, "momentum"))
		return ct_tool_usage(&cmd, "--momentum applies to --optimizer sgd");
	o.hidden = hidden;
	o.dropout = o.kind == CT_HEAD_MLP ? dropout : 0;
	o.lr = ct_opts_seen(&cmd, "lr") ? lr : o.optimizer == CT_OPTIM_SGD ? 0.01 : 1e-3;
	lr = o.lr; /* recorded in params */
	o.momentum = momentum;
	o.weight_decay = weight_decay;
	o.balanced = !strcmp(cw_s, "balanced");
	o.batch = batch;
	o.epochs = epochs;
	o.patience = patience;
	o.seed = seed;
	ct_tool_threads(threads);

	ct_features f;
	if (ct_features_read(in, &f) < 0)
		return ct_tool_fail(&cmd);
	int64_t n = f.s.n, unlabelled = 0;
	int k = f.s.nclasses, rc = 0;
	uint8_t *role = calloc((size_t)n + 1, 1), *cvrole = calloc((size_t)n + 1, 1);
	int32_t *fold = NULL;
	const char *validation = "val split";
	if (!role || !cvrole)
		rc = ct_error("out of memory");
	int64_t ntr = 0, nva = 0;
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		int r = !strcmp(f.s.splits[i], "train") ? CT_ROLE_TRAIN : !strcmp(f.s.splits[i], "val") ? CT_ROLE_VAL : 0;
		if (r && f.s.labels[i] < 0) {
			unlabelled++;
			r = 0;
		}
		role[i] = cvrole[i] = (uint8_t)r;
		ntr += r == CT_ROLE_TRAIN;
		nva += r == CT_ROLE_VAL;
	}
	int c;
	if (rc == 0 && k < 2)
		rc = ct_error("'%s': %d class; a classifier needs at least 2", in, k);
	else if (rc == 0 && ntr == 0)
		rc = ct_error("'%s': no labelled train samples (assign splits with ct-split)", in);
	else if (rc == 0 && (c = empty_class(&f, role, CT_ROLE_TRAIN)) >= 0)
		rc = ct_error("'%s': split 'train' has no '%s' samples", in, f.s.class_names[c]);
	else if (rc == 0 && nva > 0 && (c = empty_class(&f, role, CT_ROLE_VAL)) >= 0)
		rc = ct_error("'%s': split 'val' has no '%s' samples", in, f.s.class_names[c]);
	if (rc == 0 && unlabelled && !quiet)
		fprintf(stderr, "ct-finetune: note: %lld unlabelled train/val samples are not used\n",
			(long long)unlabelled);
	if (rc == 0 && nva == 0 && val_fraction > 0) {
		/* Hold out whole groups of the train split. */
		int32_t *bin = malloc(((size_t)n + 1) * sizeof *bin);
		double frac[2] = { 1.0 - val_fraction, val_fraction };
		rc = bin ? ct_assign_groups(&f.s, role, 2, frac, seed, bin) : ct_error("out of memory");
		for (int64_t i = 0; rc == 0 && i < n; i++)
			if (bin[i] == 1)
				role[i] = CT_ROLE_VAL;
		free(bin);
		if (rc == 0 && ((c = empty_class(&f, role, CT_ROLE_TRAIN)) >= 0 ||
				(c = empty_class(&f, role, CT_ROLE_VAL)) >= 0))
			rc = ct_error("'%s': holding out %g of the train groups for validation leaves no '%s' samples "
				      "on one side; use --val-fraction 0 to train for a fixed number of epochs",
				      in, val_fraction, f.s.class_names[c]);
		validation = "held out from train (--val-fraction)";
	} else if (rc == 0 && nva == 0) {
		validation = "none (fixed epochs)";
	}
	if (rc == 0 && !quiet)
		fprintf(stderr, "ct-finetune: validation: %s\n", validation);

	/* Create the output before the long work, so an existing or unwritable output fails at once. */
	ct_h5 h;
	int created = rc == 0 && ct_h5_create(&h, out_path, force) == 0;
	if (rc == 0 && !created)
		rc = -1;
	ct_cv_result cvr = { 0 };
	if (rc == 0 && cv) {
		rc = prepare_cv(in, &f, cvrole, &fold);
		if (rc == 0)
			rc = ct_train_cv(f.x.data, f.s.labels, n, (int)f.x.shape[1], k, fold, cv, &o, &cvr);
		if (rc == 0) {
			for (int i = 0; i < cv && !quiet; i++)
				fprintf(stderr, "ct-finetune: fold %d/%d: val accuracy %.4f, AUC %.4f (best epoch %d)\n", i + 1,
					cv, cvr.acc[i], cvr.auc[i], cvr.best_epoch[i]);
			printf("cv %d folds: accuracy %.4f +- %.4f, AUC %.4f +- %.4f (mean +- sd)\n", cv, cvr.acc_mean,
			       cvr.acc_sd, cvr.auc_mean, cvr.auc_sd);
			fflush(stdout);
		}
	}

	ct_head hd = { 0 };
	ct_train_log lg = { 0 };
	if (rc == 0)
		rc = ct_train_head(f.x.data, f.s.labels, n, (int)f.x.shape[1], k, role, &o, &hd, &lg);
	/* The head takes over the input's class names and block layout. */
	if (rc == 0) {
		hd.class_names = f.s.class_names;
		hd.blocks = f.blocks;
		hd.nblocks = f.nblocks;
		char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
		ct_run run = { "ct-finetune", cmdline, params };
		rc = ct_file_stamp(h.file, "model", &run, f.prov, f.nprov);
		if (rc == 0)
			rc = ct_head_write(h.file, &hd);
		if (rc == 0)
			rc = ct_train_log_write(h.file, &lg, validation);
		if (rc == 0 && cv)
			rc = ct_cv_write(h.file, &cvr);
		free(cmdline);
		free(params);
		hd.class_names = NULL;
		hd.blocks = NULL;
		hd.nblocks = 0;
	}
	if (created) {
		if (rc == 0)
			rc = ct_h5_commit(&h);
		else
			ct_h5_abort(&h);
	}
	if (rc == 0 && verbose)
		for (int e = 0; e < lg.epochs; e++)
			fprintf(stderr, "ct-finetune: epoch %3d: train loss %.4f acc %.4f  val loss %.4f acc %.4f%s\n", e + 1,
				lg.train_loss[e], lg.train_acc[e], lg.val_loss[e], lg.val_acc[e],
				e + 1 == lg.best_epoch ? "  (best)" : "");
	if (rc == 0 && !quiet) {
		int b = lg.best_epoch - 1;
		fprintf(stderr, "ct-finetune: %s %lld->", ct_head_kind_name(o.kind), (long long)f.x.shape[1]);
		if (o.kind == CT_HEAD_MLP)
			fprintf(stderr, "%d->", o.hidden);
		fprintf(stderr, "%d, %lld train / %lld val samples; epoch %d of %d kept%s: train loss %.4f acc %.4f", k,
			(long long)lg.ntrain, (long long)lg.nval, lg.best_epoch, lg.epochs,
			lg.stopped_early ? " (stopped early)" : "", lg.train_loss[b], lg.train_acc[b]);
		if (lg.nval)
			fprintf(stderr, ", val loss %.4f acc %.4f", lg.val_loss[b], lg.val_acc[b]);
		fprintf(stderr, " -> %s\n", out_path);
	}
	ct_head_free(&hd);
	ct_train_log_free(&lg);
	ct_cv_result_free(&cvr);
	ct_features_free(&f);
	free(role);
	free(cvrole);
	free(fold);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
