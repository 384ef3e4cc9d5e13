/* test_lung.c - lung-field preprocessing (image/lung.h) and photometric perturbations
 * (image/photometric.h): morphology and Gaussian blur against scipy.ndimage on random inputs,
 * lung masks against the phantom's true lungs, cropping, removal of a synthetic figure border,
 * caption and coloured arrow, grey-level standardisation, mask warps, and the statistics of the
 * photometric draws. */
#include "core/error.h"
#include "core/rng.h"
#include "image/lung.h"
#include "image/phantom.h"
#include "image/photometric.h"
#include "image/warp.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

/* ---- scipy reference: masks and planes go to files, /usr/bin/python3 computes, we compare ---- */

#define NM 24      /* random masks */
#define MAXHW 48

static const char *py_ref =
	"import sys, numpy as np\n"
	"from scipy import ndimage as nd\n"
	"d = sys.argv[1]\n"
	"hdr = np.fromfile(d + '/shapes.i32', dtype=np.int32).reshape(-1, 2)\n"
	"raw = np.fromfile(d + '/masks.u8', dtype=np.uint8)\n"
	"planes = np.fromfile(d + '/planes.f32', dtype=np.float32)\n"
	"radii = [1.0, 1.5, 2.3, 3.0]\n"
	"out = []; off = 0\n"
	"for (h, w) in hdr:\n"
	"    m = raw[off:off + h * w].reshape(h, w).astype(bool); p = planes[off:off + h * w].reshape(h, w); off += h * w\n"
	"    for s in (nd.generate_binary_structure(2, 1), nd.generate_binary_structure(2, 2)):\n"
	"        out.append(nd.label(m, structure=s)[0].astype(np.int32).tobytes())\n"
	"    out.append(nd.binary_fill_holes(m).astype(np.int32).tobytes())\n"
	"    for r in radii:\n"
	"        k = int(np.ceil(r)); yy, xx = np.mgrid[-k:k + 1, -k:k + 1]; disk = yy * yy + xx * xx <= r * r\n"
	"        out.append(nd.binary_dilation(m, disk).astype(np.int32).tobytes())\n"
	"        out.append(nd.binary_erosion(m, disk, border_value=0).astype(np.int32).tobytes())\n"
	"        out.append(nd.binary_erosion(m, disk, border_value=1).astype(np.int32).tobytes())\n"
	"        pm = np.pad(m, k); c = nd.binary_erosion(nd.binary_dilation(pm, disk), disk, border_value=1)\n"
	"        out.append(c[k:k + h, k:k + w].astype(np.int32).tobytes())\n"
	"    e = nd.distance_transform_edt(~m) ** 2 if m.any() else np.full((h, w), -1.0)\n"
	"    out.append(np.rint(e).astype(np.int32).tobytes())\n"
	"    out.append(nd.gaussian_filter(p.astype(np.float64), 1.7, mode='nearest', truncate=4.0).astype(np.float32).tobytes())\n"
	"open(d + '/ref.bin', 'wb').write(b''.join(out))\n";

static void skip(const char *why)
{
	printf("ok %d # skip %s\n", ++t_count, why);
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t k = fwrite(p, 1, n, f);
	return fclose(f) == 0 && k == n ? 0 : -1;
}

static void test_against_scipy(void)
{
	static int32_t shapes[NM][2];
	static uint8_t masks[NM * MAXHW * MAXHW];
	static float planes[NM * MAXHW * MAXHW];
	ct_rng r;
	ct_rng_init(&r, 7, 0);
	size_t off = 0;
	for (int k = 0; k < NM; k++) {
		int h = 5 + (int)ct_rng_below(&r, MAXHW - 5), w = 5 + (int)ct_rng_below(&r, MAXHW - 5);
		double density = 0.2 + 0.6 * ct_rng_uniform(&r);
		shapes[k][0] = h, shapes[k][1] = w;
		for (int i = 0; i < h * w; i++) {
			masks[off + i] = ct_rng_uniform(&r) < density;
			planes[off + i] = (float)ct_rng_uniform(&r);
		}
		if (k == 0) /* one empty mask */
			memset(masks + off, 0, (size_t)h * w);
		off += (size_t)h * w;
	}
	char dir[300], path[400], cmd[1200];
	snprintf(dir, sizeof dir, "%s", t_tmpdir());
	snprintf(path, sizeof path, "%s/shapes.i32", dir);
	write_file(path, shapes, sizeof shapes);
	snprintf(path, sizeof path, "%s/masks.u8", dir);
	write_file(path, masks, off);
	snprintf(path, sizeof path, "%s/planes.f32", dir);
	write_file(path, planes, off * sizeof(float));
	snprintf(path, sizeof path, "%s/ref.py", dir);
	write_file(path, py_ref, strlen(py_ref));
	if (access("/usr/bin/python3", X_OK) != 0 ||
	    system("/usr/bin/python3 -c 'import scipy.ndimage' >/dev/null 2>&1") != 0) {
		skip("/usr/bin/python3 with scipy not available: morphology not compared with scipy");
		return;
	}
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/ref.py' '%s'", dir, dir);
	if (!ok(system(cmd) == 0, "scipy reference script runs"))
		return;
	snprintf(path, sizeof path, "%s/ref.bin", dir);
	FILE *f = fopen(path, "rb");
	if (!ok(f != NULL, "scipy reference output exists"))
		return;
	const double radii[4] = { 1.0, 1.5, 2.3, 3.0 };
	int bad_label4 = 0, bad_label8 = 0, bad_fill = 0, bad_dil = 0, bad_ero0 = 0, bad_ero1 = 0, bad_close = 0,
	    bad_edt = 0, bad_large = 0;
	double blur_err = 0;
	int32_t ref[MAXHW * MAXHW], lab[MAXHW * MAXHW];
	uint8_t o8[MAXHW * MAXHW], lg[MAXHW * MAXHW];
	int64_t d2[MAXHW * MAXHW];
	float fref[MAXHW * MAXHW], fb[MAXHW * MAXHW];
	off = 0;
	for (int k = 0; k < NM; k++) {
		int h = shapes[k][0], w = shapes[k][1], n = h * w;
		const uint8_t *m = masks + off;
#define READ_REF() (fread(ref, sizeof(int32_t), (size_t)n, f) == (size_t)n)
		for (int conn = 4; conn <= 8; conn += 4) {
			int nl = READ_REF() ? ct_cc_label(m, h, w, conn, lab) : -1;
			int same = nl >= 0;
			int32_t mx = 0;
			for (int i = 0; i < n; i++) {
				same &= lab[i] == ref[i];
				mx = ref[i] > mx ? ref[i] : mx;
			}
			same &= nl == mx;
			if (!same)
				*(conn == 4 ? &bad_label4 : &bad_label8) += 1;
			/* the largest component: the label with most pixels (first on ties) */
			int64_t cnt[MAXHW * MAXHW + 1] = { 0 }, best = 0;
			for (int i = 0; i < n; i++)
				cnt[ref[i]]++;
			for (int j = 1; j <= mx; j++)
				if (cnt[j] > cnt[best] || !best)
					best = j;
			ct_largest_component(m, h, w, conn, lg);
			for (int i = 0; i < n; i++)
				if (lg[i] != (mx > 0 && ref[i] == best)) {
					bad_large++;
					break;
				}
		}
		if (!READ_REF() || ct_fill_holes(m, h, w, o8) < 0)
			bad_fill++;
		for (int i = 0; i < n; i++)
			if (o8[i] != ref[i]) {
				bad_fill++;
				break;
			}
		for (int ri = 0; ri < 4; ri++) {
			for (int op = 0; op < 4; op++) {
				int rc = READ_REF() ? 0 : -1;
				if (rc == 0)
					rc = op == 0   ? ct_dilate_disk(m, h, w, radii[ri], o8)
					     : op == 1 ? ct_erode_disk(m, h, w, radii[ri], 0, o8)
					     : op == 2 ? ct_erode_disk(m, h, w, radii[ri], 1, o8)
						       : ct_close_disk(m, h, w, radii[ri], o8);
				int same = rc == 0;
				for (int i = 0; i < n; i++)
					same &= o8[i] == ref[i];
				if (!same)
					*(op == 0 ? &bad_dil : op == 1 ? &bad_ero0 : op == 2 ? &bad_ero1 : &bad_close) += 1;
			}
		}
		int any = 0;
		for (int i = 0; i < n; i++)
			any |= m[i];
		if (!READ_REF() || ct_edt_sq(m, h, w, d2) < 0)
			bad_edt++;
		for (int i = 0; any && i < n; i++)
			if (d2[i] != ref[i]) {
				bad_edt++;
				break;
			}
		if (fread(fref, sizeof(float), (size_t)n, f) != (size_t)n)
			blur_err = 1;
		memcpy(fb, planes + off, (size_t)n * sizeof(float));
		ct_gaussian_blur(fb, h, w, 1.7);
		for (int i = 0; i < n; i++)
			blur_err = fmax(blur_err, fabs(fb[i] - fref[i]));
		off += (size_t)n;
	}
	fclose(f);
	ok(bad_label4 == 0, "connected components (4-connected) equal scipy.ndimage.label on %d random masks (%d differ)", NM, bad_label4);
	ok(bad_label8 == 0, "connected components (8-connected) equal scipy.ndimage.label (%d differ)", bad_label8);
	ok(bad_large == 0, "the largest component is scipy's most frequent label (%d differ)", bad_large);
	ok(bad_fill == 0, "hole filling equals scipy.ndimage.binary_fill_holes (%d differ)", bad_fill);
	ok(bad_dil == 0, "disk dilation equals scipy binary_dilation, radii 1, 1.5, 2.3, 3 (%d differ)", bad_dil);
	ok(bad_ero0 == 0, "disk erosion equals scipy binary_erosion with border_value 0 (%d differ)", bad_ero0);
	ok(bad_ero1 == 0, "disk erosion equals scipy binary_erosion with border_value 1 (%d differ)", bad_ero1);
	ok(bad_close == 0, "closing equals scipy's closing of the padded mask (%d differ)", bad_close);
	ok(bad_edt == 0, "squared distances equal scipy distance_transform_edt squared (%d differ)", bad_edt);
	ok(blur_err < 1e-5, "Gaussian blur matches scipy gaussian_filter(mode='nearest') (max error %.2g)", blur_err);
}

/* ---- phantom slices ---- */

#define PS 192
static float hu[PS * PS];
static uint8_t truth[PS * PS];

static void lung_window(const float *h, float *g, int n)
{
	for (int i = 0; i < n; i++) {
		double v = (h[i] - (-600.0 - 750.0)) / 1500.0;
		g[i] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
	}
}

static double dice(const uint8_t *a, const uint8_t *b, int n)
{
	long both = 0, sa = 0, sb = 0;
	for (int i = 0; i < n; i++) {
		both += a[i] && b[i];
		sa += a[i] != 0;
		sb += b[i] != 0;
	}
	return sa + sb ? 2.0 * both / (sa + sb) : 1.0;
}

static void test_phantom_masks(void)
{
	ct_phantom_opts po;
	ct_phantom_defaults(&po);
	po.width = po.height = PS;
	po.slices_per_patient = 5;
	static float g[PS * PS];
	static uint8_t lung[PS * PS], body[PS * PS];
	double dmin = 1, dsum = 0;
	int nslices = 0, found = 0, body_ok = 1;
	for (int p = 0; p < 6; p++)
		for (int s = 0; s < 5; s += 2) {
			int lesion = (p + s) % 2;
			if (ct_phantom_render_into(&po, p, s, lesion, hu, truth) < 0)
				continue;
			lung_window(hu, g, PS * PS);
			int bf = 0, lf = 0;
			ct_lung_masks(g, PS, PS, body, lung, &bf, &lf);
			found += lf;
			double d = dice(lung, truth, PS * PS);
			dmin = fmin(dmin, d);
			dsum += d;
			nslices++;
			for (int i = 0; i < PS * PS; i++)
				if (truth[i] && !body[i])
					body_ok = 0;
		}
	diag("lung-field Dice vs the phantom's true lungs: min %.3f, mean %.3f over %d slices", dmin, dsum / nslices,
	     nslices);
	ok(nslices == 18 && found == nslices, "a lung field is found in every phantom slice (%d of %d)", found, nslices);
	/* 0.90: the truth includes the partial-volume rim (coverage >= 1/2) and every vessel,
	 * which a threshold mask can only approximate; a mask that missed one lung would score
	 * at most about 0.67, one that took in the mediastinum about 0.8 (measured: min 0.976, mean 0.990). */
	ok(dmin >= 0.90, "the lung field reaches Dice >= 0.90 against the true lungs on every slice (min %.3f)", dmin);
	ok(body_ok, "the body mask contains every true lung pixel");

	/* the same through ct_lung_preprocess with cropping: the crop keeps the lungs */
	ct_phantom_render_into(&po, 2, 2, 1, hu, truth);
	lung_window(hu, g, PS * PS);
	int64_t sh[3] = { PS, PS, 1 };
	ct_tensor in = ct_tensor_wrap(g, CT_F32, 3, sh), out, mask;
	ct_lung_opts o;
	ct_lung_defaults(&o);
	o.crop = 1;
	o.margin = 0.05;
	ct_lung_info info;
	int rc = ct_lung_preprocess(&in, &o, &out, &mask, &info);
	ok(rc == 0, "ct_lung_preprocess crops a phantom slice");
	if (rc == 0) {
		long kept = 0, all = 0;
		for (int y = 0; y < PS; y++)
			for (int x = 0; x < PS; x++)
				if (truth[y * PS + x]) {
					all++;
					kept += y >= info.box[0] && y < info.box[2] && x >= info.box[1] && x < info.box[3];
				}
		double area = (double)out.shape[0] * out.shape[1] / (PS * PS);
		ok(kept >= 0.995 * all, "the crop keeps the lungs (%ld of %ld true lung pixels inside)", kept, all);
		ok(area < 0.75, "the crop removes the body around them (%.0f%% of the image left)", 100 * area);
		ok(out.shape[0] == info.box[2] - info.box[0] && out.shape[1] == info.box[3] - info.box[1] &&
			   mask.shape[0] == out.shape[0] && mask.shape[1] == out.shape[1],
		   "image and mask have the crop box's size");
		int same = 1;
		for (int y = 0; y < out.shape[0]; y++)
			for (int x = 0; x < out.shape[1]; x++)
				same &= ((float *)out.data)[y * out.shape[1] + x] == g[(y + info.box[0]) * PS + x + info.box[1]];
		ok(same, "the cropped image is the box of the input, pixel for pixel");
		ct_tensor_free(&out);
		ct_tensor_free(&mask);
	}
}

/* A phantom slice as a paper figure: a white frame, black margins, a bright caption below the
 * body, a yellow arrow on the body (RGB); cleaning must give back what cleaning the bare slice
 * gives. */
static void test_clean(void)
{
	ct_phantom_opts po;
	ct_phantom_defaults(&po);
	po.width = po.height = PS;
	ct_phantom_render_into(&po, 1, 1, 1, hu, truth);
	static float g[PS * PS];
	lung_window(hu, g, PS * PS);
	enum { B = 12, FH = PS + 2 * B + 30, FW = PS + 2 * B };
	static float fig[FH * FW * 3], bare[PS * PS * 3];
	for (int i = 0; i < FH * FW * 3; i++)
		fig[i] = 1.0f; /* white page */
	for (int y = 0; y < PS; y++)
		for (int x = 0; x < PS; x++)
			for (int c = 0; c < 3; c++) {
				fig[((y + B) * FW + x + B) * 3 + c] = g[y * PS + x];
				bare[(y * PS + x) * 3 + c] = g[y * PS + x];
			}
	for (int y = PS + B; y < FH; y++) /* the figure panel continues under the slice, air-coloured */
		for (int x = B; x < FW - B; x++)
			for (int c = 0; c < 3; c++)
				fig[(y * FW + x) * 3 + c] = g[0];
	long caption = 0;
	for (int y = PS + B + 8; y < PS + B + 20; y++) /* "text": bright strokes below the body */
		for (int x = B + 20; x < B + 120; x++)
			if ((x / 3) % 3 != 0 && (y / 2) % 3 != 2) {
				for (int c = 0; c < 3; c++)
					fig[(y * FW + x) * 3 + c] = 0.95f;
				caption++;
			}
	for (int y = B + 60; y < B + 66; y++) /* a yellow arrow shaft on the left lung */
		for (int x = B + 120; x < B + 150; x++) {
			fig[(y * FW + x) * 3 + 0] = 0.95f;
			fig[(y * FW + x) * 3 + 1] = 0.95f;
			fig[(y * FW + x) * 3 + 2] = 0.1f;
		}
	int64_t fsh[3] = { FH, FW, 3 }, bsh[3] = { PS, PS, 3 };
	ct_tensor fin = ct_tensor_wrap(fig, CT_F32, 3, fsh), bin = ct_tensor_wrap(bare, CT_F32, 3, bsh);
	ct_tensor fo, fm, bo, bm;
	ct_lung_opts o;
	ct_lung_defaults(&o);
	o.clean = 1;
	ct_lung_info fi, bi;
	int rc = ct_lung_preprocess(&fin, &o, &fo, &fm, &fi);
	rc |= ct_lung_preprocess(&bin, &o, &bo, &bm, &bi);
	ok(rc == 0, "cleaning a synthetic figure and its bare slice succeeds");
	if (rc)
		return;
	diag("trimmed top %d bottom %d left %d right %d; %lld marked pixels", fi.trim[0], fi.trim[1], fi.trim[2],
	     fi.trim[3], (long long)fi.marked);
	ok(fi.trim[0] >= B && fi.trim[2] >= B && fi.trim[3] >= B, "the white frame is trimmed on three sides");
	ok(fi.trim[0] - B == bi.trim[0] && fi.trim[2] - B == bi.trim[2] && fi.trim[3] - B == bi.trim[3],
	   "and the blank air inside it as in the bare slice");
	ok(fi.marked >= 6 * 30, "the yellow arrow's pixels are found (%lld)", (long long)fi.marked);
	long bright = 0;
	int fh = (int)fo.shape[0], fw = (int)fo.shape[1];
	const float *f = fo.data;
	for (int y = 0; y < fh; y++)
		for (int x = 0; x < fw; x++) {
			int oy = y + fi.trim[0] - B, ox = x + fi.trim[2] - B; /* position in the bare slice */
			if ((oy >= PS || ox < 0 || ox >= PS || oy < 0) && f[y * fw + x] > 0.5f)
				bright++;
		}
	ok(bright == 0, "no bright caption pixel is left outside the slice (%ld of %ld)", bright, caption);
	/* the slice region of the cleaned figure against the cleaned bare slice, both trimmed of
	 * their blank air: pixel (y, x) of the bare slice in each output */
	double err = 0, arrow_err = 0;
	long cnt = 0, acnt = 0;
	const float *b = bo.data;
	int bh = (int)bo.shape[0], bw = (int)bo.shape[1];
	for (int y = 0; y < PS; y++)
		for (int x = 0; x < PS; x++) {
			int fy = y + B - fi.trim[0], fx = x + B - fi.trim[2], by = y - bi.trim[0], bx = x - bi.trim[2];
			if (fy < 0 || fy >= fh || fx < 0 || fx >= fw || by < 0 || by >= bh || bx < 0 || bx >= bw)
				continue;
			double d = fabs(f[fy * fw + fx] - b[by * bw + bx]);
			err += d;
			cnt++;
			if (y >= 58 && y < 68 && x >= 118 && x < 152)
				arrow_err += d, acnt++;
		}
	diag("bare slice trimmed top %d bottom %d left %d right %d", bi.trim[0], bi.trim[1], bi.trim[2], bi.trim[3]);
	ok(cnt >= (long)(0.97 * bh * bw) && err / cnt < 0.01,
	   "the cleaned figure equals the cleaned bare slice (mean abs difference %.4f over %ld pixels)", err / cnt, cnt);
	/* left in place, the arrow would differ by about 0.5 (yellow's luma 0.85 on lung near 0.3);
	 * painted from its rim it takes the lung's level, not the vessels under it */
	ok(acnt > 0 && arrow_err / acnt < 0.08, "the arrow is painted over with the lung around it (mean difference %.3f)",
	   acnt ? arrow_err / acnt : -1.0);
	ct_tensor_free(&fo);
	ct_tensor_free(&fm);
	ct_tensor_free(&bo);
	ct_tensor_free(&bm);
}

/* Standardisation undoes an arbitrary linear window. */
static void test_standardise(void)
{
	ct_phantom_opts po;
	ct_phantom_defaults(&po);
	po.width = po.height = PS;
	ct_phantom_render_into(&po, 3, 0, 0, hu, truth);
	static float g[PS * PS], g2[PS * PS];
	lung_window(hu, g, PS * PS);
	for (int i = 0; i < PS * PS; i++) /* another window: darker, lower contrast */
		g2[i] = 0.05f + 0.6f * g[i];
	int64_t sh[3] = { PS, PS, 1 };
	ct_tensor a = ct_tensor_wrap(g, CT_F32, 3, sh), b = ct_tensor_wrap(g2, CT_F32, 3, sh), ao, am, bo, bm;
	ct_lung_opts o;
	ct_lung_defaults(&o);
	o.standardise = 1;
	ct_lung_info ai, bi;
	int rc = ct_lung_preprocess(&a, &o, &ao, &am, &ai) | ct_lung_preprocess(&b, &o, &bo, &bm, &bi);
	ok(rc == 0 && ai.standardised && bi.standardised, "both windows are standardised");
	if (rc)
		return;
	double err = 0;
	for (int i = 0; i < PS * PS; i++)
		err += fabs(((float *)ao.data)[i] - ((float *)bo.data)[i]);
	err /= PS * PS;
	ok(err < 0.01, "two windows of the same slice give the same standardised image (mean abs difference %.4f)", err);
	double p10 = ct_grey_quantile(ao.data, am.data, PS * PS, 0.10);
	ok(fabs(p10 - CT_LUNG_STD_PARENCHYMA) < 0.002, "the lung field's 10th percentile lands on %.3f (%.4f)",
	   CT_LUNG_STD_PARENCHYMA, p10);
	/* lung window: parenchyma at -850 HU and tissue near 0 HU are where the window puts them */
	ok(fabs(ai.parenchyma - CT_LUNG_STD_PARENCHYMA) < 0.04 && fabs(ai.tissue - CT_LUNG_STD_TISSUE) < 0.06,
	   "on the lung window itself the anchors are near their targets (%.3f, %.3f)", ai.parenchyma, ai.tissue);
	ct_tensor_free(&ao);
	ct_tensor_free(&am);
	ct_tensor_free(&bo);
	ct_tensor_free(&bm);
}

static void test_mask_warp(void)
{
	enum { h = 20, w = 28 };
	static uint8_t m[h * w], o[h * w];
	ct_rng r;
	ct_rng_init(&r, 3, 0);
	for (int i = 0; i < h * w; i++)
		m[i] = ct_rng_uniform(&r) < 0.4;
	double id[6];
	ct_affine_identity(id);
	ct_warp_mask_nearest(m, h, w, id, CT_FILL_NEAREST, o);
	ok(!memcmp(m, o, sizeof m), "identity warp keeps the mask");
	double sh[6] = { 1, 0, 3, 0, 1, -2 }; /* out (r, c) takes in (r + 3, c - 2) */
	int good = 1;
	for (int fill = CT_FILL_NEAREST; fill <= CT_FILL_WRAP; fill++) {
		ct_warp_mask_nearest(m, h, w, sh, fill, o);
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				int sy = y + 3, sx = x - 2, want;
				if (fill == CT_FILL_CONSTANT)
					want = sy < h && sx >= 0 ? m[sy * w + sx] : 0;
				else if (fill == CT_FILL_NEAREST)
					want = m[(sy < h ? sy : h - 1) * w + (sx < 0 ? 0 : sx)];
				else if (fill == CT_FILL_REFLECT)
					want = m[(sy < h ? sy : 2 * h - 1 - sy) * w + (sx < 0 ? -1 - sx : sx)];
				else
					want = m[(sy % h) * w + (sx + w) % w];
				good &= o[y * w + x] == want;
			}
	}
	ok(good, "an integer shift moves the mask exactly, with each fill mode's extension");
	/* a uint8 image of the mask through ct_warp_affine agrees where the sample is not a tie */
	double rot[6];
	ct_affine_rotate(17.0, h, w, rot);
	static uint8_t img[h * w], wimg[h * w];
	for (int i = 0; i < h * w; i++)
		img[i] = m[i] ? 255 : 0;
	int64_t shp[3] = { h, w, 1 };
	ct_tensor ti = ct_tensor_wrap(img, CT_U8, 3, shp), to = ct_tensor_wrap(wimg, CT_U8, 3, shp);
	ct_warp_affine(&ti, rot, CT_FILL_NEAREST, 0, &to);
	ct_warp_mask_nearest(m, h, w, rot, CT_FILL_NEAREST, o);
	int agree = 0, decided = 0;
	for (int i = 0; i < h * w; i++)
		if (wimg[i] == 0 || wimg[i] == 255) { /* the bilinear sample saw one value only */
			decided++;
			agree += o[i] == (wimg[i] == 255);
		}
	ok(decided > h * w / 8 && agree == decided,
	   "a rotated mask agrees with the bilinear warp of its image wherever that is pure (%d of %d)", agree, decided);
}

static void test_photometric(void)
{
	ct_photo_params p;
	ct_photo_defaults(&p);
	ok(!ct_photo_enabled(&p) && ct_photo_check(&p) == 0, "defaults are off and valid");
	p.gamma = 2;
	ok(ct_photo_check(&p) < 0, "a gamma range above 1 is refused");
	ct_photo_defaults(&p);
	p.contrast = 0.3, p.gamma = 0.4, p.noise = 0.08, p.blur = 2, p.resolution = 0.5;
	ct_rng r;
	double sc = 0, sc2 = 0, slg = 0, sn = 0, sb = 0, ss = 0, cmin = 9, cmax = 0, smin = 9, smax = 0;
	enum { ND = 4000 };
	for (int i = 0; i < ND; i++) {
		ct_rng_init(&r, 11, (uint64_t)i);
		for (int k = 0; k < 8; k++) /* the affine draws come first on a copy's stream */
			ct_rng_uniform(&r);
		ct_photo_transform t;
		ct_photo_random(&p, &r, &t);
		sc += t.contrast, sc2 += t.contrast * t.contrast, slg += log(t.gamma), sn += t.noise_sd, sb += t.blur_sigma,
			ss += t.scale;
		cmin = fmin(cmin, t.contrast), cmax = fmax(cmax, t.contrast);
		smin = fmin(smin, t.scale), smax = fmax(smax, t.scale);
	}
	double sd_c = sqrt(sc2 / ND - (sc / ND) * (sc / ND));
	/* uniform on [0.7, 1.3]: mean 1, sd 0.6 / sqrt(12) = 0.173; 4000 draws: se of the mean 0.003 */
	ok(fabs(sc / ND - 1) < 0.012 && fabs(sd_c - 0.6 / sqrt(12)) < 0.01 && cmin >= 0.7 && cmax <= 1.3,
	   "contrast factors are uniform on [0.7, 1.3] (mean %.4f, sd %.4f)", sc / ND, sd_c);
	ok(fabs(slg / ND) < 0.012, "log gamma is centred on 0 (mean %.4f)", slg / ND);
	ok(fabs(sn / ND - 0.04) < 0.002 && fabs(sb / ND - 1.0) < 0.03, "noise sd and blur sigma have mean range/2 (%.4f, %.3f)",
	   sn / ND, sb / ND);
	ok(fabs(ss / ND - 0.75) < 0.01 && smin >= 0.5 && smax <= 1, "resolution scales are uniform on [0.5, 1] (mean %.4f)",
	   ss / ND);

	/* applied: exact contrast and gamma, noise statistics, resolution loss */
	enum { S = 64 };
	static float v[S * S], v0[S * S];
	for (int i = 0; i < S * S; i++)
		v0[i] = (float)(0.2 + 0.6 * ((i / S + i % S) % 7) / 6.0);
	int64_t shp[3] = { S, S, 1 };
	ct_tensor t = ct_tensor_wrap(v, CT_F32, 3, shp);
	ct_photo_transform pt;
	ct_photo_identity(&pt);
	memcpy(v, v0, sizeof v);
	ct_photo_apply(&pt, &r, &t);
	ok(!memcmp(v, v0, sizeof v), "the identity transform leaves the image unchanged");
	double mean = 0;
	for (int i = 0; i < S * S; i++)
		mean += v0[i];
	mean /= S * S;
	pt.contrast = 1.25, pt.gamma = 0.8;
	ct_photo_apply(&pt, &r, &t);
	double err = 0;
	for (int i = 0; i < S * S; i++) {
		double c = mean + 1.25 * (v0[i] - mean);
		c = c < 0 ? 0 : c > 1 ? 1 : c;
		err = fmax(err, fabs(v[i] - pow(c, 0.8)));
	}
	ok(err < 1e-5, "contrast about the mean, then gamma, as the formula (max error %.2g)", err);
	for (int i = 0; i < S * S; i++)
		v[i] = 0.5f;
	ct_photo_identity(&pt);
	pt.noise_sd = 0.05;
	ct_rng_init(&r, 5, 0);
	ct_photo_apply(&pt, &r, &t);
	double m1 = 0, m2 = 0;
	for (int i = 0; i < S * S; i++)
		m1 += v[i], m2 += (double)v[i] * v[i];
	m1 /= S * S;
	double sd = sqrt(m2 / (S * S) - m1 * m1);
	/* 4096 samples: se of the sd about 0.05 / sqrt(8192) = 0.00055 */
	ok(fabs(m1 - 0.5) < 0.003 && fabs(sd - 0.05) < 0.0025, "noise has mean 0 and the drawn sd (mean %.4f, sd %.4f)", m1, sd);
	for (int y = 0; y < S; y++) /* a checkerboard: all of its energy at the highest frequency */
		for (int x = 0; x < S; x++)
			v[y * S + x] = (x + y) % 2 ? 0.8f : 0.2f;
	ct_photo_identity(&pt);
	pt.scale = 0.5;
	ct_photo_apply(&pt, &r, &t);
	double dev = 0;
	for (int i = 0; i < S * S; i++)
		dev = fmax(dev, fabs(v[i] - 0.5));
	ok(dev < 0.01, "halving the resolution wipes out a checkerboard (max deviation from grey %.4f)", dev);
}

int main(void)
{
	test_against_scipy();
	test_phantom_masks();
	test_clean();
	test_standardise();
	test_mask_warp();
	test_photometric();
	TEST_DONE();
}
