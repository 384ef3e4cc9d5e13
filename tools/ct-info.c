/* ct-info - summarise any ctfuse HDF5 file: kind, schema, shapes, classes, splits,
 * groups and the provenance chain; --json for scripts. */
#include "tool.h"

#include "data/info.h"

static int as_json, verify, preprocessing;

static ct_opt options[] = {
	CT_OPT_FLAG_(0, "json", &as_json, "print one JSON object"),
	CT_OPT_FLAG_(0, "preprocessing", &preprocessing,
		     "print the pixel-changing ct-convert options behind FILE (e.g. a model's training images), one line"),
	CT_OPT_FLAG_(0, "verify", &verify,
		     "only check the content checksum of every group and dataset; exit 1 on a mismatch"),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-info",
	"[OPTIONS] FILE",
	"Summarise a ctfuse HDF5 file (images, features, model, ...): kind, schema version, shapes,\n"
	"classes and counts, splits, groups, and the provenance chain of commands.",
	"FILE may be '-' (read from stdin). Exit status: 0 success, 1 failure, 2 usage error.",
	options,
	1,
	1,
};

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	if (as_json + verify + preprocessing > 1)
		return ct_tool_usage(&cmd, "--json, --verify and --preprocessing exclude each other");
	if (verify)
		return ct_info_verify(args[0], stdout) < 0 || fflush(stdout) != 0 ? ct_tool_fail(&cmd) : CT_EXIT_OK;
	if (preprocessing) {
		char *a = NULL;
		int rc = ct_info_preprocessing(args[0], &a);
		if (rc < 0)
			return ct_tool_fail(&cmd);
		if (rc == 0)
			fprintf(stderr, "ct-info: warning: '%s' records no ct-convert run (images from another tool)\n", args[0]);
		printf("%s\n", a ? a : "");
		free(a);
		return fflush(stdout) != 0 ? ct_tool_fail(&cmd) : CT_EXIT_OK;
	}
	if (ct_info_print(args[0], as_json, stdout) < 0 || fflush(stdout) != 0)
		return ct_tool_fail(&cmd);
	return CT_EXIT_OK;
}
