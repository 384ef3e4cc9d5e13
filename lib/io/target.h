/* target.h - the one way an output path is written (HDF5 files, TSV, HTML, images, ONNX):
 * claim the target, write a temporary beside it, commit by rename.
 *
 * - Claim: a lock file PATH.ct-lock held with flock(2) for the whole run, so a second
 *   writer of the same path refuses at once and touches none of the first's files. The lock
 *   is released (and its file removed) by commit, abort, release, or by the signal handlers.
 * - An existing regular file is refused unless force; a character device or FIFO
 *   (/dev/null, /dev/stdout) is written in place, never replaced; any other non-regular file
 *   (directory, block device, socket) is refused, with or without force.
 * - A target that is also an input of this process (same device and inode) is refused, as a
 *   usage error (ct_error_is_usage).
 * - Commit without force never replaces a file that appeared meanwhile (renameat2 with
 *   RENAME_NOREPLACE, else link + unlink).
 * - Temporaries and lock files are registered for removal on SIGINT/SIGTERM/SIGHUP and
 *   contained crashes (ct_io_cleanup, async-signal-safe; tools/tool.h installs it). */
#ifndef CT_TARGET_H
#define CT_TARGET_H

#include <stddef.h>

typedef struct ct_target {
	char *path;  /* the target as given */
	char *tmp;   /* temporary file renamed to path on commit; NULL in place */
	char *lock;  /* lock file, NULL when none is held */
	int lockfd;  /* -1 when none */
	int force;
	int inplace; /* a character device or FIFO: written directly */
} ct_target;

/* Claim `path` for writing (see above). Errors name the file. */
int ct_target_claim(ct_target *t, const char *path, int force);
/* Create the temporary file (mode 0666 under the umask, O_EXCL) named PATH<suffix>XXXXXX,
 * or exactly PATH<suffix> when `fixed` (a resumable partial file, reused when it exists and
 * not registered for removal on signals). Returns an open descriptor, or -1. Not in place. */
int ct_target_tmpfile(ct_target *t, const char *suffix, int fixed);
/* Move the (closed, synced) temporary over the target and release the claim. On failure the
 * temporary is removed. */
int ct_target_commit(ct_target *t);
/* Remove the temporary and release the claim. Safe on a zeroed or finished target. */
void ct_target_abort(ct_target *t);
/* Release the claim, keeping the temporary (a resumable partial file). */
void ct_target_release(ct_target *t);
/* Open an in-place target for writing; returns a descriptor or -1 (error set). */
int ct_target_open_inplace(const ct_target *t);

/* Inputs of this process, so that an output equal to one is refused: a tool turns tracking
 * on (tools/tool.h; off by default, for programs that rewrite files they read earlier), and
 * the readers note each input when opened (no-op for "-" and missing paths). Noting returns
 * -1 (a usage error) if `path` is the target of a current claim. */
void ct_io_track_inputs(int on);
int ct_io_note_input(const char *path);
/* Whether `path` names a file noted as an input. */
int ct_io_is_input(const char *path);

/* Paths to remove on a signal: fixed buffers, async-signal-safe removal. */
void ct_io_cleanup_add(const char *path);
void ct_io_cleanup_del(const char *path);
void ct_io_cleanup(void);

/* Input files that are not regular files (FIFOs, devices, directories) are refused by the
 * readers: open `path` read-only without blocking on a FIFO, check it is a regular file no
 * larger than `max_bytes` (0: no limit). Returns a descriptor in blocking mode, or -1 with
 * an error naming the file. */
int ct_open_regular(const char *path, long long max_bytes);

/* A whole regular file (ct_open_regular's checks) into a malloc'd buffer of *len bytes plus a
 * terminating NUL, so text can be parsed in place. */
int ct_read_file(const char *path, long long max_bytes, char **buf, size_t *len);

#endif
