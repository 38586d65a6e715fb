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

#define PROG "owb-server device"

struct device_cmd {
    struct cli_admin a;
    const char *network;
};

static const char device_about[] =
    "import reads the JSON-lines records owb-mint writes. A file is imported\n"
    "whole or not at all; records already present with the same key are\n"
    "skipped, and one whose id exists with another key stops the import.\n"
    "assign --network '' clears the assignment. unlock forgets the claim\n"
    "attempts counted for a device, so it takes claims at once again (show says\n"
    "whether it is slowed down).\n";

static const struct owb_opt device_opts[] = {
    OWB_OPT_STR_("network", "NAME", struct device_cmd, network,
                 "assign: the network the devices get ('' clears it)"),
};

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

/* An import under way: records parsed into items, fed to the store a
 * batch at a time. */
struct importer {
    struct owb_srv *srv;
    struct owb_import *imp;
    struct owb_import_item *items; /* IMPORT_BATCH of them; wiped when freed */
    struct owb_record *rec;        /* secret memory */
    struct owb_import_result res;
    size_t n;
};

static enum owb_err flush_items(struct importer *im)
{
    enum owb_err rc = im->srv->store->ops->import_add(im->imp, im->items, im->n, &im->res);
    im->n = 0;
    return rc;
}

/* Feeds every record of f to the import. *reported: the reason of a
 * failure is printed already (a bad line, a read error). */
static enum owb_err import_lines(struct importer *im, FILE *f, const char *path, bool *reported)
{
    char *line = NULL, diag[OWB_DIAG_SIZE];
    size_t cap = 0, lineno = 0;
    ssize_t len;
    enum owb_err rc = OWB_OK;

    *reported = true;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        rc = owb_record_parse(line, (size_t)len, im->rec, diag);
        sodium_memzero(line, (size_t)len);
        if (rc != OWB_OK) {
            fprintf(stderr, PROG " import: %s:%zu: %s\n", path, lineno, diag);
            goto out;
        }
        rc = record_to_item(im->srv->master, im->rec, &im->items[im->n++]);
        if (rc != OWB_OK)
            goto out;
        if (im->n == IMPORT_BATCH && (rc = flush_items(im)) != OWB_OK) {
            *reported = false;
            goto out;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, PROG " import: %s: read error\n", path);
        rc = OWB_ERR_IO;
        goto out;
    }
    *reported = false;
    if (im->n > 0)
        rc = flush_items(im);
out:
    if (line) {
        sodium_memzero(line, cap);
        free(line);
    }
    return rc;
}

static int device_import(struct owb_srv *srv, const char *path)
{
    FILE *f = fopen(path, "re");
    struct importer im = {.srv = srv};
    enum owb_err rc;
    bool failed = true, reported = true;

    if (!f)
        return owb_cli_fail(PROG " import", "%s: %s", path, strerror(errno));
    im.items = calloc(IMPORT_BATCH, sizeof *im.items);
    im.rec = owb_secret_alloc(sizeof *im.rec);
    if (!im.items || !im.rec)
        goto out;
    rc = srv->store->ops->import_begin(srv->store, &im.imp);
    if (rc == OWB_OK)
        rc = import_lines(&im, f, path, &reported);
    else
        reported = false;
    if (rc == OWB_ERR_CONFLICT)
        fprintf(stderr,
                PROG " import: %s: device %s exists with a different key; refusing "
                     "to replace it\n",
                path, im.res.conflict_id);
    else if (rc != OWB_OK && !reported)
        fprintf(stderr, PROG " import: database: %s\n", owb_strerror(rc));
    failed = rc != OWB_OK;
out:
    if (im.imp) {
        enum owb_err end = srv->store->ops->import_end(im.imp, !failed);
        if (!failed && end != OWB_OK) {
            fprintf(stderr, PROG " import: commit: %s\n", owb_strerror(end));
            failed = true;
        }
    }
    if (failed)
        fprintf(stderr, PROG " import: nothing imported from %s\n", path);
    else
        printf("imported %zu new device(s), %zu already present, from %s\n", im.res.added,
               im.res.unchanged, path);
    if (im.items)
        owb_clear_free(im.items, IMPORT_BATCH * sizeof *im.items);
    if (im.rec)
        owb_secret_free(im.rec);
    fclose(f);
    return failed ? OWB_EXIT_FAIL : OWB_EXIT_OK;
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

/* Checks that every argument is a device id, then opens the store. */
static int open_for_ids(struct device_cmd *d, int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!owb_device_id_valid_str(argv[i]))
            return owb_cli_usage_error(PROG, "'%s' is not a device id", argv[i]);
    return cli_admin_open(&d->a) ? OWB_CLI_RUN : OWB_EXIT_FAIL;
}

static int report(const char *id, enum owb_err rc)
{
    return owb_cli_fail(PROG, "%s: %s", id,
                        rc == OWB_ERR_NOENT ? "no such device" : owb_strerror(rc));
}

static int verb_import(void *ctx, int argc, char **argv)
{
    struct device_cmd *d = ctx;
    (void)argc;
    return cli_admin_open(&d->a) ? device_import(&d->a.srv, argv[0]) : OWB_EXIT_FAIL;
}

static int verb_list(void *ctx, int argc, char **argv)
{
    struct device_cmd *d = ctx;
    (void)argc, (void)argv;
    if (!cli_admin_open(&d->a))
        return OWB_EXIT_FAIL;
    return d->a.srv.store->ops->device_list(d->a.srv.store, print_device_line, NULL) == OWB_OK
               ? OWB_EXIT_OK
               : OWB_EXIT_FAIL;
}

/* Opens the store and reads the device argv[0] names. */
static int open_device(struct device_cmd *d, int argc, char **argv, struct owb_device_row *row)
{
    int ret = open_for_ids(d, argc, argv);
    enum owb_err rc;

    if (ret != OWB_CLI_RUN)
        return ret;
    rc = d->a.srv.store->ops->device_get(d->a.srv.store, argv[0], row);
    return rc == OWB_OK ? OWB_CLI_RUN : report(argv[0], rc);
}

static int verb_show(void *ctx, int argc, char **argv)
{
    struct device_cmd *d = ctx;
    struct owb_device_row row;
    int ret = open_device(d, argc, argv, &row);

    if (ret != OWB_CLI_RUN)
        return ret;
    print_device_full(d->a.srv.master, &row);
    print_claim_state(&d->a.srv, row.id);
    return OWB_EXIT_OK;
}

static int verb_unlock(void *ctx, int argc, char **argv)
{
    struct device_cmd *d = ctx;
    struct owb_device_row row;
    enum owb_err rc;
    int ret = open_device(d, argc, argv, &row);

    if (ret != OWB_CLI_RUN)
        return ret;
    rc = d->a.srv.store->ops->claim_reset(d->a.srv.store, argv[0]);
    if (rc != OWB_OK)
        return report(argv[0], rc);
    printf("device %s unlocked: its claim attempts are forgotten\n", argv[0]);
    return OWB_EXIT_OK;
}

static int verb_remove(void *ctx, int argc, char **argv)
{
    struct device_cmd *d = ctx;
    enum owb_err rc;
    int ret;

    if ((ret = open_for_ids(d, argc, argv)) != OWB_CLI_RUN)
        return ret;
    rc = d->a.srv.store->ops->device_remove(d->a.srv.store, argv[0]);
    if (rc != OWB_OK)
        return report(argv[0], rc);
    printf("device %s removed\n", argv[0]);
    return OWB_EXIT_OK;
}

static int verb_assign(void *ctx, int argc, char **argv)
{
    struct device_cmd *d = ctx;
    int ret;

    if (!d->network)
        return owb_cli_usage_error(PROG, "assign needs ID... and --network NAME");
    if ((ret = open_for_ids(d, argc, argv)) != OWB_CLI_RUN)
        return ret;
    return device_assign(&d->a.srv, (const char *const *)argv, (size_t)argc, d->network);
}

static const struct owb_verb device_verbs[] = {
    {"import", "FILE", verb_import, "add the devices of a records file from owb-mint"},
    {"list", "", verb_list, "one line a device"},
    {"show", "ID", verb_show, "a device's row (never its key) and its claim attempts"},
    {"remove", "ID", verb_remove, "forget a device"},
    {"unlock", "ID", verb_unlock, "forget a device's wrong claim attempts"},
    {"assign", "ID...", verb_assign, "give devices a network (needs --network NAME)"},
};

static const struct cli_admin_cmd device_spec = {.prog = PROG,
                                                 .about = device_about,
                                                 .verbs = device_verbs,
                                                 .n_verbs = OWB_ARRAY_LEN(device_verbs),
                                                 .opts = device_opts,
                                                 .n_opts = OWB_ARRAY_LEN(device_opts),
                                                 .db_use = CLI_DB_ADMIN};

int cmd_device_main(int argc, char **argv)
{
    struct device_cmd d = {0};
    return cli_admin_main(&device_spec, &d.a, &d, argc, argv);
}
