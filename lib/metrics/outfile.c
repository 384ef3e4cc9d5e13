/* outfile.c - text outputs written under a temporary name and renamed when complete. */
#include "metrics/outfile.h"
#include "core/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
