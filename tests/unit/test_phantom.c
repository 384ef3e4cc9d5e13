/* test_phantom.c - the synthetic chest CT: determinism, plausible densities, lesions only inside
 * the lungs, and no class shortcut outside them. */
#include "core/error.h"
#include "data/phantom_set.h"
#include "image/phantom.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define W 160
#define H 160
#define NPIX (W * H)

static float img_a[NPIX], img_b[NPIX];
static uint8_t mask_a[NPIX], mask_b[NPIX];

typedef struct stats {
	double out_mean, out_sd, in_mean;
	long nin;
} stats;

static stats slice_stats(const float *img, const uint8_t *mask)
{
	double so = 0, so2 = 0, si = 0;
	long no = 0, ni = 0;
	for (int i = 0; i < NPIX; i++) {
		if (mask[i]) {
			si += img[i];
			ni++;
		} else {
			so += img[i];
			so2 += (double)img[i] * img[i];
			no++;
		}
	}
	stats s;
	s.out_mean = so / no;
	s.out_sd = sqrt(so2 / no - s.out_mean * s.out_mean);
	s.in_mean = ni ? si / ni : 0.0;
	s.nin = ni;
	return s;
}

/* Mean and standard deviation of n values. */
static void mean_sd(const double *v, int n, double *m, double *sd)
{
	double s = 0, s2 = 0;
	for (int i = 0; i < n; i++)
		s += v[i];
	*m = s / n;
	for (int i = 0; i < n; i++)
		s2 += (v[i] - *m) * (v[i] - *m);
	*sd = sqrt(s2 / (n - 1));
}

/* Welch's t statistic of group b minus group a. */
static double welch_t(const double *a, const double *b, int n)
{
	double ma, sa, mb, sb;
	mean_sd(a, n, &ma, &sa);
	mean_sd(b, n, &mb, &sb);
	return (mb - ma) / sqrt((sa * sa + sb * sb) / n + 1e-12);
}

static void test_determinism(const ct_phantom_opts *o)
{
	ct_phantom_opts o2 = *o;
	ok(ct_phantom_render_into(o, 3, 1, 1, img_a, mask_a) == 0, "renders a lesion slice");
	ok(ct_phantom_render_into(o, 3, 1, 1, img_b, mask_b) == 0, "renders it again");
	ok(!memcmp(img_a, img_b, sizeof img_a) && !memcmp(mask_a, mask_b, sizeof mask_a),
	   "the same seed, patient and slice give bit-identical pixels and mask");
	o2.seed = o->seed + 1;
	ct_phantom_render_into(&o2, 3, 1, 1, img_b, mask_b);
	long diff = 0;
	for (int i = 0; i < NPIX; i++)
		diff += img_a[i] != img_b[i];
	ok(diff > NPIX / 2, "another seed gives another image (%ld of %d pixels differ)", diff, NPIX);
	ct_phantom_render_into(o, 4, 1, 1, img_b, NULL);
	ok(memcmp(img_a, img_b, sizeof img_a) != 0, "another patient gives another image");

	/* The batch renderer runs slices on OpenMP threads; each must equal its serial render. */
	enum { NB = 8 };
	int pat[NB], sl[NB], les[NB];
	for (int i = 0; i < NB; i++) {
		pat[i] = i / 2;
		sl[i] = i % o->slices_per_patient;
		les[i] = i & 1;
	}
	ct_tensor batch = { 0 }, masks = { 0 };
#ifdef _OPENMP
	omp_set_num_threads(2);
#endif
	ok(ct_phantom_render_batch(o, NB, pat, sl, les, &batch, &masks) == 0, "renders a batch in parallel");
	int same = batch.ndim == 4 && batch.shape[0] == NB && batch.shape[1] == H && batch.shape[2] == W &&
		   batch.shape[3] == 1 && batch.dtype == CT_F32;
	for (int i = 0; i < NB && same; i++) {
		ct_phantom_render_into(o, pat[i], sl[i], les[i], img_a, mask_a);
		same = !memcmp(img_a, (float *)batch.data + (size_t)i * NPIX, sizeof img_a) &&
		       !memcmp(mask_a, (uint8_t *)masks.data + (size_t)i * NPIX, sizeof mask_a);
	}
	ok(same, "batch (N x H x W x 1, 2 threads) equals serial rendering slice by slice");
	ct_tensor_free(&batch);
	ct_tensor_free(&masks);

	ct_tensor t = { 0 };
	ok(ct_phantom_render(o, 0, 0, 0, &t, NULL) == 0 && t.ndim == 3 && t.shape[0] == H && t.shape[1] == W &&
		   t.shape[2] == 1 && t.dtype == CT_F32,
	   "ct_phantom_render gives an H x W x 1 float32 tensor");
	ct_tensor_free(&t);
}

static void test_densities(const ct_phantom_opts *o)
{
	long lung = 0, in_range = 0, bone = 0, air_out = 0, corner = 0;
	double area_min = 1, area_max = 0;
	for (int p = 0; p < 10; p++) {
		ct_phantom_render_into(o, p, p % o->slices_per_patient, 0, img_a, mask_a);
		long n = 0;
		for (int i = 0; i < NPIX; i++) {
			if (mask_a[i]) {
				n++;
				in_range += img_a[i] >= -1024 && img_a[i] <= -650;
			}
			bone += img_a[i] > 600;
		}
		lung += n;
		double area = (double)n / NPIX;
		area_min = fmin(area_min, area);
		area_max = fmax(area_max, area);
		/* The image corner is air. */
		for (int y = 0; y < 8; y++)
			for (int x = 0; x < 8; x++) {
				corner++;
				air_out += fabsf(img_a[y * W + x] + 1000.0f) < 100.0f;
			}
	}
	ok((double)in_range / lung > 0.85, "%.1f%% of lung pixels are in -1024..-650 HU (> 85%%; the rest are vessels)",
	   100.0 * in_range / lung);
	ok(area_min > 0.08 && area_max < 0.45, "lungs cover %.0f%%..%.0f%% of the slice (8..45%%)", 100 * area_min,
	   100 * area_max);
	ok(bone > 10 * 50, "bone (> 600 HU) is present: %ld pixels in 10 slices", bone);
	ok(air_out == corner, "the corners are air (-1000 +- 100 HU)");

	/* Noise: a render minus its noise-free twin, away from the -1024 HU clamp, is the noise. */
	ct_phantom_opts on = *o;
	on.noise_sd = 0;
	ct_phantom_render_into(o, 0, 0, 0, img_a, NULL);
	ct_phantom_render_into(&on, 0, 0, 0, img_b, NULL);
	double s = 0, s2 = 0;
	long n = 0;
	for (int i = 0; i < NPIX; i++)
		if (img_b[i] > -900.0f) {
			double v = img_a[i] - img_b[i];
			s += v;
			s2 += v * v;
			n++;
		}
	double sd = sqrt(s2 / n - (s / n) * (s / n));
	ok(fabs(sd - o->noise_sd) < 0.05 * o->noise_sd && fabs(s / n) < 1.0,
	   "noise has mean %.2f and sd %.2f HU over %ld pixels (set %.0f, +-5%%)", s / n, sd, n, o->noise_sd);
}

/* Lesions change only lung pixels: the same patient and slice with and without lesions differ
 * nowhere outside the mask, and the mask itself does not change. */
static void test_lesions_inside(const ct_phantom_opts *o)
{
	long outside = 0, changed = 0, slices_without = 0, mask_diff = 0;
	for (int p = 0; p < 20; p++)
		for (int k = 0; k < o->slices_per_patient; k++) {
			ct_phantom_render_into(o, p, k, 0, img_a, mask_a);
			ct_phantom_render_into(o, p, k, 1, img_b, mask_b);
			long c = 0;
			for (int i = 0; i < NPIX; i++) {
				mask_diff += mask_a[i] != mask_b[i];
				if (img_a[i] != img_b[i]) {
					c++;
					outside += !mask_a[i];
				}
			}
			changed += c;
			slices_without += c == 0;
		}
	ok(mask_diff == 0, "the lung mask does not depend on the class");
	ok(outside == 0, "no pixel outside the lung mask changes when lesions are added (%ld changed inside)",
	   changed);
	ok(slices_without == 0, "every slice of a lesion patient shows a lesion (%ld of %d without)", slices_without,
	   20 * o->slices_per_patient);
}

/* No shortcut: 40 normal and 40 lesion slices from disjoint patients. Outside the lungs the
 * per-slice mean and sd must not differ between classes beyond patient-to-patient variation
 * (|Welch t| < 3 and mean gap < 10 HU); inside the lungs lesion slices must be clearly denser
 * (t > 4, gap > 15 HU; about 5.3 and 26 HU now). */
static void test_fairness(const ct_phantom_opts *o)
{
	enum { N = 40 };
	double om[2][N], osd[2][N], im[2][N], area[2][N];
	for (int cls = 0; cls < 2; cls++)
		for (int i = 0; i < N; i++) {
			int patient = cls * N + i;
			ct_phantom_render_into(o, patient, i % o->slices_per_patient, cls, img_a, mask_a);
			stats s = slice_stats(img_a, mask_a);
			om[cls][i] = s.out_mean;
			osd[cls][i] = s.out_sd;
			im[cls][i] = s.in_mean;
			area[cls][i] = (double)s.nin;
		}
	double m0, m1, sd0, sd1;
	double t = welch_t(om[0], om[1], N);
	mean_sd(om[0], N, &m0, &sd0);
	mean_sd(om[1], N, &m1, &sd1);
	ok(fabs(t) < 3.0 && fabs(m1 - m0) < 10.0, "mean HU outside the lungs: normal %.1f, lesion %.1f (t = %.2f)", m0,
	   m1, t);
	t = welch_t(osd[0], osd[1], N);
	mean_sd(osd[0], N, &m0, &sd0);
	mean_sd(osd[1], N, &m1, &sd1);
	ok(fabs(t) < 3.0 && fabs(m1 - m0) < 10.0, "HU sd outside the lungs: normal %.1f, lesion %.1f (t = %.2f)", m0,
	   m1, t);
	t = welch_t(area[0], area[1], N);
	ok(fabs(t) < 3.0, "lung area does not differ between classes (t = %.2f)", t);
	t = welch_t(im[0], im[1], N);
	mean_sd(im[0], N, &m0, &sd0);
	mean_sd(im[1], N, &m1, &sd1);
	ok(t > 4.0 && m1 - m0 > 15.0, "mean HU inside the lungs: normal %.1f, lesion %.1f (t = %.2f)", m0, m1, t);
}

static void test_assign_split(void)
{
	enum { NP = 50 };
	uint8_t les[NP], spl[NP], les2[NP];
	ok(ct_phantom_assign(9, NP, 0.3, les) == 0, "assigns classes");
	int nl = 0;
	for (int i = 0; i < NP; i++)
		nl += les[i];
	ok(nl == 15, "round(0.3 * 50) = 15 patients get lesions (%d)", nl);
	ct_phantom_assign(9, NP, 0.3, les2);
	ok(!memcmp(les, les2, NP), "class assignment is seeded");
	ok(ct_phantom_split(9, NP, les, spl) == 0, "splits patients");
	int count[2][3] = { { 0 } };
	for (int i = 0; i < NP; i++)
		count[les[i]][spl[i]]++;
	ok(count[0][0] == 21 && count[0][1] == 7 && count[0][2] == 7 && count[1][0] == 9 && count[1][1] == 3 &&
		   count[1][2] == 3,
	   "split is 60/20/20 within each class (normal %d/%d/%d, lesion %d/%d/%d)", count[0][0], count[0][1],
	   count[0][2], count[1][0], count[1][1], count[1][2]);
	ct_phantom_format f;
	ok(ct_phantom_parse_format("png16", &f) == 0 && f == CT_PHANTOM_PNG16 &&
		   ct_phantom_parse_format("jpeg", &f) < 0,
	   "formats parse, unknown ones are refused");
}

static void test_errors(const ct_phantom_opts *o)
{
	ct_phantom_opts bad = *o;
	ok(ct_phantom_render_into(o, 0, o->slices_per_patient, 0, img_a, NULL) < 0 &&
		   strstr(ct_last_error(), "slice"),
	   "a slice index past the slab is an error: %s", ct_last_error());
	bad.width = 0;
	ok(ct_phantom_render_into(&bad, 0, 0, 0, img_a, NULL) < 0, "a zero width is an error: %s", ct_last_error());
	bad = *o;
	bad.noise_sd = NAN;
	ok(ct_phantom_render_into(&bad, 0, 0, 0, img_a, NULL) < 0, "a NaN noise level is an error");
}

static void bench(void)
{
	ct_phantom_opts o;
	ct_phantom_defaults(&o);
	enum { NB = 64 };
	int pat[NB], sl[NB], les[NB];
	for (int i = 0; i < NB; i++) {
		pat[i] = i / 4;
		sl[i] = i % 4;
		les[i] = i & 1;
	}
	ct_tensor out = { 0 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = ct_phantom_render_batch(&o, NB, pat, sl, les, &out, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
	diag("%d slices of 256x256 in %.3f s (%.0f slices/s)", NB, sec, NB / sec);
	ok(rc == 0, "renders %d slices of 256x256", NB);
	ct_tensor_free(&out);
}

int main(void)
{
	ct_phantom_opts o;
	ct_phantom_defaults(&o);
	o.width = W;
	o.height = H;
	o.slices_per_patient = 4;
	o.seed = 2024;
	test_determinism(&o);
	test_densities(&o);
	test_lesions_inside(&o);
	test_fairness(&o);
	test_assign_split();
	test_errors(&o);
	bench();
	TEST_DONE();
}
