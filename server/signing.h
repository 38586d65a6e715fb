/* The server's signing key (pk suite): an Ed25519 key pair whose public
 * half owb-mint pins in every pk device's key file, and whose secret half
 * signs each pk bundle. It lives in its own file (the 32-byte seed, mode
 * 0600), apart from the database and the master key, so that a copy of the
 * database and the master key together still cannot make a bundle a pk
 * device accepts.
 *
 * Ownership: struct owb_signing lives in sodium_malloc memory; free it with
 * owb_signing_free(), which wipes it.
 */
#ifndef OWB_SERVER_SIGNING_H
#define OWB_SERVER_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#include "owb/envelope.h"
#include "owb/err.h"

struct owb_signing {
    uint8_t sk[OWB_PK_SECRET_KEY_BYTES];
    uint8_t pk[OWB_PK_PUBLIC_KEY_BYTES];
};

/* Picks the file: the flag, else $OWB_SIGNING_KEY_FILE, else
 * $CREDENTIALS_DIRECTORY/owb-signing-key, else owb-signing.key in the
 * master key file's directory (master_path as owb_master_path chose it). */
const char *owb_signing_path(const char *flag, const char *master_path, char *buf, size_t cap);

/* A new random seed file (0600); never replaces one (OWB_ERR_EXISTS). */
enum owb_err owb_signing_create(const char *path, char *diag) OWB_MUST_CHECK;

/* Loads the key pair; the same refusals as the master key's file. */
enum owb_err owb_signing_load(const char *path, struct owb_signing **out,
                              char *diag) OWB_MUST_CHECK;
void owb_signing_free(struct owb_signing *s);

#endif
