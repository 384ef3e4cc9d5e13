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

void ct_gemm_split(int64_t m, int64_t npan, int mr, int64_t k, int64_t n, int nt, int tid,
		   ct_gemm_part *part)
{
	part->r0 = 0, part->r1 = m, part->p0 = 0, part->p1 = npan;
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
	if (cols) {
		part->p0 = npan * tid / nt;
		part->p1 = npan * (tid + 1) / nt;
	} else {
		row_range(m, mr, nt, tid, &part->r0, &part->r1);
	}
}
