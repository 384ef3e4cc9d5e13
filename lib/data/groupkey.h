/* groupkey.h - keyed hashes that stand in for identifying values (patient and study ids, file
 * names): HMAC-SHA256 (RFC 2104) under a secret key kept by the user, so that the same patient
 * gets the same group in every file made with the same key, and nobody without the key can
 * test a guessed id against a group (a plain hash of a short id could be brute-forced). */
#ifndef CT_GROUPKEY_H
#define CT_GROUPKEY_H

#include <stddef.h>
#include <stdint.h>

#define CT_KEY_MAX 256

typedef struct ct_group_key {
	uint8_t bytes[CT_KEY_MAX];
	size_t len;
	char id[17];   /* public fingerprint of the key: 16 hex digits (recorded in provenance) */
} ct_group_key;

/* The default key file: $CT_GROUP_KEY_FILE, else $XDG_CONFIG_HOME/ctfuse/group.key, else
 * $HOME/.config/ctfuse/group.key. Writes the path into buf; -1 when none can be formed. */
int ct_group_key_default_path(char *buf, size_t cap);
/* Load a key: the bytes of the file (a trailing newline dropped), 16 to 256 bytes. With
 * create, a missing file is made with 32 random bytes (/dev/urandom) as 64 hex digits, mode
 * 0600, in a folder made with mode 0700 if needed. */
int ct_group_key_load(const char *path, int create, ct_group_key *k);
/* HMAC-SHA256(key, domain || 0 || value) as 2*nbytes hex digits (nbytes <= 32) into out. */
void ct_keyed_hash(const ct_group_key *k, const char *domain, const char *value, int nbytes, char *out);

#endif
