/* replay.c - main() for a harness built without libFuzzer: run LLVMFuzzerTestOneInput once on
 * each file named (folders: each file in them), so make check replays the seed and regression
 * corpora with the ordinary build (and under make asan, with the sanitizers). Prints TAP. */
#include "fuzz.h"

#include <dirent.h>
#include <sys/stat.h>

static int n;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("not ok %d - cannot open '%s'\n", ++n, path);
		return -1;
	}
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	for (size_t got; buf && (got = fread(buf + len, 1, cap - len, f)) > 0;) {
		len += got;
		if (len == cap) {
			uint8_t *b = realloc(buf, cap *= 2);
			if (!b) {
				free(buf);
				buf = NULL;
			}
			buf = b;
		}
	}
	fclose(f);
	if (!buf) {
		printf("not ok %d - out of memory reading '%s'\n", ++n, path);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, len); /* a crash ends the program: the test fails */
	free(buf);
	printf("ok %d - %s\n", ++n, path);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			char **names = NULL;
			size_t k = 0;
			for (struct dirent *e; d && (e = readdir(d));) {
				if (e->d_name[0] == '.')
					continue;
				char **nn = realloc(names, (k + 1) * sizeof *names);
				if (!nn)
					break;
				names = nn;
				size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
				if (!(names[k] = malloc(l)))
					break;
				snprintf(names[k++], l, "%s/%s", argv[i], e->d_name);
			}
			if (d)
				closedir(d);
			if (k)
				qsort(names, k, sizeof *names, cmp);
			for (size_t j = 0; j < k; j++) {
				rc |= run_file(names[j]);
				free(names[j]);
			}
			free(names);
		} else {
			rc |= run_file(argv[i]);
		}
	}
	printf("1..%d\n", n);
	return rc ? 1 : 0;
}
