/* ct-explain - Grad-CAM heat maps of a model on images: overlays, an HTML gallery grouped by
 * true/false positives/negatives, and the share of the heat inside the lung field. */
#include "tool.h"

#include "explain/run.h"

#include <math.h>

static const char *out_path, *also_path, *split_s = "auto", *positive, *metrics_path, *weights_dir, *dump_path;
static int as_json, batch = 8, max_per_group, threads, force, quiet;
static double threshold = 0.5;

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "DIR", "output folder: overlay PNGs, gallery.html, explain.json"),
	CT_OPT_CHOICE_(0, "split", &split_s, "auto|train|val|test|all",
		       "images to explain (auto: test if present, else all)"),
	CT_OPT_DOUBLE_(0, "threshold", &threshold, "T",
		       "p(positive) >= T is positive (without it: the metrics file's threshold, else 0.5)", 0, 1),
	CT_OPT_STRING_(0, "metrics", &metrics_path, "FILE",
		       "ct-score --json output giving threshold and positive class (default: metrics.json beside MODEL)"),
	CT_OPT_STRING_(0, "positive", &positive, "NAME",
		       "positive class (default: the metrics file's, else the class named like covid/lesion, else class 1)"),
	CT_OPT_STRING_(0, "also", &also_path, "FILE",
		       "the same images at another size: backbones of that input size read them (as ct-features did)"),
	CT_OPT_STRING_(0, "weights-dir", &weights_dir, "DIR",
		       "backbone weights DIR/NAME.h5 (default $CT_WEIGHTS_DIR, else weights)"),
	CT_OPT_INT_(0, "batch", &batch, "N", "images per forward pass", 1, 1024),
	CT_OPT_INT_(0, "max-per-group", &max_per_group, "N", "overlays shown per group in the gallery (0: all)", 0,
		    1000000),
	CT_OPT_FLAG_(0, "json", &as_json, "print explain.json instead of the summary table"),
	CT_OPT_STRING_(0, "dump", &dump_path, "FILE",
		       "also write every intermediate (activations, gradients, maps) to an HDF5 file, for checking"),
	CT_OPT_THREADS_(threads),
	CT_OPT_FLAG_('f', "force", &force, "replace an existing output folder (a previous ct-explain output) and dump"),
	CT_OPT_FLAG_('q', "quiet", &quiet, "no summary table on stdout"),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-explain",
	"[OPTIONS] MODEL IMAGES [OUTDIR | -o OUTDIR]",
	"Grad-CAM heat maps of a model (ct-finetune) on the images of an images file (ct-convert):\n"
	"an overlay PNG per image, a self-contained HTML gallery grouped into true/false\n"
	"positives/negatives, and the share of the heat inside the lung field (/lung_mask).",
	"The model's backbones are run on the images (resized to each backbone's input when needed)\n"
	"with weights from --weights-dir, checked against the sha256 the model records. The score\n"
	"explained is the log-odds of the positive class; each feature block's map is upsampled to\n"
	"the image and normalised to sum 1, and the blocks are averaged. Blocks pooled over the lung\n"
	"field (ct-features --pool lung-avg) are pooled and explained under the same mask (IMAGES'\n"
	"/lung_mask, or --also's for a backbone that reads it): their heat is the CAM times the\n"
	"mask's cell weights. The output folder is built under a temporary name and renamed when\n"
	"complete.\n"
	"Exit status: 0 success, 1 failure, 2 usage error.",
	options,
	2,
	3,
};

static void print_summary(const cJSON *doc, const char *dir)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "counts"),
		    *l = cJSON_GetObjectItemCaseSensitive(doc, "lung_share"),
		    *t = cJSON_GetObjectItemCaseSensitive(doc, "threshold");
	printf("split %s: %d images, positive class '%s', threshold %.4g (%s) -> %s\n",
	       cJSON_GetObjectItemCaseSensitive(doc, "split")->valuestring,
	       (int)cJSON_GetObjectItemCaseSensitive(c, "images")->valuedouble,
	       cJSON_GetObjectItemCaseSensitive(doc, "positive_class")->valuestring,
	       cJSON_GetObjectItemCaseSensitive(t, "value")->valuedouble,
	       cJSON_GetObjectItemCaseSensitive(t, "source")->valuestring, dir);
	int avail = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "available"));
	if (!avail)
		printf("lung field: unavailable (the images file has no /lung_mask)\n");
	printf("%-12s %7s  %s\n", "group", "images", "median heat in lung field");
	static const char *const groups[] = { "TP", "FN", "FP", "TN", "unlabelled" };
	const cJSON *bg = cJSON_GetObjectItemCaseSensitive(l, "median_by_group");
	for (int g = 0; g < 5; g++) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(c, groups[g]);
		const cJSON *v = bg ? cJSON_GetObjectItemCaseSensitive(bg, groups[g]) : NULL;
		if (g == 4 && k->valuedouble == 0)
			continue;
		if (cJSON_IsNumber(v))
			printf("%-12s %7d  %.3f\n", groups[g], (int)k->valuedouble, v->valuedouble);
		else
			printf("%-12s %7d  %s\n", groups[g], (int)k->valuedouble, avail ? "-" : "unavailable");
	}
	const cJSON *bs = cJSON_GetObjectItemCaseSensitive(l, "median_by_split"),
		    *bn = cJSON_GetObjectItemCaseSensitive(l, "images_by_split");
	for (const cJSON *e = bs ? bs->child : NULL; e; e = e->next) {
		char key[64];
		snprintf(key, sizeof key, "split %s", e->string);
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(bn, e->string);
		if (cJSON_IsNumber(e))
			printf("%-12s %7d  %.3f\n", key, k ? (int)k->valuedouble : 0, e->valuedouble);
		else
			printf("%-12s %7d  -\n", key, k ? (int)k->valuedouble : 0);
	}
	if (avail) {
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(l, "median");
		if (cJSON_IsNumber(md))
			printf("%-12s %7d  %.3f\n", "all", (int)cJSON_GetObjectItemCaseSensitive(l, "images")->valuedouble,
			       md->valuedouble);
		const cJSON *ar = cJSON_GetObjectItemCaseSensitive(l, "median_lung_area");
		if (cJSON_IsNumber(ar))
			printf("lung field: a median %.3f of the image (the share of evenly spread heat)\n", ar->valuedouble);
		for (const cJSON *e = cJSON_GetObjectItemCaseSensitive(l, "median_by_block")->child; e; e = e->next)
			if (cJSON_IsNumber(e))
				printf("block %s: median %.3f\n", e->string, e->valuedouble);
	}
	const cJSON *lp = cJSON_GetObjectItemCaseSensitive(doc, "lung_pool");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lp, "used")))
		printf("pooling over the lung field; %d images without one pooled over the whole map\n",
		       (int)cJSON_GetObjectItemCaseSensitive(lp, "fallback")->valuedouble);
}

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	if (nargs == 3) {
		if (out_path)
			return ct_tool_usage(&cmd, "give the output either as OUTDIR or with -o, not both");
		out_path = args[2];
	}
	if (!out_path)
		return ct_tool_usage(&cmd, "missing output folder (OUTDIR or -o DIR)");
	if (!strcmp(out_path, "-"))
		return ct_tool_usage(&cmd, "the output is a folder, not standard output");
	if (dump_path && !strcmp(dump_path, "-"))
		return ct_tool_usage(&cmd, "--dump writes a file, not standard output");
	ct_tool_threads(threads);
	char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
	ct_run run = { "ct-explain", cmdline, params };
	ct_explain_opts o = {
		.model_path = args[0],
		.images_path = args[1],
		.also_path = also_path,
		.split = strcmp(split_s, "auto") ? split_s : NULL,
		.positive = positive,
		.threshold = threshold,
		.threshold_set = ct_opts_seen(&cmd, "threshold"),
		.metrics_path = metrics_path,
		.weights_dir = weights_dir,
		.batch = batch,
		.max_per_group = max_per_group,
		.dump_path = dump_path,
		.force = force,
		.run = &run,
	};
	ct_outdir d;
	cJSON *doc = NULL;
	int rc = ct_outdir_create(&d, out_path, force);
	if (rc == 0 && (rc = ct_explain_run(&o, d.tmp, &doc)) < 0)
		ct_outdir_abort(&d);
	else if (rc == 0)
		rc = ct_outdir_commit(&d);
	if (rc == 0) {
		if (as_json) {
			char *s = cJSON_Print(doc);
			if (s)
				puts(s);
			free(s);
		} else if (!quiet) {
			print_summary(doc, out_path);
		}
	}
	cJSON_Delete(doc);
	free(cmdline);
	free(params);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
