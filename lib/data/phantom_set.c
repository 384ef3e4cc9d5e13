/* phantom_set.c - data sets of synthetic CT slices (image/phantom.h) as class folders of
 * images, patients.tsv and COVID-CT style split lists: classes and splits by seeded shuffles,
 * files written in parallel, each table atomically. */
#include "data/phantom_set.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "core/str.h"
#include "image/codec.h"
#include "io/outfile.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static double clampd(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

void ct_phantom_set_defaults(ct_phantom_set *s)
{
	ct_phantom_defaults(&s->render);
	s->patients = 20;
	s->lesion_fraction = 0.5;
	s->format = CT_PHANTOM_PNG8;
	s->window_level = -600.0;
	s->window_width = 1500.0;
	s->split_dir = NULL;
	s->force = 0;
}

static const char *const class_name[2] = { "normal", "lesion" };

int ct_phantom_parse_format(const char *name, ct_phantom_format *f)
{
	if (!strcmp(name, "png8"))
		*f = CT_PHANTOM_PNG8;
	else if (!strcmp(name, "png16"))
		*f = CT_PHANTOM_PNG16;
	else if (!strcmp(name, "tiff"))
		*f = CT_PHANTOM_TIFF;
	else
		return ct_error("unknown phantom format '%s' (expected png8, png16 or tiff)", name);
	return 0;
}

static void shuffle(int *a, int n, ct_rng *r)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)ct_rng_below(r, (uint64_t)i + 1);
		int t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

int ct_phantom_assign(uint64_t seed, int patients, double fraction, uint8_t *lesion_out)
{
	int *perm = malloc((size_t)(patients > 0 ? patients : 1) * sizeof *perm);
	if (!perm)
		return ct_error("out of memory");
	int nl = (int)floor(clampd(fraction, 0.0, 1.0) * patients + 0.5);
	ct_rng r;
	ct_rng_init(&r, seed, CT_PHANTOM_STREAM_ASSIGN);
	for (int i = 0; i < patients; i++)
		perm[i] = i;
	shuffle(perm, patients, &r);
	for (int i = 0; i < patients; i++)
		lesion_out[perm[i]] = i < nl;
	free(perm);
	return 0;
}

int ct_phantom_split(uint64_t seed, int patients, const uint8_t *lesion_in, uint8_t *split)
{
	int *ids = malloc((size_t)(patients > 0 ? patients : 1) * sizeof *ids);
	if (!ids)
		return ct_error("out of memory");
	ct_rng r;
	ct_rng_init(&r, seed, CT_PHANTOM_STREAM_SPLIT);
	for (int cls = 0; cls < 2; cls++) {
		int n = 0;
		for (int i = 0; i < patients; i++)
			if (!!lesion_in[i] == cls)
				ids[n++] = i;
		shuffle(ids, n, &r);
		int ntest = (int)floor(0.2 * n + 0.5), nval = (int)floor(0.2 * n + 0.5);
		for (int k = 0; k < n; k++)
			split[ids[k]] = k < ntest ? 2 : k < ntest + nval ? 1 : 0;
	}
	free(ids);
	return 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof buf)
		return ct_error("bad directory name '%s'", path);
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char keep = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0777) < 0 && errno != EEXIST)
			return ct_error_errno("cannot create directory '%s'", buf);
		buf[i] = keep;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return ct_error_errno("cannot create directory '%s'", path);
	if (!S_ISDIR(st.st_mode))
		return ct_error("'%s' exists and is not a directory", path);
	return 0;
}

/* 1 if dir does not exist or is empty, 0 if it has entries, -1 on error. */
static int dir_is_empty(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 1 : ct_error_errno("cannot access '%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return ct_error("'%s' exists and is not a directory", dir);
	DIR *d = opendir(dir);
	if (!d)
		return ct_error_errno("cannot open directory '%s'", dir);
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

typedef struct set_ctx {
	const ct_phantom_set *s;
	const char *dir;
	const uint8_t *lesion;
	int digits;
	const char *ext;
} set_ctx;

static void file_name(const set_ctx *x, int patient, int slice, char *buf, size_t n)
{
	snprintf(buf, n, "P%04d_s%0*d.%s", patient + 1, x->digits, slice + 1, x->ext);
}

static int set_item(void *vctx, long i)
{
	set_ctx *x = vctx;
	const ct_phantom_set *s = x->s;
	int k = s->render.slices_per_patient;
	int patient = (int)(i / k), slice = (int)(i % k);
	char name[64], path[4200];
	file_name(x, patient, slice, name, sizeof name);
	if (snprintf(path, sizeof path, "%s/%s/%s", x->dir, class_name[x->lesion[patient]], name) >=
	    (int)sizeof path)
		return ct_error("path too long in '%s'", x->dir);
	ct_tensor hu = { 0 }, px = { 0 };
	if (ct_phantom_render(&s->render, patient, slice, x->lesion[patient], &hu, NULL) < 0)
		return -1;
	const float *h = hu.data;
	size_t n = (size_t)s->render.width * (size_t)s->render.height;
	int rc;
	if (s->format == CT_PHANTOM_TIFF) {
		rc = ct_image_write_tiff(path, &hu, 1);
	} else if (s->format == CT_PHANTOM_PNG16) {
		rc = ct_tensor_alloc3(&px, CT_U16, s->render.height, s->render.width, 1);
		if (rc == 0) {
			uint16_t *p = px.data;
			for (size_t j = 0; j < n; j++)
				p[j] = (uint16_t)clampd(floor(h[j] + 1024.0 + 0.5), 0.0, 65535.0);
			rc = ct_image_write_png(path, &px);
		}
	} else {
		rc = ct_tensor_alloc3(&px, CT_U8, s->render.height, s->render.width, 1);
		if (rc == 0) {
			uint8_t *p = px.data;
			double lo = s->window_level - 0.5 * s->window_width, sc = 255.0 / s->window_width;
			for (size_t j = 0; j < n; j++)
				p[j] = (uint8_t)clampd(floor((h[j] - lo) * sc + 0.5), 0.0, 255.0);
			rc = ct_image_write_png(path, &px);
		}
	}
	ct_tensor_free(&hu);
	ct_tensor_free(&px);
	return rc;
}

static const char *const split_dir[3] = { "TrainingTXT", "ValidationTXT", "TestingTXT" };
static const char *const split_prefix[3] = { "train", "val", "test" };

static int check_target(const char *dir, int force, const char *what)
{
	int empty = dir_is_empty(dir);
	if (empty < 0)
		return -1;
	if (!empty && !force)
		return ct_error("%s '%s' is not empty (use --force to write into it)", what, dir);
	return 0;
}

/* After a failure (a full disk): remove every file this run writes and the folders it made,
 * so that a rerun is not refused for a non-empty folder. rmdir only removes empty folders,
 * so files that were there before (--force) stay. */
static void remove_set(const set_ctx *x, const char *dir, const uint8_t *les)
{
	const ct_phantom_set *s = x->s;
	char path[4200], name[64];
	for (int p = 0; p < s->patients; p++)
		for (int j = 0; j < s->render.slices_per_patient; j++) {
			file_name(x, p, j, name, sizeof name);
			snprintf(path, sizeof path, "%s/%s/%s", dir, class_name[les[p]], name);
			unlink(path);
		}
	snprintf(path, sizeof path, "%s/patients.tsv", dir);
	unlink(path);
	for (int c = 0; c < 2; c++) {
		snprintf(path, sizeof path, "%s/%s", dir, class_name[c]);
		rmdir(path);
	}
	rmdir(dir);
	for (int part = 0; s->split_dir && part < 3; part++) {
		for (int c = 0; c < 2; c++) {
			snprintf(path, sizeof path, "%s/%s/%s%s.txt", s->split_dir, split_dir[part], split_prefix[part],
				 class_name[c]);
			unlink(path);
		}
		snprintf(path, sizeof path, "%s/%s", s->split_dir, split_dir[part]);
		rmdir(path);
	}
	if (s->split_dir)
		rmdir(s->split_dir);
}

int ct_phantom_write_set(const char *dir, const ct_phantom_set *s)
{
	if (ct_phantom_check_opts(&s->render) < 0)
		return -1;
	if (s->patients < 1 || s->patients > CT_PHANTOM_MAX_PATIENTS)
		return ct_error("patient count %d out of range (1..%d)", s->patients, CT_PHANTOM_MAX_PATIENTS);
	if (!(s->lesion_fraction >= 0.0 && s->lesion_fraction <= 1.0))
		return ct_error("lesion fraction %g out of range (0..1)", s->lesion_fraction);
	if (s->format == CT_PHANTOM_PNG8 && !(s->window_width > 0.0 && isfinite(s->window_level)))
		return ct_error("window width %g must be positive", s->window_width);
	if (strlen(dir) > 3000 || (s->split_dir && strlen(s->split_dir) > 3000))
		return ct_error("output directory name too long");
	if (check_target(dir, s->force, "output directory") < 0 ||
	    (s->split_dir && check_target(s->split_dir, s->force, "split directory") < 0))
		return -1;

	uint8_t *les = malloc((size_t)s->patients * 2);
	if (!les)
		return ct_error("out of memory");
	uint8_t *spl = les + s->patients;
	if (ct_phantom_assign(s->render.seed, s->patients, s->lesion_fraction, les) < 0 ||
	    ct_phantom_split(s->render.seed, s->patients, les, spl) < 0) {
		free(les);
		return -1;
	}
	/* Only classes that have patients get a folder: an empty class folder is an error to readers. */
	char path[4200];
	int has[2] = { 0, 0 };
	for (int p = 0; p < s->patients; p++)
		has[les[p]] = 1;
	int rc = make_dirs(dir);
	for (int c = 0; c < 2 && rc == 0; c++) {
		snprintf(path, sizeof path, "%s/%s", dir, class_name[c]);
		if (has[c])
			rc = make_dirs(path);
	}
	int k = s->render.slices_per_patient;
	set_ctx x = { s, dir, les, k > 99 ? 3 : 2, s->format == CT_PHANTOM_TIFF ? "tif" : "png" };
	if (rc == 0)
		rc = ct_parallel_items((long)s->patients * k, set_item, &x);

	/* patients.tsv: the layout of the real data set's table. */
	ct_strbuf b = { 0 };
	char name[64];
	if (rc == 0) {
		ct_strbuf_printf(&b, "file\tclass\tpatient\n");
		for (int p = 0; p < s->patients; p++)
			for (int j = 0; j < k; j++) {
				file_name(&x, p, j, name, sizeof name);
				ct_strbuf_printf(&b, "%s\t%s\tP%04d\n", name, class_name[les[p]], p + 1);
			}
		snprintf(path, sizeof path, "%s/patients.tsv", dir);
		rc = b.oom ? ct_error("out of memory") : ct_write_file_atomic(path, b.p, b.n);
	}

	/* COVID-CT style lists: SPLIT/<Part>TXT/<part><class>.txt, one file name a line. */
	for (int part = 0; s->split_dir && rc == 0 && part < 3; part++) {
		snprintf(path, sizeof path, "%s/%s", s->split_dir, split_dir[part]);
		if ((rc = make_dirs(path)) < 0)
			break;
		for (int c = 0; c < 2 && rc == 0; c++) {
			b.n = 0;
			for (int p = 0; p < s->patients; p++)
				if (les[p] == c && spl[p] == part)
					for (int j = 0; j < k; j++) {
						file_name(&x, p, j, name, sizeof name);
						ct_strbuf_printf(&b, "%s\n", name);
					}
			snprintf(path, sizeof path, "%s/%s/%s%s.txt", s->split_dir, split_dir[part],
				 split_prefix[part], class_name[c]);
			rc = b.oom ? ct_error("out of memory") : ct_write_file_atomic(path, b.n ? b.p : "", b.n);
		}
	}
	ct_strbuf_release(&b);
	if (rc < 0)
		remove_set(&x, dir, les);
	free(les);
	return rc;
}
