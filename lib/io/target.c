/* target.c - claiming, writing and committing an output path (target.h). */
#include "io/target.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- removal on signals ------------------------------------------------------------- */

#define CT_MAX_CLEANUP 32
static char cleanup_path[CT_MAX_CLEANUP][PATH_MAX];
static volatile sig_atomic_t cleanup_used[CT_MAX_CLEANUP];

void ct_io_cleanup_add(const char *path)
{
	if (strlen(path) >= PATH_MAX)
		return;
	for (int i = 0; i < CT_MAX_CLEANUP; i++)
		if (!cleanup_used[i]) {
			/* the path first, then the flag: a handler never sees half a path */
			memcpy(cleanup_path[i], path, strlen(path) + 1);
			cleanup_used[i] = 1;
			return;
		}
}

void ct_io_cleanup_del(const char *path)
{
	for (int i = 0; i < CT_MAX_CLEANUP; i++)
		if (cleanup_used[i] && !strcmp(cleanup_path[i], path))
			cleanup_used[i] = 0;
}

void ct_io_cleanup(void)
{
	for (int i = 0; i < CT_MAX_CLEANUP; i++)
		if (cleanup_used[i])
			unlink(cleanup_path[i]);
}

/* --- inputs and claimed targets ----------------------------------------------------- */

typedef struct fileid {
	dev_t dev;
	ino_t ino;
} fileid;

static fileid *inputs, claims[CT_MAX_CLEANUP];
static int ninputs, ncap, tracking;

void ct_io_track_inputs(int on)
{
	tracking = on;
}
static int claimed[CT_MAX_CLEANUP];

static int same(const struct stat *st, fileid id)
{
	return st->st_dev == id.dev && st->st_ino == id.ino;
}

int ct_io_note_input(const char *path)
{
	struct stat st;
	if (!tracking || !path || !strcmp(path, "-") || stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	for (int i = 0; i < CT_MAX_CLEANUP; i++)
		if (claimed[i] && same(&st, claims[i])) {
			ct_error_usage("'%s' is both an input and an output", path);
			return -1;
		}
	if (ninputs == ncap) {
		int cap = ncap ? 2 * ncap : 16;
		fileid *p = realloc(inputs, (size_t)cap * sizeof *p);
		if (!p)
			return 0; /* only a safety check: go on without it */
		inputs = p;
		ncap = cap;
	}
	inputs[ninputs].dev = st.st_dev;
	inputs[ninputs].ino = st.st_ino;
	ninputs++;
	return 0;
}

static int stat_is_input(const struct stat *st)
{
	for (int i = 0; i < ninputs; i++)
		if (same(st, inputs[i]))
			return 1;
	return 0;
}

int ct_io_is_input(const char *path)
{
	struct stat st;
	return path && stat(path, &st) == 0 && stat_is_input(&st);
}

static void claim_note(const struct stat *st, int on)
{
	for (int i = 0; i < CT_MAX_CLEANUP; i++) {
		if (on && !claimed[i]) {
			claims[i].dev = st->st_dev;
			claims[i].ino = st->st_ino;
			claimed[i] = 1;
			return;
		}
		if (!on && claimed[i] && same(st, claims[i])) {
			claimed[i] = 0;
			return;
		}
	}
}

/* --- claim, temporary, commit ------------------------------------------------------- */

static char *cat(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *s = malloc(na + nb + 1);
	if (s) {
		memcpy(s, a, na);
		memcpy(s + na, b, nb + 1);
	}
	return s;
}

static void unlock(ct_target *t)
{
	if (t->lock) {
		ct_io_cleanup_del(t->lock);
		/* removed while still held: a waiter that opened the old file sees it is gone */
		if (t->lockfd >= 0) {
			unlink(t->lock);
			close(t->lockfd);
		}
		free(t->lock);
		t->lock = NULL;
	}
	t->lockfd = -1;
}

static void finish(ct_target *t)
{
	struct stat st;
	if (t->path && stat(t->path, &st) == 0)
		claim_note(&st, 0);
	unlock(t);
	free(t->tmp);
	free(t->path);
	t->tmp = t->path = NULL;
}

/* Take PATH.ct-lock: flock it without waiting; a lock file removed by its holder between
 * our open and flock is a stale name, so open again. */
static int take_lock(ct_target *t)
{
	if (!(t->lock = cat(t->path, ".ct-lock")))
		return ct_error("out of memory");
	for (int attempt = 0; attempt < 100; attempt++) {
		int fd = open(t->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0)
			return ct_error_errno("cannot create '%s'", t->path);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;
			close(fd);
			if (e == EWOULDBLOCK)
				return ct_error("'%s' is being written by another process (lock '%s')", t->path,
						t->lock);
			errno = e;
			return ct_error_errno("cannot lock '%s'", t->lock);
		}
		struct stat a, b;
		if (fstat(fd, &a) == 0 && stat(t->lock, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			t->lockfd = fd;
			ct_io_cleanup_add(t->lock);
			return 0;
		}
		close(fd);
	}
	return ct_error("cannot lock '%s': it keeps changing", t->lock);
}

static const char *kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int ct_target_claim(ct_target *t, const char *path, int force)
{
	memset(t, 0, sizeof *t);
	t->lockfd = -1;
	t->force = force;
	if (!(t->path = strdup(path)))
		return ct_error("out of memory");
	struct stat st;
	if (stat(path, &st) == 0) {
		if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
			t->inplace = 1;
			return 0;
		}
		if (!S_ISREG(st.st_mode)) {
			finish(t);
			return ct_error("cannot write '%s': %s, refusing to replace it", path, kind(st.st_mode));
		}
		if (stat_is_input(&st)) {
			finish(t);
			return ct_error_usage("'%s' is both an input and an output", path);
		}
	}
	if (take_lock(t) < 0) {
		finish(t);
		return -1;
	}
	/* checked under the lock: a writer that finished just before us is seen */
	if (stat(path, &st) == 0) {
		if (!force) {
			finish(t);
			return ct_error("'%s' exists (use --force to overwrite)", path);
		}
		claim_note(&st, 1);
	}
	return 0;
}

int ct_target_tmpfile(ct_target *t, const char *suffix, int fixed)
{
	if (t->inplace || !t->path)
		return ct_error("internal: no temporary file for '%s'", t->path ? t->path : "");
	char *name = cat(t->path, suffix);
	char *tmp = name && !fixed ? cat(name, "XXXXXX") : name;
	if (!fixed)
		free(name);
	if (!tmp)
		return ct_error("out of memory");
	int fd = fixed ? open(tmp, O_RDWR | O_CREAT | O_CLOEXEC, 0666) : mkstemp(tmp);
	if (fd < 0) {
		ct_error_errno("cannot create '%s'", fixed ? tmp : t->path);
		free(tmp);
		return -1;
	}
	if (!fixed) {
		/* mkstemp creates 0600: give the file the usual mode under the umask */
		mode_t um = umask(0);
		umask(um);
		if (fchmod(fd, 0666 & ~um) < 0) {
			/* not fatal: the file is ours */
		}
		ct_io_cleanup_add(tmp);
	}
	free(t->tmp);
	t->tmp = tmp;
	return fd;
}

int ct_target_open_inplace(const ct_target *t)
{
	int fd = open(t->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return ct_error_errno("cannot open '%s'", t->path);
	return fd;
}

/* Move tmp to path without replacing anything that exists. */
static int rename_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;
	/* a file system without RENAME_NOREPLACE: link fails with EEXIST likewise */
	if (link(tmp, path) == 0) {
		unlink(tmp);
		return 0;
	}
	return -1;
}

int ct_target_commit(ct_target *t)
{
	int rc = 0;
	if (!t->path)
		return ct_error("internal: commit of an unclaimed output");
	if (t->tmp) {
		ct_io_cleanup_del(t->tmp);
		struct stat st;
		if (stat(t->path, &st) == 0 && stat_is_input(&st)) {
			rc = ct_error_usage("'%s' is both an input and an output", t->path);
		} else if (t->force) {
			if (rename(t->tmp, t->path) < 0)
				rc = ct_error_errno("cannot rename to '%s'", t->path);
		} else if (rename_noreplace(t->tmp, t->path) < 0) {
			if (errno == EEXIST)
				rc = ct_error("'%s' appeared while it was being written (use --force to overwrite)",
					      t->path);
			else
				rc = ct_error_errno("cannot rename to '%s'", t->path);
		}
		if (rc < 0)
			unlink(t->tmp);
	}
	finish(t);
	return rc;
}

void ct_target_abort(ct_target *t)
{
	if (t->tmp) {
		ct_io_cleanup_del(t->tmp);
		unlink(t->tmp);
	}
	finish(t);
}

void ct_target_release(ct_target *t)
{
	if (t->tmp)
		ct_io_cleanup_del(t->tmp);
	finish(t);
}

int ct_open_regular(const char *path, long long max_bytes)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return ct_error_errno("cannot open '%s'", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		ct_error_errno("cannot open '%s'", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (S_ISDIR(st.st_mode))
			return ct_error("cannot read '%s': is a directory", path);
		return ct_error("cannot read '%s': %s, expected a regular file", path,
				S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) ? "a device" : kind(st.st_mode));
	}
	if (max_bytes > 0 && (long long)st.st_size > max_bytes) {
		close(fd);
		return ct_error("cannot read '%s': too large (%lld bytes, limit %lld)", path, (long long)st.st_size,
				max_bytes);
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

int ct_read_file(const char *path, long long max_bytes, char **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	int fd = ct_open_regular(path, max_bytes);
	if (fd < 0)
		return -1;
	struct stat st;
	size_t n = fstat(fd, &st) == 0 ? (size_t)st.st_size : 0, got = 0;
	char *b = malloc(n + 1);
	if (!b) {
		close(fd);
		return ct_error("out of memory reading '%s'", path);
	}
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : 0;
			close(fd);
			free(b);
			if (!e)
				return ct_error("'%s': file changed while reading", path);
			errno = e;
			return ct_error_errno("cannot read '%s'", path);
		}
		got += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}
