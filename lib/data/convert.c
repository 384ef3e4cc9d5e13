/* convert.c - listing image inputs and converting them to fixed-size tensors. */
#include "data/convert.h"
#include "core/error.h"
#include "io/target.h"
#include "image/codec.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dupstr(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		ct_error("out of memory");
	return p;
}

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
	e->group = dupstr("");
	e->split = dupstr("");
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
		if (!(v[n] = dupstr(e->d_name))) {
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
 * FIFOs, devices, sockets), and its sub-folders: none is read, each is recorded. */
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
		else if (S_ISDIR(st.st_mode))
			note_skipped(s, dir, e->d_name, "skipped: a sub-folder (images are read only directly in a class folder)");
		else if (!S_ISREG(st.st_mode))
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
		free(p);
		if (!f) {
			if (unreadable < 0) {
				unreadable = i;
				e = errno;
			}
			continue;
		}
		unsigned char buf[16];
		size_t n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		if (ct_image_sniff(buf, n))
			return 1;
	}
	if (unreadable >= 0) {
		errno = e;
		return ct_error_errno("class folder '%s' has no readable image: cannot open '%s/%s'", dir, dir,
				      files[unreadable]);
	}
	return 0;
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
		if (!cdir || list_dir(cdir, 0, &files, &nf) < 0 || list_dir(cdir, 1, &dirs, &nd) < 0) {
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
		if (!(v[n] = dupstr(line))) {
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
	if (!(s->classes[s->nclasses] = dupstr(name)))
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
		char *path = f[0][0] == '/' ? dupstr(f[0]) : join_path(base, f[0]);
		if (c < 0 || add_source(s, &cap, path, dupstr(f[0]), c) < 0) {
			rc = -1;
			break;
		}
		if (nf == 3) {
			free(s->v[s->n - 1].group);
			if (!(s->v[s->n - 1].group = dupstr(f[2])))
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
		rc = add_source(s, &cap, dupstr(lines[i]), dupstr(lines[i]), label ? 0 : -1);
	ct_strings_free(lines, nl);
	if (rc < 0)
		ct_sources_free(s);
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
	char **files;
	int nf;
	if (list_dir(dir, 0, &files, &nf) < 0)
		return -1;
	int64_t cap = 0;
	int rc = nf ? 0 : ct_error("'%s' holds no files", dir);
	for (int i = 0; i < nf && rc == 0; i++)
		rc = add_source(s, &cap, join_path(dir, files[i]), dupstr(files[i]), -1);
	ct_strings_free(files, nf);
	if (rc < 0)
		ct_sources_free(s);
	return rc;
}

int ct_sources_set_class_names(ct_sources *s, const char *csv)
{
	for (int64_t i = 0; i < s->n; i++)
		if (s->v[i].label >= 0)
			return ct_error("class names can only be set for unlabelled images");
	for (const char *p = csv; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		char *name = strndup(p, len);
		if (!name)
			return ct_error("out of memory");
		int k = len ? class_index(s, name) : ct_error("empty class name in '%s'", csv);
		free(name);
		if (k < 0)
			return -1;
		p = c ? c + 1 : NULL;
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
			if (!(e->group = dupstr(last + 1)))
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
			if (!(e->split = dupstr(split)))
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
	int orig_h, orig_w;
	char *err;         /* message when the file failed */
} conv_item;

static int convert_page(const ct_tensor *page, const ct_convert_opts *o, ct_tensor *out)
{
	ct_tensor f = { 0 }, r = { 0 };
	if (ct_intensity_apply(page, &o->intensity, &f) < 0)
		return -1;
	int rc = ct_resize(&f, o->height, o->width, o->fit, o->filter, 0.0f, &r);
	ct_tensor_free(&f);
	if (rc < 0)
		return -1;
	if (o->as_float) {
		*out = r;
		return 0;
	}
	if (ct_tensor_alloc(out, CT_U8, 3, r.shape) < 0) {
		ct_tensor_free(&r);
		return -1;
	}
	const float *src = r.data;
	uint8_t *dst = out->data;
	int64_t n = ct_tensor_numel(&r);
	for (int64_t i = 0; i < n; i++) {
		float v = src[i] * 255.0f + 0.5f;
		dst[i] = (uint8_t)(v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v);
	}
	ct_tensor_free(&r);
	return 0;
}

static void convert_one(const ct_source *src, const ct_convert_opts *o, conv_item *it)
{
	ct_image img = { 0 };
	if (ct_image_read(src->path, o->max_pixels, &img) < 0) {
		it->err = strdup(ct_last_error());
		return;
	}
	it->pages = calloc((size_t)img.npages, sizeof *it->pages);
	if (!it->pages) {
		it->err = strdup("out of memory");
		ct_image_free(&img);
		return;
	}
	it->orig_h = (int)img.pages[0].shape[0];
	it->orig_w = (int)img.pages[0].shape[1];
	for (int p = 0; p < img.npages; p++) {
		if (convert_page(&img.pages[p], o, &it->pages[p]) < 0) {
			char msg[1200];
			snprintf(msg, sizeof msg, "'%s': %s", src->path, ct_last_error());
			it->err = strdup(msg);
			for (int q = 0; q < p; q++)
				ct_tensor_free(&it->pages[q]);
			free(it->pages);
			it->pages = NULL;
			ct_image_free(&img);
			return;
		}
		it->npages = p + 1;
	}
	ct_image_free(&img);
}

void ct_converted_free(ct_converted *c)
{
	ct_tensor_free(&c->images);
	ct_tensor_free(&c->orig_size);
	ct_samples_free(&c->s);
	ct_strings_free(c->skipped, c->nskipped);
	memset(c, 0, sizeof *c);
}

int ct_convert(const ct_sources *src, const ct_convert_opts *o, ct_converted *out)
{
	memset(out, 0, sizeof *out);
	conv_item *items = calloc((size_t)src->n + 1, sizeof *items);
	if (!items)
		return ct_error("out of memory");
	int64_t n = src->n;
#pragma omp parallel for schedule(dynamic, 1)
	for (int64_t i = 0; i < n; i++)
		convert_one(&src->v[i], o, &items[i]);

	int rc = 0;
	int64_t total = 0, nbad = 0;
	for (int64_t i = 0; i < n; i++) {
		if (items[i].err) {
			if (!o->skip_bad) {
				rc = ct_error("%s", items[i].err);
				break;
			}
			nbad++;
		} else {
			total += items[i].npages;
		}
	}
	if (rc == 0 && total == 0)
		rc = ct_error("no image could be converted (%lld bad)", (long long)nbad);
	int C = o->intensity.channels;
	if (rc == 0 && (ct_tensor_alloc4(&out->images, o->as_float ? CT_F32 : CT_U8, total, o->height, o->width, C) < 0 ||
			ct_tensor_alloc3(&out->orig_size, CT_I32, total, 2, 1) < 0 ||
			ct_samples_alloc(&out->s, total, src->nclasses) < 0))
		rc = -1;
	if (rc == 0) {
		out->orig_size.ndim = 2;
		out->skipped = calloc((size_t)nbad + 1, sizeof *out->skipped);
		if (!out->skipped)
			rc = ct_error("out of memory");
	}
	for (int c = 0; rc == 0 && c < src->nclasses; c++)
		if (!(out->s.class_names[c] = dupstr(src->classes[c])))
			rc = -1;
	size_t img_bytes = (size_t)o->height * (size_t)o->width * (size_t)C * ct_dtype_size(out->images.dtype);
	int64_t row = 0;
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		conv_item *it = &items[i];
		if (it->err) {
			out->skipped[out->nskipped++] = it->err;
			it->err = NULL;
			continue;
		}
		for (int p = 0; p < it->npages && rc == 0; p++, row++) {
			memcpy((char *)out->images.data + (size_t)row * img_bytes, it->pages[p].data, img_bytes);
			int32_t *os = (int32_t *)out->orig_size.data + row * 2;
			os[0] = it->orig_h;
			os[1] = it->orig_w;
			char name[4096];
			if (p == 0)
				snprintf(name, sizeof name, "%s", src->v[i].name);
			else
				snprintf(name, sizeof name, "%s#p%d", src->v[i].name, p + 1);
			out->s.labels[row] = src->v[i].label;
			if (!(out->s.names[row] = dupstr(name)) || !(out->s.groups[row] = dupstr(src->v[i].group)) ||
			    !(out->s.splits[row] = dupstr(src->v[i].split)))
				rc = -1;
		}
	}
	for (int64_t i = 0; i < n; i++) {
		for (int p = 0; p < items[i].npages; p++)
			ct_tensor_free(&items[i].pages[p]);
		free(items[i].pages);
		free(items[i].err);
	}
	free(items);
	if (rc < 0)
		ct_converted_free(out);
	return rc;
}
