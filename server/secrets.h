/* The server's secrets at rest.
 *
 * The master key is a 32-byte file (mode 0600 or stricter). Three subkeys
 * come from it: one seals device keys and PSKs in the database
 * (XChaCha20-Poly1305 with "owb-atrest-v1:<table>:<row id>" as associated
 * data, so a sealed value moved to another row does not open), one keys
 * the fingerprints that let import compare device keys without opening
 * them, one keys the MACs over the rows that decide where a device goes
 * (rowmac.h). A check value sealed at init tells a wrong key at start-up.
 *
 * Installer tokens and session tokens are random 32-byte strings given to
 * clients once; the database holds only their BLAKE2b-256 hash.
 *
 * Ownership: struct owb_master lives in sodium_malloc memory; free it with
 * owb_master_free(), which wipes it.
 */
#ifndef OWB_SERVER_SECRETS_H
#define OWB_SERVER_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "owb/base64.h"
#include "owb/err.h"
#include "owb/id.h"
#include "owb/kdf.h"
#include "store.h"

#define OWB_MASTER_KEY_BYTES 32
#define OWB_TOKEN_RAW_BYTES 32
#define OWB_TOKEN_PREFIX "owbt_"
#define OWB_TOKEN_SIZE (5 + OWB_B64_ENCODED_SIZE(OWB_TOKEN_RAW_BYTES))
/* A session token: its secret (43 chars), then ".<counter>.<device id>",
 * so that its row is found by the unique (device, counter) index and no
 * index over random hashes is written at every setup. */
#define OWB_SESSION_SECRET_SIZE OWB_B64_ENCODED_SIZE(OWB_TOKEN_RAW_BYTES)
#define OWB_SESSION_SIZE (OWB_SESSION_SECRET_SIZE + 1 + 16 + 1 + OWB_DEVICE_ID_MAX)

struct owb_master;

/* A key file: len random bytes, mode 0600, never replacing one
 * (OWB_ERR_EXISTS). */
enum owb_err owb_secret_file_create(const char *path, size_t len, char *diag) OWB_MUST_CHECK;

/* Reads a key file of exactly len bytes into raw; refuses a file readable
 * or writable by group or others (OWB_ERR_PERM) or of another size
 * (OWB_ERR_BAD_FILE, diag naming it a "what"). */
enum owb_err owb_secret_file_read(const char *path, const char *what, uint8_t *raw, size_t len,
                                  char *diag) OWB_MUST_CHECK;

/* Picks a key file: the flag, else $env_name, else
 * $CREDENTIALS_DIRECTORY/credential (systemd's LoadCredential=), else
 * fallback (which may be NULL). */
const char *owb_key_path(const char *flag, const char *env_name, const char *credential,
                         const char *fallback, char *buf, size_t cap);

/* Picks the master key file: the flag, else $OWB_MASTER_KEY_FILE, else
 * $CREDENTIALS_DIRECTORY/owb-master-key, else "owb-master.key". */
const char *owb_master_path(const char *flag, char *buf, size_t cap);

/* Creates a new random key file (0600); never replaces one (OWB_ERR_EXISTS). */
enum owb_err owb_master_create(const char *path, char *diag) OWB_MUST_CHECK;

/* Loads the key; refuses a file readable or writable by group or others
 * (OWB_ERR_PERM), or one that is not exactly 32 bytes (OWB_ERR_BAD_FILE). */
enum owb_err owb_master_load(const char *path, struct owb_master **out, char *diag) OWB_MUST_CHECK;
void owb_master_free(struct owb_master *m);

/* Stores a check value in the store, or verifies the one there
 * (OWB_ERR_AUTH_FAILED when this is not the key the database was made with). */
enum owb_err owb_master_check(const struct owb_master *m, struct owb_store *store,
                              bool create) OWB_MUST_CHECK;

/* owb_atrest_encrypt/decrypt (owb/atrest.h) under the master's sealing
 * subkey, into and out of a store's sealed column. */
enum owb_err owb_atrest_seal(const struct owb_master *m, const char *table, const char *row_id,
                             const uint8_t *plain, size_t len,
                             struct owb_sealed *out) OWB_MUST_CHECK;
/* OWB_ERR_AUTH_FAILED when it does not open (wrong key, row or tampering). */
enum owb_err owb_atrest_open(const struct owb_master *m, const char *table, const char *row_id,
                             const struct owb_sealed *in, uint8_t *plain, size_t cap,
                             size_t *len) OWB_MUST_CHECK;

/* A symmetric device's key, opened from its row into key (wiped by the
 * caller); OWB_ERR_AUTH_FAILED, logged, when it does not open. */
enum owb_err owb_atrest_open_device_key(const struct owb_master *m,
                                        const struct owb_device_row *row,
                                        uint8_t key[static OWB_DEVICE_KEY_BYTES]) OWB_MUST_CHECK;
/* A pk device's minted AP passphrase, opened from its row (NUL-ended;
 * empty on failure, which is logged). */
enum owb_err owb_atrest_open_ap_passphrase(const struct owb_master *m,
                                           const struct owb_device_row *row,
                                           char out[static OWB_AP_PASSPHRASE_SIZE]) OWB_MUST_CHECK;

/* Keyed BLAKE2b-256 under the row subkey (rowmac.c builds msg). */
void owb_master_row_mac(const struct owb_master *m, const uint8_t *msg, size_t len,
                        uint8_t mac[static OWB_ROW_MAC_BYTES]);

void owb_key_fingerprint(const struct owb_master *m, const uint8_t *key, size_t len,
                         uint8_t fp[static OWB_FP_BYTES]);

/* A fresh installer token "owbt_<43 chars>" and its hash. */
void owb_token_new(char token[static OWB_TOKEN_SIZE], uint8_t hash[static OWB_HASH_BYTES]);
/* A fresh session secret (43 chars) and its hash, the one the store keeps. */
void owb_session_new(char secret[static OWB_SESSION_SECRET_SIZE],
                     uint8_t hash[static OWB_HASH_BYTES]);
/* The token handed out for the session of device id under counter. */
void owb_session_token(char token[static OWB_SESSION_SIZE], const char *secret, uint64_t counter,
                       const char *id);
/* A token as the store looks it up; false when it has neither shape (the
 * bare 43-char secret of a session issued before migration 11 gives an
 * empty device id). */
bool owb_session_parse(const char *token, struct owb_session_key *key);
void owb_token_hash(const char *token, size_t len, uint8_t hash[static OWB_HASH_BYTES]);

#endif
