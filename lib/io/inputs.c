/* inputs.c - the run's input files and their SHA-256 (inputs.h). */
#include "io/inputs.h"
#include "core/error.h"
#include "core/sha256.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct note {
	char *path;
	char sha[65];
	int64_t nfiles;
} note;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static note *notes;
static int nnotes, ncap;

int ct_inputs_note(const char *path, const char *sha256_hex, int64_t nfiles)
{
	int rc = 0;
	pthread_mutex_lock(&lock);
	int i = 0;
	while (i < nnotes && strcmp(notes[i].path, path))
		i++;
	if (i == nnotes) {
		char *p = strdup(path);
		if (nnotes == ncap) {
			int cap = ncap ? 2 * ncap : 8;
			note *v = p ? realloc(notes, (size_t)cap * sizeof *v) : NULL;
			if (v) {
				notes = v;
				ncap = cap;
			}
		}
		if (!p || nnotes == ncap) {
			free(p);
			rc = ct_error("out of memory");
			goto out;
		}
		notes[nnotes++].path = p;
	}
	snprintf(notes[i].sha, sizeof notes[i].sha, "%s", sha256_hex);
	notes[i].nfiles = nfiles;
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

/* The digest a trailer holds, as hex: 1; no trailer: 0. */
static int trailer_digest(const unsigned char *tail, char hex[65])
{
	static const char magic[16] = "CTFUSE-SHA256\0\0"; /* io/checksum.c */
	if (memcmp(tail, magic, 16))
		return 0;
	ct_sha256_hex(tail + 16, hex);
	return 1;
}

int ct_inputs_note_h5(const char *path, const void *buf, size_t len)
{
	char hex[65];
	if (buf) {
		if (len < 48 || !trailer_digest((const unsigned char *)buf + len - 48, hex))
			ct_sha256_buf(buf, len, hex);
		return ct_inputs_note(path, hex, -1);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ct_error_errno("cannot read '%s'", path);
	struct stat st;
	unsigned char tail[48];
	int have = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 48 &&
		   pread(fd, tail, sizeof tail, st.st_size - 48) == 48 && trailer_digest(tail, hex);
	close(fd);
	if (!have && ct_sha256_file(path, hex) < 0)
		return -1;
	return ct_inputs_note(path, hex, -1);
}

int ct_inputs_get(const char *path, char hex[65])
{
	int found = 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nnotes && !found; i++)
		if (!strcmp(notes[i].path, path)) {
			memcpy(hex, notes[i].sha, 65);
			found = 1;
		}
	pthread_mutex_unlock(&lock);
	return found;
}

char *ct_inputs_json(void)
{
	pthread_mutex_lock(&lock);
	char *s = NULL;
	cJSON *a = nnotes ? cJSON_CreateArray() : NULL;
	for (int i = 0; a && i < nnotes; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(a, o) || !cJSON_AddStringToObject(o, "path", notes[i].path) ||
		    !cJSON_AddStringToObject(o, "sha256", notes[i].sha) ||
		    (notes[i].nfiles >= 0 && !cJSON_AddNumberToObject(o, "files", (double)notes[i].nfiles))) {
			cJSON_Delete(a);
			a = NULL;
		}
	}
	if (a)
		s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	pthread_mutex_unlock(&lock);
	return s;
}

void ct_inputs_clear(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nnotes; i++)
		free(notes[i].path);
	free(notes);
	notes = NULL;
	nnotes = ncap = 0;
	pthread_mutex_unlock(&lock);
}
