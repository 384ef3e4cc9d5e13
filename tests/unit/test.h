/* test.h - a minimal TAP producer for unit tests: one `ok` line per assertion.
 * tests/run.sh counts the lines; a test program that crashes counts as a failure. */
#ifndef CT_TEST_H
#define CT_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int t_count, t_failed;

/* Threads for the parallel regions that follow (thread-count invariance checks). */
static inline void t_set_threads(int n)
{
#ifdef _OPENMP
	omp_set_num_threads(n);
#else
	(void)n;
#endif
}

static inline __attribute__((format(printf, 4, 5))) int t_ok(int cond, const char *file, int line,
							     const char *fmt, ...)
{
	va_list ap;
	t_count++;
	printf("%sok %d - ", cond ? "" : "not ", t_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!cond) {
		printf(" (%s:%d)", file, line);
		t_failed++;
	}
	printf("\n");
	fflush(stdout);
	return cond;
}

/* ok(condition, "what it proves", ...) */
#define ok(cond, ...) t_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* A diagnostic line (TAP comment). */
#define diag(...) (printf("# "), printf(__VA_ARGS__), printf("\n"), fflush(stdout))

/* A fresh temporary directory for this test program, removed by the runner's cleanup. */
static inline const char *t_tmpdir(void)
{
	static char dir[256];
	if (!dir[0]) {
		const char *base = getenv("CT_TEST_TMP");
		snprintf(dir, sizeof dir, "%s/ctfuse-test-XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	return dir;
}

#define TEST_DONE() return t_failed ? 1 : 0

#endif
