/* tfjs.c - TensorFlow.js layers-model import: topology order, manifest shards, dequantisation (tfjs-core io/io_utils.ts). */
#include "formats/tfjs.h"
#include "io/target.h"
#include "core/error.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_JSON ((size_t)256 << 20)
#define MAX_SHARDS_BYTES ((int64_t)8 << 30)

float ct_half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
	if (exp == 31) {
		bits = sign | 0x7f800000u | man << 13; /* inf / nan */
	} else if (exp) {
		bits = sign | (exp + 112) << 23 | man << 13;
	} else if (man) {
		/* subnormal: normalise into float32's range */
		int e = -1;
		do {
			e++;
			man <<= 1;
		} while (!(man & 1024));
		bits = sign | (uint32_t)(112 - e) << 23 | (man & 1023) << 13;
	} else {
		bits = sign;
	}
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

int ct_tfjs_dequantise(const void *src, int64_t n, const char *qdtype, double scale, double min, float *dst)
{
	const uint8_t *p = src;
	if (!strcmp(qdtype, "uint8")) {
		for (int64_t i = 0; i < n; i++)
			dst[i] = (float)(p[i] * scale + min);
	} else if (!strcmp(qdtype, "uint16")) {
		for (int64_t i = 0; i < n; i++)
			dst[i] = (float)((p[2 * i] | p[2 * i + 1] << 8) * scale + min);
	} else if (!strcmp(qdtype, "float16")) {
		for (int64_t i = 0; i < n; i++)
			dst[i] = ct_half_to_float((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
	} else if (!strcmp(qdtype, "float32")) {
		for (int64_t i = 0; i < n; i++) {
			uint32_t b = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
				     (uint32_t)p[4 * i + 3] << 24;
			memcpy(&dst[i], &b, sizeof b);
		}
	} else {
		return ct_error("unsupported storage type '%s'", qdtype);
	}
	return 0;
}

static int bytes_per(const char *stored)
{
	if (!strcmp(stored, "uint8"))
		return 1;
	if (!strcmp(stored, "uint16") || !strcmp(stored, "float16"))
		return 2;
	if (!strcmp(stored, "float32"))
		return 4;
	return 0;
}

/* ---- topology --------------------------------------------------------------------------- */

typedef struct layer_list {
	int n, cap;
	char **name;
} layer_list;

static int list_push(layer_list *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->name[i], name))
			return 0; /* shared layers appear once */
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 64;
		char **p = realloc(l->name, sizeof *p * (size_t)cap);
		if (!p)
			return ct_error("out of memory");
		l->name = p;
		l->cap = cap;
	}
	size_t len = strlen(name) + 1;
	if (!(l->name[l->n] = malloc(len)))
		return ct_error("out of memory");
	memcpy(l->name[l->n++], name, len);
	return 0;
}

static int is_model_class(const char *c)
{
	return !strcmp(c, "Model") || !strcmp(c, "Functional") || !strcmp(c, "Sequential");
}

/* Layers of a Keras model object {class_name, config}, nested models flattened. */
static int collect_layers(const cJSON *model, layer_list *out, int depth)
{
	if (depth > 16)
		return ct_error("models nested too deeply");
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(model, "config");
	const cJSON *layers = cJSON_IsArray(cfg) ? cfg : cJSON_GetObjectItemCaseSensitive(cfg, "layers");
	if (!cJSON_IsArray(layers))
		return ct_error("modelTopology has no layer list");
	const cJSON *l;
	cJSON_ArrayForEach(l, layers)
	{
		const cJSON *cls = cJSON_GetObjectItemCaseSensitive(l, "class_name");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(l, "name");
		const cJSON *lc = cJSON_GetObjectItemCaseSensitive(l, "config");
		if (!cJSON_IsString(name))
			name = cJSON_GetObjectItemCaseSensitive(lc, "name");
		if (!cJSON_IsString(cls) || !cJSON_IsString(name) || !name->valuestring[0])
			return ct_error("a layer of modelTopology has no class_name or name");
		if (strchr(name->valuestring, '/'))
			return ct_error("layer name '%s' contains '/'", name->valuestring);
		if (is_model_class(cls->valuestring)) {
			if (collect_layers(l, out, depth + 1) < 0)
				return -1;
		} else if (list_push(out, name->valuestring) < 0) {
			return -1;
		}
	}
	return 0;
}

/* ---- manifest --------------------------------------------------------------------------- */

typedef struct entry {
	int layer, rank, seq;
	char *name;        /* Keras name, with ":0" */
	int ndim;
	int64_t shape[CT_MAX_DIMS], n;
	const uint8_t *data;
	const char *stored; /* storage dtype */
	double scale, min;
} entry;

/* Keras' order of a layer's weights (the order of add_weight in each layer's build). */
static int keras_rank(const char *short_nm)
{
	static const char *order[] = { "depthwise_kernel", "pointwise_kernel", "kernel", "recurrent_kernel", "bias",
				       "gamma", "beta", "moving_mean", "moving_variance" };
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (!strcmp(order[i], short_nm))
			return (int)i;
	return 100; /* unknown: after the known ones, in manifest order */
}

static int cmp_entry(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The whole file (io/target.h: regular files only, bounded). */
static int read_whole(const char *path, size_t limit, uint8_t **buf, size_t *len)
{
	return ct_read_file(path, (long long)limit, (char **)buf, len);
}

/* The concatenated shards of one manifest group (*buf NULL on failure). */
static int read_group_parts(const cJSON *paths, const char *dir, uint8_t **buf, size_t *len);

static int read_group(const cJSON *paths, const char *dir, uint8_t **buf, size_t *len)
{
	if (read_group_parts(paths, dir, buf, len) == 0)
		return 0;
	free(*buf);
	*buf = NULL;
	return -1;
}

static int read_group_parts(const cJSON *paths, const char *dir, uint8_t **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, paths)
	{
		if (!cJSON_IsString(p) || !p->valuestring[0])
			return ct_error("weightsManifest: a shard path is not a string");
		const char *s = p->valuestring;
		if (s[0] == '/' || strstr(s, "..") || strstr(s, "://"))
			return ct_error("weightsManifest: shard path '%s' leaves the model folder", s);
		size_t pl = strlen(dir) + strlen(s) + 2;
		char *full = malloc(pl);
		if (!full)
			return ct_error("out of memory");
		snprintf(full, pl, "%s/%s", dir, s);
		uint8_t *part;
		size_t plen;
		int rc = read_whole(full, (size_t)MAX_SHARDS_BYTES, &part, &plen);
		free(full);
		if (rc < 0)
			return -1;
		if ((int64_t)(*len + plen) > MAX_SHARDS_BYTES) {
			free(part);
			return ct_error("weight shards too large");
		}
		uint8_t *g = realloc(*buf, *len + plen + 1);
		if (!g) {
			free(part);
			return ct_error("out of memory");
		}
		memcpy(g + *len, part, plen);
		free(part);
		*buf = g;
		*len += plen;
	}
	return 0;
}

static int owner_layer(const layer_list *ll, const char *wname)
{
	int best = -1;
	size_t bl = 0;
	for (int i = 0; i < ll->n; i++) {
		size_t l = strlen(ll->name[i]);
		if (l > bl && !strncmp(wname, ll->name[i], l) && wname[l] == '/') {
			best = i;
			bl = l;
		}
	}
	return best;
}

static int parse_weight(const cJSON *w, entry *e)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(w, "name");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(w, "shape");
	const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(w, "dtype");
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(w, "quantization");
	if (!cJSON_IsString(name) || !name->valuestring[0])
		return ct_error("weightsManifest: a weight without a name");
	const char *nm = name->valuestring;
	if (!cJSON_IsArray(shape))
		return ct_error("weight '%s': no shape", nm);
	if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "float32"))
		return ct_error("weight '%s': dtype '%s' is not supported (float32 weights only)", nm,
				cJSON_IsString(dtype) ? dtype->valuestring : "?");
	e->ndim = cJSON_GetArraySize(shape);
	if (e->ndim > CT_MAX_DIMS)
		return ct_error("weight '%s': %d dimensions (at most %d)", nm, e->ndim, CT_MAX_DIMS);
	e->n = 1;
	for (int i = 0; i < e->ndim; i++) {
		const cJSON *d = cJSON_GetArrayItem(shape, i);
		double v = cJSON_IsNumber(d) ? d->valuedouble : -1;
		if (v < 0 || v > 2147483647.0 || v != (double)(int64_t)v || ct_mul_i64(e->n, (int64_t)v, &e->n) < 0 ||
		    e->n > ((int64_t)1 << 31))
			return ct_error("weight '%s': absurd shape", nm);
		e->shape[i] = (int64_t)v;
	}
	e->stored = "float32";
	e->scale = 1;
	e->min = 0;
	if (q && !cJSON_IsNull(q)) {
		const cJSON *qd = cJSON_GetObjectItemCaseSensitive(q, "dtype");
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(q, "scale");
		const cJSON *mn = cJSON_GetObjectItemCaseSensitive(q, "min");
		if (!cJSON_IsString(qd) || (strcmp(qd->valuestring, "uint8") && strcmp(qd->valuestring, "uint16") &&
					    strcmp(qd->valuestring, "float16")))
			return ct_error("weight '%s': unsupported quantization dtype '%s'", nm,
					cJSON_IsString(qd) ? qd->valuestring : "?");
		e->stored = qd->valuestring;
		if (strcmp(e->stored, "float16")) {
			if (!cJSON_IsNumber(sc) || !cJSON_IsNumber(mn))
				return ct_error("weight '%s': %s quantization without scale and min", nm, e->stored);
			e->scale = sc->valuedouble;
			e->min = mn->valuedouble;
		}
	}
	size_t l = strlen(nm);
	if (!(e->name = malloc(l + 3)))
		return ct_error("out of memory");
	memcpy(e->name, nm, l + 1);
	if (!strchr(nm, ':'))
		memcpy(e->name + l, ":0", 3);
	return 0;
}

int ct_tfjs_import_json(const char *json, size_t len, const char *dir, const char *what, ct_weights *out)
{
	memset(out, 0, sizeof *out);
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		long off = at && at >= json && at <= json + len ? (long)(at - json) : -1;
		return ct_error("'%s': not valid JSON (near byte %ld)", what, off);
	}
	layer_list ll = { 0 };
	entry *ents = NULL;
	int nents = 0, cap = 0, rc = 0;
	uint8_t **bufs = NULL;
	int nbufs = 0;

	const cJSON *topo = cJSON_GetObjectItemCaseSensitive(root, "modelTopology");
	const cJSON *mc = cJSON_GetObjectItemCaseSensitive(topo, "model_config");
	if (mc)
		topo = mc;
	const cJSON *manifest = cJSON_GetObjectItemCaseSensitive(root, "weightsManifest");
	if (!cJSON_IsObject(topo) || !cJSON_IsArray(manifest)) {
		rc = ct_error("'%s': not a TensorFlow.js layers model (no modelTopology / weightsManifest)", what);
		goto out;
	}
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
	if (cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "graph-model")) {
		rc = ct_error("'%s': a TensorFlow.js graph model, not a layers model", what);
		goto out;
	}
	if (collect_layers(topo, &ll, 0) < 0) {
		rc = ct_error_prefix("'%s'", what);
		goto out;
	}
	bufs = calloc((size_t)cJSON_GetArraySize(manifest) + 1, sizeof *bufs);
	if (!bufs) {
		rc = ct_error("out of memory");
		goto out;
	}
	const cJSON *group;
	cJSON_ArrayForEach(group, manifest)
	{
		size_t glen, off = 0;
		if (read_group(cJSON_GetObjectItemCaseSensitive(group, "paths"), dir, &bufs[nbufs], &glen) < 0) {
			rc = ct_error_prefix("'%s'", what);
			goto out;
		}
		const uint8_t *gbuf = bufs[nbufs++];
		const cJSON *w;
		cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(group, "weights"))
		{
			if (nents == cap) {
				cap = cap ? 2 * cap : 256;
				entry *p = realloc(ents, sizeof *p * (size_t)cap);
				if (!p) {
					rc = ct_error("out of memory");
					goto out;
				}
				ents = p;
			}
			entry *e = &ents[nents];
			memset(e, 0, sizeof *e);
			if (parse_weight(w, e) < 0) {
				free(e->name);
				rc = ct_error_prefix("'%s'", what);
				goto out;
			}
			nents++;
			size_t bytes = (size_t)e->n * (size_t)bytes_per(e->stored);
			if (bytes > glen - off) {
				rc = ct_error("'%s': weight '%s' runs past the end of its shards (%zu bytes)", what,
					      e->name, glen);
				goto out;
			}
			e->data = gbuf ? gbuf + off : NULL; /* no shard bytes at all: only empty weights */
			off += bytes;
			e->seq = nents;
			char sn[128];
			ct_weight_short_name(e->name, sn, sizeof sn);
			e->rank = keras_rank(sn);
			e->layer = owner_layer(&ll, e->name);
			if (e->layer < 0) {
				rc = ct_error("'%s': weight '%s' belongs to no layer of the topology", what, e->name);
				goto out;
			}
		}
		if (off != glen) {
			rc = ct_error("'%s': shards hold %zu bytes, the manifest describes %zu", what, glen, off);
			goto out;
		}
	}
	if (nents > 1) /* qsort of NULL is undefined, even for 0 entries (found by fuzzing) */
		qsort(ents, (size_t)nents, sizeof *ents, cmp_entry);
	for (int i = 1; i < nents; i++)
		if (!strcmp(ents[i].name, ents[i - 1].name)) {
			rc = ct_error("'%s': weight '%s' appears twice", what, ents[i].name);
			goto out;
		}
	int k = 0;
	for (int i = 0; i < ll.n && rc == 0; i++) {
		ct_wlayer *l = ct_weights_add_layer(out, ll.name[i]);
		if (!l) {
			rc = -1;
			break;
		}
		for (; k < nents && ents[k].layer == i; k++) {
			entry *e = &ents[k];
			ct_wtensor *t = ct_wlayer_add(l, e->name, e->ndim, e->shape);
			if (!t || ct_tfjs_dequantise(e->data, e->n, e->stored, e->scale, e->min, t->t.data) < 0) {
				rc = ct_error_prefix("'%s': weight '%s'", what, e->name);
				break;
			}
		}
	}
out:
	for (int i = 0; i < nents; i++)
		free(ents[i].name);
	free(ents);
	for (int i = 0; i < nbufs; i++)
		free(bufs[i]);
	free(bufs);
	for (int i = 0; i < ll.n; i++)
		free(ll.name[i]);
	free(ll.name);
	cJSON_Delete(root);
	if (rc < 0)
		ct_weights_free(out);
	return rc;
}

int ct_tfjs_import(const char *path, ct_weights *out)
{
	memset(out, 0, sizeof *out);
	uint8_t *buf;
	size_t len;
	if (read_whole(path, MAX_JSON, &buf, &len) < 0)
		return -1;
	size_t pl = strlen(path);
	char *dir = malloc(pl + 2);
	if (!dir) {
		free(buf);
		return ct_error("out of memory");
	}
	memcpy(dir, path, pl + 1);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = 0;
	else if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	int rc = ct_tfjs_import_json((const char *)buf, len, dir, path, out);
	free(dir);
	free(buf);
	return rc;
}
