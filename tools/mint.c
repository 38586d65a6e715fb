#include "mint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/claim.h"
#include "owb/cli.h"
#include "owb/fileio.h"

bool owb_prefix_valid(const char *prefix)
{
    size_t n = strlen(prefix);
    /* An empty prefix is fine: the id is then the random part alone. */
    return n <= OWB_PREFIX_MAX && (n == 0 || owb_device_id_valid(prefix, n));
}

int owb_mint_suite_parse(const char *prog, const char *suite, const char *key_file,
                         struct owb_mint_suite *s)
{
    char *text = NULL, *tok, *save = NULL;
    size_t len = 0;
    bool ok = true;

    memset(s, 0, sizeof *s);
    s->suite = OWB_SUITE_SYM;
    if (suite && owb_suite_parse(suite, &s->suite) != OWB_OK)
        return owb_cli_usage_error(prog, "--suite takes sym or pk");
    if (s->suite == OWB_SUITE_SYM)
        return key_file ? owb_cli_usage_error(prog, "--server-public-key is for --suite pk") : 0;
    if (!key_file)
        return owb_cli_usage_error(prog, "--suite pk needs --server-public-key FILE "
                                         "(from 'owb-server signing-key public')");
    enum owb_err rc = owb_file_read(key_file, 4096, &text, &len);
    if (rc == OWB_ERR_TOO_LARGE)
        return owb_cli_fail(prog, "%s: larger than 4096 bytes: not a list of server public keys",
                            key_file);
    if (rc != OWB_OK)
        return owb_cli_fail(prog, "%s: cannot read: %s", key_file, strerror(errno));
    for (tok = strtok_r(text, " \t\r\n", &save); tok && ok;
         tok = strtok_r(NULL, " \t\r\n", &save)) {
        ok = s->n_server_pks < OWB_PK_PINS_MAX &&
             owb_b64_decode_exact(tok, strlen(tok), s->server_pks[s->n_server_pks], 32) == OWB_OK &&
             crypto_core_ed25519_is_valid_point(s->server_pks[s->n_server_pks]) == 1;
        s->n_server_pks++;
    }
    free(text);
    if (!ok || s->n_server_pks == 0)
        return owb_cli_fail(prog, "%s: not one to %d server public keys in base64url", key_file,
                            OWB_PK_PINS_MAX);
    return 0;
}

enum owb_err owb_mint_identity(struct owb_keyfile *kf, const char *id, const char *prefix,
                               const char *server, const struct owb_mint_suite *suite)
{
    size_t plen;

    sodium_memzero(kf, sizeof *kf);
    if (id) {
        if (!owb_device_id_valid_str(id))
            return OWB_ERR_INVALID_ARG;
        snprintf(kf->device_id, sizeof kf->device_id, "%s", id);
    } else {
        if (!prefix || !owb_prefix_valid(prefix))
            return OWB_ERR_INVALID_ARG;
        plen = strlen(prefix);
        memcpy(kf->device_id, prefix, plen);
        owb_crockford_random(kf->device_id + plen, OWB_ID_RANDOM_CHARS);
    }
    if (!owb_base_url_valid(server))
        return OWB_ERR_INVALID_ARG;
    snprintf(kf->server, sizeof kf->server, "%s", server);
    if (owb_devkey_generate(kf, suite->suite) != OWB_OK)
        return OWB_ERR_INTERNAL;
    if (kf->suite == OWB_SUITE_PK) {
        memcpy(kf->server_pks, suite->server_pks, sizeof kf->server_pks);
        kf->n_server_pks = suite->n_server_pks;
    }
    owb_claim_generate(kf->claim_code);
    return OWB_OK;
}

void owb_setup_url(const struct owb_keyfile *kf, char *out, size_t cap)
{
    size_t n = strlen(kf->server);
    while (n > 0 && kf->server[n - 1] == '/')
        n--;
    if (kf->claim_code[0])
        snprintf(out, cap, "%.*s/s/%s#c=%s", (int)n, kf->server, kf->device_id, kf->claim_code);
    else
        snprintf(out, cap, "%.*s/s/%s", (int)n, kf->server, kf->device_id);
}

enum owb_err owb_mint_record(const struct owb_keyfile *kf, char *line, size_t cap, size_t *len)
{
    struct owb_record r;
    enum owb_err rc;

    memset(&r, 0, sizeof r);
    r.suite = kf->suite == OWB_SUITE_PK ? OWB_SUITE_PK : OWB_SUITE_SYM;
    memcpy(r.device_id, kf->device_id, sizeof r.device_id);
    if (r.suite == OWB_SUITE_PK) {
        memcpy(r.device_pk, kf->device_sk + 32, sizeof r.device_pk); /* the public half */
        memcpy(r.ap_passphrase, kf->ap_passphrase, sizeof r.ap_passphrase);
    } else {
        memcpy(r.device_key, kf->device_key, sizeof r.device_key);
    }
    memcpy(r.claim_code, kf->claim_code, sizeof r.claim_code);
    rc = owb_record_to_line(&r, line, cap, len);
    sodium_memzero(&r, sizeof r);
    return rc;
}
