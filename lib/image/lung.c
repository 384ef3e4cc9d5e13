/* lung.c - body and lung-field masks, figure cleaning, lung cropping and grey-level
 * standardisation of chest CT slices; the binary morphology under them (scipy.ndimage's
 * definitions). */
#include "image/lung.h"

#include "core/error.h"
#include "image/warp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- connected components (union-find over a raster scan) ---- */

static int32_t uf_find(int32_t *p, int32_t x)
{
	while (p[x] != x) {
		p[x] = p[p[x]];
		x = p[x];
	}
	return x;
}

static void uf_union(int32_t *p, int32_t a, int32_t b)
{
	a = uf_find(p, a);
	b = uf_find(p, b);
	if (a < b)
		p[b] = a;
	else if (b < a)
		p[a] = b;
}

int ct_cc_label(const uint8_t *m, int h, int w, int conn, int32_t *labels)
{
	int64_t n = (int64_t)h * w;
	/* provisional labels are pixel index + 1: at most n of them */
	int32_t *par = malloc(((size_t)n + 1) * sizeof *par);
	if (!par)
		return ct_error("out of memory");
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int64_t i = (int64_t)y * w + x;
			if (!m[i]) {
				labels[i] = 0;
				continue;
			}
			int32_t me = (int32_t)i + 1;
			par[me] = me;
			labels[i] = me;
			if (x > 0 && m[i - 1])
				uf_union(par, me, labels[i - 1]);
			if (y > 0) {
				if (m[i - w])
					uf_union(par, me, labels[i - w]);
				if (conn == 8 && x > 0 && m[i - w - 1])
					uf_union(par, me, labels[i - w - 1]);
				if (conn == 8 && x + 1 < w && m[i - w + 1])
					uf_union(par, me, labels[i - w + 1]);
			}
		}
	/* Roots are the smallest pixel index of each component (unions keep the smaller), that is
	 * its first pixel in raster order: numbering roots in raster order gives scipy's labels. */
	for (int64_t i = 0; i < n; i++)
		if (m[i])
			labels[i] = uf_find(par, (int32_t)i + 1);
	int32_t k = 0;
	for (int64_t i = 0; i < n; i++) {
		if (!m[i])
			continue;
		if (labels[i] == (int32_t)i + 1)
			par[i + 1] = ++k; /* a root comes before the rest of its component */
		labels[i] = par[labels[i]];
	}
	free(par);
	return k;
}

int ct_fill_holes(const uint8_t *m, int h, int w, uint8_t *out)
{
	int64_t n = (int64_t)h * w;
	/* flood the background from the border (4-connected) with an explicit stack */
	uint8_t *outside = calloc((size_t)n + 1, 1);
	int64_t *stack = malloc(((size_t)n + 1) * sizeof *stack);
	if (!outside || !stack) {
		free(outside);
		free(stack);
		return ct_error("out of memory");
	}
	int64_t sp = 0;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			if (y != 0 && y != h - 1 && x != 0 && x != w - 1)
				continue;
			int64_t i = (int64_t)y * w + x;
			if (!m[i] && !outside[i]) {
				outside[i] = 1;
				stack[sp++] = i;
			}
		}
	while (sp > 0) {
		int64_t i = stack[--sp];
		int y = (int)(i / w), x = (int)(i % w);
		int64_t nb[4] = { x > 0 ? i - 1 : -1, x + 1 < w ? i + 1 : -1, y > 0 ? i - w : -1, y + 1 < h ? i + w : -1 };
		for (int k = 0; k < 4; k++)
			if (nb[k] >= 0 && !m[nb[k]] && !outside[nb[k]]) {
				outside[nb[k]] = 1;
				stack[sp++] = nb[k];
			}
	}
	for (int64_t i = 0; i < n; i++)
		out[i] = !outside[i];
	free(outside);
	free(stack);
	return 0;
}

/* Labels plus the area of each label (areas[0] unused); *k the count. */
static int32_t *label_areas(const uint8_t *m, int h, int w, int conn, int64_t **areas, int *k)
{
	int64_t n = (int64_t)h * w;
	int32_t *lab = malloc(((size_t)n + 1) * sizeof *lab);
	if (!lab) {
		ct_error("out of memory");
		return NULL;
	}
	*k = ct_cc_label(m, h, w, conn, lab);
	*areas = *k >= 0 ? calloc((size_t)*k + 1, sizeof **areas) : NULL;
	if (!*areas) {
		free(lab);
		if (*k >= 0)
			ct_error("out of memory");
		return NULL;
	}
	for (int64_t i = 0; i < n; i++)
		(*areas)[lab[i]]++;
	return lab;
}

int64_t ct_largest_component(const uint8_t *m, int h, int w, int conn, uint8_t *out)
{
	int64_t n = (int64_t)h * w, *areas;
	int k;
	int32_t *lab = label_areas(m, h, w, conn, &areas, &k);
	if (!lab)
		return -1;
	int best = 0;
	for (int j = 1; j <= k; j++)
		if (areas[j] > (best ? areas[best] : 0))
			best = j;
	for (int64_t i = 0; i < n; i++)
		out[i] = best && lab[i] == best;
	int64_t a = best ? areas[best] : 0;
	free(lab);
	free(areas);
	return a;
}

/* ---- Euclidean distance (Felzenszwalb & Huttenlocher, "Distance transforms of sampled
 * functions", Theory of Computing 8, 2012): 1-d lower envelope of parabolas, columns then rows. */

#define EDT_INF (INT64_MAX / 4)

/* f[0..n) -> d[0..n): d[q] = min_p (q - p)^2 + f[p]; v, z scratch of n and n + 1. */
static void edt_1d(const int64_t *f, int n, int64_t *d, int *v, double *z)
{
	int k = -1;
	for (int q = 0; q < n; q++) {
		if (f[q] >= EDT_INF)
			continue;
		double s = 0;
		while (k >= 0) {
			int p = v[k];
			s = ((double)(f[q] + (int64_t)q * q) - (double)(f[p] + (int64_t)p * p)) / (2.0 * (q - p));
			if (s > z[k])
				break;
			k--;
		}
		k++;
		v[k] = q;
		z[k] = k == 0 ? -HUGE_VAL : s;
		z[k + 1] = HUGE_VAL;
	}
	if (k < 0) {
		for (int q = 0; q < n; q++)
			d[q] = EDT_INF;
		return;
	}
	int j = 0;
	for (int q = 0; q < n; q++) {
		while (z[j + 1] < q)
			j++;
		int64_t dq = q - v[j];
		d[q] = dq * dq + f[v[j]];
	}
}

int ct_edt_sq(const uint8_t *m, int h, int w, int64_t *d2)
{
	int n = h > w ? h : w;
	int64_t *f = calloc((size_t)n + 1, sizeof *f), *d = malloc(((size_t)n + 1) * sizeof *d);
	int *v = malloc(((size_t)n + 1) * sizeof *v);
	double *z = malloc(((size_t)n + 2) * sizeof *z);
	if (!f || !d || !v || !z) {
		free(f), free(d), free(v), free(z);
		return ct_error("out of memory");
	}
	for (int x = 0; x < w; x++) {
		for (int y = 0; y < h; y++)
			f[y] = m[(int64_t)y * w + x] ? 0 : EDT_INF;
		edt_1d(f, h, d, v, z);
		for (int y = 0; y < h; y++)
			d2[(int64_t)y * w + x] = d[y];
	}
	for (int y = 0; y < h; y++) {
		int64_t *row = d2 + (int64_t)y * w;
		memcpy(f, row, (size_t)w * sizeof *f);
		edt_1d(f, w, row, v, z);
	}
	free(f), free(d), free(v), free(z);
	return 0;
}

/* The disk holds the offsets with dy^2 + dx^2 <= r^2: a pixel is within it of a set pixel
 * exactly when its squared distance is <= floor(r^2) (squared distances are integers). */
static int64_t r2_of(double r)
{
	return r > 0 ? (int64_t)floor(r * r + 1e-9) : 0;
}

int ct_dilate_disk(const uint8_t *m, int h, int w, double r, uint8_t *out)
{
	int64_t n = (int64_t)h * w, r2 = r2_of(r);
	int64_t *d2 = malloc(((size_t)n + 1) * sizeof *d2);
	if (!d2)
		return ct_error("out of memory");
	if (ct_edt_sq(m, h, w, d2) < 0) {
		free(d2);
		return -1;
	}
	for (int64_t i = 0; i < n; i++)
		out[i] = d2[i] <= r2;
	free(d2);
	return 0;
}

int ct_erode_disk(const uint8_t *m, int h, int w, double r, int border, uint8_t *out)
{
	int64_t n = (int64_t)h * w, r2 = r2_of(r);
	int64_t *d2 = malloc(((size_t)n + 1) * sizeof *d2);
	uint8_t *inv = malloc((size_t)n + 1);
	if (!d2 || !inv) {
		free(d2);
		free(inv);
		return ct_error("out of memory");
	}
	for (int64_t i = 0; i < n; i++)
		inv[i] = !m[i];
	int rc = ct_edt_sq(inv, h, w, d2);
	for (int y = 0; rc == 0 && y < h; y++)
		for (int x = 0; x < w; x++) {
			int64_t i = (int64_t)y * w + x;
			int keep = m[i] && d2[i] > r2;
			if (keep && !border) {
				/* the nearest outside pixel is straight across the nearest edge */
				int64_t e = y + 1;
				if (x + 1 < e)
					e = x + 1;
				if (h - y < e)
					e = h - y;
				if (w - x < e)
					e = w - x;
				keep = e * e > r2;
			}
			out[i] = (uint8_t)keep;
		}
	free(d2);
	free(inv);
	return rc;
}

int ct_close_disk(const uint8_t *m, int h, int w, double r, uint8_t *out)
{
	int p = (int)ceil(r > 0 ? r : 0);
	int H = h + 2 * p, W = w + 2 * p;
	uint8_t *pad = calloc((size_t)H * W + 1, 1);
	if (!pad)
		return ct_error("out of memory");
	for (int y = 0; y < h; y++)
		memcpy(pad + (int64_t)(y + p) * W + p, m + (int64_t)y * w, (size_t)w);
	int rc = ct_dilate_disk(pad, H, W, r, pad);
	if (rc == 0)
		rc = ct_erode_disk(pad, H, W, r, 1, pad);
	for (int y = 0; rc == 0 && y < h; y++)
		memcpy(out + (int64_t)y * w, pad + (int64_t)(y + p) * W + p, (size_t)w);
	free(pad);
	return rc;
}

/* ---- grey-level statistics ---- */

static int bin_of(float v, int nb)
{
	int b = (int)(v * nb);
	return b < 0 ? 0 : b >= nb ? nb - 1 : b;
}

double ct_otsu(const float *v, const uint8_t *where, int64_t n)
{
	double hist[256] = { 0 };
	for (int64_t i = 0; i < n; i++)
		if (!where || where[i])
			hist[bin_of(v[i], 256)]++;
	double total = 0, sum = 0;
	for (int b = 0; b < 256; b++) {
		total += hist[b];
		sum += b * hist[b];
	}
	double w0 = 0, s0 = 0, best = -1;
	int bt = -1;
	for (int b = 0; b < 255; b++) {
		w0 += hist[b];
		s0 += b * hist[b];
		double w1 = total - w0;
		if (w0 == 0 || w1 == 0)
			continue;
		double m0 = s0 / w0, m1 = (sum - s0) / w1;
		double between = w0 * w1 * (m0 - m1) * (m0 - m1);
		if (between > best) {
			best = between;
			bt = b;
		}
	}
	return bt < 0 ? 0.5 : (bt + 1) / 256.0;
}

double ct_grey_quantile(const float *v, const uint8_t *where, int64_t n, double q)
{
	enum { NB = 4096 };
	int64_t *hist = calloc(NB, sizeof *hist), total = 0;
	if (!hist)
		return NAN;
	for (int64_t i = 0; i < n; i++)
		if (!where || where[i]) {
			hist[bin_of(v[i], NB)]++;
			total++;
		}
	double res = NAN;
	if (total > 0) {
		int64_t want = (int64_t)ceil(q * (double)total), acc = 0;
		if (want < 1)
			want = 1;
		for (int b = 0; b < NB; b++) {
			acc += hist[b];
			if (acc >= want) {
				res = (b + 0.5) / NB;
				break;
			}
		}
	}
	free(hist);
	return res;
}

/* ---- masks ---- */

/* Convex hull of the set pixels' centres, filled, into out (may be m): from the first and
 * last set pixel of each row (Andrew's monotone chain), then each row's span inside it. */
static int fill_convex_hull(const uint8_t *m, int h, int w, uint8_t *out)
{
	int64_t *px = malloc(((size_t)2 * h + 1) * sizeof *px), *hull = malloc(((size_t)4 * h + 2) * sizeof *hull);
	double *lo = malloc(((size_t)h + 1) * sizeof *lo), *hi = malloc(((size_t)h + 1) * sizeof *hi);
	if (!px || !hull || !lo || !hi) {
		free(px), free(hull), free(lo), free(hi);
		return ct_error("out of memory");
	}
	/* points as y * 2^32 + x, sorted by (y, x) by construction */
	int np = 0;
	for (int y = 0; y < h; y++) {
		int a = -1, b = -1;
		for (int x = 0; x < w; x++)
			if (m[(int64_t)y * w + x]) {
				if (a < 0)
					a = x;
				b = x;
			}
		if (a >= 0) {
			px[np++] = ((int64_t)y << 32) | a;
			if (b != a)
				px[np++] = ((int64_t)y << 32) | b;
		}
		lo[y] = HUGE_VAL, hi[y] = -HUGE_VAL;
	}
#define PY(p) ((double)((p) >> 32))
#define PX(p) ((double)((p) & 0xffffffff))
#define CROSS(o, a, b) ((PY(a) - PY(o)) * (PX(b) - PX(o)) - (PX(a) - PX(o)) * (PY(b) - PY(o)))
	int k = 0;
	for (int i = 0; i < np; i++) {
		while (k >= 2 && CROSS(hull[k - 2], hull[k - 1], px[i]) <= 0)
			k--;
		hull[k++] = px[i];
	}
	for (int i = np - 2, t = k + 1; i >= 0; i--) {
		while (k >= t && CROSS(hull[k - 2], hull[k - 1], px[i]) <= 0)
			k--;
		hull[k++] = px[i];
	}
	/* every edge (and single point) widens the spans of the rows it crosses */
	for (int i = 0; i < (k > 1 ? k - 1 : k); i++) {
		int64_t a = hull[i], b = hull[k > 1 ? i + 1 : i];
		double ya = PY(a), yb = PY(b), xa = PX(a), xb = PX(b);
		int y0 = (int)(ya < yb ? ya : yb), y1 = (int)(ya < yb ? yb : ya);
		for (int y = y0; y <= y1; y++) {
			double x = ya == yb ? xa : xa + (xb - xa) * (y - ya) / (yb - ya);
			double x2 = ya == yb ? xb : x;
			lo[y] = fmin(lo[y], fmin(x, x2));
			hi[y] = fmax(hi[y], fmax(x, x2));
		}
	}
#undef PY
#undef PX
#undef CROSS
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			out[(int64_t)y * w + x] = x >= lo[y] - 1e-9 && x <= hi[y] + 1e-9;
	free(px), free(hull), free(lo), free(hi);
	return 0;
}

/* Component j of lab, holes filled, closed by a disk of radius r and filled again, within its
 * bounding box padded by r: ORed into out. Closing each lung alone keeps the two apart. */
static int close_component(const int32_t *lab, int h, int w, int32_t j, double r, uint8_t *out)
{
	int y0 = h, y1 = -1, x0 = w, x1 = -1;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			if (lab[(int64_t)y * w + x] == j) {
				y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
				x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
			}
	if (y1 < 0)
		return 0;
	int p = (int)ceil(r) + 1;
	int bh = y1 - y0 + 1 + 2 * p, bw = x1 - x0 + 1 + 2 * p;
	uint8_t *b = calloc((size_t)bh * bw + 1, 1);
	if (!b)
		return ct_error("out of memory");
	for (int y = y0; y <= y1; y++)
		for (int x = x0; x <= x1; x++)
			b[(int64_t)(y - y0 + p) * bw + (x - x0 + p)] = lab[(int64_t)y * w + x] == j;
	int rc = ct_fill_holes(b, bh, bw, b);
	if (rc == 0 && r >= 1)
		rc = ct_close_disk(b, bh, bw, r, b);
	if (rc == 0)
		rc = ct_fill_holes(b, bh, bw, b);
	for (int y = 0; rc == 0 && y < bh; y++)
		for (int x = 0; x < bw; x++) {
			int yy = y + y0 - p, xx = x + x0 - p;
			if (b[(int64_t)y * bw + x] && yy >= 0 && yy < h && xx >= 0 && xx < w)
				out[(int64_t)yy * w + xx] = 1;
		}
	free(b);
	return rc;
}

int ct_lung_masks(const float *g, int h, int w, uint8_t *body_out, uint8_t *lung_out, int *body_found,
		  int *lung_found)
{
	int64_t n = (int64_t)h * w;
	int mn = h < w ? h : w;
	uint8_t *body = malloc((size_t)n + 1), *cand = malloc((size_t)n + 1), *chest = NULL;
	int32_t *lab = NULL;
	int64_t *areas = NULL;
	int k = 0, rc = 0, bfound = 0, lfound = 0;
	if (!body || !cand) {
		rc = ct_error("out of memory");
		goto out;
	}
	/* body */
	double tb = ct_otsu(g, NULL, n);
	for (int64_t i = 0; i < n; i++)
		body[i] = g[i] >= tb;
	double ro = 0.005 * mn;
	if (ro >= 1 && ((rc = ct_erode_disk(body, h, w, ro, 1, body)) < 0 || (rc = ct_dilate_disk(body, h, w, ro, body)) < 0))
		goto out;
	int64_t barea = ct_largest_component(body, h, w, 4, body);
	if (barea < 0 || ct_fill_holes(body, h, w, body) < 0) {
		rc = -1;
		goto out;
	}
	barea = 0;
	for (int64_t i = 0; i < n; i++)
		barea += body[i];
	bfound = barea >= 0.05 * (double)n;

	/* lung field: dark components inside the chest, the body's convex hull (a lung cut by the
	 * image border is not a hole of the body, but lies inside its hull) */
	chest = malloc((size_t)n + 1);
	if (!chest || fill_convex_hull(body, h, w, chest) < 0) {
		rc = chest ? -1 : ct_error("out of memory");
		goto out;
	}
	double tl = ct_otsu(g, chest, n);
	for (int64_t i = 0; i < n; i++)
		cand[i] = chest[i] && g[i] < tl;
	lab = label_areas(cand, h, w, 4, &areas, &k);
	if (!lab) {
		rc = -1;
		goto out;
	}
	/* per component: 1 touches the image border, 2 touches the outside air */
	uint8_t *touch = calloc((size_t)k + 1, 1);
	if (!touch) {
		rc = ct_error("out of memory");
		goto out;
	}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int64_t i = (int64_t)y * w + x;
			int32_t l = lab[i];
			if (!l)
				continue;
			if (y == 0 || x == 0 || y == h - 1 || x == w - 1)
				touch[l] |= 1;
			if ((x > 0 && !chest[i - 1]) || (x + 1 < w && !chest[i + 1]) || (y > 0 && !chest[i - w]) ||
			    (y + 1 < h && !chest[i + w]))
				touch[l] |= 2;
		}
	uint8_t *keep = calloc((size_t)k + 1, 1);
	if (!keep) {
		free(touch);
		rc = ct_error("out of memory");
		goto out;
	}
	int64_t lung_area = 0;
	for (int pass = 0; pass < 2 && bfound && lung_area < 0.03 * (double)barea; pass++) {
		/* pass 0: the rule; pass 1 (when pass 0 finds less than 3% of the body): also
		 * components cut by the image border, as in figures cropped through the chest */
		int64_t amax = 0;
		lung_area = 0;
		for (int j = 1; j <= k; j++)
			if (!(touch[j] & 2) && (pass || !(touch[j] & 1)) && areas[j] > amax)
				amax = areas[j];
		for (int j = 1; j <= k; j++) {
			keep[j] = !(touch[j] & 2) && (pass || !(touch[j] & 1)) && areas[j] >= 0.001 * (double)n &&
				  areas[j] >= 0.05 * (double)amax;
			if (keep[j])
				lung_area += areas[j];
		}
	}
	memset(cand, 0, (size_t)n);
	double rcl = 0.1 * sqrt((double)lung_area);
	for (int j = 1; j <= k && rc == 0; j++)
		if (keep[j])
			rc = close_component(lab, h, w, j, rcl, cand);
	free(touch);
	free(keep);
	if (rc < 0)
		goto out;
	if (lung_area > 0) {
		for (int64_t i = 0; i < n; i++) {
			cand[i] = cand[i] && chest[i];
			body[i] = body[i] || cand[i];
		}
		lfound = 1;
	}
	if (body_out)
		memcpy(body_out, body, (size_t)n);
	if (lung_out)
		memcpy(lung_out, cand, (size_t)n);
out:
	if (body_found)
		*body_found = bfound;
	if (lung_found)
		*lung_found = lfound;
	free(body);
	free(cand);
	free(chest);
	free(lab);
	free(areas);
	return rc;
}

/* ---- the preprocessing ---- */

void ct_lung_defaults(ct_lung_opts *o)
{
	memset(o, 0, sizeof *o);
	o->margin = 0.1;
}

/* Paint over the marked pixels from their unmarked 8-neighbours, layer by layer from the
 * outside in (each pixel takes the mean of the neighbours known before its layer). */
static int inpaint(float *g, int h, int w, uint8_t *mark)
{
	int64_t n = (int64_t)h * w, left = 0;
	for (int64_t i = 0; i < n; i++)
		left += mark[i] != 0;
	float *next = malloc(((size_t)n + 1) * sizeof *next);
	uint8_t *done = malloc((size_t)n + 1);
	if (!next || !done) {
		free(next);
		free(done);
		return ct_error("out of memory");
	}
	while (left > 0) {
		int64_t filled = 0;
		memset(done, 0, (size_t)n);
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++) {
				int64_t i = (int64_t)y * w + x;
				if (!mark[i])
					continue;
				double s = 0;
				int c = 0;
				for (int dy = -1; dy <= 1; dy++)
					for (int dx = -1; dx <= 1; dx++) {
						int yy = y + dy, xx = x + dx;
						if ((dy || dx) && yy >= 0 && yy < h && xx >= 0 && xx < w &&
						    !mark[(int64_t)yy * w + xx]) {
							s += g[(int64_t)yy * w + xx];
							c++;
						}
					}
				if (c) {
					next[i] = (float)(s / c);
					done[i] = 1;
					filled++;
				}
			}
		if (filled == 0) { /* everything marked: nothing to paint from */
			for (int64_t i = 0; i < n; i++)
				if (mark[i])
					g[i] = 0, mark[i] = 0;
			break;
		}
		for (int64_t i = 0; i < n; i++)
			if (done[i]) {
				g[i] = next[i];
				mark[i] = 0;
			}
		left -= filled;
	}
	free(next);
	free(done);
	return 0;
}

/* Whether line `len` values at p (step `step`) are blank: 98% within 0.06 of their median. */
static int blank_line(const float *p, int64_t step, int len)
{
	int hist[64] = { 0 };
	for (int i = 0; i < len; i++)
		hist[bin_of(p[i * step], 64)]++;
	int acc = 0, mb = 0;
	for (; mb < 64; mb++)
		if ((acc += hist[mb]) * 2 >= len)
			break;
	double med = (mb + 0.5) / 64.0;
	int near = 0;
	for (int i = 0; i < len; i++)
		near += fabs(p[i * step] - med) <= 0.06 + 0.5 / 64.0;
	return near >= 0.98 * len;
}

int ct_lung_preprocess(const ct_tensor *in, const ct_lung_opts *o, ct_tensor *out, ct_tensor *mask,
		       ct_lung_info *info)
{
	ct_lung_info li;
	memset(&li, 0, sizeof li);
	li.parenchyma = li.tissue = NAN;
	memset(out, 0, sizeof *out);
	memset(mask, 0, sizeof *mask);
	if (in->ndim != 3 || in->dtype != CT_F32 || (in->shape[2] != 1 && in->shape[2] != 3))
		return ct_error("lung: expected an h x w x 1 or h x w x 3 float image");
	if (in->shape[0] < 1 || in->shape[1] < 1 || in->shape[0] > INT32_MAX / 2 || in->shape[1] > INT32_MAX / 2 ||
	    in->shape[0] * in->shape[1] >= INT32_MAX)
		return ct_error("lung: image size %lld x %lld out of range", (long long)in->shape[0],
				(long long)in->shape[1]);
	int H = (int)in->shape[0], W = (int)in->shape[1], C = (int)in->shape[2];
	int64_t N = (int64_t)H * W;
	float *g = malloc(((size_t)N + 1) * sizeof *g);
	uint8_t *mark = calloc((size_t)N + 1, 1), *body = NULL, *lung = NULL;
	int rc = 0;
	if (!g || !mark) {
		rc = ct_error("out of memory");
		goto fail;
	}
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			const float *p = (const float *)((const char *)in->data + y * in->stride[0] + x * in->stride[1]);
			int64_t i = (int64_t)y * W + x;
			if (C == 1) {
				g[i] = p[0];
				continue;
			}
			float r = p[0], gg = *(const float *)((const char *)p + in->stride[2]),
			      b = *(const float *)((const char *)p + 2 * in->stride[2]);
			g[i] = 0.299f * r + 0.587f * gg + 0.114f * b;
			float mx = r > gg ? (r > b ? r : b) : (gg > b ? gg : b);
			float mi = r < gg ? (r < b ? r : b) : (gg < b ? gg : b);
			mark[i] = mx - mi > 0.15f;
		}
	int y0 = 0, y1 = H, x0 = 0, x1 = W; /* the trimmed image within the input */
	if (o->clean) {
		int64_t nm = 0;
		for (int64_t i = 0; i < N; i++)
			nm += mark[i];
		if (nm) {
			if (ct_dilate_disk(mark, H, W, 1.0, mark) < 0 || inpaint(g, H, W, mark) < 0) {
				rc = -1;
				goto fail;
			}
			li.marked = nm;
		}
		/* side by side until none changes, so a frame and the blank air inside it both go */
		for (int changed = 1; changed;) {
			changed = 0;
			if (y0 < H / 3 && blank_line(g + (int64_t)y0 * W + x0, 1, x1 - x0))
				y0++, changed = 1;
			if (H - y1 < H / 3 && blank_line(g + (int64_t)(y1 - 1) * W + x0, 1, x1 - x0))
				y1--, changed = 1;
			if (x0 < W / 3 && blank_line(g + (int64_t)y0 * W + x0, W, y1 - y0))
				x0++, changed = 1;
			if (W - x1 < W / 3 && blank_line(g + (int64_t)y0 * W + x1 - 1, W, y1 - y0))
				x1--, changed = 1;
		}
		li.trim[0] = y0, li.trim[1] = H - y1, li.trim[2] = x0, li.trim[3] = W - x1;
		if (y0 || x0 || y1 < H || x1 < W) {
			int h = y1 - y0, w = x1 - x0;
			for (int y = 0; y < h; y++)
				memmove(g + (int64_t)y * w, g + (int64_t)(y + y0) * W + x0, (size_t)w * sizeof *g);
		}
	}
	int h = y1 - y0, w = x1 - x0;
	int64_t n = (int64_t)h * w;
	body = malloc((size_t)n + 1);
	lung = malloc((size_t)n + 1);
	if (!body || !lung) {
		rc = ct_error("out of memory");
		goto fail;
	}
	if (ct_lung_masks(g, h, w, body, lung, &li.body_found, &li.lung_found) < 0) {
		rc = -1;
		goto fail;
	}
	if (o->clean && li.body_found) {
		/* outside the body: text, arrows, letters, rulers, the table: paint with the air */
		for (int64_t i = 0; i < n; i++)
			mark[i] = !body[i];
		double air = ct_grey_quantile(g, mark, n, 0.5);
		if (!isnan(air))
			for (int64_t i = 0; i < n; i++)
				if (!body[i])
					g[i] = (float)air;
	}
	int b0 = 0, b1 = h, c0 = 0, c1 = w;
	if (o->crop && (li.lung_found || li.body_found)) {
		const uint8_t *m = li.lung_found ? lung : body;
		b0 = h, b1 = -1, c0 = w, c1 = -1;
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				if (m[(int64_t)y * w + x]) {
					b0 = y < b0 ? y : b0, b1 = y > b1 ? y : b1;
					c0 = x < c0 ? x : c0, c1 = x > c1 ? x : c1;
				}
		b1++, c1++;
		int my = (int)lround(o->margin * (b1 - b0)), mx = (int)lround(o->margin * (c1 - c0));
		b0 = b0 - my < 0 ? 0 : b0 - my;
		c0 = c0 - mx < 0 ? 0 : c0 - mx;
		b1 = b1 + my > h ? h : b1 + my;
		c1 = c1 + mx > w ? w : c1 + mx;
	}
	li.box[0] = b0, li.box[1] = c0, li.box[2] = b1, li.box[3] = c1;
	int oh = b1 - b0, ow = c1 - c0;
	if (ct_tensor_alloc3(out, CT_F32, oh, ow, 1) < 0 || ct_tensor_alloc3(mask, CT_U8, oh, ow, 1) < 0) {
		rc = -1;
		goto fail;
	}
	float *og = out->data;
	uint8_t *om = mask->data;
	for (int y = 0; y < oh; y++) {
		memcpy(og + (int64_t)y * ow, g + (int64_t)(y + b0) * w + c0, (size_t)ow * sizeof *og);
		memcpy(om + (int64_t)y * ow, lung + (int64_t)(y + b0) * w + c0, (size_t)ow);
		/* the body outside the lungs, within the crop, for the tissue anchor */
		for (int x = 0; x < ow; x++)
			mark[(int64_t)y * ow + x] = body[(int64_t)(y + b0) * w + c0 + x] && !om[(int64_t)y * ow + x];
	}
	if (o->standardise && li.lung_found) {
		int64_t on = (int64_t)oh * ow;
		double a = ct_grey_quantile(og, om, on, 0.10), b = ct_grey_quantile(og, mark, on, 0.5);
		li.parenchyma = a, li.tissue = b;
		if (!isnan(a) && !isnan(b) && b - a >= 0.05) {
			double s = (CT_LUNG_STD_TISSUE - CT_LUNG_STD_PARENCHYMA) / (b - a);
			for (int64_t i = 0; i < on; i++) {
				double v = CT_LUNG_STD_PARENCHYMA + (og[i] - a) * s;
				og[i] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
			}
			li.standardised = 1;
		}
	}
	if (o->only && li.lung_found) {
		/* mark is free now: the widened lung field */
		double r = CT_LUNG_ONLY_WIDEN * sqrt((double)oh * ow);
		if (ct_dilate_disk(om, oh, ow, r < 1.0 ? 1.0 : r, mark) < 0) {
			rc = -1;
			goto fail;
		}
		for (int64_t i = 0; i < (int64_t)oh * ow; i++)
			if (!mark[i] && og[i] != 0.0f)
				og[i] = 0.0f, li.blanked++;
	}
	free(g);
	free(mark);
	free(body);
	free(lung);
	if (info)
		*info = li;
	return 0;
fail:
	free(g);
	free(mark);
	free(body);
	free(lung);
	ct_tensor_free(out);
	ct_tensor_free(mask);
	return rc < 0 ? rc : -1;
}

/* ---- mask warp ---- */

static inline int64_t mask_index(double x, int64_t n, int fill)
{
	if (fill == CT_FILL_CONSTANT)
		return x >= 0.0 && x <= (double)(n - 1) ? (int64_t)floor(x + 0.5) : -1;
	if (fill == CT_FILL_NEAREST) {
		x = x < 0.0 ? 0.0 : x > (double)(n - 1) ? (double)(n - 1) : x;
		return (int64_t)floor(x + 0.5);
	}
	int64_t per = fill == CT_FILL_REFLECT ? 2 * n : n;
	double r = fmod(floor(x + 0.5), (double)per);
	int64_t i = (int64_t)r;
	if (i < 0)
		i += per;
	if (fill == CT_FILL_REFLECT && i >= n)
		i = 2 * n - 1 - i;
	return i;
}

int ct_warp_mask_nearest(const uint8_t *in, int h, int w, const double m[6], int fill, uint8_t *out)
{
	if (fill < CT_FILL_NEAREST || fill > CT_FILL_WRAP)
		return ct_error("warp: unknown fill mode %d", fill);
	for (int i = 0; i < 6; i++)
		if (!isfinite(m[i]))
			return ct_error("warp: non-finite matrix entry");
	for (int r = 0; r < h; r++)
		for (int c = 0; c < w; c++) {
			int64_t y = mask_index(m[0] * r + m[1] * c + m[2], h, fill);
			int64_t x = mask_index(m[3] * r + m[4] * c + m[5], w, fill);
			out[(int64_t)r * w + c] = y >= 0 && x >= 0 ? in[y * w + x] : 0;
		}
	return 0;
}
