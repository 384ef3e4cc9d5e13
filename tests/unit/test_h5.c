/* test_h5.c - HDF5 helpers and the dataset layer: round trips, safe creation,
 * refusal of bad files, byte-identical output, sample-metadata validation. */
#include "test.h"

#include "core/error.h"
#include "data/dataset.h"
#include "data/features.h"
#include "io/h5.h"

#include <sys/stat.h>

static char *path_in(const char *name)
{
	static char buf[8][512];
	static int k;
	char *p = buf[k++ % 8];
	snprintf(p, 512, "%s/%s", t_tmpdir(), name);
	return p;
}

static int file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static int count_tmp_files(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp- > %s/count.txt", t_tmpdir(), t_tmpdir());
	if (system(cmd) < 0)
		return -1;
	char *p = path_in("count.txt");
	FILE *f = fopen(p, "r");
	int n = -1;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static int write_sample_file(const char *p, int force, int seedval)
{
	ct_h5 h;
	if (ct_h5_create(&h, p, force) < 0)
		return -1;
	ct_tensor t;
	ct_tensor_alloc4(&t, CT_U8, 5, 4, 3, 2);
	for (int i = 0; i < 5 * 4 * 3 * 2; i++)
		((uint8_t *)t.data)[i] = (uint8_t)(i * 7 + seedval);
	hid_t d = ct_h5_create_dataset(h.file, "images", CT_U8, 4, t.shape, 1, 1);
	int rc = ct_h5_write_rows_z(d, 0, &t, 1);
	H5Dclose(d);
	char *names[3] = { "a", "", "päivä" };
	rc |= ct_h5_write_strings(h.file, "names", names, 3);
	rc |= ct_h5_set_str(h.file, "kind", "test");
	rc |= ct_h5_set_int(h.file, "n", 42);
	rc |= ct_h5_set_double(h.file, "x", 0.25);
	ct_tensor_free(&t);
	if (rc) {
		ct_h5_abort(&h);
		return -1;
	}
	return ct_h5_commit(&h);
}

static void test_round_trip(void)
{
	char *p = path_in("rt.h5");
	ok(write_sample_file(p, 0, 1) == 0, "a new file is created and committed");
	ok(count_tmp_files() == 0, "no temporary file is left after commit");
	ct_h5 h;
	ok(ct_h5_open(&h, p) == 0, "the committed file opens");
	ct_tensor t;
	ok(ct_h5_read(h.file, "images", CT_U8, &t) == 0 && t.ndim == 4 && t.shape[0] == 5 && t.shape[3] == 2,
	   "rows written with parallel compression read back with the right shape");
	int same = 1;
	for (int i = 0; i < 120; i++)
		same &= ((uint8_t *)t.data)[i] == (uint8_t)(i * 7 + 1);
	ok(same, "and the right values");
	ct_tensor_free(&t);
	ct_tensor part;
	ct_tensor_alloc4(&part, CT_F32, 2, 4, 3, 2);
	hid_t d = H5Dopen2(h.file, "images", H5P_DEFAULT);
	ok(ct_h5_read_rows(d, 3, &part) == 0 && ((float *)part.data)[0] == (float)(uint8_t)(3 * 24 * 7 + 1),
	   "a row range reads with conversion to float");
	ok(ct_h5_read_rows(d, 4, &part) < 0 && strstr(ct_last_error(), "outside"), "reading past the end is refused");
	H5Dclose(d);
	ct_tensor_free(&part);
	char **s;
	int64_t n;
	ok(ct_h5_read_strings(h.file, "names", &s, &n) == 0 && n == 3 && !strcmp(s[0], "a") && !strcmp(s[1], "") &&
		   !strcmp(s[2], "päivä"),
	   "string lists round-trip, including empty and UTF-8 strings");
	ct_strings_free(s, n);
	char *str;
	int64_t iv;
	double dv;
	ok(ct_h5_get_str(h.file, "kind", &str) == 0 && !strcmp(str, "test"), "string attribute round-trips");
	free(str);
	ok(ct_h5_get_int(h.file, "n", &iv) == 0 && iv == 42, "integer attribute round-trips");
	ok(ct_h5_get_double(h.file, "x", &dv) == 0 && dv == 0.25, "double attribute round-trips");
	ok(ct_h5_get_int(h.file, "missing", &iv) < 0 && strstr(ct_last_error(), "missing"),
	   "a missing attribute is an error naming it");
	ct_h5_close(&h);
}

static void test_fixed_strings(void)
{
	char *p = path_in("fixed.h5");
	ct_h5_init();
	hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	hid_t t = H5Tcopy(H5T_C_S1);
	H5Tset_size(t, 8);
	H5Tset_strpad(t, H5T_STR_SPACEPAD);
	hsize_t dims[1] = { 2 };
	hid_t sp = H5Screate_simple(1, dims, NULL);
	hid_t d = H5Dcreate2(f, "s", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, "abc     conv2d_1");
	hid_t as = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(f, "kind", t, as, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, t, "images  ");
	H5Aclose(a);
	H5Sclose(as);
	H5Dclose(d);
	H5Sclose(sp);
	H5Tclose(t);
	H5Fclose(f);
	ct_h5 h;
	char **s;
	int64_t n;
	char *k;
	ok(ct_h5_open(&h, p) == 0 && ct_h5_read_strings(h.file, "s", &s, &n) == 0 && n == 2 && !strcmp(s[0], "abc") &&
		   !strcmp(s[1], "conv2d_1"),
	   "fixed-length space-padded strings are read and trimmed");
	ct_strings_free(s, n);
	ok(ct_h5_get_str(h.file, "kind", &k) == 0 && !strcmp(k, "images"), "fixed-length string attribute is read");
	free(k);
	ct_h5_close(&h);
}

static void test_safe_create(void)
{
	char *p = path_in("exists.h5");
	ok(write_sample_file(p, 0, 1) == 0, "first write succeeds");
	ok(write_sample_file(p, 0, 2) < 0 && strstr(ct_last_error(), "exists") && strstr(ct_last_error(), "--force"),
	   "an existing output is refused without force, naming --force");
	ok(write_sample_file(p, 1, 2) == 0, "force overwrites");
	ct_h5 h;
	ok(ct_h5_create(&h, path_in("aborted.h5"), 0) == 0, "create for abort");
	ct_h5_abort(&h);
	ok(!file_exists(path_in("aborted.h5")) && count_tmp_files() == 0,
	   "an aborted file leaves neither the output nor a temporary file");
	ok(ct_h5_create(&h, "/nonexistent-dir-ctfuse/x.h5", 0) < 0 && strstr(ct_last_error(), "/nonexistent-dir-ctfuse/x.h5") &&
		   strstr(ct_last_error(), "No such file"),
	   "an unwritable output fails at creation with the path and the cause");
	char *a = path_in("same1.h5"), *b = path_in("same2.h5");
	write_sample_file(a, 0, 3);
	write_sample_file(b, 0, 3);
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
	ok(system(cmd) == 0, "the same content gives byte-identical files (no timestamps)");
}

static void test_bad_files(void)
{
	ct_h5 h;
	ok(ct_h5_open(&h, path_in("nope.h5")) < 0 && strstr(ct_last_error(), "cannot open") &&
		   strstr(ct_last_error(), "No such file"),
	   "a missing file: cannot open, with the cause");
	char *e = path_in("empty.h5");
	fclose(fopen(e, "w"));
	ok(ct_h5_open(&h, e) < 0 && strstr(ct_last_error(), "empty file"), "an empty file is refused as empty");
	char *txt = path_in("text.h5");
	FILE *f = fopen(txt, "w");
	fputs("hello, not hdf5\n", f);
	fclose(f);
	ok(ct_h5_open(&h, txt) < 0 && strstr(ct_last_error(), "not an HDF5 file"), "a text file is not HDF5");
	ok(ct_h5_open(&h, t_tmpdir()) < 0, "a directory is refused");
	/* Truncations at several points: open or read must fail cleanly. */
	char *full = path_in("full.h5");
	write_sample_file(full, 1, 5);
	struct stat st;
	stat(full, &st);
	int all_fail = 1;
	for (int k = 1; k < 8; k++) {
		char *cut = path_in("cut.h5");
		char cmd[1200];
		snprintf(cmd, sizeof cmd, "head -c %lld %s > %s", (long long)(st.st_size * k / 8), full, cut);
		if (system(cmd) != 0)
			all_fail = 0;
		int failed = 0;
		if (ct_h5_open(&h, cut) < 0) {
			failed = 1;
		} else {
			ct_tensor t;
			char **s;
			int64_t n;
			if (ct_h5_read(h.file, "images", CT_U8, &t) < 0 || ct_h5_read_strings(h.file, "names", &s, &n) < 0)
				failed = 1;
			else {
				ct_tensor_free(&t);
				ct_strings_free(s, n);
			}
			ct_h5_close(&h);
		}
		all_fail &= failed;
	}
	ok(all_fail, "a file truncated at 1/8 .. 7/8 of its size fails to open or read, without crashing");
}

static int write_samples(const char *p, int bad_label, const char *bad_split, const char *kind)
{
	ct_h5 h;
	ct_samples s;
	ct_samples_alloc(&s, 3, 2);
	s.class_names[0] = strdup("a");
	s.class_names[1] = strdup("b");
	for (int i = 0; i < 3; i++) {
		char nm[16];
		snprintf(nm, sizeof nm, "img%d", i);
		s.names[i] = strdup(nm);
		s.groups[i] = strdup(i < 2 ? "P1" : "P2");
		s.splits[i] = strdup(i == 2 && bad_split ? bad_split : "train");
		s.labels[i] = i == 1 ? bad_label : 0;
	}
	ct_run run = { "test", "test cmd", "{}" };
	int rc = ct_h5_create(&h, p, 1);
	if (rc == 0)
		rc = ct_file_stamp(h.file, kind, &run, NULL, 0) | ct_samples_write(h.file, &s);
	if (rc == 0)
		rc = ct_h5_commit(&h);
	else
		ct_h5_abort(&h);
	ct_samples_free(&s);
	return rc;
}

static void test_samples(void)
{
	char *p = path_in("samples.h5");
	ct_h5 h;
	ct_samples s;
	ok(write_samples(p, 1, NULL, "images") == 0, "samples written");
	ok(ct_h5_open(&h, p) == 0 && ct_file_check(h.file, "images") == 0 && ct_samples_read(h.file, &s) == 0 &&
		   s.n == 3 && s.nclasses == 2 && s.labels[1] == 1 && !strcmp(s.groups[2], "P2"),
	   "samples round-trip and the kind checks");
	ok(ct_samples_count(&s, "train", 0) == 2 && ct_samples_count(&s, NULL, 1) == 1, "counts by split and class");
	ct_samples_free(&s);
	ok(ct_file_check(h.file, "features") < 0 && strstr(ct_last_error(), "expected 'features'"),
	   "a file of another kind is refused");
	char **prov;
	int64_t np;
	ok(ct_provenance_read(h.file, &prov, &np) == 0 && np == 1 && strstr(prov[0], "\"command\":\"test cmd\""),
	   "the provenance entry records the command");
	ct_strings_free(prov, np);
	ct_h5_close(&h);
	write_samples(p, 5, NULL, "images");
	ct_h5_open(&h, p);
	ok(ct_samples_read(h.file, &s) < 0 && strstr(ct_last_error(), "label 5"), "a label outside the classes is refused");
	ct_h5_close(&h);
	write_samples(p, 0, "training", "images");
	ct_h5_open(&h, p);
	ok(ct_samples_read(h.file, &s) < 0 && strstr(ct_last_error(), "unknown split 'training'"),
	   "an unknown split name is refused");
	ct_h5_set_int(h.file, "schema_version", 1); /* read-only: must fail quietly */
	ct_h5_close(&h);
	ct_h5_open_rw(&h, p);
	ct_h5_set_int(h.file, "schema_version", 99);
	ct_h5_close(&h);
	ct_h5_reseal(p); /* a valid file of a newer version, not a damaged one */
	ct_h5_open(&h, p);
	ok(ct_file_check(h.file, NULL) < 0 && strstr(ct_last_error(), "schema version 99"),
	   "a newer schema version is refused");
	ct_h5_close(&h);
}

static void test_features(void)
{
	char *p = path_in("feat.h5");
	ct_features f;
	memset(&f, 0, sizeof f);
	ct_samples_alloc(&f.s, 2, 2);
	f.s.class_names[0] = strdup("a");
	f.s.class_names[1] = strdup("b");
	for (int i = 0; i < 2; i++) {
		f.s.names[i] = strdup(i ? "y" : "x");
		f.s.groups[i] = strdup("");
		f.s.splits[i] = strdup("test");
		f.s.labels[i] = i;
	}
	ct_tensor_alloc3(&f.x, CT_F32, 2, 5, 1);
	f.x.ndim = 2;
	for (int i = 0; i < 10; i++)
		((float *)f.x.data)[i] = (float)i * 0.5f;
	ct_fblock b[2] = { { "m/a/avg", "m", "a", "avg", "", 0, 3 }, { "m/b/avg", "m", "b", "avg", "", 3, 2 } };
	f.blocks = b;
	f.nblocks = 2;
	ct_run run = { "test", "t", "{}" };
	ct_h5 h;
	int rc = ct_h5_create(&h, p, 1);
	rc |= ct_features_write(&h, &f, &run);
	rc |= ct_h5_commit(&h);
	f.blocks = NULL;
	f.nblocks = 0;
	ct_features_free(&f);
	ok(rc == 0, "features file written");
	ct_features g;
	ok(ct_features_read(p, &g) == 0 && g.x.shape[1] == 5 && g.nblocks == 2 && g.blocks[1].start == 3 &&
		   ((float *)g.x.data)[7] == 3.5f,
	   "features and blocks round-trip");
	ct_features_free(&g);
	ct_h5_open_rw(&h, p);
	hid_t d = H5Dopen2(h.file, "features", H5P_DEFAULT);
	float nan = 0.0f / 0.0f;
	hsize_t off[2] = { 1, 2 }, cnt[2] = { 1, 1 };
	hid_t fs = H5Dget_space(d), ms = H5Screate_simple(2, cnt, NULL);
	H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
	H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &nan);
	H5Sclose(fs);
	H5Sclose(ms);
	H5Dclose(d);
	ct_h5_close(&h);
	ct_h5_reseal(p); /* written with the NaN: the reader must find it */
	ok(ct_features_read(p, &g) < 0 && strstr(ct_last_error(), "'y'") && strstr(ct_last_error(), "non-finite"),
	   "a NaN feature is refused, naming the sample");
}

/* A dataset that declares more than its file can hold is refused before anything is allocated:
 * unwritten chunks (read as fill values), external storage; a small, highly compressed one and
 * a fully written one are read. */
static void test_unstored(void)
{
	const char *p = path_in("unstored.h5");
	hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	hsize_t big[2] = { 8, (hsize_t)1 << 24 }, chunk[2] = { 1, (hsize_t)1 << 16 };
	hid_t sp = H5Screate_simple(2, big, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_chunk(dcpl, 2, chunk);
	H5Pset_deflate(dcpl, 1);
	hid_t d = H5Dcreate2(f, "sparse", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	float one = 1;
	hsize_t off[2] = { 0, 0 }, cnt[2] = { 1, 1 };
	hid_t ms = H5Screate_simple(1, cnt, NULL);
	H5Sselect_hyperslab(sp, H5S_SELECT_SET, off, NULL, cnt, NULL);
	H5Dwrite(d, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, &one);
	H5Dclose(d);
	H5Sclose(sp);
	H5Pclose(dcpl);
	/* ms (one value) is used again below */
	/* all zeros, compressed: a genuine ratio of several hundred, 4 MB declared */
	hsize_t zdims[2] = { 16, 65536 }, zchunk[2] = { 1, 65536 };
	sp = H5Screate_simple(2, zdims, NULL);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_chunk(dcpl, 2, zchunk);
	H5Pset_deflate(dcpl, 9);
	d = H5Dcreate2(f, "zeros", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	float *z = calloc(16 * 65536, sizeof *z);
	H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, z);
	free(z);
	H5Dclose(d);
	H5Pclose(dcpl);
	H5Sclose(sp);
	/* contiguous, stored in another file */
	hsize_t edims[1] = { (hsize_t)1 << 26 };
	sp = H5Screate_simple(1, edims, NULL);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_external(dcpl, "/dev/zero", 0, edims[0] * 4);
	d = H5Dcreate2(f, "external", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	H5Dclose(d);
	H5Pclose(dcpl);
	H5Sclose(sp);
	ct_tensor t;
	ok(ct_h5_read(f, "sparse", CT_F32, &t) < 0 && strstr(ct_last_error(), "'sparse'") &&
		   strstr(ct_last_error(), "declares 536870912 bytes") && !t.data,
	   "a chunked dataset of 512 MB with one chunk written is refused: %s", ct_last_error());
	ok(ct_h5_read(f, "external", CT_F32, &t) < 0 && strstr(ct_last_error(), "'external'") &&
		   strstr(ct_last_error(), "external storage"),
	   "a dataset stored in another file is refused: %s", ct_last_error());
	int rc = ct_h5_read(f, "zeros", CT_F32, &t);
	ok(rc == 0 && t.ndim == 2 && t.shape[1] == 65536 && ((float *)t.data)[12345] == 0,
	   "an all-zero 4 MB dataset compressed to a few kB is read");
	if (rc == 0)
		ct_tensor_free(&t);
	H5Fclose(f);

	/* checksummed and sealed (as a tool writes it): the open accepts it (the trailer matches),
	 * the readers refuse the dataset, and the object checksums (ct-info --verify) refuse it
	 * before hashing its fill values */
	const char *q = path_in("unstored-sealed.h5");
	ct_h5 h;
	ok(ct_h5_create(&h, q, 1) == 0, "a sealed file with a 64 MB dataset of one written chunk: created");
	hsize_t sdims[2] = { 16, (hsize_t)1 << 20 }, schunk[2] = { 1, (hsize_t)1 << 16 };
	sp = H5Screate_simple(2, sdims, NULL);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	H5Pset_chunk(dcpl, 2, schunk);
	H5Pset_deflate(dcpl, 1);
	d = H5Dcreate2(h.file, "sparse", H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	H5Sselect_hyperslab(sp, H5S_SELECT_SET, off, NULL, cnt, NULL);
	H5Dwrite(d, H5T_NATIVE_FLOAT, ms, sp, H5P_DEFAULT, &one);
	H5Dclose(d);
	H5Pclose(dcpl);
	H5Sclose(sp);
	H5Sclose(ms);
	ok(ct_h5_commit(&h) == 0, "... committed with its checksums");
	ct_h5 h2;
	int64_t nchecked = 0;
	if (ok(ct_h5_open(&h2, q) == 0, "... its trailer matches at open")) {
		ok(ct_h5_read(h2.file, "sparse", CT_F32, &t) < 0 && strstr(ct_last_error(), "declares 67108864 bytes"),
		   "... reading the dataset is refused");
		ok(ct_h5_checksum_verify(h2.file, &nchecked) < 0 &&
			   strstr(ct_last_error(), "'sparse' declares 67108864 bytes"),
		   "... verifying its checksums refuses it unhashed: %s", ct_last_error());
		ct_h5_close(&h2);
	}
}

int main(void)
{
	test_round_trip();
	test_fixed_strings();
	test_safe_create();
	test_bad_files();
	test_samples();
	test_features();
	test_unstored();
	TEST_DONE();
}
