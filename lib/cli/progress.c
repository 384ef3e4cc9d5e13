/* progress.c - terminal bar and log lines for long runs (see progress.h). */
#include "cli/progress.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define STEP_PERCENT 5

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double ct_progress_interval(void)
{
	const char *s = getenv("CT_PROGRESS_SECONDS");
	double v = s ? atof(s) : 0;
	return v > 0 ? v : 30.0;
}

static int64_t next_step(const ct_progress *p, int64_t done)
{
	/* the smallest count above `done` at a multiple of STEP_PERCENT % */
	int64_t pct = p->total > 0 ? done * 100 / p->total : 100;
	int64_t want = (pct / STEP_PERCENT + 1) * STEP_PERCENT;
	int64_t n = (want * p->total + 99) / 100;
	return n > done ? n : done + 1;
}

void ct_progress_init(ct_progress *p, FILE *out, const char *tool, const char *unit, int64_t first, int64_t total,
		      int quiet)
{
	p->out = out;
	p->tool = tool;
	p->unit = unit;
	p->mode = quiet ? 0 : isatty(fileno(out)) ? 1 : 2;
	p->t0 = p->last = now();
	p->first = first;
	p->total = total;
	p->next = next_step(p, first);
}

static void clock_text(double s, char *buf, size_t n)
{
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void ct_progress_callback(void *ctx, int64_t done, int64_t total)
{
	ct_progress *p = ctx;
	if (p->total != total) {
		p->total = total;
		p->next = next_step(p, p->first);
	}
	ct_progress_update(p, done);
}

void ct_progress_update(ct_progress *p, int64_t done)
{
	if (!p->mode)
		return;
	double t = now(), dt = t - p->t0, rate = dt > 0 ? (double)(done - p->first) / dt : 0;
	double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
	char etas[32];
	clock_text(eta, etas, sizeof etas);
	if (p->mode == 1) {
		int w = 30, fill = p->total ? (int)(w * done / p->total) : w;
		char bar[64];
		for (int i = 0; i < w; i++)
			bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
		bar[w] = '\0';
		fprintf(p->out, "\r[%s] %lld/%lld  %.1f img/s  ETA %s ", bar, (long long)done, (long long)p->total, rate,
			etas);
		if (done == p->total)
			fprintf(p->out, "\n");
		return;
	}
	if (done < p->next && t - p->last < ct_progress_interval() && done != p->total)
		return;
	p->last = t;
	p->next = next_step(p, done);
	fprintf(p->out, "%s: %lld/%lld %s (%d%%), %.1f %s/s, ETA %s\n", p->tool, (long long)done, (long long)p->total,
		p->unit, p->total ? (int)(done * 100 / p->total) : 100, rate, p->unit, etas);
	fflush(p->out);
}
