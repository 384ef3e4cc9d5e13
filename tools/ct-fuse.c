/* ct-fuse - concatenate the features files of several backbones for the same samples. */
#include "tool.h"

#include "data/fuse.h"

static ct_fuse_opts o; /* the table points into the library's options */
static const char *out_path, *weights_s;
static int standardize, l2, force, quiet;

static ct_opt options[] = {
	CT_OPT_STRING_REQUIRED_('o', "output", &out_path, "FILE", "output features file ('-' for stdout)"),
	CT_OPT_FLAG_(0, "standardize", &standardize,
		     "standardise every column with the mean and sd of the train split (recorded)"),
	CT_OPT_FLAG_(0, "l2", &l2, "scale every block of every sample to unit L2 norm"),
	CT_OPT_STRING_('w', "weights", &weights_s, "W1,W2,...", "multiply the blocks of input i by Wi (one per input)"),
	CT_OPT_STRING_('s', "select", &o.select, "NAME,...",
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
	if (standardize && l2)
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
	o.norm = standardize ? CT_FUSE_STANDARDIZE : l2 ? CT_FUSE_L2 : CT_FUSE_NONE;
	o.weights = w;
	char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
	ct_run run = { "ct-fuse", cmdline, params };
	int64_t nsamples = 0, ncolumns = 0;
	int nblocks = 0;
	int rc = ct_fuse_files(args, nargs, &o, out_path, force, &run, &nsamples, &nblocks, &ncolumns);
	if (rc == 0 && !quiet)
		fprintf(stderr, "ct-fuse: %d files, %lld samples, %d blocks, %lld columns (%s) -> %s\n", nargs,
			(long long)nsamples, nblocks, (long long)ncolumns,
			o.norm == CT_FUSE_NONE ? "concatenated" : ct_fuse_norm_name(o.norm), out_path);
	free(cmdline);
	free(params);
	free(w);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
