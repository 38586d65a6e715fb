/* Every case of tests/vectors/protocol-v1.json, byte for byte. */
#include "test_support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/checkin.h"
#include "owb/envelope.h"
#include "owb/kdf.h"
#include "owb/mem.h"
#include "owb/payload.h"
#include "owb/wifi.h"

static cJSON *root;
static const cJSON *cases;

static int setup(void **state)
{
    (void)state;
    if (owb_init() != OWB_OK)
        return -1;
    cases = t_vector_cases("protocol-v1.json", &root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(root);
    return 0;
}

static uint64_t case_counter(const cJSON *c)
{
    return strtoull(t_str(c, "counter"), NULL, 10);
}

/* The repo's copy must stay the normative one when shared/ is beside it. */
static void test_copy_matches_shared(void **state)
{
    (void)state;
    const char *names[] = {"protocol-v1.json", "protocol-v1-pk.json"};
    for (size_t i = 0; i < 2; i++) {
        char ours[4096], theirs[4096];
        struct stat st;
        size_t a_len, b_len;
        snprintf(theirs, sizeof theirs, "%s/vectors/%s", OWB_SHARED_DIR, names[i]);
        if (stat(theirs, &st) != 0) {
            print_message("%s absent; nothing to compare\n", theirs);
            continue;
        }
        snprintf(ours, sizeof ours, "%s/%s", OWB_TEST_VECTORS_DIR, names[i]);
        char *a = t_read_file(ours, &a_len);
        char *b = t_read_file(theirs, &b_len);
        if (a_len != b_len || memcmp(a, b, a_len) != 0)
            fail_msg("%s differs from %s: copy the normative vectors again", ours, theirs);
        free(a);
        free(b);
    }
}

static void test_subkeys(void **state)
{
    (void)state;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        uint8_t k[32], want[32], got[32];
        char pass[OWB_AP_PASSPHRASE_SIZE], ssid[OWB_AP_SSID_SIZE];

        t_hex(t_str(c, "device_key"), k, 32);
        owb_kdf_bundle_key(got, k);
        t_hex(t_str(c, "bundle_key"), want, 32);
        assert_memory_equal(got, want, 32);
        owb_kdf_checkin_key(got, k);
        t_hex(t_str(c, "checkin_key"), want, 32);
        assert_memory_equal(got, want, 32);
        owb_kdf_ap_passphrase(pass, k);
        assert_string_equal(pass, t_str(c, "ap_passphrase"));
        assert_int_equal(strlen(pass), OWB_AP_PASSPHRASE_LEN);
        assert_int_equal(owb_ap_ssid(ssid, t_str(c, "device_id")), OWB_OK);
        assert_string_equal(ssid, t_str(c, "ap_ssid"));
    }
}

static void test_wifi_blob(void **state)
{
    (void)state;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *id = t_str(c, "device_id");
        const char *w = t_str(c, "wifi_plaintext");
        uint8_t a[32], nonce[24], aad[OWB_WIFI_AAD_MAX], want_aad[OWB_WIFI_AAD_MAX];
        uint8_t blob[OWB_WIFI_BLOB_MAX], opened[OWB_WIFI_JSON_MAX];
        char b64[OWB_B64_ENCODED_SIZE(OWB_WIFI_BLOB_MAX)];
        size_t aad_len, blob_len, w_len;
        struct owb_wifi wifi;
        char json[OWB_WIFI_JSON_MAX];
        size_t json_len;

        t_hex(t_str(c, "app_key"), a, 32);
        t_hex(t_str(c, "wifi_nonce"), nonce, 24);
        assert_int_equal(owb_wifi_aad(id, aad, sizeof aad, &aad_len), OWB_OK);
        t_hex(t_str(c, "wifi_aad"), want_aad, t_hex_len(t_str(c, "wifi_aad")));
        assert_int_equal(aad_len, t_hex_len(t_str(c, "wifi_aad")));
        assert_memory_equal(aad, want_aad, aad_len);

        assert_int_equal(owb_wifi_blob_seal(a, id, (const uint8_t *)w, strlen(w), nonce, blob,
                                            sizeof blob, &blob_len),
                         OWB_OK);
        assert_int_equal(owb_b64_encode(blob, blob_len, b64, sizeof b64), OWB_OK);
        assert_string_equal(b64, t_str(c, "wifi_blob"));

        assert_int_equal(owb_wifi_blob_open(a, id, blob, blob_len, opened, sizeof opened, &w_len),
                         OWB_OK);
        assert_int_equal(w_len, strlen(w));
        assert_memory_equal(opened, w, w_len);

        /* W parses under every rule and prints back to the same bytes. */
        assert_int_equal(owb_wifi_parse((const char *)opened, w_len, &wifi), OWB_OK);
        assert_int_equal(owb_wifi_to_json(&wifi, json, sizeof json, &json_len), OWB_OK);
        assert_string_equal(json, w);
    }
}

static void test_bundle(void **state)
{
    (void)state;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *id = t_str(c, "device_id");
        const char *p = t_str(c, "bundle_plaintext");
        uint64_t counter = case_counter(c);
        uint8_t k[32], kb[32], nonce[24], hdr[OWB_BUNDLE_HEADER_MAX],
            want_hdr[OWB_BUNDLE_HEADER_MAX];
        uint8_t bundle[OWB_BUNDLE_MAX], opened[OWB_PAYLOAD_MAX];
        char b64[OWB_B64_ENCODED_SIZE(OWB_BUNDLE_MAX)], json[OWB_PAYLOAD_MAX + 6];
        size_t hdr_len, bundle_len, p_len, json_len;
        struct owb_bundle_header h;
        struct owb_payload pl;

        t_hex(t_str(c, "device_key"), k, 32);
        owb_kdf_bundle_key(kb, k);
        t_hex(t_str(c, "bundle_nonce"), nonce, 24);
        assert_int_equal(owb_bundle_header_write(id, counter, hdr, sizeof hdr, &hdr_len), OWB_OK);
        assert_int_equal(hdr_len, t_hex_len(t_str(c, "bundle_header")));
        t_hex(t_str(c, "bundle_header"), want_hdr, hdr_len);
        assert_memory_equal(hdr, want_hdr, hdr_len);

        assert_int_equal(owb_bundle_seal(kb, id, counter, (const uint8_t *)p, strlen(p), nonce,
                                         bundle, sizeof bundle, &bundle_len),
                         OWB_OK);
        assert_int_equal(owb_b64_encode(bundle, bundle_len, b64, sizeof b64), OWB_OK);
        assert_string_equal(b64, t_str(c, "bundle"));

        /* Open from the vector's own text, not from what we sealed. */
        memset(bundle, 0, sizeof bundle);
        assert_int_equal(owb_b64_decode(t_str(c, "bundle"), strlen(t_str(c, "bundle")), bundle,
                                        sizeof bundle, &bundle_len),
                         OWB_OK);
        assert_int_equal(owb_bundle_header_parse(bundle, bundle_len, &h), OWB_OK);
        assert_string_equal(h.device_id, id);
        assert_true(h.counter == counter);
        assert_int_equal(h.len, hdr_len);
        assert_int_equal(owb_bundle_open(kb, &h, bundle, bundle_len, opened, sizeof opened, &p_len),
                         OWB_OK);
        assert_int_equal(p_len, strlen(p));
        assert_memory_equal(opened, p, p_len);

        /* P parses, its wifi member is the vector's blob, and it prints back. */
        assert_int_equal(owb_payload_parse((const char *)opened, p_len, &pl), OWB_OK);
        assert_int_equal(owb_b64_encode(pl.wifi_blob, pl.wifi_blob_len, b64, sizeof b64), OWB_OK);
        assert_string_equal(b64, t_str(c, "wifi_blob"));
        assert_int_equal(owb_payload_to_json(&pl, json, sizeof json, &json_len), OWB_OK);
        assert_string_equal(json, p);
    }
}

static void test_checkin(void **state)
{
    (void)state;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
    {
        const char *id = t_str(c, "device_id");
        uint64_t counter = case_counter(c);
        uint8_t k[32], kc[32], nonce[16], msg[OWB_CHECKIN_MSG_MAX], want[OWB_CHECKIN_MSG_MAX];
        uint8_t mac[32], want_mac[32];
        size_t msg_len, n;
        const char *mac_b64 = t_str(c, "checkin_mac");

        t_hex(t_str(c, "device_key"), k, 32);
        owb_kdf_checkin_key(kc, k);
        t_hex(t_str(c, "checkin_nonce"), nonce, 16);
        assert_int_equal(owb_checkin_message(id, counter, nonce, msg, sizeof msg, &msg_len),
                         OWB_OK);
        n = t_hex_len(t_str(c, "checkin_message"));
        assert_int_equal(msg_len, n);
        t_hex(t_str(c, "checkin_message"), want, n);
        assert_memory_equal(msg, want, n);

        assert_int_equal(owb_checkin_mac(kc, id, counter, nonce, mac), OWB_OK);
        assert_int_equal(owb_b64_decode_exact(mac_b64, strlen(mac_b64), want_mac, 32), OWB_OK);
        assert_memory_equal(mac, want_mac, 32);
        assert_int_equal(owb_checkin_verify(kc, id, counter, nonce, want_mac), OWB_OK);
        /* Any other counter, nonce, id or key fails. */
        assert_int_equal(owb_checkin_verify(kc, id, counter + 1, nonce, want_mac),
                         OWB_ERR_AUTH_FAILED);
        nonce[0] ^= 1;
        assert_int_equal(owb_checkin_verify(kc, id, counter, nonce, want_mac), OWB_ERR_AUTH_FAILED);
        nonce[0] ^= 1;
        assert_int_equal(owb_checkin_verify(kc, "other", counter, nonce, want_mac),
                         OWB_ERR_AUTH_FAILED);
        kc[31] ^= 0x80;
        assert_int_equal(owb_checkin_verify(kc, id, counter, nonce, want_mac), OWB_ERR_AUTH_FAILED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_matches_shared),
        cmocka_unit_test(test_subkeys),
        cmocka_unit_test(test_wifi_blob),
        cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_checkin),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
