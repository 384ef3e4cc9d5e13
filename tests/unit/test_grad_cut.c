/* test_grad_cut.c - cut activations and fine-tuning as a user runs them: float16 rounding
 * (every half value round-trips, random floats go to the nearest half, ties to even);
 * ct-features --cut stores exactly the layer's raw map (against --layer L --pool none) and
 * leaves the features unchanged; float16 storage within 2^-11; bad cuts refused.
 * ct-finetune --finetune: bit-identical models on 1 and 2 threads; the stored layers, merged
 * into the backbone's weights and run by the inference engine (BN folded, fused kernels), give
 * the features ct-score computes from the cut; refusals (weights of another hash, a file
 * without activations, options without --finetune). */
#include "test.h"

#include "core/error.h"
#include "core/rng.h"
#include "data/activations.h"
#include "data/features.h"
#include "models/models.h"
#include "nn/graph.h"
#include "nn/net.h"
#include "formats/keras_h5.h"
#include "nn/weights.h"
#include "train/finetune.h"

#include <math.h>

static char dir[512];

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	char full[8800];
	snprintf(full, sizeof full, "cd %s && (%s) > log.txt 2>&1", dir, cmd);
	int rc = system(full);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int log_has(const char *s)
{
	char p[600], buf[8192];
	snprintf(p, sizeof p, "%s/log.txt", dir);
	FILE *f = fopen(p, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	if (!strstr(buf, s))
		diag("log: %s", buf);
	return strstr(buf, s) != NULL;
}

static void half_cases(void)
{
	int rt = 1;
	for (uint32_t h = 0; h < 65536; h++) {
		if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
			continue; /* NaN */
		if (ct_f32_to_f16(ct_f16_to_f32((uint16_t)h)) != h)
			rt = 0;
	}
	ok(rt, "every non-NaN half value survives half -> float -> half");
	/* nearest: no other half is closer; at a tie the even one wins */
	ct_rng r;
	ct_rng_init(&r, 7, 0);
	int nearest = 1, ties = 1;
	double worst = 0;
	for (int i = 0; i < 200000; i++) {
		float v = (float)(ldexp(ct_rng_range(&r, -1, 1), (int)ct_rng_below(&r, 40) - 24));
		uint16_t h = ct_f32_to_f16(v);
		double d = fabs((double)ct_f16_to_f32(h) - v);
		for (int s = -1; s <= 1; s += 2) {
			uint16_t o = (uint16_t)(h + s);
			if ((o & 0x7fff) >= 0x7c00 || ((o ^ h) & 0x8000))
				continue;
			double dd = fabs((double)ct_f16_to_f32(o) - v);
			if (dd < d || (dd == d && (h & 1)))
				nearest = 0;
		}
		if (fabs(v) >= ldexp(1, -14))
			worst = d / fabs(v) > worst ? d / fabs(v) : worst;
		/* a tie: halfway between two halves */
		uint16_t a = (uint16_t)(ct_rng_below(&r, 0x7bff)), b = (uint16_t)(a + 1);
		float mid = (float)(((double)ct_f16_to_f32(a) + ct_f16_to_f32(b)) / 2);
		if (ct_f32_to_f16(mid) != ((a & 1) ? b : a))
			ties = 0;
	}
	ok(nearest, "random floats over 40 binades round to the nearest half");
	ok(ties, "halfway values round to the even half");
	ok(worst <= ldexp(1, -11), "relative error of normal halves %.3g <= 2^-11", worst);
	ok(isinf(ct_f16_to_f32(ct_f32_to_f16(70000.f))) && ct_f32_to_f16(65504.f) == 0x7bff,
	   "65504 is the largest half; 70000 overflows to Inf");
}

static double maxrel(const float *a, const float *b, int64_t n, double floor_)
{
	double e = 0;
	for (int64_t i = 0; i < n; i++) {
		double m = fabs(b[i]) > floor_ ? fabs(b[i]) : floor_;
		double d = fabs((double)a[i] - b[i]) / m;
		e = d > e ? d : e;
	}
	return e;
}

/* max|a - b| / max|b| */
static double maxnorm(const float *a, const float *b, int64_t n)
{
	double e = 0, m = 1e-30;
	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		e = d > e ? d : e;
		m = fabs(b[i]) > m ? fabs(b[i]) : m;
	}
	return e / m;
}

static void cut_cases(void)
{
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 img.h5 -o plain.h5 -q && "
	       "ct-features --backbone mobilenet_v2 --weights mnv2.h5 --layer block_13_expand_relu "
	       "--pool none img.h5 -o raw.h5 -q") == 0,
	   "reference features: out_relu pooled, block_13_expand_relu raw");
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 --cut block_13_expand_relu img.h5 "
	       "-o cut.h5 --batch 4 -q") == 0,
	   "ct-features --cut block_13_expand_relu runs");
	ok(run("OMP_NUM_THREADS=1 ct-features --backbone mobilenet_v2 --weights mnv2.h5 --cut "
	       "block_13_expand_relu --cut-dtype float16 img.h5 -o cut16.h5 --batch 3 -q") == 0,
	   "... and with --cut-dtype float16 on one thread");
	char p[700];
	ct_features f = { 0 }, fr = { 0 }, fc = { 0 };
	ct_actfile a = { 0 }, a16 = { 0 };
	int okf = 1;
	snprintf(p, sizeof p, "%s/plain.h5", dir);
	okf &= ct_features_read(p, &f) == 0;
	snprintf(p, sizeof p, "%s/raw.h5", dir);
	okf &= ct_features_read(p, &fr) == 0;
	snprintf(p, sizeof p, "%s/cut.h5", dir);
	okf &= ct_features_read(p, &fc) == 0 && ct_actfile_open(&a, p) == 0;
	snprintf(p, sizeof p, "%s/cut16.h5", dir);
	okf &= ct_actfile_open(&a16, p) == 0;
	if (!okf) {
		diag("%s", ct_last_error());
		ok(0, "the cut files open");
		return;
	}
	int64_t per = (int64_t)a.height * a.width * a.channels;
	float *m = malloc((size_t)(a.n * per) * sizeof *m), *m16 = malloc((size_t)(a.n * per) * sizeof *m);
	ok(a.n == 9 && a.height == 14 && a.width == 14 && a.channels == 576 && !strcmp(a.cut, "block_13_expand_relu") &&
		   !strcmp(a.backbone, "mobilenet_v2") && strlen(a.weights_sha256) == 64,
	   "9 maps of 14x14x576 with cut layer, backbone and weights hash");
	ok(ct_actfile_read(&a, 0, a.n, m) == 0 && fr.x.shape[1] == per &&
		   !memcmp(m, fr.x.data, (size_t)(a.n * per) * sizeof *m),
	   "the maps equal the layer's unpooled output bit for bit");
	ok(fc.x.shape[1] == f.x.shape[1] && !memcmp(fc.x.data, f.x.data, (size_t)(f.x.shape[0] * f.x.shape[1]) * 4),
	   "the pooled --layer features are unchanged by --cut");
	double e = ct_actfile_read(&a16, 0, a.n, m16) == 0 ? maxrel(m16, m, a.n * per, ldexp(1, -14)) : 1;
	ok(e <= ldexp(1, -11), "float16 maps within 2^-11 of float32 (relative, floor 2^-14): %.3g", e);
	free(m), free(m16);
	ct_actfile_close(&a), ct_actfile_close(&a16);
	/* a file claiming absurd map sizes (damaged or foreign: checksums off) is refused before
	 * any size is narrowed to int or allocated */
	if (run("cp cut.h5 huge.h5 && /usr/bin/python3 -c \"import h5py; f = h5py.File('huge.h5', 'a'); "
		"del f['activations']; f.create_dataset('activations', (9, 70000, 70000, 576), 'f4', "
		"chunks=(1, 1, 1, 576))\"") == 0) {
		ct_actfile hu = { 0 };
		snprintf(p, sizeof p, "%s/huge.h5", dir);
		ct_h5_set_verify(0);
		int rc = ct_actfile_open(&hu, p);
		ct_h5_set_verify(1);
		ok(rc < 0 && strstr(ct_last_error(), "70000 x 70000 x 576 are out of range"),
		   "activation maps of 70000 x 70000 x 576 are refused: %s", ct_last_error());
		ct_actfile_close(&hu);
	} else {
		ok(0, "h5py could not write the oversized activations file (/usr/bin/python3 with h5py needed)");
	}
	ct_features_free(&f), ct_features_free(&fr), ct_features_free(&fc);
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 --cut nope img.h5 -o bad.h5") == 1 &&
		   log_has("has no layer 'nope'"),
	   "an unknown cut layer fails (1) naming it");
	ok(run("ct-features --backbone mobilenet_v2 --weights mnv2.h5 --cut-dtype float16 img.h5 -o bad.h5") == 2,
	   "--cut-dtype without --cut is a usage error (2)");
	ok(run("test ! -e bad.h5") == 0, "no output is left by the failures");
}

static void ft_cases(void)
{
	ok(run("ct-phantom -o ph6 --patients 8 --slices-per-patient 2 --size 96 --seed 5 && "
	       "ct-convert ph6 --size 224 -o i6.h5 -q && ct-split i6.h5 -o s6.h5 --fractions 0.5,0.25,0.25 -q && "
	       "ct-split i6.h5 -o n6.h5 --fractions 0.75,0,0.25 -q && "
	       "ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_15_add s6.h5 -o c6.h5 -q && "
	       "ct-features -b mobilenet_v2 -w mnv2.h5 --cut block_15_add n6.h5 -o cn6.h5 -q") == 0,
	   "16 phantom slices of 8 patients cut at block_15_add, with and without a val split");
	ok(run("OMP_NUM_THREADS=1 ct-finetune --finetune c6.h5 --weights mnv2.h5 -o t.h5 --epochs 3 --hidden 16 "
	       "--backbone-lr 1e-4 --batch 4 --patience 0 -q && mv t.h5 t1.h5 && OMP_NUM_THREADS=2 ct-finetune --finetune c6.h5 "
	       "--weights mnv2.h5 -o t.h5 --epochs 3 --hidden 16 --backbone-lr 1e-4 --batch 4 --patience 0 -q && cmp t.h5 t1.h5") == 0,
	   "ct-finetune --finetune: 1 and 2 threads give byte-identical models");
	ok(run("ct-finetune --finetune cn6.h5 --weights mnv2.h5 -o ft.h5 --epochs 2 --hidden 16 --backbone-lr 1e-4 "
	       "--batch 4 --val-fraction 0") == 0 && log_has("joint epoch 2 of 2 kept"),
	   "without validation every joint epoch runs and the last is kept");
	char p[700], mp[700];
	snprintf(mp, sizeof mp, "%s/ft.h5", dir);
	/* merge the stored layers into the base weights */
	ct_weights base = { 0 }, ftw = { 0 };
	ct_h5 h;
	snprintf(p, sizeof p, "%s/mnv2.h5", dir);
	int okm = ct_weights_load(&base, p) == 0 && ct_h5_open(&h, mp) == 0;
	hid_t g = okm ? H5Gopen2(h.file, "finetune/0", H5P_DEFAULT) : -1;
	okm = okm && g >= 0 && ct_weights_read(g, &ftw) == 0;
	if (g >= 0)
		H5Gclose(g);
	if (okm)
		ct_h5_close(&h);
	int changed = 0, layers = okm ? ftw.nlayers : 0;
	for (int i = 0; okm && i < ftw.nlayers; i++) {
		const ct_wlayer *fl = &ftw.layers[i], *bl = ct_weights_find(&base, fl->name);
		okm = bl && bl->n == fl->n;
		for (int j = 0; okm && j < fl->n; j++) {
			char sn[64];
			ct_weight_short_name(fl->w[j].name, sn, sizeof sn);
			const ct_wtensor *bt = ct_wlayer_get(bl, sn);
			okm = bt && ct_tensor_numel(&bt->t) == ct_tensor_numel(&fl->w[j].t);
			if (okm) {
				changed |= memcmp(bt->t.data, fl->w[j].t.data, ct_tensor_nbytes(&bt->t)) != 0;
				memcpy(bt->t.data, fl->w[j].t.data, ct_tensor_nbytes(&bt->t));
			}
		}
	}
	ok(okm && layers == 8 && ct_weights_find(&ftw, "block_16_expand") && ct_weights_find(&ftw, "Conv_1_bn") &&
		   !ct_weights_find(&ftw, "block_15_expand"),
	   "the model stores the 8 layers above block_15_add by their Keras names (%d)", layers);
	ok(changed, "... and fine-tuning changed them");
	snprintf(p, sizeof p, "%s/merged.h5", dir);
	ok(okm && ct_weights_save(&base, p) == 0 &&
		   run("ct-features -b mobilenet_v2 -w merged.h5 n6.h5 -o merged-f.h5 -q") == 0,
	   "features of the merged weights through the inference engine");
	ct_features fe = { 0 }, fa = { 0 };
	snprintf(p, sizeof p, "%s/merged-f.h5", dir);
	char cp[700];
	snprintf(cp, sizeof cp, "%s/cn6.h5", dir);
	double e = 1;
	if (ct_features_read(p, &fe) == 0 && ct_features_read(cp, &fa) == 0 && ct_ft_apply(mp, cp, &fa) == 0 &&
	    fa.x.shape[1] == fe.x.shape[1] && fa.x.shape[0] == fe.x.shape[0])
		e = maxnorm(fa.x.data, fe.x.data, fe.x.shape[0] * fe.x.shape[1]);
	else
		diag("%s", ct_last_error());
	/* the engine folds BN into the conv weights: float rounding of another order */
	ok(e <= 1e-4, "ct-score's features from the cut = the engine's with the merged weights (max|d|/max %.2g)", e);
	ok(fa.nblocks == 1 && !strcmp(fa.blocks[0].name, "mobilenet_v2/out_relu/avg"), "... in one block named like ct-features'");
	ct_features_free(&fe), ct_features_free(&fa);
	ct_weights_free(&base), ct_weights_free(&ftw);
	ok(run("ct-score ft.h5 cn6.h5 -o sc.h5") == 0, "ct-score scores the cut file with the fine-tuned layers");
	ok(run("ct-score ft.h5 merged-f.h5") == 1 && log_has("has no cut activations"),
	   "... and refuses a features file without them (1)");
	ok(run("ct-finetune --finetune c6.h5 --weights merged.h5 -o bad.h5 --epochs 1") == 1 && log_has("sha256"),
	   "weights other than those the cut was made with are refused (1)");
	ok(run("ct-finetune c6.h5 -o bad.h5 --backbone-lr 1e-4") == 2, "--backbone-lr without --finetune is a usage error (2)");
	ok(run("ct-finetune c6.h5 cn6.h5 -o bad.h5") == 2, "two inputs without --finetune are a usage error (2)");
	ok(run("ct-finetune --finetune s6.h5 --weights mnv2.h5 -o bad.h5") == 1 && log_has("expected 'features'"),
	   "an images file is refused (1)");
	ok(run("test ! -e bad.h5") == 0, "no output is left by the failures");
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", t_tmpdir());
	half_cases();
	ct_graph *g = ct_model_build("mobilenet_v2");
	ct_weights w = { 0 };
	char wpath[600];
	snprintf(wpath, sizeof wpath, "%s/mnv2.h5", dir);
	ok(g && ct_graph_testweights(g, &w) == 0 && ct_weights_save(&w, wpath) == 0, "synthetic weights written");
	ct_weights_free(&w);
	ct_graph_free(g);
	ok(run("ct-phantom -o ph --patients 3 --slices-per-patient 3 --size 96 --seed 2 && "
	       "ct-convert ph --size 224 -o img0.h5 -q && ct-split img0.h5 -o img.h5 --fractions 0.34,0.33,0.33 -q") == 0,
	   "phantom images converted at 224 and split");
	cut_cases();
	ft_cases();
	TEST_DONE();
}
