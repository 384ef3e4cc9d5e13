/* preprocessing.c - pixel-changing ct-convert options from a provenance chain (preprocessing.h). */
#include "data/preprocessing.h"

#include "core/error.h"
#include "core/str.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ct-convert's options that change the pixels it writes, with their defaults (tools/ct-convert.c);
 * kind: 'b' flag, 's' string (NULL default: null), 'n' number. An option missing from the params
 * (files from versions before it existed) is at its default. */
static const struct {
	const char *key;
	char kind;
	const char *def_s;
	double def_n;
	const char *needs; /* only with this flag set */
} opts[] = {
	{ "channels", 'n', NULL, 3, NULL },
	{ "intensity", 's', "auto", 0, NULL },
	{ "window", 's', NULL, 0, NULL },
	{ "hu-slope", 'n', NULL, 1, NULL },
	{ "hu-offset", 'n', NULL, 0, NULL },
	{ "fit", 's', "stretch", 0, NULL },
	{ "filter", 's', "area", 0, NULL },
	{ "float", 'b', NULL, 0, NULL },
	{ "clean-annotations", 'b', NULL, 0, NULL },
	{ "lung-crop", 'b', NULL, 0, NULL },
	{ "lung-margin", 'n', NULL, 0.1, "lung-crop" },
	{ "standardise", 's', "none", 0, NULL },
	{ "lung-only", 'b', NULL, 0, NULL },
	{ "equalise", 's', NULL, 0, NULL },
};

static int flag_set(const cJSON *params, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, key));
}

/* How the chain's ct-features runs pooled: -1 no ct-features run (an images file), 0 over the
 * whole map, 1 over the lung field (--pool lung-avg / lung-max) in at least one of them. */
static int features_lung_pool(char *const *lines, int64_t n)
{
	int r = -1;
	for (int64_t i = 0; i < n; i++) {
		cJSON *e = cJSON_Parse(lines[i]);
		const cJSON *tool = e ? cJSON_GetObjectItemCaseSensitive(e, "tool") : NULL;
		if (cJSON_IsString(tool) && !strcmp(tool->valuestring, "ct-features")) {
			const cJSON *params = cJSON_GetObjectItemCaseSensitive(e, "params");
			const cJSON *pool = cJSON_GetObjectItemCaseSensitive(params, "pool");
			if (r < 0)
				r = 0;
			if (cJSON_IsString(pool) && !strncmp(pool->valuestring, "lung-", 5))
				r = 1;
		}
		cJSON_Delete(e);
	}
	return r;
}

/* The ct-convert options alone (ct_preprocessing_args without the pooling's --lung-mask). */
static int convert_args(char *const *lines, int64_t n, char **args)
{
	*args = NULL;
	for (int64_t i = 0; i < n; i++) {
		cJSON *e = cJSON_Parse(lines[i]);
		if (!e)
			return ct_error("provenance entry %lld is not JSON", (long long)i + 1);
		const cJSON *tool = cJSON_GetObjectItemCaseSensitive(e, "tool");
		if (!cJSON_IsString(tool) || strcmp(tool->valuestring, "ct-convert")) {
			cJSON_Delete(e);
			continue;
		}
		const cJSON *params = cJSON_GetObjectItemCaseSensitive(e, "params");
		if (!cJSON_IsObject(params)) { /* written by something else: nothing known */
			cJSON_Delete(e);
			return 0;
		}
		ct_strbuf sb = { 0 };
		int rc = 0;
		for (size_t k = 0; rc == 0 && k < sizeof opts / sizeof *opts; k++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, opts[k].key);
			char opt[64], num[64];
			snprintf(opt, sizeof opt, "--%s", opts[k].key);
			if (!v || cJSON_IsNull(v) || (opts[k].needs && !flag_set(params, opts[k].needs)))
				continue;
			if (opts[k].kind == 'b') {
				if (cJSON_IsTrue(v))
					ct_strbuf_printf(&sb, "%s%s", sb.n ? " " : "", opt);
			} else if (opts[k].kind == 'n') {
				/* recorded as a number or, for options given as text, a string */
				double x = cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsString(v) ? strtod(v->valuestring, NULL) : NAN;
				if (isnan(x)) {
					rc = ct_error("provenance: ct-convert's '%s' is not a number", opts[k].key);
				} else if (x != opts[k].def_n) {
					snprintf(num, sizeof num, "%.15g", x);
					if (strtod(num, NULL) != x)
						snprintf(num, sizeof num, "%.17g", x);
					ct_strbuf_printf(&sb, "%s%s %s", sb.n ? " " : "", opt, num);
				}
			} else if (!cJSON_IsString(v)) {
				rc = ct_error("provenance: ct-convert's '%s' is not a string", opts[k].key);
			} else if (!opts[k].def_s || strcmp(v->valuestring, opts[k].def_s)) {
				ct_strbuf_printf(&sb, "%s%s %s", sb.n ? " " : "", opt, v->valuestring);
			}
		}
		cJSON_Delete(e);
		if (rc < 0) {
			ct_strbuf_release(&sb);
			return -1;
		}
		return (*args = ct_strbuf_take(&sb)) ? 1 : -1;
	}
	return 0;
}

int ct_preprocessing_args(char *const *lines, int64_t n, char **args)
{
	int rc = convert_args(lines, n, args);
	if (rc == 1 && features_lung_pool(lines, n) == 1) {
		ct_strbuf sb = { 0 };
		ct_strbuf_printf(&sb, "%s%s--lung-mask", *args, **args ? " " : "");
		free(*args);
		if (!(*args = ct_strbuf_take(&sb)))
			return ct_error("out of memory");
	}
	return rc;
}

int ct_preprocessing_check(char *const *model_prov, int64_t nmodel, char *const *data_prov, int64_t ndata)
{
	char *a = NULL, *b = NULL;
	int ra = convert_args(model_prov, nmodel, &a);
	int rb = ra < 0 ? -1 : convert_args(data_prov, ndata, &b);
	int pa = features_lung_pool(model_prov, nmodel), pb = features_lung_pool(data_prov, ndata);
	int rc = 0;
	if (ra < 0 || rb < 0)
		rc = -1;
	else if (ra == 1 && rb == 1 && strcmp(a, b))
		rc = ct_error("images prepared with '%s', the model's training images with '%s' (ct-convert options; "
			      "convert them alike: ct-info --preprocessing MODEL prints the model's)", b, a);
	else if (pa >= 0 && pb >= 0 && pa != pb)
		rc = ct_error("features pooled over %s, the model's training features over %s (ct-features --pool)",
			      pb ? "the lung field" : "the whole map", pa ? "the lung field" : "the whole map");
	free(a);
	free(b);
	return rc;
}
