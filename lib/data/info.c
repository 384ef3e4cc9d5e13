/* info.c - the ct-info summary, checksum verification and preprocessing of any ctfuse file. */
#include "data/info.h"
#include "data/dataset.h"
#include "data/features.h"
#include "data/preprocessing.h"
#include "data/split.h"
#include "core/error.h"
#include "io/h5.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* One entry {name, shape, dtype} per dataset of the root group, in name order. */
static herr_t visit(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
	(void)info;
	cJSON *arr = data;
	H5O_info_t oi;
	if (H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET)
		return 0;
	hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
	hid_t sp = H5Dget_space(ds), t = H5Dget_type(ds);
	hsize_t dims[H5S_MAX_RANK];
	int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
	cJSON *o = cJSON_CreateObject(), *shape = cJSON_AddArrayToObject(o, "shape");
	cJSON_AddStringToObject(o, "name", name);
	for (int i = 0; i < nd; i++)
		cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)dims[i]));
	const char *tn = "other";
	H5T_class_t c = H5Tget_class(t);
	size_t sz = H5Tget_size(t);
	if (c == H5T_STRING)
		tn = "string";
	else if (c == H5T_FLOAT)
		tn = sz == 8 ? "float64" : sz == 4 ? "float32" : "float16";
	else if (c == H5T_INTEGER)
		tn = H5Tget_sign(t) == H5T_SGN_NONE ? (sz == 1 ? "uint8" : sz == 2 ? "uint16" : "uint")
						    : (sz == 4 ? "int32" : sz == 8 ? "int64" : "int");
	cJSON_AddStringToObject(o, "dtype", tn);
	cJSON_AddItemToArray(arr, o);
	H5Tclose(t);
	H5Sclose(sp);
	H5Dclose(ds);
	return 0;
}

static void add_str_attr(cJSON *o, hid_t f, const char *name)
{
	char *v = NULL;
	if (ct_h5_attr_exists(f, name) && ct_h5_get_str(f, name, &v) == 0)
		cJSON_AddStringToObject(o, name, v);
	free(v);
}

/* Per-class counts by split, and the groups (data/split.h ct_leak_groups: a group counts as
 * in several splits when its samples are in more than one of train, val and test). */
static void add_samples(cJSON *o, const ct_samples *s)
{
	cJSON_AddNumberToObject(o, "samples", (double)s->n);
	cJSON *cls = cJSON_AddArrayToObject(o, "classes");
	const char *splits[] = { "train", "val", "test", "" };
	for (int c = 0; c < s->nclasses; c++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", s->class_names[c]);
		cJSON_AddNumberToObject(e, "count", (double)ct_samples_count(s, NULL, c));
		cJSON *sp = cJSON_AddObjectToObject(e, "splits");
		for (int k = 0; k < 4; k++)
			cJSON_AddNumberToObject(sp, k < 3 ? splits[k] : "none", (double)ct_samples_count(s, splits[k], c));
		cJSON_AddItemToArray(cls, e);
	}
	int64_t unl = ct_samples_count(s, NULL, -1);
	if (unl)
		cJSON_AddNumberToObject(o, "unlabelled", (double)unl);
	ct_leak_report r = { 0 };
	if (ct_leak_groups(s, &r) == 0) {
		int64_t nogroup = 0;
		for (int64_t i = 0; i < s->n; i++)
			nogroup += !*s->groups[i];
		cJSON *go = cJSON_AddObjectToObject(o, "groups");
		cJSON_AddNumberToObject(go, "distinct", (double)r.ngroups);
		cJSON_AddNumberToObject(go, "samples_without_group", (double)nogroup);
		cJSON_AddNumberToObject(go, "groups_in_several_splits", (double)r.nleaky);
	}
	ct_leak_report_free(&r);
}

static cJSON *summarise(hid_t f)
{
	cJSON *o = cJSON_CreateObject();
	int64_t sv = 0;
	ct_h5_get_int(f, "schema_version", &sv);
	cJSON_AddNumberToObject(o, "schema_version", (double)sv);
	add_str_attr(o, f, "kind");
	add_str_attr(o, f, "tool");
	add_str_attr(o, f, "tool_version");
	add_str_attr(o, f, "command");
	H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, visit, cJSON_AddArrayToObject(o, "datasets"));

	char **cn;
	int64_t ncn;
	if (ct_h5_exists(f, "class_names") && ct_h5_read_strings(f, "class_names", &cn, &ncn) == 0) {
		cJSON *ca = cJSON_AddArrayToObject(o, "class_names");
		for (int64_t i = 0; i < ncn; i++)
			cJSON_AddItemToArray(ca, cJSON_CreateString(cn[i]));
		ct_strings_free(cn, ncn);
	}
	ct_samples s;
	if (ct_h5_exists(f, "names") && ct_samples_read(f, &s) == 0) {
		add_samples(o, &s);
		ct_samples_free(&s);
	}
	ct_fblock *blocks;
	int nb;
	if (ct_h5_exists(f, "blocks") && ct_fblocks_read(f, &blocks, &nb) == 0) {
		cJSON *ba = cJSON_AddArrayToObject(o, "blocks");
		for (int i = 0; i < nb; i++) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "name", blocks[i].name);
			cJSON_AddStringToObject(e, "backbone", blocks[i].backbone);
			cJSON_AddStringToObject(e, "layer", blocks[i].layer);
			cJSON_AddStringToObject(e, "pool", blocks[i].pool);
			cJSON_AddStringToObject(e, "weights_sha256", blocks[i].weights_sha256);
			cJSON_AddNumberToObject(e, "start", (double)blocks[i].start);
			cJSON_AddNumberToObject(e, "width", (double)blocks[i].width);
			cJSON_AddItemToArray(ba, e);
		}
		ct_fblocks_free(blocks, nb);
	}
	char **prov;
	int64_t np;
	if (ct_provenance_read(f, &prov, &np) == 0) {
		cJSON *pa = cJSON_AddArrayToObject(o, "provenance");
		for (int64_t i = 0; i < np; i++) {
			cJSON *e = cJSON_Parse(prov[i]);
			cJSON_AddItemToArray(pa, e ? e : cJSON_CreateString(prov[i]));
		}
		ct_strings_free(prov, np);
	}
	return o;
}

static const char *str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
}

static double num(const cJSON *o, const char *key)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItem(o, key));
}

static void print_text(const char *path, const cJSON *o, FILE *out)
{
	cJSON *x;
	fprintf(out, "file:       %s\n", path);
	fprintf(out, "kind:       %s (schema %d), written by %s %s\n", str(o, "kind"), (int)num(o, "schema_version"),
		str(o, "tool"), str(o, "tool_version"));
	fprintf(out, "datasets:\n");
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(o, "datasets"))
	{
		fprintf(out, "  %-14s %-8s ", str(x, "name"), str(x, "dtype"));
		cJSON *d;
		int k = 0;
		cJSON_ArrayForEach(d, cJSON_GetObjectItem(x, "shape")) fprintf(out, "%s%.0f", k++ ? " x " : "", d->valuedouble);
		fprintf(out, "\n");
	}
	if ((x = cJSON_GetObjectItem(o, "class_names"))) {
		fprintf(out, "class names:");
		cJSON *c;
		int k = 0;
		cJSON_ArrayForEach(c, x) fprintf(out, "%s%s", k++ ? "," : " ", cJSON_GetStringValue(c));
		fprintf(out, "\n");
	}
	if ((x = cJSON_GetObjectItem(o, "samples"))) {
		fprintf(out, "samples:    %.0f\n", x->valuedouble);
		fprintf(out, "classes:    %-16s %7s %7s %7s %7s %7s\n", "", "total", "train", "val", "test", "none");
		cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(o, "classes"))
		{
			cJSON *sp = cJSON_GetObjectItem(c, "splits");
			fprintf(out, "            %-16s %7.0f %7.0f %7.0f %7.0f %7.0f\n", str(c, "name"), num(c, "count"),
				num(sp, "train"), num(sp, "val"), num(sp, "test"), num(sp, "none"));
		}
		if ((x = cJSON_GetObjectItem(o, "unlabelled")))
			fprintf(out, "unlabelled: %.0f\n", x->valuedouble);
		cJSON *g = cJSON_GetObjectItem(o, "groups");
		if (g)
			fprintf(out, "groups:     %.0f distinct, %.0f samples without a group, %.0f groups in several splits\n",
				num(g, "distinct"), num(g, "samples_without_group"), num(g, "groups_in_several_splits"));
	}
	if ((x = cJSON_GetObjectItem(o, "blocks"))) {
		fprintf(out, "blocks:\n");
		cJSON *b;
		cJSON_ArrayForEach(b, x)
		{
			fprintf(out, "  %-40s columns %6.0f .. %-6.0f (%.0f)\n", str(b, "name"), num(b, "start"),
				num(b, "start") + num(b, "width"), num(b, "width"));
		}
	}
	fprintf(out, "provenance:\n");
	int k = 1;
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(o, "provenance"))
	{
		cJSON *cm = cJSON_GetObjectItem(x, "command");
		fprintf(out, "  %d. %s %s: %s\n", k++, str(x, "tool"), str(x, "version"),
			cm ? cJSON_GetStringValue(cm) : cJSON_GetStringValue(x));
	}
}

int ct_info_print(const char *path, int json, FILE *out)
{
	ct_h5 h;
	if (ct_h5_open(&h, path) < 0)
		return -1;
	if (ct_file_check(h.file, NULL) < 0) {
		ct_error_prefix("'%s'", path);
		ct_h5_close(&h);
		return -1;
	}
	cJSON *o = summarise(h.file);
	ct_h5_close(&h);
	if (!o)
		return ct_error("out of memory");
	if (json) {
		char *s = cJSON_Print(o);
		if (s)
			fprintf(out, "%s\n", s);
		free(s);
		if (!s) {
			cJSON_Delete(o);
			return ct_error("out of memory");
		}
	} else {
		print_text(path, o, out);
	}
	cJSON_Delete(o);
	return 0;
}

int ct_info_verify(const char *path, FILE *out)
{
	ct_h5 h;
	ct_h5_set_verify(1); /* the whole-file checksum at open, the objects below */
	if (ct_h5_open(&h, path) < 0)
		return -1;
	int64_t n = 0;
	int rc = ct_h5_checksum_verify(h.file, &n);
	if (rc == 0 && n == 0)
		rc = ct_error("no checksums to verify (written by an older ctfuse, or not by ctfuse)");
	if (rc < 0)
		ct_error_prefix("'%s'", path);
	ct_h5_close(&h);
	if (rc < 0)
		return -1;
	fprintf(out, "%s: %lld objects match their checksums\n", path, (long long)n);
	return 0;
}

int ct_info_preprocessing(const char *path, char **args)
{
	ct_h5 h;
	*args = NULL;
	if (ct_h5_open(&h, path) < 0)
		return -1;
	if (ct_file_check(h.file, NULL) < 0) {
		ct_error_prefix("'%s'", path);
		ct_h5_close(&h);
		return -1;
	}
	char **lines = NULL;
	int64_t n = 0;
	int rc = ct_provenance_read(h.file, &lines, &n);
	if (rc == 0)
		rc = ct_preprocessing_args(lines, n, args);
	ct_strings_free(lines, n);
	ct_h5_close(&h);
	if (rc < 0)
		ct_error_prefix("'%s'", path);
	return rc;
}
