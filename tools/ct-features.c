/* ct-features - features of a pretrained backbone for every image of an images file. */
#include "tool.h"

#include "cli/progress.h"
#include "core/sha256.h"
#include "data/activations.h"
#include "data/extract.h"
#include "data/features.h"
#include "data/lungpool.h"
#include "data/shard.h"
#include "io/inputs.h"
#include "io/outfile.h"
#include "models/models.h"
#include "nn/gemm.h"
#include "nn/net.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"

#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *out_path, *backbone, *weights_path, *layers_s, *pool_s = "avg", *cut_s,
	*cut_dtype_s = "float32", *shard_s, *profile_path;
static int batch = 16, threads, resume, force, resize, quiet;

/* choices and the enums they set, in the order of their choices */
static int pool_e, cut_f16; /* cut_f16: float32 0, float16 1 */
static const int pool_v[] = { CT_POOL_AVG, CT_POOL_MAX, CT_POOL_NONE, CT_POOL_AVG, CT_POOL_MAX };

static ct_opt options[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output features file"),
	CT_OPT_STRING_('b', "backbone", &backbone, "NAME", "backbone: inception_v3, mobilenet_v2, ... (required)"),
	CT_OPT_STRING_('w', "weights", &weights_path, "FILE",
		       "Keras-layout weights (default: NAME.h5 on the weights search path, ctfuse(7))"),
	CT_OPT_STRING_('l', "layer", &layers_s, "NAME[,NAME...]",
		       "layers to take features from, pooled and concatenated (default: the last block)"),
	CT_OPT_CHOICE_ENUM_(0, "pool", &pool_s, "avg|max|none|lung-avg|lung-max", &pool_e, pool_v,
			    "global pooling of each layer (none: flattened; lung-*: over the input's /lung_mask only)"),
	CT_OPT_STRING_(0, "cut", &cut_s, "LAYER",
		       "also store every image's raw activation map at LAYER (for ct-finetune --finetune)"),
	CT_OPT_CHOICE_ENUM_(0, "cut-dtype", &cut_dtype_s, "float32|float16", &cut_f16, NULL,
		       "storage of the --cut maps (float16: half the size, relative error <= 2^-11)"),
	CT_OPT_INT_(0, "batch", &batch, "N", "images per forward pass", 1, 4096),
	CT_OPT_FLAG_(0, "resize", &resize, "resize images of another size to the backbone's input"),
	CT_OPT_FLAG_(0, "resume", &resume, "continue an interrupted run into the same output"),
	CT_OPT_STRING_(0, "shard", &shard_s, "K/N", "only input rows of shard K of N (join with ct-merge)"),
	CT_OPT_STRING_(0, "profile", &profile_path, "FILE",
		       "write the per-layer time profile of the run to FILE (- for standard output)"),
	CT_OPT_THREADS_(threads),
	CT_OPT_FORCE_(force),
	CT_OPT_FLAG_('q', "quiet", &quiet, "no progress bar or summary line"),
	CT_OPT_END_,
};

static ct_cmd cmd = {
	"ct-features",
	"--backbone NAME [OPTIONS] INPUT [OUTPUT | -o OUTPUT]",
	"Run a pretrained backbone over the images of an images file (ct-convert, ct-augment)\n"
	"and write one feature vector per image, with labels, names, groups and splits carried over.",
	"Images are streamed in batches; the output records the backbone, weights sha256, layers,\n"
	"pooling and preprocessing. An interrupted run leaves OUTPUT.partial; --resume continues it.\n"
	"--pool lung-avg averages each map over the lung field of INPUT's /lung_mask (ct-convert\n"
	"--lung-mask), resized to the map by area (a cell weighs its lung fraction); lung-max takes\n"
	"the maximum over the cells that touch it. Images without a lung field are pooled over the\n"
	"whole map and marked in /lung_pool_fallback.\n"
	"Exit status: 0 success, 1 failure, 2 usage error.",
	options,
	1,
	2,
};

static void show_progress(void *ctx, int64_t done, int64_t total)
{
	/* Tests simulate a killed run (the partial file stays) to exercise --resume. */
	const char *stop = getenv("CT_TEST_INTERRUPT_AFTER");
	if (stop && done >= atoll(stop) && done < total)
		_exit(137);
	ct_progress_update(ctx, done);
}

/* The threads the run used (--threads, or OpenMP's default). */
static int run_threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&cmd, argc, argv, &nargs, &args);
	if (ct_tool_output(&cmd, nargs, args, &out_path))
		return CT_EXIT_USAGE;
	if (!backbone)
		return ct_tool_usage(&cmd, "missing --backbone (one of the names in --help)");
	if (!strcmp(out_path, "-"))
		return ct_tool_usage(&cmd, "ct-features writes a file (resumable), not standard output");
	ct_tool_threads(threads);
	ct_graph *g = ct_model_build(backbone);
	if (!g) {
		char known[256] = "";
		for (const char *const *m = ct_model_names(); *m; m++)
			snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", known[0] ? ", " : "", *m);
		fprintf(stderr, "ct-features: unknown backbone '%s' (known: %s)\n", backbone, known);
		return CT_EXIT_USAGE;
	}
	ct_pool pool = (ct_pool)pool_e;
	int lung = ct_pool_is_lung(pool_s);
	if (lung && cut_s) {
		ct_graph_free(g);
		return ct_tool_usage(&cmd, "--cut with --pool lung-*: ct-finetune --finetune pools the whole map");
	}
	const char *layers = layers_s && *layers_s ? layers_s : g->default_output;
	if (!weights_path && !(weights_path = ct_tool_default_weights(backbone))) {
		ct_graph_free(g);
		return ct_tool_fail(&cmd);
	}
	ct_shard shard = { 0, 0 };
	if (shard_s && ct_shard_parse(shard_s, &shard) < 0) {
		ct_graph_free(g);
		return ct_tool_usage(&cmd, ct_last_error());
	}

	ct_images in;
	ct_weights w;
	memset(&w, 0, sizeof w);
	ct_net *net = NULL;
	ct_features_out fo = { 0 };
	ct_outfile prof = { 0 };
	int rc = 0;
	char *cmdline = ct_cmdline(argc, argv), *params = ct_opts_json(&cmd);
	if (ct_images_open(&in, args[0]) < 0) {
		ct_graph_free(g);
		return ct_tool_fail(&cmd);
	}
	/* the output's handles (file, dset, act_dset) are set once it is created, below */
	ct_extract x = { .in = &in, .in_h = g->in_h, .in_w = g->in_w, .batch = batch,
			 .resize = resize, .progress = show_progress, .cut = cut_s != NULL,
			 .pool = pool, .f16 = cut_f16, .lung = lung };
	char netouts[1024];
	snprintf(netouts, sizeof netouts, "%s%s%s", layers, cut_s ? "," : "", cut_s ? cut_s : "");
	if (cut_s && (ct_graph_find(g, cut_s) < 0 || strchr(cut_s, ','))) {
		ct_error("backbone '%s' has no layer '%s' to cut at", backbone, cut_s);
		rc = -1;
		goto out;
	}
	if (!cut_s && ct_opts_seen(&cmd, "cut-dtype")) {
		ct_images_close(&in);
		ct_graph_free(g);
		free(cmdline);
		free(params);
		return ct_tool_usage(&cmd, "--cut-dtype applies to --cut");
	}
	int64_t first, end;
	ct_shard_range(&shard, in.n, &first, &end);
	x.row0 = first;
	x.row1 = end;
	/* This shard's rows of the sample metadata (a view). */
	ct_samples rows_s = in.s;
	rows_s.n = end - first;
	rows_s.labels += first;
	rows_s.names += first;
	rows_s.groups += first;
	rows_s.splits += first;
	if (ct_shard_check(&shard, in.n, "input rows") < 0 || ct_extract_check(&x) < 0 ||
	    (profile_path && ct_outfile_create(&prof, profile_path, force) < 0)) {
		rc = -1;
		goto out;
	}
	if (ct_weights_load(&w, weights_path) < 0) {
		rc = -1;
		goto out;
	}
	if (!(net = ct_net_new(g, &w, netouts, cut_s || lung ? CT_POOL_NONE : pool))) {
		ct_error_prefix("'%s'", weights_path);
		rc = -1;
		goto out;
	}
	if (profile_path && ct_net_profile_enable(net, 1) < 0) {
		rc = -1;
		goto out;
	}
	char wsha[65];
	snprintf(wsha, sizeof wsha, "%s", w.sha256);
	ct_weights_free(&w);
	/* Feature width from the planned outputs. */
	int no = ct_net_noutputs(net) - (cut_s ? 1 : 0);
	int64_t D = 0;
	ct_fblock *blocks = calloc((size_t)no, sizeof *blocks);
	for (int k = 0; k < no; k++) {
		const char *ln = ct_net_output_name(net, k);
		int li = ct_graph_find(g, ln);
		int64_t width = pool == CT_POOL_NONE ? (int64_t)g->nodes[li].h * g->nodes[li].w * g->nodes[li].c
						     : ct_net_output_channels(net, k);
		char name[256];
		snprintf(name, sizeof name, "%s/%s/%s", backbone, ln, pool_s);
		blocks[k].name = strdup(name);
		blocks[k].backbone = strdup(backbone);
		blocks[k].layer = strdup(ln);
		blocks[k].pool = strdup(pool_s);
		blocks[k].weights_sha256 = strdup(wsha);
		blocks[k].start = D;
		blocks[k].width = width;
		D += width;
	}
	char settings[1024], fp[65];
	snprintf(settings, sizeof settings, "%s|%s|%s|%d|%s|%s", backbone, layers, pool_s, resize,
		 cut_s ? cut_s : "", cut_s ? cut_dtype_s : "");
	ct_features_fingerprint(&in, wsha, settings, fp);
	ct_run run = { "ct-features", cmdline, params };
	const ct_node *cn = cut_s ? &g->nodes[ct_graph_find(g, cut_s)] : NULL;
	ct_features_layout lay = { &run, in.prov, in.nprov, &rows_s, blocks, no, D, backbone, wsha, layers, pool_s,
				   ct_prep_name(g->prep), g->in_w, fp, &shard, shard_s, in.n, batch,
				   cut_s, cut_s ? cut_dtype_s : NULL, cn ? cn->h : 0, cn ? cn->w : 0, cn ? cn->c : 0, x.f16 };
	if (ct_features_out_create(&fo, out_path, force, resume, &lay) < 0)
		rc = -1;
	int64_t start = fo.start;
	if (rc == 0 && fo.resumed && !quiet)
		fprintf(stderr, "ct-features: resuming at image %lld of %lld\n", (long long)start,
			(long long)(end - first));
	ct_fblocks_free(blocks, no);
	if (rc < 0)
		goto out;
	ct_progress pr;
	ct_progress_init(&pr, stderr, "ct-features", "images", start, end - first, quiet);
	x.net = net;
	x.file = fo.h.file;
	x.dset = fo.features;
	x.act_dset = fo.activations;
	x.ctx = &pr;
	double t0 = now();
	rc = ct_extract_run(&x, start);
	double dt = now() - t0;
	/* the profile first: a profile that cannot be written fails the run before the features
	 * are committed; the peak is measured after the run, with the run's threads */
	if (rc == 0 && profile_path &&
	    (ct_net_profile_write(net, prof.f, ct_fma_peak_gflops(run_threads(), 0.2)) < 0 ||
	     ct_outfile_commit(&prof) < 0))
		rc = -1;
	if (rc == 0)
		rc = ct_features_out_commit(&fo);
	else
		ct_features_out_abort(&fo);
	if (rc == 0 && !quiet)
		fprintf(stderr, "ct-features: %lld images, %lld features (%s %s, %s pooling) in %.1f s (%.1f img/s, %s) -> %s\n",
			(long long)(end - first), (long long)D, backbone, layers, pool_s, dt,
			dt > 0 ? (double)(end - first - start) / dt : 0.0, ct_net_kernel(net), out_path);
	if (rc == 0 && lung && x.fallback && !quiet)
		fprintf(stderr, "ct-features: %lld images have no lung field: pooled over the whole map (/lung_pool_fallback)\n",
			(long long)x.fallback);
out:
	ct_outfile_abort(&prof);
	ct_features_out_abort(&fo);
	ct_net_free(net);
	ct_weights_free(&w);
	ct_graph_free(g);
	ct_images_close(&in);
	free(cmdline);
	free(params);
	return rc == 0 ? CT_EXIT_OK : ct_tool_fail(&cmd);
}
