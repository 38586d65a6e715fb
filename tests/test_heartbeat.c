/* The heartbeat (common/src/heartbeat.c) against its known-answer vectors
 * (tests/vectors/heartbeat-v1.json), and every rule it must refuse. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/checkin.h"
#include "owb/heartbeat.h"
#include "owb/kdf.h"
#include "owb/mem.h"

static cJSON *load(const char *name)
{
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/%s", OWB_TEST_VECTORS_DIR, name);
    char *text = t_read_file(path, &len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(root);
    return root;
}

static void case_fields(const cJSON *c, struct owb_heartbeat *hb)
{
    memset(hb, 0, sizeof *hb);
    hb->running = strtoull(t_str(c, "running"), NULL, 10);
    hb->held = strtoull(t_str(c, "held"), NULL, 10);
    if (t_str(c, "reason")[0])
        assert_int_equal(owb_hb_reason_parse(t_str(c, "reason"), &hb->reason), OWB_OK);
    t_hex(t_str(c, "challenge"), hb->challenge, sizeof hb->challenge);
}

/* Every value of every case, from the library alone. */
static void test_vectors(void **state)
{
    (void)state;
    cJSON *root = load("heartbeat-v1.json"), *c;
    int n = 0;

    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases"))
    {
        struct owb_heartbeat hb, parsed;
        enum owb_suite suite;
        const char *id = t_str(c, "device_id");
        uint8_t key[32], kc[32], pk[32], sk[64], msg[OWB_HEARTBEAT_MSG_MAX], want[256], proof[64],
            got[64];
        size_t msg_len, want_len = strlen(t_str(c, "heartbeat_message")) / 2;
        char body[OWB_HEARTBEAT_REQUEST_MAX];
        size_t body_len;

        assert_int_equal(owb_suite_parse(t_str(c, "suite"), &suite), OWB_OK);
        case_fields(c, &hb);
        assert_int_equal(owb_heartbeat_message(suite, id, &hb, msg, sizeof msg, &msg_len), OWB_OK);
        t_hex(t_str(c, "heartbeat_message"), want, want_len);
        assert_int_equal(msg_len, want_len);
        assert_memory_equal(msg, want, msg_len);
        if (suite == OWB_SUITE_PK) {
            t_hex(t_str(c, "device_seed"), key, 32);
            crypto_sign_seed_keypair(pk, sk, key);
            t_hex(t_str(c, "device_public_key"), want, 32);
            assert_memory_equal(pk, want, 32);
            assert_int_equal(owb_pk_heartbeat_sign(sk, id, &hb, proof), OWB_OK);
            t_hex(t_str(c, "signature"), want, 64);
            assert_memory_equal(proof, want, 64);
            assert_int_equal(owb_pk_heartbeat_verify(pk, id, &hb, proof), OWB_OK);
        } else {
            t_hex(t_str(c, "device_key"), key, 32);
            owb_kdf_checkin_key(kc, key);
            t_hex(t_str(c, "checkin_key"), want, 32);
            assert_memory_equal(kc, want, 32);
            assert_int_equal(owb_heartbeat_mac(kc, id, &hb, proof), OWB_OK);
            t_hex(t_str(c, "mac"), want, 32);
            assert_memory_equal(proof, want, 32);
            assert_int_equal(owb_heartbeat_verify(kc, id, &hb, proof), OWB_OK);
        }
        assert_int_equal(
            owb_heartbeat_request_write(suite, &hb, proof, body, sizeof body, &body_len), OWB_OK);
        assert_string_equal(body, t_str(c, "request"));
        assert_int_equal(owb_heartbeat_request_parse(body, body_len, suite, &parsed, got), OWB_OK);
        assert_memory_equal(&parsed, &hb, sizeof hb);
        assert_memory_equal(got, proof, suite == OWB_SUITE_PK ? 64 : 32);
        n++;
    }
    assert_int_equal(n, 3);
    n = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "answers"))
    {
        uint8_t want[16], got[16];
        const char *text = t_str(c, "answer");
        struct owb_heartbeat_answer a;

        t_hex(t_str(c, "challenge"), want, sizeof want);
        if (cJSON_GetObjectItem(c, "status")->valueint == 409) {
            assert_int_equal(owb_heartbeat_stale_parse(text, strlen(text), got), OWB_OK);
            assert_memory_equal(got, want, 16);
            assert_non_null(strstr(text, "\"error\":\"stale_challenge\""));
            assert_int_equal(owb_heartbeat_answer_parse(text, strlen(text), "Omega-2231", &a),
                             OWB_OK); /* a challenge it has; the status tells the two apart */
        } else {
            assert_int_equal(owb_heartbeat_answer_parse(text, strlen(text), "Omega-2231", &a),
                             OWB_OK);
            assert_memory_equal(a.challenge, want, 16);
            assert_false(a.has_rollout);
            assert_int_equal(owb_heartbeat_stale_parse(text, strlen(text), got),
                             OWB_ERR_BAD_REQUEST);
        }
        n++;
    }
    assert_int_equal(n, 3);
    cJSON_Delete(root);
}

/* A wrong or moved proof, and the check-in's own MAC, are refused: the
 * type byte keeps the two messages apart. */
static void test_proofs_refused(void **state)
{
    (void)state;
    uint8_t key[32], kc[32], mac[32], cmac[32], pk[32], sk[64], sig[64];
    struct owb_heartbeat hb = {3, 3, OWB_HB_RUNNING, {0}};

    randombytes_buf(key, sizeof key);
    randombytes_buf(hb.challenge, sizeof hb.challenge);
    owb_kdf_checkin_key(kc, key);
    assert_int_equal(owb_heartbeat_mac(kc, "dev-1", &hb, mac), OWB_OK);
    assert_int_equal(owb_heartbeat_verify(kc, "dev-2", &hb, mac), OWB_ERR_AUTH_FAILED);
    hb.held = 4;
    hb.reason = OWB_HB_NO_IP;
    assert_int_equal(owb_heartbeat_verify(kc, "dev-1", &hb, mac), OWB_ERR_AUTH_FAILED);
    hb.held = 3;
    hb.reason = OWB_HB_RUNNING;
    mac[7] ^= 1;
    assert_int_equal(owb_heartbeat_verify(kc, "dev-1", &hb, mac), OWB_ERR_AUTH_FAILED);
    assert_int_equal(owb_checkin_mac(kc, "dev-1", 3, hb.challenge, cmac), OWB_OK);
    assert_int_equal(owb_heartbeat_verify(kc, "dev-1", &hb, cmac), OWB_ERR_AUTH_FAILED);

    crypto_sign_keypair(pk, sk);
    assert_int_equal(owb_pk_heartbeat_sign(sk, "pk-1", &hb, sig), OWB_OK);
    assert_int_equal(owb_pk_heartbeat_verify(pk, "pk-1", &hb, sig), OWB_OK);
    hb.running = 2;
    hb.reason = OWB_HB_WRONG_PASSWORD;
    assert_int_equal(owb_pk_heartbeat_verify(pk, "pk-1", &hb, sig), OWB_ERR_AUTH_FAILED);
}

static void test_rules(void **state)
{
    (void)state;
    struct owb_heartbeat hb;
    uint8_t proof[64];
    static const char *const bad[] = {
        /* held below running */
        "{\"running\":5,\"held\":4,\"reason\":\"no_ip\",\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\","
        "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        /* a reason while running the held bundle */
        "{\"running\":5,\"held\":5,\"reason\":\"no_ip\",\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\","
        "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        /* no reason for a held bundle not running */
        "{\"running\":5,\"held\":6,\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\","
        "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        /* an unknown reason */
        "{\"running\":5,\"held\":6,\"reason\":\"tired\",\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\","
        "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        /* a counter at 2^53 */
        "{\"running\":9007199254740992,\"held\":9007199254740992,\"challenge\":"
        "\"AAAAAAAAAAAAAAAAAAAAAA\",\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        /* a short challenge */
        "{\"running\":5,\"held\":5,\"challenge\":\"AAAAAAAAAAAAAAAAAAAA\","
        "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        /* the pk suite's proof field on a symmetric device */
        "{\"running\":5,\"held\":5,\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"signature\":"
        "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\""
        "}",
        /* both */
        "{\"running\":5,\"held\":5,\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\","
        "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"signature\":\"AA\"}",
        /* duplicate key */
        "{\"running\":5,\"held\":5,\"held\":6,\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\","
        "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
        "[]",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (owb_heartbeat_request_parse(bad[i], strlen(bad[i]), OWB_SUITE_SYM, &hb, proof) !=
            OWB_ERR_BAD_REQUEST)
            fail_msg("accepted: %s", bad[i]);
    }
    const char *ok = "{\"running\":5,\"held\":6,\"reason\":\"network_not_found\",\"challenge\":"
                     "\"AAAAAAAAAAAAAAAAAAAAAA\",\"mac\":"
                     "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"future\":1}";
    assert_int_equal(owb_heartbeat_request_parse(ok, strlen(ok), OWB_SUITE_SYM, &hb, proof),
                     OWB_OK);
    assert_int_equal(hb.reason, OWB_HB_NETWORK_NOT_FOUND);
    assert_int_equal(owb_heartbeat_request_parse(ok, strlen(ok), OWB_SUITE_PK, &hb, proof),
                     OWB_ERR_BAD_REQUEST);
    /* The old member name is not read as the challenge. */
    const char *old = "{\"running\":5,\"held\":5,\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAA\","
                      "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
    assert_int_equal(owb_heartbeat_request_parse(old, strlen(old), OWB_SUITE_SYM, &hb, proof),
                     OWB_ERR_BAD_REQUEST);
}

/* The answer carries protocol-v1.json's first bundle: it parses only for
 * the device and counter its header names, and the device opens it. */
static void test_answer(void **state)
{
    (void)state;
    cJSON *root = load("protocol-v1.json");
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "cases"), 0);
    struct owb_heartbeat_answer a = {0}, b;
    char text[OWB_HEARTBEAT_ANSWER_MAX];
    size_t len;
    const char *b64 = t_str(c, "bundle");

    /* No challenge: neither written nor read (the server never issues
     * all zero; every answer carries one). */
    assert_int_equal(owb_heartbeat_answer_write(&a, text, sizeof text, &len), OWB_ERR_INVALID_ARG);
    assert_int_equal(owb_heartbeat_answer_parse("{}", 2, "Omega-2231", &b), OWB_ERR_BAD_REQUEST);
    const char *zero = "{\"challenge\":\"AAAAAAAAAAAAAAAAAAAAAA\"}";
    assert_int_equal(owb_heartbeat_answer_parse(zero, strlen(zero), "Omega-2231", &b),
                     OWB_ERR_BAD_REQUEST);
    memset(a.challenge, 0xc5, sizeof a.challenge);
    assert_int_equal(owb_heartbeat_answer_write(&a, text, sizeof text, &len), OWB_OK);
    assert_string_equal(text, "{\"challenge\":\"xcXFxcXFxcXFxcXFxcXFxQ\"}");
    assert_int_equal(owb_heartbeat_answer_parse(text, len, "Omega-2231", &b), OWB_OK);
    assert_false(b.has_rollout);
    assert_memory_equal(b.challenge, a.challenge, 16);
    /* A stale answer: only with the error's code and a challenge. */
    uint8_t cur[16];
    const char *other = "{\"error\":\"conflict\",\"challenge\":\"xcXFxcXFxcXFxcXFxcXFxQ\"}";
    assert_int_equal(owb_heartbeat_stale_parse(other, strlen(other), cur), OWB_ERR_BAD_REQUEST);
    const char *bare = "{\"error\":\"stale_challenge\"}";
    assert_int_equal(owb_heartbeat_stale_parse(bare, strlen(bare), cur), OWB_ERR_BAD_REQUEST);
    assert_int_equal(owb_heartbeat_stale_write(a.challenge, "m", text, sizeof text, &len), OWB_OK);
    assert_int_equal(owb_heartbeat_stale_parse(text, len, cur), OWB_OK);
    assert_memory_equal(cur, a.challenge, 16);

    a.heartbeat_s = 900;
    a.has_rollout = true;
    a.counter = 1;
    assert_int_equal(owb_b64_decode(b64, strlen(b64), a.bundle, sizeof a.bundle, &a.bundle_len),
                     OWB_OK);
    t_hex(t_str(c, "app_key"), a.app_key, 32);
    assert_int_equal(owb_heartbeat_answer_write(&a, text, sizeof text, &len), OWB_OK);
    assert_non_null(strstr(text, "{\"heartbeat_s\":900,\"challenge\":\"xcXFxcXFxcXFxcXFxcXFxQ\","
                                 "\"rollout\":{\"counter\":1,\"bundle\":\""));
    assert_int_equal(owb_heartbeat_answer_parse(text, len, "Omega-2231", &b), OWB_OK);
    assert_true(b.has_rollout);
    assert_int_equal(b.heartbeat_s, 900);
    assert_int_equal(b.bundle_len, a.bundle_len);
    assert_memory_equal(b.bundle, a.bundle, a.bundle_len);
    assert_memory_equal(b.app_key, a.app_key, 32);
    /* Another device's name, or another counter: refused, and wiped. */
    assert_int_equal(owb_heartbeat_answer_parse(text, len, "Omega-2232", &b), OWB_ERR_BAD_REQUEST);
    assert_false(b.has_rollout);
    a.counter = 2;
    assert_int_equal(owb_heartbeat_answer_write(&a, text, sizeof text, &len), OWB_OK);
    assert_int_equal(owb_heartbeat_answer_parse(text, len, "Omega-2231", &b), OWB_ERR_BAD_REQUEST);
    const char *slow = "{\"heartbeat_s\":86401}";
    assert_int_equal(owb_heartbeat_answer_parse(slow, strlen(slow), "Omega-2231", &b),
                     OWB_ERR_BAD_REQUEST);
    owb_heartbeat_answer_wipe(&a);
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_proofs_refused),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_answer),
    };
    if (owb_init() != OWB_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
