/* Ageing: how long sessions and check-in nonces are kept (--retention),
 * one pruning pass, and the thread that runs passes on a schedule while
 * serving. What a pass removes and keeps is store.h's prune. */
#ifndef OWB_SERVER_RETENTION_H
#define OWB_SERVER_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "owb/err.h"
#include "store.h"

#define OWB_RETENTION_DEFAULT "30d"
/* What --retention takes, for its help and its usage error. */
#define OWB_RETENTION_FORMS "N, Nd, Nh, Nm or Ns (a bare number is days)"
/* Rows a pruning transaction deletes at most: each touches a page or two
 * of every index (about 25 ms for 500 sessions with FULL sync here). */
#define OWB_PRUNE_BATCH 500

/* A retention period in seconds from "30", "30d", "12h", "45m" or "90s";
 * false for anything else or more than 100 years. */
bool owb_retention_parse(const char *text, int64_t *seconds) OWB_MUST_CHECK;

/* The period in its largest whole unit ("30d", "90s") into out. */
void owb_retention_format(int64_t seconds, char *out, size_t cap);

/* One pass at now: everything created retention_s seconds ago or
 * earlier that no answer needs (store.h prune). */
enum owb_err owb_retention_pass(struct owb_store *s, int64_t now, int64_t retention_s,
                                struct owb_prune_result *res);

/* The thread that prunes while serving: a first pass soon after start,
 * then every quarter of the period (at least a second, at most an hour).
 * What each pass removes is added to m and, when anything, logged. */
struct owb_retention;
enum owb_err owb_retention_start(struct owb_store *s, struct owb_metrics *m, int64_t retention_s,
                                 struct owb_retention **out) OWB_MUST_CHECK;
/* Waits for a pass under way to end; NULL is fine. */
void owb_retention_stop(struct owb_retention *r);

#endif
