/* A device's key material as the factory makes it, and the fingerprint
 * support staff read to tell two key files apart.
 *
 * Ownership: the key file is the caller's (owb_keyfile_new: sodium_malloc
 * memory, wiped by owb_keyfile_free); temporaries are wiped here.
 */
#ifndef OWB_DEVKEY_H
#define OWB_DEVKEY_H

#include "owb/err.h"
#include "owb/keyfile.h"

/* "xxxx-xxxx-xxxx-xxxx" and its NUL. */
#define OWB_DEVKEY_FP_SIZE 20

/* Fresh keys for suite into kf (which sets kf->suite): symmetric, a random
 * 32-byte device key; pk, a fresh Ed25519 key pair and a minted AP
 * passphrase (22 characters from 16 random bytes: nothing derives it).
 * The server keys a pk device pins are the caller's to add. */
enum owb_err owb_devkey_generate(struct owb_keyfile *kf, enum owb_suite suite) OWB_MUST_CHECK;

/* 16 hex digits of a BLAKE2b of the device key (pk: of the public key)
 * keyed with "owb-key-fingerprint-v1", in groups of four. Tells two keys
 * apart; reveals nothing of the key. */
void owb_devkey_fingerprint(const struct owb_keyfile *kf, char out[static OWB_DEVKEY_FP_SIZE]);

#endif
