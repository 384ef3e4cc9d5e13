/* test_convert.c - input listing (class folders, TSV, split lists, groups) and the
 * conversion of generated image files: order, names, multi-page, bad files. */
#include "test.h"

#include "core/error.h"
#include "data/convert.h"
#include "image/codec.h"

#include <sys/stat.h>

static char *P(const char *rel)
{
	static char buf[16][512];
	static int k;
	char *p = buf[k++ % 16];
	snprintf(p, 512, "%s/%s", t_tmpdir(), rel);
	return p;
}

static void write_text(const char *rel, const char *text)
{
	FILE *f = fopen(P(rel), "w");
	fputs(text, f);
	fclose(f);
}

/* A w x h grey PNG whose pixels are all `v`. */
static void write_png(const char *rel, int w, int h, int v)
{
	ct_tensor t;
	ct_tensor_alloc3(&t, CT_U8, h, w, 1);
	memset(t.data, v, (size_t)w * h);
	if (ct_image_write_png(P(rel), &t) < 0)
		diag("write_png: %s", ct_last_error());
	ct_tensor_free(&t);
}

static void setup_tree(void)
{
	mkdir(P("root"), 0755);
	mkdir(P("root/sick"), 0755);
	mkdir(P("root/well"), 0755);
	mkdir(P("root/Meta"), 0755);
	mkdir(P("root/Data-split"), 0755);
	mkdir(P("root/Data-split/TrainingTXT"), 0755);
	mkdir(P("root/Data-split/TestingTXT"), 0755);
	write_png("root/sick/b.png", 40, 30, 200);
	write_png("root/sick/a.png", 20, 20, 100);
	write_png("root/well/c.png", 30, 40, 50);
	write_png("root/well/d.png", 30, 30, 0);
	write_text("root/Meta/info.csv", "a,b\n1,2\n");
	write_text("root/.hidden", "x");
	write_text("root/Data-split/TrainingTXT/trainsick.txt", "a.png\r\nb.png");
	write_text("root/Data-split/TrainingTXT/trainwell.txt", "c.png\n");
	write_text("root/Data-split/TestingTXT/testwell.txt", "d.png\n");
	write_text("groups.tsv", "file\tclass\tpatient\na.png\tsick\tP1\nb.png\tsick\tP1\nc.png\twell\tP2\n");
}

static void test_tree(void)
{
	ct_sources s;
	ok(ct_sources_from_tree(&s, P("root"), NULL) == 0, "class-folder tree lists");
	ok(s.nclasses == 2 && !strcmp(s.classes[0], "sick") && !strcmp(s.classes[1], "well"),
	   "classes are the sorted folders holding images");
	ok(s.nignored == 2, "folders without images (Meta, Data-split) are not classes");
	ok(ct_sources_sort(&s) == 0 && s.n == 4 && !strcmp(s.v[0].name, "sick/a.png") && !strcmp(s.v[3].name, "well/d.png"),
	   "sources sorted by name, named relative to the root");
	int64_t m;
	ok(ct_sources_set_groups(&s, P("groups.tsv"), &m) == 0 && m == 3 && !strcmp(s.v[0].group, "P1") &&
		   !strcmp(s.v[3].group, ""),
	   "groups attach by base name; unknown ones stay empty");
	ok(ct_sources_set_splits(&s, P("root/Data-split"), &m) == 0 && m == 4 && !strcmp(s.v[1].split, "train") &&
		   !strcmp(s.v[3].split, "test"),
	   "COVID-CT-style split lists assign splits (CRLF and no final newline tolerated)");

	ct_convert_opts o;
	memset(&o, 0, sizeof o);
	ct_intensity_defaults(&o.intensity);
	o.width = 16;
	o.height = 8;
	o.max_pixels = 1000000;
	ct_converted c;
	ok(ct_convert(&s, &o, &c) == 0, "conversion succeeds");
	ok(c.images.shape[0] == 4 && c.images.shape[1] == 8 && c.images.shape[2] == 16 && c.images.shape[3] == 3,
	   "images are N x H x W x 3");
	const uint8_t *px = c.images.data;
	size_t img = 8 * 16 * 3;
	ok(px[0] == 100 && px[img] == 200 && px[2 * img] == 50 && px[3 * img + 5] == 0,
	   "each image lands in its sorted row with its values (uint8 'none' mapping keeps 0..255)");
	const int32_t *os = c.orig_size.data;
	ok(os[2] == 30 && os[3] == 40, "original (height, width) recorded");
	ok(c.s.labels[0] == 0 && c.s.labels[3] == 1 && !strcmp(c.s.splits[3], "test") && !strcmp(c.s.groups[1], "P1"),
	   "labels, splits and groups carried to the samples");
	ct_converted_free(&c);
	ct_sources_free(&s);

	ok(ct_sources_from_tree(&s, P("root"), "sick") == 0 && s.nclasses == 1 && s.n == 2, "--classes selects folders");
	ct_sources_free(&s);
	ok(ct_sources_from_tree(&s, P("root"), "sick,nothere") < 0 && strstr(ct_last_error(), "nothere"),
	   "a named class folder that is missing is an error naming it");
}

static void test_bad_inputs(void)
{
	ct_sources s;
	int64_t m;
	mkdir(P("root2"), 0755);
	mkdir(P("root2/x"), 0755);
	mkdir(P("root2/empty"), 0755);
	write_png("root2/x/a.png", 10, 10, 1);
	ok(ct_sources_from_tree(&s, P("root2"), NULL) < 0 && strstr(ct_last_error(), "empty") &&
		   strstr(ct_last_error(), "root2/empty"),
	   "an empty class folder is an error naming it");
	rmdir(P("root2/empty"));
	ok(ct_sources_from_tree(&s, P("nonexistent"), NULL) < 0 && strstr(ct_last_error(), "No such file"),
	   "a missing root is an error with the cause");

	ct_sources_from_tree(&s, P("root"), NULL);
	ct_sources_sort(&s);
	mkdir(P("split-bad"), 0755);
	mkdir(P("split-bad/HoldoutTXT"), 0755);
	write_text("split-bad/HoldoutTXT/x.txt", "a.png\n");
	ok(ct_sources_set_splits(&s, P("split-bad"), &m) < 0 && strstr(ct_last_error(), "unknown split"),
	   "a split list of unknown name is an error");
	mkdir(P("split-miss"), 0755);
	write_text("split-miss/train.txt", "a.png\nzzz.png\n");
	ok(ct_sources_set_splits(&s, P("split-miss"), &m) < 0 && strstr(ct_last_error(), "zzz.png") &&
		   strstr(ct_last_error(), "matches no input image"),
	   "a name in a split list that matches no file is an error naming it");
	ct_sources_free(&s);
	ct_sources_from_tree(&s, P("root"), NULL);
	mkdir(P("split-two"), 0755);
	write_text("split-two/train.txt", "a.png\n");
	write_text("split-two/test.txt", "a.png\n");
	ok(ct_sources_set_splits(&s, P("split-two"), &m) < 0 && strstr(ct_last_error(), "both"),
	   "a file in two splits is an error");
	ct_sources_free(&s);

	/* A corrupt file fails the conversion naming it, or is skipped and counted. */
	mkdir(P("root3"), 0755);
	mkdir(P("root3/k"), 0755);
	write_png("root3/k/good.png", 12, 12, 9);
	write_png("root3/k/huge.png", 300, 300, 9);
	write_text("root3/k/zbad.png", "\x89PNG\r\n\x1a\n garbage");
	ct_sources_from_tree(&s, P("root3"), NULL);
	ct_sources_sort(&s);
	ct_convert_opts o;
	memset(&o, 0, sizeof o);
	ct_intensity_defaults(&o.intensity);
	o.width = o.height = 8;
	o.max_pixels = 50000;
	ct_converted c;
	ok(ct_convert(&s, &o, &c) < 0 && strstr(ct_last_error(), "huge.png") && strstr(ct_last_error(), "limit"),
	   "an image over --max-pixels fails, naming the file and the limit");
	o.max_pixels = 1000000;
	ok(ct_convert(&s, &o, &c) < 0 && strstr(ct_last_error(), "zbad.png"), "a corrupt image fails, naming the file");
	o.skip_bad = 1;
	ok(ct_convert(&s, &o, &c) == 0 && c.s.n == 2 && c.nskipped == 1 && strstr(c.skipped[0], "zbad.png"),
	   "with skip_bad the corrupt file is skipped and listed");
	ct_converted_free(&c);
	ct_sources_free(&s);

	write_text("list.tsv", "path\tlabel\tgroup\nroot/well/c.png\twell\tG1\nroot/sick/a.png\tsick\tG2\n");
	ok(ct_sources_from_tsv(&s, P("list.tsv")) == 0 && s.n == 2 && s.nclasses == 2 && !strcmp(s.classes[0], "sick") &&
		   s.v[0].label == 1 && !strcmp(s.v[1].group, "G2"),
	   "a TSV list gives paths, sorted classes and groups");
	ct_sources_free(&s);
	write_text("bad.tsv", "only-one-column\n");
	ok(ct_sources_from_tsv(&s, P("bad.tsv")) < 0 && strstr(ct_last_error(), "line 1"),
	   "a malformed TSV line is an error naming the line");
}

int main(void)
{
	setup_tree();
	test_tree();
	test_bad_inputs();
	TEST_DONE();
}
