/* ct-score - apply a model to a features file (a fine-tuned model: to one cut or images file per
 * source): probabilities, predictions, metrics with bootstrap intervals, and optionally a TSV
 * and a self-contained HTML report. */
#include "tool.h"

#include "io/outfile.h"
#include "eval/report.h"
#include "eval/score.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const char *out_path, *tsv_path, *report_path, *split_s = "auto", *positive, *threshold_s = "0.5",
			     *resample_s = "stratified", *sources_s, *audit_s, *weights_s;
static int as_json, bootstrap = 1000, threads, force, source_column, batch = 16, tta;
static double level = 0.95;
static uint64_t seed = 42;

/* choices and the enums they set, in the order of their choices */
static int resample_e;
static const int resample_v[] = { CT_RESAMPLE_STRATIFIED, CT_RESAMPLE_PLAIN };

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "scores file to write (HDF5, kind 'scores'; '-' for stdout); without it only the metrics are printed"),
	CT_OPT_STRING_(0, "tsv", &tsv_path, "FILE", "also write a TSV: name, split, label, probability, predicted"),
	CT_OPT_FLAG_(0, "json", &as_json, "print one JSON object instead of the metrics table"),
	CT_OPT_STRING_(0, "report", &report_path, "FILE", "also write a self-contained HTML report"),
	CT_OPT_CHOICE_(0, "split", &split_s, "auto|train|val|test|all",
		       "split to compute metrics on (auto: test if present, else all)"),
	CT_OPT_STRING_(0, "positive", &positive, "NAME",
		       "positive class (default: the class named like covid/lesion, else class 1)"),
	CT_OPT_STRING_(0, "threshold", &threshold_s, "T|youden",
		       "p(positive) >= T is positive; 'youden' maximises Youden's J on the val split"),
	CT_OPT_INT_(0, "bootstrap", &bootstrap, "N", "bootstrap resamples for the confidence intervals (0: none)", 0,
		    1000000),
	CT_OPT_CHOICE_ENUM_(0, "resample", &resample_s, "stratified|plain", &resample_e, resample_v,
		       "bootstrap within each class (keeps class counts) or over all rows"),
	CT_OPT_DOUBLE_(0, "level", &level, "L", "confidence level of the intervals", 0.5, 0.999),
	CT_OPT_U64_(0, "seed", &seed, "S", "bootstrap seed"),
	CT_OPT_STRING_(0, "audit", &audit_s, "IMAGES",
		       "shortcut audit: AUC of simple classifiers on the nuisance attributes of this images file (ct-convert), same split"),
	CT_OPT_STRING_(0, "sources", &sources_s, "TSV",
		       "metrics per source: file<TAB>...<TAB>source lines (e.g. hospital or web site of each image)"),
	CT_OPT_INT_(0, "source-column", &source_column, "N", "column of --sources holding the source (1-based; 0: the last)", 0,
		    1000),
	CT_OPT_STRING_('w', "weights", &weights_s, "FILE[,FILE...]",
		       "a fine-tuned model on images files: the backbones' pretrained weights, one per source (default "
		       "NAME.h5 on the weights search path, ctfuse(7))"),
	CT_OPT_INT_(0, "batch", &batch, "N", "a fine-tuned model on images files: images per forward pass", 1, 4096),
	CT_OPT_FLAG_(0, "tta", &tta,
		     "test-time augmentation: average each image's probabilities with those of its augmented copies (ct-augment --all: NAME#augK) and score the originals only"),
	CT_OPT_THREADS_(threads),
	CT_OPT_FLAG_('f', "force", &force, "overwrite existing outputs"),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-score",
	"[OPTIONS] MODEL FEATURES|IMAGES [IN...] [-o SCORES]",
	"Apply a model (ct-finetune) to a features file (ct-features, ct-fuse): write the class\n"
	"probabilities and predictions of every sample, and report accuracy, precision, recall,\n"
	"specificity, F1 and AUC with bootstrap confidence intervals on one split.",
	"A model with fine-tuned layers (ct-finetune --finetune) takes one input per fine-tuned\n"
	"backbone, in the model's order: a file of its cut (ct-features --cut) or an images file\n"
	"(ct-convert, prepared like its training images): the backbone runs to the cut with the\n"
	"pretrained weights (--weights; their sha256 must be the model's), then the fine-tuned layers;\n"
	"the backbones' features go side by side to the head. All inputs hold the same samples; the\n"
	"first gives the splits and labels. Unlabelled samples get probabilities only. The same seed\n"
	"gives the same intervals for any number of threads. Exit status: 0 success, 1 failure, 2\n"
	"usage error.",
	options,
	2,
	-1,
};

static char **args;

static int usage(const char *msg)
{
	return ct_tool_usage(&cmd, msg);
}

int main(int argc, char **argv)
{
	int nargs;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	ct_score_opts o;
	memset(&o, 0, sizeof o);
	ct_eval_defaults(&o.eval);
	o.split = strcmp(split_s, "auto") ? split_s : NULL;
	o.positive = positive;
	if (!strcmp(threshold_s, "youden")) {
		o.mode = CT_THRESH_YOUDEN;
	} else {
		char *end;
		errno = 0;
		double t = strtod(threshold_s, &end);
		if (errno || end == threshold_s || *end || !(t >= 0 && t <= 1))
			return usage("--threshold must be a number in [0, 1] or 'youden'");
		o.mode = ct_opts_seen(&cmd, "threshold") ? CT_THRESH_FIXED : CT_THRESH_DEFAULT;
		o.threshold = t;
	}
	if (positive && !*positive)
		return usage("--positive needs a class name");
	/* Without -o only the metrics are printed (and any --tsv / --report written). */
	int to_stdout = out_path && !strcmp(out_path, "-");
	if (to_stdout && ((tsv_path && !strcmp(tsv_path, "-")) || (report_path && !strcmp(report_path, "-"))))
		return usage("only one output can go to standard output");
	if (tsv_path && report_path && !strcmp(tsv_path, "-") && !strcmp(report_path, "-"))
		return usage("only one output can go to standard output");
	o.eval.bootstrap = bootstrap;
	o.eval.resample = (ct_resample)resample_e;
	o.eval.level = level;
	o.eval.seed = seed;
	o.sources = sources_s;
	o.audit = audit_s;
	o.source_column = source_column;
	o.weights = weights_s;
	o.batch = ct_opts_seen(&cmd, "batch") ? batch : 0;
	o.tta = tta;
	if (source_column == 1)
		return usage("--source-column 1 is the file name column");
	ct_tool_threads(threads);
	/* Create every output first (refusing existing ones), commit them only at the end. */
	ct_h5 h;
	ct_outfile tsv, rep;
	memset(&tsv, 0, sizeof tsv);
	memset(&rep, 0, sizeof rep);
	ct_scored r;
	memset(&r, 0, sizeof r);
	char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd), *json = NULL;
	int rc = -1, have_h5 = 0;
	if (out_path) {
		if (ct_scores_create(&h, out_path, force) < 0)
			goto done;
		have_h5 = 1;
	}
	if ((tsv_path && ct_outfile_create(&tsv, tsv_path, force) < 0) ||
	    (report_path && ct_outfile_create(&rep, report_path, force) < 0))
		goto done;
	if (ct_score_run(args[0], args + 1, nargs - 1, &o, &r) < 0)
		goto done;
	if (r.copies_as_rows)
		fprintf(stderr, "ct-score: note: %lld augmented copies outside the train split are scored as samples of "
			"their own; --tta averages them into their originals\n", (long long)r.copies_as_rows);
	ct_run run = { "ct-score", cmdline, params };
	if (!(json = ct_score_json(&r, 0)) || (out_path && ct_score_write_h5(&h, &r, &run, json) < 0))
		goto done;
	if (tsv_path && ct_score_write_tsv(tsv.f, &r) < 0)
		goto done;
	ct_report_info info = { cmdline, params };
	if (report_path && ct_report_write(rep.f, &r, &info) < 0)
		goto done;
	have_h5 = 0;
	if ((out_path && ct_scores_commit(&h) < 0) || (tsv_path && ct_outfile_commit(&tsv) < 0) ||
	    (report_path && ct_outfile_commit(&rep) < 0))
		goto done;
	FILE *out = to_stdout ? stderr : stdout;
	if (as_json) {
		char *pretty = ct_score_json(&r, 1);
		if (!pretty)
			goto done;
		fprintf(out, "%s\n", pretty);
		free(pretty);
	} else {
		ct_score_print(out, &r);
	}
	if (fflush(out) != 0 || ferror(out)) {
		ct_error_errno("cannot write the metrics");
		goto done;
	}
	rc = 0;
done:
	if (have_h5)
		ct_scores_abort(&h);
	ct_outfile_abort(&tsv);
	ct_outfile_abort(&rep);
	ct_scored_free(&r);
	free(json);
	free(cmdline);
	free(params);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
