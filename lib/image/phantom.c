/* phantom.c - synthetic chest CT slices (analytic anatomy, lesions, blur, noise); the data set
 * writer is lib/data/phantom_set.c. */
#include "image/phantom.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>

/* Stream layout of one seed: noise of slice k of patient p is stream p*1000+k (k < 999), the
 * patient's anatomy p*1000+999; lesions and data set choices (CT_PHANTOM_STREAM_ASSIGN and
 * _SPLIT in phantom.h) live in disjoint high ranges so that drawing lesions can never shift
 * the anatomy or the noise. */
#define STREAM_ANATOMY(p) ((uint64_t)(p) * 1000 + 999)
#define STREAM_LESION(p) (((uint64_t)1 << 40) + (uint64_t)(p) * 1000 + 999)

#define MAX_VESSELS 112
#define MAX_RIBS 20
#define MAX_LESIONS 16
#define MAX_INDENTS 10
#define RAMP_PX 3.0 /* lesions fade in over this many pixels inside the pleura */

typedef struct vessel {
	int side;         /* -1: image left (patient's right), +1: image right */
	double u, v;      /* position in lung-normalised coordinates at z = zc */
	double du, dv;    /* drift per unit z: vessels run obliquely through the slab */
	double zc, hz;    /* present for |z - zc| < hz, thickest at zc */
	double r;         /* radius */
	double len, ang;  /* in-plane run (0: seen end-on as a dot) */
	double hu;
	int airway;       /* a bronchus runs beside it */
} vessel;

typedef struct lesion {
	int side;
	double u, v, du, dv, zc, hz, r;
	double hu;                   /* target density */
	double a2, p2, a3, p3;       /* lobulated outline: radius * (1 + a2 cos 2(th-p2) + a3 cos 3(th-p3)) */
} lesion;

/* Everything about one synthetic patient; lengths in units of half the smaller image side. */
typedef struct anatomy {
	double by, A_b, B_b;             /* body centre y and half-axes */
	double skin, fat_t, muscle_t;
	double fat_hu, muscle_hu, med_hu;
	double t0, span;                 /* the slab covers heights t0 .. t0+span of the chest */
	double lung_cx, lung_a, lung_b, lung_cy, lung_scale, lung_hu, lung_grad;
	double hilum_r;
	double heart_x, heart_y, heart_r, heart_hu;
	double aorta_r, desc_r, blood_hu;
	double trachea_r, carina_t;
	double bone_hu, marrow_hu;
	int nrib;
	double rib_ang[MAX_RIBS];
	double rib_drift;
	int nvessel;
	vessel ves[MAX_VESSELS];
} anatomy;

typedef struct circle {
	double x, y, r;
} circle;

typedef struct canvas {
	float *img, *cov, *ramp;
	int w, h;
	double s; /* pixels per unit length */
} canvas;

void ct_phantom_defaults(ct_phantom_opts *o)
{
	o->width = o->height = 256;
	o->slices_per_patient = 5;
	o->seed = 1;
	o->noise_sd = 20.0;
	o->blur_sigma = 0.7;
}

static double clampd(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static double smoothstep(double e0, double e1, double x)
{
	double t = clampd((x - e0) / (e1 - e0), 0.0, 1.0);
	return t * t * (3.0 - 2.0 * t);
}

static double urange(ct_rng *r, double lo, double hi)
{
	return ct_rng_range(r, lo, hi);
}

/* ---- the patient ---- */

static void make_anatomy(const ct_phantom_opts *o, int patient, anatomy *a)
{
	ct_rng r;
	ct_rng_init(&r, o->seed, STREAM_ANATOMY(patient));
	a->A_b = urange(&r, 0.78, 0.92);
	a->B_b = a->A_b * urange(&r, 0.66, 0.80);
	a->by = urange(&r, -0.02, 0.06);
	a->skin = 0.012;
	a->fat_t = urange(&r, 0.02, 0.08);
	a->muscle_t = urange(&r, 0.035, 0.06);
	a->fat_hu = urange(&r, -115, -85);
	a->muscle_hu = urange(&r, 35, 55);
	a->med_hu = urange(&r, -90, -50);
	a->t0 = urange(&r, 0.25, 0.40);
	a->span = urange(&r, 0.30, 0.45);
	a->lung_cx = urange(&r, 0.47, 0.54);
	a->lung_a = urange(&r, 0.48, 0.54);
	a->lung_b = urange(&r, 0.95, 1.1);
	a->lung_cy = urange(&r, -0.05, 0.08);
	a->lung_scale = urange(&r, 0.92, 1.04);
	a->lung_hu = urange(&r, -880, -820);
	a->lung_grad = urange(&r, 15, 45);
	a->hilum_r = urange(&r, 0.18, 0.26);
	a->heart_x = urange(&r, 0.10, 0.16);
	a->heart_y = urange(&r, -0.22, -0.10);
	a->heart_r = urange(&r, 0.26, 0.32);
	a->heart_hu = urange(&r, 30, 48);
	a->aorta_r = urange(&r, 0.048, 0.062);
	a->desc_r = urange(&r, 0.038, 0.050);
	a->blood_hu = urange(&r, 30, 50);
	a->trachea_r = urange(&r, 0.040, 0.052);
	a->carina_t = urange(&r, 0.38, 0.50);
	a->bone_hu = urange(&r, 700, 1000);
	a->marrow_hu = urange(&r, 180, 320);
	a->nrib = 14 + (int)ct_rng_below(&r, 5);
	double phase = urange(&r, 0, 6.283185307179586 / a->nrib);
	for (int i = 0; i < a->nrib; i++)
		a->rib_ang[i] = phase + 6.283185307179586 * i / a->nrib + urange(&r, -0.06, 0.06);
	a->rib_drift = urange(&r, 0.4, 0.9);
	/* Vessels fan out from the hilum (u = -0.8, v = -0.1): thick near it, thin at the rim. */
	a->nvessel = 70 + (int)ct_rng_below(&r, MAX_VESSELS - 70 + 1);
	for (int i = 0; i < a->nvessel; i++) {
		vessel *v = &a->ves[i];
		v->side = (i & 1) ? 1 : -1;
		double ang = urange(&r, -1.5, 1.5), rho = sqrt(urange(&r, 0.02, 1.0)) * 1.75;
		v->u = -0.8 + rho * cos(ang);
		v->v = -0.1 + rho * sin(ang) * 1.1;
		v->du = urange(&r, -0.25, 0.25);
		v->dv = urange(&r, -0.25, 0.25);
		v->zc = urange(&r, -0.2, 1.2);
		v->hz = urange(&r, 0.3, 1.6);
		double near = clampd(1.0 - rho / 1.75, 0.0, 1.0);
		v->r = 0.004 + 0.022 * near * near + urange(&r, 0.0, 0.004);
		v->len = ct_rng_uniform(&r) < 0.25 ? urange(&r, 0.02, 0.08) : 0.0;
		v->ang = ang + urange(&r, -0.4, 0.4);
		v->hu = urange(&r, 20, 60);
		v->airway = v->r > 0.009 && ct_rng_uniform(&r) < 0.35;
	}
}

static int make_lesions(const ct_phantom_opts *o, int patient, lesion *les)
{
	ct_rng r;
	ct_rng_init(&r, o->seed, STREAM_LESION(patient));
	int extra = 1 + (int)ct_rng_below(&r, 6);
	int n = 0;
	/* The first opacity spans the whole slab, so that every slice of a lesion patient shows one. */
	for (int i = 0; i <= extra && n < MAX_LESIONS; i++) {
		lesion *l = &les[n++];
		l->side = ct_rng_uniform(&r) < 0.5 ? -1 : 1;
		/* COVID-19 opacities are mostly peripheral and posterior: bias the radius outward. */
		double ang = urange(&r, -3.14159265, 3.14159265), rho = 0.85 * sqrt(urange(&r, 0.15, 1.0));
		l->u = rho * cos(ang);
		if (i == 0) {
			/* Lateral and not at the apex or base: clear of the hilum, the heart and the
			 * cavity wall, so that it shows on every slice. */
			l->u = 0.6 * fabs(l->u);
			l->v = 0.6 * l->v;
		}
		l->v = rho * sin(ang) * 0.9 + 0.08;
		l->du = urange(&r, -0.15, 0.15);
		l->dv = urange(&r, -0.15, 0.15);
		if (i == 0) {
			l->zc = urange(&r, 0.3, 0.7);
			l->hz = urange(&r, 1.2, 2.0);
		} else {
			l->zc = urange(&r, 0.0, 1.0);
			l->hz = urange(&r, 0.2, 0.8);
		}
		int consolidation = i > 0 && ct_rng_uniform(&r) < 0.3;
		l->r = consolidation ? urange(&r, 0.04, 0.10) : urange(&r, 0.06, 0.18);
		l->hu = consolidation ? urange(&r, -100, 40) : urange(&r, -700, -400);
		l->a2 = urange(&r, 0.0, 0.25);
		l->p2 = urange(&r, 0, 3.14159265);
		l->a3 = urange(&r, 0.0, 0.15);
		l->p3 = urange(&r, 0, 3.14159265);
		/* Ground glass often has a consolidated core. */
		if (!consolidation && n < MAX_LESIONS && ct_rng_uniform(&r) < 0.4) {
			lesion *c = &les[n++];
			*c = *l;
			c->r = l->r * urange(&r, 0.35, 0.55);
			c->hu = urange(&r, -100, 40);
		}
	}
	return n;
}

/* ---- painting: every shape has a one-pixel soft edge, so outlines are anti-aliased ---- */

/* Approximate signed distance to an axis-aligned ellipse (negative inside), along the ray
 * from its centre: exact for circles, close enough elsewhere for a one-pixel edge. */
static double ellipse_sd(double x, double y, double a, double b)
{
	double nx = x / a, ny = y / b;
	double rho = sqrt(nx * nx + ny * ny);
	if (rho < 1e-12)
		return -(a < b ? a : b);
	return sqrt(x * x + y * y) / rho * (rho - 1.0);
}

static void bbox(const canvas *c, double cx, double cy, double rx, double ry, int *x0, int *x1, int *y0,
		 int *y1)
{
	double ox = c->w * 0.5, oy = c->h * 0.5;
	*x0 = (int)floor(ox + (cx - rx) * c->s) - 2;
	*x1 = (int)ceil(ox + (cx + rx) * c->s) + 2;
	*y0 = (int)floor(oy + (cy - ry) * c->s) - 2;
	*y1 = (int)ceil(oy + (cy + ry) * c->s) + 2;
	if (*x0 < 0)
		*x0 = 0;
	if (*y0 < 0)
		*y0 = 0;
	if (*x1 > c->w)
		*x1 = c->w;
	if (*y1 > c->h)
		*y1 = c->h;
}

static double px_x(const canvas *c, int x)
{
	return (x + 0.5 - c->w * 0.5) / c->s;
}

static double px_y(const canvas *c, int y)
{
	return (y + 0.5 - c->h * 0.5) / c->s;
}

/* Rotated ellipse (angle th) of value v. */
static void paint_ellipse(canvas *c, double cx, double cy, double a, double b, double th, double v)
{
	int x0, x1, y0, y1;
	double m = a > b ? a : b, ct = cos(th), st = sin(th);
	/* |distance| >= min(a, b) * |rho - 1|: away from the edge, skip the square roots. */
	double e = 1.0 / ((a < b ? a : b) * c->s), lo = 1.0 - e, hi = 1.0 + e;
	lo = lo > 0.0 ? lo * lo : -1.0;
	hi *= hi;
	double ia2 = 1.0 / (a * a), ib2 = 1.0 / (b * b);
	bbox(c, cx, cy, m, m, &x0, &x1, &y0, &y1);
	for (int y = y0; y < y1; y++) {
		double dy = px_y(c, y) - cy;
		float *row = c->img + (size_t)y * c->w;
		for (int x = x0; x < x1; x++) {
			double dx = px_x(c, x) - cx;
			double lx = dx * ct + dy * st, ly = -dx * st + dy * ct;
			double r2 = lx * lx * ia2 + ly * ly * ib2;
			if (r2 >= hi)
				continue;
			if (r2 <= lo) {
				row[x] = (float)v;
				continue;
			}
			double al = clampd(0.5 - ellipse_sd(lx, ly, a, b) * c->s, 0.0, 1.0);
			if (al > 0.0)
				row[x] = (float)(row[x] + al * (v - row[x]));
		}
	}
}

static void paint_circle(canvas *c, double cx, double cy, double r, double v)
{
	paint_ellipse(c, cx, cy, r, r, 0.0, v);
}

/* A capsule (segment p0-p1 thickened by r) painted only where lung is: vessels and small
 * airways belong to the lung and must neither leave it nor change its mask. */
static void paint_in_lung(canvas *c, double x0w, double y0w, double x1w, double y1w, double r, double v)
{
	int x0, x1, y0, y1;
	double mx = (x0w + x1w) * 0.5, my = (y0w + y1w) * 0.5;
	double hx = fabs(x1w - x0w) * 0.5 + r, hy = fabs(y1w - y0w) * 0.5 + r;
	double ex = x1w - x0w, ey = y1w - y0w, ee = ex * ex + ey * ey;
	bbox(c, mx, my, hx, hy, &x0, &x1, &y0, &y1);
	for (int y = y0; y < y1; y++) {
		double py = px_y(c, y);
		size_t o = (size_t)y * c->w;
		for (int x = x0; x < x1; x++) {
			float cv = c->cov[o + x];
			if (cv <= 0.0f)
				continue;
			double px = px_x(c, x), t = 0.0;
			if (ee > 0.0)
				t = clampd(((px - x0w) * ex + (py - y0w) * ey) / ee, 0.0, 1.0);
			double qx = px - (x0w + t * ex), qy = py - (y0w + t * ey);
			double d = (sqrt(qx * qx + qy * qy) - r) * c->s;
			double al = clampd(0.5 - d, 0.0, 1.0) * cv;
			if (al > 0.0)
				c->img[o + x] = (float)(c->img[o + x] + al * (v - c->img[o + x]));
		}
	}
}

/* ---- one slice ---- */

typedef struct lung_geo {
	double cx, cy, a, b; /* per side: centre x is side * cx */
	double A_c, B_c, cav_y;
	int nind;
	circle ind[MAX_INDENTS]; /* mediastinal structures the lungs wrap around */
} lung_geo;

static void lung_point(const lung_geo *g, int side, double u, double v, double *x, double *y)
{
	*x = side * (g->cx + u * g->a);
	*y = g->cy + v * g->b;
}

/* Lungs: an ellipse per side, clipped by the chest cavity, minus the hilum and the mediastinal
 * indents, which gives the kidney shape. Writes the lung coverage (the mask, soft edge) and
 * the lesion weight ramp (0 on and outside the pleura, 1 from RAMP_PX pixels inside). */
static void paint_lungs(canvas *c, const anatomy *an, const lung_geo *g)
{
	for (int side = -1; side <= 1; side += 2) {
		int x0, x1, y0, y1;
		double lcx = side * g->cx;
		circle hil = { side * (g->cx - g->a), g->cy - 0.1 * g->b, an->hilum_r * g->b };
		bbox(c, lcx, g->cy, g->a, g->b, &x0, &x1, &y0, &y1);
		for (int y = y0; y < y1; y++) {
			double py = px_y(c, y);
			size_t o = (size_t)y * c->w;
			for (int x = x0; x < x1; x++) {
				double px = px_x(c, x);
				double d = ellipse_sd(px - lcx, py - g->cy, g->a, g->b) * c->s;
				double al = clampd(0.5 - d, 0, 1), rp = clampd(-d / RAMP_PX, 0, 1);
				if (al <= 0.0)
					continue;
				d = ellipse_sd(px, py - g->cav_y, g->A_c - 0.01, g->B_c - 0.01) * c->s;
				al *= clampd(0.5 - d, 0, 1);
				rp *= clampd(-d / RAMP_PX, 0, 1);
				for (int k = -1; k < g->nind && al > 0.0; k++) {
					const circle *ci = k < 0 ? &hil : &g->ind[k];
					double dx = px - ci->x, dy = py - ci->y, far = ci->r + RAMP_PX / c->s;
					if (dx * dx + dy * dy >= far * far)
						continue; /* both factors are 1 */
					d = (sqrt(dx * dx + dy * dy) - ci->r) * c->s;
					al *= clampd(0.5 + d, 0, 1);
					rp *= clampd(d / RAMP_PX, 0, 1);
				}
				if (al <= 0.0)
					continue;
				/* Dependent (posterior) lung is a little denser. */
				double hu = an->lung_hu + an->lung_grad * (py - g->cy) / g->b;
				c->img[o + x] = (float)(c->img[o + x] + al * (hu - c->img[o + x]));
				if (al > c->cov[o + x])
					c->cov[o + x] = (float)al;
				if (rp > c->ramp[o + x])
					c->ramp[o + x] = (float)rp;
			}
		}
	}
	/* A lesion weight on a pixel outside the mask would leak lesions out of the lungs. */
	for (size_t i = 0; i < (size_t)c->w * c->h; i++)
		if (c->cov[i] < 0.5f)
			c->ramp[i] = 0.0f;
}

static void paint_anatomy(canvas *c, const anatomy *an, double z, lung_geo *g)
{
	double t = an->t0 + an->span * z;
	double by = an->by;
	double A_m = an->A_b - an->skin - an->fat_t, B_m = an->B_b - an->skin - an->fat_t;
	double A_c = A_m - an->muscle_t, B_c = B_m - an->muscle_t;
	double ls = an->lung_scale * (0.88 + 0.12 * sin(3.14159265 * t));
	double hg = 0.55 + 0.45 * smoothstep(0.3, 0.9, t);
	double hr = an->heart_r * A_c * hg;

	/* Body wall: skin, subcutaneous fat, muscle; the cavity starts as mediastinal fat. */
	paint_ellipse(c, 0, by, an->A_b, an->B_b, 0, an->muscle_hu);
	paint_ellipse(c, 0, by, an->A_b - an->skin, an->B_b - an->skin, 0, an->fat_hu);
	paint_ellipse(c, 0, by, A_m, B_m, 0, an->muscle_hu);
	paint_ellipse(c, 0, by, A_c, B_c, 0, an->med_hu);

	/* Ribs cut obliquely around the cavity, turning slowly with height; none over the
	 * sternum or the spine. */
	for (int i = 0; i < an->nrib; i++) {
		double th = an->rib_ang[i] + an->rib_drift * t;
		double thn = remainder(th, 6.283185307179586);
		if (fabs(thn - 1.5707963) < 0.35 || fabs(thn + 1.5707963) < 0.25)
			continue;
		double rx = (A_c + 0.018) * cos(thn), ry = by + (B_c + 0.018) * sin(thn);
		/* Tangent direction of the ellipse at that angle. */
		double tang = atan2((B_c + 0.018) * cos(thn), -(A_c + 0.018) * sin(thn));
		paint_ellipse(c, rx, ry, 0.048, 0.024, tang, an->bone_hu);
		paint_ellipse(c, rx, ry, 0.028, 0.008, tang, an->marrow_hu);
	}
	/* Sternum. */
	paint_ellipse(c, 0, by - B_c - 0.02, 0.065, 0.022, 0, an->bone_hu);
	paint_ellipse(c, 0, by - B_c - 0.02, 0.050, 0.010, 0, an->marrow_hu);

	/* Mediastinum. */
	double hx = an->heart_x * A_c, hy = by + an->heart_y * B_c;
	paint_circle(c, hx, hy, hr + 0.015, an->fat_hu);
	paint_circle(c, hx, hy, hr, an->heart_hu);
	double ax = -0.08 * A_c, ay = by - 0.32 * B_c;
	paint_circle(c, ax, ay, an->aorta_r, an->blood_hu);
	double dx = 0.10 * A_c, dy = by + 0.55 * B_c;
	paint_circle(c, dx, dy, an->desc_r, an->blood_hu);
	double ex = 0.035 * A_c, ey = by + 0.45 * B_c;
	paint_circle(c, ex, ey, 0.022, an->muscle_hu); /* oesophagus */

	/* Spine: vertebral body, canal, posterior arch. */
	double vy = by + B_c - 0.085;
	paint_circle(c, 0, vy, 0.085, an->bone_hu);
	paint_circle(c, 0, vy, 0.060, an->marrow_hu);
	paint_circle(c, 0, vy + 0.115, 0.036, an->bone_hu);
	paint_circle(c, 0, vy + 0.115, 0.028, 20.0);
	paint_ellipse(c, 0, vy + 0.19, 0.018, 0.045, 0, an->bone_hu);

	/* Trachea, splitting into the main bronchi below the carina. */
	double tx = 0.0, ty = by + 0.22 * B_c, tr = an->trachea_r;
	int ntube = 0;
	circle tube[2];
	if (t < an->carina_t) {
		tube[ntube++] = (circle){ tx, ty, tr };
	} else {
		double sep = 0.02 + 0.35 * (t - an->carina_t);
		if (sep > 0.10)
			sep = 0.10;
		tube[ntube++] = (circle){ tx - sep, ty + 0.01, tr * 0.75 };
		tube[ntube++] = (circle){ tx + sep, ty + 0.01, tr * 0.70 };
	}
	for (int i = 0; i < ntube; i++) {
		paint_circle(c, tube[i].x, tube[i].y, tube[i].r + 0.008, an->muscle_hu);
		paint_circle(c, tube[i].x, tube[i].y, tube[i].r, -1000.0);
	}

	/* The lungs wrap around all of the above. */
	g->A_c = A_c;
	g->B_c = B_c;
	g->cav_y = by;
	g->cx = an->lung_cx * A_c;
	g->a = an->lung_a * A_c * ls;
	g->b = an->lung_b * B_c * ls;
	g->cy = by + an->lung_cy * B_c;
	g->nind = 0;
	g->ind[g->nind++] = (circle){ hx, hy, hr + 0.03 };
	g->ind[g->nind++] = (circle){ ax, ay, an->aorta_r + 0.025 };
	g->ind[g->nind++] = (circle){ dx, dy, an->desc_r + 0.02 };
	g->ind[g->nind++] = (circle){ ex, ey, 0.04 };
	g->ind[g->nind++] = (circle){ 0, vy, 0.085 + 0.025 };
	for (int i = 0; i < ntube; i++)
		g->ind[g->nind++] = (circle){ tube[i].x, tube[i].y, tube[i].r + 0.025 };
	paint_lungs(c, an, g);

	/* Vessels and their bronchi. */
	for (int i = 0; i < an->nvessel; i++) {
		const vessel *v = &an->ves[i];
		double q = (z - v->zc) / v->hz;
		if (fabs(q) >= 1.0)
			continue;
		double r = v->r * sqrt(1.0 - q * q);
		double x0, y0;
		lung_point(g, v->side, v->u + v->du * (z - v->zc), v->v + v->dv * (z - v->zc), &x0, &y0);
		double x1 = x0 + v->side * v->len * cos(v->ang), y1 = y0 + v->len * sin(v->ang);
		paint_in_lung(c, x0, y0, x1, y1, r, v->hu);
		if (v->airway) {
			/* Beside the artery, perpendicular to its run. */
			double bx = x0 - 2.2 * r * sin(v->ang) * v->side, byy = y0 + 2.2 * r * cos(v->ang);
			paint_in_lung(c, bx, byy, bx, byy, r * 1.05, -150.0);
			paint_in_lung(c, bx, byy, bx, byy, r * 0.75, -1000.0);
		}
	}
}

static void blur(canvas *c, float *tmp, double sigma)
{
	if (sigma <= 0.0)
		return;
	int rad = (int)ceil(3.0 * sigma);
	if (rad > 16)
		rad = 16;
	float k[33];
	double sum = 0.0;
	for (int i = -rad; i <= rad; i++)
		sum += k[i + rad] = (float)exp(-0.5 * i * i / (sigma * sigma));
	for (int i = 0; i <= 2 * rad; i++)
		k[i] = (float)(k[i] / sum);
	int w = c->w, h = c->h;
	/* Separable, clamping at the border. */
	for (int y = 0; y < h; y++) {
		const float *in = c->img + (size_t)y * w;
		float *out = tmp + (size_t)y * w;
		for (int x = 0; x < w; x++) {
			float acc = 0.0f;
			for (int i = -rad; i <= rad; i++) {
				int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
				acc += k[i + rad] * in[xx];
			}
			out[x] = acc;
		}
	}
	for (int y = 0; y < h; y++) {
		float *out = c->img + (size_t)y * w;
		for (int x = 0; x < w; x++) {
			float acc = 0.0f;
			for (int i = -rad; i <= rad; i++) {
				int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
				acc += k[i + rad] * tmp[(size_t)yy * w + x];
			}
			out[x] = acc;
		}
	}
}

/* Lesions are added after the blur so that they cannot bleed past the pleura; their own
 * outlines are soft already. Ground glass only raises density (vessels stay visible through
 * it), consolidation replaces whatever is there. */
static void paint_lesions(canvas *c, const lung_geo *g, const lesion *les, int n, double z)
{
	for (int i = 0; i < n; i++) {
		const lesion *l = &les[i];
		double q = (z - l->zc) / l->hz;
		if (fabs(q) >= 1.0)
			continue;
		double r = l->r * sqrt(1.0 - q * q);
		double cx, cy;
		lung_point(g, l->side, l->u + l->du * (z - l->zc), l->v + l->dv * (z - l->zc), &cx, &cy);
		double reach = r * (1.0 + l->a2 + l->a3) * 1.25;
		int x0, x1, y0, y1;
		bbox(c, cx, cy, reach, reach, &x0, &x1, &y0, &y1);
		double c2 = cos(2 * l->p2), s2 = sin(2 * l->p2), c3 = cos(3 * l->p3), s3 = sin(3 * l->p3);
		for (int y = y0; y < y1; y++) {
			double dy = px_y(c, y) - cy;
			size_t o = (size_t)y * c->w;
			for (int x = x0; x < x1; x++) {
				float rp = c->ramp[o + x];
				if (rp <= 0.0f)
					continue;
				double dx = px_x(c, x) - cx, rr = sqrt(dx * dx + dy * dy);
				double re = r;
				if (rr > 1e-9) {
					double cs = dx / rr, sn = dy / rr;
					double cos2 = cs * cs - sn * sn, sin2 = 2 * cs * sn;
					double cos3 = 4 * cs * cs * cs - 3 * cs, sin3 = 3 * sn - 4 * sn * sn * sn;
					re = r * (1.0 + l->a2 * (cos2 * c2 + sin2 * s2) + l->a3 * (cos3 * c3 + sin3 * s3));
				}
				double w = (1.0 - smoothstep(0.55, 1.2, rr / re)) * rp;
				float *p = &c->img[o + x];
				if (w > 0.0 && l->hu > *p)
					*p = (float)(*p + w * (l->hu - *p));
			}
		}
	}
}

static void add_noise(float *img, size_t n, double sd, ct_rng *r)
{
	if (sd <= 0.0)
		return;
	/* Box-Muller, using both outputs of each pair. */
	for (size_t i = 0; i < n; i += 2) {
		double u1 = ct_rng_uniform(r), u2 = ct_rng_uniform(r);
		if (u1 < 1e-300)
			u1 = 1e-300;
		double m = sd * sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
		img[i] = (float)(img[i] + m * cos(a));
		if (i + 1 < n)
			img[i + 1] = (float)(img[i + 1] + m * sin(a));
	}
}

int ct_phantom_check_opts(const ct_phantom_opts *o)
{
	if (o->width < 1 || o->height < 1 || o->width > 16384 || o->height > 16384)
		return ct_error("phantom size %dx%d out of range (1..16384)", o->width, o->height);
	if (o->slices_per_patient < 1 || o->slices_per_patient > CT_PHANTOM_MAX_SLICES)
		return ct_error("slices per patient %d out of range (1..%d)", o->slices_per_patient,
				CT_PHANTOM_MAX_SLICES);
	if (!(o->noise_sd >= 0.0 && o->noise_sd < 1e4))
		return ct_error("noise sd %g out of range", o->noise_sd);
	if (!(o->blur_sigma >= 0.0 && o->blur_sigma <= 5.0))
		return ct_error("blur sigma %g out of range (0..5)", o->blur_sigma);
	return 0;
}

int ct_phantom_render_into(const ct_phantom_opts *o, int patient, int slice, int lesion_on, float *hu,
			   uint8_t *mask)
{
	if (ct_phantom_check_opts(o) < 0)
		return -1;
	if (patient < 0 || patient >= CT_PHANTOM_MAX_PATIENTS)
		return ct_error("patient %d out of range (0..%d)", patient, CT_PHANTOM_MAX_PATIENTS - 1);
	if (slice < 0 || slice >= o->slices_per_patient)
		return ct_error("slice %d out of range (0..%d)", slice, o->slices_per_patient - 1);
	size_t n = (size_t)o->width * (size_t)o->height, bytes;
	if (ct_mul_size(n, 3 * sizeof(float), &bytes) < 0)
		return ct_error("phantom size %dx%d too large", o->width, o->height);
	float *scratch = calloc(1, bytes);
	if (!scratch)
		return ct_error("out of memory");

	anatomy *an = malloc(sizeof *an);
	if (!an) {
		free(scratch);
		return ct_error("out of memory");
	}
	make_anatomy(o, patient, an);
	canvas c = { hu, scratch, scratch + n, o->width, o->height, 0.5 * (o->width < o->height ? o->width : o->height) };
	for (size_t i = 0; i < n; i++)
		hu[i] = -1000.0f;
	double z = (slice + 0.5) / o->slices_per_patient;
	lung_geo g;
	paint_anatomy(&c, an, z, &g);
	blur(&c, scratch + 2 * n, o->blur_sigma);
	if (lesion_on) {
		lesion les[MAX_LESIONS];
		int nl = make_lesions(o, patient, les);
		paint_lesions(&c, &g, les, nl, z);
	}
	ct_rng r;
	ct_rng_init(&r, o->seed, (uint64_t)patient * 1000 + (uint64_t)slice);
	add_noise(hu, n, o->noise_sd, &r);
	for (size_t i = 0; i < n; i++) {
		if (hu[i] < -1024.0f)
			hu[i] = -1024.0f;
		else if (hu[i] > 3071.0f)
			hu[i] = 3071.0f;
		if (mask)
			mask[i] = c.cov[i] >= 0.5f;
	}
	free(an);
	free(scratch);
	return 0;
}

int ct_phantom_render(const ct_phantom_opts *o, int patient, int slice, int lesion_on, ct_tensor *hu,
		      ct_tensor *mask)
{
	if (ct_phantom_check_opts(o) < 0)
		return -1;
	if (ct_tensor_alloc3(hu, CT_F32, o->height, o->width, 1) < 0)
		return -1;
	if (mask && ct_tensor_alloc3(mask, CT_U8, o->height, o->width, 1) < 0) {
		ct_tensor_free(hu);
		return -1;
	}
	if (ct_phantom_render_into(o, patient, slice, lesion_on, hu->data, mask ? mask->data : NULL) < 0) {
		ct_tensor_free(hu);
		if (mask)
			ct_tensor_free(mask);
		return -1;
	}
	return 0;
}

typedef struct batch_ctx {
	const ct_phantom_opts *o;
	const int *patient, *slice, *lesion;
	ct_tensor *out, *masks;
	size_t plane;
} batch_ctx;

static int batch_item(void *vctx, long i)
{
	batch_ctx *b = vctx;
	float *hu = (float *)b->out->data + (size_t)i * b->plane;
	uint8_t *m = b->masks ? (uint8_t *)b->masks->data + (size_t)i * b->plane : NULL;
	return ct_phantom_render_into(b->o, b->patient[i], b->slice[i], b->lesion ? b->lesion[i] : 0, hu, m);
}

int ct_phantom_render_batch(const ct_phantom_opts *o, int n, const int *patient, const int *slice,
			    const int *lesion_on, ct_tensor *out, ct_tensor *masks)
{
	if (ct_phantom_check_opts(o) < 0)
		return -1;
	if (n < 0)
		return ct_error("negative slice count %d", n);
	if (ct_tensor_alloc4(out, CT_F32, n, o->height, o->width, 1) < 0)
		return -1;
	if (masks && ct_tensor_alloc4(masks, CT_U8, n, o->height, o->width, 1) < 0) {
		ct_tensor_free(out);
		return -1;
	}
	batch_ctx b = { o, patient, slice, lesion_on, out, masks, (size_t)o->width * (size_t)o->height };
	if (ct_parallel_items(n, batch_item, &b) < 0) {
		ct_tensor_free(out);
		if (masks)
			ct_tensor_free(masks);
		return -1;
	}
	return 0;
}
