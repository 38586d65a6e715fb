/* Minting: one device's identity (id, key, claim code), its key file, its
 * server record and its setup URL; shared by the device and batch
 * subcommands. */
#ifndef OWB_TOOLS_MINT_H
#define OWB_TOOLS_MINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "owb/devkey.h"
#include "owb/err.h"
#include "owb/keyfile.h"
#include "owb/record.h"
#include "qr.h"

#define OWB_ID_RANDOM_CHARS 10
#define OWB_PREFIX_MAX (OWB_DEVICE_ID_MAX - OWB_ID_RANDOM_CHARS)
#define OWB_SETUP_URL_MAX (OWB_URL_MAX + 64)

/* Which suite to mint, and for the pk suite the server key(s) to pin. */
struct owb_mint_suite {
    enum owb_suite suite;
    uint8_t server_pks[OWB_PK_PINS_MAX][OWB_PK_PUBLIC_KEY_BYTES];
    size_t n_server_pks;
};

/* --suite and --server-public-key FILE of command prog into s (FILE: one to four base64url
 * public keys, as 'owb-server signing-key public' prints them, separated
 * by white space). 0 when fine, else the problem is printed and the exit
 * code returned (2 usage, 1 an unreadable or wrong file). */
int owb_mint_suite_parse(const char *prog, const char *suite, const char *key_file,
                         struct owb_mint_suite *s);

/* Fills kf with fresh keys (symmetric: a 32-byte key; pk: an Ed25519 key
 * pair, the pinned server keys and a minted AP passphrase), a claim code
 * and the id: id when given, else prefix + 10 random Crockford characters.
 * OWB_ERR_INVALID_ARG for a bad id or prefix. */
enum owb_err owb_mint_identity(struct owb_keyfile *kf, const char *id, const char *prefix,
                               const char *server,
                               const struct owb_mint_suite *suite) OWB_MUST_CHECK;

/* <server>/s/<id>#c=<claim> (no double slash when server ends in one). */
void owb_setup_url(const struct owb_keyfile *kf, char *out, size_t cap);

/* The server record line of kf (with its newline); the caller wipes it. */
enum owb_err owb_mint_record(const struct owb_keyfile *kf, char *line, size_t cap,
                             size_t *len) OWB_MUST_CHECK;

/* true for a usable id prefix: [A-Za-z0-9._-], at most 22 characters. */
bool owb_prefix_valid(const char *prefix);

#endif
