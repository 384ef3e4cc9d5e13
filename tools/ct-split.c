/* ct-split - stratified, patient-aware train/val/test splits and folds; --check reports leakage. */
#include "tool.h"

#include "data/split.h"

/* the table points into the library's options; defaults from ct_split_opts_default */
static ct_split_opts o;
static const char *out_path;
static int check, force, quiet;

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output file ('-' for stdout)"),
	CT_OPT_STRING_(0, "fractions", &o.fractions, "TRAIN,VAL,TEST", "shares of the three splits, summing to 1"),
	CT_OPT_U64_(0, "seed", &o.seed, "S", "random seed"),
	CT_OPT_INT_(0, "folds", &o.folds, "K", "also assign the train and val samples to K folds (dataset /folds)", 2,
		    1000),
	CT_OPT_FLAG_(0, "keep-splits", &o.keep_splits, "keep the input's splits; only add --folds"),
	CT_OPT_DOUBLE_(0, "train-fraction", &o.train_fraction, "F",
		       "keep the input's splits, but only this share of the train patients of each class (others: no split)",
		       1e-9, 1),
	CT_OPT_STRING_(0, "assign", &o.assign, "TSV",
		       "take every sample's split from TSV lines 'file<TAB>train|val|test|none' (e.g. folds or sources held out)"),
	CT_OPT_FLAG_(0, "check", &check, "report leakage in FILE (shared groups, near-duplicate images); no output"),
	CT_OPT_INT_(0, "hash-threshold", &o.hash_threshold, "BITS",
		    "--check: images whose dHashes differ in at most BITS bits are near-duplicates", 0, 64),
	CT_OPT_FORCE_(force),
	CT_OPT_QUIET_(quiet),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-split",
	"[OPTIONS] INPUT -o OUTPUT | --check [--hash-threshold BITS] FILE",
	"Assign samples of an images or features file to train/val/test splits, stratified by class\n"
	"and keeping every group (patient) whole; or check an existing split for leakage.",
	"Samples without a group are groups of their own. Everything but /splits (and /folds) is\n"
	"copied unchanged. --check prints a report on standard output.\n"
	"--train-fraction F (learning curves): per class, the first round(F x groups) train groups\n"
	"in an order drawn from --seed and the group ids are kept, so the subsets of one seed are\n"
	"nested across F and equal in every file of the same patients (augmented copies follow).\n"
	"--assign TSV: a file name matches a sample name, that name without its '#augK' suffix, or\n"
	"its base name (augmented copies follow their image); a header line 'file...' is skipped;\n"
	"every sample must be named, and a patient may not be in two splits.\n"
	"Exit status: 0 success (--check: no leakage), 1 failure (--check: leakage found),\n"
	"2 usage error.",
	options,
	1,
	1,
};

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_split_opts_default(&o);
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	const char *in = args[0];
	if (check) {
		if (out_path || o.folds || o.keep_splits || o.assign || ct_opts_seen(&cmd, "fractions") || ct_opts_seen(&cmd, "seed"))
			return ct_tool_usage(&cmd, "--check takes only FILE and --hash-threshold");
		int leak = 0;
		if (ct_split_check(in, &o, stdout, &leak) < 0 || fflush(stdout) != 0)
			return ct_tool_fail(&cmd);
		return leak ? CT_EXIT_FAILURE : CT_EXIT_OK;
	}
	if (ct_opts_seen(&cmd, "hash-threshold"))
		return ct_tool_usage(&cmd, "--hash-threshold goes with --check");
	if (!out_path)
		return ct_tool_usage(&cmd, "missing output (-o FILE)");
	if (o.train_fraction > 0 && (o.folds || o.keep_splits || ct_opts_seen(&cmd, "fractions")))
		return ct_tool_usage(&cmd, "--train-fraction keeps the input's splits: no --fractions, --folds, --keep-splits");
	if (o.assign && (o.keep_splits || o.train_fraction > 0 || ct_opts_seen(&cmd, "fractions")))
		return ct_tool_usage(&cmd, "--assign gives the splits: no --fractions, --keep-splits, --train-fraction");
	if (o.keep_splits && !o.folds)
		return ct_tool_usage(&cmd, "--keep-splits only makes sense with --folds");
	if (o.keep_splits && ct_opts_seen(&cmd, "fractions"))
		return ct_tool_usage(&cmd, "--keep-splits and --fractions exclude each other");
	char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
	ct_run run = { "ct-split", cmdline, params };
	ct_split_summary sum;
	int rc = ct_split_file(in, out_path, force, &o, &run, &sum);
	if (rc == 0 && !quiet) {
		if (sum.note[0])
			fprintf(stderr, "ct-split: note: %s\n", sum.note);
		fprintf(stderr, "ct-split: %lld samples -> train %lld, val %lld, test %lld", (long long)sum.n,
			(long long)sum.train, (long long)sum.val, (long long)sum.test);
		if (o.folds)
			fprintf(stderr, "; %d folds over train+val", o.folds);
		if (o.train_fraction > 0)
			fprintf(stderr, " (%lld of %lld train groups kept)", (long long)sum.kept_groups,
				(long long)sum.total_groups);
		fprintf(stderr, " -> %s\n", out_path);
	}
	free(cmdline);
	free(params);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
