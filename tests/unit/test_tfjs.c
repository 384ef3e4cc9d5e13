/* test_tfjs.c - TF.js layers-model import: topology order, Keras names and order, shards, dequantisation, refusals. */
#include "core/error.h"
#include "formats/tfjs.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"
#include "test.h"

#include <math.h>
#include <stdio.h>

static char dir[512];

static void write_file(const char *name, const void *data, size_t n)
{
	char p[700];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	fwrite(data, 1, n, f);
	fclose(f);
}

static char *path_of(const char *name)
{
	static char p[700];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

/* Little-endian byte builders for the shard. */
static uint8_t shard[256];
static size_t nshard;
static void put_f32(float v)
{
	uint32_t b;
	memcpy(&b, &v, 4);
	for (int i = 0; i < 4; i++)
		shard[nshard++] = (uint8_t)(b >> (8 * i));
}
static void put_u16(uint16_t v)
{
	shard[nshard++] = (uint8_t)v;
	shard[nshard++] = (uint8_t)(v >> 8);
}

static const char *TOPOLOGY =
	"{\"modelTopology\": {\"keras_version\": \"2.2.4\", \"backend\": \"tensorflow\", \"model_config\": "
	"{\"class_name\": \"Model\", \"config\": {\"name\": \"m\", \"layers\": ["
	"{\"name\": \"input_1\", \"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 4, 4, 3]}},"
	"{\"name\": \"conv\", \"class_name\": \"Conv2D\", \"config\": {\"name\": \"conv\", \"trainable\": false}},"
	"{\"name\": \"bn\", \"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\"}},"
	"{\"name\": \"sub\", \"class_name\": \"Sequential\", \"config\": {\"name\": \"sub\", \"layers\": ["
	"  {\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_9\"}}]}},"
	"{\"name\": \"relu\", \"class_name\": \"ReLU\", \"config\": {\"name\": \"relu\"}}]}}},"
	"\"weightsManifest\": [";

/* The converter lists weights alphabetically; Keras order differs (gamma before beta,
 * kernel before bias), which the import must restore. */
static const char *GROUP1 =
	"{\"paths\": [\"g1-shard1of2\", \"g1-shard2of2\"], \"weights\": ["
	"{\"name\": \"bn/beta\", \"shape\": [3], \"dtype\": \"float32\","
	"  \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.01, \"min\": -1.5}},"
	"{\"name\": \"bn/gamma\", \"shape\": [3], \"dtype\": \"float32\"},"
	"{\"name\": \"bn/moving_mean\", \"shape\": [3], \"dtype\": \"float32\","
	"  \"quantization\": {\"dtype\": \"uint16\", \"scale\": 0.001, \"min\": 0.25}},"
	"{\"name\": \"bn/moving_variance\", \"shape\": [3], \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"float16\"}},"
	"{\"name\": \"conv/bias\", \"shape\": [2], \"dtype\": \"float32\"},"
	"{\"name\": \"conv/kernel\", \"shape\": [1, 1, 3, 2], \"dtype\": \"float32\"}]}";
static const char *GROUP2 =
	"{\"paths\": [\"g2\"], \"weights\": ["
	"{\"name\": \"dense_9/kernel\", \"shape\": [2, 2], \"dtype\": \"float32\"},"
	"{\"name\": \"dense_9/bias\", \"shape\": [2], \"dtype\": \"float32\","
	"  \"quantization\": {\"dtype\": \"uint8\", \"scale\": 0.5, \"min\": -3}}]}";

static const uint8_t BETA_Q[3] = { 0, 150, 255 };
static const float GAMMA[3] = { 1.5f, -0.25f, 3.0f };
static const uint16_t MEAN_Q[3] = { 0, 1000, 65535 };
static const uint16_t VAR_H[3] = { 0x3c00, 0x0001, 0xfc00 }; /* 1, smallest subnormal, -inf */
static const float BIAS[2] = { 0.125f, -7.0f };
static const float KERNEL[6] = { 1, 2, 3, 4, 5, 6 };
static const float DKERNEL[4] = { -1, 0.5f, 1e-20f, 1e20f };
static const uint8_t DBIAS_Q[2] = { 6, 7 };

static void write_model(const char *json_name, const char *extra_group)
{
	nshard = 0;
	for (int i = 0; i < 3; i++)
		shard[nshard++] = BETA_Q[i];
	for (int i = 0; i < 3; i++)
		put_f32(GAMMA[i]);
	for (int i = 0; i < 3; i++)
		put_u16(MEAN_Q[i]);
	for (int i = 0; i < 3; i++)
		put_u16(VAR_H[i]);
	for (int i = 0; i < 2; i++)
		put_f32(BIAS[i]);
	for (int i = 0; i < 6; i++)
		put_f32(KERNEL[i]);
	/* split in the middle of a float: a group's shards are one byte stream */
	write_file("g1-shard1of2", shard, 10);
	write_file("g1-shard2of2", shard + 10, nshard - 10);
	nshard = 0;
	for (int i = 0; i < 4; i++)
		put_f32(DKERNEL[i]);
	for (int i = 0; i < 2; i++)
		shard[nshard++] = DBIAS_Q[i];
	write_file("g2", shard, nshard);
	char json[8192];
	snprintf(json, sizeof json, "%s%s, %s%s]}", TOPOLOGY, GROUP1, GROUP2, extra_group ? extra_group : "");
	write_file(json_name, json, strlen(json));
}

static int tensor_is(const ct_wlayer *l, int k, const char *name, int ndim, const float *want, int n)
{
	if (!l || k >= l->n || strcmp(l->w[k].name, name) || l->w[k].t.ndim != ndim || ct_tensor_numel(&l->w[k].t) != n)
		return 0;
	const float *v = l->w[k].t.data;
	for (int i = 0; i < n; i++)
		if (memcmp(&v[i], &want[i], sizeof(float)))
			return 0;
	return 1;
}

static void test_import(void)
{
	write_model("model.json", NULL);
	ct_weights w;
	int rc = ct_tfjs_import(path_of("model.json"), &w);
	ok(rc == 0, "a model.json with two weight groups imports (%s)", rc ? ct_last_error() : "ok");
	if (rc)
		return;
	ok(w.nlayers == 5 && !strcmp(w.layers[0].name, "input_1") && !strcmp(w.layers[1].name, "conv") &&
		   !strcmp(w.layers[2].name, "bn") && !strcmp(w.layers[3].name, "dense_9") &&
		   !strcmp(w.layers[4].name, "relu") && w.layers[0].n == 0 && w.layers[4].n == 0,
	   "every topology layer in topology order, the nested Sequential flattened");

	const ct_wlayer *conv = ct_weights_find(&w, "conv"), *bn = ct_weights_find(&w, "bn"),
			*dense = ct_weights_find(&w, "dense_9");
	int64_t kshape[4] = { 1, 1, 3, 2 };
	ok(tensor_is(conv, 0, "conv/kernel:0", 4, KERNEL, 6) && !memcmp(conv->w[0].t.shape, kshape, sizeof kshape) &&
		   tensor_is(conv, 1, "conv/bias:0", 1, BIAS, 2),
	   "float32 weights exact, Keras order (kernel, bias) and names with ':0'");

	float beta[3], mean[3];
	for (int i = 0; i < 3; i++) {
		beta[i] = (float)(BETA_Q[i] * 0.01 + -1.5);
		mean[i] = (float)(MEAN_Q[i] * 0.001 + 0.25);
	}
	ok(tensor_is(bn, 0, "bn/gamma:0", 1, GAMMA, 3), "BN gamma first (manifest had beta first)");
	ok(tensor_is(bn, 1, "bn/beta:0", 1, beta, 3) && fabsf(beta[1] - 0.0f) < 1e-6f,
	   "uint8-quantised beta dequantised as q*scale+min (%g %g %g)", beta[0], beta[1], beta[2]);
	ok(tensor_is(bn, 2, "bn/moving_mean:0", 1, mean, 3) && mean[2] > 65.7f,
	   "uint16-quantised moving_mean dequantised (%g %g %g)", mean[0], mean[1], mean[2]);
	const float *var = bn && bn->n == 4 ? bn->w[3].t.data : NULL;
	ok(var && !strcmp(bn->w[3].name, "bn/moving_variance:0") && var[0] == 1.0f && var[1] == 5.9604644775390625e-08f &&
		   isinf(var[2]) && var[2] < 0,
	   "float16-stored moving_variance converted exactly");
	float dbias[2] = { (float)(6 * 0.5 - 3), (float)(7 * 0.5 - 3) };
	ok(tensor_is(dense, 0, "dense_9/kernel:0", 2, DKERNEL, 4) && tensor_is(dense, 1, "dense_9/bias:0", 1, dbias, 2),
	   "the second weight group is read from its own shard");

	/* an imported set survives the HDF5 round trip */
	ct_weights r;
	rc = ct_weights_save(&w, path_of("imported.h5")) == 0 ? ct_weights_load(&r, path_of("imported.h5")) : -1;
	ok(rc == 0 && r.nlayers == 5 && r.layers[2].n == 4 &&
		   !memcmp(r.layers[2].w[2].t.data, w.layers[2].w[2].t.data, 12),
	   "imported weights save and load back (%s)", rc ? ct_last_error() : "ok");
	if (rc == 0)
		ct_weights_free(&r);
	ct_weights_free(&w);
}

static void expect_fail(const char *json_name, const char *needle, const char *what)
{
	ct_weights w;
	int rc = ct_tfjs_import(path_of(json_name), &w);
	ok(rc == -1 && strstr(ct_last_error(), needle) && w.nlayers == 0, "%s: %s", what, ct_last_error());
	if (rc == 0)
		ct_weights_free(&w);
}

static void test_refusals(void)
{
	expect_fail("absent.json", "No such file or directory", "a missing model.json");

	write_file("bad.json", "{\"modelTopology\": {", 19);
	expect_fail("bad.json", "not valid JSON", "truncated JSON");

	write_file("graph.json", "{\"format\": \"graph-model\", \"modelTopology\": {}, \"weightsManifest\": []}", 69);
	expect_fail("graph.json", "graph model", "a graph model is not a layers model");

	write_file("nomanifest.json", "{\"modelTopology\": {\"class_name\": \"Model\", \"config\": {\"layers\": []}}}", 68);
	expect_fail("nomanifest.json", "no modelTopology / weightsManifest", "no weightsManifest");

	/* a group whose weight is not in the topology */
	write_model("int.json", ", {\"paths\": [\"g2\"], \"weights\": [{\"name\": \"conv/steps\", \"shape\": [2], "
				"\"dtype\": \"int32\"}]}");
	expect_fail("int.json", "dtype 'int32' is not supported", "a non-float weight");
	write_model("orphan2.json", ", {\"paths\": [\"g2\"], \"weights\": [{\"name\": \"other/kernel\", \"shape\": [2, 2], "
				    "\"dtype\": \"float32\"}, {\"name\": \"other/bias\", \"shape\": [2], \"dtype\": \"float32\","
				    "\"quantization\": {\"dtype\": \"uint8\", \"scale\": 1, \"min\": 0}}]}");
	expect_fail("orphan2.json", "'other/kernel:0' belongs to no layer", "a weight of no topology layer");

	/* shards that do not match the manifest */
	write_model("model.json", NULL);
	write_file("g2", shard, nshard - 1);
	expect_fail("model.json", "runs past the end", "a shard one byte short");
	uint8_t more[64] = { 0 };
	memcpy(more, shard, nshard);
	write_file("g2", more, nshard + 4);
	expect_fail("model.json", "shards hold", "a shard with extra bytes");
	remove(path_of("g1-shard2of2"));
	expect_fail("model.json", "g1-shard2of2': No such file or directory", "a missing shard");

	write_model("model.json", ", {\"paths\": [\"../g2\"], \"weights\": []}");
	expect_fail("model.json", "leaves the model folder", "a shard path outside the folder");

	write_model("model.json", ", {\"paths\": [], \"weights\": [{\"name\": \"conv/x\", \"shape\": [1, 1, 1, 1, 1], "
				  "\"dtype\": \"float32\"}]}");
	expect_fail("model.json", "5 dimensions", "a 5-d weight");
	write_model("model.json", ", {\"paths\": [], \"weights\": [{\"name\": \"conv/x\", \"shape\": [-1], "
				  "\"dtype\": \"float32\"}]}");
	expect_fail("model.json", "absurd shape", "a negative dimension");
	write_model("model.json", ", {\"paths\": [], \"weights\": [{\"name\": \"conv/x\", \"shape\": [1], \"dtype\": "
				  "\"float32\", \"quantization\": {\"dtype\": \"uint8\"}}]}");
	expect_fail("model.json", "without scale and min", "uint8 quantisation without scale/min");
}

static void test_half(void)
{
	struct {
		uint16_t h;
		float f;
	} v[] = { { 0x0000, 0.0f }, { 0x3c00, 1.0f }, { 0xc000, -2.0f }, { 0x7bff, 65504.0f },
		  { 0x0400, 6.103515625e-05f }, { 0x03ff, 6.097555160522461e-05f }, { 0x0200, 3.0517578125e-05f },
		  { 0x3555, 0.333251953125f }, { 0x7c00, INFINITY } };
	int good = 1;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		good &= ct_half_to_float(v[i].h) == v[i].f;
	ok(good, "half to float: zero, normals, largest, subnormals, infinity");
	float n = ct_half_to_float(0x7e00), nz = ct_half_to_float(0x8000);
	ok(isnan(n) && nz == 0.0f && signbit(nz), "half NaN stays NaN, -0 keeps its sign");
	/* every finite half survives float -> half by round-trip through the known formula */
	int mono = 1;
	for (uint32_t h = 1; h < 0x7c00; h++)
		mono &= ct_half_to_float((uint16_t)h) > ct_half_to_float((uint16_t)(h - 1));
	ok(mono, "all 31743 positive finite halves convert to strictly increasing floats");
	float out[2];
	ok(ct_tfjs_dequantise("\x01\x02", 2, "int8", 1, 0, out) == -1 && strstr(ct_last_error(), "int8"),
	   "an unknown storage type is refused");
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", t_tmpdir());
	test_import();
	test_refusals();
	test_half();
	TEST_DONE();
}
