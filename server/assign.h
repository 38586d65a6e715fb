/* Devices given another network, or none: each row's MAC, which covers
 * its network, computed anew by the master key's holder, and only for a
 * row that is itself authentic (assigning never vouches for a row someone
 * else changed). */
#ifndef OWB_SERVER_ASSIGN_H
#define OWB_SERVER_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "owb/err.h"
#include "rowmac.h"

/* macs[i] is ids[i]'s row MAC with network ("" for none); moved[] gets
 * the ids whose network changes (*n_moved of them). On an error, what
 * (cap bytes) names the device and *why says why a row is refused. */
enum owb_err assign_macs(struct owb_srv *srv, const char *const *ids, size_t n, const char *network,
                         uint8_t (*macs)[OWB_ROW_MAC_BYTES], const char **moved, size_t *n_moved,
                         char *what, size_t what_cap, const char **why);

/* Every device assigned to network left with none, a batch of rows (one
 * transaction) at a time; *cleared counts them. Stops at the first row
 * that is not authentic (OWB_ERR_TAMPERED, naming it in what and *why):
 * the batches before it stay cleared. */
enum owb_err assign_clear_network(struct owb_srv *srv, const char *network, size_t *cleared,
                                  char *what, size_t what_cap, const char **why);

#endif
