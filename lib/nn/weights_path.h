/* weights_path.h - where a backbone's weight file is found when no --weights is given: the
 * weights search path, in order
 *   1. $CT_WEIGHTS_DIR (one folder, or several separated by ':')
 *   2. $XDG_DATA_HOME/ctfuse/weights (default ~/.local/share/ctfuse/weights)
 *   3. PREFIX/share/ctfuse/weights, PREFIX being the folder above the running tool's bin/
 *      (where `make install PREFIX=...` puts the weights)
 *   4. in a source tree (PREFIX/pipelines/covid-ct.mk exists), PREFIX/weights (`make weights`)
 * and the file in a folder is NAME.h5. Documented in ctfuse(7). */
#ifndef CT_WEIGHTS_PATH_H
#define CT_WEIGHTS_PATH_H

#include <stddef.h>

/* The first existing NAME.h5 on the path into out. Returns 0, or -1 with an error naming
 * every folder searched. */
int ct_weights_locate(const char *backbone, char *out, size_t n);
/* The folders of the search path, ':'-separated, into out (for messages). */
void ct_weights_search_path(char *out, size_t n);

#endif
