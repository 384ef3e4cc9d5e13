/* parallel.h - independent items over OpenMP threads (dynamic schedule), deterministic errors. */
#ifndef CT_PARALLEL_H
#define CT_PARALLEL_H

typedef int (*ct_item_fn)(void *ctx, long i);

/* Run fn(ctx, i) for i in [0, n) over OpenMP threads; on failure report the lowest failing
 * index's message, so the error too is the same for any thread count. Returns 0, or -1 with
 * that message (items after a failure may be skipped). */
int ct_parallel_items(long n, ct_item_fn fn, void *ctx);

#endif
