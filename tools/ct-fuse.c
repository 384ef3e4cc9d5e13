/* ct-fuse - concatenate the features files of several backbones for the same samples. */
#include "tool.h"

#include "data/fuse.h"
#include "io/h5.h"

#include <string.h>

static const char *out_path, *weights_s, *select_s;
static int standardize, l2, force, quiet;

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output features file ('-' for stdout)"),
	CT_OPT_FLAG_(0, "standardize", &standardize,
		     "standardise every column with the mean and sd of the train split (recorded)"),
	CT_OPT_FLAG_(0, "l2", &l2, "scale every block of every sample to unit L2 norm"),
	CT_OPT_STRING_('w', "weights", &weights_s, "W1,W2,...", "multiply the blocks of input i by Wi (one per input)"),
	CT_OPT_STRING_('s', "select", &select_s, "NAME,...",
		       "keep only these blocks (block or layer names, e.g. mixed6,block_13_project_BN)"),
	CT_OPT_FORCE_(force),
	CT_OPT_QUIET_(quiet),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-fuse",
	"[OPTIONS] FEATURES.h5... -o OUTPUT",
	"Fuse the features files of several backbones (same samples, same order) into one\n"
	"features file whose columns are the inputs' blocks side by side.",
	"The inputs must list the same samples in the same order with the same labels, splits,\n"
	"groups and class names; block names must be unique across the inputs. The output\n"
	"records every block's origin, the normalisation and weights (group /fuse), and the\n"
	"provenance of every input.\n"
	"Exit status: 0 success, 1 failure (bad or mismatched input, unwritable output), 2 usage error.",
	options,
	1,
	-1,
};

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	const char *usage = NULL;
	if (!out_path)
		usage = "missing output (-o FILE)";
	else if (standardize && l2)
		usage = "--standardize and --l2 exclude each other";
	double *w = NULL;
	if (!usage && weights_s) {
		w = calloc((size_t)nargs, sizeof *w);
		if (!w || ct_parse_weights(weights_s, w, nargs) < 0)
			usage = w ? ct_last_error() : "out of memory";
	}
	if (usage) {
		free(w);
		return ct_tool_usage(&cmd, usage);
	}
	/* Create the output first, so an existing or unwritable output fails at once. */
	ct_h5 h;
	ct_features *in = calloc((size_t)nargs, sizeof *in);
	if (!in || ct_h5_create(&h, out_path, force) < 0) {
		free(in);
		free(w);
		return ct_tool_fail(&cmd);
	}
	int rc = 0, nread = 0;
	for (int k = 0; k < nargs && rc == 0; k++) {
		rc = ct_features_read(args[k], &in[k]);
		nread += rc == 0;
	}
	if (rc == 0 && select_s) {
		/* Every listed name must match a block of some input; every input must keep one. */
		int nnames = 1;
		for (const char *p = select_s; *p; p++)
			nnames += *p == ',';
		int *matched = calloc((size_t)nnames, sizeof *matched);
		for (int k = 0; k < nargs && rc == 0; k++) {
			int kept = matched ? ct_features_select(&in[k], select_s, matched) : -1;
			if (kept == 0)
				rc = ct_error_usage("'%s': none of its blocks is selected by --select", args[k]);
			else if (kept < 0)
				rc = -1;
		}
		for (int i = 0; rc == 0 && i < nnames; i++)
			if (!matched[i]) {
				const char *p = select_s;
				for (int j = 0; j < i; j++)
					p = strchr(p, ',') + 1;
				const char *c = strchr(p, ',');
				rc = ct_error_usage("--select: no input has a block or layer '%.*s'", c ? (int)(c - p) : (int)strlen(p), p);
			}
		free(matched);
	}
	ct_fuse_opts o = { standardize ? CT_FUSE_STANDARDIZE : l2 ? CT_FUSE_L2 : CT_FUSE_NONE, w };
	ct_features out = { 0 };
	ct_fuse_info info = { 0 };
	if (rc == 0)
		rc = ct_fuse(in, (const char *const *)args, nargs, &o, &out, &info);
	char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
	ct_run run = { "ct-fuse", cmdline, params };
	if (rc == 0)
		rc = ct_features_write(&h, &out, &run);
	if (rc == 0)
		rc = ct_fuse_write_info(h.file, &info);
	if (rc == 0)
		rc = ct_h5_commit(&h);
	else
		ct_h5_abort(&h);
	if (rc == 0 && !quiet)
		fprintf(stderr, "ct-fuse: %d files, %lld samples, %d blocks, %lld columns (%s) -> %s\n", nargs,
			(long long)out.s.n, out.nblocks, (long long)info.d,
			o.norm == CT_FUSE_NONE ? "concatenated" : ct_fuse_norm_name(o.norm), out_path);
	free(cmdline);
	free(params);
	for (int k = 0; k < nread; k++)
		ct_features_free(&in[k]);
	free(in);
	free(w);
	ct_features_free(&out);
	ct_fuse_info_free(&info);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
