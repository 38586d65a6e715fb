#include "owb/keyfile.h"

#include "identity_i.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/fileio.h"
#include "owb/json.h"
#include "owb/mem.h"

struct owb_keyfile *owb_keyfile_new(void)
{
    return owb_secret_alloc(sizeof(struct owb_keyfile));
}

void owb_keyfile_free(struct owb_keyfile *kf)
{
    if (kf)
        owb_secret_free(kf);
}

enum owb_err owb_keyfile_parse(const char *text, size_t len, struct owb_keyfile *kf, char *diag)
{
    cJSON *root = NULL;
    const cJSON *item;
    const char *s;
    enum owb_err rc = OWB_ERR_BAD_FILE;

    sodium_memzero(kf, sizeof *kf);
    owb_diagf(diag, "ok");
    if (len == 0) {
        owb_diagf(diag, "file is empty");
        goto out;
    }
    if (owb_json_parse(text, len, &root) != OWB_OK || !cJSON_IsObject(root)) {
        owb_diagf(diag, "not a JSON object (truncated or not a key file?)");
        goto out;
    }
    if (owb_identity_parse(root, kf->device_id, kf->device_key, kf->claim_code, diag) != OWB_OK)
        goto out;
    item = cJSON_GetObjectItemCaseSensitive(root, "server");
    if (item) {
        s = owb_json_string(root, "server");
        if (!s || !owb_http_url_valid(s, strlen(s))) {
            owb_diagf(diag, "server: not an http or https URL of at most %d bytes", OWB_URL_MAX);
            goto out;
        }
        memcpy(kf->server, s, strlen(s) + 1);
    }
    rc = OWB_OK;
out:
    if (rc != OWB_OK)
        sodium_memzero(kf, sizeof *kf);
    owb_json_free_secret(root);
    return rc;
}

enum owb_err owb_keyfile_read(const char *path, struct owb_keyfile **out, char *diag)
{
    struct owb_keyfile *kf = NULL;
    char *text = NULL;
    char why[OWB_DIAG_SIZE];
    size_t len = 0;
    enum owb_err rc;

    *out = NULL;
    rc = owb_file_read(path, OWB_KEYFILE_MAX, &text, &len);
    if (rc == OWB_ERR_NOENT) {
        owb_diagf(diag, "%s: no such file", path);
        goto out;
    } else if (rc == OWB_ERR_TOO_LARGE) {
        rc = OWB_ERR_BAD_FILE;
        owb_diagf(diag, "%s: larger than %d bytes, not a key file", path, OWB_KEYFILE_MAX);
        goto out;
    } else if (rc != OWB_OK) {
        owb_diagf(diag, "%s: cannot read: %m", path);
        goto out;
    }
    kf = owb_keyfile_new();
    if (!kf) {
        rc = OWB_ERR_NOMEM;
        owb_diagf(diag, "%s: out of secure memory", path);
        goto out;
    }
    rc = owb_keyfile_parse(text, len, kf, why);
    if (rc != OWB_OK) {
        owb_diagf(diag, "%s: %s", path, why);
        goto out;
    }
    *out = kf;
    kf = NULL;
out:
    owb_keyfile_free(kf);
    if (text)
        owb_clear_free(text, len);
    return rc;
}

enum owb_err owb_keyfile_to_json(const struct owb_keyfile *kf, char **out)
{
    char key_b64[OWB_B64_ENCODED_SIZE(OWB_DEVICE_KEY_BYTES)];
    cJSON *root = NULL;
    char *text = NULL, *nl = NULL;
    size_t n;
    enum owb_err rc = OWB_ERR_INVALID_ARG;

    *out = NULL;
    if (!owb_device_id_valid_str(kf->device_id))
        goto out;
    rc = owb_b64_encode(kf->device_key, sizeof kf->device_key, key_b64, sizeof key_b64);
    if (rc != OWB_OK)
        goto out;
    rc = OWB_ERR_NOMEM;
    root = cJSON_CreateObject();
    if (!root || !cJSON_AddStringToObject(root, "device_id", kf->device_id) ||
        !cJSON_AddStringToObject(root, "device_key", key_b64))
        goto out;
    if (kf->server[0] && !cJSON_AddStringToObject(root, "server", kf->server))
        goto out;
    if (kf->claim_code[0] && !cJSON_AddStringToObject(root, "claim_code", kf->claim_code))
        goto out;
    text = cJSON_Print(root);
    if (!text)
        goto out;
    n = strlen(text);
    nl = malloc(n + 2);
    if (!nl)
        goto out;
    memcpy(nl, text, n);
    nl[n] = '\n';
    nl[n + 1] = '\0';
    *out = nl;
    rc = OWB_OK;
out:
    sodium_memzero(key_b64, sizeof key_b64);
    owb_clear_free_str(text);
    owb_json_free_secret(root);
    return rc;
}

enum owb_err owb_keyfile_write(const char *path, const struct owb_keyfile *kf, bool force,
                               char *diag)
{
    char *text = NULL;
    enum owb_err rc = owb_keyfile_to_json(kf, &text);

    if (rc != OWB_OK) {
        owb_diagf(diag, "%s: %s", path, owb_strerror(rc));
        goto out;
    }
    rc = owb_file_write_atomic(path, text, strlen(text), 0600,
                               force ? OWB_WRITE_REPLACE : OWB_WRITE_NO_REPLACE);
    if (rc == OWB_ERR_EXISTS)
        owb_diagf(diag, "%s: already exists (use --force to replace it)", path);
    else if (rc != OWB_OK)
        owb_diagf(diag, "%s: cannot write: %m", path);
out:
    owb_clear_free_str(text);
    return rc;
}
