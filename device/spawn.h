/* Runs a helper program without a shell: fork and execve with an argument
 * vector, an optional environment addition, a time limit (the child is
 * killed when it runs over) and optional capture of its standard output. */
#ifndef OWB_DEVICE_SPAWN_H
#define OWB_DEVICE_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "owb/err.h"

struct owb_spawn {
    char *const *argv;      /* argv[0] is found on PATH (or in tool_dir) */
    char *const *extra_env; /* "NAME=value" entries added to the environment, or NULL */
    const char *tool_dir;   /* when set, argv[0] is looked up here first */
    unsigned timeout_ms;    /* 0 = 30 s */
    char *out;              /* captured stdout (NUL-terminated), or NULL */
    size_t out_cap;
    const char *in;    /* written to stdin, or NULL for /dev/null */
    bool merge_stderr; /* capture stderr with stdout (a tool says why it failed) */
};

/* Runs the program. *exit_code gets its exit status; OWB_ERR_IO when it
 * could not be started, OWB_ERR_UNAVAILABLE when it ran over its time and
 * was killed. */
enum owb_err owb_spawn_run(const struct owb_spawn *sp, int *exit_code) OWB_MUST_CHECK;

/* Starts a program that keeps running (a DHCP client or server) in its own
 * process group, stdin and stdout on /dev/null, stderr shared with the
 * agent; timeout_ms, out and in are not used. The caller stops it. */
enum owb_err owb_spawn_start(const struct owb_spawn *sp, pid_t *pid) OWB_MUST_CHECK;
/* true while it runs (reaps it when it has ended). */
bool owb_spawn_alive(pid_t pid);
/* SIGTERM to its group, SIGKILL after 2 s; waits for it; *pid = -1. No-op
 * for a pid <= 0. */
void owb_spawn_stop(pid_t *pid);

#endif
