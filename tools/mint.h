/* Minting: one device's identity (id, key, claim code), its key file, its
 * server record and its setup URL; shared by the device and batch
 * subcommands. */
#ifndef OWB_TOOLS_MINT_H
#define OWB_TOOLS_MINT_H

#include <stdbool.h>
#include <stddef.h>

#include "owb/err.h"
#include "owb/keyfile.h"
#include "owb/record.h"
#include "qr.h"

#define OWB_ID_RANDOM_CHARS 10
#define OWB_PREFIX_MAX (OWB_DEVICE_ID_MAX - OWB_ID_RANDOM_CHARS)
#define OWB_SETUP_URL_MAX (OWB_URL_MAX + 64)

/* Fills kf with a fresh key and claim code and the id: id when given, else
 * prefix + 10 random Crockford characters. OWB_ERR_INVALID_ARG for a bad id
 * or prefix. */
enum owb_err owb_mint_identity(struct owb_keyfile *kf, const char *id, const char *prefix,
                               const char *server) OWB_MUST_CHECK;

/* <server>/s/<id>#c=<claim> (no double slash when server ends in one). */
void owb_setup_url(const struct owb_keyfile *kf, char *out, size_t cap);

/* The server record line of kf (with its newline); the caller wipes it. */
enum owb_err owb_mint_record(const struct owb_keyfile *kf, char *line, size_t cap,
                             size_t *len) OWB_MUST_CHECK;

/* A short fingerprint of the key for support staff: 16 hex digits of a
 * keyed BLAKE2b, in groups of four. Reveals nothing of the key. */
void owb_key_print_fingerprint(const struct owb_keyfile *kf, char out[static 20]);

/* true for a usable id prefix: [A-Za-z0-9._-], at most 22 characters. */
bool owb_prefix_valid(const char *prefix);

/* Common CLI helpers: print "owb-mint CMD: ..." and return the exit code. */
int mint_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int mint_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses --format/--ec/--size/--margin values into o. */
bool mint_parse_qr_format(const char *s, enum owb_qr_format *f);
bool mint_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
