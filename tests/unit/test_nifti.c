/* test_nifti.c - NIfTI-1/2 volumes (nifti_clib) against nibabel: the slices, in the orientation
 * lib/image/nifti.h documents (nibabel's as_closest_canonical, flipped to rows A->P and columns
 * R->L), equal nibabel's get_fdata exactly (in float32), on nibabel's bundled files and on
 * volumes nibabel writes here (scaled, permuted axes, NIfTI-2 gzip, no qform/sform). Also slice
 * selection, recognition by content and damaged files. Skips where nibabel is missing. */
#include "test.h"

#include "core/error.h"
#include "image/nifti.h"

#include <math.h>

static const char *top(void)
{
	return getenv("CT_TOP") ? getenv("CT_TOP") : ".";
}

static int reference(const char *path, double **ref, int dims[3], char *why, size_t whylen)
{
	char cmd[2400];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/ref/nibabel_slices.py' '%s' 2>/dev/null", top(), path);
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
	} else if (sscanf(line, "OK %d %d %d", &dims[0], &dims[1], &dims[2]) == 3) {
		size_t n = (size_t)dims[0] * dims[1] * dims[2];
		*ref = malloc(n * sizeof **ref);
		if (*ref && fread(*ref, sizeof **ref, n, p) == n)
			rc = 1;
		else
			snprintf(why, whylen, "short reference output");
	} else {
		snprintf(why, whylen, "reference failed: %.200s", line);
	}
	pclose(p);
	return rc;
}

static void compare(const char *path, const char *what)
{
	const char *file = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char why[600] = "";
	double *ref = NULL;
	int dims[3];
	int r = reference(path, &ref, dims, why, sizeof why);
	if (r == 0) {
		printf("ok %d - %s: %s # skip %s\n", ++t_count, file, what, why);
		return;
	}
	if (!ok(r == 1, "%s: nibabel reads it %s", file, why))
		return;
	ct_nifti v;
	int rc = ct_nifti_read(path, 0, NULL, &v);
	if (!ok(rc == 0, "%s: reads (%s)", file, rc ? ct_last_error() : what)) {
		free(ref);
		return;
	}
	int same = v.nslices == dims[0] && v.nslices > 0 && v.slices[0].shape[0] == dims[1] &&
		   v.slices[0].shape[1] == dims[2];
	ok(same, "%s: %lld slices of %lld x %lld as nibabel (%d x %d x %d)", file, (long long)v.nslices,
	   (long long)(v.nslices ? v.slices[0].shape[0] : 0), (long long)(v.nslices ? v.slices[0].shape[1] : 0),
	   dims[0], dims[1], dims[2]);
	if (same) {
		double maxd = 0.0;
		size_t fn = (size_t)dims[1] * dims[2];
		for (int s = 0; s < dims[0]; s++)
			for (size_t k = 0; k < fn; k++) {
				double e = fabs((double)((float *)v.slices[s].data)[k] - (double)(float)ref[s * fn + k]);
				maxd = e > maxd ? e : maxd;
			}
		ok(maxd == 0.0, "%s: slices equal nibabel's exactly in the documented orientation (largest difference %g)",
		   file, maxd);
	}
	free(ref);
	ct_nifti_free(&v);
}

int main(void)
{
	char dir[1024], cmd[2400];
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/ref/nibabel_slices.py' --dir 2>/dev/null", top());
	FILE *p = popen(cmd, "r");
	if (!p || !fgets(dir, sizeof dir, p) || dir[0] != '/') {
		printf("1..0 # skip python3-nibabel not installed\n");
		return 0;
	}
	pclose(p);
	dir[strcspn(dir, "\n")] = '\0';
	const char *tmp = t_tmpdir();
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/ref/nibabel_slices.py' --make '%s'", top(), tmp);
	ok(system(cmd) == 0, "nibabel writes the generated volumes");

	/* Selection (pure logic). */
	ct_slice_select s;
	ok(ct_slice_select_parse("range:2-8,every:3", &s) == 0 && s.first == 2 && s.last == 8 && s.every == 3,
	   "range:2-8,every:3 parses");
	ct_tensor dummy = { 0 };
	int kept[10], nk = 0;
	for (int i = 0; i < 10; i++)
		if (ct_slice_keep(&s, i, &dummy))
			kept[nk++] = i;
	ok(nk == 3 && kept[0] == 2 && kept[1] == 5 && kept[2] == 8, "keeps slices 2, 5, 8 of 0..9");
	ok(ct_slice_select_parse("range:5-2", &s) < 0, "a reversed range is refused");
	ok(ct_slice_select_parse("every:0", &s) < 0, "every:0 is refused");
	ok(ct_slice_select_parse("lung:1.5", &s) < 0, "a lung fraction over 1 is refused");
	ok(ct_slice_select_parse("sometimes", &s) < 0 && strstr(ct_last_error(), "sometimes"), "an unknown term is named");
	float hu[4] = { -1000.0f, -800.0f, -500.0f, 40.0f };
	int64_t shp[3] = { 2, 2, 1 };
	ct_tensor t = ct_tensor_wrap(hu, CT_F32, 3, shp);
	ok(fabs(ct_lung_fraction(&t) - 0.5) < 1e-12, "lung fraction counts -950..-400 HU (2 of 4)");
	ct_slice_select_parse("lung:0.6", &s);
	ok(!ct_slice_keep(&s, 0, &t), "a slice under the lung fraction is dropped");

	const char *files[] = { "anatomical.nii", "example4d.nii.gz", "example_nifti2.nii.gz", "functional.nii",
				"reoriented_anat_moved.nii", "standard.nii.gz" };
	char path[2048];
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		compare(path, "nibabel's test file");
	}
	const char *made[] = { "scaled_sagittal.nii", "float_lpi.nii.gz", "noform.nii" };
	for (size_t i = 0; i < sizeof made / sizeof *made; i++) {
		snprintf(path, sizeof path, "%s/%s", tmp, made[i]);
		compare(path, "generated by nibabel");
	}

	/* By content, whatever the name; damaged files. */
	snprintf(path, sizeof path, "%s/example4d.nii.gz", dir);
	ok(ct_nifti_sniff_file(path) == 1, "a gzip-compressed NIfTI-1 file is recognised");
	snprintf(path, sizeof path, "%s/example_nifti2.nii.gz", dir);
	ok(ct_nifti_sniff_file(path) == 1, "a gzip-compressed NIfTI-2 file is recognised");
	snprintf(path, sizeof path, "%s/nifti1.hdr", dir);
	ok(ct_nifti_sniff_file(path) == 0, "a two-file header (.hdr) is not taken as a single-file NIfTI");
	snprintf(cmd, sizeof cmd, "head -c 400 '%s/anatomical.nii' > '%s/cut.bin'", dir, tmp);
	ok(system(cmd) == 0, "a truncated copy is made");
	snprintf(path, sizeof path, "%s/cut.bin", tmp);
	ct_nifti v;
	ok(ct_nifti_sniff_file(path) == 1 && ct_nifti_read(path, 0, NULL, &v) < 0 &&
		   strstr(ct_last_error(), "truncated") && strstr(ct_last_error(), "cut.bin"),
	   "a truncated file (named .bin) is recognised and fails naming the file (%s)", ct_last_error());
	snprintf(path, sizeof path, "%s/resampled_anat_moved.nii", dir);
	ok(ct_nifti_read(path, 0, NULL, &v) < 0 && strstr(ct_last_error(), "not finite"),
	   "a volume with NaN voxels fails with a clear message");
	snprintf(path, sizeof path, "%s/anatomical.nii", dir);
	ok(ct_nifti_read(path, 100, NULL, &v) < 0 && strstr(ct_last_error(), "limit"), "--max-pixels bounds a slice");
	ct_slice_select_parse("range:3-", &s);
	ok(ct_nifti_read(path, 0, &s, &v) == 0 && v.nslices == 22 && v.index[0] == 3, "range:3- keeps slices 3..24");
	ct_nifti_free(&v);
	printf("1..%d\n", t_count);
	return t_failed ? 1 : 0;
}
