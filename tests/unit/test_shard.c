/* test_shard.c - --shard K/N: parsing, and that the ranges of shards 1..N tile [0, T) in order,
 * disjoint, balanced (sizes differ by at most 1) and equal to floor(K T / N) computed in 128 bits;
 * the run identity ignores what does not change a file's content and sees through a merge. */
#include "core/error.h"
#include "data/shard.h"
#include "test.h"

#include <stdint.h>

int main(void)
{
	ct_shard s;
	ok(ct_shard_parse("3/8", &s) == 0 && s.k == 3 && s.n == 8, "'3/8' parses");
	ok(ct_shard_parse("1/1", &s) == 0 && s.k == 1 && s.n == 1, "'1/1' parses");
	const char *bad[] = { "0/4", "5/4", "4", "/4", "a/4", "1/", "1/4x", "-1/4", "1/0", "2/2000000", "" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(ct_shard_parse(bad[i], &s) < 0, "'%s' is refused (%s)", bad[i], ct_last_error());

	int bad_tiles = 0, bad_balance = 0, bad_floor = 0;
	const int64_t totals[] = { 0, 1, 2, 3, 7, 10, 100, 746, 7500, 1000003, (int64_t)1 << 50 };
	for (size_t t = 0; t < sizeof totals / sizeof *totals; t++)
		for (int n = 1; n <= 40; n++) {
			int64_t T = totals[t], prev_end = 0, lo = INT64_MAX, hi = 0;
			for (int k = 1; k <= n; k++) {
				ct_shard sh = { k, n };
				int64_t a, b;
				ct_shard_range(&sh, T, &a, &b);
				if (a != prev_end || b < a)
					bad_tiles++;
				prev_end = b;
				if (b - a < lo)
					lo = b - a;
				if (b - a > hi)
					hi = b - a;
				__int128 want = (__int128)T * k / n;
				if ((__int128)b != want)
					bad_floor++;
			}
			if (prev_end != T)
				bad_tiles++;
			if (hi - lo > 1)
				bad_balance++;
		}
	ok(bad_tiles == 0, "shards 1..N tile [0, T) in order, without gaps or overlaps (%d bad)", bad_tiles);
	ok(bad_balance == 0, "shard sizes differ by at most one (%d bad)", bad_balance);
	ok(bad_floor == 0, "shard K ends at floor(K T / N), no overflow at T = 2^50 (%d bad)", bad_floor);
	ct_shard none = { 0, 0 };
	int64_t a, b;
	ct_shard_range(&none, 42, &a, &b);
	ok(a == 0 && b == 42, "no shard: the whole input");
	ok(ct_shard_check(&(ct_shard){ 3, 4 }, 2, "rows") < 0, "an empty shard is an error (%s)", ct_last_error());
	ok(ct_shard_check(&(ct_shard){ 2, 2 }, 2, "rows") == 0, "a one-row shard is fine");

	char *p1[] = { "{\"tool\":\"ct-convert\",\"params\":{}}",
		       "{\"tool\":\"ct-augment\",\"version\":\"0.1.0\",\"command\":\"ct-augment a.h5 -o b.h5\","
		       "\"params\":{\"output\":\"b.h5\",\"copies\":2,\"threads\":4,\"force\":true}}" };
	char *p2[] = { "{\"tool\":\"ct-convert\",\"params\":{}}",
		       "{\"tool\":\"ct-augment\",\"version\":\"0.1.0\",\"command\":\"ct-augment --shard 1/4 a.h5 -o s.h5\","
		       "\"params\":{\"output\":\"s.h5\",\"copies\":2,\"shard\":\"1/4\",\"threads\":1,\"force\":false}}",
		       "{\"tool\":\"ct-merge\",\"command\":\"ct-merge s*.h5 -o b.h5\",\"params\":{\"output\":\"b.h5\"}}" };
	char *p3[] = { "{\"tool\":\"ct-augment\",\"version\":\"0.1.0\",\"params\":{\"copies\":3}}" };
	char *i1 = ct_shard_run_identity(p1, 2), *i2 = ct_shard_run_identity(p2, 3), *i3 = ct_shard_run_identity(p3, 1);
	ok(i1 && i2 && !strcmp(i1, i2), "an unsharded file and merged shards have one run identity (%s | %s)", i1, i2);
	ok(i3 && strcmp(i1, i3), "another parameter gives another identity (%s)", i3);
	free(i1);
	free(i2);
	free(i3);
	printf("1..%d\n", t_count);
	return t_failed != 0;
}
