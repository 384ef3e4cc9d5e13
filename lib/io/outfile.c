/* outfile.c - outputs written under a temporary name and renamed when complete. */
#include "io/outfile.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ct_outfile_create(ct_outfile *o, const char *path, int force)
{
	memset(o, 0, sizeof *o);
	if (!strcmp(path, "-")) {
		o->f = stdout;
		o->path = strdup(path);
		return o->path ? 0 : ct_error("out of memory");
	}
	struct stat st;
	if (!force && stat(path, &st) == 0)
		return ct_error("'%s' exists (use --force to overwrite)", path);
	size_t n = strlen(path) + 16;
	o->path = strdup(path);
	o->tmp = malloc(n);
	if (!o->path || !o->tmp) {
		ct_outfile_abort(o);
		return ct_error("out of memory");
	}
	snprintf(o->tmp, n, "%s.tmp-XXXXXX", path);
	int fd = mkstemp(o->tmp);
	if (fd < 0) {
		ct_error_errno("cannot create '%s'", path);
		free(o->tmp);
		o->tmp = NULL;
		ct_outfile_abort(o);
		return -1;
	}
	mode_t um = umask(0);
	umask(um);
	fchmod(fd, 0666 & ~um);
	o->f = fdopen(fd, "w");
	if (!o->f) {
		ct_error_errno("cannot create '%s'", path);
		close(fd);
		ct_outfile_abort(o);
		return -1;
	}
	return 0;
}

int ct_outfile_commit(ct_outfile *o)
{
	int rc = 0;
	if (!o->f)
		return ct_error("internal: commit of a file not open for writing");
	if (!o->tmp) {
		if (fflush(o->f) != 0 || ferror(o->f))
			rc = ct_error_errno("cannot write to standard output");
		o->f = NULL;
	} else {
		if (fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0)
			rc = ct_error_errno("cannot write '%s'", o->path);
		if (fclose(o->f) != 0 && rc == 0)
			rc = ct_error_errno("cannot write '%s'", o->path);
		o->f = NULL;
		if (rc == 0 && rename(o->tmp, o->path) < 0)
			rc = ct_error_errno("cannot rename to '%s'", o->path);
		if (rc < 0)
			unlink(o->tmp);
	}
	free(o->tmp);
	free(o->path);
	o->tmp = o->path = NULL;
	return rc;
}

void ct_outfile_abort(ct_outfile *o)
{
	if (o->f && o->tmp)
		fclose(o->f);
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof *o);
}

/* Write `buf` to `path` via a temporary file in the same directory and rename(2), so a
 * reader never sees a half-written file and a failure leaves any old file intact. The
 * temporary is opened with mode 0666 (not mkstemp's 0600) so the result honours the
 * umask like any other new file. No fsync: these are reproducible outputs, and a crash
 * at worst loses the file, never leaves a torn one under the final name. */
int ct_write_file_atomic(const char *path, const void *buf, size_t len)
{
	static atomic_uint counter;
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 32);
	if (!tmp)
		return ct_error("cannot write '%s': out of memory", path);
	int fd = -1;
	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		unsigned v = (unsigned)getpid() * 2654435761u ^ atomic_fetch_add(&counter, 1) * 40503u ^
			     (unsigned)time(NULL) ^ (unsigned)attempt * 97u;
		snprintf(tmp, plen + 32, "%s.tmp.%06x", path, v & 0xffffffu);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		ct_error_errno("cannot create a temporary file for '%s'", path);
		free(tmp);
		return -1;
	}
	const unsigned char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		done += (size_t)w;
	}
	/* close can report a deferred write error (NFS, quota) */
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	return 0;
fail:
	ct_error_errno("cannot write '%s'", path);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}
