/* test_opts_required.c - a required option (cli/opts.h CT_OPT_REQUIRED): missing, it is a
 * usage error naming it; given (either form), parsing succeeds; --help marks it "(required)";
 * a missing positional argument is still reported first. */
#include "test.h"

#include "cli/opts.h"
#include "core/error.h"

static const char *out, *other;
static ct_opt opts[] = {
	CT_OPT_STRING_REQUIRED_('o', "output", &out, "FILE", "output file"),
	CT_OPT_STRING_REQUIRED_(0, "model", &other, "FILE", "model file"),
	CT_OPT_END_,
};
static ct_cmd cmd = { "t", "[OPTIONS] IN -o OUT", "test", NULL, opts, 1, 1 };

static int parse(int argc, char **argv)
{
	int n;
	char **args;
	for (ct_opt *o = opts; o->type != CT_OPT_END; o++)
		o->seen = 0;
	out = other = NULL;
	return ct_opts_parse(&cmd, argc, argv, &n, &args);
}

int main(void)
{
	char *none[] = { "t", "in" };
	ok(parse(2, none) == CT_PARSE_ERROR && !strcmp(ct_last_error(), "option '-o' is required"),
	   "a missing -o is a usage error naming it by its short name: %s", ct_last_error());
	char *no_model[] = { "t", "in", "-o", "x" };
	ok(parse(4, no_model) == CT_PARSE_ERROR && !strcmp(ct_last_error(), "option '--model' is required"),
	   "one without a short name is named by its long name: %s", ct_last_error());
	char *both[] = { "t", "in", "--output=x", "--model", "m" };
	ok(parse(5, both) == CT_PARSE_OK && out && !strcmp(out, "x") && other && !strcmp(other, "m"),
	   "given in either form, both parse");
	char *noarg[] = { "t", "-o", "x" };
	ok(parse(3, noarg) == CT_PARSE_ERROR && strstr(ct_last_error(), "missing argument"),
	   "a missing positional argument is reported first: %s", ct_last_error());

	char buf[4096] = "";
	FILE *f = fmemopen(buf, sizeof buf - 1, "w");
	ct_opts_help(&cmd, f);
	fclose(f);
	ok(strstr(buf, "output file (required)\n") && strstr(buf, "model file (required)\n"),
	   "--help marks both \"(required)\"");
	ok(!strstr(buf, "(default"), "and shows no default for them");
	TEST_DONE();
}
