/* owb-server device import|list|show|remove|assign. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "assign.h"
#include "cli.h"
#include "commands.h"
#include "owb/httpd.h"
#include "owb/json.h"
#include "owb/keyfile.h"
#include "owb/mem.h"
#include "owb/record.h"
#include "rollout.h"
#include "rowmac.h"

#define PROG "owb-server device"

struct device_cmd {
    struct cli_admin a;
    const char *network;
    unsigned suite, state, heard; /* indexes into the choices below; 0: any */
    bool locked, json;
    struct rollout_opts ro;
};

#define SUITE_CHOICES "any|sym|pk"
#define STATE_CHOICES "any|never|issued|online"
/* --state's choices as the store names them: never set up is "new". */
static const char *const state_names[] = {NULL, "new", "issued", "online"};
static const char *const suite_names[] = {NULL, "sym", "pk"};
#define HEARD_CHOICES "any|online|stale|never"
static const char *const heard_names[] = {NULL, "online", "stale", "never"};
/* The sessions show lists. */
#define SHOW_SESSIONS 5

static const char device_about[] =
    "import reads the JSON-lines records owb-mint writes. A file is imported\n"
    "whole or not at all; records already present with the same key are\n"
    "skipped, and one whose id exists with another key stops the import.\n"
    "assign --network '' clears the assignment. unlock forgets the claim\n"
    "attempts counted for a device, so it takes claims at once again (show says\n"
    "whether it is slowed down).\n"
    "assign --network on devices already set up starts a rollout: each gets\n"
    "the new network in the answer to its next heartbeat (see 'owb-server\n"
    "rollout').\n"
    "list takes filters (all of them apply together) and reads the devices a\n"
    "page at a time, so a fleet of any size is listed in bounded memory. With\n"
    "--json, list writes one JSON object a line (JSON Lines: jq -s makes an\n"
    "array) and show one object with its claim state and recent sessions.\n";

static const struct owb_opt device_opts[] = {
    OWB_OPT_STR_("network", "NAME", struct device_cmd, network,
                 "assign: the network the devices get ('' clears it); list: only the devices on "
                 "it ('' for those on none)"),
    OWB_OPT_CHOICE_("suite", SUITE_CHOICES, struct device_cmd, suite,
                    "list: only the devices of this suite"),
    OWB_OPT_CHOICE_("state", STATE_CHOICES, struct device_cmd, state,
                    "list: only the devices never set up (no counter issued), issued (bundles "
                    "issued, never checked in) or online (checked in)"),
    OWB_OPT_FLAG_("locked", struct device_cmd, locked,
                  "list: only the devices whose claims are slowed down now by wrong claims "
                  "('device unlock' lifts it)"),
    OWB_OPT_CHOICE_("heard", HEARD_CHOICES, struct device_cmd, heard,
                    "list: only the devices whose last heartbeat is within two intervals "
                    "(online), older (stale), or that never sent one (never)"),
    OWB_OPT_FLAG_("json", struct device_cmd, json, "list and show: JSON (list: one object a line)"),
    OWB_ROLLOUT_OPTS(struct device_cmd, ro, "assign"),
};

#define IMPORT_BATCH 1024

/* A time as JSON: a number of seconds, null for never (0). */
static void json_time(cJSON *o, const char *key, int64_t t)
{
    if (t)
        cJSON_AddNumberToObject(o, key, (double)t);
    else
        cJSON_AddNullToObject(o, key);
}

/* online, stale or never, by the last heartbeat. */
static const char *heard_word(const struct owb_device_row *d, int64_t since)
{
    return !d->heard_at ? "never" : d->heard_at >= since ? "online" : "stale";
}

static void heartbeat_json(cJSON *o, const struct owb_device_row *d, int64_t since)
{
    cJSON_AddStringToObject(o, "heard", heard_word(d, since));
    json_time(o, "heard_at", d->heard_at);
    if (d->heard_at) {
        cJSON_AddStringToObject(o, "heard_from", d->heard_from);
        owb_json_add_u64(o, "running", d->running);
        owb_json_add_u64(o, "held", d->held);
        if (d->reason[0])
            cJSON_AddStringToObject(o, "reason", d->reason);
    }
}

/* What list --json writes for a device, and show --json starts from. */
static cJSON *device_json(const struct owb_device_row *d, int64_t since)
{
    cJSON *o = cJSON_CreateObject();

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", d->id);
    cJSON_AddStringToObject(o, "suite", owb_suite_name(d->suite));
    cJSON_AddStringToObject(o, "state", d->state);
    owb_json_add_u64(o, "counter", d->counter);
    if (d->network[0])
        cJSON_AddStringToObject(o, "network", d->network);
    else
        cJSON_AddNullToObject(o, "network");
    json_time(o, "created_at", d->created_at);
    json_time(o, "updated_at", d->updated_at);
    json_time(o, "online_at", d->online_at);
    heartbeat_json(o, d, since);
    return o;
}

/* Writes o on one line of stdout and frees it; false when it could not
 * be made (out of memory). */
static bool json_line(cJSON *o)
{
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    bool ok = text != NULL;

    if (ok) {
        fputs(text, stdout);
        fputc('\n', stdout);
    }
    cJSON_free(text);
    cJSON_Delete(o);
    return ok;
}

/* A listing under way: each device is written as it comes. */
struct list_out {
    bool json, failed;
    int64_t since; /* heard at or after: online */
};

static void print_device_line(void *ctx, const struct owb_device_row *d)
{
    struct list_out *lo = ctx;

    if (lo->json) {
        lo->failed |= !json_line(device_json(d, lo->since));
        return;
    }
    printf("%-32s counter=%-6llu state=%-7s network=%s suite=%s heard=%s\n", d->id,
           (unsigned long long)d->counter, d->state, d->network[0] ? d->network : "-",
           owb_suite_name(d->suite), heard_word(d, lo->since));
}

/* The claim guard: wrong claims in the current window, and until when the
 * device is slowed down (next_at > now). */
struct claims {
    bool read;
    unsigned attempts;
    int64_t next_at, now;
};

static struct claims read_claims(struct owb_srv *srv, const char *id)
{
    struct claims c = {.now = (int64_t)time(NULL)};

    c.read = srv->store->ops->claim_state(srv->store, id, 0, &c.attempts, &c.next_at) == OWB_OK;
    return c;
}

static void print_claim_state(const struct claims *c)
{
    char until[CLI_TIME_SIZE];

    if (!c->read) {
        printf("claims:     (cannot read)\n");
        return;
    }
    cli_time_format(until, c->next_at);
    if (c->next_at > c->now)
        printf("claims:     %u wrong claim(s) in the window; slowed down: next try after %s "
               "('device unlock' lifts it)\n",
               c->attempts, until);
    else
        printf("claims:     %u wrong claim(s) in the window; not slowed down\n", c->attempts);
}

/* Whether the row is what the master key vouched for, in words. */
static const char *row_verdict(const struct owb_master *m, const struct owb_device_row *d)
{
    const char *why = NULL;
    return owb_row_check_device(m, d, &why) == OWB_OK ? "matches its row MAC" : why;
}

static void print_device_full(const struct owb_master *m, const struct owb_device_row *d)
{
    char created[CLI_TIME_SIZE], updated[CLI_TIME_SIZE], online[CLI_TIME_SIZE];
    cli_time_format(created, d->created_at);
    cli_time_format(updated, d->updated_at);
    cli_time_format(online, d->online_at);
    printf("id:         %s\nsuite:      %s\nstate:      %s\ncounter:    %llu\nnetwork:    %s\n"
           "claim code: %s\nkey:        %s\ncreated:    %s\nupdated:    %s\n"
           "online:     %s\nrow:        %s\n",
           d->id, owb_suite_name(d->suite), d->state, (unsigned long long)d->counter,
           d->network[0] ? d->network : "-", d->has_claim ? "set (stored as a hash)" : "none",
           d->suite == OWB_SUITE_PK ? "public key only" : "(hidden)", created, updated, online,
           row_verdict(m, d));
}

static void print_heartbeat(const struct owb_device_row *d, int64_t since)
{
    char heard[CLI_TIME_SIZE];

    cli_time_format(heard, d->heard_at);
    if (!d->heard_at) {
        printf("heartbeat:  never\n");
        return;
    }
    printf("heartbeat:  %s, last %s from %s\nrunning:    %llu\nheld:       %llu%s%s\n",
           heard_word(d, since), heard, d->heard_from, (unsigned long long)d->running,
           (unsigned long long)d->held, d->reason[0] ? ", not running: " : "", d->reason);
}

/* A device's latest sessions, newest first. */
struct recent {
    bool read;
    struct owb_session_row rows[SHOW_SESSIONS];
    size_t n;
};

static void keep_session(void *ctx, const struct owb_session_row *row)
{
    struct recent *r = ctx;
    if (r->n < SHOW_SESSIONS)
        r->rows[r->n++] = *row;
}

static void print_sessions(const struct recent *r)
{
    if (!r->read) {
        printf("sessions:   (cannot read)\n");
        return;
    }
    printf("sessions:   %s\n", r->n ? "the latest, newest first" : "none");
    for (size_t i = 0; i < r->n; i++) {
        char created[CLI_TIME_SIZE], online[CLI_TIME_SIZE];
        cli_time_format(created, r->rows[i].created_at);
        cli_time_format(online, r->rows[i].online_at);
        printf("  counter=%-6llu mode=%-13s state=%-7s created=%s online=%s\n",
               (unsigned long long)r->rows[i].counter, r->rows[i].mode, r->rows[i].state, created,
               online);
    }
}

static cJSON *claims_json(const struct claims *c)
{
    cJSON *o = c->read ? cJSON_CreateObject() : cJSON_CreateNull();

    if (!o || !c->read)
        return o;
    cJSON_AddNumberToObject(o, "attempts", c->attempts);
    cJSON_AddBoolToObject(o, "slowed_down", c->next_at > c->now);
    json_time(o, "next_try_at", c->next_at > c->now ? c->next_at : 0);
    return o;
}

static cJSON *sessions_json(const struct recent *r)
{
    cJSON *a = r->read ? cJSON_CreateArray() : cJSON_CreateNull();

    for (size_t i = 0; a && r->read && i < r->n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        owb_json_add_u64(o, "counter", r->rows[i].counter);
        cJSON_AddStringToObject(o, "mode", r->rows[i].mode);
        cJSON_AddStringToObject(o, "state", r->rows[i].state);
        json_time(o, "created_at", r->rows[i].created_at);
        json_time(o, "online_at", r->rows[i].online_at);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* show --json: the row (never its key), whether it matches its MAC, the
 * claim guard and the latest sessions. */
static bool show_json(const struct owb_master *m, const struct owb_device_row *d,
                      const struct claims *c, const struct recent *r, int64_t since)
{
    cJSON *o = device_json(d, since);
    const char *verdict = row_verdict(m, d);

    if (o) {
        cJSON_AddBoolToObject(o, "claim_code", d->has_claim);
        cJSON_AddBoolToObject(o, "row_ok", strcmp(verdict, "matches its row MAC") == 0);
        cJSON_AddStringToObject(o, "row", verdict);
        cJSON_AddItemToObject(o, "claims", claims_json(c));
        cJSON_AddItemToObject(o, "sessions", sessions_json(r));
    }
    return json_line(o);
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

/* busy_ms: how long import_begin waited for another import (--busy-timeout). */
static int device_import(struct owb_srv *srv, const char *path, unsigned busy_ms)
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
    else if (rc == OWB_ERR_BUSY)
        fprintf(stderr,
                PROG " import: the database is busy with another import: another import is "
                     "running (waited %u ms, --busy-timeout); run this one again once it is "
                     "done\n",
                busy_ms);
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

/* Devices already set up that move to another network start a rollout. */
static int device_assign(struct owb_srv *srv, const char *const *ids, size_t n, const char *network,
                         const struct rollout_opts *ro)
{
    uint8_t(*macs)[OWB_ROW_MAC_BYTES] = calloc(n, sizeof *macs);
    const char **moved = calloc(n, sizeof *moved);
    char missing[OWB_DEVICE_ID_SIZE + OWB_NETWORK_NAME_MAX];
    const char *why = NULL;
    size_t n_moved = 0;
    enum owb_err rc = macs && moved ? OWB_OK : OWB_ERR_NOMEM;

    if (rc == OWB_OK)
        rc =
            assign_macs(srv, ids, n, network, macs, moved, &n_moved, missing, sizeof missing, &why);
    if (rc == OWB_OK)
        rc = srv->store->ops->device_assign(srv->store, ids, n, network[0] ? network : NULL,
                                            (const uint8_t(*)[OWB_ROW_MAC_BYTES])macs, missing);
    free(macs);
    if (rc == OWB_OK) {
        printf("%zu device(s) %s %s\n", n, network[0] ? "assigned to" : "cleared of",
               network[0] ? network : "their network");
        if (network[0] && n_moved)
            rc = rollout_start(srv, "assign", network, moved, n_moved, ro);
        free(moved);
        return rc == OWB_OK ? 0
                            : owb_cli_fail(PROG " assign",
                                           "rollout: %s; the assignment is done, but the %zu "
                                           "device(s) already set up were sent no rollout and "
                                           "keep their old network",
                                           owb_strerror(rc), n_moved);
    }
    free(moved);
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
    return cli_admin_open(&d->a) ? device_import(&d->a.srv, argv[0], d->a.db.busy_ms)
                                 : OWB_EXIT_FAIL;
}

static int verb_list(void *ctx, int argc, char **argv)
{
    struct device_cmd *d = ctx;
    struct owb_device_filter f = {.network = d->network,
                                  .suite = suite_names[d->suite],
                                  .state = state_names[d->state],
                                  .locked = d->locked,
                                  .now = cli_now(),
                                  .heard = heard_names[d->heard]};
    struct list_out lo = {.json = d->json};
    enum owb_err rc;

    (void)argc, (void)argv;
    if (!cli_admin_open(&d->a))
        return OWB_EXIT_FAIL;
    lo.since = f.heard_since = cli_online_since(&d->a.srv);
    rc = d->a.srv.store->ops->device_find(d->a.srv.store, &f, print_device_line, &lo);
    if (rc == OWB_OK && lo.failed)
        rc = OWB_ERR_NOMEM;
    /* A row that reads as invalid was named on stderr already. */
    if (rc != OWB_OK && rc != OWB_ERR_TAMPERED)
        owb_cli_fail(PROG " list", "%s", owb_strerror(rc));
    return rc == OWB_OK ? OWB_EXIT_OK : OWB_EXIT_FAIL;
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
    struct recent recent = {0};
    struct claims claims;
    int ret = open_device(d, argc, argv, &row);

    if (ret != OWB_CLI_RUN)
        return ret;
    claims = read_claims(&d->a.srv, row.id);
    recent.read = d->a.srv.store->ops->session_list(d->a.srv.store, row.id, SHOW_SESSIONS,
                                                    keep_session, &recent) == OWB_OK;
    if (d->json)
        return show_json(d->a.srv.master, &row, &claims, &recent, cli_online_since(&d->a.srv))
                   ? OWB_EXIT_OK
                   : OWB_EXIT_FAIL;
    print_device_full(d->a.srv.master, &row);
    print_heartbeat(&row, cli_online_since(&d->a.srv));
    print_claim_state(&claims);
    print_sessions(&recent);
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
    if (d->ro.batch && d->ro.percent)
        return owb_cli_usage_error(PROG, "--batch and --percent do not go together");
    if ((ret = open_for_ids(d, argc, argv)) != OWB_CLI_RUN)
        return ret;
    return device_assign(&d->a.srv, (const char *const *)argv, (size_t)argc, d->network, &d->ro);
}

static const struct owb_verb device_verbs[] = {
    {"import", "FILE", verb_import, "add the devices of a records file from owb-mint"},
    {"list", "", verb_list,
     "one line a device (--json: one JSON object a line); filters --network, --suite, --state, "
     "--heard, --locked"},
    {"show", "ID", verb_show,
     "a device's row (never its key), its claim attempts and latest sessions (--json)"},
    {"remove", "ID", verb_remove, "forget a device"},
    {"unlock", "ID", verb_unlock, "forget a device's wrong claim attempts"},
    {"assign", "ID...", verb_assign,
     "give devices a network (needs --network NAME); those set up get it by a rollout"},
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
