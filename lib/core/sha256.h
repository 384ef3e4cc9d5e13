/* sha256.h - SHA-256 (FIPS 180-4): streaming digest and a whole-file helper. */
#ifndef CT_SHA256_H
#define CT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct ct_sha256 {
	uint32_t h[8];
	uint64_t nbytes;     /* message length so far */
	uint8_t buf[64];
	size_t nbuf;
} ct_sha256;

void ct_sha256_init(ct_sha256 *s);
void ct_sha256_update(ct_sha256 *s, const void *data, size_t n);
/* Finish: the 32-byte digest. The state must be re-initialised before reuse. */
void ct_sha256_final(ct_sha256 *s, uint8_t out[32]);
/* Lower-case hex of a digest: 64 characters and a NUL. */
void ct_sha256_hex(const uint8_t digest[32], char hex[65]);
/* One-shot over a buffer, as hex. */
void ct_sha256_buf(const void *data, size_t n, char hex[65]);
/* Digest of a whole file, as hex. Returns 0, or -1 with "cannot read 'path': ..." */
int ct_sha256_file(const char *path, char hex[65]);

#endif
