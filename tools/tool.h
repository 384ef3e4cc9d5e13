/* tool.h - the shared start and failure paths of every ct-* tool: parse the option
 * table, print --help/--version, map errors to exit codes (0 ok, 1 runtime
 * failure, 2 usage error) and messages "prog: message". */
#ifndef CT_TOOL_H
#define CT_TOOL_H

#include "cli/opts.h"
#include "core/error.h"
#include "io/h5.h"
#include "nn/weights_path.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

enum { CT_EXIT_OK = 0, CT_EXIT_FAILURE = 1, CT_EXIT_USAGE = 2 };

/* Options every tool that writes a file or runs threads declares the same way. */
#define CT_OPT_THREADS_(v) \
	CT_OPT_INT_('j', "threads", &(v), "N", "threads (default: OMP_NUM_THREADS or all cores)", 0, 1024)
#define CT_OPT_FORCE_(v) CT_OPT_FLAG_('f', "force", &(v), "overwrite an existing output")
#define CT_OPT_QUIET_(v) CT_OPT_FLAG_('q', "quiet", &(v), "no summary line on stderr")

/* Apply --threads (0: OpenMP's default). */
static inline void ct_tool_threads(int n)
{
#ifdef _OPENMP
	if (n > 0)
		omp_set_num_threads(n);
#else
	(void)n;
#endif
}

/* Crash containment. HDF5 1.10 does not validate everything it reads, and some corrupt
 * files make it crash inside H5Dread: report that as the bad input it is, remove the
 * temporary outputs, exit 1. Not installed under AddressSanitizer, where a crash must stay a
 * crash (our own bugs show there). Only async-signal-safe calls in the handler. */
static const char *ct_tool_name = "ct";
static int ct_tool_failed; /* a failure was already reported */

static inline void ct_tool_put(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));
	(void)r;
}

static inline void ct_tool_crash(int sig)
{
	(void)sig;
	ct_h5_remove_temporaries();
	ct_tool_put(ct_tool_name);
	ct_tool_put(": '");
	ct_tool_put(ct_h5_last_opened());
	ct_tool_put("': crashed reading it: corrupt data the HDF5 library cannot handle (or a bug: please report)\n");
	_exit(CT_EXIT_FAILURE);
}

/* SIGINT, SIGTERM, SIGHUP, SIGPIPE: remove the temporary outputs and lock files
 * (io/target.h), then die of the signal as before. A resumable partial file is kept. */
static inline void ct_tool_interrupted(int sig)
{
	ct_h5_remove_temporaries();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* At exit: output to standard output that could not be written (a full disk, a closed
 * pipe's EIO) is a failure, with a message naming the reason, not exit 0. */
static inline void ct_tool_close_stdout(void)
{
	int e = 0, bad = 0;
	errno = 0;
	if (fflush(stdout) != 0) {
		bad = 1;
		e = errno;
	} else if (ferror(stdout)) {
		bad = 1;
	}
	if (fclose(stdout) != 0 && !bad) {
		bad = 1;
		e = errno;
	}
	if (!bad)
		return;
	if (!ct_tool_failed)
		fprintf(stderr, "%s: cannot write to standard output: %s\n", ct_tool_name,
			e ? strerror(e) : "write error");
	_exit(CT_EXIT_FAILURE);
}

static inline void ct_tool_guard(const char *name)
{
	ct_tool_name = name;
	ct_io_track_inputs(1);
	atexit(ct_tool_close_stdout);
	/* a signal ignored at start (nohup, a background job of a script) stays ignored */
	static const int stops[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
		struct sigaction si, old;
		memset(&si, 0, sizeof si);
		si.sa_handler = ct_tool_interrupted;
		sigemptyset(&si.sa_mask);
		if (sigaction(stops[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(stops[i], &si, NULL);
	}
#ifndef __SANITIZE_ADDRESS__
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = ct_tool_crash;
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGABRT, &sa, NULL);
#endif
}

/* Parse; on --help/--version print and exit 0; on a usage error print and exit 2. */
static inline void ct_tool_parse(ct_cmd *cmd, int argc, char **argv, int *nargs, char ***args)
{
	ct_tool_guard(cmd->name);
	int r = ct_opts_parse(cmd, argc, argv, nargs, args);
	if (r == CT_PARSE_HELP) {
		ct_opts_help(cmd, stdout);
		exit(CT_EXIT_OK);
	}
	if (r == CT_PARSE_VERSION) {
		printf("%s %s\n", cmd->name, CT_VERSION);
		exit(CT_EXIT_OK);
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", cmd->name, ct_last_error(),
			cmd->name);
		exit(CT_EXIT_USAGE);
	}
}

/* A usage error found after parsing (bad combination of options). */
static inline int ct_tool_usage(const ct_cmd *cmd, const char *msg)
{
	fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", cmd->name, msg, cmd->name);
	return CT_EXIT_USAGE;
}

/* The output given as the second positional argument (INPUT OUTPUT) or with -o, not both.
 * Returns 0, or prints a usage error and returns CT_EXIT_USAGE. */
static inline int ct_tool_output(const ct_cmd *cmd, int nargs, char **args, const char **out_path)
{
	if (nargs == 2) {
		if (*out_path)
			return ct_tool_usage(cmd, "give the output either as OUTPUT or with -o, not both");
		*out_path = args[1];
	}
	if (!*out_path)
		return ct_tool_usage(cmd, "missing output (OUTPUT or -o FILE)");
	return 0;
}

/* Print the library's last error and return the runtime-failure exit code. */
/* After a file could not be closed (full disk), HDF5's shutdown would crash on it: its
 * temporary file is already removed, so end at once, without the exit handlers. */
static inline void ct_tool_end_if_unsafe(void)
{
	if (ct_h5_exit_unsafe()) {
		fflush(NULL);
		_exit(CT_EXIT_FAILURE);
	}
}

/* The weight file of a backbone when --weights is not given: the first NAME.h5 on the weights
 * search path (lib/nn/weights_path.h, ctfuse(7)); NULL with an error naming the folders
 * searched. Valid until the next call. */
static inline const char *ct_tool_default_weights(const char *backbone)
{
	static char buf[4096];
	return ct_weights_locate(backbone, buf, sizeof buf) == 0 ? buf : NULL;
}

/* A usage error found late (ct_error_usage: an unknown layer name, an output that is also
 * an input) exits 2 with the usage hint. A failure without a message is a failed write of
 * standard output (the tools' final fflush). */
static inline int ct_tool_fail(const ct_cmd *cmd)
{
	int e = errno;
	ct_tool_failed = 1;
	if (ct_error_is_usage()) {
		fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", cmd->name, ct_last_error(),
			cmd->name);
		ct_tool_end_if_unsafe();
		return CT_EXIT_USAGE;
	}
	if (!*ct_last_error())
		fprintf(stderr, "%s: cannot write to standard output: %s\n", cmd->name,
			e ? strerror(e) : "write error");
	else
		fprintf(stderr, "%s: %s\n", cmd->name, ct_last_error());
	ct_tool_end_if_unsafe();
	return CT_EXIT_FAILURE;
}

#endif
