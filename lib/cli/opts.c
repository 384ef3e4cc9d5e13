/* opts.c - option table parsing, --help generation and run recording. */
#include "cli/opts.h"
#include "io/h5.h"
#include "core/error.h"
#include "core/json.h"
#include "core/str.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static ct_opt *find_long(ct_cmd *cmd, const char *name, size_t len)
{
	for (ct_opt *o = cmd->opts; o && o->type != CT_OPT_END; o++)
		if (o->long_name && strlen(o->long_name) == len && !strncmp(o->long_name, name, len))
			return o;
	return NULL;
}

static ct_opt *find_short(ct_cmd *cmd, char c)
{
	for (ct_opt *o = cmd->opts; o && o->type != CT_OPT_END; o++)
		if (o->short_name && o->short_name == c)
			return o;
	return NULL;
}

static const char *opt_label(const ct_opt *o, char *buf, size_t n)
{
	if (o->long_name)
		snprintf(buf, n, "--%s", o->long_name);
	else
		snprintf(buf, n, "-%c", o->short_name);
	return buf;
}

/* The position of v among choices "a|b|c", or -1. */
static int choice_index(const char *choices, const char *v)
{
	size_t n = strlen(v);
	int k = 0;
	for (const char *c = choices; c && *c; k++) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);
		if (len == n && !strncmp(c, v, n))
			return k;
		c = bar ? bar + 1 : NULL;
	}
	return -1;
}

static int set_value(ct_opt *o, const char *v)
{
	char lab[64];
	char *end;
	opt_label(o, lab, sizeof lab);
	switch (o->type) {
	case CT_OPT_INT: {
		errno = 0;
		long x = strtol(v, &end, 10);
		if (errno || end == v || *end || x < -2147483647L || x > 2147483647L)
			return ct_error("option '%s' expects an integer, got '%s'", lab, v);
		if (o->min < o->max && (x < o->min || x > o->max))
			return ct_error("option '%s' must be in [%g, %g], got %ld", lab, o->min, o->max, x);
		*(int *)o->value = (int)x;
		break;
	}
	case CT_OPT_U64: {
		errno = 0;
		if (*v == '-')
			return ct_error("option '%s' expects a non-negative integer, got '%s'", lab, v);
		unsigned long long x = strtoull(v, &end, 0);
		if (errno || end == v || *end)
			return ct_error("option '%s' expects a non-negative integer, got '%s'", lab, v);
		*(uint64_t *)o->value = (uint64_t)x;
		break;
	}
	case CT_OPT_DOUBLE: {
		errno = 0;
		double x = strtod(v, &end);
		if (errno || end == v || *end || !isfinite(x))
			return ct_error("option '%s' expects a number, got '%s'", lab, v);
		if (o->min < o->max && (x < o->min || x > o->max))
			return ct_error("option '%s' must be in [%g, %g], got %g", lab, o->min, o->max, x);
		*(double *)o->value = x;
		break;
	}
	case CT_OPT_STRING:
		*(const char **)o->value = v;
		break;
	case CT_OPT_CHOICE: {
		if (choice_index(o->choices, v) >= 0) {
			*(const char **)o->value = v;
			return 0;
		}
		return ct_error("option '%s' must be one of %s, got '%s'", lab, o->choices, v);
	}
	default:
		break;
	}
	return 0;
}

/* The positional arguments of the last parse: owned here and freed at exit, so that no
 * early return of a tool (a usage error) has to remember them. */
static char **last_pos;

static void free_last_pos(void)
{
	free(last_pos);
	last_pos = NULL;
}

int ct_opts_parse(ct_cmd *cmd, int argc, char **argv, int *nargs, char ***args)
{
	char **pos = calloc((size_t)argc + 1, sizeof *pos);
	int np = 0, only_pos = 0;
	if (!pos)
		return ct_error("out of memory");
	*args = NULL;
	*nargs = 0;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (only_pos || a[0] != '-' || !strcmp(a, "-")) {
			pos[np++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		ct_opt *o;
		const char *val = NULL;
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			if (!eq && !strcmp(name, "help")) {
				free(pos);
				return CT_PARSE_HELP;
			}
			if (!eq && !strcmp(name, "version")) {
				free(pos);
				return CT_PARSE_VERSION;
			}
			/* every tool: read HDF5 inputs without checking their checksums (io/h5.h) */
			if (!eq && !strcmp(name, "no-verify")) {
				ct_h5_set_verify(0);
				continue;
			}
			o = find_long(cmd, name, len);
			if (!o) {
				free(pos);
				return ct_error("unknown option '--%.*s'", (int)len, name);
			}
			if (eq)
				val = eq + 1;
		} else {
			if (a[1] == 'h' && !a[2] && !find_short(cmd, 'h')) {
				free(pos);
				return CT_PARSE_HELP;
			}
			o = find_short(cmd, a[1]);
			if (!o) {
				free(pos);
				return ct_error("unknown option '-%c'", a[1]);
			}
			if (a[2])
				val = a + 2;
		}
		char lab[64];
		opt_label(o, lab, sizeof lab);
		if (o->type == CT_OPT_FLAG) {
			if (val) {
				free(pos);
				return ct_error("option '%s' takes no value", lab);
			}
			*(int *)o->value = 1;
		} else {
			if (!val) {
				if (i + 1 >= argc) {
					free(pos);
					return ct_error("option '%s' requires a value", lab);
				}
				val = argv[++i];
			}
			if (set_value(o, val) < 0) {
				free(pos);
				return -1;
			}
		}
		o->seen = 1;
	}
	if (np < cmd->min_args) {
		free(pos);
		return ct_error("missing argument (expected %s)", cmd->usage);
	}
	if (cmd->max_args >= 0 && np > cmd->max_args) {
		ct_error("unexpected argument '%s'", pos[cmd->max_args]);
		free(pos);
		return CT_PARSE_ERROR;
	}
	for (ct_opt *o = cmd->opts; o && o->type != CT_OPT_END; o++)
		if ((o->flags & CT_OPT_REQUIRED) && !o->seen) {
			free(pos);
			if (o->short_name)
				return ct_error("option '-%c' is required", o->short_name);
			return ct_error("option '--%s' is required", o->long_name);
		}
	for (ct_opt *o = cmd->opts; o && o->type != CT_OPT_END; o++)
		if (o->type == CT_OPT_CHOICE && o->enum_value && *(const char **)o->value) {
			int k = choice_index(o->choices, *(const char **)o->value);
			if (k < 0) {
				free(pos);
				return ct_error("option '--%s': default '%s' is not one of %s", o->long_name,
						*(const char **)o->value, o->choices);
			}
			*o->enum_value = o->enum_values ? o->enum_values[k] : k;
		}
	if (!last_pos)
		atexit(free_last_pos);
	free(last_pos);
	last_pos = pos;
	*args = pos;
	*nargs = np;
	return CT_PARSE_OK;
}

int ct_opts_seen(const ct_cmd *cmd, const char *long_name)
{
	for (const ct_opt *o = cmd->opts; o && o->type != CT_OPT_END; o++)
		if (o->long_name && !strcmp(o->long_name, long_name))
			return o->seen;
	return 0;
}

static void default_text(const ct_opt *o, char *buf, size_t n)
{
	buf[0] = '\0';
	switch (o->type) {
	case CT_OPT_INT:
		snprintf(buf, n, " (default %d)", *(int *)o->value);
		break;
	case CT_OPT_U64:
		snprintf(buf, n, " (default %llu)", (unsigned long long)*(uint64_t *)o->value);
		break;
	case CT_OPT_DOUBLE:
		snprintf(buf, n, " (default %g)", *(double *)o->value);
		break;
	case CT_OPT_STRING:
	case CT_OPT_CHOICE:
		if (*(const char **)o->value)
			snprintf(buf, n, " (default %s)", *(const char **)o->value);
		break;
	default:
		break;
	}
}

void ct_opts_help(const ct_cmd *cmd, FILE *out)
{
	fprintf(out, "usage: %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->usage, cmd->summary);
	for (const ct_opt *o = cmd->opts; o && o->type != CT_OPT_END; o++) {
		char left[96], def[160];
		int k = 0;
		if (o->short_name)
			k = snprintf(left, sizeof left, "-%c%s", o->short_name, o->long_name ? ", " : "");
		else
			k = snprintf(left, sizeof left, "    ");
		if (o->long_name)
			k += snprintf(left + k, sizeof left - (size_t)k, "--%s", o->long_name);
		if (o->type == CT_OPT_CHOICE)
			snprintf(left + k, sizeof left - (size_t)k, " %s", o->choices);
		else if (o->type != CT_OPT_FLAG)
			snprintf(left + k, sizeof left - (size_t)k, " %s", o->arg ? o->arg : "VALUE");
		default_text(o, def, sizeof def);
		if (o->flags & CT_OPT_REQUIRED)
			snprintf(def, sizeof def, " (required)");
		if (strlen(left) > 26)
			fprintf(out, "  %s\n  %-26s %s%s\n", left, "", o->help, def);
		else
			fprintf(out, "  %-26s %s%s\n", left, o->help, def);
	}
	fprintf(out, "  %-26s %s\n  %-26s %s\n", "-h, --help", "show this help and exit", "    --version",
		"show the version and exit");
	if (cmd->details)
		fprintf(out, "\n%s\n", cmd->details);
}

cJSON *ct_opts_json_object(const ct_cmd *cmd)
{
	cJSON *o = cJSON_CreateObject();
	int oom = !o;
	for (const ct_opt *op = cmd->opts; !oom && op && op->type != CT_OPT_END; op++) {
		if (!op->long_name)
			continue;
		cJSON *v;
		switch (op->type) {
		case CT_OPT_FLAG: v = cJSON_CreateBool(*(int *)op->value); break;
		case CT_OPT_INT: v = ct_json_int(*(int *)op->value); break;
		case CT_OPT_U64: v = ct_json_u64(*(uint64_t *)op->value); break;
		case CT_OPT_DOUBLE: v = ct_json_double(*(double *)op->value); break;
		default: {
			const char *str = *(const char **)op->value;
			v = str ? cJSON_CreateString(str) : cJSON_CreateNull();
		}
		}
		oom = !v || !cJSON_AddItemToObject(o, op->long_name, v);
		if (oom)
			cJSON_Delete(v);
	}
	if (oom) {
		cJSON_Delete(o);
		ct_error("out of memory");
		return NULL;
	}
	return o;
}

char *ct_opts_json(const ct_cmd *cmd)
{
	cJSON *o = ct_opts_json_object(cmd);
	char *json = o ? ct_json_print(o) : NULL;
	cJSON_Delete(o);
	return json;
}

char *ct_cmdline(int argc, char **argv)
{
	ct_strbuf b = { 0 };
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int plain = *a != '\0';
		for (const char *p = a; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("-_./=,:+@%", *p))
				plain = 0;
		if (i)
			ct_strbuf_puts(&b, " ");
		if (plain) {
			ct_strbuf_puts(&b, a);
		} else {
			ct_strbuf_puts(&b, "'");
			for (const char *p = a; *p; p++) {
				if (*p == '\'')
					ct_strbuf_puts(&b, "'\\''");
				else
					ct_strbuf_add(&b, p, 1);
			}
			ct_strbuf_puts(&b, "'");
		}
	}
	return ct_strbuf_take(&b);
}

int ct_parse_size(const char *s, int *w, int *h)
{
	char *end;
	errno = 0;
	long a = strtol(s, &end, 10);
	if (errno || end == s || a < 1 || a > 16384)
		return ct_error("bad size '%s' (expected N or WxH, 1..16384)", s);
	if (!*end) {
		*w = *h = (int)a;
		return 0;
	}
	if (*end != 'x' && *end != 'X')
		return ct_error("bad size '%s' (expected N or WxH)", s);
	const char *s2 = end + 1;
	long b = strtol(s2, &end, 10);
	if (errno || end == s2 || *end || b < 1 || b > 16384)
		return ct_error("bad size '%s' (expected N or WxH, 1..16384)", s);
	*w = (int)a;
	*h = (int)b;
	return 0;
}

int ct_parse_pair(const char *s, double *a, double *b)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (errno || end == s || *end != ',' || !isfinite(x))
		return ct_error("bad value '%s' (expected A,B)", s);
	const char *s2 = end + 1;
	double y = strtod(s2, &end);
	if (errno || end == s2 || *end || !isfinite(y))
		return ct_error("bad value '%s' (expected A,B)", s);
	*a = x;
	*b = y;
	return 0;
}
