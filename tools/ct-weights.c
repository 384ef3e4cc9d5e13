/* ct-weights - pretrained weight files: import a TensorFlow.js layers model, describe a Keras weight file, checksum,
 * export a backbone with its weights as ONNX. */
#include "tool.h"

#include "core/sha256.h"
#include "models/models.h"
#include "nn/net.h"
#include "formats/onnx.h"
#include "formats/tfjs.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"
#include "train/ft_apply.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static const char *out_path;
static int force, quiet, as_json;
static const char *backbone, *weights_path, *layers_s, *pool_s = "avg", *batch_s = "dynamic", *model_path;
static int synthetic, source;

/* choices and the enums they set, in the order of their choices */
static int pool_e;
static const int pool_v[] = { CT_POOL_AVG, CT_POOL_MAX, CT_POOL_NONE };

static ct_opt import_opts[] = {
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output Keras weight file ('-' for stdout)"),
	CT_OPT_FORCE_(force),
	CT_OPT_QUIET_(quiet),
	CT_OPT_END_,
};
static ct_opt info_opts[] = {
	CT_OPT_FLAG_(0, "json", &as_json, "print one JSON object"),
	CT_OPT_END_,
};
static ct_opt sha_opts[] = {
	CT_OPT_END_,
};
static ct_opt export_opts[] = {
	CT_OPT_STRING_('b', "backbone", &backbone, "NAME",
		       "backbone: inception_v3, mobilenet_v2, ... (required without --model; with --model: its source of "
		       "that backbone)"),
	CT_OPT_STRING_('w', "weights", &weights_path, "FILE",
		       "Keras-layout weights (default: NAME.h5 on the weights search path, ctfuse(7))"),
	CT_OPT_FLAG_(0, "synthetic", &synthetic, "deterministic synthetic weights instead of a file (tests, benchmarks)"),
	CT_OPT_STRING_('m', "model", &model_path, "MODEL.h5",
		       "a fine-tuned model (ct-finetune --finetune): its backbone with the fine-tuned layers merged into the "
		       "pretrained weights (--weights or the search path, sha256 checked)"),
	CT_OPT_INT_(0, "source", &source, "K",
		    "--model of several sources (ct-finetune --finetune CUT_1 CUT_2 ...): export source K (1 = the first "
		    "input; 0: the only one), one ONNX model per source",
		    1, 64),
	CT_OPT_STRING_('l', "layer", &layers_s, "NAME[,NAME...]",
		       "layers to output, one ONNX output each (default: the last block; with --model the fine-tuned output)"),
	CT_OPT_CHOICE_ENUM_(0, "pool", &pool_s, "avg|max|none", &pool_e, pool_v, "global pooling of each output (none: flattened NHWC)"),
	CT_OPT_STRING_(0, "batch", &batch_s, "N|dynamic", "batch dimension of the model"),
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output ONNX model ('-' for stdout)"),
	CT_OPT_FORCE_(force),
	CT_OPT_QUIET_(quiet),
	CT_OPT_END_,
};

static ct_opt synth_opts[] = {
	CT_OPT_STRING_('b', "backbone", &backbone, "NAME", "backbone: inception_v3, mobilenet_v2, ... (required)"),
	CT_OPT_STRING_('o', "output", &out_path, "FILE", "output Keras weight file"),
	CT_OPT_FORCE_(force),
	CT_OPT_QUIET_(quiet),
	CT_OPT_END_,
};
static ct_cmd synth_cmd = {
	"ct-weights synth",
	"--backbone NAME -o OUTPUT",
	"Write deterministic synthetic weights for a backbone (the values of lib/nn/testweights.h, shared\n"
	"with the TensorFlow.js conformance goldens) as a Keras-layout weight file: for tests, benchmarks\n"
	"and trying the pipeline without downloads. Not for classification: the features are meaningless.",
	"Exit status: 0 success, 1 failure, 2 usage error.",
	synth_opts,
	0,
	0,
};

static ct_cmd import_cmd = {
	"ct-weights import-tfjs",
	"[OPTIONS] MODEL.json -o OUTPUT",
	"Import a TensorFlow.js layers model (model.json and the binary shards beside it) as a\n"
	"Keras-layout HDF5 weight file: layers in topology order, Keras weight names (\"conv2d_1/kernel:0\"),\n"
	"quantised weights (uint8, uint16, float16) dequantised to float32.",
	"Exit status: 0 success, 1 failure, 2 usage error.",
	import_opts,
	1,
	1,
};
static ct_cmd info_cmd = {
	"ct-weights info",
	"[OPTIONS] FILE",
	"Describe a Keras-layout HDF5 weight file: layers, tensors, shapes, parameter count, sha256.",
	"Exit status: 0 success, 1 failure, 2 usage error.",
	info_opts,
	1,
	1,
};
static ct_cmd sha_cmd = {
	"ct-weights sha256",
	"FILE...",
	"Print the SHA-256 of each file, as sha256sum does (\"HASH  FILE\").",
	"Exit status: 0 success, 1 failure (a file could not be read), 2 usage error.",
	sha_opts,
	1,
	-1,
};

static ct_cmd export_cmd = {
	"ct-weights export-onnx",
	"--backbone NAME [OPTIONS] -o OUTPUT | --model MODEL.h5 [OPTIONS] -o OUTPUT",
	"Export a backbone with its weights as an ONNX model (IR 7, opset 13) computing what ct-features\n"
	"computes: input 'images' N x H x W x 3 float32 NHWC, already preprocessed as the backbone expects\n"
	"(InceptionV3, MobileNetV2, Xception: x / 127.5 - 1; see the model's metadata); one output\n"
	"'<layer>/avg', '<layer>/max' (N x C) or '<layer>/flat' (N x H*W*C, NHWC order) per layer.\n"
	"--model: the backbone of a fine-tuned model with its fine-tuned layers merged in, so that the\n"
	"output gives the features its head takes (ct-score MODEL IMAGES.h5). A model of several sources\n"
	"needs --source K or --backbone NAME: each source is exported on its own.",
	"Exit status: 0 success, 1 failure, 2 usage error.",
	export_opts,
	0,
	0,
};

/* The options of each command, from their tables (so the list cannot drift from the parsers). */
static void list_opts(FILE *out, const char *cmd, const ct_opt *o)
{
	fprintf(out, "  %-12s", cmd);
	int any = 0;
	for (; o->type != CT_OPT_END; o++, any = 1)
		fprintf(out, " --%s", o->long_name);
	fprintf(out, "%s\n", any ? "" : " (none)");
}

static void top_help(FILE *out)
{
	fprintf(out, "usage: ct-weights import-tfjs [OPTIONS] MODEL.json -o OUTPUT\n"
		     "       ct-weights info [--json] FILE\n"
		     "       ct-weights sha256 FILE...\n"
		     "       ct-weights export-onnx --backbone NAME [OPTIONS] -o OUTPUT\n"
		     "       ct-weights export-onnx --model MODEL.h5 [OPTIONS] -o OUTPUT\n"
		     "       ct-weights synth --backbone NAME -o OUTPUT\n"
		     "       ct-weights --version\n\n"
		     "Pretrained weights: import a TensorFlow.js layers model as a Keras HDF5 weight file,\n"
		     "describe a weight file, print checksums, export a backbone as ONNX, write synthetic weights.\n"
		     "'ct-weights COMMAND --help' for a command's options:\n");
	list_opts(out, "import-tfjs", import_opts);
	list_opts(out, "info", info_opts);
	list_opts(out, "sha256", sha_opts);
	list_opts(out, "export-onnx", export_opts);
	list_opts(out, "synth", synth_opts);
	fprintf(out, "\nExit status: 0 success, 1 failure, 2 usage error.\n");
}

static int fail(void)
{
	if (ct_error_is_usage()) {
		fprintf(stderr, "ct-weights: %s\nTry 'ct-weights --help' for more information.\n", ct_last_error());
		return CT_EXIT_USAGE;
	}
	fprintf(stderr, "ct-weights: %s\n", ct_last_error());
	ct_tool_end_if_unsafe();
	return CT_EXIT_FAILURE;
}

static int64_t tensor_params(const ct_wtensor *t)
{
	return ct_tensor_numel(&t->t);
}

static void shape_text(const ct_tensor *t, char *buf, size_t n)
{
	size_t k = 0;
	buf[0] = 0;
	for (int i = 0; i < t->ndim && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "x" : "", (long long)t->shape[i]);
	if (t->ndim == 0)
		snprintf(buf, n, "scalar");
}

/* An existing output is kept unless --force; "-" (standard output) is never refused where
 * the command may write there. Prints why and returns 1 when refused. */
static int output_refused(const char *path, int stdout_ok)
{
	struct stat st;
	if (force || (stdout_ok && !strcmp(path, "-")) || stat(path, &st) != 0)
		return 0;
	fprintf(stderr, "ct-weights: '%s' exists (use --force to overwrite)\n", path);
	return 1;
}

static int cmd_import(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&import_cmd, argc, argv, &nargs, &args);
	const char *in = args[0];
	if (!out_path)
		return ct_tool_usage(&import_cmd, "no output file (use -o FILE)");
	if (output_refused(out_path, 1))
		return CT_EXIT_FAILURE;
	ct_weights w;
	if (ct_tfjs_import(in, &w) < 0)
		return fail();
	if (ct_weights_save(&w, out_path) < 0) {
		ct_weights_free(&w);
		return fail();
	}
	if (!quiet) {
		int64_t nt = 0, np = 0;
		for (int i = 0; i < w.nlayers; i++)
			for (int k = 0; k < w.layers[i].n; k++, nt++)
				np += tensor_params(&w.layers[i].w[k]);
		char hex[65] = "";
		if (strcmp(out_path, "-") && ct_sha256_file(out_path, hex) < 0) {
			ct_weights_free(&w);
			return fail();
		}
		fprintf(stderr, "ct-weights: '%s': %d layers, %lld tensors, %lld parameters%s%s\n", out_path, w.nlayers,
			(long long)nt, (long long)np, hex[0] ? ", sha256 " : "", hex);
	}
	ct_weights_free(&w);
	return CT_EXIT_OK;
}

static int cmd_info(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&info_cmd, argc, argv, &nargs, &args);
	const char *in = args[0];
	ct_weights w;
	if (ct_weights_load(&w, in) < 0)
		return fail();
	int64_t nt = 0, np = 0;
	int with = 0;
	for (int i = 0; i < w.nlayers; i++) {
		with += w.layers[i].n > 0;
		for (int k = 0; k < w.layers[i].n; k++, nt++)
			np += tensor_params(&w.layers[i].w[k]);
	}
	if (as_json) {
		cJSON *o = cJSON_CreateObject(), *layers;
		cJSON_AddStringToObject(o, "file", in);
		cJSON_AddStringToObject(o, "sha256", w.sha256);
		cJSON_AddNumberToObject(o, "layers_total", w.nlayers);
		cJSON_AddNumberToObject(o, "layers_with_weights", with);
		cJSON_AddNumberToObject(o, "tensors", (double)nt);
		cJSON_AddNumberToObject(o, "parameters", (double)np);
		layers = cJSON_AddArrayToObject(o, "layers");
		for (int i = 0; i < w.nlayers; i++) {
			const ct_wlayer *l = &w.layers[i];
			cJSON *lo = cJSON_CreateObject(), *ws;
			cJSON_AddStringToObject(lo, "name", l->name);
			ws = cJSON_AddArrayToObject(lo, "weights");
			for (int k = 0; k < l->n; k++) {
				cJSON *t = cJSON_CreateObject(), *sh;
				cJSON_AddStringToObject(t, "name", l->w[k].name);
				sh = cJSON_AddArrayToObject(t, "shape");
				for (int d = 0; d < l->w[k].t.ndim; d++)
					cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)l->w[k].t.shape[d]));
				cJSON_AddNumberToObject(t, "parameters", (double)tensor_params(&l->w[k]));
				cJSON_AddItemToArray(ws, t);
			}
			cJSON_AddItemToArray(layers, lo);
		}
		char *s = cJSON_Print(o);
		if (s)
			printf("%s\n", s);
		free(s);
		cJSON_Delete(o);
	} else {
		printf("file        %s\nsha256      %s\nlayers      %d (%d with weights)\ntensors     %lld\n"
		       "parameters  %lld\n\n",
		       in, w.sha256[0] ? w.sha256 : "-", w.nlayers, with, (long long)nt, (long long)np);
		for (int i = 0; i < w.nlayers; i++) {
			const ct_wlayer *l = &w.layers[i];
			printf("%s\n", l->name);
			for (int k = 0; k < l->n; k++) {
				char sh[96];
				shape_text(&l->w[k].t, sh, sizeof sh);
				printf("    %-48s %-16s %lld\n", l->w[k].name, sh, (long long)tensor_params(&l->w[k]));
			}
		}
	}
	ct_weights_free(&w);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ct_error_errno("cannot write to standard output");
		return fail();
	}
	return CT_EXIT_OK;
}

static int cmd_sha256(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&sha_cmd, argc, argv, &nargs, &args);
	int rc = CT_EXIT_OK;
	for (int i = 0; i < nargs; i++) {
		char hex[65];
		if (ct_sha256_file(args[i], hex) < 0) {
			rc = fail();
			continue;
		}
		printf("%s  %s\n", hex, args[i]);
	}
	if (fflush(stdout) != 0) {
		ct_error_errno("cannot write to standard output");
		return fail();
	}
	return rc;
}

/* The --backbone graph with synthetic weights or those of --weights (default
 * NAME.h5 on the weights search path); *rc is the weights' result. NULL when the name is unknown. */
static ct_graph *build_backbone(int synth, ct_weights *w, int *rc)
{
	ct_graph *g = ct_model_build(backbone);
	if (!g)
		return NULL;
	const char *path = synth || weights_path ? weights_path : ct_tool_default_weights(backbone);
	*rc = synth ? ct_graph_testweights(g, w) : path ? ct_weights_load(w, path) : -1;
	return g;
}

static int cmd_export(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&export_cmd, argc, argv, &nargs, &args);
	if (!backbone && !model_path)
		return ct_tool_usage(&export_cmd, "no backbone (use --backbone NAME, or --model MODEL.h5)");
	if (!out_path)
		return ct_tool_usage(&export_cmd, "no output file (use -o FILE)");
	if (synthetic && weights_path)
		return ct_tool_usage(&export_cmd, "give either --weights or --synthetic, not both");
	if (synthetic && model_path)
		return ct_tool_usage(&export_cmd, "--model merges into the pretrained weights it was fine-tuned from, not --synthetic");
	ct_onnx_opts o = { .outputs = layers_s, .batch = 0 };
	o.pool = (ct_pool)pool_e;
	if (strcmp(batch_s, "dynamic")) {
		char *end;
		errno = 0;
		long b = strtol(batch_s, &end, 10);
		if (end == batch_s || *end || errno || b < 1 || b > 65536)
			return ct_tool_usage(&export_cmd, "--batch: expected a number from 1 to 65536 or 'dynamic'");
		o.batch = (int)b;
	}
	if (output_refused(out_path, 1))
		return CT_EXIT_FAILURE;
	ct_weights w = { 0 };
	int rc = 0, nsources = 0;
	ct_ft_part ft = { 0 };
	char model_sha[65] = "", source_s[32] = "";
	if (source && !model_path)
		return ct_tool_usage(&export_cmd, "--source applies to --model");
	if (model_path) {
		if (ct_ft_merged_weights(model_path, weights_path, &source, &nsources, backbone, &ft, &w, model_sha) < 0)
			return fail();
		backbone = ft.backbone;
		snprintf(source_s, sizeof source_s, "%d/%d", source, nsources);
		o.finetune_source = source_s;
		if (!layers_s)
			layers_s = ft.output;
		o.outputs = layers_s;
		o.finetune_model_sha256 = model_sha;
	}
	ct_graph *g = model_path ? ct_model_build(backbone) : build_backbone(synthetic, &w, &rc);
	if (!g) {
		ct_ft_part_free(&ft);
		ct_weights_free(&w);
		return fail();
	}
	if (rc == 0)
		rc = ct_onnx_save(g, &w, &o, out_path);
	if (rc == 0 && !quiet)
		fprintf(stderr, "ct-weights: '%s': %s, outputs %s pooled %s, batch %s, weights %s%s%s%s%s\n", out_path,
			backbone, layers_s ? layers_s : g->default_output, pool_s, o.batch ? batch_s : "dynamic",
			synthetic ? "synthetic" : w.sha256, model_path ? " with the fine-tuned layers of " : "",
			model_path ? model_path : "", nsources > 1 ? ", source " : "", nsources > 1 ? source_s : "");
	ct_weights_free(&w);
	ct_graph_free(g);
	ct_ft_part_free(&ft);
	return rc ? fail() : CT_EXIT_OK;
}

static int cmd_synth(int argc, char **argv)
{
	int nargs;
	char **args;
	ct_tool_parse(&synth_cmd, argc, argv, &nargs, &args);
	if (!backbone)
		return ct_tool_usage(&synth_cmd, "no backbone (use --backbone NAME)");
	if (!out_path)
		return ct_tool_usage(&synth_cmd, "no output file (use -o FILE)");
	if (output_refused(out_path, 0))
		return CT_EXIT_FAILURE;
	ct_weights w = { 0 };
	int rc;
	ct_graph *g = build_backbone(1, &w, &rc);
	if (!g)
		return fail();
	if (rc == 0)
		rc = ct_weights_save(&w, out_path);
	if (rc == 0 && !quiet)
		fprintf(stderr, "ct-weights: '%s': synthetic %s weights, %d layers\n", out_path, backbone, w.nlayers);
	ct_weights_free(&w);
	ct_graph_free(g);
	return rc ? fail() : CT_EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		top_help(stderr);
		return CT_EXIT_USAGE;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		top_help(stdout);
		return CT_EXIT_OK;
	}
	if (!strcmp(sub, "--version")) {
		printf("ct-weights %s\n", CT_VERSION);
		return CT_EXIT_OK;
	}
	if (!strcmp(sub, "import-tfjs"))
		return cmd_import(argc - 1, argv + 1);
	if (!strcmp(sub, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(sub, "sha256"))
		return cmd_sha256(argc - 1, argv + 1);
	if (!strcmp(sub, "export-onnx"))
		return cmd_export(argc - 1, argv + 1);
	if (!strcmp(sub, "synth"))
		return cmd_synth(argc - 1, argv + 1);
	fprintf(stderr, "ct-weights: unknown command '%s'\nTry 'ct-weights --help' for more information.\n", sub);
	return CT_EXIT_USAGE;
}
