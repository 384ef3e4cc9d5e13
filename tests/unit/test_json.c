/* test_json.c - recorded JSON (core/json.h, cli/opts.h ct_opts_json) and core/str.h: numbers in
 * the shortest form that reads back (no %g form with a digit fewer does), exact
 * 64-bit integers, escaped strings; the string builder. */
#include "test.h"

#include "cli/opts.h"
#include "core/json.h"
#include "core/rng.h"
#include "core/str.h"

#include <math.h>
#include <stdint.h>

/* Significant digits of a %g-style number. */
static int digits(const char *s)
{
	int n = 0, lead = 1;
	for (; *s && *s != 'e' && *s != 'E'; s++) {
		if (*s < '0' || *s > '9')
			continue;
		if (*s == '0' && lead)
			continue;
		lead = 0;
		n++;
	}
	/* trailing zeros of an integer part are not significant in %g's output either way */
	return n;
}

int main(void)
{
	char b[32];
	ok(!strcmp(ct_json_shortest(0.95, b), "0.95"), "0.95 is written 0.95 (%s), not 0.94999999999999996", b);
	ok(!strcmp(ct_json_shortest(0.1 + 0.7, b), "0.7999999999999999"),
	   "0.1 + 0.7 takes 16 digits (%s); libcjson 1.7.15 writes 0.8, another double", b);
	ok(!strcmp(ct_json_shortest(0.1 + 0.2, b), "0.30000000000000004"), "0.1 + 0.2 needs 17 digits (%s)", b);
	ok(!strcmp(ct_json_shortest(1e-5, b), "1.0000000000000001e-05") || !strcmp(b, "1e-05"), "1e-5 is %s", b);
	ok(!strcmp(ct_json_shortest(NAN, b), "null") && !strcmp(ct_json_shortest(INFINITY, b), "null"),
	   "NaN and infinity are null");

	/* Random doubles of every magnitude: each reads back, and one digit fewer would not. */
	ct_rng r;
	ct_rng_init(&r, 7, 0);
	int bad_back = 0, not_short = 0;
	for (int i = 0; i < 20000; i++) {
		uint64_t u = ct_rng_u64(&r);
		double v;
		memcpy(&v, &u, sizeof v);
		if (!isfinite(v))
			continue;
		ct_json_shortest(v, b);
		bad_back += strtod(b, NULL) != v;
		int d = digits(b);
		if (d > 15) {
			char c[400];
			snprintf(c, sizeof c, "%.*g", d - 1, v);
			not_short += strtod(c, NULL) == v;
		}
	}
	ok(bad_back == 0, "20000 random doubles read back equal (%d did not)", bad_back);
	ok(not_short == 0, "none of them has a shorter %%g form that reads back (%d had)", not_short);

	/* Option values as recorded: exact u64, shortest doubles, escaped strings, null. */
	double level = 0.95;
	uint64_t seed = UINT64_MAX;
	int n = 3, flag = 1;
	const char *name = "a \"b\"\n\\c", *none = NULL;
	ct_opt opts[] = {
		CT_OPT_DOUBLE_(0, "level", &level, "P", "", 0, 1),
		CT_OPT_U64_(0, "seed", &seed, "S", ""),
		CT_OPT_INT_(0, "n", &n, "N", "", 0, 10),
		CT_OPT_FLAG_(0, "flag", &flag, ""),
		CT_OPT_STRING_(0, "name", &name, "S", ""),
		CT_OPT_STRING_(0, "none", &none, "S", ""),
		CT_OPT_END_,
	};
	ct_cmd cmd = { "ct-test", "", "", "", opts, 0, 0 };
	char *j = ct_opts_json(&cmd);
	ok(j && !strcmp(j, "{\"level\":0.95,\"seed\":18446744073709551615,\"n\":3,\"flag\":true,"
			   "\"name\":\"a \\\"b\\\"\\n\\\\c\",\"none\":null}"),
	   "ct_opts_json: %s", j ? j : "(null)");
	cJSON *p = j ? cJSON_Parse(j) : NULL;
	cJSON *nm = cJSON_GetObjectItemCaseSensitive(p, "name");
	ok(cJSON_IsString(nm) && !strcmp(nm->valuestring, name), "... which parses back to the same string");
	cJSON_Delete(p);
	free(j);

	/* The string builder and ct_strdup */
	ct_strbuf sb = { 0 };
	char *e = ct_strbuf_take(&sb);
	ok(e && !strcmp(e, ""), "an empty builder gives \"\"");
	free(e);
	for (int i = 0; i < 1000; i++)
		ct_strbuf_printf(&sb, "%d,", i);
	ct_strbuf_puts(&sb, "end");
	char *s = ct_strbuf_take(&sb);
	ok(s && strlen(s) == 3890 + 3 && !strncmp(s, "0,1,2,", 6) && !strcmp(s + strlen(s) - 7, "999,end"),
	   "printf and puts append (%zu bytes)", s ? strlen(s) : 0);
	free(s);
	char *d = ct_strdup(NULL);
	ok(d && !*d, "ct_strdup(NULL) is \"\"");
	free(d);
	TEST_DONE();
}
