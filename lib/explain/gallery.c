/* gallery.c - heat overlays and the self-contained HTML gallery of ct-explain. */
#include "explain/gallery.h"
#include "io/target.h"
#include "core/error.h"
#include "eval/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

void ct_heat_colour(double t, uint8_t rgb[3])
{
	t = clamp01(t);
	rgb[0] = (uint8_t)lround(255 * clamp01(1.5 - fabs(4 * t - 3)));
	rgb[1] = (uint8_t)lround(255 * clamp01(1.5 - fabs(4 * t - 2)));
	rgb[2] = (uint8_t)lround(255 * clamp01(1.5 - fabs(4 * t - 1)));
}

int ct_overlay(const ct_tensor *img, const float *heat, const uint8_t *mask, ct_tensor *out)
{
	int64_t H = img->shape[0], W = img->shape[1], C = img->shape[2], n = H * W;
	if (ct_tensor_alloc(out, CT_U8, 3, (int64_t[]){ H, W, 3 }) < 0)
		return ct_error("out of memory for a %lldx%lld overlay", (long long)W, (long long)H);
	float mx = 0;
	for (int64_t i = 0; i < n; i++)
		mx = heat[i] > mx ? heat[i] : mx;
	uint8_t *o = out->data;
	for (int64_t i = 0; i < n; i++) {
		double grey = 0;
		for (int64_t c = 0; c < C; c++)
			grey += img->dtype == CT_U8 ? ((const uint8_t *)img->data)[i * C + c]
						    : 255.0 * clamp01(((const float *)img->data)[i * C + c]);
		grey /= (double)C;
		double t = mx > 0 ? heat[i] / mx : 0, a = 0.6 * t;
		uint8_t col[3];
		ct_heat_colour(t, col);
		for (int c = 0; c < 3; c++)
			o[i * 3 + c] = (uint8_t)lround((1 - a) * grey + a * col[c]);
	}
	if (mask)
		for (int64_t y = 0; y < H; y++)
			for (int64_t x = 0; x < W; x++) {
				int64_t i = y * W + x;
				if (!mask[i])
					continue;
				int edge = y == 0 || x == 0 || y == H - 1 || x == W - 1 || !mask[i - 1] || !mask[i + 1] ||
					   !mask[i - W] || !mask[i + W];
				if (edge) {
					o[i * 3] = 255;
					o[i * 3 + 1] = 0;
					o[i * 3 + 2] = 255;
				}
			}
	return 0;
}

char *ct_base64(const void *buf, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *p = buf;
	char *s = malloc((n + 2) / 3 * 4 + 1), *q = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
		*q++ = tab[v >> 18 & 63];
		*q++ = tab[v >> 12 & 63];
		*q++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*q++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*q = '\0';
	return s;
}

static const char *css =
	":root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f6f7f9}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif;color:var(--fg);"
	"background:var(--bg)}\n"
	"main{max-width:1180px;margin:0 auto;padding:28px 20px 48px}\n"
	"h1{font-size:24px;margin:0 0 4px;font-weight:650}\n"
	".sub,.note{color:var(--muted);margin:0}\n"
	"section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin:18px 0}\n"
	"h2{font-size:16px;margin:0 0 12px;font-weight:650}\n"
	"table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:0 18px 8px 0;display:inline-table;"
	"vertical-align:top}\n"
	"th,td{padding:4px 12px;border-bottom:1px solid var(--line);text-align:left}\n"
	"td.n,th.n{text-align:right}\n"
	".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:14px}\n"
	"figure{margin:0}\n"
	"figure img{width:100%;height:auto;display:block;border-radius:6px;image-rendering:auto}\n"
	"figcaption{font-size:12.5px;color:var(--muted);margin-top:4px;word-break:break-all}\n"
	"figcaption b{color:var(--fg)}\n"
	".legend{display:inline-block;width:220px;height:12px;vertical-align:middle;border-radius:3px;"
	"background:linear-gradient(90deg,#0000ff,#00ffff,#ffff00,#ff0000)}\n";

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void num(FILE *f, const cJSON *v, const char *fmt)
{
	if (cJSON_IsNumber(v))
		fprintf(f, fmt, v->valuedouble);
	else
		fputs("n/a", f);
}

static void str(FILE *f, const cJSON *v)
{
	ct_html_escape(f, cJSON_IsString(v) ? v->valuestring : "");
}

/* A table of medians by key (an object {key: median}) with counts (an object {key: n}). */
static void median_table(FILE *f, const char *title, const cJSON *med, const cJSON *cnt)
{
	if (!cJSON_IsObject(med) || !med->child)
		return;
	fputs("<table><thead><tr><th>", f);
	ct_html_escape(f, title);
	fputs(cnt ? "</th><th class=\"n\">images</th>" : "</th>", f);
	fputs("<th class=\"n\">median heat in lung field</th></tr></thead><tbody>\n", f);
	for (const cJSON *e = med->child; e; e = e->next) {
		fputs("<tr><td>", f);
		ct_html_escape(f, e->string);
		if (cnt) {
			fputs("</td><td class=\"n\">", f);
			num(f, get(cnt, e->string), "%.0f");
		}
		fputs("</td><td class=\"n\">", f);
		num(f, e, "%.3f");
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
}

static const char *const group_title[][2] = {
	{ "TP", "True positives" },  { "FN", "False negatives" }, { "FP", "False positives" },
	{ "TN", "True negatives" },   { "unlabelled", "Unlabelled" },
};

int ct_gallery_write(FILE *f, const cJSON *doc, const char *png_dir, int max_per_group)
{
	const cJSON *model = get(doc, "model"), *images = get(doc, "images"), *thr = get(doc, "threshold"),
		    *ls = get(doc, "lung_share"), *samples = get(doc, "samples"), *counts = get(doc, "counts");
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"ct-explain " CT_VERSION "\">\n<title>Grad-CAM: ",
	      f);
	str(f, get(model, "path"));
	fputs("</title>\n<style>\n", f);
	fputs(css, f);
	fputs("</style>\n</head>\n<body>\n<main>\n<h1>Grad-CAM gallery</h1>\n<p class=\"sub\">Model <code>", f);
	str(f, get(model, "path"));
	fputs("</code> on images <code>", f);
	str(f, get(images, "path"));
	fputs("</code>, split <b>", f);
	str(f, get(doc, "split"));
	fputs("</b>; positive class <b>", f);
	str(f, get(doc, "positive_class"));
	fputs("</b>, predicted positive when p &ge; ", f);
	num(f, get(thr, "value"), "%.4g");
	fputs(" (threshold from ", f);
	str(f, get(thr, "source"));
	fputs(").</p>\n", f);

	fputs("<section><h2>Share of the heat inside the lung field</h2>\n", f);
	if (cJSON_IsTrue(get(ls, "available"))) {
		fputs("<p class=\"note\">Overall median ", f);
		num(f, get(ls, "median"), "%.3f");
		fputs(" over ", f);
		num(f, get(ls, "images"), "%.0f");
		fputs(" images with heat; the lung field covers a median ", f);
		num(f, get(ls, "median_lung_area"), "%.3f");
		fputs(" of the image, the share evenly spread heat would have", f);
		const cJSON *nh = get(ls, "no_heat");
		if (cJSON_IsNumber(nh) && nh->valuedouble > 0)
			fprintf(f, " (%.0f without any positive evidence, left out)", nh->valuedouble);
		fputs(". The share is the heat on <code>/lung_mask</code> pixels over all the heat of the image; "
		      "the lung field is outlined in magenta.</p>\n",
		      f);
		median_table(f, "group", get(ls, "median_by_group"), counts);
		median_table(f, "split", get(ls, "median_by_split"), get(ls, "images_by_split"));
		median_table(f, "block", get(ls, "median_by_block"), NULL);
	} else {
		fputs("<p class=\"note\">Unavailable: the images file has no <code>/lung_mask</code> dataset.</p>\n", f);
	}
	fputs("</section>\n", f);
	fputs("<section><h2>Method</h2><p class=\"note\">Grad-CAM of the log-odds of the positive class at each "
	      "feature block's cut (",
	      f);
	const cJSON *blocks = get(model, "blocks");
	int first = 1;
	for (const cJSON *b = blocks ? blocks->child : NULL; b; b = b->next, first = 0) {
		fputs(first ? "" : ", ", f);
		str(f, get(b, "name"));
	}
	fputs("); each block's map upsampled bilinearly to the image and normalised to sum 1, the blocks "
	      "averaged. Colour: heat relative to the image's maximum <span class=\"legend\"></span> "
	      "(0 transparent, 1 red).</p></section>\n",
	      f);

	int rc = 0;
	size_t dl = strlen(png_dir);
	for (size_t gi = 0; gi < sizeof group_title / sizeof *group_title && rc == 0; gi++) {
		const char *gname = group_title[gi][0];
		int n = 0;
		for (const cJSON *s = samples ? samples->child : NULL; s; s = s->next)
			n += cJSON_IsString(get(s, "group")) && !strcmp(get(s, "group")->valuestring, gname);
		if (n == 0 && gi == 4)
			continue;
		fprintf(f, "<section><h2>%s (%s, %d)</h2>\n", group_title[gi][1], gname, n);
		if (n == 0)
			fputs("<p class=\"note\">None.</p>\n", f);
		else
			fputs("<div class=\"grid\">\n", f);
		int shown = 0;
		for (const cJSON *s = samples ? samples->child : NULL; s && rc == 0; s = s->next) {
			const cJSON *g = get(s, "group");
			if (!cJSON_IsString(g) || strcmp(g->valuestring, gname))
				continue;
			if (max_per_group > 0 && shown >= max_per_group)
				break;
			const cJSON *png = get(s, "png");
			if (!cJSON_IsString(png))
				continue;
			char *path = malloc(dl + strlen(png->valuestring) + 2);
			char *buf = NULL;
			size_t len = 0;
			if (!path) {
				rc = ct_error("out of memory");
				break;
			}
			sprintf(path, "%s/%s", png_dir, png->valuestring);
			rc = ct_read_file(path, 1LL << 30, &buf, &len);
			free(path);
			if (rc < 0)
				break;
			char *b64 = ct_base64(buf, len);
			free(buf);
			if (!b64) {
				rc = ct_error("out of memory");
				break;
			}
			fputs("<figure><img alt=\"", f);
			str(f, get(s, "name"));
			fprintf(f, "\" src=\"data:image/png;base64,%s\"><figcaption><b>", b64);
			free(b64);
			str(f, get(s, "name"));
			fputs("</b><br>p = ", f);
			num(f, get(s, "p"), "%.3f");
			fputs(", heat in lung field ", f);
			num(f, get(s, "lung_share"), "%.3f");
			fputs("</figcaption></figure>\n", f);
			shown++;
		}
		if (n > 0)
			fputs("</div>\n", f);
		if (shown < n && rc == 0)
			fprintf(f, "<p class=\"note\">%d more not shown (--max-per-group); their overlays are in the output "
				   "folder.</p>\n",
				n - shown);
		fputs("</section>\n", f);
	}
	fputs("</main>\n</body>\n</html>\n", f);
	if (rc == 0 && ferror(f))
		rc = ct_error("write error: %s", strerror(errno));
	return rc;
}
