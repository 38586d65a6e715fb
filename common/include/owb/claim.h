/* Claim codes: 80 random bits as 16 characters of Crockford base32
 * (alphabet 0123456789ABCDEFGHJKMNPQRSTVWXYZ). The label carries the code;
 * the server keeps only owb_claim_hash() of it.
 */
#ifndef OWB_CLAIM_H
#define OWB_CLAIM_H

#include <stddef.h>
#include <stdint.h>

#include "owb/err.h"

#define OWB_CLAIM_LEN 16
#define OWB_CLAIM_SIZE (OWB_CLAIM_LEN + 1)
#define OWB_CLAIM_HASH_BYTES 32

/* chars random Crockford base32 characters (5 bits each, from
 * randombytes_buf) and a NUL into out, which holds chars + 1. */
void owb_crockford_random(char *out, size_t chars);

void owb_claim_generate(char out[static OWB_CLAIM_SIZE]);

/* Canonical form of a typed code: upper case, I and L read as 1, O as 0,
 * hyphens and spaces dropped. OWB_ERR_BAD_REQUEST unless that leaves 16
 * valid characters. */
enum owb_err owb_claim_normalize(const char *in, size_t len,
                                 char out[static OWB_CLAIM_SIZE]) OWB_MUST_CHECK;

/* BLAKE2b-256 over a domain tag, the device id and the normalized code:
 * the id binds a hash to its device, so two devices' hashes never match. */
enum owb_err owb_claim_hash(const char *device_id, const char *code, size_t code_len,
                            uint8_t out[static OWB_CLAIM_HASH_BYTES]) OWB_MUST_CHECK;

#endif
