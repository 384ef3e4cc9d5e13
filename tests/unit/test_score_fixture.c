/* test_score_fixture.c - fixtures and checks for ct-score. Without arguments: a TAP test of
 * the scoring library (fixture round trip, layout mismatch, scores file, JSON, report
 * escaping and self-containment). Subcommands used by tests/cli/test_score.sh:
 *   write DIR       features files written the way a user's own extractor would (binary
 *                   feat.h5, 3-class feat3.h5, other-layout other.h5, train-only train.h5,
 *                   unlabelled unl.h5, HTML-hostile class names evil.h5) and logistic
 *                   models for them (model.h5, model3.h5, evil_model.h5) with training curves
 *   png-stats FILE  "W H colours nonwhite_permille" of a PNG (our decoder) */
#include "test.h"

#include "core/error.h"
#include "core/rng.h"
#include "data/features.h"
#include "image/codec.h"
#include "eval/report.h"
#include "eval/score.h"
#include "train/train.h"

#include <cjson/cJSON.h>
#include <math.h>

typedef struct fx {
	int K;
	const char *const *classes;
	int D;
	int nblocks;
	const char *const *block_names;
	const int *block_widths;
	int n_train, n_val, n_test, n_unlabelled;
	uint64_t seed;
} fx;

static const char *const bin_classes[] = { "CT_COVID", "CT_NonCOVID" };
static const char *const tri_classes[] = { "covid", "normal", "pneumonia" };
static const char *const evil_classes[] = { "<b>covid</b> & \"x\"", "non'covid <script>alert(1)</script>" };
static const char *const blocks2[] = { "user/feat_a/avg", "user/feat_b/avg" };
static const int widths2[] = { 5, 3 };
static const char *const blocks1[] = { "user/other/avg" };
static const int widths1[] = { 6 };

/* Class c shifts columns j with j % K == c by +0.45; the model's weights follow that. */
static int write_features(const char *path, const fx *x, ct_features *out)
{
	ct_features f;
	memset(&f, 0, sizeof f);
	int64_t n = (int64_t)x->n_train + x->n_val + x->n_test + x->n_unlabelled;
	if (ct_samples_alloc(&f.s, n, x->K) < 0)
		return -1;
	for (int c = 0; c < x->K; c++)
		f.s.class_names[c] = strdup(x->classes[c]);
	int64_t shape[2] = { n, x->D };
	if (ct_tensor_alloc(&f.x, CT_F32, 2, shape) < 0)
		return -1;
	ct_rng r;
	ct_rng_init(&r, x->seed, 0);
	float *v = f.x.data;
	for (int64_t i = 0; i < n; i++) {
		const char *sp = i < x->n_train ? "train" : i < x->n_train + x->n_val ? "val" : "test";
		int lab = (int)(i % x->K);
		int unl = i >= n - x->n_unlabelled;
		char name[64];
		snprintf(name, sizeof name, "%s/P%03lld_s01.png", x->classes[lab][0] == '<' ? "odd" : sp, (long long)i);
		f.s.names[i] = strdup(name);
		snprintf(name, sizeof name, "P%03lld", (long long)(i / 2));
		f.s.groups[i] = strdup(name);
		f.s.splits[i] = strdup(sp);
		f.s.labels[i] = unl ? -1 : lab;
		for (int j = 0; j < x->D; j++)
			v[i * x->D + j] = (float)(ct_rng_normal(&r) + (j % x->K == lab ? 0.45 : 0.0));
	}
	f.nblocks = x->nblocks;
	f.blocks = calloc((size_t)x->nblocks, sizeof *f.blocks);
	int64_t at = 0;
	for (int b = 0; b < x->nblocks; b++) {
		f.blocks[b].name = strdup(x->block_names[b]);
		f.blocks[b].backbone = strdup("user");
		f.blocks[b].layer = strdup(x->block_names[b] + 5);
		f.blocks[b].pool = strdup("avg");
		f.blocks[b].weights_sha256 = strdup("");
		f.blocks[b].start = at;
		f.blocks[b].width = x->block_widths[b];
		at += x->block_widths[b];
	}
	char *up[1] = { "{\"tool\":\"my-extractor\",\"version\":\"1.0\",\"kind\":\"images\",\"command\":\"my-extractor "
			"--in ct/ --out <feat>.h5\",\"params\":{\"note\":\"a <user> & his \\\"program\\\"\"}}" };
	f.prov = up;
	f.nprov = 1;
	ct_h5 h;
	char cmdline[512];
	snprintf(cmdline, sizeof cmdline, "test_score_fixture write %s", path);
	ct_run run = { "test_score_fixture", cmdline, "{\"seed\":1}" };
	int rc = ct_h5_create(&h, path, 1);
	if (rc == 0) {
		rc = ct_features_write(&h, &f, &run);
		if (rc == 0)
			rc = ct_h5_commit(&h);
		else
			ct_h5_abort(&h);
	}
	f.prov = NULL;
	f.nprov = 0;
	ct_features_free(&f);
	if (rc < 0)
		return -1;
	return out ? ct_features_read(path, out) : 0;
}

static int write_model(const char *path, const ct_features *f, int curves)
{
	ct_head m;
	int K = f->s.nclasses, D = (int)f->x.shape[1];
	if (ct_head_alloc(&m, CT_HEAD_LOGREG, D, 0, K) < 0)
		return -1;
	m.class_names = calloc((size_t)K + 1, sizeof *m.class_names);
	for (int c = 0; c < K; c++)
		m.class_names[c] = strdup(f->s.class_names[c]);
	m.nblocks = f->nblocks;
	m.blocks = calloc((size_t)f->nblocks, sizeof *m.blocks);
	for (int b = 0; b < f->nblocks; b++) {
		m.blocks[b] = f->blocks[b];
		m.blocks[b].name = strdup(f->blocks[b].name);
		m.blocks[b].backbone = strdup(f->blocks[b].backbone);
		m.blocks[b].layer = strdup(f->blocks[b].layer);
		m.blocks[b].pool = strdup(f->blocks[b].pool);
		m.blocks[b].weights_sha256 = strdup(f->blocks[b].weights_sha256);
	}
	for (int j = 0; j < D; j++)
		m.w1[j * K + j % K] = 1.5f;
	ct_h5 h;
	ct_run run = { "ct-finetune", "ct-finetune feat.h5 -o model.h5 --head logreg", "{\"head\":\"logreg\"}" };
	int rc = ct_h5_create(&h, path, 1);
	if (rc < 0) {
		ct_head_free(&m);
		return -1;
	}
	rc = ct_file_stamp(h.file, "model", &run, f->prov, f->nprov);
	if (rc == 0)
		rc = ct_head_write(h.file, &m);
	if (rc == 0 && curves) {
		enum { E = 14 };
		double tl[E], ta[E], vl[E], va[E];
		for (int e = 0; e < E; e++) {
			tl[e] = 0.25 + 0.5 * exp(-0.3 * e);
			vl[e] = 0.33 + 0.45 * exp(-0.3 * e) + (e > 9 ? 0.01 * (e - 9) : 0);
			ta[e] = 0.95 - 0.4 * exp(-0.35 * e);
			va[e] = 0.9 - 0.4 * exp(-0.35 * e);
		}
		ct_train_log log = { 0 };
		log.epochs = E;
		log.train_loss = tl;
		log.train_acc = ta;
		log.val_loss = vl;
		log.val_acc = va;
		log.best_epoch = 10;
		log.stopped_early = 1;
		rc = ct_train_log_write(h.file, &log, "val split");
	}
	if (rc == 0)
		rc = ct_h5_commit(&h);
	else
		ct_h5_abort(&h);
	ct_head_free(&m);
	return rc;
}

static int write_all(const char *dir)
{
	char p[1024], q[1024];
	ct_features f;
	fx bin = { 2, bin_classes, 8, 2, blocks2, widths2, 60, 30, 40, 5, 11 };
	fx tri = { 3, tri_classes, 8, 2, blocks2, widths2, 60, 30, 45, 0, 12 };
	fx other = { 2, bin_classes, 6, 1, blocks1, widths1, 10, 10, 10, 0, 13 };
	fx train = { 2, bin_classes, 8, 2, blocks2, widths2, 40, 0, 0, 0, 14 };
	fx unl = { 2, bin_classes, 8, 2, blocks2, widths2, 0, 0, 12, 12, 15 };
	fx evil = { 2, evil_classes, 8, 2, blocks2, widths2, 30, 20, 30, 0, 16 };
	snprintf(p, sizeof p, "%s/feat.h5", dir);
	snprintf(q, sizeof q, "%s/model.h5", dir);
	if (write_features(p, &bin, &f) < 0 || write_model(q, &f, 1) < 0)
		return -1;
	ct_features_free(&f);
	snprintf(p, sizeof p, "%s/feat3.h5", dir);
	snprintf(q, sizeof q, "%s/model3.h5", dir);
	if (write_features(p, &tri, &f) < 0 || write_model(q, &f, 0) < 0)
		return -1;
	ct_features_free(&f);
	snprintf(p, sizeof p, "%s/evil.h5", dir);
	snprintf(q, sizeof q, "%s/evil_model.h5", dir);
	if (write_features(p, &evil, &f) < 0 || write_model(q, &f, 1) < 0)
		return -1;
	ct_features_free(&f);
	snprintf(p, sizeof p, "%s/other.h5", dir);
	if (write_features(p, &other, NULL) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/train.h5", dir);
	if (write_features(p, &train, NULL) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/unl.h5", dir);
	return write_features(p, &unl, NULL);
}

static int png_stats(const char *path)
{
	ct_image img;
	memset(&img, 0, sizeof img);
	if (ct_image_read(path, (int64_t)1 << 28, &img) < 0) {
		fprintf(stderr, "%s\n", ct_last_error());
		return 1;
	}
	ct_tensor *t = &img.pages[0];
	if (t->dtype != CT_U8) {
		fprintf(stderr, "not an 8-bit image\n");
		return 1;
	}
	int64_t H = t->shape[0], W = t->shape[1], C = t->shape[2], nonwhite = 0, colours = 0;
	enum { SLOTS = 1 << 16 };
	uint32_t *set = calloc(SLOTS, sizeof *set); /* open addressing, 0 = empty, value = rgb + 1 */
	for (int64_t y = 0; y < H; y++)
		for (int64_t x = 0; x < W; x++) {
			int64_t idx[3] = { y, x, 0 };
			const uint8_t *px = ct_tensor_ptr(t, idx);
			uint32_t rgb = C >= 3 ? ((uint32_t)px[0] << 16 | (uint32_t)px[1] << 8 | px[2]) : px[0] * 0x010101u;
			if (rgb != 0xffffff)
				nonwhite++;
			if (colours < SLOTS / 2) {
				uint32_t hsh = (rgb * 2654435761u) >> 16;
				while (set[hsh] && set[hsh] != rgb + 1)
					hsh = (hsh + 1) & (SLOTS - 1);
				if (!set[hsh]) {
					set[hsh] = rgb + 1;
					colours++;
				}
			}
		}
	printf("%lld %lld %lld %lld\n", (long long)W, (long long)H, (long long)colours,
	       (long long)(nonwhite * 1000 / (W * H)));
	free(set);
	ct_image_free(&img);
	return 0;
}

/* ---- the self-test ---- */

static char *report_of(const ct_scored *r, size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);
	ct_report_info info = { "ct-score m.h5 f.h5 -o s.h5 --report 'r<1>.html'", "{\"split\":\"<auto>\"}" };
	int rc = ct_report_write(m, r, &info);
	fclose(m);
	if (rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int k = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		k++;
	return k;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "write")) {
		if (write_all(argv[2]) < 0) {
			fprintf(stderr, "test_score_fixture: %s\n", ct_last_error());
			return 1;
		}
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "png-stats"))
		return png_stats(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: test_score_fixture [write DIR | png-stats FILE]\n");
		return 2;
	}

	const char *dir = t_tmpdir();
	char p[1024], q[1024];
	ok(write_all(dir) == 0, "fixtures written: features of a user's extractor, logistic models with curves");
	ct_score_opts o;
	memset(&o, 0, sizeof o);
	ct_eval_defaults(&o.eval);
	o.eval.bootstrap = 200;
	ct_scored r;
	snprintf(p, sizeof p, "%s/model.h5", dir);
	snprintf(q, sizeof q, "%s/feat.h5", dir);
	ok(ct_score_run(p, (char *[]){ q }, 1, &o, &r) == 0, "score the binary fixture");
	ok(!strcmp(r.split, "test") && r.nsplit == 45 && r.nlabelled == 40, "split auto = test: 45 rows, 40 labelled");
	ok(r.positive == 0 && !strcmp(r.threshold_method, "default") && r.threshold == 0.5,
	   "positive class CT_COVID (index 0), threshold 0.5 (default)");
	ok(r.evaluated && r.ev.m[CT_M_AUC].value > 0.8, "the separable fixture scores auc %.3f > 0.8",
	   r.ev.m[CT_M_AUC].value);
	ok(r.has_curves && r.curves.epochs == 14 && r.curves.best_epoch == 10 && r.curves.val_loss,
	   "training curves read from /training (14 epochs, best 10)");
	ok(r.nmodel_prov == 3 && r.nfeatures_prov == 2, "provenance: model chain 3 stages, features chain 2");
	int64_t nup;
	char **up = ct_score_upstream(&r, &nup);
	ok(up && nup == 3, "the scores file's upstream is the model chain (features chain contained in it)");
	free(up);
	double s = 0;
	for (int k = 0; k < 2; k++)
		s += r.probs[k];
	ok(fabs(s - 1) < 1e-5, "probabilities of a row sum to 1");

	char *js = ct_score_json(&r, 0);
	cJSON *j = cJSON_Parse(js);
	ok(j && cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "auc") &&
		   cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "auc"),
							  "ci")) == 2 &&
		   cJSON_GetObjectItem(j, "confusion_matrix") && cJSON_GetObjectItem(j, "roc"),
	   "json summary parses, with metrics.auc.ci, confusion_matrix and roc");
	cJSON_Delete(j);

	/* the scores file */
	snprintf(p, sizeof p, "%s/scores.h5", dir);
	ct_h5 h;
	ct_run run = { "ct-score", "ct-score", "{}" };
	int rc = ct_h5_create(&h, p, 1);
	if (rc == 0) {
		rc = ct_score_write_h5(&h, &r, &run, js);
		rc = rc == 0 ? ct_h5_commit(&h) : (ct_h5_abort(&h), -1);
	}
	ok(rc == 0, "scores file written");
	free(js);
	ct_h5 in;
	int nd = 0;
	int64_t shape[4] = { 0 };
	char *kind = NULL;
	ct_samples ss;
	ok(ct_h5_open(&in, p) == 0 && ct_file_check(in.file, "scores") == 0 && ct_h5_get_str(in.file, "kind", &kind) == 0 &&
		   ct_h5_shape(in.file, "probabilities", &nd, shape) == 0 && nd == 2 && shape[0] == 135 &&
		   shape[1] == 2 && ct_samples_read(in.file, &ss) == 0 && ss.n == 135,
	   "scores file: kind scores, probabilities 135 x 2, sample metadata");
	ct_samples_free(&ss);
	free(kind);
	ct_h5_close(&in);

	size_t len;
	char *html = report_of(&r, &len);
	ok(html && len > 5000, "report written to memory (%zu bytes)", len);
	ok(html && count(html, "<svg") == 4, "report has 4 svg plots (roc, confusion, loss, accuracy)");
	ok(html && strstr(html, "class=\"roc\"") && strstr(html, "class=\"band\""), "roc curve and its band");
	ok(html && !strstr(html, "<script") && !strstr(html, "src=") && !strstr(html, "href=") &&
		   !strstr(html, "url(") && !strstr(html, "@import"),
	   "self-contained: no script, src, href, url() or @import");
	ok(html && strstr(html, "r&lt;1&gt;.html") && strstr(html, "&quot;&lt;auto&gt;&quot;") &&
		   strstr(html, "a &lt;user&gt; &amp; his") && strstr(html, "&lt;feat&gt;.h5"),
	   "command, parameters and provenance are escaped");
	free(html);
	ct_scored_free(&r);

	/* hostile class names */
	snprintf(p, sizeof p, "%s/evil_model.h5", dir);
	snprintf(q, sizeof q, "%s/evil.h5", dir);
	ok(ct_score_run(p, (char *[]){ q }, 1, &o, &r) == 0, "score features whose class names hold html");
	html = report_of(&r, &len);
	ok(html && !strstr(html, "<b>covid") && !strstr(html, "<script") && strstr(html, "&lt;b&gt;covid&lt;/b&gt; &amp; &quot;x&quot;") &&
		   strstr(html, "non&#39;covid &lt;script&gt;"),
	   "class names are escaped everywhere in the report");
	ok(r.positive == 0, "positive class: the covid one without a negation");
	free(html);
	ct_scored_free(&r);

	/* mismatched layout, multi-class, youden */
	snprintf(p, sizeof p, "%s/model.h5", dir);
	snprintf(q, sizeof q, "%s/other.h5", dir);
	ok(ct_score_run(p, (char *[]){ q }, 1, &o, &r) < 0 && strstr(ct_last_error(), "do not fit model") &&
		   strstr(ct_last_error(), "columns"),
	   "features of another layout are refused: %s", ct_last_error());
	snprintf(p, sizeof p, "%s/model3.h5", dir);
	snprintf(q, sizeof q, "%s/feat3.h5", dir);
	ok(ct_score_run(p, (char *[]){ q }, 1, &o, &r) == 0 && r.positive == -1 && !strcmp(r.threshold_method, "argmax") &&
		   r.ev.nclasses == 3 && !r.has_curves,
	   "3 classes: arg-max, macro metrics, no curves");
	html = report_of(&r, &len);
	ok(html && count(html, "<svg") == 2 && strstr(html, "records no training curves"),
	   "3-class report: roc and confusion, a note instead of curves");
	free(html);
	ct_scored_free(&r);
	o.mode = CT_THRESH_YOUDEN;
	snprintf(p, sizeof p, "%s/model.h5", dir);
	snprintf(q, sizeof q, "%s/feat.h5", dir);
	ok(ct_score_run(p, (char *[]){ q }, 1, &o, &r) == 0 && !strcmp(r.threshold_method, "youden") && r.youden_n == 30 &&
		   r.threshold > 0 && r.threshold < 1,
	   "youden threshold %.4f chosen on the 30 val rows", r.threshold);
	ct_scored_free(&r);
	snprintf(q, sizeof q, "%s/train.h5", dir);
	ok(ct_score_run(p, (char *[]){ q }, 1, &o, &r) < 0 && strstr(ct_last_error(), "val"), "youden without val rows fails: %s",
	   ct_last_error());
	o.mode = CT_THRESH_DEFAULT;
	o.split = "test";
	ok(ct_score_run(p, (char *[]){ q }, 1, &o, &r) < 0 && strstr(ct_last_error(), "no samples in split 'test'"),
	   "an empty split is an error: %s", ct_last_error());
	snprintf(q, sizeof q, "%s/unl.h5", dir);
	ok(ct_score_run(p, (char *[]){ q }, 1, &o, &r) == 0 && r.nsplit == 24 && r.nlabelled == 12 && r.evaluated,
	   "unlabelled rows get probabilities, metrics use the 12 labelled");
	ct_scored_free(&r);
	TEST_DONE();
}
