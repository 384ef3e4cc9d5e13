/* h5.c - HDF5 helpers: safe creation (temp + rename), stdin/stdout file images,
 * datasets, strings and attributes. */
#include "io/h5.h"
#include "io/inputs.h"
#include "core/error.h"
#include "core/sha256.h"
#include "core/str.h"
#include "io/target.h"

#include <hdf5_hl.h>
#include <zlib.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Crash containment (h5.h): a fixed buffer, so a signal handler can use it. */
static char last_opened[1024];

static void note_opened(const char *path)
{
	snprintf(last_opened, sizeof last_opened, "%s", path);
}

const char *ct_h5_last_opened(void)
{
	return last_opened;
}

void ct_h5_remove_temporaries(void)
{
	ct_io_cleanup();
}

static const unsigned char hdf5_magic[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };

void ct_h5_init(void)
{
	static int done;
	if (!done) {
		H5open();
		H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
		done = 1;
	}
}

hid_t ct_h5_native(ct_dtype t)
{
	switch (t) {
	case CT_U8: return H5T_NATIVE_UINT8;
	case CT_U16: return H5T_NATIVE_UINT16;
	case CT_I32: return H5T_NATIVE_INT32;
	case CT_I64: return H5T_NATIVE_INT64;
	case CT_F32: return H5T_NATIVE_FLOAT;
	case CT_F64: return H5T_NATIVE_DOUBLE;
	}
	return H5I_INVALID_HID;
}

/* An HDF5 file on standard input is held in memory whole: refuse more than this (a pipe
 * from /dev/zero would otherwise grow until memory runs out). */
#define CT_MAX_STDIN_BYTES (16LL << 30)

/* Read all of stdin into memory, checking the HDF5 signature in the first 8 bytes before
 * reading on. */
static int slurp_stdin(unsigned char **buf, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	unsigned char *p = malloc(cap);
	if (!p)
		return ct_error("cannot read standard input: out of memory");
	for (;;) {
		if (n == cap) {
			if ((long long)cap * 2 > CT_MAX_STDIN_BYTES) {
				free(p);
				return ct_error("'-': standard input is larger than %lld GiB; write it to a file",
						CT_MAX_STDIN_BYTES >> 30);
			}
			unsigned char *q = realloc(p, cap * 2);
			if (!q) {
				free(p);
				return ct_error("cannot read standard input: out of memory (%zu bytes)", cap * 2);
			}
			p = q;
			cap *= 2;
		}
		size_t want = n < 8 ? 8 - n : cap - n;
		size_t r = fread(p + n, 1, want, stdin);
		n += r;
		if (r == 0)
			break;
		if (n >= 8 && n - r < 8 && memcmp(p, hdf5_magic, 8)) {
			free(p);
			return ct_error("'-': standard input is not an HDF5 file");
		}
	}
	if (ferror(stdin)) {
		free(p);
		return ct_error_errno("cannot read standard input");
	}
	*buf = p;
	*len = n;
	return 0;
}

/* Standard input is read once, on the first open of "-", and held for the life of the
 * process: a tool that opens its input more than once (the model file: head, curves,
 * fine-tuned layers) then reads the same bytes each time, as it would from a named file. */
static unsigned char *stdin_buf;
static size_t stdin_len;
static int stdin_state; /* 0 not read yet, 1 held, -1 failed (the error was reported) */

static int stdin_image(const unsigned char **buf, size_t *len)
{
	if (stdin_state == 0) {
		stdin_state = -1;
		if (isatty(STDIN_FILENO))
			return ct_error("standard input is a terminal, expected an HDF5 file");
		unsigned char *p = NULL;
		size_t n = 0;
		if (slurp_stdin(&p, &n) < 0)
			return -1;
		if (n == 0) {
			free(p);
			return ct_error("'-': standard input is empty");
		}
		if (n < 8 || memcmp(p, hdf5_magic, 8)) {
			free(p);
			return ct_error("'-': standard input is not an HDF5 file");
		}
		stdin_buf = p;
		stdin_len = n;
		stdin_state = 1;
	}
	if (stdin_state < 0)
		return ct_error("'-': standard input could not be read");
	*buf = stdin_buf;
	*len = stdin_len;
	return 0;
}

int ct_h5_stdin_image(const unsigned char **buf, size_t *len)
{
	return stdin_image(buf, len);
}

int ct_h5_sha256(const char *path, char hex[65])
{
	if (strcmp(path, "-"))
		return ct_sha256_file(path, hex);
	const unsigned char *buf;
	size_t len;
	if (stdin_image(&buf, &len) < 0)
		return -1;
	ct_sha256_buf(buf, len, hex);
	return 0;
}

/* Check a file just opened for reading: `trailer` is the whole-file check's result (1 matched,
 * 0 absent). A file written with checksums has both the trailer and the objects' content_sha256:
 * the trailer covers everything, so the objects need no second pass; a checksummed file
 * without its trailer has lost it. Files with neither are from before checksums. Closes the
 * file on failure. */
static int verify_open(ct_h5 *h, int trailer)
{
	if (!ct_h5_verify_enabled() || trailer == 1 || !ct_h5_attr_exists(h->file, "content_sha256"))
		return 0;
	ct_error("'%s': its checksum trailer is missing (damaged or truncated; --no-verify to read it anyway)",
		 h->path);
	H5Fclose(h->file);
	h->file = H5I_INVALID_HID;
	free(h->path);
	h->path = NULL;
	return -1;
}

static int open_common(ct_h5 *h, const char *path, unsigned flags)
{
	ct_h5_init();
	memset(h, 0, sizeof *h);
	h->file = H5I_INVALID_HID;
	h->out.lockfd = -1;
	if (ct_io_note_input(path) < 0)
		return -1;
	if (!strcmp(path, "-")) {
		if (flags != H5F_ACC_RDONLY)
			return ct_error("cannot update standard input in place");
		const unsigned char *buf;
		size_t len;
		if (stdin_image(&buf, &len) < 0)
			return -1;
		int trailer = ct_h5_verify_enabled() ? ct_h5_trailer_check_buf(buf, len) : 0;
		if (trailer < 0)
			return ct_error_prefix("'-'");
		/* HDF5 reads the held image in place, read-only: no copy, and the image outlives it */
		h->file = H5LTopen_file_image((void *)buf, len, H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE);
		if (h->file >= 0 && ct_inputs_note_h5("-", buf, len) < 0) { /* for the provenance */
			H5Fclose(h->file);
			h->file = H5I_INVALID_HID;
			return -1;
		}
		if (h->file < 0)
			return ct_error("'-': standard input is not a readable HDF5 file (or truncated)");
		h->path = ct_strdup("-");
		note_opened("-");
		if (!h->path || verify_open(h, trailer) < 0)
			return -1;
		return 0;
	}
	note_opened(path);
	/* a regular file only: a FIFO would block HDF5, a device never end */
	int fd = ct_open_regular(path, 0);
	if (fd < 0)
		return -1;
	unsigned char sig[8];
	ssize_t got = read(fd, sig, 8);
	close(fd);
	if (got < 0)
		return ct_error_errno("cannot read '%s'", path);
	if (got == 0)
		return ct_error("'%s': empty file", path);
	if (got < 8 || memcmp(sig, hdf5_magic, 8))
		return ct_error("'%s': not an HDF5 file", path);
	int trailer = flags == H5F_ACC_RDONLY && ct_h5_verify_enabled() ? ct_h5_trailer_check(path) : 0;
	if (trailer < 0)
		return ct_error_prefix("'%s'", path);
	h->file = H5Fopen(path, flags, H5P_DEFAULT);
	if (h->file < 0)
		return ct_error("'%s': unreadable HDF5 file (truncated or corrupt)", path);
	h->path = ct_strdup(path);
	if (!h->path || (flags == H5F_ACC_RDONLY && verify_open(h, trailer) < 0))
		return -1;
	if (flags == H5F_ACC_RDONLY && ct_inputs_note_h5(path, NULL, 0) < 0) { /* for the provenance */
		H5Fclose(h->file);
		h->file = H5I_INVALID_HID;
		free(h->path);
		h->path = NULL;
		return -1;
	}
	return 0;
}

int ct_h5_open(ct_h5 *h, const char *path)
{
	return open_common(h, path, H5F_ACC_RDONLY);
}

int ct_h5_open_rw(ct_h5 *h, const char *path)
{
	if (open_common(h, path, H5F_ACC_RDWR) < 0)
		return -1;
	h->writing = 0;
	return 0;
}

static hid_t untimed_fcpl(void)
{
	hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
	H5Pset_obj_track_times(fcpl, 0);
	return fcpl;
}

/* An HDF5 file built in memory (HDF5's core driver), for standard output and for targets
 * written in place (character devices, FIFOs). */
static int create_in_memory(ct_h5 *h, hid_t fcpl)
{
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	H5Pset_fapl_core(fapl, 1 << 22, 0);
	/* A unique name per process: the core driver keys files by name. */
	char name[64];
	snprintf(name, sizeof name, "ctfuse-memory-%ld", (long)getpid());
	h->file = H5Fcreate(name, H5F_ACC_TRUNC, fcpl, fapl);
	H5Pclose(fapl);
	if (h->file < 0)
		return ct_error("cannot create an in-memory HDF5 file");
	return 0;
}

static void h5_reset(ct_h5 *h)
{
	memset(h, 0, sizeof *h);
	h->file = H5I_INVALID_HID;
	h->out.lockfd = -1;
}

int ct_h5_create(ct_h5 *h, const char *path, int force)
{
	ct_h5_init();
	h5_reset(h);
	h->writing = 1;
	if (!strcmp(path, "-") && isatty(STDOUT_FILENO))
		return ct_error("refusing to write an HDF5 file to a terminal (redirect standard output)");
	if (strcmp(path, "-") && ct_target_claim(&h->out, path, force) < 0)
		return -1;
	if (!(h->path = ct_strdup(path))) {
		ct_target_abort(&h->out);
		return -1;
	}
	hid_t fcpl = untimed_fcpl();
	int rc = 0;
	if (!strcmp(path, "-") || h->out.inplace) {
		rc = create_in_memory(h, fcpl);
	} else {
		int fd = ct_target_tmpfile(&h->out, ".tmp-", 0);
		if (fd < 0) {
			rc = -1;
		} else {
			close(fd);
			h->tmp = h->out.tmp;
			h->file = H5Fcreate(h->tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
			if (h->file < 0)
				rc = ct_error("cannot create HDF5 file '%s'", path);
		}
	}
	H5Pclose(fcpl);
	if (rc < 0) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", ct_last_error());
		ct_h5_abort(h);
		return ct_error("%s", msg);
	}
	return 0;
}

/* HDF5 1.10 keeps a file whose close failed (a full disk) in a state where any later
 * close of it, including the library's own shutdown at exit, crashes. Remember it, so
 * that the tool can end without running that shutdown (ct_h5_exit_unsafe). */
static int close_failed;

static int close_file(hid_t file)
{
	if (H5Fclose(file) < 0) {
		close_failed = 1;
		return -1;
	}
	return 0;
}

int ct_h5_exit_unsafe(void)
{
	return close_failed;
}

/* A partial file is flushed after every batch and meant to be inspected while written
 * (ct-info OUTPUT.partial shows rows_done): without HDF5's file lock, which would refuse
 * every reader while the writer has the file open. */
static hid_t partial_fapl(void)
{
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
	H5Pset_file_locking(fapl, 0, 1);
#endif
	return fapl;
}

int ct_h5_create_partial(ct_h5 *h, const char *path, int force, int resume, int *resumed)
{
	ct_h5_init();
	h5_reset(h);
	h->writing = 1;
	*resumed = 0;
	if (!strcmp(path, "-"))
		return ct_error("cannot write a resumable file to standard output");
	if (ct_target_claim(&h->out, path, force) < 0)
		return -1;
	if (h->out.inplace) {
		ct_target_abort(&h->out);
		return ct_error("cannot write a resumable file to '%s': not a regular file", path);
	}
	/* Under the claim: no other writer can be using the partial file. */
	int fd = ct_target_tmpfile(&h->out, ".partial", 1);
	if (fd < 0) {
		ct_target_abort(&h->out);
		return -1;
	}
	struct stat st;
	int nonempty = fstat(fd, &st) == 0 && st.st_size > 0;
	close(fd);
	h->tmp = h->out.tmp;
	if (!(h->path = ct_strdup(path))) {
		ct_h5_abort(h);
		return -1;
	}
	if (resume && nonempty) {
		hid_t fapl = partial_fapl();
		h->file = H5Fopen(h->tmp, H5F_ACC_RDWR, fapl);
		H5Pclose(fapl);
		if (h->file >= 0) {
			*resumed = 1;
			return 0;
		}
		/* An unreadable partial file (killed mid-write): start again. */
	}
	hid_t fcpl = untimed_fcpl(), fapl = partial_fapl();
	h->file = H5Fcreate(h->tmp, H5F_ACC_TRUNC, fcpl, fapl);
	H5Pclose(fcpl);
	H5Pclose(fapl);
	if (h->file < 0) {
		ct_error_errno("cannot create '%s'", h->tmp);
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", ct_last_error());
		ct_h5_abort(h);
		return ct_error("%s", msg);
	}
	return 0;
}

/* Write the in-memory file's image to fd (standard output or an in-place target). */
static int write_image(ct_h5 *h, int fd, const char *what)
{
	int rc = 0;
	if (H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0)
		return ct_error("cannot finish the in-memory HDF5 file");
	ssize_t sz = H5Fget_file_image(h->file, NULL, 0);
	unsigned char *buf = sz > 0 ? malloc((size_t)sz) : NULL;
	if (!buf || H5Fget_file_image(h->file, buf, (size_t)sz) != sz) {
		free(buf);
		return ct_error("cannot get the in-memory HDF5 file image");
	}
	size_t done = 0;
	while (done < (size_t)sz) {
		ssize_t w = write(fd, buf + done, (size_t)sz - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = ct_error_errno("cannot write %s", what);
			break;
		}
		done += (size_t)w;
	}
	if (rc == 0 && !h->no_checksum) {
		unsigned char t[CT_H5_TRAILER];
		ct_h5_trailer_make(buf, (size_t)sz, t);
		for (done = 0; done < sizeof t;) {
			ssize_t w = write(fd, t + done, sizeof t - done);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = ct_error_errno("cannot write %s", what);
				break;
			}
			done += (size_t)w;
		}
	}
	free(buf);
	return rc;
}

int ct_h5_commit(ct_h5 *h)
{
	int rc = 0;
	if (!h->writing || h->file < 0 || !h->path)
		return ct_error("internal: commit of a file not open for writing");
	if (!h->no_checksum && ct_h5_checksum_stamp(h->file) < 0) {
		ct_error_prefix("cannot write '%s'", h->path);
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", ct_last_error());
		ct_h5_abort(h);
		return ct_error("%s", msg);
	}
	if (!strcmp(h->path, "-")) {
		if (fflush(stdout) != 0)
			rc = ct_error_errno("cannot write to standard output");
		else
			rc = write_image(h, STDOUT_FILENO, "to standard output");
		H5Fclose(h->file);
	} else if (h->out.inplace) {
		char what[1100];
		snprintf(what, sizeof what, "'%s'", h->path);
		int fd = ct_target_open_inplace(&h->out);
		rc = fd < 0 ? -1 : write_image(h, fd, what);
		if (fd >= 0 && close(fd) < 0 && rc == 0)
			rc = ct_error_errno("cannot write %s", what);
		H5Fclose(h->file);
		ct_target_abort(&h->out);
	} else {
		if (close_file(h->file) < 0) {
			rc = ct_error("cannot write '%s' (disk full?)", h->path);
			ct_target_abort(&h->out);
		} else {
			if (!h->no_checksum && ct_h5_trailer_append(h->tmp) < 0)
				rc = -1;
			/* Flush the data to disk before the rename makes it visible. */
			int fd = rc < 0 ? -1 : open(h->tmp, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (fsync(fd) < 0)
					rc = ct_error_errno("cannot write '%s'", h->path);
				close(fd);
			}
			if (rc == 0)
				rc = ct_target_commit(&h->out);
			else
				ct_target_abort(&h->out);
		}
	}
	h->file = H5I_INVALID_HID;
	free(h->path);
	h5_reset(h);
	return rc;
}

void ct_h5_abort(ct_h5 *h)
{
	if (h->file >= 0)
		close_file(h->file);
	ct_target_abort(&h->out);
	free(h->path);
	h5_reset(h);
}

void ct_h5_close(ct_h5 *h)
{
	if (h->file >= 0)
		close_file(h->file);
	ct_target_release(&h->out);
	free(h->path);
	h5_reset(h);
}

hid_t ct_h5_create_group(hid_t loc, const char *name)
{
	hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
	H5Pset_obj_track_times(gcpl, 0);
	hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
	H5Pclose(gcpl);
	if (g < 0)
		ct_error("cannot create group '%s'", name);
	return g;
}

int ct_h5_exists(hid_t loc, const char *name)
{
	return H5LTpath_valid(loc, name, 1) > 0;
}

int ct_h5_shape(hid_t loc, const char *name, int *ndim, int64_t *shape)
{
	hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
	if (d < 0)
		return ct_error("missing dataset '%s'", name);
	hid_t sp = H5Dget_space(d);
	int nd = H5Sget_simple_extent_ndims(sp);
	hsize_t dims[H5S_MAX_RANK];
	int rc = 0;
	if (nd < 0 || nd > CT_MAX_DIMS) {
		rc = ct_error("dataset '%s' has unsupported rank %d", name, nd);
	} else {
		H5Sget_simple_extent_dims(sp, dims, NULL);
		for (int i = 0; i < nd; i++)
			shape[i] = (int64_t)dims[i];
		*ndim = nd;
	}
	H5Sclose(sp);
	H5Dclose(d);
	return rc;
}

hid_t ct_h5_create_dataset(hid_t loc, const char *name, ct_dtype dtype, int ndim, const int64_t *shape,
			   int64_t chunk0, int compress)
{
	hsize_t dims[CT_MAX_DIMS], chunk[CT_MAX_DIMS];
	for (int i = 0; i < ndim; i++) {
		dims[i] = (hsize_t)shape[i];
		chunk[i] = (hsize_t)(shape[i] > 0 ? shape[i] : 1);
	}
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_obj_track_times(dcpl, 0);
	if (ndim > 0 && chunk0 > 0 && shape[0] > 0) {
		chunk[0] = (hsize_t)(chunk0 < shape[0] ? chunk0 : shape[0]);
		H5Pset_chunk(dcpl, ndim, chunk);
		if (compress > 0) {
			if (ct_dtype_size(dtype) > 1)
				H5Pset_shuffle(dcpl);
			H5Pset_deflate(dcpl, (unsigned)compress);
		}
	}
	hid_t sp = H5Screate_simple(ndim, dims, NULL);
	hid_t d = H5Dcreate2(loc, name, ct_h5_native(dtype), sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	H5Sclose(sp);
	H5Pclose(dcpl);
	if (d < 0)
		ct_error("cannot create dataset '%s'", name);
	return d;
}

static int rows_io(hid_t dset, int64_t start, ct_tensor *rows, int write)
{
	if (!ct_tensor_is_contiguous(rows))
		return ct_error("internal: non-contiguous rows");
	hid_t fsp = H5Dget_space(dset);
	int nd = H5Sget_simple_extent_ndims(fsp);
	hsize_t dims[H5S_MAX_RANK];
	H5Sget_simple_extent_dims(fsp, dims, NULL);
	int rc = 0;
	if (nd != rows->ndim) {
		rc = ct_error("dataset has rank %d, expected %d", nd, rows->ndim);
		goto out;
	}
	for (int i = 1; i < nd; i++)
		if ((int64_t)dims[i] != rows->shape[i]) {
			rc = ct_error("dataset dimension %d is %llu, expected %lld", i, (unsigned long long)dims[i],
				      (long long)rows->shape[i]);
			goto out;
		}
	if (start < 0 || start + rows->shape[0] > (int64_t)dims[0]) {
		rc = ct_error("rows %lld..%lld outside the dataset (%llu rows)", (long long)start,
			      (long long)(start + rows->shape[0]), (unsigned long long)dims[0]);
		goto out;
	}
	if (rows->shape[0] == 0)
		goto out;
	hsize_t off[H5S_MAX_RANK] = { 0 }, cnt[H5S_MAX_RANK];
	off[0] = (hsize_t)start;
	for (int i = 0; i < nd; i++)
		cnt[i] = (hsize_t)rows->shape[i];
	H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL);
	hid_t msp = H5Screate_simple(nd, cnt, NULL);
	herr_t e = write ? H5Dwrite(dset, ct_h5_native(rows->dtype), msp, fsp, H5P_DEFAULT, rows->data)
			 : H5Dread(dset, ct_h5_native(rows->dtype), msp, fsp, H5P_DEFAULT, rows->data);
	H5Sclose(msp);
	if (e < 0)
		rc = ct_error(write ? "cannot write dataset rows (disk full?)"
				    : "cannot read dataset rows (file truncated or corrupt)");
out:
	H5Sclose(fsp);
	return rc;
}

int ct_h5_write_rows(hid_t dset, int64_t start, const ct_tensor *rows)
{
	return rows_io(dset, start, (ct_tensor *)rows, 1);
}

int ct_h5_read_rows(hid_t dset, int64_t start, ct_tensor *rows)
{
	return rows_io(dset, start, rows, 0);
}

int ct_h5_write_rows_z(hid_t dset, int64_t start, const ct_tensor *rows, int compress)
{
	if (compress <= 0)
		return ct_h5_write_rows(dset, start, rows);
	if (!ct_tensor_is_contiguous(rows) || rows->ndim < 1)
		return ct_error("internal: non-contiguous rows");
	int64_t n = rows->shape[0];
	size_t esz = ct_dtype_size(rows->dtype);
	size_t row_bytes = n ? ct_tensor_nbytes(rows) / (size_t)n : 0;
	size_t bound = compressBound((uLong)row_bytes);
	unsigned char **z = calloc((size_t)n + 1, sizeof *z);
	size_t *zlen = calloc((size_t)n + 1, sizeof *zlen);
	int rc = 0, failed = 0;
	if (!z || !zlen) {
		free(z);
		free(zlen);
		return ct_error("out of memory");
	}
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
	for (int64_t i = 0; i < n; i++) {
		const unsigned char *src = (const unsigned char *)rows->data + (size_t)i * row_bytes;
		unsigned char *shuf = NULL;
		if (esz > 1) {
			/* HDF5's shuffle filter: all first bytes, then all second bytes, ... */
			size_t m = row_bytes / esz;
			shuf = malloc(row_bytes);
			if (!shuf) {
				failed = 1;
				continue;
			}
			for (size_t b = 0; b < esz; b++)
				for (size_t k = 0; k < m; k++)
					shuf[b * m + k] = src[k * esz + b];
			src = shuf;
		}
		uLongf len = (uLongf)bound;
		z[i] = malloc(bound);
		if (!z[i] || compress2(z[i], &len, src, (uLong)row_bytes, compress) != Z_OK)
			failed = 1;
		zlen[i] = len;
		free(shuf);
	}
	if (failed)
		rc = ct_error("out of memory compressing rows");
	int nd = rows->ndim;
	hsize_t off[H5S_MAX_RANK] = { 0 };
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		off[0] = (hsize_t)(start + i);
		(void)nd;
		if (H5Dwrite_chunk(dset, H5P_DEFAULT, 0, off, zlen[i], z[i]) < 0)
			rc = ct_error("cannot write dataset rows (disk full?)");
	}
	for (int64_t i = 0; i < n; i++)
		free(z[i]);
	free(z);
	free(zlen);
	return rc;
}

int ct_h5_write(hid_t loc, const char *name, const ct_tensor *t, int64_t chunk0, int compress)
{
	hid_t d = ct_h5_create_dataset(loc, name, t->dtype, t->ndim, t->shape, chunk0, compress);
	if (d < 0)
		return -1;
	int rc = 0;
	if (t->ndim == 0) {
		if (H5Dwrite(d, ct_h5_native(t->dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0)
			rc = ct_error("cannot write dataset '%s'", name);
	} else if (ct_h5_write_rows(d, 0, t) < 0) {
		rc = ct_error_prefix("dataset '%s'", name);
	}
	H5Dclose(d);
	return rc;
}

int ct_h5_check_stored(hid_t d, const char *name)
{
	hid_t dcpl = H5Dget_create_plist(d), t = H5Dget_type(d), sp = H5Dget_space(d);
	H5D_layout_t layout = dcpl < 0 ? H5D_LAYOUT_ERROR : H5Pget_layout(dcpl);
	int external = dcpl < 0 ? -1 : H5Pget_external_count(dcpl);
	size_t esz = t < 0 ? 0 : H5Tget_size(t);
	hssize_t npoints = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
	hsize_t stored = H5Dget_storage_size(d);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	if (t >= 0)
		H5Tclose(t);
	if (sp >= 0)
		H5Sclose(sp);
	if (layout != H5D_COMPACT && layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED)
		return ct_error("dataset '%s' has an unsupported storage layout", name);
	if (external != 0)
		return ct_error("dataset '%s' is stored in files outside this one (external storage)", name);
	if (esz == 0 || npoints < 0)
		return ct_error("dataset '%s' has an unreadable type or shape", name);
	/* compared in long double: a declared size may overflow 64 bits */
	long double declared = (long double)esz * (long double)npoints;
	if (declared > (long double)CT_H5_MAX_RATIO * (long double)stored + (long double)CT_H5_UNSTORED_SLACK)
		return ct_error("dataset '%s' declares %.0Lf bytes but the file stores %llu of them (damaged, or "
				"written only in part)",
				name, declared, (unsigned long long)stored);
	return 0;
}

int ct_h5_read(hid_t loc, const char *name, ct_dtype dtype, ct_tensor *out)
{
	int nd;
	int64_t shape[CT_MAX_DIMS];
	memset(out, 0, sizeof *out);
	if (ct_h5_shape(loc, name, &nd, shape) < 0)
		return -1;
	hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
	if (d < 0)
		return ct_error("missing dataset '%s'", name);
	int rc = ct_h5_check_stored(d, name);
	if (rc == 0 && ct_tensor_alloc(out, dtype, nd, shape) < 0)
		rc = ct_error_prefix("dataset '%s'", name);
	if (rc < 0) {
		H5Dclose(d);
		return -1;
	}
	if (nd == 0) {
		if (H5Dread(d, ct_h5_native(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, out->data) < 0)
			rc = ct_error("cannot read dataset '%s'", name);
	} else if (ct_h5_read_rows(d, 0, out) < 0) {
		rc = ct_error_prefix("dataset '%s'", name);
	}
	H5Dclose(d);
	if (rc < 0)
		ct_tensor_free(out);
	return rc;
}

static hid_t vlen_str_type(void)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, H5T_VARIABLE);
	H5Tset_cset(t, H5T_CSET_UTF8);
	return t;
}

/* A fixed-length UTF-8 string type of `size` bytes, NUL-padded. Strings are written fixed-
 * length, not variable-length: variable-length data live in HDF5's global heap, whose reader
 * (HDF5 1.10) crashes on a corrupted heap instead of reporting it. */
static hid_t fixed_str_type(size_t size)
{
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, size ? size : 1);
	H5Tset_strpad(t, H5T_STR_NULLPAD);
	H5Tset_cset(t, H5T_CSET_UTF8);
	return t;
}

static int write_strings(hid_t loc, const char *name, char *const *s, int64_t n);

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if the byte there starts none. */
static int utf8_len(const unsigned char *p)
{
	int n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 2 && p[0] < 0xc2)
		return 0; /* overlong */
	for (int i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0)))
		return 0; /* overlong, surrogate */
	if (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || p[0] > 0xf4 || (p[0] == 0xf4 && p[1] >= 0x90)))
		return 0;
	return n;
}

/* The strings are declared UTF-8 (h5py's asstr() decodes them): a byte that starts no valid
 * UTF-8 sequence (a file name from a Latin-1 file system) is stored as the four characters
 * \xNN (docs/formats.md). Returns s itself when valid, else a malloc'd copy (NULL: no memory). */
static char *utf8_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t bad = 0, len = strlen(s);
	for (size_t i = 0; i < len;) {
		int k = utf8_len(p + i);
		if (k == 0) {
			bad++;
			i++;
		} else {
			i += (size_t)k;
		}
	}
	if (!bad)
		return (char *)s;
	char *o = malloc(len + 3 * bad + 1), *q = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < len;) {
		int k = utf8_len(p + i);
		if (k == 0) {
			q += sprintf(q, "\\x%02X", p[i]);
			i++;
		} else {
			memcpy(q, p + i, (size_t)k);
			q += k;
			i += (size_t)k;
		}
	}
	*q = '\0';
	return o;
}

int ct_h5_write_strings(hid_t loc, const char *name, char *const *s0, int64_t n)
{
	char **s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
	if (!s)
		return ct_error("out of memory writing dataset '%s'", name);
	for (int64_t i = 0; i < n; i++)
		if (s0[i] && !(s[i] = utf8_clean(s0[i]))) {
			for (int64_t j = 0; j < i; j++)
				if (s[j] != s0[j])
					free(s[j]);
			free(s);
			return ct_error("out of memory writing dataset '%s'", name);
		}
	int rc = write_strings(loc, name, s, n);
	for (int64_t i = 0; i < n; i++)
		if (s[i] != s0[i])
			free(s[i]);
	free(s);
	return rc;
}

static int write_strings(hid_t loc, const char *name, char *const *s, int64_t n)
{
	size_t width = 1;
	for (int64_t i = 0; i < n; i++)
		if (s[i] && strlen(s[i]) > width)
			width = strlen(s[i]);
	size_t bytes;
	if (ct_mul_size(width, (size_t)(n > 0 ? n : 1), &bytes) < 0)
		return ct_error("dataset '%s': strings too large", name);
	char *buf = calloc(bytes, 1);
	if (!buf)
		return ct_error("out of memory writing dataset '%s'", name);
	for (int64_t i = 0; i < n; i++)
		if (s[i])
			memcpy(buf + (size_t)i * width, s[i], strlen(s[i]));
	hid_t t = fixed_str_type(width);
	hsize_t dims[1] = { (hsize_t)n };
	hid_t sp = H5Screate_simple(1, dims, NULL);
	hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_obj_track_times(dcpl, 0);
	hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	int rc = 0;
	if (d < 0)
		rc = ct_error("cannot create dataset '%s'", name);
	else {
		if (n > 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
			rc = ct_error("cannot write dataset '%s' (disk full?)", name);
		H5Dclose(d);
	}
	H5Pclose(dcpl);
	H5Sclose(sp);
	H5Tclose(t);
	free(buf);
	return rc;
}

/* Copy a fixed-length string field, trimming NUL padding (and space padding when the
 * type says so, as Keras' files do). */
static char *dup_fixed(const char *p, size_t size, int spacepad)
{
	size_t len = 0;
	while (len < size && p[len])
		len++;
	while (spacepad && len > 0 && p[len - 1] == ' ')
		len--;
	char *s = malloc(len + 1);
	if (s) {
		memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

void ct_strings_free(char **s, int64_t n)
{
	if (!s)
		return;
	for (int64_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

int ct_h5_read_strings(hid_t loc, const char *name, char ***out, int64_t *nout)
{
	*out = NULL;
	*nout = 0;
	hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
	if (d < 0)
		return ct_error("missing dataset '%s'", name);
	hid_t ft = H5Dget_type(d), sp = H5Dget_space(d);
	int rc = 0;
	char **res = NULL;
	hssize_t n = H5Sget_simple_extent_npoints(sp);
	if (H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_ndims(sp) != 1 || n < 0) {
		rc = ct_error("dataset '%s' is not a 1-d string list", name);
		goto out;
	}
	/* a damaged or foreign file may claim any size: refuse lists over 1 GiB before allocating */
	size_t per = H5Tis_variable_str(ft) > 0 ? sizeof(char *) : H5Tget_size(ft) + 1;
	if ((uint64_t)n > ((uint64_t)1 << 30) / (per + sizeof *res)) {
		rc = ct_error("dataset '%s' claims %lld strings of %zu bytes: over the 1 GiB limit of a string list",
			      name, (long long)n, per - (H5Tis_variable_str(ft) > 0 ? 0 : 1));
		n = 0;
		goto out;
	}
	res = calloc((size_t)n + 1, sizeof *res);
	if (!res) {
		rc = ct_error("out of memory");
		goto out;
	}
	if (n == 0)
		goto out;
	if (H5Tis_variable_str(ft) > 0) {
		hid_t mt = vlen_str_type();
		char **tmp = calloc((size_t)n, sizeof *tmp);
		if (!tmp || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) < 0) {
			rc = ct_error("cannot read dataset '%s' (truncated or corrupt)", name);
		} else {
			for (hssize_t i = 0; i < n && rc == 0; i++)
				if (!(res[i] = ct_strdup(tmp[i] ? tmp[i] : "")))
					rc = -1;
			H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, tmp);
		}
		free(tmp);
		H5Tclose(mt);
	} else {
		/* One more byte than stored: a full-width field converted to a
		 * NUL-terminated memory type would otherwise lose its last character. */
		size_t size = H5Tget_size(ft) + 1;
		hid_t mt = H5Tcopy(H5T_C_S1);
		H5Tset_size(mt, size);
		H5Tset_strpad(mt, H5T_STR_NULLTERM);
		H5Tset_cset(mt, H5Tget_cset(ft)); /* HDF5 converts no character sets */
		char *buf = malloc((size_t)n * size);
		if (!buf || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
			rc = ct_error("cannot read dataset '%s' (truncated or corrupt)", name);
		} else {
			for (hssize_t i = 0; i < n && rc == 0; i++)
				if (!(res[i] = dup_fixed(buf + (size_t)i * size, size, H5Tget_strpad(ft) == H5T_STR_SPACEPAD)))
					rc = ct_error("out of memory");
		}
		free(buf);
		H5Tclose(mt);
	}
out:
	H5Tclose(ft);
	H5Sclose(sp);
	H5Dclose(d);
	if (rc < 0) {
		ct_strings_free(res, n > 0 ? n : 0);
		return -1;
	}
	*out = res;
	*nout = n;
	return 0;
}

int ct_h5_attr_exists(hid_t obj, const char *name)
{
	return H5Aexists(obj, name) > 0;
}

static int attr_write(hid_t obj, const char *name, hid_t type, const void *v)
{
	if (H5Aexists(obj, name) > 0)
		H5Adelete(obj, name);
	hid_t sp = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
	int rc = 0;
	if (a < 0 || H5Awrite(a, type, v) < 0)
		rc = ct_error("cannot write attribute '%s'", name);
	if (a >= 0)
		H5Aclose(a);
	H5Sclose(sp);
	return rc;
}

int ct_h5_set_str(hid_t obj, const char *name, const char *v)
{
	const char *in = v ? v : "";
	char *clean = utf8_clean(in);
	if (!clean)
		return ct_error("out of memory");
	const char *p = clean;
	size_t len = strlen(p);
	char *buf = calloc(len + 1, 1);
	if (!buf) {
		if (clean != in)
			free(clean);
		return ct_error("out of memory");
	}
	memcpy(buf, p, len);
	if (clean != in)
		free(clean);
	hid_t t = fixed_str_type(len);
	int rc = attr_write(obj, name, t, buf);
	H5Tclose(t);
	free(buf);
	return rc;
}

int ct_h5_set_int(hid_t obj, const char *name, int64_t v)
{
	return attr_write(obj, name, H5T_NATIVE_INT64, &v);
}

int ct_h5_set_double(hid_t obj, const char *name, double v)
{
	return attr_write(obj, name, H5T_NATIVE_DOUBLE, &v);
}

static int attr_read(hid_t obj, const char *name, hid_t mtype, void *v)
{
	if (H5Aexists(obj, name) <= 0)
		return ct_error("missing attribute '%s'", name);
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	hid_t sp = H5Aget_space(a);
	int rc = 0;
	if (H5Sget_simple_extent_npoints(sp) != 1)
		rc = ct_error("attribute '%s' is not a scalar", name);
	else if (H5Aread(a, mtype, v) < 0)
		rc = ct_error("cannot read attribute '%s'", name);
	H5Sclose(sp);
	H5Aclose(a);
	return rc;
}

int ct_h5_get_int(hid_t obj, const char *name, int64_t *v)
{
	return attr_read(obj, name, H5T_NATIVE_INT64, v);
}

int ct_h5_get_double(hid_t obj, const char *name, double *v)
{
	return attr_read(obj, name, H5T_NATIVE_DOUBLE, v);
}

int ct_h5_get_str(hid_t obj, const char *name, char **v)
{
	*v = NULL;
	if (H5Aexists(obj, name) <= 0)
		return ct_error("missing attribute '%s'", name);
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
	int rc = 0;
	if (H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_npoints(sp) != 1) {
		rc = ct_error("attribute '%s' is not a string", name);
	} else if (H5Tis_variable_str(ft) > 0) {
		hid_t mt = vlen_str_type();
		char *p = NULL;
		if (H5Aread(a, mt, &p) < 0)
			rc = ct_error("cannot read attribute '%s'", name);
		else
			*v = ct_strdup(p ? p : "");
		if (p)
			H5free_memory(p);
		H5Tclose(mt);
		if (rc == 0 && !*v)
			rc = -1;
	} else {
		size_t size = H5Tget_size(ft) + 1;
		hid_t mt = H5Tcopy(H5T_C_S1);
		H5Tset_size(mt, size);
		H5Tset_strpad(mt, H5T_STR_NULLTERM);
		H5Tset_cset(mt, H5Tget_cset(ft)); /* HDF5 converts no character sets */
		char *buf = malloc(size + 1);
		if (!buf || H5Aread(a, mt, buf) < 0)
			rc = ct_error("cannot read attribute '%s'", name);
		else if (!(*v = dup_fixed(buf, size, H5Tget_strpad(ft) == H5T_STR_SPACEPAD)))
			rc = ct_error("out of memory");
		free(buf);
		H5Tclose(mt);
	}
	H5Tclose(ft);
	H5Sclose(sp);
	H5Aclose(a);
	return rc;
}

int ct_h5_copy_attr(hid_t src, hid_t dst, const char *name)
{
	if (!strcmp(name, "content_sha256"))
		return 0;
	hid_t a = H5Aopen(src, name, H5P_DEFAULT);
	if (a < 0)
		return ct_error("cannot open attribute '%s'", name);
	hid_t t = H5Aget_type(a);
	H5T_class_t cls = H5Tget_class(t);
	H5Tclose(t);
	H5Aclose(a);
	int rc;
	if (cls == H5T_STRING) {
		char *v = NULL;
		rc = ct_h5_get_str(src, name, &v);
		if (rc == 0)
			rc = ct_h5_set_str(dst, name, v);
		free(v);
	} else if (cls == H5T_INTEGER) {
		int64_t v;
		rc = ct_h5_get_int(src, name, &v);
		if (rc == 0)
			rc = ct_h5_set_int(dst, name, v);
	} else if (cls == H5T_FLOAT) {
		double v;
		rc = ct_h5_get_double(src, name, &v);
		if (rc == 0)
			rc = ct_h5_set_double(dst, name, v);
	} else {
		rc = ct_error("cannot copy attribute '%s' (unsupported type)", name);
	}
	return rc;
}
