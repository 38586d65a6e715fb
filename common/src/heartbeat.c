#include "owb/heartbeat.h"

#include <string.h>

#include <sodium.h>

#include "bytes_i.h"
#include "jsonw_i.h"
#include "owb/base64.h"
#include "owb/json.h"
#include "prefix_i.h"
#include "proof_i.h"

#define COUNTER_LIMIT (UINT64_C(1) << 53)

static const char *const reason_names[] = {"",
                                           "wrong_password",
                                           "network_not_found",
                                           "no_ip",
                                           "server_unreachable",
                                           "apply_failed",
                                           "not_recorded"};

const char *owb_hb_reason_name(enum owb_hb_reason r)
{
    return (unsigned)r < sizeof reason_names / sizeof reason_names[0] ? reason_names[r] : "";
}

enum owb_err owb_hb_reason_parse(const char *name, enum owb_hb_reason *out)
{
    for (size_t i = 1; name && i < sizeof reason_names / sizeof reason_names[0]; i++) {
        if (strcmp(name, reason_names[i]) == 0) {
            *out = (enum owb_hb_reason)i;
            return OWB_OK;
        }
    }
    return OWB_ERR_BAD_REQUEST;
}

enum owb_err owb_heartbeat_check(const struct owb_heartbeat *hb)
{
    if (hb->running >= COUNTER_LIMIT || hb->held >= COUNTER_LIMIT || hb->held < hb->running)
        return OWB_ERR_BAD_REQUEST;
    if ((hb->held == hb->running) != (hb->reason == OWB_HB_RUNNING))
        return OWB_ERR_BAD_REQUEST;
    if ((unsigned)hb->reason > OWB_HB_NOT_RECORDED)
        return OWB_ERR_BAD_REQUEST;
    return OWB_OK;
}

enum owb_err owb_heartbeat_message(enum owb_suite suite, const char *device_id,
                                   const struct owb_heartbeat *hb, uint8_t *msg, size_t cap,
                                   size_t *len)
{
    size_t n = 0;
    enum owb_err rc;

    *len = 0;
    rc = owb_heartbeat_check(hb);
    if (rc == OWB_OK)
        rc = owb_prefix_write(suite, 'H', device_id, msg, cap, &n);
    if (rc != OWB_OK)
        return rc;
    if (cap - n < 8 + 8 + 1 + OWB_HEARTBEAT_CHALLENGE_BYTES)
        return OWB_ERR_SPACE;
    owb_store_be64(msg + n, hb->running);
    owb_store_be64(msg + n + 8, hb->held);
    msg[n + 16] = (uint8_t)hb->reason;
    memcpy(msg + n + 17, hb->challenge, OWB_HEARTBEAT_CHALLENGE_BYTES);
    *len = n + 17 + OWB_HEARTBEAT_CHALLENGE_BYTES;
    return OWB_OK;
}

/* The message for (suite, id, hb), then the proof op over it. */
static enum owb_err prove(enum owb_proof_op op, enum owb_suite suite, const uint8_t *key,
                          const char *device_id, const struct owb_heartbeat *hb, uint8_t *proof)
{
    uint8_t msg[OWB_HEARTBEAT_MSG_MAX];
    size_t len;
    enum owb_err rc = owb_heartbeat_message(suite, device_id, hb, msg, sizeof msg, &len);

    return rc == OWB_OK ? owb_proof_run(op, key, msg, len, proof) : rc;
}

enum owb_err owb_heartbeat_mac(const uint8_t checkin_key[static 32], const char *device_id,
                               const struct owb_heartbeat *hb,
                               uint8_t mac[static OWB_HEARTBEAT_MAC_BYTES])
{
    return prove(OWB_PROOF_MAC, OWB_SUITE_SYM, checkin_key, device_id, hb, mac);
}

enum owb_err owb_heartbeat_verify(const uint8_t checkin_key[static 32], const char *device_id,
                                  const struct owb_heartbeat *hb,
                                  const uint8_t mac[static OWB_HEARTBEAT_MAC_BYTES])
{
    return prove(OWB_PROOF_MAC_CHECK, OWB_SUITE_SYM, checkin_key, device_id, hb,
                 (uint8_t *)(uintptr_t)mac);
}

enum owb_err owb_pk_heartbeat_sign(const uint8_t device_sk[static OWB_PK_SECRET_KEY_BYTES],
                                   const char *device_id, const struct owb_heartbeat *hb,
                                   uint8_t sig[static OWB_PK_SIGNATURE_BYTES])
{
    return prove(OWB_PROOF_SIGN, OWB_SUITE_PK, device_sk, device_id, hb, sig);
}

enum owb_err owb_pk_heartbeat_verify(const uint8_t device_pk[static OWB_PK_PUBLIC_KEY_BYTES],
                                     const char *device_id, const struct owb_heartbeat *hb,
                                     const uint8_t sig[static OWB_PK_SIGNATURE_BYTES])
{
    return prove(OWB_PROOF_SIGN_CHECK, OWB_SUITE_PK, device_pk, device_id, hb,
                 (uint8_t *)(uintptr_t)sig);
}

static size_t proof_len(enum owb_suite suite)
{
    return suite == OWB_SUITE_PK ? OWB_PK_SIGNATURE_BYTES : OWB_HEARTBEAT_MAC_BYTES;
}

/* "name":"<base64url of n bytes>" */
static void put_b64(struct owb_jw *w, const char *name, const uint8_t *bin, size_t n)
{
    char b64[OWB_B64_ENCODED_SIZE(OWB_BUNDLE_MAX)];

    owb_jw_raw(w, name);
    if (owb_b64_encode(bin, n, b64, sizeof b64) != OWB_OK)
        w->overflow = true;
    else
        owb_jw_string(w, b64, strlen(b64));
    sodium_memzero(b64, sizeof b64);
}

enum owb_err owb_heartbeat_request_write(enum owb_suite suite, const struct owb_heartbeat *hb,
                                         const uint8_t *proof, char *out, size_t cap, size_t *len)
{
    struct owb_jw w;
    enum owb_err rc = owb_heartbeat_check(hb);

    *len = 0;
    if (rc != OWB_OK)
        return rc;
    owb_jw_init(&w, out, cap);
    owb_jw_raw(&w, "{\"running\":");
    owb_jw_int(&w, (int64_t)hb->running);
    owb_jw_raw(&w, ",\"held\":");
    owb_jw_int(&w, (int64_t)hb->held);
    if (hb->reason != OWB_HB_RUNNING) {
        owb_jw_raw(&w, ",\"reason\":");
        owb_jw_string(&w, owb_hb_reason_name(hb->reason), strlen(owb_hb_reason_name(hb->reason)));
    }
    put_b64(&w, ",\"challenge\":", hb->challenge, OWB_HEARTBEAT_CHALLENGE_BYTES);
    put_b64(&w, suite == OWB_SUITE_PK ? ",\"signature\":" : ",\"mac\":", proof, proof_len(suite));
    owb_jw_raw(&w, "}");
    return owb_jw_finish(&w, len);
}

/* A member that must be base64url of exactly n bytes. */
static enum owb_err get_b64(const cJSON *o, const char *key, uint8_t *out, size_t n)
{
    const char *s = owb_json_string(o, key);
    return s && owb_b64_decode_exact(s, strlen(s), out, n) == OWB_OK ? OWB_OK : OWB_ERR_BAD_REQUEST;
}

enum owb_err owb_heartbeat_request_parse(const char *body, size_t len, enum owb_suite suite,
                                         struct owb_heartbeat *hb,
                                         uint8_t proof[static OWB_PK_SIGNATURE_BYTES])
{
    cJSON *root = NULL;
    const char *reason;
    const char *other = suite == OWB_SUITE_PK ? "mac" : "signature";
    enum owb_err rc = OWB_ERR_BAD_REQUEST;

    memset(hb, 0, sizeof *hb);
    if (len > OWB_HEARTBEAT_REQUEST_MAX || owb_json_parse(body, len, &root) != OWB_OK ||
        !cJSON_IsObject(root) || cJSON_HasObjectItem(root, other))
        goto out;
    if (owb_json_uint(root, "running", &hb->running) != OWB_OK ||
        owb_json_uint(root, "held", &hb->held) != OWB_OK)
        goto out;
    reason = owb_json_string(root, "reason");
    if (cJSON_HasObjectItem(root, "reason") &&
        (!reason || owb_hb_reason_parse(reason, &hb->reason) != OWB_OK))
        goto out;
    if (get_b64(root, "challenge", hb->challenge, OWB_HEARTBEAT_CHALLENGE_BYTES) != OWB_OK ||
        get_b64(root, suite == OWB_SUITE_PK ? "signature" : "mac", proof, proof_len(suite)) !=
            OWB_OK)
        goto out;
    rc = owb_heartbeat_check(hb);
out:
    cJSON_Delete(root);
    if (rc != OWB_OK)
        memset(hb, 0, sizeof *hb);
    return rc;
}

enum owb_err owb_heartbeat_answer_write(const struct owb_heartbeat_answer *a, char *out, size_t cap,
                                        size_t *len)
{
    struct owb_jw w;
    enum owb_err rc;

    *len = 0;
    /* The parser refuses what the server never issues. */
    if (owb_heartbeat_challenge_none(a->challenge))
        return OWB_ERR_INVALID_ARG;
    owb_jw_init(&w, out, cap);
    owb_jw_raw(&w, "{");
    if (a->heartbeat_s) {
        owb_jw_raw(&w, "\"heartbeat_s\":");
        owb_jw_int(&w, (int64_t)a->heartbeat_s);
        owb_jw_raw(&w, ",");
    }
    put_b64(&w, "\"challenge\":", a->challenge, OWB_HEARTBEAT_CHALLENGE_BYTES);
    if (a->has_rollout) {
        owb_jw_raw(&w, ",\"rollout\":{\"counter\":");
        owb_jw_int(&w, (int64_t)a->counter);
        put_b64(&w, ",\"bundle\":", a->bundle, a->bundle_len);
        put_b64(&w, ",\"app_key\":", a->app_key, OWB_APP_KEY_BYTES);
        owb_jw_raw(&w, "}");
    }
    owb_jw_raw(&w, "}");
    rc = owb_jw_finish(&w, len);
    if (rc != OWB_OK)
        sodium_memzero(out, cap); /* a cut-off app key is still a secret */
    return rc;
}

bool owb_heartbeat_challenge_none(const uint8_t c[static OWB_HEARTBEAT_CHALLENGE_BYTES])
{
    return sodium_is_zero(c, OWB_HEARTBEAT_CHALLENGE_BYTES);
}

/* "challenge": 16 bytes, not all zero (the value no server issues). */
static enum owb_err get_challenge(const cJSON *o, uint8_t c[static OWB_HEARTBEAT_CHALLENGE_BYTES])
{
    if (get_b64(o, "challenge", c, OWB_HEARTBEAT_CHALLENGE_BYTES) != OWB_OK ||
        owb_heartbeat_challenge_none(c))
        return OWB_ERR_BAD_REQUEST;
    return OWB_OK;
}

static enum owb_err parse_rollout(const cJSON *r, const char *device_id,
                                  struct owb_heartbeat_answer *a)
{
    struct owb_bundle_header h;
    const char *b = owb_json_string(r, "bundle");

    if (!cJSON_IsObject(r) || owb_json_uint(r, "counter", &a->counter) != OWB_OK || !b ||
        owb_b64_decode(b, strlen(b), a->bundle, sizeof a->bundle, &a->bundle_len) != OWB_OK ||
        get_b64(r, "app_key", a->app_key, OWB_APP_KEY_BYTES) != OWB_OK)
        return OWB_ERR_BAD_REQUEST;
    /* The header must say what the answer says: a bundle meant for another
     * device, or another counter, is refused before anything opens it. */
    if (owb_bundle_header_parse(a->bundle, a->bundle_len, &h) != OWB_OK ||
        strcmp(h.device_id, device_id) != 0 || h.counter != a->counter)
        return OWB_ERR_BAD_REQUEST;
    a->has_rollout = true;
    return OWB_OK;
}

enum owb_err owb_heartbeat_answer_parse(const char *body, size_t len, const char *device_id,
                                        struct owb_heartbeat_answer *a)
{
    cJSON *root = NULL;
    const cJSON *r;
    uint64_t s = 0;
    enum owb_err rc = OWB_ERR_BAD_REQUEST;

    owb_heartbeat_answer_wipe(a);
    if (len > OWB_HEARTBEAT_ANSWER_MAX || owb_json_parse(body, len, &root) != OWB_OK ||
        !cJSON_IsObject(root))
        goto out;
    if (cJSON_HasObjectItem(root, "heartbeat_s")) {
        if (owb_json_uint(root, "heartbeat_s", &s) != OWB_OK || s > 86400)
            goto out;
        a->heartbeat_s = (unsigned)s;
    }
    if (get_challenge(root, a->challenge) != OWB_OK)
        goto out;
    r = cJSON_GetObjectItemCaseSensitive(root, "rollout");
    rc = r ? parse_rollout(r, device_id, a) : OWB_OK;
out:
    owb_json_free_secret(root);
    if (rc != OWB_OK)
        owb_heartbeat_answer_wipe(a);
    return rc;
}

void owb_heartbeat_answer_wipe(struct owb_heartbeat_answer *a)
{
    sodium_memzero(a, sizeof *a);
}

enum owb_err
owb_heartbeat_stale_write(const uint8_t challenge[static OWB_HEARTBEAT_CHALLENGE_BYTES],
                          const char *message, char *out, size_t cap, size_t *len)
{
    const char *m = message ? message : owb_strerror(OWB_ERR_STALE_CHALLENGE);
    struct owb_jw w;

    *len = 0;
    if (owb_heartbeat_challenge_none(challenge))
        return OWB_ERR_INVALID_ARG;
    owb_jw_init(&w, out, cap);
    owb_jw_raw(&w, "{\"error\":");
    owb_jw_string(&w, owb_err_code(OWB_ERR_STALE_CHALLENGE),
                  strlen(owb_err_code(OWB_ERR_STALE_CHALLENGE)));
    owb_jw_raw(&w, ",\"message\":");
    owb_jw_string(&w, m, strlen(m));
    put_b64(&w, ",\"challenge\":", challenge, OWB_HEARTBEAT_CHALLENGE_BYTES);
    owb_jw_raw(&w, "}");
    return owb_jw_finish(&w, len);
}

enum owb_err owb_heartbeat_stale_parse(const char *body, size_t len,
                                       uint8_t challenge[static OWB_HEARTBEAT_CHALLENGE_BYTES])
{
    cJSON *root = NULL;
    const char *err;
    enum owb_err rc = OWB_ERR_BAD_REQUEST;

    memset(challenge, 0, OWB_HEARTBEAT_CHALLENGE_BYTES);
    if (len > OWB_HEARTBEAT_REQUEST_MAX || owb_json_parse(body, len, &root) != OWB_OK ||
        !cJSON_IsObject(root))
        goto out;
    err = owb_json_string(root, "error");
    if (!err || strcmp(err, owb_err_code(OWB_ERR_STALE_CHALLENGE)) != 0)
        goto out;
    rc = get_challenge(root, challenge);
out:
    cJSON_Delete(root);
    if (rc != OWB_OK)
        memset(challenge, 0, OWB_HEARTBEAT_CHALLENGE_BYTES);
    return rc;
}
