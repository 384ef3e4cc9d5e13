/* weights_path.c - the weights search path (see weights_path.h). */
#include "nn/weights_path.h"
#include "core/error.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* PREFIX: the folder above the folder of the running executable ("" when unknown). */
static void exe_prefix(char *out, size_t n)
{
	char exe[PATH_MAX];
	out[0] = '\0';
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len <= 0)
		return;
	exe[len] = '\0';
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			return;
		*slash = '\0';
	}
	snprintf(out, n, "%s", exe[0] ? exe : "/");
}

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void add(char *out, size_t n, const char *dir)
{
	size_t l = strlen(out);
	if (*dir && l < n)
		snprintf(out + l, n - l, "%s%s", l ? ":" : "", dir);
}

void ct_weights_search_path(char *out, size_t n)
{
	char buf[PATH_MAX + 64], prefix[PATH_MAX];
	out[0] = '\0';
	const char *env = getenv("CT_WEIGHTS_DIR");
	if (env && *env)
		add(out, n, env);
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	if (xdg && *xdg) {
		snprintf(buf, sizeof buf, "%s/ctfuse/weights", xdg);
		add(out, n, buf);
	} else if (home && *home) {
		snprintf(buf, sizeof buf, "%s/.local/share/ctfuse/weights", home);
		add(out, n, buf);
	}
	exe_prefix(prefix, sizeof prefix);
	if (prefix[0]) {
		snprintf(buf, sizeof buf, "%s/share/ctfuse/weights", prefix);
		add(out, n, buf);
		snprintf(buf, sizeof buf, "%s/pipelines/covid-ct.mk", prefix);
		if (is_file(buf)) {
			snprintf(buf, sizeof buf, "%s/weights", prefix);
			add(out, n, buf);
		}
	}
}

int ct_weights_locate(const char *backbone, char *out, size_t n)
{
	char path[8192];
	ct_weights_search_path(path, sizeof path);
	for (char *dir = path; *dir;) {
		char *end = strchr(dir, ':');
		size_t len = end ? (size_t)(end - dir) : strlen(dir);
		if (len) {
			snprintf(out, n, "%.*s/%s.h5", (int)len, dir, backbone);
			if (is_file(out))
				return 0;
		}
		if (!end)
			break;
		dir = end + 1;
	}
	out[0] = '\0';
	/* name the folders, one ", " between them */
	char list[8192] = "";
	for (char *p = path, *q = list; *p && q < list + sizeof list - 3; p++) {
		if (*p == ':') {
			*q++ = ',';
			*q++ = ' ';
		} else {
			*q++ = *p;
		}
		*q = '\0';
	}
	return ct_error("no weights for '%s': no %s.h5 in %s (the weights search path, see ctfuse(7)); "
			"put the file there, set CT_WEIGHTS_DIR or pass --weights FILE",
			backbone, backbone, list[0] ? list : "(no folder)");
}
