/* error.h - error reporting for the library: record a message, return -1/NULL, never print or exit. */
#ifndef CT_ERROR_H
#define CT_ERROR_H

/* Record a printf-style message for the calling thread and return -1, so that
 * `return ct_error("cannot open '%s'", path);` reads naturally. Messages are
 * lower-case and name the object in quotes (git style). */
int ct_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like ct_error, appending ": strerror(errno)" with errno taken at the call. */
int ct_error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error found late (an unknown layer or class name, an output that is also an
 * input): recorded like ct_error, and ct_error_is_usage() then says so, so that the tool
 * exits 2. Any later ct_error / ct_error_errno clears the mark; ct_error_prefix keeps it. */
int ct_error_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ct_error_is_usage(void);

/* Prefix the current message: "ctx: <old message>". Returns -1. */
int ct_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The calling thread's last message ("" if none). Valid until the next ct_error on this thread. */
const char *ct_last_error(void);

/* Copy the message from another thread's buffer (used after OpenMP regions). */
void ct_error_set_msg(const char *msg);

void ct_error_clear(void);

#endif
