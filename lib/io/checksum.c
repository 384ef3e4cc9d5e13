/* checksum.c - per-object content checksums of the HDF5 files we write (h5.h, docs/formats.md):
 * every object (the root group, each group, each dataset) carries a string attribute
 * content_sha256, the SHA-256 of its attributes (by name: name, NUL, the stored bytes) and,
 * for a dataset, of its data as stored (the file's element type, rows in order). Written at
 * commit, checked when a file is opened for reading; files without it (older ctfuse, Keras
 * weights) are read unchecked. A trailer after the HDF5 data checksums the whole file. */
#include "core/error.h"
#include "core/sha256.h"
#include "io/h5.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CT_SUM_ATTR "content_sha256"

static int verify_on = 1;

void ct_h5_set_verify(int on)
{
	verify_on = on;
}

int ct_h5_verify_enabled(void)
{
	const char *e = getenv("CT_NO_VERIFY");
	return verify_on && !(e && *e && strcmp(e, "0"));
}

static herr_t hash_attr(hid_t obj, const char *name, const H5A_info_t *info, void *data)
{
	(void)info;
	ct_sha256 *s = data;
	if (!strcmp(name, CT_SUM_ATTR))
		return 0;
	ct_sha256_update(s, name, strlen(name) + 1);
	hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
	if (a < 0)
		return -1;
	hid_t t = H5Aget_type(a);
	herr_t rc = 0;
	if (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0) {
		ct_sha256_update(s, "vlen", 4); /* not ours: variable-length values are not covered */
	} else {
		hsize_t n = H5Aget_storage_size(a);
		unsigned char *buf = malloc(n ? n : 1);
		if (!buf || H5Aread(a, t, buf) < 0)
			rc = -1;
		else
			ct_sha256_update(s, buf, n);
		free(buf);
	}
	H5Tclose(t);
	H5Aclose(a);
	return rc;
}

/* Data as stored, in blocks of rows along axis 0 (bounded memory for large datasets). */
static int hash_data(hid_t d, ct_sha256 *s)
{
	hid_t t = H5Dget_type(d), fsp = H5Dget_space(d);
	int rc = 0;
	if (H5Tdetect_class(t, H5T_VLEN) > 0 || H5Tis_variable_str(t) > 0) {
		ct_sha256_update(s, "vlen", 4);
		goto out;
	}
	int nd = H5Sget_simple_extent_ndims(fsp);
	hsize_t dims[H5S_MAX_RANK];
	if (nd < 0 || H5Sget_simple_extent_dims(fsp, dims, NULL) < 0) {
		rc = -1;
		goto out;
	}
	size_t esz = H5Tget_size(t);
	if (nd == 0) {
		unsigned char *buf = malloc(esz);
		if (!buf || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
			rc = -1;
		else
			ct_sha256_update(s, buf, esz);
		free(buf);
		goto out;
	}
	size_t row = esz;
	for (int i = 1; i < nd; i++)
		if (ct_mul_size(row, (size_t)dims[i], &row) < 0) {
			rc = -1;
			goto out;
		}
	if (dims[0] == 0 || row == 0)
		goto out;
	hsize_t per = (hsize_t)((64u << 20) / row);
	if (per < 1)
		per = 1;
	if (per > dims[0])
		per = dims[0];
	unsigned char *buf = malloc((size_t)per * row);
	if (!buf) {
		rc = -1;
		goto out;
	}
	for (hsize_t start = 0; rc == 0 && start < dims[0]; start += per) {
		hsize_t off[H5S_MAX_RANK] = { 0 }, cnt[H5S_MAX_RANK];
		memcpy(cnt, dims, sizeof(hsize_t) * (size_t)nd);
		off[0] = start;
		cnt[0] = dims[0] - start < per ? dims[0] - start : per;
		H5Sselect_hyperslab(fsp, H5S_SELECT_SET, off, NULL, cnt, NULL);
		hid_t msp = H5Screate_simple(nd, cnt, NULL);
		if (H5Dread(d, t, msp, fsp, H5P_DEFAULT, buf) < 0)
			rc = -1;
		else
			ct_sha256_update(s, buf, (size_t)cnt[0] * row);
		H5Sclose(msp);
	}
	free(buf);
out:
	H5Tclose(t);
	H5Sclose(fsp);
	return rc;
}

static int digest(hid_t obj, int is_dataset, char hex[65])
{
	ct_sha256 s;
	uint8_t out[32];
	ct_sha256_init(&s);
	hsize_t idx = 0;
	if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, hash_attr, &s) < 0)
		return -1;
	ct_sha256_update(&s, is_dataset ? "D" : "G", 1);
	if (is_dataset && hash_data(obj, &s) < 0)
		return -1;
	ct_sha256_final(&s, out);
	ct_sha256_hex(out, hex);
	return 0;
}

typedef struct names {
	char **v;
	int n, cap;
} names;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
	(void)g;
	names *l = data;
	if (info->type != H5L_TYPE_HARD)
		return 0;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 32;
		char **v = realloc(l->v, (size_t)cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		return -1;
	l->n++;
	return 0;
}

/* The root and every object below it, by path ("." first). */
static int list_objects(hid_t file, names *l)
{
	memset(l, 0, sizeof *l);
	H5L_info_t root = { .type = H5L_TYPE_HARD };
	if (collect(file, ".", &root, l) < 0 || H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, collect, l) < 0)
		return -1;
	return 0;
}

static void names_free(names *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

int ct_h5_checksum_stamp(hid_t file)
{
	names l;
	int rc = 0;
	if (list_objects(file, &l) < 0) {
		names_free(&l);
		return ct_error("cannot list the objects to checksum");
	}
	for (int i = 0; rc == 0 && i < l.n; i++) {
		hid_t o = H5Oopen(file, l.v[i], H5P_DEFAULT);
		if (o < 0) {
			rc = ct_error("cannot open '%s' to checksum it", l.v[i]);
			break;
		}
		H5I_type_t ty = H5Iget_type(o);
		char hex[65];
		if (ty == H5I_DATASET || ty == H5I_GROUP) {
			if (digest(o, ty == H5I_DATASET, hex) < 0)
				rc = ct_error("cannot checksum '%s' (disk full?)", l.v[i]);
			else if (ct_h5_set_str(o, CT_SUM_ATTR, hex) < 0)
				rc = -1;
		}
		H5Oclose(o);
	}
	names_free(&l);
	return rc;
}

int ct_h5_checksum_verify(hid_t file, int64_t *nchecked)
{
	int64_t n = 0;
	if (nchecked)
		*nchecked = 0;
	if (!ct_h5_attr_exists(file, CT_SUM_ATTR))
		return 0; /* a file without checksums: older ctfuse or not ours */
	names l;
	int rc = 0;
	if (list_objects(file, &l) < 0) {
		names_free(&l);
		return ct_error("cannot list its objects (corrupt)");
	}
	for (int i = 0; rc == 0 && i < l.n; i++) {
		const char *what = strcmp(l.v[i], ".") ? l.v[i] : "/";
		hid_t o = H5Oopen(file, l.v[i], H5P_DEFAULT);
		if (o < 0) {
			rc = ct_error("cannot open '%s' (corrupt)", what);
			break;
		}
		H5I_type_t ty = H5Iget_type(o);
		if (ty == H5I_DATASET || ty == H5I_GROUP) {
			char *want = NULL, hex[65];
			if (!ct_h5_attr_exists(o, CT_SUM_ATTR))
				rc = ct_error("'%s' has no checksum in a checksummed file (altered)", what);
			else if (ty == H5I_DATASET && ct_h5_check_stored(o, what) < 0)
				rc = -1; /* not hashed: terabytes of fill values would take hours */
			else if (ct_h5_get_str(o, CT_SUM_ATTR, &want) < 0 || digest(o, ty == H5I_DATASET, hex) < 0)
				rc = ct_error("cannot read '%s' to verify it (corrupt)", what);
			else if (strcmp(want, hex))
				rc = ct_error("'%s' does not match its checksum (corrupt; --no-verify to read it anyway)",
					      what);
			n++;
			free(want);
		}
		H5Oclose(o);
	}
	names_free(&l);
	if (nchecked)
		*nchecked = n;
	return rc;
}

/* --- whole-file trailer ---------------------------------------------------------------
 * After the HDF5 data, 48 bytes: the magic "CTFUSE-SHA256\0\0\0" and the SHA-256 of every byte
 * before the trailer. HDF5 ignores bytes past its end of file, so h5py and the HDF5 tools read
 * the file as before; a flipped byte anywhere, HDF5's own structures and free space included,
 * changes the sum (or the magic, and then the root's content_sha256 says one was expected). */
static const char trailer_magic[16] = "CTFUSE-SHA256\0\0";

void ct_h5_trailer_make(const void *buf, size_t len, unsigned char out[CT_H5_TRAILER])
{
	memcpy(out, trailer_magic, 16);
	ct_sha256 s;
	ct_sha256_init(&s);
	ct_sha256_update(&s, buf, len);
	ct_sha256_final(&s, out + 16);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* SHA-256 of the first `len` bytes of fd (from offset 0). */
static int hash_fd(int fd, off_t len, uint8_t out[32])
{
	ct_sha256 s;
	ct_sha256_init(&s);
	size_t cap = 1 << 20;
	unsigned char *buf = malloc(cap);
	if (!buf)
		return -1;
	off_t at = 0;
	while (at < len) {
		size_t want = (size_t)(len - at) < cap ? (size_t)(len - at) : cap;
		ssize_t r = pread(fd, buf, want, at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return -1;
		}
		ct_sha256_update(&s, buf, (size_t)r);
		at += r;
	}
	free(buf);
	ct_sha256_final(&s, out);
	return 0;
}

int ct_h5_trailer_append(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ct_error_errno("cannot checksum '%s'", path);
	struct stat st;
	unsigned char t[CT_H5_TRAILER];
	int rc = 0;
	memcpy(t, trailer_magic, 16);
	if (fstat(fd, &st) < 0 || hash_fd(fd, st.st_size, t + 16) < 0)
		rc = ct_error_errno("cannot checksum '%s'", path);
	else if (lseek(fd, 0, SEEK_END) < 0 || write_all(fd, t, sizeof t) < 0)
		rc = ct_error_errno("cannot write '%s'", path);
	if (close(fd) < 0 && rc == 0)
		rc = ct_error_errno("cannot write '%s'", path);
	return rc;
}

/* 1: trailer present and matching; 0: no trailer; -1: mismatch or read error (error set). */
static int trailer_check_sum(const unsigned char *tail, const uint8_t sum[32])
{
	if (memcmp(tail, trailer_magic, 16))
		return 0;
	if (memcmp(tail + 16, sum, 32))
		return ct_error("the file does not match its checksum (corrupt; --no-verify to read it anyway)");
	return 1;
}

int ct_h5_trailer_check_buf(const void *buf, size_t len)
{
	if (len < CT_H5_TRAILER)
		return 0;
	const unsigned char *tail = (const unsigned char *)buf + len - CT_H5_TRAILER;
	if (memcmp(tail, trailer_magic, 16))
		return 0;
	uint8_t sum[32];
	ct_sha256 s;
	ct_sha256_init(&s);
	ct_sha256_update(&s, buf, len - CT_H5_TRAILER);
	ct_sha256_final(&s, sum);
	return trailer_check_sum(tail, sum);
}

int ct_h5_trailer_check(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ct_error_errno("cannot open '%s'", path);
	struct stat st;
	unsigned char tail[CT_H5_TRAILER];
	uint8_t sum[32];
	int rc;
	if (fstat(fd, &st) < 0 || st.st_size < CT_H5_TRAILER) {
		rc = 0;
	} else if (pread(fd, tail, sizeof tail, st.st_size - CT_H5_TRAILER) != CT_H5_TRAILER) {
		rc = ct_error_errno("cannot read '%s'", path);
	} else if (memcmp(tail, trailer_magic, 16)) {
		rc = 0;
	} else if (hash_fd(fd, st.st_size - CT_H5_TRAILER, sum) < 0) {
		rc = ct_error_errno("cannot read '%s'", path);
	} else {
		rc = trailer_check_sum(tail, sum);
	}
	close(fd);
	return rc;
}

int ct_h5_reseal(const char *path)
{
	ct_h5_init();
	hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	if (f < 0)
		return ct_error("'%s': cannot open it to update its checksums", path);
	int rc = ct_h5_checksum_stamp(f);
	/* closing read-write cuts the file at HDF5's end of file: any old trailer goes */
	if (H5Fclose(f) < 0 && rc == 0)
		rc = ct_error("cannot write '%s'", path);
	if (rc == 0)
		rc = ct_h5_trailer_append(path);
	return rc;
}
