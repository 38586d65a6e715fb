/* The state directory: "counter" holds the highest accepted bundle counter
 * in decimal; "provisioned" says a bundle was applied and the device
 * joined, and holds that bundle's counter (the one running). "server" the
 * heartbeat URL; "held" a rollout bundle accepted but not running yet.
 * All mode 0600, all written atomically (temp file, fsync, rename, fsync
 * the directory), so a crash leaves the old value or the new.
 * A state hook copies each write to storage that a factory reset keeps (the
 * OpenWRT package's flash partition); a write counts only once it is there. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "owb/fileio.h"
#include "owb/mem.h"
#include "spawn.h"

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

enum owb_err owb_state_load_counter(const char *dir, uint64_t *counter, char *diag)
{
    char path[4096], *text = NULL, *end;
    size_t len = 0;
    enum owb_err rc;

    *counter = 0;
    path_in(path, sizeof path, dir, "counter");
    rc = owb_file_read(path, 64, &text, &len);
    /* A device that says it was provisioned has accepted a bundle: its
     * counter cannot be missing. Starting from 0 would take old bundles. */
    if (rc == OWB_ERR_NOENT && owb_state_provisioned(dir)) {
        owb_diagf(diag,
                  "%s: missing, but %s/provisioned says a bundle was accepted; refusing to start "
                  "(restore the counter, or remove both only if every old bundle is known to "
                  "be gone)",
                  path, dir);
        return OWB_ERR_BAD_FILE;
    }
    if (rc == OWB_ERR_NOENT)
        return OWB_OK; /* a new device */
    if (rc != OWB_OK) {
        owb_diagf(diag, "%s: cannot read: %s", path, strerror(errno));
        return rc;
    }
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    /* A damaged counter must stop the agent: starting from 0 would accept
     * every old bundle again. strtoull skips blanks and takes a sign (" -1"
     * is 2^64-1): the first byte must be a digit. */
    if (errno || end == text || (*end != '\n' && *end != '\0') || text[0] < '0' || text[0] > '9') {
        owb_diagf(diag,
                  "%s: damaged replay counter; refusing to start (restore it, or remove it only "
                  "if every old bundle is known to be gone)",
                  path);
        free(text);
        return OWB_ERR_BAD_FILE;
    }
    free(text);
    *counter = (uint64_t)v;
    return OWB_OK;
}

/* Runs "hook save DIR NAME" and waits: without a shell, 60 s at most (an
 * erase of a flash sector takes a fraction of that). */
static enum owb_err run_hook(const char *hook, const char *dir, const char *name)
{
    char *argv[] = {(char *)(uintptr_t)hook, "save", (char *)(uintptr_t)dir,
                    (char *)(uintptr_t)name, NULL};
    struct owb_spawn sp = {.argv = argv, .timeout_ms = 60000};
    int code = -1;
    enum owb_err rc = owb_spawn_run(&sp, &code);

    if (rc == OWB_OK && code == 0)
        return OWB_OK;
    fprintf(stderr, "owb-device: state hook %s save %s failed (%s %d)\n", hook, name,
            rc == OWB_OK ? "exit" : "error", rc == OWB_OK ? code : (int)rc);
    return OWB_ERR_IO;
}

static enum owb_err store_text(const char *dir, const char *hook, const char *name,
                               const char *text, size_t len)
{
    char path[4096];
    enum owb_err rc;

    path_in(path, sizeof path, dir, name);
    rc = owb_file_write_atomic(path, text, len, 0600, OWB_WRITE_REPLACE);
    return rc == OWB_OK && hook ? run_hook(hook, dir, name) : rc;
}

static enum owb_err store(const char *dir, const char *hook, const char *name, uint64_t value)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%" PRIu64 "\n", value);

    return store_text(dir, hook, name, text, (size_t)n);
}

/* Removes name (and tells the hook, which copies a missing file as gone). */
static enum owb_err drop(const char *dir, const char *hook, const char *name)
{
    char path[4096];

    path_in(path, sizeof path, dir, name);
    if (unlink(path) != 0 && errno != ENOENT)
        return OWB_ERR_IO;
    return hook ? run_hook(hook, dir, name) : OWB_OK;
}

enum owb_err owb_state_load_running(const char *dir, uint64_t *running)
{
    char path[4096], *text = NULL, *end;
    size_t len = 0;
    enum owb_err rc;

    *running = 0;
    path_in(path, sizeof path, dir, "provisioned");
    rc = owb_file_read(path, 64, &text, &len);
    if (rc != OWB_OK)
        return rc;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    rc = errno || end == text || text[0] < '0' || text[0] > '9' ? OWB_ERR_BAD_FILE : OWB_OK;
    free(text);
    *running = rc == OWB_OK ? (uint64_t)v : 0;
    return rc;
}

enum owb_err owb_state_load_server(const char *dir, char *url, size_t cap)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    enum owb_err rc;

    url[0] = '\0';
    path_in(path, sizeof path, dir, "server");
    rc = owb_file_read(path, cap, &text, &len);
    if (rc == OWB_ERR_NOENT)
        return OWB_OK;
    if (rc != OWB_OK)
        return rc;
    len = strcspn(text, "\n");
    if (len < cap && memchr(text, '\0', len) == NULL)
        snprintf(url, cap, "%.*s", (int)len, text);
    else
        rc = OWB_ERR_BAD_FILE;
    free(text);
    return rc;
}

enum owb_err owb_state_store_server(const char *dir, const char *hook, const char *url)
{
    char text[OWB_URL_MAX + 2];
    int n = snprintf(text, sizeof text, "%s\n", url);

    if (!url[0])
        return drop(dir, hook, "server");
    if (n < 0 || (size_t)n >= sizeof text)
        return OWB_ERR_INVALID_ARG;
    return store_text(dir, hook, "server", text, (size_t)n);
}

enum owb_err owb_state_load_held(const char *dir, char **body, size_t *len)
{
    char path[4096];
    enum owb_err rc;

    *body = NULL;
    *len = 0;
    path_in(path, sizeof path, dir, "held");
    rc = owb_file_read(path, OWB_DEVICE_BODY_MAX, body, len);
    return rc == OWB_ERR_NOENT ? OWB_OK : rc;
}

enum owb_err owb_state_store_held(const char *dir, const char *hook, const char *body, size_t len)
{
    return store_text(dir, hook, "held", body, len);
}

enum owb_err owb_state_drop_held(const char *dir, const char *hook)
{
    return drop(dir, hook, "held");
}

enum owb_err owb_state_store_counter(const char *dir, const char *hook, uint64_t counter)
{
    return store(dir, hook, "counter", counter);
}

bool owb_state_provisioned(const char *dir)
{
    char path[4096];
    path_in(path, sizeof path, dir, "provisioned");
    return access(path, F_OK) == 0;
}

enum owb_err owb_state_mark_provisioned(const char *dir, const char *hook, uint64_t counter)
{
    return store(dir, hook, "provisioned", counter);
}

void owb_state_clean(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];

    if (!d)
        return;
    /* Temporary files of a write that a crash or power cut interrupted:
     * the real files are intact (they are only ever replaced by rename). */
    while ((e = readdir(d)) != NULL) {
        static const char *const names[] = {"counter", "provisioned", "server", "held"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            size_t n = strlen(names[i]);
            if (strncmp(e->d_name, names[i], n) == 0 && strncmp(e->d_name + n, ".tmp-", 5) == 0) {
                path_in(path, sizeof path, dir, e->d_name);
                unlink(path);
            }
        }
    }
    closedir(d);
}
