/* test_dicom.c - DICOM decoding (GDCM shim) against pydicom on pydicom's bundled test files:
 * modality values (Hounsfield units for CT) equal to pydicom's pixel_array + apply_modality_lut
 * for lossless syntaxes, within a stated bound for lossy ones; recognition by content; clear
 * errors for damaged and non-image files. Skips with a note where pydicom is missing. */
#include "test.h"

#include "core/error.h"
#include "image/dicom.h"

#include <math.h>

static char data_dir[1024];

/* Run the reference script on a file: 1 with the values (frames x rows x cols x samples,
 * float64) in *ref, 0 with a skip reason, -1 on failure. */
static int reference(const char *path, double **ref, int dims[4], char *why, size_t whylen)
{
	char cmd[2400];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/ref/pydicom_hu.py' '%s' 2>/dev/null", getenv("CT_TOP") ? getenv("CT_TOP") : ".",
		 path);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	char line[512];
	int rc = -1;
	if (!fgets(line, sizeof line, p)) {
		snprintf(why, whylen, "no output from the reference");
	} else if (!strncmp(line, "SKIP ", 5)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(why, whylen, "%.200s", line + 5);
		rc = 0;
	} else if (sscanf(line, "OK %d %d %d %d", &dims[0], &dims[1], &dims[2], &dims[3]) == 4) {
		size_t n = (size_t)dims[0] * dims[1] * dims[2] * dims[3];
		*ref = malloc(n * sizeof **ref);
		if (*ref && fread(*ref, sizeof **ref, n, p) == n)
			rc = 1;
		else
			snprintf(why, whylen, "short reference output");
	} else {
		line[strcspn(line, "\n")] = '\0';
		snprintf(why, whylen, "reference failed: %.200s", line);
	}
	pclose(p);
	return rc;
}

/* Compare our decode of `file` with pydicom's decode of `ref_file` (the same pixels stored
 * another way): the largest absolute difference must be <= tol (0: exact, in float32). */
static void compare(const char *file, const char *ref_file, double tol, const char *what)
{
	char path[2048], rpath[2048], why[600] = "";
	snprintf(path, sizeof path, "%s/%s", data_dir, file);
	snprintf(rpath, sizeof rpath, "%s/%s", data_dir, ref_file ? ref_file : file);
	double *ref = NULL;
	int dims[4];
	if (access(path, R_OK) != 0) {
		printf("ok %d - %s: %s # skip not shipped by this pydicom\n", ++t_count, file, what);
		return;
	}
	int r = reference(rpath, &ref, dims, why, sizeof why);
	if (r == 0) {
		printf("ok %d - %s: %s # skip %s\n", ++t_count, file, what, why);
		return;
	}
	if (!ok(r == 1, "%s: pydicom decodes the reference %s", file, why))
		return;
	ct_dicom d;
	int rc = ct_dicom_read(path, 0, &d);
	if (!ok(rc == 0, "%s: decodes (%s)", file, rc ? ct_last_error() : what)) {
		free(ref);
		return;
	}
	int same_shape = d.info.nframes == dims[0] && d.info.rows == dims[1] && d.info.cols == dims[2] &&
			 d.info.samples == dims[3];
	ok(same_shape, "%s: %d frames of %d x %d x %d as pydicom (%d x %d x %d x %d)", file, d.info.nframes,
	   d.info.rows, d.info.cols, d.info.samples, dims[0], dims[1], dims[2], dims[3]);
	if (same_shape) {
		double maxd = 0.0, sum = 0.0;
		size_t fn = (size_t)dims[1] * dims[2] * dims[3];
		for (int f = 0; f < dims[0]; f++) {
			const float *v = d.frames[f].data;
			for (size_t k = 0; k < fn; k++) {
				double e = fabs((double)v[k] - (double)(float)ref[(size_t)f * fn + k]);
				maxd = e > maxd ? e : maxd;
				sum += e;
			}
		}
		double mean = sum / ((double)fn * dims[0]);
		if (tol < 0.0)
			ok(mean <= -tol, "%s: mean difference from pydicom's within %g (lossy colour: JPEG ringing at colour "
			   "edges; mean %g, largest %g)", file, -tol, mean, maxd);
		else if (tol == 0.0)
			ok(maxd == 0.0, "%s: values equal pydicom's exactly (largest difference %g)", file, maxd);
		else
			ok(maxd <= tol, "%s: values within %g of pydicom's (lossy; largest difference %g)", file, tol, maxd);
	}
	free(ref);
	ct_dicom_free(&d);
}

static void expect_error(const char *file, int want_rc, const char *text, const char *what)
{
	char path[2048];
	snprintf(path, sizeof path, "%s/%s", data_dir, file);
	ct_dicom d;
	int rc = ct_dicom_read(path, 0, &d);
	ok(rc == want_rc && strstr(ct_last_error(), text) && strstr(ct_last_error(), file),
	   "%s: %s (%d: %s)", file, what, rc, ct_last_error());
	if (rc == 0)
		ct_dicom_free(&d);
}

static int sniff_file(const char *file)
{
	char path[2048];
	snprintf(path, sizeof path, "%s/%s", data_dir, file);
	unsigned char buf[256];
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return ct_dicom_sniff(buf, n);
}

int main(void)
{
	FILE *p = popen("/usr/bin/python3 \"${CT_TOP:-.}/tests/ref/pydicom_hu.py\" --dir 2>/dev/null", "r");
	if (!p || !fgets(data_dir, sizeof data_dir, p) || !strncmp(data_dir, "SKIP", 4) || data_dir[0] != '/') {
		printf("1..0 # skip python3-pydicom (and its test files) not installed\n");
		return 0;
	}
	pclose(p);
	data_dir[strcspn(data_dir, "\n")] = '\0';

	/* Recognition by content. */
	ok(sniff_file("CT_small.dcm") == 1, "a Part 10 file (DICM at 128) is recognised");
	ok(sniff_file("ExplVR_LitEndNoMeta.dcm") == 1, "a data set without preamble (explicit little endian) is recognised");
	ok(sniff_file("ExplVR_BigEndNoMeta.dcm") == 1, "a data set without preamble (explicit big endian) is recognised");
	ok(sniff_file("README.txt") == 0, "a text file is not DICOM");
	ok(ct_dicom_sniff("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16) == 0, "a PNG header is not DICOM");

	/* Lossless: exactly pydicom's values. */
	compare("CT_small.dcm", NULL, 0, "CT, explicit VR little endian, rescale to HU");
	compare("MR_small.dcm", NULL, 0, "explicit VR little endian");
	compare("MR_small_implicit.dcm", NULL, 0, "implicit VR little endian");
	compare("MR_small_bigendian.dcm", NULL, 0, "explicit VR big endian");
	compare("MR_small_expb.dcm", NULL, 0, "explicit VR big endian");
	compare("MR_small_padded.dcm", NULL, 0, "padded pixel data");
	compare("ExplVR_LitEndNoMeta.dcm", NULL, 0, "no preamble, no meta header");
	compare("ExplVR_BigEndNoMeta.dcm", NULL, 0, "no preamble, big endian, RGB");
	compare("ExplVR_BigEnd.dcm", NULL, 0, "big endian RGB");
	compare("MR_small_RLE.dcm", NULL, 0, "RLE lossless");
	compare("MR_small_RLE.dcm", "MR_small.dcm", 0, "RLE equals the uncompressed original");
	compare("MR_small_jp2klossless.dcm", NULL, 0, "JPEG 2000 lossless");
	compare("MR_small_jp2klossless.dcm", "MR_small.dcm", 0, "JPEG 2000 lossless equals the original");
	compare("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm", 0, "JPEG-LS lossless equals the original");
	compare("image_dfl.dcm", NULL, 0, "deflated explicit VR little endian");
	compare("rtdose.dcm", NULL, 0, "multi-frame (15 frames), 32-bit");
	compare("rtdose_rle.dcm", NULL, 0, "multi-frame RLE");
	compare("rtdose_expb.dcm", NULL, 0, "multi-frame big endian");
	compare("liver_1frame.dcm", NULL, 0, "1-bit segmentation");
	compare("SC_rgb.dcm", NULL, 0, "RGB 8-bit");
	compare("SC_rgb_16bit.dcm", NULL, 0, "RGB 16-bit");
	compare("SC_rgb_rle_2frame.dcm", NULL, 0, "RGB RLE, 2 frames");
	compare("JPGLosslessP14SV1_1s_1f_8b.dcm", NULL, 0, "JPEG lossless process 14");
	compare("JPEG-LL.dcm", NULL, 0, "JPEG lossless, 16-bit");

	/* Lossy: a bound. Two JPEG decoders (GDCM's libjpeg and Pillow's libjpeg-turbo) may
	 * round the inverse DCT differently: +-1 per stored value times the rescale slope. Against
	 * an uncompressed original, the compression error itself: mean absolute difference <= 4
	 * (8-bit colour). */
	compare("JPEG2000.dcm", NULL, 1.0, "JPEG 2000");
	compare("SC_rgb_jpeg_gdcm.dcm", NULL, 1.0, "JPEG baseline RGB");
	/* Lossy colour against the uncompressed original (YCbCr converted to RGB): the JPEG error. */
	compare("SC_rgb_dcmtk_+eb+cy+n1.dcm", "SC_rgb_dcmtk_+eb+cr.dcm", -4.0, "JPEG baseline YBR_FULL vs the original");
	compare("SC_rgb_dcmtk_+eb+cy+s2.dcm", "SC_rgb_dcmtk_+eb+cr.dcm", -4.0, "JPEG baseline YBR_FULL_422 vs the original");
	compare("SC_rgb_dcmtk_+eb+cy+n2.dcm", "SC_rgb_dcmtk_+eb+cr.dcm", -4.0, "JPEG baseline YBR, another quality");

	/* Damaged and non-image files: a clear error naming the file. */
	expect_error("MR_truncated.dcm", -1, "damaged", "a truncated file fails as damaged");
	expect_error("rtplan.dcm", -2, "no pixel data", "an RT plan is no image");
	expect_error("README.txt", -1, "DICOM", "a text file fails");
	expect_error("SC_rgb_rle_32bit.dcm", -1, "unsupported", "RLE with 32-bit colour is refused (GDCM decodes it wrongly)");
	expect_error("SC_rgb_rle_16bit.dcm", -1, "unsupported", "RLE with 16-bit colour is refused (GDCM decodes it wrongly)");
	printf("1..%d\n", t_count);
	return t_failed ? 1 : 0;
}
