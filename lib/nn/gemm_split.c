/* gemm_split.c - sharing one convolution's GEMM over the threads (gemm_split.h). */
#include "nn/gemm_split.h"

/* rows of thread t when whole tiles of mr rows are dealt out in contiguous runs */
static void row_range(int64_t m, int mr, int nt, int t, int64_t *r0, int64_t *r1)
{
	int64_t tiles = (m + mr - 1) / mr;
	*r0 = tiles * t / nt * mr;
	*r1 = tiles * (t + 1) / nt * mr;
	if (*r0 > m)
		*r0 = m;
	if (*r1 > m)
		*r1 = m;
}

void ct_gemm_split(int64_t m, int64_t npan, int mr, int64_t k, int64_t n, int a_in_place, int nt,
		   int tid, ct_gemm_part *part)
{
	part->r0 = 0, part->r1 = m, part->p0 = 0, part->p1 = npan;
	part->tiles = 0, part->u0 = part->u1 = 0;
	if (nt <= 1)
		return;
	/* the busiest thread's work in rows x panels, either way */
	int64_t max_rows = 0, max_pan = 0;
	for (int t = 0; t < nt; t++) {
		int64_t r0, r1;
		row_range(m, mr, nt, t, &r0, &r1);
		if (r1 - r0 > max_rows)
			max_rows = r1 - r0;
		int64_t p = npan * (t + 1) / nt - npan * t / nt;
		if (p > max_pan)
			max_pan = p;
	}
	double by_rows = (double)max_rows * (double)npan, by_cols = (double)m * (double)max_pan;
	/* by columns each thread reads all of A (and builds its im2col), by rows all of B:
	 * columns when clearly better balanced, or as balanced and B is the larger operand */
	int cols = npan >= nt &&
		   (by_cols < 0.95 * by_rows || (by_cols <= by_rows && n >= m));
	(void)k;
	/* A read in place (a 1x1 conv without prologue): the (panel, row tile) pairs can be
	 * dealt out one by one, panel by panel, when neither way balances (M = 49 rows x 5
	 * panels: 13 and 12 pairs instead of 15 and 10) */
	const int64_t tiles = (m + mr - 1) / mr;
	if (a_in_place) {
		double t_rows = (double)((tiles + nt - 1) / nt) * (double)npan;
		double t_cols = (double)tiles * (double)max_pan;
		double t_lin = (double)((tiles * npan + nt - 1) / nt);
		if (t_lin < 0.97 * (t_rows < t_cols ? t_rows : t_cols)) {
			part->tiles = tiles;
			part->u0 = tiles * npan * tid / nt;
			part->u1 = tiles * npan * (tid + 1) / nt;
			part->r1 = part->p1 = 0;
			return;
		}
	}
	if (cols) {
		part->p0 = npan * tid / nt;
		part->p1 = npan * (tid + 1) / nt;
	} else {
		row_range(m, mr, nt, tid, &part->r0, &part->r1);
	}
}
