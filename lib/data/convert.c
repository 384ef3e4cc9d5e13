/* convert.c - listing image inputs and converting them to fixed-size tensors. */
#include "data/convert.h"
#include "data/shard.h"
#include "core/error.h"
#include "core/str.h"
#include "core/sha256.h"
#include "io/target.h"
#include "image/codec.h"
#include "image/nuisance.h"
#include "image/equalise.h"
#include "image/lung.h"
#include "image/resize.h"
#include "image/dicom.h"
#include "image/nifti.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join_path(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);
	if (!p) {
		ct_error("out of memory");
		return NULL;
	}
	snprintf(p, n, "%s/%s", a, b);
	return p;
}

void ct_sources_free(ct_sources *s)
{
	for (int64_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].name);
		free(s->v[i].group);
		free(s->v[i].split);
	}
	free(s->v);
	ct_strings_free(s->classes, s->nclasses);
	ct_strings_free(s->ignored, s->nignored);
	ct_strings_free(s->skipped, s->nskipped);
	memset(s, 0, sizeof *s);
}

static int add_source(ct_sources *s, int64_t *cap, char *path, char *name, int label)
{
	if (!path || !name) {
		free(path);
		free(name);
		return -1;
	}
	if (s->n == *cap) {
		int64_t nc = *cap ? *cap * 2 : 256;
		ct_source *v = realloc(s->v, (size_t)nc * sizeof *v);
		if (!v) {
			free(path);
			free(name);
			return ct_error("out of memory");
		}
		s->v = v;
		*cap = nc;
	}
	ct_source *e = &s->v[s->n];
	e->path = path;
	e->name = name;
	e->label = label;
	e->group = ct_strdup("");
	e->split = ct_strdup("");
	s->n++;
	return e->group && e->split ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted visible entries of a directory; want_dirs selects folders or files. */
static int list_dir(const char *dir, int want_dirs, char ***out, int *nout)
{
	DIR *d = opendir(dir);
	if (!d)
		return ct_error_errno("cannot open folder '%s'", dir);
	char **v = NULL;
	int n = 0, cap = 0, rc = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *full = join_path(dir, e->d_name);
		struct stat st;
		if (!full) {
			rc = -1;
			break;
		}
		int ok = stat(full, &st) == 0 && (want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
		free(full);
		if (!ok)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nv = realloc(v, (size_t)cap * sizeof *nv);
			if (!nv) {
				rc = ct_error("out of memory");
				break;
			}
			v = nv;
		}
		if (!(v[n] = ct_strdup(e->d_name))) {
			rc = -1;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc < 0) {
		ct_strings_free(v, n);
		return -1;
	}
	if (n)
		qsort(v, (size_t)n, sizeof *v, cmp_str);
	*out = v;
	*nout = n;
	return 0;
}

/* What a file holds, by its first bytes (gzip data is looked into for a NIfTI header). */
enum { KIND_OTHER = 0, KIND_IMAGE, KIND_DICOM, KIND_NIFTI };

static int sniff_kind(const char *path)
{
	/* Not a regular file (a FIFO would block here): the image reader refuses it by name. */
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return KIND_IMAGE;
	FILE *f = fopen(path, "rb");
	if (!f)
		return KIND_OTHER;
	unsigned char buf[352];
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	/* "DICM" at 128 first: a DICOM preamble may hold a TIFF header (dual-personality files). */
	if (n >= 132 && !memcmp(buf + 128, "DICM", 4))
		return KIND_DICOM;
	if (ct_image_sniff(buf, n))
		return KIND_IMAGE;
	if (ct_dicom_sniff(buf, n))
		return KIND_DICOM;
	if (ct_nifti_sniff(buf, n) || (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b && ct_nifti_sniff_file(path) == 1))
		return KIND_NIFTI;
	return KIND_OTHER;
}

/* Record an entry of a class folder that is not read, for the tool to warn about. */
static void note_skipped(ct_sources *s, const char *dir, const char *name, const char *why)
{
	char **v = realloc(s->skipped, ((size_t)s->nskipped + 1) * sizeof *v);
	if (!v)
		return;
	s->skipped = v;
	size_t n = strlen(dir) + strlen(name) + strlen(why) + 8;
	char *m = malloc(n);
	if (!m)
		return;
	snprintf(m, n, "'%s/%s': %s", dir, name, why);
	s->skipped[s->nskipped++] = m;
}

/* The entries of a class folder that are neither regular files nor folders (dangling links,
 * FIFOs, devices, sockets): none is read, each is recorded. */
static int note_unread(ct_sources *s, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return ct_error_errno("cannot open folder '%s'", dir);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *full = join_path(dir, e->d_name);
		if (!full)
			break;
		struct stat st;
		if (stat(full, &st) < 0)
			note_skipped(s, dir, e->d_name, "skipped: a dangling link or unreadable entry");
		else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) /* sub-folders are read (list_files_deep) */
			note_skipped(s, dir, e->d_name, "skipped: not a regular file (a FIFO, device or socket)");
		free(full);
	}
	closedir(d);
	return 0;
}

/* Whether any file in dir looks like an image by its first bytes; -1 (error set) when none
 * does and some could not be opened: a class of unreadable images is an error, not a
 * folder to pass over. */
static int holds_image(const char *dir, char **files, int nf)
{
	int unreadable = -1, e = 0;
	for (int i = 0; i < nf; i++) {
		char *p = join_path(dir, files[i]);
		FILE *f = p ? fopen(p, "rb") : NULL;
		if (!f) {
			if (unreadable < 0) {
				unreadable = i;
				e = errno;
			}
			free(p);
			continue;
		}
		fclose(f);
		int k = sniff_kind(p);
		free(p);
		if (k != KIND_OTHER)
			return 1;
	}
	if (unreadable >= 0) {
		errno = e;
		return ct_error_errno("class folder '%s' has no readable image: cannot open '%s/%s'", dir, dir,
				      files[unreadable]);
	}
	return 0;
}

/* The regular files under dir at any depth (hidden entries skipped), as paths relative to
 * dir, sorted: folders of DICOM series hold their slices in sub-folders. */
static int list_files_deep(const char *dir, const char *rel, int depth, char ***v, int *n)
{
	if (depth > 32)
		return ct_error("'%s': folders nested too deep (a symbolic link loop?)", dir);
	char **files = NULL, **dirs = NULL;
	int nf = 0, nd = 0, rc = 0;
	if (list_dir(dir, 0, &files, &nf) < 0 || list_dir(dir, 1, &dirs, &nd) < 0) {
		ct_strings_free(files, nf);
		return -1;
	}
	char **nv = realloc(*v, ((size_t)*n + (size_t)nf + 1) * sizeof *nv);
	if (!nv)
		rc = ct_error("out of memory");
	else
		*v = nv;
	for (int i = 0; i < nf && rc == 0; i++) {
		char *r = rel ? join_path(rel, files[i]) : ct_strdup(files[i]);
		if (!r)
			rc = -1;
		else
			(*v)[(*n)++] = r;
	}
	for (int i = 0; i < nd && rc == 0; i++) {
		char *sub = join_path(dir, dirs[i]), *r = rel ? join_path(rel, dirs[i]) : ct_strdup(dirs[i]);
		rc = sub && r ? list_files_deep(sub, r, depth + 1, v, n) : -1;
		free(sub);
		free(r);
	}
	ct_strings_free(files, nf);
	ct_strings_free(dirs, nd);
	if (rc == 0 && depth == 0 && *n > 1)
		qsort(*v, (size_t)*n, sizeof **v, cmp_str);
	return rc;
}

static int in_csv(const char *csv, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = csv; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		p = c ? c + 1 : NULL;
	}
	return 0;
}

int ct_sources_from_tree(ct_sources *s, const char *root, const char *classes)
{
	memset(s, 0, sizeof *s);
	struct stat st;
	if (stat(root, &st) < 0)
		return ct_error_errno("cannot open '%s'", root);
	if (!S_ISDIR(st.st_mode))
		return ct_error("'%s' is not a folder (expected ROOT/<class>/<image>)", root);
	char **subs;
	int nsub;
	if (list_dir(root, 1, &subs, &nsub) < 0)
		return -1;
	s->classes = calloc((size_t)nsub + 1, sizeof *s->classes);
	s->ignored = calloc((size_t)nsub + 1, sizeof *s->ignored);
	if (!s->classes || !s->ignored) {
		ct_strings_free(subs, nsub);
		ct_sources_free(s);
		return ct_error("out of memory");
	}
	if (classes) {
		for (const char *p = classes; *p;) {
			const char *c = strchr(p, ',');
			size_t len = c ? (size_t)(c - p) : strlen(p);
			int found = 0;
			for (int i = 0; i < nsub; i++)
				if (strlen(subs[i]) == len && !strncmp(subs[i], p, len))
					found = 1;
			if (!found) {
				ct_error("class folder '%s/%.*s' does not exist", root, (int)len, p);
				ct_strings_free(subs, nsub);
				ct_sources_free(s);
				return -1;
			}
			p = c ? c + 1 : p + len;
		}
	}
	int64_t cap = 0;
	int rc = 0;
	for (int c = 0; c < nsub && rc == 0; c++) {
		if (classes && !in_csv(classes, subs[c]))
			continue;
		char *cdir = join_path(root, subs[c]);
		char **files = NULL, **dirs = NULL;
		int nf = 0, nd = 0;
		if (!cdir || list_files_deep(cdir, NULL, 0, &files, &nf) < 0 || list_dir(cdir, 1, &dirs, &nd) < 0) {
			free(cdir);
			ct_strings_free(files, nf);
			rc = -1;
			break;
		}
		ct_strings_free(dirs, nd);
		int holds = nf == 0 && (nd == 0 || classes) ? 0 : classes ? 1 : holds_image(cdir, files, nf);
		if (nf == 0 && (nd == 0 || classes)) {
			rc = ct_error("class folder '%s' is empty", cdir);
		} else if (holds < 0) {
			rc = -1;
		} else if (!holds) {
			s->ignored[s->nignored++] = subs[c];
			subs[c] = NULL;
		} else {
			if (note_unread(s, cdir) < 0) {
				rc = -1;
				ct_strings_free(files, nf);
				free(cdir);
				break;
			}
			int label = s->nclasses;
			s->classes[s->nclasses++] = subs[c];
			subs[c] = NULL;
			for (int i = 0; i < nf && rc == 0; i++)
				rc = add_source(s, &cap, join_path(cdir, files[i]),
						join_path(s->classes[label], files[i]), label);
		}
		ct_strings_free(files, nf);
		free(cdir);
	}
	ct_strings_free(subs, nsub);
	if (rc == 0 && s->nclasses == 0)
		rc = ct_error("'%s' has no class folders with images (expected ROOT/<class>/<image>)", root);
	if (rc < 0)
		ct_sources_free(s);
	return rc;
}

/* Lines longer than this are refused (a path and a label; /dev/zero on stdin would
 * otherwise be one endless line). */
#define CT_MAX_LINE (1 << 20)

/* One line without its LF into *line (grown as needed, at most CT_MAX_LINE bytes); returns
 * its length, -1 at the end of the input, -2 for a line too long. */
static ssize_t read_line(FILE *f, char **line, size_t *cap)
{
	size_t n = 0;
	int c;
	while ((c = getc_unlocked(f)) != EOF && c != '\n') {
		if (n + 1 >= *cap) {
			if (*cap >= CT_MAX_LINE)
				return -2;
			size_t ncap = *cap ? *cap * 2 : 256;
			char *p = realloc(*line, ncap);
			if (!p)
				return -2;
			*line = p;
			*cap = ncap;
		}
		(*line)[n++] = (char)c;
	}
	if (c == EOF && n == 0)
		return -1;
	if (!*line && !(*line = malloc(*cap = 1)))
		return -2;
	(*line)[n] = '\0';
	return (ssize_t)n;
}

/* Read a text file into lines (CR and LF stripped; blank lines dropped). */
static int read_lines(FILE *f, const char *what, char ***out, int64_t *nout)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	char **v = NULL;
	int64_t n = 0, vcap = 0;
	while ((len = read_line(f, &line, &cap)) >= -1) {
		if (len == -1)
			break;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if ((size_t)len != strlen(line)) {
			free(line);
			ct_strings_free(v, n);
			return ct_error("'%s': contains a NUL byte (not a text file)", what);
		}
		if (n == vcap) {
			vcap = vcap ? vcap * 2 : 256;
			char **nv = realloc(v, (size_t)vcap * sizeof *nv);
			if (!nv) {
				free(line);
				ct_strings_free(v, n);
				return ct_error("out of memory");
			}
			v = nv;
		}
		if (!(v[n] = ct_strdup(line))) {
			free(line);
			ct_strings_free(v, n);
			return -1;
		}
		n++;
	}
	free(line);
	if (len == -2) {
		ct_strings_free(v, n);
		return ct_error("'%s': line %lld is longer than %d bytes (not a list of paths)", what, (long long)n + 1,
				CT_MAX_LINE);
	}
	if (ferror(f)) {
		ct_strings_free(v, n);
		return ct_error_errno("cannot read '%s'", what);
	}
	*out = v;
	*nout = n;
	return 0;
}

static int read_text_file(const char *path, char ***lines, int64_t *n)
{
	/* a regular file only: a FIFO would block, a device never end */
	int fd = ct_open_regular(path, 0);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return ct_error_errno("cannot open '%s'", path);
	}
	ct_io_note_input(path);
	int rc = read_lines(f, path, lines, n);
	fclose(f);
	return rc;
}

static int class_index(ct_sources *s, const char *name)
{
	for (int c = 0; c < s->nclasses; c++)
		if (!strcmp(s->classes[c], name))
			return c;
	char **nc = realloc(s->classes, ((size_t)s->nclasses + 1) * sizeof *nc);
	if (!nc)
		return ct_error("out of memory");
	s->classes = nc;
	if (!(s->classes[s->nclasses] = ct_strdup(name)))
		return -1;
	return s->nclasses++;
}

/* Sort the class list by name and renumber labels, so the class order does not
 * depend on the order of the list. */
static int sort_classes(ct_sources *s)
{
	int nc = s->nclasses;
	char **old = malloc(((size_t)nc + 1) * sizeof *old);
	int *map = malloc(((size_t)nc + 1) * sizeof *map);
	if (!old || !map) {
		free(old);
		free(map);
		return ct_error("out of memory");
	}
	memcpy(old, s->classes, (size_t)nc * sizeof *old);
	qsort(s->classes, (size_t)nc, sizeof *s->classes, cmp_str);
	for (int i = 0; i < nc; i++)
		for (int j = 0; j < nc; j++)
			if (old[i] == s->classes[j])
				map[i] = j;
	for (int64_t i = 0; i < s->n; i++)
		s->v[i].label = map[s->v[i].label];
	free(old);
	free(map);
	return 0;
}

int ct_sources_from_tsv(ct_sources *s, const char *tsv)
{
	memset(s, 0, sizeof *s);
	char **lines;
	int64_t nl, cap = 0;
	if (read_text_file(tsv, &lines, &nl) < 0)
		return -1;
	char *slash = strrchr(tsv, '/');
	char *base = slash ? strndup(tsv, (size_t)(slash - tsv)) : strdup(".");
	int rc = base ? 0 : ct_error("out of memory");
	for (int64_t i = 0; i < nl && rc == 0; i++) {
		char *f[3] = { 0 };
		int nf = 0;
		char *p = lines[i];
		while (nf < 3) {
			f[nf++] = p;
			char *t = strchr(p, '\t');
			if (!t)
				break;
			*t = '\0';
			p = t + 1;
		}
		if (i == 0 && !strcmp(f[0], "path"))
			continue;
		if (nf < 2 || !*f[0] || !*f[1]) {
			rc = ct_error("'%s' line %lld: expected path<TAB>label[<TAB>group]", tsv, (long long)i + 1);
			break;
		}
		int c = class_index(s, f[1]);
		char *path = f[0][0] == '/' ? ct_strdup(f[0]) : join_path(base, f[0]);
		if (c < 0 || add_source(s, &cap, path, ct_strdup(f[0]), c) < 0) {
			rc = -1;
			break;
		}
		if (nf == 3) {
			free(s->v[s->n - 1].group);
			if (!(s->v[s->n - 1].group = ct_strdup(f[2])))
				rc = -1;
		}
	}
	free(base);
	ct_strings_free(lines, nl);
	if (rc == 0 && s->n == 0)
		rc = ct_error("'%s' lists no images", tsv);
	if (rc == 0)
		rc = sort_classes(s);
	if (rc < 0)
		ct_sources_free(s);
	return rc;
}

int ct_sources_from_lines(ct_sources *s, FILE *f, const char *what, const char *label)
{
	memset(s, 0, sizeof *s);
	char **lines;
	int64_t nl, cap = 0;
	if (read_lines(f, what, &lines, &nl) < 0)
		return -1;
	int rc = 0;
	if (nl == 0)
		rc = ct_error("%s lists no images", what);
	if (rc == 0 && label && class_index(s, label) < 0)
		rc = -1;
	for (int64_t i = 0; i < nl && rc == 0; i++)
		rc = add_source(s, &cap, ct_strdup(lines[i]), ct_strdup(lines[i]), label ? 0 : -1);
	ct_strings_free(lines, nl);
	if (rc < 0)
		ct_sources_free(s);
	return rc;
}

/* Add the regular files under dir (recursively, hidden entries skipped), named by their
 * path below the folder given by the user (prefix "" at the top). */
static int add_folder(ct_sources *s, int64_t *cap, const char *dir, const char *prefix, int depth)
{
	if (depth > 32)
		return ct_error("'%s': folders nested too deeply", dir);
	char **files = NULL, **dirs = NULL;
	int nf = 0, nd = 0, rc = 0;
	if (list_dir(dir, 0, &files, &nf) < 0 || list_dir(dir, 1, &dirs, &nd) < 0) {
		ct_strings_free(files, nf);
		return -1;
	}
	for (int i = 0; i < nf && rc == 0; i++)
		rc = add_source(s, cap, join_path(dir, files[i]), *prefix ? join_path(prefix, files[i]) : ct_strdup(files[i]),
				-1);
	for (int i = 0; i < nd && rc == 0; i++) {
		char *sub = join_path(dir, dirs[i]), *name = *prefix ? join_path(prefix, dirs[i]) : ct_strdup(dirs[i]);
		rc = sub && name ? add_folder(s, cap, sub, name, depth + 1) : -1;
		free(sub);
		free(name);
	}
	ct_strings_free(files, nf);
	ct_strings_free(dirs, nd);
	return rc;
}

int ct_sources_from_folder(ct_sources *s, const char *dir)
{
	memset(s, 0, sizeof *s);
	struct stat st;
	if (stat(dir, &st) < 0)
		return ct_error_errno("cannot open '%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return ct_error("'%s' is not a folder", dir);
	int64_t cap = 0;
	int rc = add_folder(s, &cap, dir, "", 0);
	if (rc == 0 && s->n == 0)
		rc = ct_error("'%s' holds no files (nor do its sub-folders)", dir);
	if (rc < 0)
		ct_sources_free(s);
	return rc;
}

/* The item of a comma-separated list starting at p: its length, and the next item (NULL at the end). */
static size_t csv_item(const char *p, const char **next)
{
	const char *c = strchr(p, ',');
	*next = c ? c + 1 : NULL;
	return c ? (size_t)(c - p) : strlen(p);
}

int ct_sources_set_class_names(ct_sources *s, const char *csv)
{
	int nold = s->nclasses;
	char **old = s->classes;
	s->classes = NULL;
	s->nclasses = 0;
	int rc = 0;
	for (const char *p = csv, *next; p && *p && rc == 0; p = next) {
		size_t len = csv_item(p, &next);
		char *name = strndup(p, len);
		if (!name) {
			rc = ct_error("out of memory");
			break;
		}
		for (int c = 0; c < s->nclasses && len; c++)
			if (!strcmp(s->classes[c], name))
				len = 0, rc = ct_error("class '%s' named twice in '%s'", name, csv);
		if (rc == 0)
			rc = len ? (class_index(s, name) < 0 ? -1 : 0) : ct_error("empty class name in '%s'", csv);
		free(name);
	}
	/* Labelled sources: their classes must be among the names; labels follow the new order. */
	int *map = calloc((size_t)nold + 1, sizeof *map);
	if (rc == 0 && !map)
		rc = ct_error("out of memory");
	for (int c = 0; c < nold && rc == 0; c++) {
		map[c] = -1;
		for (int k = 0; k < s->nclasses; k++)
			if (!strcmp(old[c], s->classes[k]))
				map[c] = k;
		if (map[c] < 0)
			rc = ct_error("class '%s' of the data is not among the class names '%s' (map it with --class-map)",
				      old[c], csv);
	}
	for (int64_t i = 0; i < s->n && rc == 0; i++)
		if (s->v[i].label >= 0)
			s->v[i].label = map[s->v[i].label];
	free(map);
	if (rc < 0) {
		ct_strings_free(s->classes, s->nclasses);
		s->classes = old;
		s->nclasses = nold;
		return -1;
	}
	ct_strings_free(old, nold);
	return 0;
}

int ct_sources_map_classes(ct_sources *s, const char *map)
{
	for (const char *p = map, *next; p && *p; p = next) {
		size_t len = csv_item(p, &next);
		const char *eq = memchr(p, '=', len);
		if (!eq || eq == p || eq == p + len - 1)
			return ct_error("class map item '%.*s' is not FROM=TO", (int)len, p);
		size_t nfrom = (size_t)(eq - p), nto = len - nfrom - 1;
		int found = -1;
		for (int c = 0; c < s->nclasses; c++)
			if (strlen(s->classes[c]) == nfrom && !strncmp(s->classes[c], p, nfrom))
				found = c;
		if (found < 0)
			return ct_error("class map: the data has no class '%.*s'", (int)nfrom, p);
		for (int c = 0; c < s->nclasses; c++)
			if (c != found && strlen(s->classes[c]) == nto && !strncmp(s->classes[c], eq + 1, nto))
				return ct_error("class map: '%.*s' would merge two classes", (int)len, p);
		char *to = strndup(eq + 1, nto);
		if (!to)
			return ct_error("out of memory");
		free(s->classes[found]);
		s->classes[found] = to;
	}
	return 0;
}

static int cmp_source(const void *a, const void *b)
{
	return strcmp(((const ct_source *)a)->name, ((const ct_source *)b)->name);
}

int ct_sources_sort(ct_sources *s)
{
	if (s->n > 1)
		qsort(s->v, (size_t)s->n, sizeof *s->v, cmp_source);
	for (int64_t i = 1; i < s->n; i++)
		if (!strcmp(s->v[i].name, s->v[i - 1].name))
			return ct_error("image '%s' is listed twice", s->v[i].name);
	return 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Index of sources by base name, for matching list entries. */
typedef struct name_ix {
	const char *key;
	int64_t i;
} name_ix;

static int cmp_ix(const void *a, const void *b)
{
	return strcmp(((const name_ix *)a)->key, ((const name_ix *)b)->key);
}

static name_ix *build_index(const ct_sources *s)
{
	name_ix *ix = malloc(((size_t)s->n + 1) * sizeof *ix);
	if (!ix) {
		ct_error("out of memory");
		return NULL;
	}
	for (int64_t i = 0; i < s->n; i++) {
		ix[i].key = base_name(s->v[i].name);
		ix[i].i = i;
	}
	qsort(ix, (size_t)s->n, sizeof *ix, cmp_ix);
	return ix;
}

/* All sources whose base name is key: [*lo, *hi). */
static void find_all(const name_ix *ix, int64_t n, const char *key, int64_t *lo, int64_t *hi)
{
	int64_t a = 0, b = n;
	while (a < b) {
		int64_t m = (a + b) / 2;
		if (strcmp(ix[m].key, key) < 0)
			a = m + 1;
		else
			b = m;
	}
	*lo = a;
	while (a < n && !strcmp(ix[a].key, key))
		a++;
	*hi = a;
}

int ct_sources_set_groups(ct_sources *s, const char *tsv, int64_t *matched)
{
	char **lines;
	int64_t nl;
	*matched = 0;
	if (read_text_file(tsv, &lines, &nl) < 0)
		return -1;
	name_ix *ix = build_index(s);
	int rc = ix ? 0 : -1;
	for (int64_t i = 0; i < nl && rc == 0; i++) {
		char *first = lines[i], *tab = strchr(first, '\t'), *last = strrchr(first, '\t');
		if (!tab) {
			rc = ct_error("'%s' line %lld: expected file<TAB>...<TAB>group", tsv, (long long)i + 1);
			break;
		}
		*tab = '\0';
		if (i == 0 && !strcmp(first, "file"))
			continue;
		int64_t lo, hi;
		find_all(ix, s->n, base_name(first), &lo, &hi);
		for (int64_t k = lo; k < hi && rc == 0; k++) {
			ct_source *e = &s->v[ix[k].i];
			free(e->group);
			if (!(e->group = ct_strdup(last + 1)))
				rc = -1;
			(*matched)++;
		}
	}
	free(ix);
	ct_strings_free(lines, nl);
	return rc;
}

/* The split a list belongs to, from its folder or file name. */
static const char *split_of(const char *name)
{
	char low[64];
	size_t i;
	for (i = 0; name[i] && i + 1 < sizeof low; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[i] = '\0';
	if (!strncmp(low, "train", 5))
		return "train";
	if (!strncmp(low, "val", 3))
		return "val";
	if (!strncmp(low, "test", 4))
		return "test";
	return NULL;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

static int apply_list(ct_sources *s, const name_ix *ix, const char *path, const char *split, int64_t *matched)
{
	char **lines;
	int64_t nl;
	if (read_text_file(path, &lines, &nl) < 0)
		return -1;
	int rc = 0;
	for (int64_t i = 0; i < nl && rc == 0; i++) {
		int64_t lo, hi;
		find_all(ix, s->n, base_name(lines[i]), &lo, &hi);
		if (lo == hi) {
			rc = ct_error("'%s' line %lld: '%s' matches no input image", path, (long long)i + 1, lines[i]);
			break;
		}
		for (int64_t k = lo; k < hi && rc == 0; k++) {
			ct_source *e = &s->v[ix[k].i];
			if (*e->split && strcmp(e->split, split)) {
				rc = ct_error("'%s' is in both the '%s' and the '%s' split", e->name, e->split, split);
				break;
			}
			if (!*e->split)
				(*matched)++;
			free(e->split);
			if (!(e->split = ct_strdup(split)))
				rc = -1;
		}
	}
	ct_strings_free(lines, nl);
	return rc;
}

int ct_sources_set_splits(ct_sources *s, const char *dir, int64_t *matched)
{
	*matched = 0;
	struct stat st;
	if (stat(dir, &st) < 0)
		return ct_error_errno("cannot open split folder '%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return ct_error("'%s' is not a folder of split lists", dir);
	name_ix *ix = build_index(s);
	if (!ix)
		return -1;
	char **subs = NULL, **files = NULL;
	int nsub = 0, nfiles = 0, nlists = 0, rc = 0;
	if (list_dir(dir, 1, &subs, &nsub) < 0 || list_dir(dir, 0, &files, &nfiles) < 0) {
		rc = -1;
		goto out;
	}
	for (int i = 0; i < nsub && rc == 0; i++) {
		const char *split = split_of(subs[i]);
		if (!split) {
			rc = ct_error("'%s/%s': unknown split name (expected Training*, Validation*, Testing*, "
				      "train*, val*, test*)", dir, subs[i]);
			break;
		}
		char *sub = join_path(dir, subs[i]);
		char **lists = NULL;
		int nl = 0;
		if (!sub || list_dir(sub, 0, &lists, &nl) < 0) {
			free(sub);
			rc = -1;
			break;
		}
		for (int k = 0; k < nl && rc == 0; k++) {
			if (!has_suffix(lists[k], ".txt"))
				continue;
			char *p = join_path(sub, lists[k]);
			rc = p ? apply_list(s, ix, p, split, matched) : -1;
			free(p);
			nlists++;
		}
		ct_strings_free(lists, nl);
		free(sub);
	}
	for (int i = 0; i < nfiles && rc == 0; i++) {
		if (!has_suffix(files[i], ".txt"))
			continue;
		const char *split = split_of(files[i]);
		if (!split) {
			rc = ct_error("'%s/%s': unknown split name (expected train*, val*, test*)", dir, files[i]);
			break;
		}
		char *p = join_path(dir, files[i]);
		rc = p ? apply_list(s, ix, p, split, matched) : -1;
		free(p);
		nlists++;
	}
	if (rc == 0 && nlists == 0)
		rc = ct_error("'%s' holds no split lists (*.txt)", dir);
out:
	ct_strings_free(subs, nsub);
	ct_strings_free(files, nfiles);
	free(ix);
	return rc;
}

/* Per-source result of the parallel stage. */
typedef struct conv_item {
	int npages;
	ct_tensor *pages;  /* converted, H x W x C */
	ct_tensor *masks;  /* lung fields, H x W x 1 U8, when requested */
	int nlost;         /* pages without a lung field */
	int orig_h, orig_w;
	float *nuisance;   /* npages x CT_NUISANCE_COUNT */
	char *err;         /* message when the file failed */
	int kind;          /* KIND_IMAGE, KIND_DICOM, KIND_NIFTI */
	int not_image;     /* a DICOM file without pixel data: left out */
	char tag;          /* page names: 'p' (#pK, K from 1, none for the first) or 'z' (#zK) */
	int64_t *page_id;  /* NIfTI: the slice number of each page */
	double *page_key;  /* order of the pages within the file (frame positions), or NULL */
	char group[40];    /* keyed hash of the patient/study id, or of the file for NIfTI */
	char series[65];   /* sha256 of folder + SeriesInstanceUID ("" when none): never written */
	int has_pos, instance;
	double pos[3], normal[3];
	char sha[65];      /* SHA-256 of the file's bytes, "" when unreadable */
} conv_item;

static int to_u8(ct_tensor *r, ct_tensor *out)
{
	if (ct_tensor_alloc(out, CT_U8, 3, r->shape) < 0) {
		ct_tensor_free(r);
		return -1;
	}
	const float *src = r->data;
	uint8_t *dst = out->data;
	int64_t n = ct_tensor_numel(r);
	for (int64_t i = 0; i < n; i++) {
		float v = src[i] * 255.0f + 0.5f;
		dst[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
	}
	ct_tensor_free(r);
	return 0;
}

static int lung_wanted(const ct_convert_opts *o)
{
	return o->lung_mask || o->lung.clean || o->lung.crop || o->lung.standardise || o->lung.only;
}

/* The lung path: preprocess at the decoded resolution (colour kept for finding coloured
 * marks), then resize the image and the mask (as coverage, kept where >= 1/2) alike, so the
 * mask stays aligned with the image whatever the fit. */
static int convert_page_lung(const ct_tensor *page, const ct_convert_opts *o, ct_tensor *f, ct_tensor *mask,
			     int *lost)
{
	ct_intensity p3 = o->intensity;
	p3.channels = 3;
	ct_tensor rgb = { 0 }, g = { 0 }, m = { 0 }, mf = { 0 }, mr = { 0 };
	ct_lung_info info;
	int C = o->intensity.channels, reshape = o->lung.clean || o->lung.crop || o->lung.standardise || o->lung.only;
	int rc = ct_intensity_apply(page, &p3, &rgb);
	if (rc == 0)
		rc = ct_lung_preprocess(&rgb, &o->lung, &g, &m, &info);
	if (rc == 0 && !reshape) /* the mask alone: the image as without the lung options */
		rc = ct_intensity_apply(page, &o->intensity, f);
	if (rc == 0 && reshape) {
		int64_t sh[3] = { g.shape[0], g.shape[1], C };
		rc = ct_tensor_alloc(f, CT_F32, 3, sh);
		const float *gp = g.data;
		float *fp = rc == 0 ? f->data : NULL;
		for (int64_t i = 0; rc == 0 && i < sh[0] * sh[1]; i++)
			for (int c = 0; c < C; c++)
				fp[i * C + c] = gp[i];
	}
	if (rc == 0)
		rc = ct_tensor_alloc(&mf, CT_F32, 3, m.shape);
	if (rc == 0) {
		const uint8_t *mp = m.data;
		float *q = mf.data;
		for (int64_t i = 0; i < ct_tensor_numel(&m); i++)
			q[i] = mp[i];
		rc = ct_resize(&mf, o->height, o->width, o->fit, o->filter, 0.0f, &mr);
	}
	if (rc == 0)
		rc = ct_tensor_alloc3(mask, CT_U8, o->height, o->width, 1);
	if (rc == 0) {
		const float *q = mr.data;
		uint8_t *mp = mask->data;
		for (int64_t i = 0; i < ct_tensor_numel(mask); i++)
			mp[i] = q[i] >= 0.5f;
		*lost = !info.lung_found;
	}
	ct_tensor_free(&rgb);
	ct_tensor_free(&g);
	ct_tensor_free(&m);
	ct_tensor_free(&mf);
	ct_tensor_free(&mr);
	return rc;
}

static int intensity_row(void *ctx, int64_t y, float *dst)
{
	ct_intensity_row(ctx, y, dst);
	return 0;
}

static int convert_page(const ct_tensor *page, const ct_convert_opts *opts, int hu, ct_tensor *out, ct_tensor *mask,
			int *lost)
{
	ct_tensor f = { 0 }, r = { 0 };
	ct_convert_opts hu_opts;
	const ct_convert_opts *o = opts;
	if (hu) { /* DICOM and NIfTI values are modality values (HU) already */
		hu_opts = *opts;
		hu_opts.intensity.slope = 1.0;
		hu_opts.intensity.offset = 0.0;
		o = &hu_opts;
	}
	int rc;
	if (lung_wanted(o) || o->equalise_size > 0) {
		/* whole-image steps: the image as floats at its decoded size */
		if ((lung_wanted(o) ? convert_page_lung(page, o, &f, mask, lost)
				    : ct_intensity_apply(page, &o->intensity, &f)) < 0) {
			ct_tensor_free(&f);
			ct_tensor_free(mask);
			return -1;
		}
		if (o->equalise_size > 0) {
			ct_tensor e;
			rc = ct_equalise(&f, o->equalise_size, o->equalise_quality, o->fit, o->filter,
					 o->intensity.channels, &e);
			ct_tensor_free(&f);
			if (rc < 0) {
				ct_tensor_free(mask);
				return -1;
			}
			f = e;
		}
		rc = ct_resize(&f, o->height, o->width, o->fit, o->filter, 0.0f, &r);
		ct_tensor_free(&f);
	} else {
		/* row by row from the decoded pixels: the image never exists as floats (a
		 * 9999 x 9999 grey PNG costs its 100 MB of bytes, not 1.2 GB of RGB floats) */
		ct_intensity_map m;
		rc = ct_intensity_prepare(page, &o->intensity, &m);
		if (rc == 0)
			rc = ct_resize_rows(page->shape[0], page->shape[1], o->intensity.channels, intensity_row, &m,
					    o->height, o->width, o->fit, o->filter, 0.0f, &r);
	}
	if (rc < 0) {
		ct_tensor_free(mask);
		return -1;
	}
	if (o->as_float) {
		*out = r;
		return 0;
	}
	if (to_u8(&r, out) < 0) {
		ct_tensor_free(mask);
		return -1;
	}
	return 0;
}

/* Decoded pages of one file, whatever its kind; the DICOM tags needed go into the item. */
typedef struct decoded {
	int npages;
	ct_tensor *pages;
	ct_image img;
	ct_dicom dcm;
	ct_nifti nii;
} decoded;

static void decoded_free(decoded *d)
{
	ct_image_free(&d->img);
	ct_dicom_free(&d->dcm);
	ct_nifti_free(&d->nii);
}

static void hash_group(const ct_convert_opts *o, const char *domain, const char *prefix, const char *value,
		       char *out)
{
	char h[33];
	ct_keyed_hash(o->key, domain, value, 8, h);
	snprintf(out, 40, "%s%s", prefix, h);
}

static int decode_source(const ct_source *src, const ct_convert_opts *o, conv_item *it, decoded *d)
{
	it->kind = sniff_kind(src->path);
	it->tag = 'p';
	if (it->kind == KIND_DICOM) {
		int rc = ct_dicom_read(src->path, o->max_pixels, &d->dcm);
		if (rc == -2)
			it->not_image = 1;
		if (rc < 0)
			return rc;
		const ct_dicom_info *in = &d->dcm.info;
		d->npages = in->nframes;
		d->pages = d->dcm.frames;
		it->has_pos = in->has_position;
		it->instance = in->instance;
		memcpy(it->pos, in->position, sizeof it->pos);
		memcpy(it->normal, in->normal, sizeof it->normal);
		if (*in->series_uid) {
			const char *slash = strrchr(src->path, '/');
			ct_sha256 s;
			uint8_t dg[32];
			ct_sha256_init(&s);
			ct_sha256_update(&s, src->path, slash ? (size_t)(slash - src->path) : 0);
			ct_sha256_update(&s, "", 1);
			ct_sha256_update(&s, in->series_uid, strlen(in->series_uid));
			ct_sha256_final(&s, dg);
			ct_sha256_hex(dg, it->series);
		}
		if (d->dcm.frame_pos) {
			it->page_key = malloc((size_t)in->nframes * sizeof *it->page_key);
			if (!it->page_key)
				return ct_error("out of memory");
			memcpy(it->page_key, d->dcm.frame_pos, (size_t)in->nframes * sizeof *it->page_key);
		}
		if (o->groups_from != CT_GROUPS_NONE) {
			if (o->groups_from == CT_GROUPS_PATIENT && *in->patient_id)
				hash_group(o, "patient", "pt-", in->patient_id, it->group);
			else if (*in->study_uid)
				hash_group(o, "study", "st-", in->study_uid, it->group);
		}
		return 0;
	}
	if (it->kind == KIND_NIFTI) {
		const ct_slice_select *sel = o->slices.every > 0 ? &o->slices : NULL;
		if (ct_nifti_read(src->path, o->max_pixels, sel, &d->nii) < 0)
			return -1;
		d->npages = (int)d->nii.nslices;
		d->pages = d->nii.slices;
		it->tag = 'z';
		it->page_id = malloc(((size_t)d->nii.nslices + 1) * sizeof *it->page_id);
		if (!it->page_id)
			return ct_error("out of memory");
		memcpy(it->page_id, d->nii.index, (size_t)d->nii.nslices * sizeof *it->page_id);
		if (o->groups_from != CT_GROUPS_NONE)
			hash_group(o, "file", "file-", src->name, it->group);
		return 0;
	}
	if (ct_image_read(src->path, o->max_pixels, &d->img) < 0)
		return -1;
	it->kind = KIND_IMAGE;
	d->npages = d->img.npages;
	d->pages = d->img.pages;
	return 0;
}

/* SHA-256 of a decoded source's bytes for the provenance (a second read, from the page cache):
 * a regular file only, as the decoders read; "" when it cannot be read. */
static void hash_source(const char *path, char hex[65])
{
	hex[0] = '\0';
	int fd = ct_open_regular(path, 0);
	if (fd < 0)
		return;
	ct_sha256 s;
	uint8_t d[32];
	unsigned char buf[65536];
	ssize_t r;
	ct_sha256_init(&s);
	while ((r = read(fd, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return;
		}
		ct_sha256_update(&s, buf, (size_t)r);
	}
	close(fd);
	ct_sha256_final(&s, d);
	ct_sha256_hex(d, hex);
}

static void convert_one(const ct_source *src, const ct_convert_opts *o, conv_item *it)
{
	decoded d;
	memset(&d, 0, sizeof d);
	if (decode_source(src, o, it, &d) < 0) {
		it->err = strdup(ct_last_error());
		decoded_free(&d);
		return;
	}
	hash_source(src->path, it->sha);
	it->pages = calloc((size_t)d.npages + 1, sizeof *it->pages);
	it->masks = calloc((size_t)d.npages + 1, sizeof *it->masks);
	if (!it->pages || !it->masks) {
		it->err = strdup("out of memory");
		decoded_free(&d);
		return;
	}
	if (d.npages == 0) { /* a volume none of whose slices is selected */
		decoded_free(&d);
		return;
	}
	it->orig_h = (int)d.pages[0].shape[0];
	it->orig_w = (int)d.pages[0].shape[1];
	const char *format = it->kind == KIND_DICOM ? "dicom" : it->kind == KIND_NIFTI ? "nifti" : d.img.format;
	int bit_depth = it->kind == KIND_IMAGE ? d.img.bit_depth : 16;
	it->nuisance = malloc((size_t)d.npages * CT_NUISANCE_COUNT * sizeof *it->nuisance);
	for (int p = 0; p < d.npages; p++) {
		int lost = 0;
		if (!it->nuisance ||
		    ct_nuisance(&d.pages[p], format, bit_depth, it->nuisance + (size_t)p * CT_NUISANCE_COUNT) < 0 ||
		    convert_page(&d.pages[p], o, it->kind != KIND_IMAGE, &it->pages[p], &it->masks[p], &lost) < 0) {
			char msg[1200];
			snprintf(msg, sizeof msg, "'%s': %s", src->path, ct_last_error());
			it->err = strdup(msg);
			for (int q = 0; q < p; q++) {
				ct_tensor_free(&it->pages[q]);
				ct_tensor_free(&it->masks[q]);
			}
			free(it->pages);
			free(it->masks);
			it->pages = NULL;
			free(it->nuisance);
			it->nuisance = NULL;
			it->masks = NULL;
			it->npages = 0;
			decoded_free(&d);
			return;
		}
		it->npages = p + 1;
		it->nlost += lost;
	}
	decoded_free(&d);
}

void ct_converted_free(ct_converted *c)
{
	ct_tensor_free(&c->images);
	ct_tensor_free(&c->orig_size);
	ct_tensor_free(&c->nuisance);
	ct_tensor_free(&c->lung_mask);
	ct_samples_free(&c->s);
	ct_strings_free(c->skipped, c->nskipped);
	memset(c, 0, sizeof *c);
}

/* One output row: page p of source i, and its sort keys. */
typedef struct out_row {
	int64_t i;
	int p;
	const char *block;  /* name of the first file of its DICOM series, or its own name */
	double key;         /* position along the series' slice normal (or InstanceNumber) */
	double page_key;    /* position of the frame in a multi-frame file (or the frame index) */
} out_row;

static int cmp_row(const void *a, const void *b)
{
	const out_row *x = a, *y = b;
	int c = strcmp(x->block, y->block);
	if (c)
		return c;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	if (x->page_key != y->page_key)
		return x->page_key < y->page_key ? -1 : 1;
	return x->p < y->p ? -1 : x->p > y->p;
}

static const conv_item *g_items; /* for cmp_series (qsort has no context argument) */

static int cmp_series(const void *a, const void *b)
{
	int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
	int c = strcmp(g_items[i].series, g_items[j].series);
	return c ? c : (i > j) - (i < j);
}

/* Per-source block name and key: files of one series are ordered by position. */
static int series_order(const ct_sources *src, const conv_item *items, const char **block, double *key)
{
	int64_t n = src->n, m = 0;
	int64_t *ix = malloc(((size_t)n + 1) * sizeof *ix);
	if (!ix)
		return ct_error("out of memory");
	for (int64_t i = 0; i < n; i++) {
		block[i] = src->v[i].name;
		key[i] = 0.0;
		if (!items[i].err && !items[i].not_image && items[i].kind == KIND_DICOM && items[i].series[0])
			ix[m++] = i;
	}
	g_items = items;
	if (m > 1)
		qsort(ix, (size_t)m, sizeof *ix, cmp_series);
	for (int64_t a = 0; a < m;) {
		int64_t b = a;
		int all_pos = 1;
		while (b < m && !strcmp(items[ix[b]].series, items[ix[a]].series)) {
			all_pos &= items[ix[b]].has_pos;
			b++;
		}
		const conv_item *first = &items[ix[a]];
		for (int64_t k = a; k < b; k++) {
			const conv_item *it = &items[ix[k]];
			block[ix[k]] = src->v[ix[a]].name;
			key[ix[k]] = all_pos ? it->pos[0] * first->normal[0] + it->pos[1] * first->normal[1] +
						       it->pos[2] * first->normal[2]
					     : (double)it->instance;
		}
		a = b;
	}
	free(ix);
	return 0;
}

/* s with every occurrence of `what` replaced by `by` (malloc'd). */
static char *replace_all(const char *s, const char *what, const char *by)
{
	size_t lw = strlen(what), lb = strlen(by), n = 0;
	for (const char *p = s; lw && (p = strstr(p, what)); p += lw)
		n++;
	char *out = malloc(strlen(s) + n * (lb > lw ? lb - lw : 0) + 1), *d = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p;) {
		if (lw && !strncmp(p, what, lw)) {
			memcpy(d, by, lb);
			d += lb;
			p += lw;
		} else {
			*d++ = *p++;
		}
	}
	*d = '\0';
	return out;
}

/* The recorded name of source i (keyed hash with --anonymise) into buf. */
static void source_name(const ct_source *s, const ct_convert_opts *o, char *buf, size_t cap)
{
	if (o->anonymise) {
		char h[33];
		ct_keyed_hash(o->key, "name", s->name, 10, h);
		snprintf(buf, cap, "anon-%s", h);
	} else {
		snprintf(buf, cap, "%s", s->name);
	}
}

int ct_convert(const ct_sources *src, const ct_convert_opts *o, ct_converted *out)
{
	memset(out, 0, sizeof *out);
	if ((o->anonymise || o->groups_from != CT_GROUPS_NONE) && !o->key)
		return ct_error("groups from DICOM tags and anonymised names need a key");
	conv_item *items = calloc((size_t)src->n + 1, sizeof *items);
	if (!items)
		return ct_error("out of memory");
	int64_t n = src->n, done = 0;
#pragma omp parallel for schedule(dynamic, 1)
	for (int64_t i = 0; i < n; i++) {
		convert_one(&src->v[i], o, &items[i]);
		if (o->progress) {
#pragma omp critical(ct_convert_progress)
			o->progress(o->progress_ctx, ++done, n);
		}
	}

	ct_sha256 sh;
	uint8_t dg[32];
	ct_sha256_init(&sh);
	for (int64_t i = 0; i < n; i++) {
		char name[4096];
		source_name(&src->v[i], o, name, sizeof name);
		ct_sha256_update(&sh, name, strlen(name) + 1);
		ct_sha256_update(&sh, items[i].sha, strlen(items[i].sha));
		ct_sha256_update(&sh, "\n", 1);
	}
	ct_sha256_final(&sh, dg);
	ct_sha256_hex(dg, out->sources_sha256);
	out->nsources = n;

	int rc = 0;
	int64_t total = 0, nbad = 0;
	for (int64_t i = 0; i < n; i++) {
		if (items[i].not_image) {
			out->nnot_image++;
			free(items[i].err);
			items[i].err = NULL;
			continue;
		}
		if (items[i].err) {
			if (!o->skip_bad) {
				rc = ct_error("%s", items[i].err);
				break;
			}
			nbad++;
		} else {
			total += items[i].npages;
			out->ndicom += items[i].kind == KIND_DICOM;
			out->nnifti += items[i].kind == KIND_NIFTI;
		}
	}
	if (rc == 0 && total == 0 && out->nnot_image)
		rc = ct_error("no image could be converted (%lld bad, %lld DICOM files without pixel data)", (long long)nbad,
			      (long long)out->nnot_image);
	else if (rc == 0 && total == 0)
		rc = ct_error("no image could be converted (%lld bad)", (long long)nbad);
	int C = o->intensity.channels;
	if (rc == 0 && (ct_tensor_alloc4(&out->images, o->as_float ? CT_F32 : CT_U8, total, o->height, o->width, C) < 0 ||
			ct_tensor_alloc3(&out->orig_size, CT_I32, total, 2, 1) < 0 ||
			ct_tensor_alloc3(&out->nuisance, CT_F32, total, CT_NUISANCE_COUNT, 1) < 0 ||
			ct_samples_alloc(&out->s, total, src->nclasses) < 0 ||
			(lung_wanted(o) && ct_tensor_alloc3(&out->lung_mask, CT_U8, total, o->height, o->width) < 0)))
		rc = -1;
	if (rc == 0) {
		out->orig_size.ndim = 2;
		out->nuisance.ndim = 2;
		out->skipped = calloc((size_t)nbad + 1, sizeof *out->skipped);
		if (!out->skipped)
			rc = ct_error("out of memory");
	}
	for (int c = 0; rc == 0 && c < src->nclasses; c++)
		if (!(out->s.class_names[c] = ct_strdup(src->classes[c])))
			rc = -1;
	/* The output order: sources in order, DICOM series by position, frames by position. */
	const char **block = rc == 0 ? malloc(((size_t)n + 1) * sizeof *block) : NULL;
	double *key = rc == 0 ? malloc(((size_t)n + 1) * sizeof *key) : NULL;
	out_row *rows = rc == 0 ? malloc(((size_t)total + 1) * sizeof *rows) : NULL;
	if (rc == 0 && (!block || !key || !rows))
		rc = ct_error("out of memory");
	if (rc == 0)
		rc = series_order(src, items, block, key);
	int64_t nrows = 0;
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		conv_item *it = &items[i];
		char name[4096];
		if (it->not_image)
			continue;
		if (it->err) {
			char *msg = it->err;
			if (o->anonymise) { /* the path would name what --anonymise hides */
				source_name(&src->v[i], o, name, sizeof name);
				msg = replace_all(it->err, src->v[i].path, name);
				free(it->err);
				if (!msg)
					rc = ct_error("out of memory");
			}
			out->skipped[out->nskipped++] = msg;
			it->err = NULL;
			continue;
		}
		for (int p = 0; p < it->npages; p++, nrows++) {
			out_row *r = &rows[nrows];
			r->i = i;
			r->p = p;
			r->block = block[i];
			r->key = key[i];
			r->page_key = it->page_key ? it->page_key[p] : (double)p;
		}
	}
	if (rc == 0 && nrows > 1)
		qsort(rows, (size_t)nrows, sizeof *rows, cmp_row);
	size_t img_bytes = (size_t)o->height * (size_t)o->width * (size_t)C * ct_dtype_size(out->images.dtype);
	for (int64_t row = 0; rc == 0 && row < nrows; row++) {
		int64_t i = rows[row].i;
		int p = rows[row].p;
		conv_item *it = &items[i];
		memcpy((char *)out->images.data + (size_t)row * img_bytes, it->pages[p].data, img_bytes);
		if (out->lung_mask.data)
			memcpy((uint8_t *)out->lung_mask.data + (size_t)row * o->height * o->width, it->masks[p].data,
			       (size_t)o->height * o->width);
		if (p == 0)
			out->lung_not_found += it->nlost;
		int32_t *os = (int32_t *)out->orig_size.data + row * 2;
		os[0] = it->orig_h;
		os[1] = it->orig_w;
		memcpy((float *)out->nuisance.data + row * CT_NUISANCE_COUNT, it->nuisance + (size_t)p * CT_NUISANCE_COUNT,
		       CT_NUISANCE_COUNT * sizeof(float));
		char base[4096], name[4200];
		source_name(&src->v[i], o, base, sizeof base);
		if (it->tag == 'z')
			snprintf(name, sizeof name, "%s#z%lld", base, (long long)it->page_id[p]);
		else if (p == 0)
			snprintf(name, sizeof name, "%s", base);
		else
			snprintf(name, sizeof name, "%s#p%d", base, p + 1);
		const char *group = it->group[0] ? it->group : src->v[i].group;
		out->s.labels[row] = src->v[i].label;
		if (!(out->s.names[row] = ct_strdup(name)) || !(out->s.groups[row] = ct_strdup(group)) ||
		    !(out->s.splits[row] = ct_strdup(src->v[i].split)))
			rc = -1;
	}
	free(block);
	free(key);
	free(rows);
	for (int64_t i = 0; i < n; i++) {
		for (int p = 0; p < items[i].npages; p++) {
			ct_tensor_free(&items[i].pages[p]);
			ct_tensor_free(&items[i].masks[p]);
		}
		free(items[i].pages);
		free(items[i].nuisance);
		free(items[i].masks);
		free(items[i].err);
		free(items[i].page_id);
		free(items[i].page_key);
	}
	free(items);
	if (rc < 0)
		ct_converted_free(out);
	return rc;
}

void ct_convert_opts_default(ct_convert_opts *o)
{
	memset(o, 0, sizeof *o);
	o->width = o->height = 224;
	ct_intensity_defaults(&o->intensity);
	o->fit = CT_FIT_STRETCH;
	o->filter = CT_FILTER_AREA;
	o->max_pixels = 100000000;
	ct_lung_defaults(&o->lung);
	ct_slice_select_parse("all", &o->slices);
	o->groups_from = CT_GROUPS_NONE;
}

int ct_sources_list(ct_sources *s, const ct_sources_spec *spec)
{
	int rc;
	memset(s, 0, sizeof *s);
	if (!strcmp(spec->input, "-"))
		rc = ct_sources_from_lines(s, stdin, "standard input", spec->unlabelled ? NULL : spec->label);
	else if (spec->unlabelled)
		rc = ct_sources_from_folder(s, spec->input);
	else
		rc = -2;
	if (rc == -2) {
		struct stat st;
		if (stat(spec->input, &st) < 0)
			return ct_error_errno("cannot open '%s'", spec->input);
		rc = S_ISDIR(st.st_mode) ? ct_sources_from_tree(s, spec->input, spec->classes)
					 : ct_sources_from_tsv(s, spec->input);
	}
	if (rc < 0)
		return -1;
	if ((spec->class_map && ct_sources_map_classes(s, spec->class_map) < 0) ||
	    (spec->class_names && ct_sources_set_class_names(s, spec->class_names) < 0)) {
		ct_sources_free(s);
		return -1;
	}
	int64_t matched;
	if (ct_sources_sort(s) < 0 || (spec->groups_tsv && ct_sources_set_groups(s, spec->groups_tsv, &matched) < 0) ||
	    (spec->split_dir && ct_sources_set_splits(s, spec->split_dir, &matched) < 0)) {
		ct_sources_free(s);
		return -1;
	}
	return 0;
}

int ct_sources_shard(ct_sources *s, const ct_shard *sh, char fp[65], int64_t *total)
{
	/* The input's identity is the whole sorted list; a shard then keeps its range of it. */
	ct_shard_fingerprint_sources(s, fp);
	int64_t first, end;
	*total = s->n;
	ct_shard_range(sh, s->n, &first, &end);
	if (ct_shard_check(sh, s->n, "image files") < 0)
		return -1;
	for (int64_t i = 0; i < s->n; i++)
		if (i < first || i >= end) {
			free(s->v[i].path);
			free(s->v[i].name);
			free(s->v[i].group);
			free(s->v[i].split);
		}
	if (first > 0)
		memmove(s->v, s->v + first, (size_t)(end - first) * sizeof *s->v);
	s->n = end - first;
	return 0;
}
