/* ct-split - stratified, patient-aware train/val/test splits and folds; --check reports leakage. */
#include "tool.h"

#include "data/split.h"
#include "data/subset.h"
#include "io/h5.h"

#include <string.h>

static const char *out_path, *fractions_s = "0.6,0.2,0.2";
static int folds, keep_splits, check, hash_threshold = 4, force, quiet;
static uint64_t seed = 42;
static double train_fraction;

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output file ('-' for stdout)"),
	CT_OPT_STRING_(0, "fractions", &fractions_s, "TRAIN,VAL,TEST", "shares of the three splits, summing to 1"),
	CT_OPT_U64_(0, "seed", &seed, "S", "random seed"),
	CT_OPT_INT_(0, "folds", &folds, "K", "also assign the train and val samples to K folds (dataset /folds)", 2,
		    1000),
	CT_OPT_FLAG_(0, "keep-splits", &keep_splits, "keep the input's splits; only add --folds"),
	CT_OPT_DOUBLE_(0, "train-fraction", &train_fraction, "F",
		       "keep the input's splits, but only this share of the train patients of each class (others: no split)",
		       1e-9, 1),
	CT_OPT_FLAG_(0, "check", &check, "report leakage in FILE (shared groups, near-duplicate images); no output"),
	CT_OPT_INT_(0, "hash-threshold", &hash_threshold, "BITS",
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
	"Exit status: 0 success (--check: no leakage), 1 failure (--check: leakage found),\n"
	"2 usage error.",
	options,
	1,
	1,
};

static int run_check(const char *path)
{
	ct_h5 h;
	ct_samples s;
	char *kind = NULL;
	if (ct_h5_open(&h, path) < 0)
		return ct_tool_fail(&cmd);
	if (ct_file_check(h.file, NULL) < 0 || ct_h5_get_str(h.file, "kind", &kind) < 0 ||
	    ct_samples_read(h.file, &s) < 0) {
		ct_error_prefix("'%s'", path);
		ct_h5_close(&h);
		free(kind);
		return ct_tool_fail(&cmd);
	}
	ct_h5_close(&h);
	ct_leak_report r = { 0 };
	int rc = ct_leak_groups(&s, &r);
	if (rc == 0 && !strcmp(kind, "images")) {
		ct_images im;
		uint64_t *hash = malloc(((size_t)s.n + 1) * sizeof *hash);
		rc = hash ? ct_images_open(&im, path) : ct_error("out of memory");
		if (rc == 0) {
			rc = ct_images_dhash(&im, hash);
			ct_images_close(&im);
		}
		if (rc == 0)
			rc = ct_leak_duplicates(&s, hash, hash_threshold, &r);
		free(hash);
	}
	if (rc < 0) {
		ct_leak_report_free(&r);
		ct_samples_free(&s);
		free(kind);
		return ct_tool_fail(&cmd);
	}
	printf("%s: %s file, %lld samples, %lld groups (train %lld, val %lld, test %lld, none %lld)\n", path, kind,
	       (long long)s.n, (long long)r.ngroups, (long long)ct_samples_count(&s, "train", -2),
	       (long long)ct_samples_count(&s, "val", -2), (long long)ct_samples_count(&s, "test", -2),
	       (long long)ct_samples_count(&s, "", -2));
	printf("groups in more than one split: %lld\n", (long long)r.nleaky);
	for (int64_t i = 0; i < r.nleaky; i++)
		printf("  group '%s': train %lld, val %lld, test %lld\n", r.leaky[i].group, (long long)r.leaky[i].count[0],
		       (long long)r.leaky[i].count[1], (long long)r.leaky[i].count[2]);
	if (r.hashed) {
		printf("near-duplicate images in different splits (dHash distance <= %d): %lld\n", hash_threshold,
		       (long long)r.npairs);
		for (int64_t i = 0; i < r.npairs && i < 100; i++)
			printf("  '%s' (%s) ~ '%s' (%s): distance %d\n", s.names[r.pairs[i].a], s.splits[r.pairs[i].a],
			       s.names[r.pairs[i].b], s.splits[r.pairs[i].b], r.pairs[i].distance);
		if (r.npairs > 100)
			printf("  ... and %lld more pairs\n", (long long)(r.npairs - 100));
	} else {
		printf("near-duplicate images: not checked (a %s file has no images)\n", kind);
	}
	int leak = r.nleaky > 0 || r.npairs > 0;
	printf("%s\n", leak ? "leakage found" : "no leakage found");
	ct_leak_report_free(&r);
	ct_samples_free(&s);
	free(kind);
	if (fflush(stdout) != 0)
		return ct_tool_fail(&cmd);
	return leak ? CT_EXIT_FAILURE : CT_EXIT_OK;
}

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	const char *in = args[0];
	if (check) {
		if (out_path || folds || keep_splits || ct_opts_seen(&cmd, "fractions") || ct_opts_seen(&cmd, "seed"))
			return ct_tool_usage(&cmd, "--check takes only FILE and --hash-threshold");
		return run_check(in);
	}
	if (ct_opts_seen(&cmd, "hash-threshold"))
		return ct_tool_usage(&cmd, "--hash-threshold goes with --check");
	if (!out_path)
		return ct_tool_usage(&cmd, "missing output (-o FILE)");
	if (train_fraction > 0 && (folds || keep_splits || ct_opts_seen(&cmd, "fractions")))
		return ct_tool_usage(&cmd, "--train-fraction keeps the input's splits: no --fractions, --folds, --keep-splits");
	if (keep_splits && !folds)
		return ct_tool_usage(&cmd, "--keep-splits only makes sense with --folds");
	if (keep_splits && ct_opts_seen(&cmd, "fractions"))
		return ct_tool_usage(&cmd, "--keep-splits and --fractions exclude each other");
	double frac[3];
	if (ct_split_parse_fractions(fractions_s, frac) < 0)
		return ct_tool_usage(&cmd, ct_last_error());

	ct_h5 h;
	ct_samples s;
	if (ct_h5_open(&h, in) < 0)
		return ct_tool_fail(&cmd);
	if (ct_file_check(h.file, NULL) < 0 || ct_samples_read(h.file, &s) < 0) {
		ct_error_prefix("'%s'", in);
		ct_h5_close(&h);
		return ct_tool_fail(&cmd);
	}
	ct_h5_close(&h);
	char note[256] = "";
	int32_t *fold = NULL;
	uint8_t *use = NULL;
	int64_t kept_groups = 0, total_groups = 0;
	int rc = keep_splits || train_fraction > 0 ? 0 : ct_split_make(&s, frac, seed, note, sizeof note);
	if (rc == 0 && train_fraction > 0 && ct_samples_count(&s, "train", -2) == 0)
		rc = ct_error("no train samples to take a share of");
	if (rc == 0 && train_fraction > 0)
		rc = ct_subset_train(&s, train_fraction, seed, &kept_groups, &total_groups);
	if (rc < 0)
		ct_error_prefix("'%s'", in);
	if (rc == 0 && folds) {
		fold = malloc(((size_t)s.n + 1) * sizeof *fold);
		use = malloc((size_t)s.n + 1);
		if (!fold || !use)
			rc = ct_error("out of memory");
		for (int64_t i = 0; rc == 0 && i < s.n; i++)
			use[i] = !strcmp(s.splits[i], "train") || !strcmp(s.splits[i], "val");
		if (rc == 0 && ct_folds_make(&s, use, folds, seed, fold) < 0)
			rc = ct_error_prefix("'%s'", in);
	}
	if (rc == 0 && (keep_splits || train_fraction > 0)) {
		ct_leak_report r = { 0 };
		rc = ct_leak_groups(&s, &r);
		if (rc == 0 && r.nleaky)
			rc = ct_error("'%s': group '%s' is in more than one split; cannot keep these splits", in,
				      r.leaky[0].group);
		ct_leak_report_free(&r);
	}
	if (rc == 0)
		rc = ct_h5_create(&h, out_path, force);
	if (rc == 0) {
		char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
		ct_run run = { "ct-split", cmdline, params };
		rc = ct_split_rewrite(in, &h, &s, fold, folds, &run);
		if (rc == 0)
			rc = ct_h5_commit(&h);
		else
			ct_h5_abort(&h);
		free(cmdline);
		free(params);
	}
	if (rc == 0 && !quiet) {
		if (note[0])
			fprintf(stderr, "ct-split: note: %s\n", note);
		fprintf(stderr, "ct-split: %lld samples -> train %lld, val %lld, test %lld", (long long)s.n,
			(long long)ct_samples_count(&s, "train", -2), (long long)ct_samples_count(&s, "val", -2),
			(long long)ct_samples_count(&s, "test", -2));
		if (folds)
			fprintf(stderr, "; %d folds over train+val", folds);
		if (train_fraction > 0)
			fprintf(stderr, " (%lld of %lld train groups kept)", (long long)kept_groups, (long long)total_groups);
		fprintf(stderr, " -> %s\n", out_path);
	}
	free(fold);
	free(use);
	ct_samples_free(&s);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
