/* Writes tests/vectors/heartbeat-v1.json: the known-answer vectors of the
 * heartbeat (docs/protocol.md, "After setup: heartbeats and rollouts"),
 * from fixed keys and challenges, and the server's answers with the next
 * challenge. test_heartbeat_vectors_current (ctest) runs
 * it and compares its output with the committed file byte for byte;
 * test_heartbeat checks every value of the file against the library on
 * its own. Regenerate after a deliberate change:
 *   build/dev/tests/owb-gen-heartbeat-vectors > tests/vectors/heartbeat-v1.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "owb/base64.h"
#include "owb/heartbeat.h"
#include "owb/kdf.h"

static void die(const char *what)
{
    fprintf(stderr, "owb-gen-heartbeat-vectors: %s\n", what);
    exit(1);
}

static void fill(uint8_t *b, size_t n, uint8_t first)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(first + i);
}

static void add_hex(cJSON *o, const char *key, const uint8_t *b, size_t n)
{
    char hex[2 * OWB_HEARTBEAT_MSG_MAX + 1];
    sodium_bin2hex(hex, sizeof hex, b, n);
    cJSON_AddStringToObject(o, key, hex);
}

struct vcase {
    enum owb_suite suite;
    const char *id;
    uint8_t key_first; /* device key (sym) or Ed25519 seed (pk): key_first, +1, ... */
    uint64_t running, held;
    enum owb_hb_reason reason;
    uint8_t challenge_first;
};

static cJSON *make_case(const struct vcase *v)
{
    struct owb_heartbeat hb = {v->running, v->held, v->reason, {0}};
    uint8_t key[32], kc[32], pk[32], sk[64], msg[OWB_HEARTBEAT_MSG_MAX], proof[64];
    char body[OWB_HEARTBEAT_REQUEST_MAX];
    size_t msg_len, body_len;
    bool is_pk = v->suite == OWB_SUITE_PK;
    cJSON *c = cJSON_CreateObject();

    fill(key, sizeof key, v->key_first);
    fill(hb.challenge, sizeof hb.challenge, v->challenge_first);
    cJSON_AddStringToObject(c, "suite", owb_suite_name(v->suite));
    cJSON_AddStringToObject(c, "device_id", v->id);
    if (owb_heartbeat_message(v->suite, v->id, &hb, msg, sizeof msg, &msg_len) != OWB_OK)
        die("message");
    if (is_pk) {
        crypto_sign_seed_keypair(pk, sk, key);
        add_hex(c, "device_seed", key, 32);
        add_hex(c, "device_public_key", pk, 32);
        if (owb_pk_heartbeat_sign(sk, v->id, &hb, proof) != OWB_OK)
            die("sign");
    } else {
        owb_kdf_checkin_key(kc, key);
        add_hex(c, "device_key", key, 32);
        add_hex(c, "checkin_key", kc, 32);
        if (owb_heartbeat_mac(kc, v->id, &hb, proof) != OWB_OK)
            die("mac");
    }
    /* Counters as strings, as in protocol-v1.json: JSON numbers lose
     * precision past 2^53 in some readers of this file. */
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v->running);
    cJSON_AddStringToObject(c, "running", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)v->held);
    cJSON_AddStringToObject(c, "held", num);
    cJSON_AddStringToObject(c, "reason", owb_hb_reason_name(v->reason));
    add_hex(c, "challenge", hb.challenge, sizeof hb.challenge);
    add_hex(c, "heartbeat_message", msg, msg_len);
    add_hex(c, is_pk ? "signature" : "mac", proof, is_pk ? 64 : 32);
    if (owb_heartbeat_request_write(v->suite, &hb, proof, body, sizeof body, &body_len) != OWB_OK)
        die("request");
    cJSON_AddStringToObject(c, "request", body);
    sodium_memzero(key, sizeof key);
    sodium_memzero(sk, sizeof sk);
    return c;
}

/* The server's answers: a 200 with the next challenge (and the interval
 * when given), and the 409 to a stale challenge with the current one. */
static cJSON *make_answer(unsigned heartbeat_s, uint8_t challenge_first, bool stale)
{
    struct owb_heartbeat_answer a = {0};
    char text[512];
    size_t len;
    cJSON *c = cJSON_CreateObject();

    a.heartbeat_s = heartbeat_s;
    fill(a.challenge, sizeof a.challenge, challenge_first);
    add_hex(c, "challenge", a.challenge, sizeof a.challenge);
    if (stale) {
        cJSON_AddNumberToObject(c, "status", 409);
        if (owb_heartbeat_stale_write(a.challenge, NULL, text, sizeof text, &len) != OWB_OK)
            die("stale answer");
    } else {
        cJSON_AddNumberToObject(c, "status", 200);
        if (owb_heartbeat_answer_write(&a, text, sizeof text, &len) != OWB_OK)
            die("answer");
    }
    cJSON_AddStringToObject(c, "answer", text);
    return c;
}

int main(void)
{
    static const struct vcase cases[] = {
        {OWB_SUITE_SYM, "Omega-2231", 0x00, 1, 1, OWB_HB_RUNNING, 0x10},
        {OWB_SUITE_SYM, "Omega-2231", 0x00, 1, 2, OWB_HB_NETWORK_NOT_FOUND, 0x20},
        {OWB_SUITE_PK, "Omega-pk-7", 0x40, 5, 7, OWB_HB_WRONG_PASSWORD, 0x30},
    };
    cJSON *root = cJSON_CreateObject(), *list;
    char *text;

    if (sodium_init() < 0 || !root)
        die("init");
    cJSON_AddStringToObject(root, "protocol", "owb heartbeat v1 (docs/protocol.md)");
    cJSON_AddStringToObject(root, "note",
                            "Generated by tests/vectors/gen_heartbeat.c; keys and challenges "
                            "are counting bytes from the value given. Hex unless named "
                            "otherwise.");
    list = cJSON_AddArrayToObject(root, "cases");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cJSON_AddItemToArray(list, make_case(&cases[i]));
    list = cJSON_AddArrayToObject(root, "answers");
    cJSON_AddItemToArray(list, make_answer(900, 0x50, false));
    cJSON_AddItemToArray(list, make_answer(0, 0x60, false));
    cJSON_AddItemToArray(list, make_answer(0, 0x70, true));
    text = cJSON_Print(root);
    if (!text)
        die("print");
    printf("%s\n", text);
    free(text);
    cJSON_Delete(root);
    return 0;
}
