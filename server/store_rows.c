/* Statement parameters and the row decoders, for both storage backends
 * (store_i.h): each row type is read in one place, by column index over
 * the backend's column getters. */
#include "store_i.h"

#include <stdio.h>
#include <string.h>

static void arg(struct owb_store_args *a, enum owb_arg_kind kind, const void *p, size_t len,
                int64_t i)
{
    if (a->n >= OWB_ARGS_MAX)
        return; /* a statement's parameters are fixed; more is a bug caught by its test */
    a->v[a->n].kind = kind;
    a->v[a->n].p = p ? p : "";
    a->v[a->n].len = len;
    a->v[a->n].i = i;
    a->n++;
}

void owb_arg_text(struct owb_store_args *a, const char *t)
{
    arg(a, t ? OWB_ARG_TEXT : OWB_ARG_NULL, t, t ? strlen(t) : 0, 0);
}

/* A zero-length value is empty bytes, not SQL NULL (a pk device's absent
 * key). */
void owb_arg_blob(struct owb_store_args *a, const void *p, size_t len)
{
    arg(a, OWB_ARG_BLOB, p, len, 0);
}

void owb_arg_i64(struct owb_store_args *a, int64_t v)
{
    arg(a, OWB_ARG_I64, NULL, 0, v);
}

void owb_arg_bool(struct owb_store_args *a, bool v)
{
    arg(a, OWB_ARG_BOOL, NULL, 0, v);
}

void owb_arg_null(struct owb_store_args *a)
{
    arg(a, OWB_ARG_NULL, NULL, 0, 0);
}

void owb_store_import_args(const struct owb_import_item *it, struct owb_store_args *a)
{
    bool pk = it->suite == OWB_SUITE_PK;

    a->n = 0;
    owb_arg_text(a, it->id);
    /* A pk device has no sealed key: empty bytes (the column is NOT NULL). */
    owb_arg_blob(a, it->sealed_key.bytes, pk ? 0 : it->sealed_key.len);
    owb_arg_blob(a, it->key_fp, OWB_FP_BYTES);
    if (it->has_claim)
        owb_arg_blob(a, it->claim_hash, OWB_HASH_BYTES);
    else
        owb_arg_null(a);
    owb_arg_text(a, owb_suite_name(pk ? OWB_SUITE_PK : OWB_SUITE_SYM));
    if (pk) {
        owb_arg_blob(a, it->public_key, sizeof it->public_key);
        owb_arg_blob(a, it->sealed_ap.bytes, it->sealed_ap.len);
    } else {
        owb_arg_null(a);
        owb_arg_null(a);
    }
    owb_arg_blob(a, it->row_mac, OWB_ROW_MAC_BYTES);
}

void owb_store_network_args(const struct owb_network_row *row, struct owb_store_args *a)
{
    a->n = 0;
    owb_arg_text(a, row->name);
    owb_arg_text(a, row->ssid);
    owb_arg_text(a, owb_security_name(row->security));
    if (row->sealed_psk.len)
        owb_arg_blob(a, row->sealed_psk.bytes, row->sealed_psk.len);
    else
        owb_arg_null(a);
    owb_arg_bool(a, row->hidden);
    owb_arg_i64(a, row->created_at);
    owb_arg_blob(a, row->row_mac, OWB_ROW_MAC_BYTES);
}

/* One row being read; bad names the first column that held what this
 * server never writes. */
struct rd {
    const struct owb_store_cols *c;
    void *res;
    const char *bad;
};

/* Starts reading a row into out (size bytes, cleared). */
static struct rd rd_start(const struct owb_store_cols *c, void *res, void *out, size_t size)
{
    memset(out, 0, size);
    return (struct rd){c, res, NULL};
}

/* A column that must hold a name the server knows (ok), else the row is
 * invalid. */
static void rd_known(struct rd *r, bool ok, const char *name)
{
    if (!ok && !r->bad)
        r->bad = name;
}

/* A text column as it is, "" for NULL. */
static const char *rd_str(struct rd *r, int col)
{
    const char *t = r->c->text(r->res, col);
    return t ? t : "";
}

static void rd_text(struct rd *r, int col, const char *name, char *dst, size_t cap)
{
    const char *t = r->c->text(r->res, col);
    size_t n = t ? strlen(t) : 0;

    if (n >= cap) {
        n = 0;
        r->bad = r->bad ? r->bad : name;
    }
    if (n)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

/* Bytes of at most cap. */
static void rd_blob(struct rd *r, int col, const char *name, uint8_t *dst, size_t cap, size_t *len)
{
    size_t n = 0;
    const uint8_t *b = r->c->blob(r->res, col, &n);

    if (!b) {
        n = 0;
    } else if (n > cap) {
        n = 0;
        r->bad = r->bad ? r->bad : name;
    }
    if (n)
        memcpy(dst, b, n);
    if (len)
        *len = n;
}

/* A hash or a MAC: present only when the column holds exactly one. */
static bool rd_exact(struct rd *r, int col, uint8_t *dst, size_t want)
{
    size_t n = 0;
    const uint8_t *b = r->c->blob(r->res, col, &n);

    if (!b || n != want)
        return false;
    memcpy(dst, b, want);
    return true;
}

/* The outcome of reading row (size bytes), named by key (inside it). */
static enum owb_err rd_end(struct rd *r, const char *table, const char *key, void *row, size_t size)
{
    if (!r->bad)
        return OWB_OK;
    fprintf(stderr,
            "owb-server: %s row %s holds a %s this server never writes; refusing to use it\n",
            table, key, r->bad);
    /* Nothing of it is left to be used by mistake. */
    memset(row, 0, size);
    return OWB_ERR_TAMPERED;
}

enum owb_err owb_store_read_device(const struct owb_store_cols *c, void *res,
                                   struct owb_device_row *row)
{
    struct rd r = rd_start(c, res, row, sizeof *row);

    rd_text(&r, 0, "id", row->id, sizeof row->id);
    rd_blob(&r, 1, "sealed_key", row->sealed_key.bytes, sizeof row->sealed_key.bytes,
            &row->sealed_key.len);
    row->has_claim = rd_exact(&r, 2, row->claim_hash, OWB_HASH_BYTES);
    row->counter = (uint64_t)c->i64(res, 3);
    rd_text(&r, 4, "network", row->network, sizeof row->network);
    rd_text(&r, 5, "state", row->state, sizeof row->state);
    row->created_at = c->i64(res, 6);
    row->updated_at = c->i64(res, 7);
    row->online_at = c->i64(res, 8);
    rd_known(&r, owb_suite_parse(rd_str(&r, 9), &row->suite) == OWB_OK, "suite");
    rd_blob(&r, 10, "public_key", row->public_key, sizeof row->public_key, NULL);
    rd_blob(&r, 11, "sealed_ap", row->sealed_ap.bytes, sizeof row->sealed_ap.bytes,
            &row->sealed_ap.len);
    row->has_mac = rd_exact(&r, 12, row->row_mac, OWB_ROW_MAC_BYTES);
    row->heard_at = c->i64(res, 13);
    rd_text(&r, 14, "heard_from", row->heard_from, sizeof row->heard_from);
    row->running = (uint64_t)c->i64(res, 15);
    row->held = (uint64_t)c->i64(res, 16);
    rd_text(&r, 17, "hb_reason", row->reason, sizeof row->reason);
    return rd_end(&r, "devices", row->id, row, sizeof *row);
}

enum owb_err owb_store_read_network(const struct owb_store_cols *c, void *res,
                                    struct owb_network_row *row)
{
    struct rd r = rd_start(c, res, row, sizeof *row);

    rd_text(&r, 0, "name", row->name, sizeof row->name);
    rd_text(&r, 1, "ssid", row->ssid, sizeof row->ssid);
    /* An unknown security is no guess: "open" would hand out an open
     * network, anything else a PSK the network may not take. */
    rd_known(&r, owb_security_parse(rd_str(&r, 2), &row->security) == OWB_OK, "security");
    rd_blob(&r, 3, "sealed_psk", row->sealed_psk.bytes, sizeof row->sealed_psk.bytes,
            &row->sealed_psk.len);
    row->hidden = c->i64(res, 4) != 0;
    row->created_at = c->i64(res, 5);
    row->has_mac = rd_exact(&r, 6, row->row_mac, OWB_ROW_MAC_BYTES);
    return rd_end(&r, "networks", row->name, row, sizeof *row);
}

enum owb_err owb_store_read_session(const struct owb_store_cols *c, void *res,
                                    struct owb_session_row *row)
{
    struct rd r = rd_start(c, res, row, sizeof *row);

    rd_text(&r, 0, "device_id", row->device_id, sizeof row->device_id);
    row->counter = (uint64_t)c->i64(res, 1);
    rd_text(&r, 2, "mode", row->mode, sizeof row->mode);
    rd_text(&r, 3, "state", row->state, sizeof row->state);
    row->created_at = c->i64(res, 4);
    row->online_at = c->i64(res, 5);
    return rd_end(&r, "sessions", row->device_id, row, sizeof *row);
}

enum owb_err owb_store_read_token(const struct owb_store_cols *c, void *res,
                                  struct owb_token_row *row)
{
    struct rd r = rd_start(c, res, row, sizeof *row);

    row->id = c->i64(res, 0);
    rd_text(&r, 1, "label", row->label, sizeof row->label);
    row->created_at = c->i64(res, 2);
    row->revoked_at = c->i64(res, 3);
    return rd_end(&r, "tokens", row->label, row, sizeof *row);
}

enum owb_err owb_store_read_rollout(const struct owb_store_cols *c, void *res,
                                    struct owb_rollout_row *row)
{
    struct rd r = rd_start(c, res, row, sizeof *row);
    char key[24];

    row->id = c->i64(res, 0);
    rd_text(&r, 1, "kind", row->kind, sizeof row->kind);
    rd_text(&r, 2, "network", row->network, sizeof row->network);
    rd_text(&r, 3, "state", row->state, sizeof row->state);
    row->wave = c->i64(res, 4);
    row->waves = c->i64(res, 5);
    row->batch = c->i64(res, 6);
    row->created_at = c->i64(res, 7);
    row->updated_at = c->i64(res, 8);
    snprintf(key, sizeof key, "%lld", (long long)row->id);
    return rd_end(&r, "rollouts", key, row, sizeof *row);
}

enum owb_err owb_store_read_member(const struct owb_store_cols *c, void *res,
                                   struct owb_rollout_member *row)
{
    struct rd r = rd_start(c, res, row, sizeof *row);

    rd_text(&r, 0, "device_id", row->device_id, sizeof row->device_id);
    row->wave = c->i64(res, 1);
    rd_text(&r, 2, "state", row->state, sizeof row->state);
    row->counter = (uint64_t)c->i64(res, 3);
    rd_text(&r, 4, "reason", row->reason, sizeof row->reason);
    row->issued_at = c->i64(res, 5);
    row->updated_at = c->i64(res, 6);
    row->heard_at = c->i64(res, 7);
    row->running = (uint64_t)c->i64(res, 8);
    row->held = (uint64_t)c->i64(res, 9);
    return rd_end(&r, "rollout_devices", row->device_id, row, sizeof *row);
}

/* --- columns further along a row --- */

static const char *shift_text(void *res, int col)
{
    const struct owb_store_shift *s = res;
    return s->c->text(s->res, s->by + col);
}

static const uint8_t *shift_blob(void *res, int col, size_t *len)
{
    const struct owb_store_shift *s = res;
    return s->c->blob(s->res, s->by + col, len);
}

static int64_t shift_i64(void *res, int col)
{
    const struct owb_store_shift *s = res;
    return s->c->i64(s->res, s->by + col);
}

static bool shift_null(void *res, int col)
{
    const struct owb_store_shift *s = res;
    return s->c->null(s->res, s->by + col);
}

const struct owb_store_cols owb_store_shifted = {shift_text, shift_blob, shift_i64, shift_null};

int owb_store_ncols(const char *list)
{
    int n = 1;

    for (; *list; list++)
        n += *list == ',';
    return n;
}
