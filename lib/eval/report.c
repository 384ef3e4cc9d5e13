/* report.c - the self-contained HTML evaluation report with inline SVG plots (report.h). */
#include "eval/report.h"
#include "core/error.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const palette[] = { "#2563eb", "#dc2626", "#059669", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
				       "#db2777" };
#define NPAL ((int)(sizeof palette / sizeof *palette))

void ct_html_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* Escape at most max code points of s, with an ellipsis when cut (UTF-8 aware). */
static void esc_trunc(FILE *f, const char *s, int max)
{
	int cps = 0;
	const char *p = s;
	while (*p && cps < max) {
		p++;
		while ((*p & 0xC0) == 0x80)
			p++;
		cps++;
	}
	if (!*p) {
		ct_html_escape(f, s);
		return;
	}
	char *t = strndup(s, (size_t)(p - s));
	ct_html_escape(f, t ? t : "");
	free(t);
	fputs("\xe2\x80\xa6", f);
}

/* A metric value: "0.9123", or "n/a" for an undefined one. */
static const char *fmt(char *buf, size_t n, double v, int digits)
{
	if (!isfinite(v))
		snprintf(buf, n, "n/a");
	else
		snprintf(buf, n, "%.*f", digits, v);
	return buf;
}

static const char *ci_text(char *buf, size_t n, const ct_stat *s)
{
	if (isnan(s->lo) || isnan(s->hi))
		snprintf(buf, n, "%s", "");
	else
		snprintf(buf, n, "%.3f \xe2\x80\x93 %.3f", s->lo, s->hi);
	return buf;
}

/* ---- plots ---- */

typedef struct plot {
	double x0, x1, y0, y1;
	double left, top, w, h;
} plot;

static double px(const plot *p, double x)
{
	return p->left + (x - p->x0) / (p->x1 - p->x0) * p->w;
}

static double py(const plot *p, double y)
{
	return p->top + (1 - (y - p->y0) / (p->y1 - p->y0)) * p->h;
}

static double nice_step(double range)
{
	double raw = range / 5, mag = pow(10, floor(log10(raw))), r = raw / mag;
	return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

/* Frame, grid lines with tick labels, and axis titles. */
static void axes(FILE *f, const plot *p, double xstep, double ystep, const char *xlabel, const char *ylabel,
		 int xint)
{
	fprintf(f, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", p->left, p->top,
		p->w, p->h);
	fputs("<g class=\"grid\">", f);
	for (double x = ceil(p->x0 / xstep - 1e-9) * xstep; x <= p->x1 + 1e-9 * xstep; x += xstep) {
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", px(p, x), p->top, px(p, x),
			p->top + p->h);
		if (xint)
			fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>",
				px(p, x), p->top + p->h + 16, x);
		else
			fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>", px(p, x),
				p->top + p->h + 16, fabs(x) < 1e-12 ? 0 : x);
	}
	for (double y = ceil(p->y0 / ystep - 1e-9) * ystep; y <= p->y1 + 1e-9 * ystep; y += ystep) {
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", p->left, py(p, y),
			p->left + p->w, py(p, y));
		fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>", p->left - 6,
			py(p, y) + 4, fabs(y) < 1e-12 ? 0 : y);
	}
	fputs("</g>\n", f);
	fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
		p->left + p->w / 2, p->top + p->h + 38, xlabel);
	fprintf(f,
		"<text class=\"label\" transform=\"translate(%.1f %.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
		p->left - 40, p->top + p->h / 2, ylabel);
}

static void roc_svg(FILE *f, const ct_scored *r)
{
	const ct_eval *ev = &r->ev;
	const int K = r->nclasses;
	plot p = { 0, 1, 0, 1, 58, 14, 360, 360 };
	fputs("<svg id=\"roc\" viewBox=\"0 0 440 430\" role=\"img\" aria-label=\"ROC curve\" "
	      "xmlns=\"http://www.w3.org/2000/svg\">\n",
	      f);
	axes(f, &p, 0.2, 0.2, "False positive rate (1 \xe2\x88\x92 specificity)", "True positive rate (sensitivity)",
	     0);
	fprintf(f, "<line class=\"chance\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px(&p, 0), py(&p, 0),
		px(&p, 1), py(&p, 1));
	int shown = 0;
	for (int k = 0; k < K; k++) {
		const ct_roc_curve *c = &ev->roc[k];
		if (!c->fpr || (ev->binary && k != ev->positive))
			continue;
		const char *col = ev->binary ? palette[0] : palette[k % NPAL];
		if (c->tpr_lo) {
			fprintf(f, "<path class=\"band\" fill=\"%s\" d=\"", col);
			for (int g = 0; g < c->ngrid; g++)
				fprintf(f, "%c%.1f %.1f", g ? 'L' : 'M', px(&p, c->grid[g]), py(&p, c->tpr_hi[g]));
			for (int g = c->ngrid - 1; g >= 0; g--)
				fprintf(f, "L%.1f %.1f", px(&p, c->grid[g]), py(&p, c->tpr_lo[g]));
			fputs("Z\"/>\n", f);
		}
		fprintf(f, "<path class=\"roc\" stroke=\"%s\" d=\"", col);
		for (int64_t i = 0; i < c->npts; i++)
			fprintf(f, "%c%.1f %.1f", i ? 'L' : 'M', px(&p, c->fpr[i]), py(&p, c->tpr[i]));
		fputs("\"/>\n", f);
		shown++;
	}
	if (ev->binary && ev->roc[ev->positive].fpr) {
		double x = 1 - ev->m[CT_M_SPECIFICITY].value, y = ev->m[CT_M_RECALL].value;
		if (isfinite(x) && isfinite(y))
			fprintf(f, "<circle class=\"op\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>\n", px(&p, x), py(&p, y));
	}
	/* legend, bottom right inside the frame */
	int lines = ev->binary ? 3 : shown + 1;
	double lx = p.left + p.w - 218, ly = p.top + p.h - 12 - 18 * lines;
	fprintf(f, "<rect class=\"legend\" x=\"%.1f\" y=\"%.1f\" width=\"212\" height=\"%d\" rx=\"4\"/>\n", lx - 6,
		ly - 4, 18 * lines + 8);
	char a[32], b[32];
	int row = 0;
	for (int k = 0; k < K; k++) {
		const ct_roc_curve *c = &ev->roc[k];
		if (!c->fpr || (ev->binary && k != ev->positive))
			continue;
		const ct_stat *st = ev->binary ? &ev->m[CT_M_AUC] : &ev->per_class[k * CT_C_COUNT + CT_C_AUC];
		const char *col = ev->binary ? palette[0] : palette[k % NPAL];
		double yy = ly + 18 * row++ + 9;
		fprintf(f, "<line stroke=\"%s\" stroke-width=\"3\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", col,
			lx, yy, lx + 18, yy);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", lx + 24, yy + 4);
		if (!ev->binary) {
			esc_trunc(f, r->s.class_names[k], 12);
			fputs(": ", f);
		}
		fprintf(f, "AUC %s", fmt(a, sizeof a, st->value, 3));
		if (!isnan(st->lo))
			fprintf(f, " [%s, %s]", fmt(a, sizeof a, st->lo, 3), fmt(b, sizeof b, st->hi, 3));
		fputs("</text>\n", f);
	}
	double yy = ly + 18 * row++ + 9;
	if (ev->nresamples > 0) {
		fprintf(f, "<rect fill=\"%s\" class=\"band\" x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"10\"/>",
			ev->binary ? palette[0] : "#6b7280", lx, yy - 5);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%g%% band, %lld resamples</text>\n", lx + 24, yy + 4,
			100 * ev->opts.level, (long long)ev->nresamples);
	} else {
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">no bootstrap band</text>\n", lx + 24, yy + 4);
	}
	if (ev->binary) {
		yy = ly + 18 * row++ + 9;
		fprintf(f, "<circle class=\"op\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>", lx + 9, yy);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">threshold %.4g (%s)</text>\n", lx + 24, yy + 4, r->threshold,
			r->threshold_method);
	}
	fputs("</svg>\n", f);
}

/* Interpolate light slate -> deep blue by t in [0, 1]. */
static void shade(double t, char *out)
{
	const int a[3] = { 0xf1, 0xf5, 0xf9 }, b[3] = { 0x1e, 0x40, 0xaf };
	int c[3];
	for (int i = 0; i < 3; i++)
		c[i] = (int)lround(a[i] + (b[i] - a[i]) * t);
	snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

static void confusion_svg(FILE *f, const ct_scored *r)
{
	const ct_eval *ev = &r->ev;
	const int K = r->nclasses;
	double cell = K <= 2 ? 130 : K <= 4 ? 90 : 360.0 / K, left = 130, top = 46;
	double W = left + cell * K + 16, H = top + cell * K + 40;
	fprintf(f,
		"<svg id=\"confusion\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"Confusion matrix\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n",
		W, H);
	fprintf(f, "<text class=\"label\" x=\"%.1f\" y=\"14\" text-anchor=\"middle\">Predicted class</text>\n",
		left + cell * K / 2);
	fprintf(f,
		"<text class=\"label\" transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">True "
		"class</text>\n",
		top + cell * K / 2);
	for (int j = 0; j < K; j++) {
		fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", left + cell * (j + 0.5),
			top - 10);
		esc_trunc(f, r->s.class_names[j], (int)(cell / 8));
		fputs("</text>\n", f);
	}
	for (int k = 0; k < K; k++) {
		fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 8,
			top + cell * (k + 0.5) + 4);
		esc_trunc(f, r->s.class_names[k], 14);
		fputs("</text>\n", f);
		int64_t row = 0;
		for (int j = 0; j < K; j++)
			row += ev->confusion[k * K + j];
		for (int j = 0; j < K; j++) {
			int64_t v = ev->confusion[k * K + j];
			double t = row ? (double)v / (double)row : 0;
			char col[8];
			shade(t, col);
			double x = left + cell * j, y = top + cell * k;
			fprintf(f,
				"<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
				"<title>true %s",
				x, y, cell, cell, col, "");
			ct_html_escape(f, r->s.class_names[k]);
			fputs(", predicted ", f);
			ct_html_escape(f, r->s.class_names[j]);
			fprintf(f, ": %lld</title></rect>\n", (long long)v);
			const char *tc = t > 0.5 ? "dark" : "light";
			fprintf(f,
				"<text class=\"count on-%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
				"font-size=\"%.0f\">%lld</text>",
				tc, x + cell / 2, y + cell / 2 + (cell > 60 ? 2 : 5), cell > 60 ? 22.0 : 13.0, (long long)v);
			if (cell > 60)
				fprintf(f,
					"<text class=\"on-%s\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
					"font-size=\"12\">%.1f%%</text>\n",
					tc, x + cell / 2, y + cell / 2 + 20, 100 * t);
			else
				fputs("\n", f);
		}
	}
	fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">shading: share of the true "
		   "class's row</text>\n",
		left + cell * K / 2, top + cell * K + 24);
	fputs("</svg>\n", f);
}

/* A line plot of up to two series over epochs 1..n. */
static void series_path(FILE *f, const plot *p, const double *v, int n, const char *cls, const char *col)
{
	fprintf(f, "<path class=\"%s\" stroke=\"%s\" d=\"", cls, col);
	int pen = 0;
	for (int e = 0; e < n; e++) {
		if (!isfinite(v[e])) {
			pen = 0;
			continue;
		}
		fprintf(f, "%c%.1f %.1f", pen ? 'L' : 'M', px(p, e + 1), py(p, v[e]));
		pen = 1;
	}
	fputs("\"/>\n", f);
	if (n == 1 && isfinite(v[0]))
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px(p, 1), py(p, v[0]), col);
}

static int any_finite(const double *v, int n)
{
	for (int i = 0; v && i < n; i++)
		if (isfinite(v[i]))
			return 1;
	return 0;
}

static void curve_svg(FILE *f, const char *id, const char *title, const ct_curves *c, const double *tr,
		      const double *va, int unit)
{
	int n = c->epochs;
	double lo = INFINITY, hi = -INFINITY;
	for (int e = 0; e < n; e++) {
		if (tr && isfinite(tr[e]))
			lo = fmin(lo, tr[e]), hi = fmax(hi, tr[e]);
		if (va && isfinite(va[e]))
			lo = fmin(lo, va[e]), hi = fmax(hi, va[e]);
	}
	if (unit) {
		lo = fmax(0, floor(lo * 10) / 10);
		hi = fmin(1, ceil(hi * 10) / 10);
	} else {
		double pad = (hi - lo) * 0.08;
		lo = fmax(0, lo - pad);
		hi += pad;
	}
	if (!(hi > lo))
		hi = lo + (unit ? 0.1 : 1);
	plot p = { n > 1 ? 1 : 0.5, n > 1 ? n : 1.5, lo, hi, 58, 30, 370, 210 };
	fprintf(f,
		"<svg id=\"%s\" viewBox=\"0 0 450 300\" role=\"img\" aria-label=\"%s\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n",
		id, title);
	double xs = n > 1 ? fmax(1, nice_step(n - 1)) : 1;
	xs = round(xs);
	axes(f, &p, xs, nice_step(hi - lo), "Epoch", title, 1);
	if (c->best_epoch >= 1 && c->best_epoch <= n) {
		fprintf(f, "<line class=\"best\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", px(&p, c->best_epoch),
			p.top, px(&p, c->best_epoch), p.top + p.h);
		fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">best epoch %d</text>\n",
			px(&p, c->best_epoch) + (c->best_epoch > n / 2 ? -4 : 4), p.top + 12,
			c->best_epoch > n / 2 ? "end" : "start", c->best_epoch);
	}
	if (tr)
		series_path(f, &p, tr, n, "series", palette[0]);
	if (any_finite(va, n))
		series_path(f, &p, va, n, "series dashed", palette[4]);
	/* legend above the frame, so it never hides a curve */
	double lx = p.left + 4, ly = 6;
	fprintf(f,
		"<line stroke=\"%s\" stroke-width=\"2.5\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		"<text x=\"%.1f\" y=\"%.1f\">train</text>\n",
		palette[0], lx, ly + 7, lx + 22, ly + 7, lx + 28, ly + 11);
	if (any_finite(va, n))
		fprintf(f,
			"<line class=\"dashed\" stroke=\"%s\" stroke-width=\"2.5\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			"y2=\"%.1f\"/><text x=\"%.1f\" y=\"%.1f\">validation</text>\n",
			palette[4], lx + 80, ly + 7, lx + 102, ly + 7, lx + 108, ly + 11);
	fputs("</svg>\n", f);
}

/* ---- page ---- */

static const char *css =
	":root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9;--accent:#2563eb}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,"
	"\"Liberation Sans\",sans-serif;color:var(--fg);background:var(--bg)}\n"
	"main{max-width:1120px;margin:0 auto;padding:28px 20px 48px}\n"
	"header{margin-bottom:8px}\n"
	"h1{font-size:24px;margin:0 0 4px;font-weight:650}\n"
	".sub{color:var(--muted);margin:0}\n"
	"section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:18px 0}\n"
	"h2{font-size:16px;margin:0 0 12px;font-weight:650}\n"
	"h3{font-size:14px;margin:16px 0 8px;color:var(--muted);font-weight:600}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:18px 0}\n"
	".card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 16px}\n"
	".card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}\n"
	".card .v{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums}\n"
	".card .ci{color:var(--muted);font-size:12.5px;font-variant-numeric:tabular-nums}\n"
	".grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:22px;align-items:start}\n"
	"figure{margin:0}\n"
	"figcaption{color:var(--muted);font-size:13px;margin-top:6px}\n"
	"svg{width:100%;max-width:560px;height:auto;display:block}\n"
	"svg text{font-family:inherit;font-size:12px;fill:#374151}\n"
	"svg .label{font-size:13px;fill:#111827}\n"
	"svg .tick{fill:#6b7280;font-size:11px}\n"
	"svg .frame{fill:#fff;stroke:#d1d5db}\n"
	"svg .grid line{stroke:#eef0f3}\n"
	"svg .chance{stroke:#9ca3af;stroke-dasharray:5 5}\n"
	"svg .band{opacity:.18;stroke:none}\n"
	"svg .roc{fill:none;stroke-width:2.5;stroke-linejoin:round}\n"
	"svg .op{fill:#fff;stroke:#111827;stroke-width:2}\n"
	"svg .legend{fill:#fff;fill-opacity:.92;stroke:#e5e7eb}\n"
	"svg .series{fill:none;stroke-width:2.2;stroke-linejoin:round}\n"
	"svg .dashed{stroke-dasharray:6 4}\n"
	"svg .best{stroke:#9ca3af;stroke-dasharray:2 3}\n"
	"svg .cell{stroke:#fff;stroke-width:2}\n"
	"svg .count{font-weight:650}\n"
	"svg .on-dark{fill:#fff}\n"
	"svg .on-light{fill:#111827}\n"
	"table{border-collapse:collapse;width:100%;font-size:14px}\n"
	"th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}\n"
	"th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}\n"
	"td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	"tr.hl td{background:#eff6ff}\n"
	".muted{color:var(--muted)}\n"
	".scroll{overflow-x:auto}\n"
	"code,pre{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,\"Liberation Mono\",monospace}\n"
	"code{word-break:break-all}\n"
	"pre{background:#f3f4f6;padding:10px 12px;border-radius:6px;margin:6px 0 0;white-space:pre-wrap;"
	"word-break:break-word}\n"
	"details summary{cursor:pointer;color:var(--accent);font-size:13px}\n"
	".note{color:var(--muted);font-style:italic}\n"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0;font-size:14px}\n"
	"dt{color:var(--muted)}dd{margin:0;word-break:break-all}\n"
	"footer{color:var(--muted);font-size:12px;text-align:center;margin-top:24px}\n";

static void card(FILE *f, const char *k, const ct_stat *s)
{
	char a[32], b[64];
	fprintf(f, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v\">%s</div>", k, fmt(a, sizeof a, s->value, 3));
	const char *ci = ci_text(b, sizeof b, s);
	if (*ci)
		fprintf(f, "<div class=\"ci\">95%% CI %s</div>", ci);
	fputs("</div>\n", f);
}

static void stat_cells(FILE *f, const ct_stat *s)
{
	char a[32], b[64];
	fprintf(f, "<td class=\"n\">%s</td><td class=\"n muted\">%s</td>", fmt(a, sizeof a, s->value, 4),
		ci_text(b, sizeof b, s));
}

/* Pretty-printed JSON (or the text itself when it is not JSON), escaped, in a <pre>. */
static void json_pre(FILE *f, const cJSON *j)
{
	char *s = j ? cJSON_Print(j) : NULL;
	fputs("<pre>", f);
	ct_html_escape(f, s ? s : "null");
	fputs("</pre>", f);
	free(s);
}

static void str_item(FILE *f, const cJSON *o, const char *key)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
	if (cJSON_IsString(x))
		ct_html_escape(f, x->valuestring);
	else if (x) {
		char *s = cJSON_PrintUnformatted(x);
		ct_html_escape(f, s);
		free(s);
	}
}

static void prov_table(FILE *f, char **lines, int64_t n, int64_t base)
{
	if (n == 0) {
		fputs("<p class=\"note\">No provenance recorded.</p>\n", f);
		return;
	}
	fputs("<div class=\"scroll\"><table><thead><tr><th>#</th><th>Stage</th><th>Kind</th><th>Command and "
	      "parameters</th></tr></thead><tbody>\n",
	      f);
	for (int64_t i = 0; i < n; i++) {
		cJSON *o = cJSON_Parse(lines[i]);
		fprintf(f, "<tr><td class=\"n\">%lld</td>", (long long)(base + i + 1));
		if (!o || !cJSON_IsObject(o)) {
			fputs("<td colspan=\"3\"><code>", f);
			ct_html_escape(f, lines[i]);
			fputs("</code></td></tr>\n", f);
			cJSON_Delete(o);
			continue;
		}
		fputs("<td><b>", f);
		str_item(f, o, "tool");
		fputs("</b> <span class=\"muted\">", f);
		str_item(f, o, "version");
		fputs("</span></td><td>", f);
		str_item(f, o, "kind");
		fputs("</td><td><code>", f);
		str_item(f, o, "command");
		fputs("</code>", f);
		const cJSON *pa = cJSON_GetObjectItemCaseSensitive(o, "params");
		if (pa) {
			fputs("<details><summary>parameters</summary>", f);
			json_pre(f, pa);
			fputs("</details>", f);
		}
		fputs("</td></tr>\n", f);
		cJSON_Delete(o);
	}
	fputs("</tbody></table></div>\n", f);
}

static void counts_table(FILE *f, const ct_scored *r)
{
	const ct_samples *s = &r->s;
	static const char *const sp[4] = { "train", "val", "test", "" };
	fputs("<div class=\"scroll\"><table><thead><tr><th>Class</th>", f);
	for (int q = 0; q < 4; q++)
		fprintf(f, "<th class=\"n\">%s</th>", q < 3 ? sp[q] : "no split");
	fputs("<th class=\"n\">total</th></tr></thead><tbody>\n", f);
	for (int row = 0; row <= s->nclasses; row++) {
		int k = row < s->nclasses ? row : -1; /* unlabelled last */
		if (k < 0 && ct_samples_count(s, NULL, -1) == 0)
			continue;
		fputs("<tr><td>", f);
		if (k < 0)
			fputs("<i>unlabelled</i>", f);
		else
			ct_html_escape(f, s->class_names[k]);
		fputs("</td>", f);
		for (int q = 0; q < 4; q++)
			fprintf(f, "<td class=\"n\">%lld</td>", (long long)ct_samples_count(s, sp[q], k));
		fprintf(f, "<td class=\"n\">%lld</td></tr>\n", (long long)ct_samples_count(s, NULL, k));
	}
	fputs("<tr><td><b>all</b></td>", f);
	for (int q = 0; q < 4; q++)
		fprintf(f, "<td class=\"n\"><b>%lld</b></td>", (long long)ct_samples_count(s, sp[q], -2));
	fprintf(f, "<td class=\"n\"><b>%lld</b></td></tr>\n</tbody></table></div>\n", (long long)s->n);
	fputs("<p class=\"muted\">Metrics are computed on split <b>", f);
	ct_html_escape(f, r->split);
	fprintf(f, "</b>: %lld samples, %lld labelled.</p>\n", (long long)r->nsplit, (long long)r->nlabelled);
}

int ct_report_write(FILE *f, const ct_scored *r, const ct_report_info *info)
{
	const ct_samples *s = &r->s;
	const int K = r->nclasses;
	const ct_eval *ev = r->evaluated ? &r->ev : NULL;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"ct-score " CT_VERSION "\">\n<title>ctfuse evaluation: ",
	      f);
	ct_html_escape(f, r->model_path);
	fputs("</title>\n<style>\n", f);
	fputs(css, f);
	fputs("</style>\n</head>\n<body>\n<main>\n<header>\n<h1>Evaluation report</h1>\n<p class=\"sub\">Model <code>", f);
	ct_html_escape(f, r->model_path);
	fputs("</code> on features <code>", f);
	ct_html_escape(f, r->features_path);
	fputs("</code>, split <b>", f);
	ct_html_escape(f, r->split);
	fprintf(f, "</b> (%lld samples", (long long)r->nsplit);
	if (r->positive >= 0) {
		fputs("; positive class <b>", f);
		ct_html_escape(f, s->class_names[r->positive]);
		fputs("</b>", f);
	}
	fputs(")</p>\n</header>\n", f);

	if (!ev) {
		fputs("<section><h2>Metrics</h2><p class=\"note\">No labelled samples in split '", f);
		ct_html_escape(f, r->split);
		fputs("': probabilities only, no metrics.</p></section>\n", f);
	} else {
		char a[64];
		/* headline cards */
		fputs("<div class=\"cards\">\n", f);
		card(f, K > 2 ? "Macro AUC" : "AUC", &ev->m[CT_M_AUC]);
		card(f, "Accuracy", &ev->m[CT_M_ACCURACY]);
		card(f, K > 2 ? "Macro recall" : "Sensitivity", &ev->m[CT_M_RECALL]);
		card(f, K > 2 ? "Macro specificity" : "Specificity", &ev->m[CT_M_SPECIFICITY]);
		card(f, K > 2 ? "Macro F1" : "F1", &ev->m[CT_M_F1]);
		fputs("</div>\n", f);

		fputs("<section><h2>ROC curve and confusion matrix</h2>\n<div class=\"grid2\">\n<figure>\n", f);
		int any_roc = 0;
		for (int k = 0; k < K; k++)
			any_roc |= ev->roc[k].fpr != NULL;
		if (any_roc)
			roc_svg(f, r);
		else
			fputs("<p class=\"note\">No ROC curve: the split has samples of one class only.</p>\n", f);
		fputs("<figcaption>", f);
		if (ev->binary)
			fputs("ROC curve of the positive class", f);
		else
			fputs("One-vs-rest ROC curves", f);
		if (ev->nresamples > 0)
			fprintf(f, "; shaded: pointwise %g%% percentile band of the TPR over a grid of %d FPR values (%s "
				   "bootstrap, %lld resamples, seed %llu)",
				100 * ev->opts.level, ev->opts.grid,
				ev->opts.resample == CT_RESAMPLE_STRATIFIED ? "stratified" : "plain",
				(long long)ev->nresamples, (unsigned long long)ev->opts.seed);
		if (ev->binary)
			fprintf(f, "; the circle marks the operating point at threshold %.4g", r->threshold);
		fputs(".</figcaption>\n</figure>\n<figure>\n", f);
		confusion_svg(f, r);
		fprintf(f, "<figcaption>%lld labelled samples; rows: true class, columns: predicted class%s.</figcaption>\n",
			(long long)ev->n, ev->binary ? "" : " (arg-max)");
		fputs("</figure>\n</div>\n</section>\n", f);

		/* metrics */
		fputs("<section><h2>Metrics</h2>\n<div class=\"grid2\">\n<div>\n<table><thead><tr><th>Metric</th>"
		      "<th class=\"n\">Value</th>",
		      f);
		fprintf(f, "<th class=\"n\">%g%% CI</th></tr></thead><tbody>\n", 100 * ev->opts.level);
		static const char *const label[CT_M_COUNT] = { "Accuracy",	"Precision (PPV)", "Recall (sensitivity)",
							       "Specificity", "F1",		 "AUC",
							       "Balanced accuracy" };
		for (int q = 0; q < CT_M_COUNT; q++) {
			fprintf(f, "<tr><td>%s%s</td>",
				K > 2 && q != CT_M_ACCURACY && q != CT_M_BALANCED_ACCURACY ? "Macro " : "", label[q]);
			stat_cells(f, &ev->m[q]);
			fputs("</tr>\n", f);
		}
		fputs("</tbody></table>\n</div>\n<div>\n<dl>\n", f);
		if (r->positive >= 0) {
			fputs("<dt>Positive class</dt><dd>", f);
			ct_html_escape(f, s->class_names[r->positive]);
			fprintf(f, "</dd>\n<dt>Threshold</dt><dd>%.6g (%s", r->threshold, r->threshold_method);
			if (!strcmp(r->threshold_method, "youden"))
				fprintf(f, ": Youden's J = %s on %lld labelled val samples", fmt(a, sizeof a, r->youden_j, 4),
					(long long)r->youden_n);
			else if (!strcmp(r->threshold_method, "default"))
				fputs(": 0.5", f);
			fputs("); predicted positive when p &ge; threshold</dd>\n", f);
		} else {
			fprintf(f, "<dt>Prediction</dt><dd>arg-max over %d classes</dd>\n", K);
		}
		fprintf(f, "<dt>Bootstrap</dt><dd>%lld %s resamples, %g%% percentile intervals, seed %llu</dd>\n",
			(long long)ev->nresamples, ev->opts.resample == CT_RESAMPLE_STRATIFIED ? "stratified" : "plain",
			100 * ev->opts.level, (unsigned long long)ev->opts.seed);
		fputs("<dt>AUC</dt><dd>exact Mann-Whitney statistic, ties counted 1/2</dd>\n", f);
		fprintf(f, "<dt>Samples</dt><dd>%lld labelled of %lld in split ", (long long)r->nlabelled,
			(long long)r->nsplit);
		ct_html_escape(f, r->split);
		fputs("</dd>\n</dl>\n</div>\n</div>\n", f);

		fputs("<h3>Per class (one-vs-rest)</h3>\n<div class=\"scroll\"><table><thead><tr><th>Class</th><th "
		      "class=\"n\">Support</th><th class=\"n\">Precision</th><th class=\"n\">CI</th><th "
		      "class=\"n\">Recall</th><th class=\"n\">CI</th><th class=\"n\">F1</th><th class=\"n\">CI</th><th "
		      "class=\"n\">AUC</th><th class=\"n\">CI</th></tr></thead><tbody>\n",
		      f);
		for (int k = 0; k < K; k++) {
			fprintf(f, "<tr%s><td>", k == r->positive ? " class=\"hl\"" : "");
			ct_html_escape(f, s->class_names[k]);
			fprintf(f, "</td><td class=\"n\">%lld</td>", (long long)ev->support[k]);
			for (int q = 0; q < CT_C_COUNT; q++)
				stat_cells(f, &ev->per_class[k * CT_C_COUNT + q]);
			fputs("</tr>\n", f);
		}
		fputs("</tbody></table></div>\n</section>\n", f);
	}

	if (r->has_audit) {
		const ct_audit *a = &r->audit;
		const ct_audit_entry *best = &a->v[a->best];
		char m1[32];
		fputs("<section><h2>Shortcut audit</h2>\n<p class=\"muted\">AUC that simple classifiers reach on the same "
		      "split from nuisance attributes alone (stored size, file format and channels, intensity "
		      "histogram, borders and text-like content), trained on the train rows of <code>", f);
		ct_html_escape(f, a->images_path);
		fprintf(f, "</code>. The model is worth its margin over the best of them: <b>%s AUC</b>.</p>\n",
			fmt(m1, sizeof m1, r->ev.m[CT_M_AUC].value - best->ev.m[CT_M_AUC].value, 3));
		fputs("<table><thead><tr><th>Attributes</th><th>Classifier</th><th colspan=\"2\">AUC</th></tr></thead><tbody>\n", f);
		fputs("<tr class=\"hl\"><td>the model</td><td></td>", f);
		stat_cells(f, &r->ev.m[CT_M_AUC]);
		fputs("</tr>\n", f);
		for (int k = 0; k < a->n; k++) {
			fprintf(f, "<tr><td>%s</td><td>%s</td>", a->v[k].attributes, a->v[k].method);
			stat_cells(f, &a->v[k].ev.m[CT_M_AUC]);
			fputs("</tr>\n", f);
		}
		fputs("</tbody></table>\n</section>\n", f);
	}
	if (r->has_by_source) {
		const ct_by_source *b = &r->by_source;
		fputs("<section><h2>Metrics per source</h2>\n<p class=\"muted\">Sources from <code>", f);
		ct_html_escape(f, b->column);
		fputs("</code>. A model that learned where the images come from, not the disease, rejects one "
		      "source's negatives far more easily than another's; the pair with matched style is the "
		      "honest figure.</p>\n<table><thead><tr><th>Source</th><th>Positives</th><th>Negatives</th>"
		      "<th colspan=\"2\">AUC: its negatives vs all positives</th><th colspan=\"2\">AUC: its positives "
		      "vs all negatives</th><th colspan=\"2\">Accuracy within the source</th></tr></thead><tbody>\n", f);
		for (int k = 0; k < b->n; k++) {
			const ct_source_eval *e = &b->v[k];
			fputs("<tr><td>", f);
			ct_html_escape(f, e->name);
			fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td>", (long long)e->npos,
				(long long)e->nneg);
			const ct_eval *evs[2] = { e->has_neg ? &e->neg_vs_allpos : NULL, e->has_pos ? &e->pos_vs_allneg : NULL };
			for (int q = 0; q < 2; q++)
				if (evs[q])
					stat_cells(f, &evs[q]->m[CT_M_AUC]);
				else
					fputs("<td class=\"n muted\">-</td><td></td>", f);
			/* accuracy within the source: of its own rows, from the counts */
			int64_t total = e->npos + e->nneg;
			double acc = NAN;
			if (total > 0) {
				int64_t right = 0;
				if (e->has_neg)
					right += (int64_t)(e->neg_vs_allpos.m[CT_M_SPECIFICITY].value * (double)e->nneg + 0.5);
				if (e->has_pos)
					right += (int64_t)(e->pos_vs_allneg.m[CT_M_RECALL].value * (double)e->npos + 0.5);
				acc = (double)right / (double)total;
			}
			char a[32];
			fprintf(f, "<td class=\"n\">%s</td><td></td></tr>\n", fmt(a, sizeof a, acc, 4));
		}
		fputs("</tbody></table>\n", f);
		if (b->unmatched)
			fprintf(f, "<p class=\"note\">%lld labelled samples had no source in the list.</p>\n",
				(long long)b->unmatched);
		fputs("</section>\n", f);
	}

	/* training curves */
	fputs("<section><h2>Training curves</h2>\n", f);
	if (!r->has_curves) {
		fputs("<p class=\"note\">The model file records no training curves.</p>\n", f);
	} else {
		const ct_curves *c = &r->curves;
		fputs("<div class=\"grid2\">\n", f);
		if (any_finite(c->train_loss, c->epochs) || any_finite(c->val_loss, c->epochs))
			curve_svg(f, "loss", "Loss (cross-entropy)", c, c->train_loss, c->val_loss, 0);
		if (any_finite(c->train_acc, c->epochs) || any_finite(c->val_acc, c->epochs))
			curve_svg(f, "accuracy", "Accuracy", c, c->train_acc, c->val_acc, 1);
		fputs("</div>\n", f);
		fprintf(f, "<p class=\"muted\">%d epochs", c->epochs);
		if (c->best_epoch)
			fprintf(f, "; the model holds the weights of epoch %d (lowest validation loss)", c->best_epoch);
		if (!any_finite(c->val_loss, c->epochs))
			fputs("; no validation rows were used", f);
		fputs(".</p>\n", f);
	}
	fputs("</section>\n", f);

	fputs("<section><h2>Data</h2>\n", f);
	counts_table(f, r);
	fputs("</section>\n", f);

	fputs("<section><h2>Model and inputs</h2>\n<dl>\n<dt>Model</dt><dd><code>", f);
	ct_html_escape(f, r->model_path);
	fprintf(f, "</code> &mdash; %s, %d inputs", ct_head_kind_name(r->kind), r->d_in);
	if (r->hidden)
		fprintf(f, ", %d hidden units", r->hidden);
	fputs("</dd>\n", f);
	if (r->model_sha256[0])
		fprintf(f, "<dt>sha256</dt><dd><code>%s</code></dd>\n", r->model_sha256);
	fputs("<dt>Features</dt><dd><code>", f);
	ct_html_escape(f, r->features_path);
	fprintf(f, "</code> &mdash; %lld samples, %d block%s</dd>\n", (long long)s->n, r->nblocks,
		r->nblocks == 1 ? "" : "s");
	if (r->features_sha256[0])
		fprintf(f, "<dt>sha256</dt><dd><code>%s</code></dd>\n", r->features_sha256);
	/* a model of several fine-tuned sources: its further inputs, in source order */
	for (int i = 1; i < r->ninputs; i++) {
		fprintf(f, "<dt>Input %d</dt><dd><code>", i + 1);
		ct_html_escape(f, r->input_paths[i]);
		fprintf(f, "</code></dd>\n<dt>sha256</dt><dd><code>%s</code></dd>\n", r->input_sha256[i]);
	}
	fputs("</dl>\n", f);
	if (r->nblocks > 0) {
		fputs("<h3>Feature blocks</h3>\n<div class=\"scroll\"><table><thead><tr><th>Block</th><th>Backbone</th>"
		      "<th>Layer</th><th>Pool</th><th class=\"n\">Columns</th></tr></thead><tbody>\n",
		      f);
		for (int b = 0; b < r->nblocks; b++) {
			const ct_fblock *bl = &r->blocks[b];
			fputs("<tr><td>", f);
			ct_html_escape(f, bl->name);
			fputs("</td><td>", f);
			ct_html_escape(f, bl->backbone);
			fputs("</td><td>", f);
			ct_html_escape(f, bl->layer);
			fputs("</td><td>", f);
			ct_html_escape(f, bl->pool);
			fprintf(f, "</td><td class=\"n\">%lld&ndash;%lld (%lld)</td></tr>\n", (long long)bl->start,
				(long long)(bl->start + bl->width - 1), (long long)bl->width);
		}
		fputs("</tbody></table></div>\n", f);
	}
	fputs("</section>\n", f);

	fputs("<section><h2>Provenance</h2>\n<p class=\"muted\">Every stage that led to the model and to the "
	      "features, oldest first, with its command line and parameters.</p>\n<h3>Model</h3>\n",
	      f);
	prov_table(f, r->model_prov, r->nmodel_prov, 0);
	fputs("<h3>Features</h3>\n", f);
	prov_table(f, r->features_prov, r->nfeatures_prov, 0);
	fputs("<h3>This report</h3>\n<div class=\"scroll\"><table><tbody><tr><td><b>ct-score</b> <span "
	      "class=\"muted\">" CT_VERSION "</span></td><td><code>",
	      f);
	ct_html_escape(f, info && info->command ? info->command : "");
	fputs("</code>", f);
	if (info && info->params) {
		cJSON *pj = cJSON_Parse(info->params);
		fputs("<details><summary>parameters</summary>", f);
		if (pj)
			json_pre(f, pj);
		else {
			fputs("<pre>", f);
			ct_html_escape(f, info->params);
			fputs("</pre>", f);
		}
		cJSON_Delete(pj);
		fputs("</details>", f);
	}
	fputs("</td></tr></tbody></table></div>\n</section>\n", f);
	fputs("<footer>Generated by ctfuse ct-score " CT_VERSION ". Self-contained: no scripts, no external "
	      "resources.</footer>\n</main>\n</body>\n</html>\n",
	      f);
	if (ferror(f))
		return ct_error_errno("cannot write the report");
	return 0;
}
