/* The options owb-mint device and batch share: the server the devices
 * trust, where their files go, their ids' prefix and their suite. */
#ifndef OWB_TOOLS_MINT_CLI_H
#define OWB_TOOLS_MINT_CLI_H

#include "mint.h"
#include "owb/cli.h"

struct mint_target {
    const char *server, *dir, *prefix, *suite, *server_key;
    struct owb_mint_suite ms; /* from suite and server_key, by mint_target_check */
};

/* The option group of t. */
struct owb_opt_group mint_target_group(struct mint_target *t);

/* Checks --prefix (when given), --server and the suite, and reads the
 * pinned server keys. OWB_CLI_RUN when fine, else the exit code. */
int mint_target_check(const char *prog, struct mint_target *t);

#endif
