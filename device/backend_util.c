#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "backend_i.h"
#include "owb/fileio.h"
#include "owb/mem.h"
#include "spawn.h"

static const struct {
    const char *name;
    enum owb_err (*create)(const struct owb_backend_config *, struct owb_backend **, char *);
} backends[] = {
    {"command", owb_backend_command_create},
    {"uci", owb_backend_uci_create},
    {"wpa_supplicant", owb_backend_wpa_create},
    {"nmcli", owb_backend_nmcli_create},
};

enum owb_err owb_backend_create(const char *name, const struct owb_backend_config *cfg,
                                struct owb_backend **out, char *diag)
{
    *out = NULL;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(name, backends[i].name) == 0)
            return backends[i].create(cfg, out, diag);
    owb_diagf(diag, "unknown Wi-Fi backend '%s' (uci, wpa_supplicant, nmcli or command)", name);
    return OWB_ERR_INVALID_ARG;
}

static enum owb_err run(struct owb_backend *b, char *const *argv, char *const *env, char *out,
                        size_t out_cap, int *exit_code, bool merge_stderr)
{
    struct owb_spawn sp = {
        .merge_stderr = merge_stderr,
        .argv = argv,
        .extra_env = env,
        .tool_dir = b->cfg.tool_dir,
        .timeout_ms = b->cfg.timeout_ms,
        .out = out,
        .out_cap = out_cap,
    };
    enum owb_err rc = owb_spawn_run(&sp, exit_code);

    if (rc == OWB_ERR_UNAVAILABLE)
        fprintf(stderr, "owb-device: %s %s: killed after %u ms\n", argv[0], argv[1] ? argv[1] : "",
                b->cfg.timeout_ms);
    else if (rc != OWB_OK)
        fprintf(stderr, "owb-device: %s: cannot run\n", argv[0]);
    return rc;
}

enum owb_err owb_backend_run(struct owb_backend *b, char *const *argv, char *const *env, char *out,
                             size_t out_cap, int *exit_code)
{
    return run(b, argv, env, out, out_cap, exit_code, false);
}

enum owb_err owb_backend_run_merged(struct owb_backend *b, char *const *argv, char *out,
                                    size_t out_cap, int *exit_code)
{
    char *env[] = {"LC_ALL=C", NULL};
    return run(b, argv, env, out, out_cap, exit_code, true);
}

enum owb_err owb_backend_run_ok(struct owb_backend *b, char *const *argv)
{
    int code = -1;
    enum owb_err rc = owb_backend_run(b, argv, NULL, NULL, 0, &code);

    if (rc != OWB_OK)
        return rc;
    if (code != 0) {
        fprintf(stderr, "owb-device: %s %s: exit status %d\n", argv[0], argv[1] ? argv[1] : "",
                code);
        return OWB_ERR_IO;
    }
    return OWB_OK;
}

void owb_backend_add_ssid(char ssids[][OWB_SSID_MAX + 1], size_t *n, const char *s, size_t len)
{
    if (len == 0 || len > OWB_SSID_MAX || *n >= OWB_SCAN_MAX)
        return;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return;
    for (size_t i = 0; i < *n; i++)
        if (strlen(ssids[i]) == len && memcmp(ssids[i], s, len) == 0)
            return;
    memcpy(ssids[*n], s, len);
    ssids[*n][len] = '\0';
    (*n)++;
}

bool owb_backend_cat(char *buf, size_t cap, const char *fmt, ...)
{
    size_t len = strlen(buf);
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < cap - len;
}

#define SCAN_OUTPUT_MAX 65536

enum owb_err owb_backend_scan(struct owb_backend *b, char *const *argv, char *const *env,
                              owb_scan_line_fn pick, char ssids[][OWB_SSID_MAX + 1], size_t *n)
{
    char *out = malloc(SCAN_OUTPUT_MAX);
    size_t index = 0;
    int code = -1;
    enum owb_err rc = OWB_ERR_UNAVAILABLE;

    *n = 0;
    if (!out)
        return OWB_ERR_NOMEM;
    if (owb_backend_run(b, argv, env, out, SCAN_OUTPUT_MAX, &code) != OWB_OK || code != 0)
        goto out;
    for (char *line = out; *line; index++) {
        size_t len = strcspn(line, "\n");
        pick(line, len, index, ssids, n);
        line += len;
        if (*line)
            line++;
    }
    rc = OWB_OK;
out:
    free(out);
    return rc;
}

void owb_saved_file_drop(struct owb_saved_file *s)
{
    if (s->data)
        owb_clear_free(s->data, s->len);
    s->data = NULL;
    s->len = 0;
    s->taken = false;
}

enum owb_err owb_saved_file_take(struct owb_saved_file *s, const char *path, size_t max)
{
    enum owb_err rc;

    owb_saved_file_drop(s);
    rc = owb_file_read(path, max, &s->data, &s->len);
    if (rc != OWB_OK && rc != OWB_ERR_NOENT)
        return rc;
    s->taken = true;
    return OWB_OK;
}

enum owb_err owb_saved_file_restore(struct owb_saved_file *s, const char *path, bool *had_file)
{
    enum owb_err rc = OWB_OK;

    *had_file = s->data != NULL;
    if (!s->taken)
        return OWB_OK;
    if (s->data)
        rc = owb_file_write_atomic(path, s->data, s->len, 0600, OWB_WRITE_REPLACE);
    else if (unlink(path) != 0 && errno != ENOENT)
        rc = OWB_ERR_IO;
    owb_saved_file_drop(s);
    return rc;
}
