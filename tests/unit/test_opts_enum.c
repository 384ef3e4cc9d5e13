/* test_opts_enum.c - choice options that set an enum (cli/opts.h CT_OPT_CHOICE_ENUM_): the
 * default and a given choice both map through the table's values (or the choice's position),
 * the recorded params keep the choice's name, and an unknown choice is a usage error. */
#include "test.h"

#include "cli/opts.h"
#include "core/error.h"

#include <stdlib.h>

enum { A_FIRST = 7, A_SECOND = 3, A_THIRD = -2 };

static const char *a_s = "second", *b_s = "x";
static int a_e = 99, b_e = 99;
static const int a_v[] = { A_FIRST, A_SECOND, A_THIRD };
static ct_opt opts[] = {
	CT_OPT_CHOICE_ENUM_(0, "alpha", &a_s, "first|second|third", &a_e, a_v, "mapped by a table"),
	CT_OPT_CHOICE_ENUM_(0, "beta", &b_s, "x|y|z", &b_e, NULL, "mapped by position"),
	CT_OPT_END_,
};
static ct_cmd cmd = { "t", "[OPTIONS]", "test", NULL, opts, 0, 0 };

static int parse(int argc, char **argv)
{
	int n;
	char **args;
	return ct_opts_parse(&cmd, argc, argv, &n, &args);
}

int main(void)
{
	char *none[] = { "t" };
	ok(parse(1, none) == CT_PARSE_OK && a_e == A_SECOND && b_e == 0,
	   "defaults map through the values (second -> %d) and by position (x -> %d)", a_e, b_e);
	char *given[] = { "t", "--alpha", "third", "--beta=z" };
	ok(parse(4, given) == CT_PARSE_OK && a_e == A_THIRD && b_e == 2,
	   "given choices map likewise (third -> %d, z -> %d)", a_e, b_e);
	char *json = ct_opts_json(&cmd);
	ok(json && strstr(json, "\"alpha\":\"third\"") && strstr(json, "\"beta\":\"z\""),
	   "the recorded params keep the names: %s", json ? json : "(null)");
	free(json);
	char *bad[] = { "t", "--alpha", "fourth" };
	ok(parse(3, bad) == CT_PARSE_ERROR && strstr(ct_last_error(), "must be one of first|second|third"),
	   "an unknown choice is refused: %s", ct_last_error());
	TEST_DONE();
}
