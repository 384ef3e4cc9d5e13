/* outfile.c - outputs written under a temporary name and renamed when complete. */
#include "io/outfile.h"
#include "core/error.h"
#include "io/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ct_outfile_create(ct_outfile *o, const char *path, int force)
{
	memset(o, 0, sizeof *o);
	o->t.lockfd = -1;
	if (!(o->path = strdup(path)))
		return ct_error("out of memory");
	if (!strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	if (ct_target_claim(&o->t, path, force) < 0) {
		free(o->path);
		o->path = NULL;
		return -1;
	}
	int fd = o->t.inplace ? ct_target_open_inplace(&o->t) : ct_target_tmpfile(&o->t, ".tmp-", 0);
	if (fd < 0) {
		ct_outfile_abort(o);
		return -1;
	}
	o->tmp = o->t.tmp;
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
	if (o->f == stdout) {
		if (fflush(o->f) != 0 || ferror(o->f))
			rc = ct_error_errno("cannot write to standard output");
		o->f = NULL;
	} else {
		/* fsync fails with EINVAL on devices and FIFOs written in place: not an error */
		if (fflush(o->f) != 0 || ferror(o->f) || (!o->t.inplace && fsync(fileno(o->f)) != 0))
			rc = ct_error_errno("cannot write '%s'", o->path);
		if (fclose(o->f) != 0 && rc == 0)
			rc = ct_error_errno("cannot write '%s'", o->path);
		o->f = NULL;
		if (rc == 0)
			rc = ct_target_commit(&o->t);
		else
			ct_target_abort(&o->t);
	}
	free(o->path);
	memset(o, 0, sizeof *o);
	o->t.lockfd = -1;
	return rc;
}

void ct_outfile_abort(ct_outfile *o)
{
	if (o->f && o->f != stdout)
		fclose(o->f);
	ct_target_abort(&o->t);
	free(o->path);
	memset(o, 0, sizeof *o);
	o->t.lockfd = -1;
}

/* Write `buf` to `path` via a temporary file in the same directory and rename(2), so a
 * reader never sees a half-written file and a failure leaves any old file intact. The
 * temporary is opened with mode 0666 (not mkstemp's 0600) so the result honours the
 * umask like any other new file. No fsync: these are reproducible outputs, and a crash
 * at worst loses the file, never leaves a torn one under the final name. */
int ct_write_file_atomic(const char *path, const void *buf, size_t len)
{
	ct_target t;
	if (ct_target_claim(&t, path, 1) < 0)
		return -1;
	int fd = t.inplace ? ct_target_open_inplace(&t) : ct_target_tmpfile(&t, ".tmp.", 0);
	if (fd < 0) {
		ct_target_abort(&t);
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
	return ct_target_commit(&t);
fail:
	ct_error_errno("cannot write '%s'", path);
	if (fd >= 0)
		close(fd);
	char msg[1024];
	snprintf(msg, sizeof msg, "%s", ct_last_error());
	ct_target_abort(&t);
	return ct_error("%s", msg);
}
