/* test_sha256.c - SHA-256 against the FIPS 180-4 / NIST example vectors, streaming and file forms. */
#include "core/error.h"
#include "core/sha256.h"
#include "test.h"

#include <stdio.h>

int main(void)
{
	char hex[65];

	ct_sha256_buf("abc", 3, hex);
	ok(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "sha256(\"abc\") is the FIPS 180-4 value (got %s)", hex);

	ct_sha256_buf("", 0, hex);
	ok(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	   "sha256 of the empty message (got %s)", hex);

	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	ct_sha256_buf(m448, strlen(m448), hex);
	ok(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
	   "sha256 of the 448-bit message (two-block padding) (got %s)", hex);

	const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
			   "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	ct_sha256_buf(m896, strlen(m896), hex);
	ok(!strcmp(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
	   "sha256 of the 896-bit message (got %s)", hex);

	/* one million 'a', fed in uneven pieces so that buffering across blocks is exercised */
	static char a[1000000];
	memset(a, 'a', sizeof a);
	ct_sha256 s;
	uint8_t d[32];
	ct_sha256_init(&s);
	size_t off = 0, step = 1;
	while (off < sizeof a) {
		size_t n = step < sizeof a - off ? step : sizeof a - off;
		ct_sha256_update(&s, a + off, n);
		off += n;
		step = step * 3 % 1000 + 1;
	}
	ct_sha256_final(&s, d);
	ct_sha256_hex(d, hex);
	ok(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
	   "sha256 of one million 'a' in uneven pieces (got %s)", hex);

	/* message lengths 55, 56, 63, 64: the padding boundary cases agree streamed and one-shot */
	int same = 1;
	for (size_t n = 50; n <= 130; n++) {
		char h1[65], h2[65];
		ct_sha256_buf(a, n, h1);
		ct_sha256_init(&s);
		for (size_t i = 0; i < n; i++)
			ct_sha256_update(&s, a + i, 1);
		ct_sha256_final(&s, d);
		ct_sha256_hex(d, h2);
		same &= !strcmp(h1, h2);
	}
	ok(same, "byte-at-a-time and one-shot digests agree for lengths 50..130");

	char path[512];
	snprintf(path, sizeof path, "%s/abc.txt", t_tmpdir());
	FILE *f = fopen(path, "wb");
	fputs("abc", f);
	fclose(f);
	ok(ct_sha256_file(path, hex) == 0 &&
		   !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
	   "ct_sha256_file digests a file's bytes");

	snprintf(path, sizeof path, "%s/missing", t_tmpdir());
	ok(ct_sha256_file(path, hex) == -1 && strstr(ct_last_error(), "No such file or directory") &&
		   strstr(ct_last_error(), "'"),
	   "a missing file is an error naming it (%s)", ct_last_error());
	TEST_DONE();
}
