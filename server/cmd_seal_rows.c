/* owb-server seal-rows: vouches for rows written before row MACs
 * (rowmac.h). The server never does this by itself: a row without a MAC
 * may have been changed by anyone with write access to the database, and
 * only an administrator who has looked at it can say it is right. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "rowmac.h"

#define PROG "owb-server seal-rows"

static const char seal_about[] =
    "Every devices and networks row carries a MAC under the master key over\n"
    "what decides where a device goes (its network, suite, keys; a network's\n"
    "SSID, security and PSK). The server refuses a row whose MAC is missing or\n"
    "does not match. Rows from before row MACs have none: check them with\n"
    "'device list', 'device show' and 'network list', then run seal-rows.\n";

struct seal_opts {
    bool check, force;
};

static const struct owb_opt seal_opts[] = {
    OWB_OPT_FLAG_("check", struct seal_opts, check,
                  "only report rows without a MAC or with a wrong one; exit 1 when there is any"),
    OWB_OPT_FLAG_("force", struct seal_opts, force,
                  "also seal rows whose MAC does not match (after you have found out why they "
                  "changed)"),
};

/* Rows to seal, collected before writing: a store may hold its only
 * connection for the whole of a list. */
struct pending {
    char (*keys)[OWB_DEVICE_ID_SIZE + OWB_NETWORK_NAME_MAX];
    uint8_t (*macs)[OWB_ROW_MAC_BYTES];
    size_t n, cap;
    size_t unsealed, mismatched;
    bool force, failed;
    const struct owb_master *m;
};

static void note(struct pending *p, const char *table, const char *key, bool has_mac,
                 const uint8_t *mac)
{
    if (has_mac) {
        p->mismatched++;
        printf("%s %s: does not match its row MAC%s\n", table, key,
               p->force ? "; sealing it as it is now (--force)" : "");
        if (!p->force)
            return;
    } else {
        p->unsealed++;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        void *k = realloc(p->keys, cap * sizeof *p->keys);
        if (k)
            p->keys = k;
        void *m = k ? realloc(p->macs, cap * sizeof *p->macs) : NULL;
        if (m)
            p->macs = m;
        if (!k || !m) {
            p->failed = true;
            return;
        }
        p->cap = cap;
    }
    snprintf(p->keys[p->n], sizeof p->keys[p->n], "%s", key);
    memcpy(p->macs[p->n], mac, OWB_ROW_MAC_BYTES);
    p->n++;
}

static void see_device(void *ctx, const struct owb_device_row *d)
{
    struct pending *p = ctx;
    const char *why;
    uint8_t mac[OWB_ROW_MAC_BYTES];

    if (owb_row_check_device(p->m, d, &why) == OWB_OK)
        return;
    owb_row_mac_device(p->m, d, mac);
    note(p, "devices", d->id, d->has_mac, mac);
}

static void see_network(void *ctx, const struct owb_network_row *n)
{
    struct pending *p = ctx;
    const char *why;
    uint8_t mac[OWB_ROW_MAC_BYTES];

    if (owb_row_check_network(p->m, n, &why) == OWB_OK)
        return;
    owb_row_mac_network(p->m, n, mac);
    note(p, "networks", n->name, n->has_mac, mac);
}

/* Scans one table and, unless only checking, writes the MACs found due. */
static enum owb_err seal_table(struct owb_srv *srv, const char *table, struct pending *p,
                               bool check_only)
{
    enum owb_err rc = strcmp(table, "devices") == 0
                          ? srv->store->ops->device_list(srv->store, see_device, p)
                          : srv->store->ops->network_list(srv->store, see_network, p);

    if (rc == OWB_OK && p->failed)
        rc = OWB_ERR_NOMEM;
    for (size_t i = 0; rc == OWB_OK && !check_only && i < p->n; i++)
        rc = srv->store->ops->row_mac_put(srv->store, table, p->keys[i], p->macs[i]);
    if (rc != OWB_OK)
        owb_cli_fail(PROG, "%s: %s", table, owb_strerror(rc));
    p->n = 0;
    return rc;
}

int cmd_seal_rows_main(int argc, char **argv)
{
    struct cli_db o;
    struct owb_srv srv;
    struct pending p = {0};
    struct seal_opts so = {0};
    int ret;
    const struct owb_opt_group groups[] = {{seal_opts, OWB_ARRAY_LEN(seal_opts), &so},
                                           cli_db_group(&o, CLI_DB_ADMIN)};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "[options]",
                                .about = seal_about,
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};

    cli_db_defaults(&o);
    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;
    if (so.check && so.force)
        return owb_cli_usage_error(PROG, "--check and --force exclude each other");
    if (cli_open(&o, false, 1, true, &srv) != OWB_OK)
        return OWB_EXIT_FAIL;
    p.m = srv.master;
    p.force = so.force;
    ret = OWB_EXIT_FAIL;
    if (seal_table(&srv, "networks", &p, so.check) == OWB_OK &&
        seal_table(&srv, "devices", &p, so.check) == OWB_OK) {
        if (so.check)
            printf("%zu row(s) without a MAC, %zu with a wrong one\n", p.unsealed, p.mismatched);
        else
            printf("%zu row(s) sealed; %zu with a wrong MAC %s\n",
                   p.unsealed + (p.force ? p.mismatched : 0), p.mismatched,
                   p.force ? "sealed as they are now" : "left refused (see --force)");
        ret = (so.check ? p.unsealed + p.mismatched : (p.force ? 0 : p.mismatched)) ? 1 : 0;
    }
    free(p.keys);
    free(p.macs);
    cli_close(&srv);
    return ret;
}
