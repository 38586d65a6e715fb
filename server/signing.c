#include "signing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "owb/mem.h"
#include "owb/signkey.h"
#include "secrets.h"

const char *owb_signing_path(const char *flag, const char *master_path, char *buf, size_t cap)
{
    const char *slash = master_path ? strrchr(master_path, '/') : NULL;
    const char *path =
        owb_key_path(flag, "OWB_SIGNING_KEY_FILE", "owb-signing-key", NULL, buf, cap);

    if (path)
        return path;
    if (!slash)
        return "owb-signing.key";
    snprintf(buf, cap, "%.*s/owb-signing.key", (int)(slash - master_path), master_path);
    return buf;
}

enum owb_err owb_signing_create(const char *path, char *diag)
{
    return owb_secret_file_create(path, OWB_PK_SEED_BYTES, diag);
}

enum owb_err owb_signing_load(const char *path, struct owb_signing **out, char *diag)
{
    struct owb_signing *s = owb_secret_alloc(sizeof *s);
    uint8_t *seed = owb_secret_alloc(OWB_PK_SEED_BYTES);
    enum owb_err rc = OWB_ERR_NOMEM;

    *out = NULL;
    if (s && seed)
        rc = owb_secret_file_read(path, "signing key", seed, OWB_PK_SEED_BYTES, diag);
    if (rc == OWB_OK) {
        owb_signkey_from_seed(s->pk, s->sk, seed);
        *out = s;
        s = NULL;
    }
    if (seed)
        owb_secret_free(seed);
    owb_signing_free(s);
    return rc;
}

void owb_signing_free(struct owb_signing *s)
{
    if (s)
        owb_secret_free(s);
}
