#include "owb/err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct err_info {
    int status;
    const char *code;
    const char *text;
};

static const struct err_info err_table[OWB_ERR__COUNT] = {
    [OWB_OK] = {200, "ok", "Success."},
    [OWB_ERR_TOO_LARGE] = {413, "too_large", "The request body is too large."},
    [OWB_ERR_BAD_REQUEST] = {400, "bad_request", "The request is malformed."},
    [OWB_ERR_WRONG_DEVICE] = {403, "wrong_device", "This bundle was made for another device."},
    [OWB_ERR_REPLAYED] = {409, "replayed",
                          "This bundle was already used; ask the server for a new one."},
    [OWB_ERR_AUTH_FAILED] = {401, "auth_failed", "The bundle is not genuine for this device."},
    [OWB_ERR_APP_KEY_REJECTED] = {401, "app_key_rejected",
                                  "The Wi-Fi settings do not open with this app key."},
    [OWB_ERR_INVALID_CONFIG] = {422, "invalid_config",
                                "The settings break a rule (SSID, password or device settings)."},
    [OWB_ERR_BUSY] = {429, "busy",
                      "A provisioning is already being applied; wait for it to finish."},
    [OWB_ERR_CLAIM_REJECTED] = {403, "claim_rejected", "The claim code is wrong."},
    [OWB_ERR_LOCKED] = {429, "locked", "Too many wrong claim codes; try again later."},
    [OWB_ERR_UNKNOWN_DEVICE] = {404, "unknown_device", "No such device."},
    [OWB_ERR_UNAUTHORIZED] = {401, "unauthorized", "A valid installer token is required."},
    [OWB_ERR_RATE_LIMITED] = {429, "rate_limited", "Too many requests; slow down."},
    [OWB_ERR_NOT_FOUND] = {404, "not_found", "No such resource."},
    [OWB_ERR_METHOD] = {405, "method_not_allowed", "Method not allowed on this resource."},
    [OWB_ERR_CONFLICT] = {409, "conflict", "The request conflicts with the current state."},
    [OWB_ERR_UNAVAILABLE] = {503, "unavailable", "The service is temporarily unavailable."},
    [OWB_ERR_SETUP_CLOSED] = {403, "setup_closed",
                              "Setup mode is closed; press the device's setup button to open it."},
    [OWB_ERR_MEDIA_TYPE] = {415, "unsupported_media_type",
                            "Send the body as Content-Type: application/json."},
    [OWB_ERR_WRONG_HOST] =
        {421, "wrong_host",
         "This request names another host; open the device's page at its own address."},
    [OWB_ERR_STALE_CHALLENGE] = {409, "stale_challenge",
                                 "This heartbeat's challenge is not the current one; send it "
                                 "again with the challenge given."},
    [OWB_ERR_INVALID_ARG] = {500, "internal", "Invalid argument."},
    [OWB_ERR_NOMEM] = {500, "internal", "Out of memory."},
    [OWB_ERR_IO] = {500, "internal", "Input/output error."},
    [OWB_ERR_EXISTS] = {500, "internal", "Already exists."},
    [OWB_ERR_NOENT] = {404, "not_found", "Not found."},
    [OWB_ERR_BAD_FILE] = {500, "internal", "Malformed file."},
    [OWB_ERR_PERM] = {500, "internal", "Unsafe file permissions."},
    [OWB_ERR_SPACE] = {500, "internal", "Output buffer too small."},
    [OWB_ERR_CRYPTO] = {500, "internal", "The crypto library could not start."},
    [OWB_ERR_UNSUPPORTED] = {500, "internal", "Not supported by this build."},
    [OWB_ERR_TAMPERED] = {500, "internal", "A stored record does not match its seal."},
    [OWB_ERR_INTERNAL] = {500, "internal", "Internal error."},
};

static const struct err_info *err_lookup(enum owb_err err)
{
    if ((unsigned)err >= OWB_ERR__COUNT)
        return &err_table[OWB_ERR_INTERNAL];
    return &err_table[err];
}

const char *owb_strerror(enum owb_err err)
{
    return err_lookup(err)->text;
}

const char *owb_err_code(enum owb_err err)
{
    return err_lookup(err)->code;
}

int owb_err_http_status(enum owb_err err)
{
    return err_lookup(err)->status;
}

void owb_diagf(char *diag, const char *fmt, ...)
{
    va_list ap;

    if (!diag)
        return;
    va_start(ap, fmt);
    vsnprintf(diag, OWB_DIAG_SIZE, fmt, ap);
    va_end(ap);
}
