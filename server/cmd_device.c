/* owb-server device import|list|show|remove|assign. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "commands.h"
#include "owb/keyfile.h"
#include "owb/mem.h"
#include "owb/record.h"
#include "rowmac.h"

static const char device_help[] =
    "Usage: owb-server device import FILE [db options]\n"
    "       owb-server device list [db options]\n"
    "       owb-server device show ID [db options]\n"
    "       owb-server device remove ID [db options]\n"
    "       owb-server device unlock ID [db options]\n"
    "       owb-server device assign ID... --network NAME [db options]\n"
    "import reads the JSON-lines records owb-mint writes. A file is imported\n"
    "whole or not at all; records already present with the same key are\n"
    "skipped, and one whose id exists with another key stops the import.\n"
    "assign --network '' clears the assignment. unlock forgets the claim\n"
    "attempts counted for a device, so it takes claims at once again (show says\n"
    "whether it is slowed down).\n\n" CLI_DB_HELP;

#define IMPORT_BATCH 1024

static void fmt_time(char *out, size_t cap, int64_t t)
{
    struct tm tm;
    time_t ts = (time_t)t;
    if (!t) {
        snprintf(out, cap, "-");
        return;
    }
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&ts, &tm));
}

static void print_device_line(void *ctx, const struct owb_device_row *d)
{
    (void)ctx;
    printf("%-32s counter=%-6llu state=%-7s network=%s\n", d->id, (unsigned long long)d->counter,
           d->state, d->network[0] ? d->network : "-");
}

/* The claim guard: attempts in the current window, and the slow-down. */
static void print_claim_state(struct owb_srv *srv, const char *id)
{
    unsigned attempts = 0;
    int64_t next_at = 0, now = (int64_t)time(NULL);
    char until[32];

    if (srv->store->ops->claim_state(srv->store, id, 0, &attempts, &next_at) != OWB_OK) {
        printf("claims:     (cannot read)\n");
        return;
    }
    fmt_time(until, sizeof until, next_at);
    if (next_at > now)
        printf("claims:     %u wrong claim(s) in the window; slowed down: next try after %s "
               "('device unlock' lifts it)\n",
               attempts, until);
    else
        printf("claims:     %u wrong claim(s) in the window; not slowed down\n", attempts);
}

static void print_device_full(const struct owb_master *m, const struct owb_device_row *d)
{
    const char *why = NULL;
    if (owb_row_check_device(m, d, &why) == OWB_OK)
        why = "matches its row MAC";
    char created[32], updated[32], online[32];
    fmt_time(created, sizeof created, d->created_at);
    fmt_time(updated, sizeof updated, d->updated_at);
    fmt_time(online, sizeof online, d->online_at);
    printf("id:         %s\nsuite:      %s\nstate:      %s\ncounter:    %llu\nnetwork:    %s\n"
           "claim code: %s\nkey:        %s\ncreated:    %s\nupdated:    %s\n"
           "online:     %s\nrow:        %s\n",
           d->id, owb_suite_name(d->suite), d->state, (unsigned long long)d->counter,
           d->network[0] ? d->network : "-", d->has_claim ? "set (stored as a hash)" : "none",
           d->suite == OWB_SUITE_PK ? "public key only" : "(hidden)", created, updated, online,
           why);
}

/* Turns a parsed record into a sealed import item; wipes nothing of r. */
static enum owb_err record_to_item(const struct owb_master *m, const struct owb_record *r,
                                   struct owb_import_item *it)
{
    enum owb_err rc;

    memset(it, 0, sizeof *it);
    memcpy(it->id, r->device_id, sizeof it->id);
    it->suite = r->suite == OWB_SUITE_PK ? OWB_SUITE_PK : OWB_SUITE_SYM;
    if (it->suite == OWB_SUITE_PK) {
        /* No device secret: the public key, and the AP passphrase sealed. */
        memcpy(it->public_key, r->device_pk, sizeof it->public_key);
        rc = owb_atrest_seal(m, "devices-ap", r->device_id, (const uint8_t *)r->ap_passphrase,
                             strlen(r->ap_passphrase), &it->sealed_ap);
        owb_key_fingerprint(m, r->device_pk, sizeof r->device_pk, it->key_fp);
    } else {
        rc = owb_atrest_seal(m, "devices", r->device_id, r->device_key, sizeof r->device_key,
                             &it->sealed_key);
        owb_key_fingerprint(m, r->device_key, sizeof r->device_key, it->key_fp);
    }
    if (rc != OWB_OK)
        return rc;
    if (r->claim_code[0]) {
        it->has_claim = true;
        rc = owb_claim_hash(r->device_id, r->claim_code, strlen(r->claim_code), it->claim_hash);
    }
    owb_row_mac_import(m, it, it->row_mac);
    return rc;
}

static int device_import(struct owb_srv *srv, const char *path)
{
    FILE *f = fopen(path, "re");
    struct owb_import *imp = NULL;
    struct owb_import_item *items = NULL;
    struct owb_record *rec = NULL;
    struct owb_import_result res = {0};
    char *line = NULL;
    size_t cap = 0, n = 0, lineno = 0;
    ssize_t len;
    char diag[OWB_DIAG_SIZE];
    enum owb_err rc = OWB_ERR_NOMEM;
    bool failed = true;

    if (!f) {
        fprintf(stderr, "owb-server device import: %s: %s\n", path, strerror(errno));
        return 1;
    }
    items = calloc(IMPORT_BATCH, sizeof *items);
    rec = owb_secret_alloc(sizeof *rec);
    if (!items || !rec)
        goto out;
    rc = srv->store->ops->import_begin(srv->store, &imp);
    if (rc != OWB_OK) {
        fprintf(stderr, "owb-server device import: database: %s\n", owb_strerror(rc));
        goto out;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        rc = owb_record_parse(line, (size_t)len, rec, diag);
        sodium_memzero(line, (size_t)len);
        if (rc != OWB_OK) {
            fprintf(stderr, "owb-server device import: %s:%zu: %s\n", path, lineno, diag);
            goto out;
        }
        rc = record_to_item(srv->master, rec, &items[n++]);
        if (rc != OWB_OK)
            goto out;
        if (n == IMPORT_BATCH) {
            rc = srv->store->ops->import_add(imp, items, n, &res);
            n = 0;
            if (rc != OWB_OK)
                goto report;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "owb-server device import: %s: read error\n", path);
        goto out;
    }
    if (n > 0)
        rc = srv->store->ops->import_add(imp, items, n, &res);
report:
    if (rc == OWB_ERR_CONFLICT)
        fprintf(stderr,
                "owb-server device import: %s: device %s exists with a different key; refusing "
                "to replace it\n",
                path, res.conflict_id);
    else if (rc != OWB_OK)
        fprintf(stderr, "owb-server device import: database: %s\n", owb_strerror(rc));
    else
        failed = false;
out:
    if (imp) {
        enum owb_err end = srv->store->ops->import_end(imp, !failed);
        if (!failed && end != OWB_OK) {
            fprintf(stderr, "owb-server device import: commit: %s\n", owb_strerror(end));
            failed = true;
        }
    }
    if (failed)
        fprintf(stderr, "owb-server device import: nothing imported from %s\n", path);
    else
        printf("imported %zu new device(s), %zu already present, from %s\n", res.added,
               res.unchanged, path);
    if (line) {
        sodium_memzero(line, cap);
        free(line);
    }
    if (items)
        owb_clear_free(items, IMPORT_BATCH * sizeof *items);
    if (rec)
        owb_secret_free(rec);
    fclose(f);
    return failed ? 1 : 0;
}

/* Each device's row MAC is computed anew with its new network, from the
 * row as it is now, which must itself be authentic: assign never vouches
 * for a row someone else changed. */
static int device_assign(struct owb_srv *srv, const char *const *ids, size_t n, const char *network)
{
    uint8_t(*macs)[OWB_ROW_MAC_BYTES] = calloc(n, sizeof *macs);
    struct owb_device_row d;
    char missing[OWB_DEVICE_ID_SIZE + OWB_NETWORK_NAME_MAX];
    const char *why = NULL;
    enum owb_err rc = macs ? OWB_OK : OWB_ERR_NOMEM;

    for (size_t i = 0; rc == OWB_OK && i < n; i++) {
        rc = srv->store->ops->device_get(srv->store, ids[i], &d);
        if (rc == OWB_OK)
            rc = owb_row_check_device(srv->master, &d, &why);
        snprintf(missing, sizeof missing, "%s", ids[i]);
        if (rc == OWB_OK) {
            snprintf(d.network, sizeof d.network, "%s", network);
            owb_row_mac_device(srv->master, &d, macs[i]);
        }
    }
    if (rc == OWB_OK)
        rc = srv->store->ops->device_assign(srv->store, ids, n, network[0] ? network : NULL,
                                            (const uint8_t(*)[OWB_ROW_MAC_BYTES])macs, missing);
    free(macs);
    if (rc == OWB_OK) {
        printf("%zu device(s) %s %s\n", n, network[0] ? "assigned to" : "cleared of",
               network[0] ? network : "their network");
        return 0;
    }
    if (rc == OWB_ERR_NOENT || rc == OWB_ERR_TAMPERED)
        fprintf(stderr, "owb-server device assign: %s: %s; nothing changed\n", missing,
                rc == OWB_ERR_NOENT ? "no such device or network" : why);
    else
        fprintf(stderr, "owb-server device assign: %s Nothing changed.\n", owb_strerror(rc));
    return 1;
}

int cmd_device_main(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_DB_OPTIONS, {"network", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    struct cli_db o;
    struct owb_srv srv;
    const char *network = NULL, *action;
    int c, ret = 1, nargs;
    enum owb_err rc;

    cli_db_defaults(&o);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_db_opt(&o, c, optarg))
            continue;
        if (c == 'h') {
            fputs(device_help, stdout);
            return 0;
        }
        if (c == 'n') {
            network = optarg;
            continue;
        }
        return cli_usage_error("device", "unknown option");
    }
    if (optind >= argc)
        return cli_usage_error("device",
                               "missing action: import, list, show, remove, unlock or assign");
    action = argv[optind++];
    nargs = argc - optind;
    if (strcmp(action, "list") == 0) {
        if (nargs != 0)
            return cli_usage_error("device", "list takes no argument");
    } else if (strcmp(action, "import") == 0 || strcmp(action, "show") == 0 ||
               strcmp(action, "remove") == 0 || strcmp(action, "unlock") == 0) {
        if (nargs != 1)
            return cli_usage_error("device", "%s needs exactly one argument", action);
    } else if (strcmp(action, "assign") == 0) {
        if (nargs < 1 || !network)
            return cli_usage_error("device", "assign needs ID... and --network NAME");
    } else {
        return cli_usage_error("device", "unknown action '%s'", action);
    }
    for (int i = optind; strcmp(action, "import") != 0 && i < argc; i++)
        if (!owb_device_id_valid_str(argv[i]))
            return cli_usage_error("device", "'%s' is not a device id", argv[i]);

    if (cli_open(&o, false, 1, true, &srv) != OWB_OK)
        return 1;
    if (strcmp(action, "import") == 0) {
        ret = device_import(&srv, argv[optind]);
    } else if (strcmp(action, "list") == 0) {
        ret = srv.store->ops->device_list(srv.store, print_device_line, NULL) == OWB_OK ? 0 : 1;
    } else if (strcmp(action, "show") == 0) {
        struct owb_device_row d;
        rc = srv.store->ops->device_get(srv.store, argv[optind], &d);
        if (rc == OWB_OK) {
            print_device_full(srv.master, &d);
            print_claim_state(&srv, d.id);
            ret = 0;
        } else {
            fprintf(stderr, "owb-server device: %s: %s\n", argv[optind],
                    rc == OWB_ERR_NOENT ? "no such device" : owb_strerror(rc));
        }
    } else if (strcmp(action, "unlock") == 0) {
        struct owb_device_row d;
        rc = srv.store->ops->device_get(srv.store, argv[optind], &d);
        if (rc == OWB_OK)
            rc = srv.store->ops->claim_reset(srv.store, argv[optind]);
        if (rc == OWB_OK) {
            printf("device %s unlocked: its claim attempts are forgotten\n", argv[optind]);
            ret = 0;
        } else {
            fprintf(stderr, "owb-server device: %s: %s\n", argv[optind],
                    rc == OWB_ERR_NOENT ? "no such device" : owb_strerror(rc));
        }
    } else if (strcmp(action, "remove") == 0) {
        rc = srv.store->ops->device_remove(srv.store, argv[optind]);
        if (rc == OWB_OK) {
            printf("device %s removed\n", argv[optind]);
            ret = 0;
        } else {
            fprintf(stderr, "owb-server device: %s: %s\n", argv[optind],
                    rc == OWB_ERR_NOENT ? "no such device" : owb_strerror(rc));
        }
    } else {
        ret = device_assign(&srv, (const char *const *)argv + optind, (size_t)nargs, network);
    }
    cli_close(&srv);
    return ret;
}
