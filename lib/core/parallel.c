/* parallel.c - independent items over OpenMP threads, with the error of the lowest failing item. */
#include "core/parallel.h"
#include "core/error.h"

#include <limits.h>
#include <stdio.h>

int ct_parallel_items(long n, ct_item_fn fn, void *ctx)
{
	int failed = 0;
	long first = LONG_MAX;
	char msg[1024] = "";
#pragma omp parallel for schedule(dynamic, 2)
	for (long i = 0; i < n; i++) {
		int stop;
#pragma omp atomic read
		stop = failed;
		if (stop)
			continue;
		if (fn(ctx, i) < 0) {
#pragma omp critical(ct_parallel_fail)
			{
				if (i < first) {
					first = i;
					snprintf(msg, sizeof msg, "%s", ct_last_error());
				}
			}
#pragma omp atomic write
			failed = 1;
		}
	}
	if (failed) {
		ct_error_set_msg(msg);
		return -1;
	}
	return 0;
}
