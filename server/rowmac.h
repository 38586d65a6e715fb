/* MACs over the rows that decide where a device goes.
 *
 * Someone who can write to the database but has no master key must not be
 * able to redirect a device: turn a network open, rename its SSID, assign
 * a device to another network, or swap a pk device's public key for one
 * they hold (the server would then seal the premises password to them).
 * Each devices and networks row carries a keyed BLAKE2b-256 (secrets.h's
 * row subkey) over every column that decides this; the server checks it
 * before a setup or a check-in uses the row and refuses a row that does
 * not match, naming it in the log.
 *
 * What is covered: devices (id, suite, sealed key, public key, sealed AP
 * passphrase, claim hash, network); networks (name, SSID, security,
 * hidden, sealed PSK). Counters, states and times are not: they change
 * with every request, and tampering with them only refuses service (the
 * device itself refuses a counter that is not newer).
 *
 * Rows written before row MACs have none; 'owb-server seal-rows' vouches
 * for them once an administrator has checked them. The server never does.
 */
#ifndef OWB_SERVER_ROWMAC_H
#define OWB_SERVER_ROWMAC_H

#include "owb/err.h"
#include "secrets.h"
#include "store.h"

void owb_row_mac_device(const struct owb_master *m, const struct owb_device_row *row,
                        uint8_t mac[static OWB_ROW_MAC_BYTES]);
void owb_row_mac_network(const struct owb_master *m, const struct owb_network_row *row,
                         uint8_t mac[static OWB_ROW_MAC_BYTES]);
/* The MAC of the row an import item becomes (no network yet). */
void owb_row_mac_import(const struct owb_master *m, const struct owb_import_item *it,
                        uint8_t mac[static OWB_ROW_MAC_BYTES]);

/* OWB_OK, or OWB_ERR_TAMPERED for a row whose MAC does not match or that
 * has none; *why then says which ("does not match its MAC", "has no MAC"). */
enum owb_err owb_row_check_device(const struct owb_master *m, const struct owb_device_row *row,
                                  const char **why) OWB_MUST_CHECK;
enum owb_err owb_row_check_network(const struct owb_master *m, const struct owb_network_row *row,
                                   const char **why) OWB_MUST_CHECK;

/* Reads a row and checks it, for the routes: a row that fails is logged
 * naming it and answered OWB_ERR_TAMPERED; OWB_ERR_NOENT when none. */
enum owb_err owb_row_device_get(struct owb_store *s, const struct owb_master *m, const char *id,
                                struct owb_device_row *row) OWB_MUST_CHECK;
enum owb_err owb_row_network_get(struct owb_store *s, const struct owb_master *m, const char *name,
                                 struct owb_network_row *row) OWB_MUST_CHECK;
/* A setup's reads (store.h setup_read), the device checked; the network,
 * read with it as rc, is checked by owb_row_network_read when used. */
enum owb_err owb_row_setup_read(struct owb_store *s, const struct owb_master *m, const char *id,
                                int64_t claim_since, const uint8_t *token_hash,
                                struct owb_setup_read *out) OWB_MUST_CHECK;
/* A setup's read and issue in one (store.h setup_issue), the device
 * checked as above: a row that fails may have had a counter issued, and
 * no bundle goes out under it. */
enum owb_err owb_row_setup_issue(struct owb_store *s, const struct owb_master *m,
                                 const struct owb_setup_ask *ask, struct owb_setup_read *out,
                                 uint64_t *counter) OWB_MUST_CHECK;
enum owb_err owb_row_network_read(const struct owb_master *m, const char *name, enum owb_err rc,
                                  const struct owb_network_row *row) OWB_MUST_CHECK;

#endif
