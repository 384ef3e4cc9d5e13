/* outfile.h - non-HDF5 outputs (TSV, HTML, images, ONNX) that are never left half-written:
 * written to a temporary file beside the target and renamed into place when complete, like
 * ct_h5_create / ct_h5_commit for HDF5 files. */
#ifndef CT_OUTFILE_H
#define CT_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

#include "io/target.h"

/* Write a whole buffer to path atomically (temporary file in the same directory, mode 0666
 * under the umask, rename). Errors name the file; a failure leaves any old file intact. */
int ct_write_file_atomic(const char *path, const void *buf, size_t len);

/* Streaming text output; "-" writes to standard output instead. */
typedef struct ct_outfile {
	FILE *f;      /* write here */
	char *path;   /* target ("-" for stdout) */
	char *tmp;    /* temporary file, NULL for stdout */
	ct_target t;  /* the claimed output (io/target.h) */
} ct_outfile;

/* Create; the target is claimed as in io/target.h (an existing file is refused unless
 * force, a device or FIFO is written in place). Errors name the file. */
int ct_outfile_create(ct_outfile *o, const char *path, int force);
/* Flush, sync, close and rename over the target; on failure the temporary file is removed. */
int ct_outfile_commit(ct_outfile *o);
/* Abandon: close and remove the temporary file. Safe on a zeroed or committed struct. */
void ct_outfile_abort(ct_outfile *o);

#endif
