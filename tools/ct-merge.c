/* ct-merge - join the shard files of a --shard K/N run into the file one unsharded run writes. */
#include "tool.h"

#include "data/shard.h"

#include <string.h>

static const char *out_path;
static int force, quiet;

static ct_opt options[] = {
	CT_OPT_STRING_REQUIRED_('o', "output", &out_path, "FILE", "output file"),
	CT_OPT_FORCE_(force),
	CT_OPT_QUIET_(quiet),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-merge",
	"[OPTIONS] SHARD... -o OUTPUT",
	"Merge the shard files written by ct-convert, ct-augment or ct-features with --shard K/N\n"
	"(K = 1..N, in any order) into one file with the datasets of an unsharded run.",
	"The shards must be complete (every K once, each finished) and consistent: the same tool,\n"
	"input fingerprint, backbone, weights, layers and parameters; otherwise the missing or\n"
	"clashing shard is named and nothing is written.\n"
	"Exit status: 0 success, 1 failure (missing, clashing or unreadable shards), 2 usage error.",
	options,
	1,
	-1,
};

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
	ct_merge_run run = { cmdline, params };
	int64_t rows = 0;
	int n = 0;
	int rc = ct_shard_merge(args, nargs, out_path, force, &run, &rows, &n);
	if (rc == 0 && !quiet)
		fprintf(stderr, "ct-merge: %d shards, %lld rows -> %s\n", n, (long long)rows, out_path);
	free(cmdline);
	free(params);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
