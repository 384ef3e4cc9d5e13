/* h5.h - HDF5 helpers: files that are never left half-written, stdin/stdout as
 * in-memory file images, chunked compressed datasets, string datasets, attributes.
 *
 * Every file we write is created under a temporary name beside the target and
 * renamed only by ct_h5_commit, so a failure (full disk, bad input, signal)
 * never leaves a partial output. "-" as a path reads a whole HDF5 file from
 * stdin, or writes one to stdout, through HDF5's core driver (a file image), so
 * stages chain with pipes: ct-convert DIR - | ct-augment - aug.h5.
 * Objects are written without modification times, so identical content gives
 * byte-identical files. HDF5's own error printing is switched off. */
#ifndef CT_H5_H
#define CT_H5_H

#include "core/tensor.h"
#include "io/target.h"

#include <hdf5.h>
#include <stdint.h>

typedef struct ct_h5 {
	hid_t file;
	char *path;   /* as given; "-" for stdin/stdout */
	char *tmp;    /* temporary file renamed to path on commit (file output) */
	int writing;
	ct_target out; /* the claimed output (io/target.h) */
	int no_checksum; /* set before commit: write no content_sha256 attributes */
} ct_h5;

/* Open for reading. Errors name the file: "cannot open 'x.h5': No such file or
 * directory", "'x.h5': not an HDF5 file (or truncated)". */
int ct_h5_open(ct_h5 *h, const char *path);
/* Open an existing file for read-write in place (resuming an interrupted run). */
int ct_h5_open_rw(ct_h5 *h, const char *path);
/* Create for writing: the output is claimed (io/target.h: a second writer of the same path
 * refuses, an existing file is refused unless force, a device or FIFO is written in place,
 * an input is never overwritten). The directory must be writable (checked now). */
int ct_h5_create(ct_h5 *h, const char *path, int force);
/* Create under a stable partial name (path + ".partial") that survives an
 * interruption, so a long run can be resumed: with `resume` and an existing partial
 * file, that file is reopened read-write and *resumed is set to 1. Commit and abort
 * work as for ct_h5_create. Not for "-". */
int ct_h5_create_partial(ct_h5 *h, const char *path, int force, int resume, int *resumed);
/* Finish a created file: flush, close, rename over the target (or write the
 * image to stdout). On failure the temporary file is removed. */
int ct_h5_commit(ct_h5 *h);
/* Abandon a created file (removes the temporary file); close a read file. */
void ct_h5_abort(ct_h5 *h);
/* The bytes of standard input, read on the first call (or the first ct_h5_open of "-") and
 * held for the life of the process, so "-" can be opened again and hashed. */
int ct_h5_stdin_image(const unsigned char **buf, size_t *len);
/* SHA-256 of an input file's bytes as hex; "-": of standard input's (held, as above). */
int ct_h5_sha256(const char *path, char hex[65]);
/* Close a read file; close a created file keeping its temporary file (a partial file to
 * resume) and releasing the claim on the output. */
void ct_h5_close(ct_h5 *h);

/* Content checksums (checksum.c, docs/formats.md): commit stamps every group and dataset with
 * a content_sha256 attribute (unless h->no_checksum); ct_h5_open verifies them unless turned
 * off (ct_h5_set_verify(0): the tools' --no-verify, or CT_NO_VERIFY=1 in the environment).
 * Files without checksums are read unchecked. verify returns -1 naming the damaged object;
 * *nchecked counts the objects checked (0: the file has no checksums). */
int ct_h5_checksum_stamp(hid_t file);
int ct_h5_checksum_verify(hid_t file, int64_t *nchecked);
void ct_h5_set_verify(int on);
int ct_h5_verify_enabled(void);
/* The whole-file trailer (48 bytes after the HDF5 data: magic and the SHA-256 of all bytes
 * before it; HDF5 ignores it). make: for an in-memory image; append: to a closed file; check:
 * 1 present and matching, 0 absent, -1 mismatch (error set). */
#define CT_H5_TRAILER 48
void ct_h5_trailer_make(const void *buf, size_t len, unsigned char out[CT_H5_TRAILER]);
int ct_h5_trailer_append(const char *path);
int ct_h5_trailer_check(const char *path);
int ct_h5_trailer_check_buf(const void *buf, size_t len);
/* Recompute every checksum of a file changed in place (tests that plant bad values). */
int ct_h5_reseal(const char *path);

/* Whether a file failed to close (a full disk): HDF5's shutdown at exit would then crash,
 * so the process must end with _exit() (tools/tool.h does). */
int ct_h5_exit_unsafe(void);

/* Crash containment. HDF5 1.10 does not validate everything it reads: some corrupt files
 * make it crash inside H5Dread. The tools catch that signal (tools/tool.h) and need, from
 * inside the handler (async-signal-safe): the last file opened for reading, and the removal
 * of the temporary files being written. */
const char *ct_h5_last_opened(void);
void ct_h5_remove_temporaries(void);

/* Install the process-wide settings (silence HDF5's error stack printing). Called
 * by the functions above; call it before using the HDF5 API directly. */
void ct_h5_init(void);

hid_t ct_h5_native(ct_dtype t);

/* Create a group without modification times (as every object we write). Close with
 * H5Gclose; H5I_INVALID_HID with an error naming the group on failure. */
hid_t ct_h5_create_group(hid_t loc, const char *name);

int ct_h5_exists(hid_t loc, const char *name);
/* Rank and dimensions of a dataset (up to CT_MAX_DIMS). */
int ct_h5_shape(hid_t loc, const char *name, int *ndim, int64_t *shape);

/* Create a dataset of the given shape, chunked by `chunk0` rows along axis 0
 * (0 = contiguous) and deflate-compressed when `compress` (1..9, 0 = none).
 * Returns the dataset id (close with H5Dclose) or H5I_INVALID_HID. */
hid_t ct_h5_create_dataset(hid_t loc, const char *name, ct_dtype dtype, int ndim, const int64_t *shape,
			   int64_t chunk0, int compress);
/* Write/read rows [start, start + rows->shape[0]) along axis 0; rows must be
 * contiguous with the dataset's trailing dimensions. Reads convert to rows->dtype. */
int ct_h5_write_rows(hid_t dset, int64_t start, const ct_tensor *rows);
int ct_h5_read_rows(hid_t dset, int64_t start, ct_tensor *rows);
/* Write rows of a dataset created with chunk0 = 1 and deflate level `compress`,
 * compressing the chunks in parallel (OpenMP) and storing them with direct chunk
 * writes: the bytes are those the deflate (and shuffle, for multi-byte types)
 * filters would produce, so any HDF5 reader reads them. */
int ct_h5_write_rows_z(hid_t dset, int64_t start, const ct_tensor *rows, int compress);
/* Whole-dataset write (chunked by chunk0 rows, compressed when compress > 0) and read. */
int ct_h5_write(hid_t loc, const char *name, const ct_tensor *t, int64_t chunk0, int compress);
int ct_h5_read(hid_t loc, const char *name, ct_dtype dtype, ct_tensor *out);
/* Refuse a dataset whose declared size the file cannot hold: stored outside the file (external
 * or virtual), or declaring more than CT_H5_MAX_RATIO times the bytes it stores plus
 * CT_H5_UNSTORED_SLACK (unwritten chunks read as fill values: a 17 kB file can otherwise ask for
 * gigabytes). Deflate expands at most ~1032:1. Called by ct_h5_read and the streaming readers. */
#define CT_H5_MAX_RATIO 2048
#define CT_H5_UNSTORED_SLACK ((size_t)16 << 20)
int ct_h5_check_stored(hid_t d, const char *name);

/* 1-d string datasets: written fixed-length UTF-8, NUL-padded to the longest string (not
 * variable-length: HDF5 1.10 crashes on a corrupt global heap); read fixed or variable. Bytes
 * that are not valid UTF-8 are stored as \xNN (docs/formats.md). */
int ct_h5_write_strings(hid_t loc, const char *name, char *const *s, int64_t n);
int ct_h5_read_strings(hid_t loc, const char *name, char ***s, int64_t *n);
void ct_strings_free(char **s, int64_t n);

/* Attributes on a file, group or dataset (scalar); strings written fixed-length UTF-8 as above. */
int ct_h5_attr_exists(hid_t obj, const char *name);
int ct_h5_set_str(hid_t obj, const char *name, const char *v);
int ct_h5_set_int(hid_t obj, const char *name, int64_t v);
int ct_h5_set_double(hid_t obj, const char *name, double v);
int ct_h5_get_str(hid_t obj, const char *name, char **v); /* malloc'd; fixed or variable length */
int ct_h5_get_int(hid_t obj, const char *name, int64_t *v);
int ct_h5_get_double(hid_t obj, const char *name, double *v);
/* Copy the scalar attribute `name` (string, integer or float) of src to dst. A checksum
 * (content_sha256) is not copied: the file being written gets its own at commit. */
int ct_h5_copy_attr(hid_t src, hid_t dst, const char *name);

#endif
