/* The device key file: a JSON object, in the symmetric suite
 *   {"device_id": "...", "device_key": "<base64url 32 bytes>",
 *    "server": "<base URL>", "claim_code": "<16 chars>"}
 * and in the pk suite
 *   {"suite": "pk", "device_id": "...",
 *    "device_secret_key": "<base64url 64 bytes: libsodium's Ed25519 key>",
 *    "server_public_key": "<base64url 32 bytes>" or an array of 1-4 of them,
 *    "ap_passphrase": "<22 chars>", "server": ..., "claim_code": ...}
 * server and claim_code optional. Written with owb_file_write_atomic(...,
 * 0600, OWB_WRITE_NO_REPLACE) unless the caller forces a replacement.
 *
 * Ownership: owb_keyfile_read() returns a struct in sodium_malloc memory;
 * release it with owb_keyfile_free(), which wipes it.
 */
#ifndef OWB_KEYFILE_H
#define OWB_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "owb/claim.h"
#include "owb/envelope.h"
#include "owb/err.h"
#include "owb/id.h"
#include "owb/kdf.h"
#include "owb/payload.h"

#define OWB_KEYFILE_MAX 4096
/* Server keys a pk device accepts at once (rotation: old and new). */
#define OWB_PK_PINS_MAX 4

struct owb_keyfile {
    enum owb_suite suite; /* OWB_SUITE_PK, else symmetric (0 counts as symmetric) */
    char device_id[OWB_DEVICE_ID_SIZE];
    uint8_t device_key[OWB_DEVICE_KEY_BYTES];                     /* symmetric */
    uint8_t device_sk[OWB_PK_SECRET_KEY_BYTES];                   /* pk */
    uint8_t server_pks[OWB_PK_PINS_MAX][OWB_PK_PUBLIC_KEY_BYTES]; /* pk */
    size_t n_server_pks;                                          /* pk: 1..OWB_PK_PINS_MAX */
    char ap_passphrase[OWB_AP_PASSPHRASE_SIZE];                   /* pk: minted */
    char server[OWB_URL_MAX + 1];                                 /* "" when absent */
    char claim_code[OWB_CLAIM_SIZE];                              /* "" when absent */
};

/* A new zeroed struct in secret memory (symmetric suite), or NULL. */
struct owb_keyfile *owb_keyfile_new(void);
void owb_keyfile_free(struct owb_keyfile *kf);

/* Parses a key file's text. On failure diag (OWB_DIAG_SIZE bytes, may be
 * NULL) says what is wrong, without the file name. */
enum owb_err owb_keyfile_parse(const char *text, size_t len, struct owb_keyfile *kf,
                               char *diag) OWB_MUST_CHECK;

/* Reads path; on failure diag names the file and the problem. */
enum owb_err owb_keyfile_read(const char *path, struct owb_keyfile **out,
                              char *diag) OWB_MUST_CHECK;

/* Writes the key file's JSON text into a new heap string the caller frees
 * with owb_clear_free_str(). */
enum owb_err owb_keyfile_to_json(const struct owb_keyfile *kf, char **out) OWB_MUST_CHECK;

/* Writes path atomically with mode 0600; refuses an existing file
 * (OWB_ERR_EXISTS) unless force. diag as for read. */
enum owb_err owb_keyfile_write(const char *path, const struct owb_keyfile *kf, bool force,
                               char *diag) OWB_MUST_CHECK;

#endif
