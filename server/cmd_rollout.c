/* owb-server rollout status|pause|resume|abort: following the rollouts
 * 'network update' and 'device assign' start (docs/server.md,
 * "Rollouts"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "owb/httpd.h"
#include "owb/json.h"

#define PROG "owb-server rollout"

struct rollout_cmd {
    struct cli_admin a;
    bool json;
};

static const char rollout_about[] =
    "A device in a rollout is:\n"
    "  waiting          in a later wave, not released yet;\n"
    "  pending          released; its bundle is sent in the answer to its next\n"
    "                   heartbeat, or was sent and it has not said it runs it;\n"
    "  not heard from   released, and no heartbeat since the rollout started;\n"
    "  applied          it runs the new settings;\n"
    "  failed: R (retrying)  it holds them but they do not work yet (R: why);\n"
    "                   it keeps the old ones and tries again after a heartbeat,\n"
    "                   waiting longer after each failure (up to 8 heartbeats);\n"
    "  needs a person   set up app-sealed: the server never had its password;\n"
    "  superseded       a newer rollout took it over;\n"
    "  aborted          the rollout was aborted before it applied.\n"
    "A wave is released once every device of the one before has applied or\n"
    "failed. pause stops sending bundles (resume goes on); abort stops for good.\n";

static const struct owb_opt rollout_opts[] = {
    OWB_OPT_FLAG_("json", struct rollout_cmd, json, "status: JSON"),
};

/* What status says of a device, and the bucket it is counted in. */
enum bucket {
    B_WAITING,
    B_PENDING,
    B_NOT_HEARD,
    B_APPLIED,
    B_FAILED,
    B_PERSON,
    B_SUPERSEDED,
    B_ABORTED,
    B__COUNT
};
static const char *const bucket_names[B__COUNT] = {"waiting",    "pending", "not_heard_from",
                                                   "applied",    "failed",  "needs_person",
                                                   "superseded", "aborted"};

static enum bucket bucket_of(const struct owb_rollout_row *ro, const struct owb_rollout_member *m)
{
    if (strcmp(m->state, "person") == 0)
        return B_PERSON;
    if (strcmp(m->state, "superseded") == 0)
        return B_SUPERSEDED;
    if (strcmp(m->state, "applied") == 0)
        return B_APPLIED;
    if (strcmp(m->state, "failed") == 0)
        return B_FAILED;
    if (strcmp(ro->state, "aborted") == 0)
        return B_ABORTED;
    if (m->wave > ro->wave)
        return B_WAITING;
    return m->heard_at < ro->created_at ? B_NOT_HEARD : B_PENDING;
}

static void describe(enum bucket b, const struct owb_rollout_member *m, char *out, size_t cap)
{
    if (b == B_FAILED)
        snprintf(out, cap, "failed: %s (retrying)", m->reason[0] ? m->reason : "unknown");
    else if (b == B_PERSON)
        snprintf(out, cap, "needs a person (set up app-sealed)");
    else if (b == B_NOT_HEARD)
        snprintf(out, cap, "not heard from");
    else
        snprintf(out, cap, "%s", bucket_names[b]);
}

/* A rollout's devices are never held in memory together (a rollout may
 * move a million): one pass counts them for the header, a second prints
 * each as it is read. A device that changes between the passes may be
 * counted in one bucket and listed in another. */
struct roster {
    const struct owb_rollout_row *ro;
    size_t counts[B__COUNT];
    size_t printed;
    bool json, failed;
};

static void count_member(void *ctx, const struct owb_rollout_member *m)
{
    struct roster *r = ctx;

    r->counts[bucket_of(r->ro, m)]++;
}

static void print_counts(const struct roster *r)
{
    for (int b = 0; b < B__COUNT; b++)
        if (r->counts[b])
            printf(" %s=%zu", bucket_names[b], r->counts[b]);
    printf("\n");
}

static void print_header(const struct owb_rollout_row *ro, const struct roster *r)
{
    printf("rollout %lld: %s %s, %s, wave %lld of %lld (up to %lld a wave):", (long long)ro->id,
           ro->kind, ro->network, ro->state, (long long)ro->wave + 1, (long long)ro->waves,
           (long long)ro->batch);
    print_counts(r);
}

static cJSON *member_json(const struct owb_rollout_row *ro, const struct owb_rollout_member *m)
{
    cJSON *o = cJSON_CreateObject();
    enum bucket b = bucket_of(ro, m);

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", m->device_id);
    cJSON_AddNumberToObject(o, "wave", (double)m->wave + 1);
    cJSON_AddStringToObject(o, "status", bucket_names[b]);
    if (b == B_FAILED)
        cJSON_AddStringToObject(o, "reason", m->reason);
    owb_json_add_u64(o, "counter", m->counter);
    owb_json_add_u64(o, "running", m->running);
    owb_json_add_u64(o, "held", m->held);
    if (m->heard_at)
        cJSON_AddNumberToObject(o, "heard_at", (double)m->heard_at);
    else
        cJSON_AddNullToObject(o, "heard_at");
    return o;
}

static void print_member(void *ctx, const struct owb_rollout_member *m)
{
    struct roster *r = ctx;
    char what[64], *text;
    cJSON *o;

    if (!r->json) {
        describe(bucket_of(r->ro, m), m, what, sizeof what);
        printf("  %-32s wave=%-3lld counter=%-6llu running=%-6llu held=%-6llu %s\n", m->device_id,
               (long long)m->wave + 1, (unsigned long long)m->counter,
               (unsigned long long)m->running, (unsigned long long)m->held, what);
        return;
    }
    o = member_json(r->ro, m);
    text = o ? cJSON_PrintUnformatted(o) : NULL;
    if (text)
        printf("%s%s", r->printed++ ? "," : "", text);
    else
        r->failed = true;
    cJSON_free(text);
    cJSON_Delete(o);
}

/* The JSON object without its devices, its closing brace left off so that
 * the devices can follow as they are read. */
static bool json_head(const struct owb_rollout_row *ro, const struct roster *r)
{
    cJSON *o = cJSON_CreateObject(), *counts;
    char *text;
    bool ok;

    if (!o)
        return false;
    cJSON_AddNumberToObject(o, "id", (double)ro->id);
    cJSON_AddStringToObject(o, "kind", ro->kind);
    cJSON_AddStringToObject(o, "network", ro->network);
    cJSON_AddStringToObject(o, "state", ro->state);
    cJSON_AddNumberToObject(o, "wave", (double)ro->wave + 1);
    cJSON_AddNumberToObject(o, "waves", (double)ro->waves);
    cJSON_AddNumberToObject(o, "batch", (double)ro->batch);
    cJSON_AddNumberToObject(o, "created_at", (double)ro->created_at);
    counts = cJSON_AddObjectToObject(o, "counts");
    for (int b = 0; counts && b < B__COUNT; b++)
        cJSON_AddNumberToObject(counts, bucket_names[b], (double)r->counts[b]);
    text = cJSON_PrintUnformatted(o);
    ok = text != NULL && counts != NULL;
    if (ok)
        printf("%.*s,\"devices\":[", (int)strlen(text) - 1, text);
    cJSON_free(text);
    cJSON_Delete(o);
    return ok;
}

/* One rollout: its header, counts and devices (or JSON). */
static int show_one(struct rollout_cmd *c, const struct owb_rollout_row *ro, bool members)
{
    struct owb_store *st = c->a.srv.store;
    struct roster r = {.ro = ro, .json = c->json};
    enum owb_err rc = st->ops->rollout_members(st, ro->id, count_member, &r);
    bool head = false;

    if (rc == OWB_OK && c->json) {
        head = json_head(ro, &r);
        rc = head ? OWB_OK : OWB_ERR_NOMEM;
    } else if (rc == OWB_OK) {
        print_header(ro, &r);
    }
    /* JSON always lists the devices; text only for one rollout. */
    if (rc == OWB_OK && (members || c->json))
        rc = st->ops->rollout_members(st, ro->id, print_member, &r);
    if (rc == OWB_OK && r.failed)
        rc = OWB_ERR_NOMEM;
    if (head)
        printf("]}\n");
    if (rc != OWB_OK)
        return owb_cli_fail(PROG " status", "rollout %lld: %s", (long long)ro->id,
                            owb_strerror(rc));
    return OWB_EXIT_OK;
}

/* argv[0] as a rollout id; 0 when it is not one. */
static int64_t parse_id(const char *s)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    return end && *end == '\0' && v > 0 ? (int64_t)v : 0;
}

/* Every rollout, newest first, read whole before each is shown: a store
 * call inside a listing would wait for the connection the listing holds. */
struct all {
    struct owb_rollout_row *rows;
    size_t n, cap;
    bool failed;
};

static void keep_rollout(void *ctx, const struct owb_rollout_row *row)
{
    struct all *a = ctx;

    if (!cli_grow((void **)&a->rows, &a->cap, a->n, sizeof *a->rows)) {
        a->failed = true;
        return;
    }
    a->rows[a->n++] = *row;
}

static int show_all(struct rollout_cmd *c)
{
    struct all all = {0};
    enum owb_err rc = c->a.srv.store->ops->rollout_list(c->a.srv.store, keep_rollout, &all);
    int ret = OWB_EXIT_OK;

    if (rc == OWB_OK && all.failed)
        rc = OWB_ERR_NOMEM;
    if (rc != OWB_OK)
        ret = owb_cli_fail(PROG " status", "%s", owb_strerror(rc));
    else if (all.n == 0)
        printf("no rollouts\n");
    for (size_t i = 0; rc == OWB_OK && i < all.n; i++)
        if (show_one(c, &all.rows[i], false) != OWB_EXIT_OK)
            ret = OWB_EXIT_FAIL;
    free(all.rows);
    return ret;
}

static int verb_status(void *ctx, int argc, char **argv)
{
    struct rollout_cmd *c = ctx;
    struct owb_rollout_row ro;
    int64_t id = argc > 0 ? parse_id(argv[0]) : 0;
    enum owb_err rc;

    if (argc > 1 || (argc == 1 && !id))
        return owb_cli_usage_error(PROG, "status takes a rollout id, or none for all");
    if (!cli_admin_open(&c->a))
        return OWB_EXIT_FAIL;
    if (!id)
        return show_all(c);
    rc = c->a.srv.store->ops->rollout_get(c->a.srv.store, id, &ro);
    if (rc != OWB_OK)
        return owb_cli_fail(PROG " status", "rollout %lld: %s", (long long)id,
                            rc == OWB_ERR_NOENT ? "no such rollout" : owb_strerror(rc));
    return show_one(c, &ro, true);
}

/* pause, resume, abort: a state change from the states it may leave. */
static int change_state(struct rollout_cmd *c, const char *arg, const char *from, const char *state,
                        const char *done)
{
    int64_t id = parse_id(arg);
    enum owb_err rc;

    if (!id)
        return owb_cli_usage_error(PROG, "'%s' is not a rollout id", arg);
    if (!cli_admin_open(&c->a))
        return OWB_EXIT_FAIL;
    rc = c->a.srv.store->ops->rollout_set_state(c->a.srv.store, id, from, state, cli_now());
    if (rc == OWB_ERR_CONFLICT)
        return owb_cli_fail(PROG, "rollout %lld is not %s", (long long)id,
                            strcmp(from, "running") == 0 ? "running" : from);
    if (rc != OWB_OK)
        return owb_cli_fail(PROG, "rollout %lld: %s", (long long)id,
                            rc == OWB_ERR_NOENT ? "no such rollout" : owb_strerror(rc));
    printf("rollout %lld %s\n", (long long)id, done);
    return OWB_EXIT_OK;
}

static int verb_pause(void *ctx, int argc, char **argv)
{
    (void)argc;
    return change_state(ctx, argv[0], "running", "paused",
                        "paused: no bundle is sent until resume");
}

static int verb_resume(void *ctx, int argc, char **argv)
{
    (void)argc;
    return change_state(ctx, argv[0], "paused", "running", "resumed");
}

static int verb_abort(void *ctx, int argc, char **argv)
{
    (void)argc;
    return change_state(ctx, argv[0], "running,paused", "aborted",
                        "aborted: nothing more is sent (devices that applied keep the new "
                        "settings)");
}

static const struct owb_verb rollout_verbs[] = {
    {"status", "[ID]", verb_status,
     "a rollout's counts and devices; without ID a line for each rollout (--json)"},
    {"pause", "ID", verb_pause, "stop sending a rollout's bundles for now"},
    {"resume", "ID", verb_resume, "go on with a paused rollout"},
    {"abort", "ID", verb_abort, "stop a rollout for good"},
};

static const struct cli_admin_cmd rollout_spec = {.prog = PROG,
                                                  .about = rollout_about,
                                                  .verbs = rollout_verbs,
                                                  .n_verbs = OWB_ARRAY_LEN(rollout_verbs),
                                                  .opts = rollout_opts,
                                                  .n_opts = OWB_ARRAY_LEN(rollout_opts),
                                                  .db_use = CLI_DB_ADMIN};

int cmd_rollout_main(int argc, char **argv)
{
    struct rollout_cmd c = {0};
    return cli_admin_main(&rollout_spec, &c.a, &c, argc, argv);
}
