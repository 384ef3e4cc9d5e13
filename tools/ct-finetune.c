/* ct-finetune - train a classifier head (logistic regression or MLP) on (fused) features, or
 * fine-tune the backbone layers above a cut with it (--finetune). */
#include "tool.h"

#include "data/split.h"
#include "eval/tta.h"
#include "train/ensemble.h"
#include "train/finetune.h"
#include "train/ft_cv.h"
#include "train/ft_run.h"
#include "train/modelfile.h"

#include <math.h>
#include <string.h>

static const char *out_path, *head_s = "mlp", *optim_s = "adam", *cw_s = "none";
static int hidden = 256, batch = 32, epochs = 100, patience = 10, cv, threads, force, quiet, verbose, finetune;
static int ensemble = 1, tta;
static double dropout = 0.5, lr = 1e-3, momentum = 0.9, weight_decay = 1e-4, val_fraction = 0.2, sd_floor;
static uint64_t seed = 42;
static double backbone_lr = 1e-5, backbone_wd = 1e-4, joint_head_lr = -1;
static const char *weights_s, *outputs_s;

/* choices and the enums they set, in the order of their choices */
static int head_e, optim_e, balanced;
static const int head_v[] = { CT_HEAD_LOGREG, CT_HEAD_MLP }, optim_v[] = { CT_OPTIM_ADAM, CT_OPTIM_SGD };

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output model file ('-' for stdout)"),
	CT_OPT_CHOICE_ENUM_(0, "head", &head_s, "logreg|mlp", &head_e, head_v, "logistic regression, or dense-ReLU-dropout-dense"),
	CT_OPT_INT_(0, "hidden", &hidden, "N", "MLP hidden units", 1, 65536),
	CT_OPT_DOUBLE_(0, "dropout", &dropout, "P", "MLP dropout rate of the hidden units while training", 0, 0.95),
	CT_OPT_CHOICE_ENUM_(0, "optimizer", &optim_s, "adam|sgd", &optim_e, optim_v, "Adam, or SGD with momentum"),
	CT_OPT_DOUBLE_(0, "lr", &lr, "RATE", "learning rate (0.01 with --optimizer sgd)", 1e-9, 10),
	CT_OPT_DOUBLE_(0, "momentum", &momentum, "MU", "SGD momentum", 0, 0.999),
	CT_OPT_DOUBLE_(0, "weight-decay", &weight_decay, "L", "L2 penalty (L/2)||W||^2 on the weight matrices", 0, 10),
	CT_OPT_DOUBLE_(0, "sd-floor", &sd_floor, "F",
		       "standardise each feature by at least F x the mean feature sd of the train rows (0.1 with --finetune unless given)",
		       0, 10),
	CT_OPT_CHOICE_ENUM_(0, "class-weights", &cw_s, "none|balanced", &balanced, NULL, "balanced: weight class c by n / (K n_c)"),
	CT_OPT_INT_(0, "batch", &batch, "N", "mini-batch size", 1, 1 << 20),
	CT_OPT_INT_(0, "epochs", &epochs, "N", "maximum epochs", 1, 100000),
	CT_OPT_INT_(0, "patience", &patience, "N",
		    "stop after N epochs without a lower validation loss (0 = run every epoch)", 0, 100000),
	CT_OPT_DOUBLE_(0, "val-fraction", &val_fraction, "F",
		       "without a val split: hold out this share of the train groups (0 = fixed epochs)", 0, 0.9),
	CT_OPT_INT_(0, "cv", &cv, "K",
		    "also run K-fold cross-validation on train+val and report it (with --finetune: each fold fine-tuned)", 2, 100),
	CT_OPT_INT_(0, "ensemble", &ensemble, "K",
		    "train K heads with seeds S..S+K-1 (S = --seed), each with early stopping; the model predicts "
		    "their mean probability (--cv: every fold trains K); not with --finetune",
		    1, CT_ENSEMBLE_MAX),
	CT_OPT_FLAG_(0, "tta", &tta,
		     "--cv: score each held-out image by the mean probability over it and its augmented copies "
		     "(ct-augment --all); not with --finetune"),
	CT_OPT_FLAG_(0, "finetune", &finetune,
		     "also train the backbone layers above the cut of each input (files from ct-features --cut)"),
	CT_OPT_DOUBLE_(0, "backbone-lr", &backbone_lr, "RATE", "--finetune: Adam learning rate of the backbone layers",
		       1e-12, 1),
	CT_OPT_DOUBLE_(0, "backbone-weight-decay", &backbone_wd, "L",
		       "--finetune: L2 penalty (L/2)||K||^2 on the backbone kernels", 0, 10),
	CT_OPT_DOUBLE_(0, "joint-head-lr", &joint_head_lr, "RATE",
		       "--finetune: the head's learning rate while the backbone trains (default: --backbone-lr)", 1e-12, 10),
	CT_OPT_STRING_(0, "weights", &weights_s, "FILE[,FILE...]",
		       "--finetune: the backbones' weights, one per cut file (an empty item: $CT_WEIGHTS_DIR/NAME.h5, else weights/NAME.h5)"),
	CT_OPT_STRING_(0, "output-layer", &outputs_s, "LAYER[,LAYER...]",
		       "--finetune: the layer the head reads, per input (default: the backbone's feature layer); only the layers from the cut to it train"),
	CT_OPT_U64_(0, "seed", &seed, "S", "random seed (initialisation, shuffling, dropout, hold-out, folds)"),
	CT_OPT_THREADS_(threads),
	CT_OPT_FLAG_('v', "verbose", &verbose, "print the loss and accuracy of every epoch"),
	CT_OPT_FORCE_(force),
	CT_OPT_FLAG_('q', "quiet", &quiet, "no summary on stderr"),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-finetune",
	"[OPTIONS] FEATURES.h5 -o MODEL.h5 | --finetune [OPTIONS] CUT.h5 [CUT.h5...] -o MODEL.h5",
	"Train a classifier head on a features file (from ct-features or ct-fuse): the train split\n"
	"is trained on, the val split drives early stopping (the best epoch is kept).",
	"Features are standardised with the train split's mean and sd (stored in the model).\n"
	"The same seed gives a bit-identical model for any number of threads.\n"
	"--finetune: each input holds the activations at a cut layer (ct-features --cut); the head is\n"
	"trained on the pretrained features first, then jointly with the layers above each cut (Adam,\n"
	"--backbone-lr, BN statistics frozen); the val loss picks the epoch (0 = head only). The model\n"
	"stores the fine-tuned layers; ct-score applies them to a --cut file of the same layer or to\n"
	"an images file. --cv K fine-tunes each fold from the pretrained layers as a split would be.\n"
	"Exit status: 0 success, 1 failure (bad input, training diverged, unwritable output),\n"
	"2 usage error.",
	options,
	1,
	8,
};

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
	int32_t *fold = NULL;
	if (f->folds && !(fold = malloc(((size_t)n + 1) * sizeof *fold)))
		return ct_error("out of memory");
	if (fold) {
		memcpy(fold, f->folds, (size_t)n * sizeof *fold);
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
	o.kind = (ct_head_kind)head_e;
	if (o.kind == CT_HEAD_LOGREG && (ct_opts_seen(&cmd, "hidden") || ct_opts_seen(&cmd, "dropout")))
		return ct_tool_usage(&cmd, "--hidden and --dropout apply to --head mlp");
	o.optimizer = (ct_optim)optim_e;
	if (o.optimizer == CT_OPTIM_ADAM && ct_opts_seen(&cmd, "momentum"))
		return ct_tool_usage(&cmd, "--momentum applies to --optimizer sgd");
	o.hidden = hidden;
	o.dropout = o.kind == CT_HEAD_MLP ? dropout : 0;
	o.lr = ct_opts_seen(&cmd, "lr") ? lr : o.optimizer == CT_OPTIM_SGD ? 0.01 : 1e-3;
	lr = o.lr; /* recorded in params */
	o.momentum = momentum;
	o.weight_decay = weight_decay;
	o.balanced = balanced;
	o.batch = batch;
	o.epochs = epochs;
	o.patience = patience;
	o.seed = seed;
	o.sd_floor = ct_opts_seen(&cmd, "sd-floor") ? sd_floor : finetune ? 0.1 : 0;
	sd_floor = o.sd_floor; /* recorded in params */
	ct_tool_threads(threads);
	if (nargs > 1 && !finetune)
		return ct_tool_usage(&cmd, "several inputs need --finetune (fuse features with ct-fuse)");
	if (!finetune && (ct_opts_seen(&cmd, "backbone-lr") || ct_opts_seen(&cmd, "backbone-weight-decay") ||
			  ct_opts_seen(&cmd, "joint-head-lr") || ct_opts_seen(&cmd, "output-layer") ||
			  ct_opts_seen(&cmd, "weights")))
		return ct_tool_usage(&cmd, "--backbone-lr, --backbone-weight-decay, --output-layer and --weights apply to --finetune");
	if (finetune && ensemble > 1)
		return ct_tool_usage(&cmd, "--ensemble applies to head-only training, not to --finetune");
	if (tta && !cv)
		return ct_tool_usage(&cmd, "--tta applies to --cv (ct-score --tta scores a split)");
	if (tta && finetune)
		return ct_tool_usage(&cmd, "--tta applies to head-only cross-validation, not to --finetune");

	ct_features f;
	if (ct_features_read(in, &f) < 0)
		return ct_tool_fail(&cmd);
	int64_t n = f.s.n, unlabelled = 0, valcopies = 0;
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
		cvrole[i] = (uint8_t)r; /* cross-validation pools train and val, copies included */
		size_t bl;
		if (r == CT_ROLE_VAL && ct_tta_is_copy(f.s.names[i], &bl)) {
			valcopies++; /* ct-augment --all: validate on the originals only */
			r = 0;
		}
		role[i] = (uint8_t)r;
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
	if (rc == 0 && valcopies && !quiet)
		fprintf(stderr, "ct-finetune: note: %lld augmented copies in the val split are not used (validation "
			"scores the originals; --cv --tta averages copies in)\n", (long long)valcopies);
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
	int created = rc == 0 && ct_model_create(&h, out_path, force) == 0;
	if (rc == 0 && !created)
		rc = -1;
	ct_cv_result cvr = { 0 };
	ct_head hd = { 0 };
	ct_train_log lg = { 0 };
	ct_ft_run fr = { 0 };
	ct_ft_log fl = { 0 };
	ct_ft_opts fo = { o, backbone_lr, backbone_wd, joint_head_lr > 0 ? joint_head_lr : backbone_lr, verbose };
	int32_t *yu = NULL;
	uint8_t *ru = NULL;
	/* --finetune: the sources, and the labels and roles of the rows they hold */
	if (rc == 0 && finetune) {
		rc = ct_ft_run_prepare(&fr, args, nargs, &f, role, weights_s, outputs_s);
		yu = rc == 0 ? malloc(((size_t)fr.nuse + 1) * sizeof *yu) : NULL;
		ru = rc == 0 ? malloc((size_t)fr.nuse + 1) : NULL;
		if (rc == 0 && (!yu || !ru))
			rc = ct_error("out of memory");
		for (int64_t i = 0; rc == 0 && i < fr.nuse; i++)
			yu[i] = f.s.labels[fr.idx[i]], ru[i] = role[fr.idx[i]];
	}
	if (rc == 0 && cv) {
		rc = prepare_cv(in, &f, cvrole, &fold);
		/* Augmented copies (names "...#augK") train but are never validated on, as in the val split. */
		uint8_t *eval = rc == 0 ? malloc((size_t)n + 1) : NULL;
		int64_t naug = 0;
		if (rc == 0 && !eval)
			rc = ct_error("out of memory");
		for (int64_t i = 0; rc == 0 && i < n; i++) {
			size_t bl;
			eval[i] = !ct_tta_is_copy(f.s.names[i], &bl);
			naug += fold[i] >= 0 && !eval[i];
		}
		if (rc == 0 && naug && !quiet)
			fprintf(stderr, "ct-finetune: cross-validation: %lld augmented copies train only (never held out)\n",
				(long long)naug);
		int64_t *orig = NULL, ncopies = 0;
		if (rc == 0 && tta) {
			orig = malloc(((size_t)n + 1) * sizeof *orig);
			rc = orig ? ct_tta_origins(&f.s, in, orig, &ncopies) : ct_error("out of memory");
			if (rc == 0 && ncopies == 0)
				rc = ct_error("'%s': --tta: no augmented copies (NAME#augK) to average; make them with "
					      "ct-augment --all", in);
			if (rc == 0 && !quiet)
				fprintf(stderr, "ct-finetune: cross-validation: each held-out image scored with its copies (%lld in all)\n",
					(long long)ncopies);
		}
		if (rc == 0 && !finetune)
			rc = ct_train_cv_tta(f.x.data, f.s.labels, n, (int)f.x.shape[1], k, fold, cv, eval, orig, &o,
					     ensemble, &cvr);
		free(orig);
		if (rc == 0 && finetune) {
			/* the used rows (train and val) are the rows with a fold */
			int32_t *fu = malloc(((size_t)fr.nuse + 1) * sizeof *fu);
			uint8_t *eu = malloc((size_t)fr.nuse + 1);
			if (!fu || !eu)
				rc = ct_error("out of memory");
			for (int64_t i = 0; rc == 0 && i < fr.nuse; i++)
				fu[i] = fold[fr.idx[i]], eu[i] = eval[fr.idx[i]];
			if (rc == 0)
				rc = ct_finetune_cv(fr.src, fr.nsrc, yu, fr.nuse, k, fu, cv, eu, &fo, &cvr);
			free(fu), free(eu);
		}
		free(eval);
		if (rc == 0) {
			for (int i = 0; i < cv && !quiet; i++)
				fprintf(stderr, "ct-finetune: fold %d/%d: val accuracy %.4f, AUC %.4f (best epoch %d)\n", i + 1,
					cv, cvr.acc[i], cvr.auc[i], cvr.best_epoch[i]);
			printf("cv %d folds: accuracy %.4f +- %.4f, AUC %.4f +- %.4f (mean +- sd)\n", cv, cvr.acc_mean,
			       cvr.acc_sd, cvr.auc_mean, cvr.auc_sd);
			fflush(stdout);
		}
	}

	/* --ensemble K: heads 1..K-1 (head 0 is hd, its curves lg); seeds S + j */
	ct_head *eh = NULL;
	ct_train_log *el = NULL;
	uint64_t *es = NULL;
	if (rc == 0 && !finetune && ensemble > 1) {
		eh = calloc((size_t)ensemble, sizeof *eh);
		el = calloc((size_t)ensemble, sizeof *el);
		es = calloc((size_t)ensemble, sizeof *es);
		rc = eh && el && es ? ct_train_ensemble(f.x.data, f.s.labels, n, (int)f.x.shape[1], k, role, &o, ensemble, eh, el)
				    : ct_error("out of memory");
		for (int j = 0; rc == 0 && j < ensemble; j++)
			es[j] = seed + (uint64_t)j;
		if (rc == 0) {
			/* head 0 is the model's /head and /training, as a single head would be */
			hd = eh[0];
			lg = el[0];
			memset(&eh[0], 0, sizeof eh[0]);
			memset(&el[0], 0, sizeof el[0]);
		}
	} else if (rc == 0 && !finetune) {
		rc = ct_train_head(f.x.data, f.s.labels, n, (int)f.x.shape[1], k, role, &o, &hd, &lg);
	}
	if (rc == 0 && finetune) {
		rc = ct_finetune(fr.src, fr.nsrc, yu, fr.nuse, k, ru, &fo, &hd, &fl);
		lg = fl.joint;
	}
	free(yu), free(ru);
	/* The head takes over the input's class names and block layout. */
	if (rc == 0) {
		hd.class_names = f.s.class_names;
		hd.blocks = finetune ? fr.blocks : f.blocks;
		hd.nblocks = finetune ? fr.nsrc : f.nblocks;
		char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
		ct_run run = { "ct-finetune", cmdline, params };
		ct_model_parts parts = { &hd, &lg, validation, cv ? &cvr : NULL, finetune ? fr.src : NULL,
					 finetune ? fr.nsrc : 0, fr.backbone, fr.sha, 1, NULL, NULL, NULL };
		if (eh) {
			/* the parts' head arrays: index 0 is /head (written as head and log above) */
			eh[0] = hd;
			el[0] = lg;
			parts.nheads = ensemble;
			parts.heads = eh;
			parts.seeds = es;
			parts.logs = el;
		}
		rc = ct_model_write(&h, &run, f.prov, f.nprov, &parts);
		free(cmdline);
		free(params);
		hd.class_names = NULL;
		hd.blocks = NULL;
		hd.nblocks = 0;
		if (eh) {
			memset(&eh[0], 0, sizeof eh[0]);
			memset(&el[0], 0, sizeof el[0]);
		}
	}
	if (created) {
		if (rc == 0)
			rc = ct_model_commit(&h);
		else
			ct_model_abort(&h);
	}
	if (rc == 0 && finetune && !quiet) {
		const ct_train_log *hl = &fl.head;
		int64_t tv = 0;
		for (int s = 0; s < fr.nsrc; s++)
			tv += ct_subnet_trainable_count(fr.src[s].net);
		fprintf(stderr, "ct-finetune: head only: epoch %d of %d, val loss %.4f acc %.4f\n", hl->best_epoch, hl->epochs,
			hl->nval ? hl->val_loss[hl->best_epoch - 1] : NAN, hl->nval ? hl->val_acc[hl->best_epoch - 1] : NAN);
		fprintf(stderr, "ct-finetune: fine-tuned %lld backbone values + %s head, %lld train / %lld val samples; "
				"joint epoch %d of %d kept%s", (long long)tv, ct_head_kind_name(o.kind), (long long)lg.ntrain,
			(long long)lg.nval, lg.best_epoch, lg.epochs, lg.stopped_early ? " (stopped early)" : "");
		if (lg.nval && lg.best_epoch > 0)
			fprintf(stderr, ": val loss %.4f acc %.4f", lg.val_loss[lg.best_epoch - 1], lg.val_acc[lg.best_epoch - 1]);
		else if (lg.best_epoch == 0)
			fprintf(stderr, " (0: the head-only model)");
		fprintf(stderr, "; %.1f s per epoch -> %s\n", fl.seconds_per_epoch, out_path);
	}
	if (rc == 0 && verbose && !finetune)
		for (int e = 0; e < lg.epochs; e++)
			fprintf(stderr, "ct-finetune: epoch %3d: train loss %.4f acc %.4f  val loss %.4f acc %.4f%s\n", e + 1,
				lg.train_loss[e], lg.train_acc[e], lg.val_loss[e], lg.val_acc[e],
				e + 1 == lg.best_epoch ? "  (best)" : "");
	if (rc == 0 && !quiet && !finetune) {
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
		if (eh) {
			fprintf(stderr, "ct-finetune: ensemble of %d heads (seeds %llu..%llu), epochs kept: %d", ensemble,
				(unsigned long long)es[0], (unsigned long long)es[ensemble - 1], lg.best_epoch);
			for (int j = 1; j < ensemble; j++)
				fprintf(stderr, ", %d", el[j].best_epoch);
			fprintf(stderr, "; the model predicts their mean probability\n");
		}
	}
	if (eh)
		for (int j = 0; j < ensemble; j++) {
			ct_head_free(&eh[j]);
			ct_train_log_free(&el[j]);
		}
	free(eh), free(el), free(es);
	ct_head_free(&hd);
	if (finetune) {
		ct_ft_log_free(&fl);
		ct_ft_run_free(&fr);
	} else {
		ct_train_log_free(&lg);
	}
	ct_cv_result_free(&cvr);
	ct_features_free(&f);
	free(role);
	free(cvrole);
	free(fold);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
