/* owb-server signing-key public: the public half of the pk suite's server
 * signing key, for the factory (owb-mint --server-public-key). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "owb/base64.h"
#include "secrets.h"
#include "signing.h"

#define PROG "owb-server signing-key"

static const char signing_about[] =
    "Prints the public half of the server's signing key (base64url), the key\n"
    "owb-mint --suite pk pins in every device it mints. The secret half never\n"
    "leaves its file (made by 'owb-server init', mode 0600).\n"
    "To rotate: make a new key file, mint with both public keys in the file\n"
    "given to --server-public-key (one per line; a device accepts either), and\n"
    "switch the server to the new key once no device needs the old one.\n";

static int verb_public(void *ctx, int argc, char **argv)
{
    struct cli_admin *a = ctx;
    const char *path;
    char diag[OWB_DIAG_SIZE];
    char pk[OWB_B64_ENCODED_SIZE(OWB_PK_PUBLIC_KEY_BYTES)];
    struct owb_signing *s = NULL;
    enum owb_err rc;

    (void)argc, (void)argv;
    path = owb_signing_path(
        a->db.signing_key,
        owb_master_path(a->db.master_key, a->db.master_buf, sizeof a->db.master_buf),
        a->db.signing_buf, sizeof a->db.signing_buf);
    if (owb_signing_load(path, &s, diag) != OWB_OK)
        return owb_cli_fail(PROG, "%s", diag);
    rc = owb_b64_encode(s->pk, sizeof s->pk, pk, sizeof pk);
    owb_signing_free(s);
    if (rc != OWB_OK)
        return OWB_EXIT_FAIL;
    printf("%s\n", pk);
    return OWB_EXIT_OK;
}

static const struct owb_verb signing_verbs[] = {
    {"public", "", verb_public, "print the public half of the signing key"},
};

static const struct cli_admin_cmd signing_spec = {.prog = PROG,
                                                  .about = signing_about,
                                                  .verbs = signing_verbs,
                                                  .n_verbs = OWB_ARRAY_LEN(signing_verbs),
                                                  .db_use = CLI_DB_SIGNING};

int cmd_signing_main(int argc, char **argv)
{
    struct cli_admin a = {0};
    return cli_admin_main(&signing_spec, &a, &a, argc, argv);
}
