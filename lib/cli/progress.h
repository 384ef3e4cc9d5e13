/* progress.h - progress of a long run on stderr: a redrawn bar on a terminal, and plain
 * lines for logs (batch jobs, where stderr is a file): one every 5 % or 30 s, with the
 * rate and the estimated time left, so a job's log shows where it is. */
#ifndef CT_PROGRESS_H
#define CT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct ct_progress {
	FILE *out;
	const char *tool, *unit;  /* "ct-features", "images" */
	int mode;                 /* 0 silent, 1 terminal bar, 2 log lines */
	double t0, last;          /* start, time of the last log line */
	int64_t first, total;     /* units done before this run (resumed), units in all */
	int64_t next;             /* next units count that prints a log line */
} ct_progress;

/* Silent when quiet; a bar when `out` is a terminal; log lines otherwise. `first` units were
 * done by an earlier run (resume) and do not count for the rate. */
void ct_progress_init(ct_progress *p, FILE *out, const char *tool, const char *unit, int64_t first, int64_t total,
		      int quiet);
void ct_progress_update(ct_progress *p, int64_t done);
/* The same as a library progress callback (ctx = the ct_progress), taking the total from the
 * caller (the library may know it only once the work starts). */
void ct_progress_callback(void *ctx, int64_t done, int64_t total);
/* Seconds between log lines when the percentage moves slowly (30; CT_PROGRESS_SECONDS). */
double ct_progress_interval(void);

#endif
