/* opts.h - table-driven command-line options: one table per tool drives parsing,
 * validation (types, ranges, choices) and the generated --help text (git's
 * parse-options). Also the recording of a run: the full command line and every
 * parameter as JSON, stored in each output file's attributes. */
#ifndef CT_OPTS_H
#define CT_OPTS_H

#include <stdint.h>
#include <stdio.h>

typedef enum ct_opt_type {
	CT_OPT_END = 0,
	CT_OPT_FLAG,   /* int*, set to 1 */
	CT_OPT_INT,    /* int*, range [min, max] when min < max */
	CT_OPT_U64,    /* uint64_t* (seeds) */
	CT_OPT_DOUBLE, /* double*, range [min, max] when min < max */
	CT_OPT_STRING, /* const char** */
	CT_OPT_CHOICE, /* const char**, one of choices "a|b|c" */
} ct_opt_type;

typedef struct ct_opt {
	ct_opt_type type;
	char short_name;      /* 0 when none */
	const char *long_name;
	void *value;
	const char *arg;      /* metavariable in --help, e.g. "WxH" */
	const char *help;
	double min, max;
	const char *choices;
	int seen;             /* set by the parser when given on the command line */
	/* CT_OPT_CHOICE_ENUM_: after parsing, *enum_value = enum_values[k] (k when NULL) for the
	 * k-th choice held (given or default): the string-to-enum mapping lives in the table */
	int *enum_value;
	const int *enum_values;
	int flags;            /* CT_OPT_REQUIRED ... (0 in the macros above) */
} ct_opt;

/* flags: a required option is checked after parsing ("option '-o' is required", a usage
 * error) and marked "(required)" in --help */
enum { CT_OPT_REQUIRED = 1 };

#define CT_OPT_FLAG_(s, l, v, h) { CT_OPT_FLAG, s, l, v, NULL, h, 0, 0, NULL, 0, NULL, NULL, 0 }
#define CT_OPT_INT_(s, l, v, a, h, lo, hi) { CT_OPT_INT, s, l, v, a, h, lo, hi, NULL, 0, NULL, NULL, 0 }
#define CT_OPT_U64_(s, l, v, a, h) { CT_OPT_U64, s, l, v, a, h, 0, 0, NULL, 0, NULL, NULL, 0 }
#define CT_OPT_DOUBLE_(s, l, v, a, h, lo, hi) { CT_OPT_DOUBLE, s, l, v, a, h, lo, hi, NULL, 0, NULL, NULL, 0 }
#define CT_OPT_STRING_(s, l, v, a, h) { CT_OPT_STRING, s, l, v, a, h, 0, 0, NULL, 0, NULL, NULL, 0 }
#define CT_OPT_CHOICE_(s, l, v, c, h) { CT_OPT_CHOICE, s, l, v, NULL, h, 0, 0, c, 0, NULL, NULL, 0 }
/* a choice that also sets an enum: v the string (default in it), e the int, vals the values
 * of the choices in order (NULL: 0, 1, 2, ...) */
#define CT_OPT_CHOICE_ENUM_(s, l, v, c, e, vals, h) { CT_OPT_CHOICE, s, l, v, NULL, h, 0, 0, c, 0, e, vals, 0 }
/* a string option that must be given (e.g. -o where a tool has no OUTPUT argument) */
#define CT_OPT_STRING_REQUIRED_(s, l, v, a, h) { CT_OPT_STRING, s, l, v, a, h, 0, 0, NULL, 0, NULL, NULL, CT_OPT_REQUIRED }
#define CT_OPT_END_ { CT_OPT_END, 0, NULL, NULL, NULL, NULL, 0, 0, NULL, 0, NULL, NULL, 0 }

typedef struct ct_cmd {
	const char *name;        /* "ct-convert" */
	const char *usage;       /* "[OPTIONS] INPUT -o OUTPUT" */
	const char *summary;     /* one line */
	const char *details;     /* more text after the options, or NULL */
	ct_opt *opts;            /* terminated by CT_OPT_END_ */
	int min_args, max_args;  /* positional arguments; max -1 = unlimited */
} ct_cmd;

enum { CT_PARSE_OK = 0, CT_PARSE_HELP = 1, CT_PARSE_VERSION = 2, CT_PARSE_ERROR = -1 };

/* Parse argv[1..]. Positionals are returned in *args (pointers into argv; the
 * array belongs to the parser, valid until the next parse, freed at exit). `--help`/`-h` and `--version` are built in.
 * On a usage error returns CT_PARSE_ERROR with the message in ct_last_error(). */
int ct_opts_parse(ct_cmd *cmd, int argc, char **argv, int *nargs, char ***args);

/* Whether the option with this long name was given on the command line. */
int ct_opts_seen(const ct_cmd *cmd, const char *long_name);

/* The --help text generated from the table. */
void ct_opts_help(const ct_cmd *cmd, FILE *out);

/* Every option's current value as a JSON object (malloc'd), e.g.
 * {"size":"224","seed":42,"force":false}. */
char *ct_opts_json(const ct_cmd *cmd);
/* The same as a cJSON object, for a tool that records more fields (core/json.h for numbers). */
struct cJSON;
struct cJSON *ct_opts_json_object(const ct_cmd *cmd);

/* The command line, shell-quoted where needed (malloc'd). */
char *ct_cmdline(int argc, char **argv);

/* Value parsers shared by tools; return 0 or -1 with a message. */
int ct_parse_size(const char *s, int *w, int *h);          /* "224" or "WxH" */
int ct_parse_pair(const char *s, double *a, double *b);    /* "A,B" */

#endif
