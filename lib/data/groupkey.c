/* groupkey.c - HMAC-SHA256 over identifying values and the local key file (groupkey.h). */
#include "data/groupkey.h"

#include "core/error.h"
#include "core/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ct_group_key_default_path(char *buf, size_t cap)
{
	const char *e = getenv("CT_GROUP_KEY_FILE"), *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
	int n;
	if (e && *e)
		n = snprintf(buf, cap, "%s", e);
	else if (x && *x)
		n = snprintf(buf, cap, "%s/ctfuse/group.key", x);
	else if (h && *h)
		n = snprintf(buf, cap, "%s/.config/ctfuse/group.key", h);
	else
		return ct_error("no key file: give --group-key FILE (neither HOME nor XDG_CONFIG_HOME is set)");
	return n > 0 && (size_t)n < cap ? 0 : ct_error("key file path too long");
}

static void hmac(const uint8_t *key, size_t klen, const void *msg1, size_t n1, const void *msg2, size_t n2,
		 const void *msg3, size_t n3, uint8_t out[32])
{
	uint8_t k0[64] = { 0 }, pad[64], inner[32];
	if (klen > 64) {
		ct_sha256 s;
		ct_sha256_init(&s);
		ct_sha256_update(&s, key, klen);
		ct_sha256_final(&s, k0);
	} else {
		memcpy(k0, key, klen);
	}
	ct_sha256 s;
	for (int i = 0; i < 64; i++)
		pad[i] = k0[i] ^ 0x36;
	ct_sha256_init(&s);
	ct_sha256_update(&s, pad, 64);
	ct_sha256_update(&s, msg1, n1);
	ct_sha256_update(&s, msg2, n2);
	ct_sha256_update(&s, msg3, n3);
	ct_sha256_final(&s, inner);
	for (int i = 0; i < 64; i++)
		pad[i] = k0[i] ^ 0x5c;
	ct_sha256_init(&s);
	ct_sha256_update(&s, pad, 64);
	ct_sha256_update(&s, inner, 32);
	ct_sha256_final(&s, out);
}

void ct_keyed_hash(const ct_group_key *k, const char *domain, const char *value, int nbytes, char *out)
{
	uint8_t d[32];
	char hex[65];
	hmac(k->bytes, k->len, domain, strlen(domain), "", 1, value, strlen(value), d);
	ct_sha256_hex(d, hex);
	if (nbytes > 32)
		nbytes = 32;
	memcpy(out, hex, (size_t)nbytes * 2);
	out[nbytes * 2] = '\0';
}

static int make_key_file(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		/* the folder and its parent (~/.config/ctfuse) */
		char *mid = strrchr(dir, '/');
		if (mid && mid != dir) {
			*mid = '\0';
			mkdir(dir, 0700);
			*mid = '/';
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return ct_error_errno("cannot create key folder '%s'", dir);
	}
	uint8_t r[32];
	FILE *u = fopen("/dev/urandom", "rb");
	if (!u || fread(r, 1, sizeof r, u) != sizeof r) {
		if (u)
			fclose(u);
		return ct_error("cannot read random bytes for a new key file");
	}
	fclose(u);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : ct_error_errno("cannot create key file '%s'", path);
	char hex[66];
	ct_sha256_hex(r, hex); /* just hex encoding of the 32 random bytes */
	hex[64] = '\n';
	hex[65] = '\0';
	ssize_t w = write(fd, hex, 65);
	if (close(fd) < 0 || w != 65) {
		unlink(path);
		return ct_error_errno("cannot write key file '%s'", path);
	}
	return 0;
}

int ct_group_key_load(const char *path, int create, ct_group_key *k)
{
	memset(k, 0, sizeof *k);
	struct stat st;
	if (create && stat(path, &st) < 0 && errno == ENOENT && make_key_file(path) < 0)
		return -1;
	FILE *f = fopen(path, "rb");
	if (!f)
		return ct_error_errno("cannot open key file '%s'", path);
	uint8_t buf[CT_KEY_MAX + 2];
	size_t n = fread(buf, 1, sizeof buf, f);
	int bad = ferror(f);
	fclose(f);
	if (bad)
		return ct_error_errno("cannot read key file '%s'", path);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n < 16 || n > CT_KEY_MAX)
		return ct_error("key file '%s' must hold 16 to %d bytes (it has %zu)", path, CT_KEY_MAX, n);
	memcpy(k->bytes, buf, n);
	k->len = n;
	ct_keyed_hash(k, "ctfuse key id", "", 8, k->id);
	return 0;
}
