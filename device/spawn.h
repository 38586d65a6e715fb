/* Runs a helper program without a shell: fork and execve with an argument
 * vector, an optional environment addition, a time limit (the child is
 * killed when it runs over) and optional capture of its standard output. */
#ifndef OWB_DEVICE_SPAWN_H
#define OWB_DEVICE_SPAWN_H

#include <stdbool.h>
#include <stddef.h>

#include "owb/err.h"

struct owb_spawn {
    char *const *argv;       /* argv[0] is found on PATH (or in tool_dir) */
    char *const *extra_env;  /* "NAME=value" entries added to the environment, or NULL */
    const char *tool_dir;    /* when set, argv[0] is looked up here first */
    unsigned timeout_ms;     /* 0 = 30 s */
    char *out;               /* captured stdout (NUL-terminated), or NULL */
    size_t out_cap;
    const char *in;          /* written to stdin, or NULL for /dev/null */
};

/* Runs the program. *exit_code gets its exit status; OWB_ERR_IO when it
 * could not be started, OWB_ERR_UNAVAILABLE when it ran over its time and
 * was killed. */
enum owb_err owb_spawn_run(const struct owb_spawn *sp, int *exit_code) OWB_MUST_CHECK;

#endif
