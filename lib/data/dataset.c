/* dataset.c - sample metadata, root attributes, provenance (the images file: images.c). */
#include "data/dataset.h"
#include "io/inputs.h"
#include "core/error.h"
#include "core/json.h"
#include "core/str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int ct_samples_alloc(ct_samples *s, int64_t n, int nclasses)
{
	memset(s, 0, sizeof *s);
	if (n < 0 || nclasses < 0 || n > ((int64_t)1 << 40))
		return ct_error("bad sample count");
	size_t m = (size_t)n + 1;
	s->n = n;
	s->nclasses = nclasses;
	s->class_names = calloc((size_t)nclasses + 1, sizeof *s->class_names);
	s->labels = calloc(m, sizeof *s->labels);
	s->names = calloc(m, sizeof *s->names);
	s->groups = calloc(m, sizeof *s->groups);
	s->splits = calloc(m, sizeof *s->splits);
	if (!s->class_names || !s->labels || !s->names || !s->groups || !s->splits) {
		ct_samples_free(s);
		return ct_error("out of memory for %lld samples", (long long)n);
	}
	return 0;
}

void ct_samples_free(ct_samples *s)
{
	if (s->names)
		ct_strings_free(s->names, s->n);
	if (s->groups)
		ct_strings_free(s->groups, s->n);
	if (s->splits)
		ct_strings_free(s->splits, s->n);
	if (s->class_names)
		ct_strings_free(s->class_names, s->nclasses);
	free(s->labels);
	memset(s, 0, sizeof *s);
}

static int dup_into(char **dst, const char *src)
{
	free(*dst);
	*dst = ct_strdup(src);
	return *dst ? 0 : -1;
}

int ct_samples_copy_row(ct_samples *dst, int64_t i, const ct_samples *src, int64_t j)
{
	dst->labels[i] = src->labels[j];
	if (dup_into(&dst->names[i], src->names[j]) < 0 || dup_into(&dst->groups[i], src->groups[j]) < 0 ||
	    dup_into(&dst->splits[i], src->splits[j]) < 0)
		return -1;
	return 0;
}

int ct_samples_write(hid_t file, const ct_samples *s)
{
	int64_t shape[1] = { s->n };
	ct_tensor lab = ct_tensor_wrap(s->labels, CT_I32, 1, shape);
	if (ct_h5_write_strings(file, "class_names", s->class_names, s->nclasses) < 0 ||
	    ct_h5_write(file, "labels", &lab, 0, 0) < 0 || ct_h5_write_strings(file, "names", s->names, s->n) < 0 ||
	    ct_h5_write_strings(file, "groups", s->groups, s->n) < 0 ||
	    ct_h5_write_strings(file, "splits", s->splits, s->n) < 0)
		return -1;
	return 0;
}

static int valid_split(const char *s)
{
	return !strcmp(s, "") || !strcmp(s, "train") || !strcmp(s, "val") || !strcmp(s, "test");
}

int ct_samples_read(hid_t file, ct_samples *s)
{
	memset(s, 0, sizeof *s);
	char **cls = NULL, **names = NULL, **groups = NULL, **splits = NULL;
	int64_t ncls = 0, nn = 0, ng = 0, ns = 0;
	ct_tensor lab = { 0 };
	if (ct_h5_read_strings(file, "class_names", &cls, &ncls) < 0 ||
	    ct_h5_read_strings(file, "names", &names, &nn) < 0 ||
	    ct_h5_read_strings(file, "groups", &groups, &ng) < 0 ||
	    ct_h5_read_strings(file, "splits", &splits, &ns) < 0 || ct_h5_read(file, "labels", CT_I32, &lab) < 0)
		goto fail;
	if (lab.ndim != 1 || lab.shape[0] != nn || ng != nn || ns != nn) {
		ct_error("sample lists differ in length (names %lld, labels %lld, groups %lld, splits %lld)",
			 (long long)nn, (long long)(lab.ndim == 1 ? lab.shape[0] : -1), (long long)ng, (long long)ns);
		goto fail;
	}
	if (nn == 0) {
		ct_error("no samples (0 rows)");
		goto fail;
	}
	for (int64_t c = 0; c < ncls; c++) {
		if (!cls[c][0]) {
			ct_error("class %lld has an empty name", (long long)c);
			goto fail;
		}
		for (int64_t c2 = 0; c2 < c; c2++)
			if (!strcmp(cls[c], cls[c2])) {
				ct_error("class name '%s' appears twice (classes %lld and %lld)", cls[c], (long long)c2,
					 (long long)c);
				goto fail;
			}
	}
	const int32_t *l = lab.data;
	for (int64_t i = 0; i < nn; i++) {
		if (l[i] < -1 || l[i] >= ncls) {
			ct_error("sample '%s' has label %d, outside the %lld classes", names[i], l[i], (long long)ncls);
			goto fail;
		}
		if (!valid_split(splits[i])) {
			ct_error("sample '%s' has unknown split '%s'", names[i], splits[i]);
			goto fail;
		}
	}
	s->n = nn;
	s->nclasses = (int)ncls;
	s->class_names = cls;
	s->names = names;
	s->groups = groups;
	s->splits = splits;
	s->labels = malloc(((size_t)nn + 1) * sizeof *s->labels);
	if (!s->labels) {
		ct_tensor_free(&lab);
		ct_samples_free(s);
		return ct_error("out of memory");
	}
	memcpy(s->labels, lab.data, (size_t)nn * sizeof *s->labels);
	ct_tensor_free(&lab);
	return 0;
fail:
	ct_strings_free(cls, ncls);
	ct_strings_free(names, nn);
	ct_strings_free(groups, ng);
	ct_strings_free(splits, ns);
	ct_tensor_free(&lab);
	return -1;
}

int64_t ct_samples_count(const ct_samples *s, const char *split, int label)
{
	int64_t c = 0;
	for (int64_t i = 0; i < s->n; i++)
		if ((!split || !strcmp(s->splits[i], split)) && (label < -1 || s->labels[i] == label))
			c++;
	return c;
}

int ct_file_stamp(hid_t file, const char *kind, const ct_run *run, char *const *upstream, int64_t nup)
{
	if (ct_h5_set_int(file, "schema_version", CT_SCHEMA_VERSION) < 0 || ct_h5_set_str(file, "kind", kind) < 0 ||
	    ct_h5_set_str(file, "tool", run->tool) < 0 || ct_h5_set_str(file, "tool_version", CT_VERSION) < 0 ||
	    ct_h5_set_str(file, "command", run->command ? run->command : "") < 0 ||
	    ct_h5_set_str(file, "params", run->params ? run->params : "{}") < 0)
		return -1;
	/* this run's provenance line; params are JSON already (cli/opts.h ct_opts_json); the
	 * input files read so far and their digests (io/inputs.h) */
	char *inputs = ct_inputs_json();
	cJSON *o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "tool", run->tool);
		cJSON_AddStringToObject(o, "version", CT_VERSION);
		cJSON_AddStringToObject(o, "kind", kind);
		cJSON_AddStringToObject(o, "command", run->command ? run->command : "");
		cJSON_AddRawToObject(o, "params", run->params ? run->params : "{}");
		if (inputs)
			cJSON_AddRawToObject(o, "inputs", inputs);
	}
	free(inputs);
	char *entry = o ? ct_json_print(o) : NULL;
	cJSON_Delete(o);
	char **all = calloc((size_t)nup + 1, sizeof *all);
	if (!entry || !all) {
		free(entry);
		free(all);
		return ct_error("out of memory");
	}
	for (int64_t i = 0; i < nup; i++)
		all[i] = upstream[i];
	all[nup] = entry;
	int rc = ct_h5_write_strings(file, "provenance", all, nup + 1);
	free(all);
	free(entry);
	return rc;
}

int ct_file_check(hid_t file, const char *want_kind)
{
	int64_t v;
	if (!ct_h5_attr_exists(file, "schema_version"))
		return ct_error("not a ctfuse file (no schema_version attribute)");
	if (ct_h5_get_int(file, "schema_version", &v) < 0)
		return -1;
	if (v < 1 || v > CT_SCHEMA_VERSION)
		return ct_error("schema version %lld is not supported by this version (%d)", (long long)v,
				CT_SCHEMA_VERSION);
	char *kind = NULL;
	if (ct_h5_get_str(file, "kind", &kind) < 0)
		return -1;
	int rc = 0;
	if (want_kind && strcmp(kind, want_kind))
		rc = ct_error("is a '%s' file, expected '%s'", kind, want_kind);
	free(kind);
	return rc;
}

int ct_provenance_read(hid_t file, char ***lines, int64_t *n)
{
	if (!ct_h5_exists(file, "provenance")) {
		*lines = calloc(1, sizeof **lines);
		*n = 0;
		return *lines ? 0 : ct_error("out of memory");
	}
	return ct_h5_read_strings(file, "provenance", lines, n);
}
