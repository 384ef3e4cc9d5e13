/* ct-info - summarise any ctfuse HDF5 file: kind, schema, shapes, classes, splits,
 * groups and the provenance chain; --json for scripts. */
#include "tool.h"

#include "data/dataset.h"
#include "data/preprocessing.h"
#include "data/features.h"
#include "io/h5.h"

#include <cjson/cJSON.h>
#include <string.h>

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

typedef struct dsinfo {
	cJSON *arr;
} dsinfo;

static herr_t visit(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
	(void)info;
	dsinfo *d = data;
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
	cJSON_AddItemToArray(d->arr, o);
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

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
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
	dsinfo d = { cJSON_AddArrayToObject(o, "datasets") };
	H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, visit, &d);

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
		cJSON_AddNumberToObject(o, "samples", (double)s.n);
		cJSON *cls = cJSON_AddArrayToObject(o, "classes");
		const char *splits[] = { "train", "val", "test", "" };
		for (int c = 0; c < s.nclasses; c++) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "name", s.class_names[c]);
			cJSON_AddNumberToObject(e, "count", (double)ct_samples_count(&s, NULL, c));
			cJSON *sp = cJSON_AddObjectToObject(e, "splits");
			for (int k = 0; k < 4; k++)
				cJSON_AddNumberToObject(sp, k < 3 ? splits[k] : "none",
							(double)ct_samples_count(&s, splits[k], c));
			cJSON_AddItemToArray(cls, e);
		}
		int64_t unl = ct_samples_count(&s, NULL, -1);
		if (unl)
			cJSON_AddNumberToObject(o, "unlabelled", (double)unl);
		/* Distinct groups, and groups that appear in more than one split (leakage). */
		char **g = malloc(((size_t)s.n + 1) * sizeof *g);
		int64_t ng = 0, nogroup = 0, leaking = 0;
		if (g) {
			for (int64_t i = 0; i < s.n; i++) {
				if (!*s.groups[i])
					nogroup++;
				else
					g[ng++] = s.groups[i];
			}
			qsort(g, (size_t)ng, sizeof *g, cmp_str);
			int64_t distinct = 0;
			for (int64_t i = 0; i < ng; i++)
				if (i == 0 || strcmp(g[i], g[i - 1]))
					distinct++;
			/* leakage check: for each distinct group, collect splits */
			for (int64_t i = 0; i < ng;) {
				int64_t j = i;
				while (j < ng && !strcmp(g[j], g[i]))
					j++;
				const char *first = NULL;
				int mixed = 0;
				for (int64_t k = 0; k < s.n && !mixed; k++)
					if (!strcmp(s.groups[k], g[i])) {
						if (!first)
							first = s.splits[k];
						else if (strcmp(first, s.splits[k]))
							mixed = 1;
					}
				leaking += mixed;
				i = j;
			}
			cJSON *go = cJSON_AddObjectToObject(o, "groups");
			cJSON_AddNumberToObject(go, "distinct", (double)distinct);
			cJSON_AddNumberToObject(go, "samples_without_group", (double)nogroup);
			cJSON_AddNumberToObject(go, "groups_in_several_splits", (double)leaking);
			free(g);
		}
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

static void print_text(const char *path, cJSON *o)
{
	cJSON *x;
	printf("file:       %s\n", path);
	printf("kind:       %s (schema %d), written by %s %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "schema_version")),
	       cJSON_GetStringValue(cJSON_GetObjectItem(o, "tool")),
	       cJSON_GetStringValue(cJSON_GetObjectItem(o, "tool_version")));
	printf("datasets:\n");
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(o, "datasets"))
	{
		printf("  %-14s %-8s ", cJSON_GetStringValue(cJSON_GetObjectItem(x, "name")),
		       cJSON_GetStringValue(cJSON_GetObjectItem(x, "dtype")));
		cJSON *d;
		int k = 0;
		cJSON_ArrayForEach(d, cJSON_GetObjectItem(x, "shape")) printf("%s%.0f", k++ ? " x " : "", d->valuedouble);
		printf("\n");
	}
	if ((x = cJSON_GetObjectItem(o, "class_names"))) {
		printf("class names:");
		cJSON *c;
		int k = 0;
		cJSON_ArrayForEach(c, x) printf("%s%s", k++ ? "," : " ", cJSON_GetStringValue(c));
		printf("\n");
	}
	if ((x = cJSON_GetObjectItem(o, "samples"))) {
		printf("samples:    %.0f\n", x->valuedouble);
		printf("classes:    %-16s %7s %7s %7s %7s %7s\n", "", "total", "train", "val", "test", "none");
		cJSON *c;
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(o, "classes"))
		{
			cJSON *sp = cJSON_GetObjectItem(c, "splits");
			printf("            %-16s %7.0f %7.0f %7.0f %7.0f %7.0f\n",
			       cJSON_GetStringValue(cJSON_GetObjectItem(c, "name")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(c, "count")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(sp, "train")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(sp, "val")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(sp, "test")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(sp, "none")));
		}
		if ((x = cJSON_GetObjectItem(o, "unlabelled")))
			printf("unlabelled: %.0f\n", x->valuedouble);
		cJSON *g = cJSON_GetObjectItem(o, "groups");
		if (g)
			printf("groups:     %.0f distinct, %.0f samples without a group, %.0f groups in several splits\n",
			       cJSON_GetNumberValue(cJSON_GetObjectItem(g, "distinct")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(g, "samples_without_group")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(g, "groups_in_several_splits")));
	}
	if ((x = cJSON_GetObjectItem(o, "blocks"))) {
		printf("blocks:\n");
		cJSON *b;
		cJSON_ArrayForEach(b, x)
		{
			printf("  %-40s columns %6.0f .. %-6.0f (%.0f)\n", cJSON_GetStringValue(cJSON_GetObjectItem(b, "name")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(b, "start")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(b, "start")) +
				       cJSON_GetNumberValue(cJSON_GetObjectItem(b, "width")),
			       cJSON_GetNumberValue(cJSON_GetObjectItem(b, "width")));
		}
	}
	printf("provenance:\n");
	int k = 1;
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(o, "provenance"))
	{
		cJSON *cm = cJSON_GetObjectItem(x, "command");
		printf("  %d. %s %s: %s\n", k++, cJSON_GetStringValue(cJSON_GetObjectItem(x, "tool")),
		       cJSON_GetStringValue(cJSON_GetObjectItem(x, "version")),
		       cm ? cJSON_GetStringValue(cm) : cJSON_GetStringValue(x));
	}
}

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	if (as_json + verify + preprocessing > 1)
		return ct_tool_usage(&cmd, "--json, --verify and --preprocessing exclude each other");
	ct_h5 h;
	if (verify)
		ct_h5_set_verify(1); /* the whole-file checksum at open, the objects below */
	if (ct_h5_open(&h, args[0]) < 0)
		return ct_tool_fail(&cmd);
	if (verify) {
		int64_t n = 0;
		int rc = ct_h5_checksum_verify(h.file, &n);
		if (rc == 0 && n == 0)
			rc = ct_error("no checksums to verify (written by an older ctfuse, or not by ctfuse)");
		if (rc < 0)
			ct_error_prefix("'%s'", args[0]);
		ct_h5_close(&h);
		if (rc < 0)
			return ct_tool_fail(&cmd);
		printf("%s: %lld objects match their checksums\n", args[0], (long long)n);
		return CT_EXIT_OK;
	}
	if (ct_file_check(h.file, NULL) < 0) {
		ct_error_prefix("'%s'", args[0]);
		ct_h5_close(&h);
		return ct_tool_fail(&cmd);
	}
	if (preprocessing) {
		char **lines = NULL, *a = NULL;
		int64_t n = 0;
		int rc = ct_provenance_read(h.file, &lines, &n);
		if (rc == 0)
			rc = ct_preprocessing_args(lines, n, &a);
		ct_strings_free(lines, n);
		ct_h5_close(&h);
		if (rc < 0) {
			ct_error_prefix("'%s'", args[0]);
			return ct_tool_fail(&cmd);
		}
		if (rc == 0)
			fprintf(stderr, "ct-info: warning: '%s' records no ct-convert run (images from another tool)\n", args[0]);
		printf("%s\n", a ? a : "");
		free(a);
		return fflush(stdout) != 0 ? ct_tool_fail(&cmd) : CT_EXIT_OK;
	}
	cJSON *o = summarise(h.file);
	ct_h5_close(&h);
	if (as_json) {
		char *s = cJSON_Print(o);
		printf("%s\n", s);
		free(s);
	} else {
		print_text(args[0], o);
	}
	cJSON_Delete(o);
	if (fflush(stdout) != 0)
		return ct_tool_fail(&cmd);
	return CT_EXIT_OK;
}
