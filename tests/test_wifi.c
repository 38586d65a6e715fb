/* The rules of W at their edges (PROTOCOL.md, "Inner layer"). */
#include "test_support.h"

#include <stdio.h>
#include <string.h>

#include "owb/mem.h"
#include "owb/wifi.h"
#include "owb/wpa_psk.h"
#include "jsonw_i.h"

struct wcase {
    const char *name;
    const char *json;
    enum owb_err want;
};

/* 32 ASCII bytes, 33 bytes, and "é" (2 bytes) straddling the edge. */
#define S31 "abcdefghijklmnopqrstuvwxyz01234"
#define S32 S31 "5"
#define S33 S32 "6"
#define HEX64 "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"

static const struct wcase cases[] = {
    {"ssid 0 bytes", "{\"ssid\":\"\",\"security\":\"open\"}", OWB_ERR_INVALID_CONFIG},
    {"ssid 1 byte", "{\"ssid\":\"a\",\"security\":\"open\"}", OWB_OK},
    {"ssid 32 bytes", "{\"ssid\":\"" S32 "\",\"security\":\"open\"}", OWB_OK},
    {"ssid 33 bytes", "{\"ssid\":\"" S33 "\",\"security\":\"open\"}", OWB_ERR_INVALID_CONFIG},
    {"ssid 30 + 2-byte char = 32",
     "{\"ssid\":\""
     "abcdefghijklmnopqrstuvwxyz0123"
     "\xc3\xa9\",\"security\":\"open\"}",
     OWB_OK},
    {"ssid 31 + 2-byte char straddles", "{\"ssid\":\"" S31 "\xc3\xa9\",\"security\":\"open\"}",
     OWB_ERR_INVALID_CONFIG},
    {"ssid escaped multibyte straddles", "{\"ssid\":\"" S31 "\\u00e9\",\"security\":\"open\"}",
     OWB_ERR_INVALID_CONFIG},
    {"ssid 4-byte char ok", "{\"ssid\":\"\xf0\x9f\x93\xb6 wifi\",\"security\":\"open\"}", OWB_OK},
    {"ssid control char", "{\"ssid\":\"a\\u0001b\",\"security\":\"open\"}", OWB_ERR_INVALID_CONFIG},
    {"ssid tab", "{\"ssid\":\"a\\tb\",\"security\":\"open\"}", OWB_ERR_INVALID_CONFIG},
    {"ssid newline", "{\"ssid\":\"a\\nb\",\"security\":\"open\"}", OWB_ERR_INVALID_CONFIG},
    {"ssid DEL",
     "{\"ssid\":\"a\x7f"
     "b\",\"security\":\"open\"}",
     OWB_ERR_INVALID_CONFIG},
    {"ssid escaped DEL", "{\"ssid\":\"a\\u007fb\",\"security\":\"open\"}", OWB_ERR_INVALID_CONFIG},
    {"ssid escaped NUL", "{\"ssid\":\"a\\u0000b\",\"security\":\"open\"}", OWB_ERR_INVALID_CONFIG},
    {"ssid invalid utf-8",
     "{\"ssid\":\"a\xff"
     "b\",\"security\":\"open\"}",
     OWB_ERR_INVALID_CONFIG},
    {"ssid overlong utf-8", "{\"ssid\":\"a\xc0\xaf\",\"security\":\"open\"}",
     OWB_ERR_INVALID_CONFIG},
    {"ssid lone surrogate", "{\"ssid\":\"a\\ud800\",\"security\":\"open\"}",
     OWB_ERR_INVALID_CONFIG},
    {"ssid 0x20 edge", "{\"ssid\":\" \",\"security\":\"open\"}", OWB_OK},
    {"psk 7 chars", "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":\"1234567\"}",
     OWB_ERR_INVALID_CONFIG},
    {"psk 8 chars", "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":\"12345678\"}", OWB_OK},
    {"psk 63 chars", "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":\"" S32 S31 "\"}", OWB_OK},
    {"psk 64 hex", "{\"ssid\":\"n\",\"security\":\"wpa3-sae\",\"psk\":\"" HEX64 "\"}", OWB_OK},
    {"psk 64 non-hex", "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":\"" S32 S32 "\"}",
     OWB_ERR_INVALID_CONFIG},
    {"psk 65 chars", "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":\"" HEX64 "0\"}",
     OWB_ERR_INVALID_CONFIG},
    {"psk non-ascii", "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":\"pass\xc3\xa9word\"}",
     OWB_ERR_INVALID_CONFIG},
    {"psk control char", "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":\"pass\\tword\"}",
     OWB_ERR_INVALID_CONFIG},
    {"psk missing", "{\"ssid\":\"n\",\"security\":\"wpa2-psk\"}", OWB_ERR_INVALID_CONFIG},
    {"psk with quotes ok",
     "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":\"a\\\"$(rm)\\\\ b\"}", OWB_OK},
    {"open with psk", "{\"ssid\":\"n\",\"security\":\"open\",\"psk\":\"12345678\"}",
     OWB_ERR_INVALID_CONFIG},
    {"open with empty psk", "{\"ssid\":\"n\",\"security\":\"open\",\"psk\":\"\"}",
     OWB_ERR_INVALID_CONFIG},
    {"unknown security", "{\"ssid\":\"n\",\"security\":\"wep\",\"psk\":\"12345678\"}",
     OWB_ERR_INVALID_CONFIG},
    {"security case", "{\"ssid\":\"n\",\"security\":\"WPA2-PSK\",\"psk\":\"12345678\"}",
     OWB_ERR_INVALID_CONFIG},
    {"ssid number", "{\"ssid\":5,\"security\":\"open\"}", OWB_ERR_INVALID_CONFIG},
    {"ssid null", "{\"ssid\":null,\"security\":\"open\"}", OWB_ERR_INVALID_CONFIG},
    {"security array", "{\"ssid\":\"n\",\"security\":[\"open\"]}", OWB_ERR_INVALID_CONFIG},
    {"psk number", "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":12345678}",
     OWB_ERR_INVALID_CONFIG},
    {"hidden string", "{\"ssid\":\"n\",\"security\":\"open\",\"hidden\":\"true\"}",
     OWB_ERR_INVALID_CONFIG},
    {"hidden number", "{\"ssid\":\"n\",\"security\":\"open\",\"hidden\":1}",
     OWB_ERR_INVALID_CONFIG},
    {"hidden false", "{\"ssid\":\"n\",\"security\":\"open\",\"hidden\":false}", OWB_OK},
    {"unknown member ignored", "{\"ssid\":\"n\",\"security\":\"open\",\"band\":\"5g\"}", OWB_OK},
    {"duplicate ssid", "{\"ssid\":\"a\",\"ssid\":\"b\",\"security\":\"open\"}",
     OWB_ERR_INVALID_CONFIG},
    {"duplicate psk",
     "{\"ssid\":\"n\",\"security\":\"wpa2-psk\",\"psk\":\"12345678\",\"psk\":\"87654321\"}",
     OWB_ERR_INVALID_CONFIG},
    {"not an object", "[\"ssid\"]", OWB_ERR_INVALID_CONFIG},
    {"not json", "ssid=n", OWB_ERR_INVALID_CONFIG},
    {"trailing garbage", "{\"ssid\":\"n\",\"security\":\"open\"}x", OWB_ERR_INVALID_CONFIG},
    {"two objects", "{\"ssid\":\"n\",\"security\":\"open\"}{}", OWB_ERR_INVALID_CONFIG},
    {"trailing white space ok", "{\"ssid\":\"n\",\"security\":\"open\"}\n", OWB_OK},
};

static int setup(void **state)
{
    (void)state;
    return owb_init() == OWB_OK ? 0 : -1;
}

static void test_rule_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct owb_wifi w;
        enum owb_err rc = owb_wifi_parse(cases[i].json, strlen(cases[i].json), &w);
        if (rc != cases[i].want)
            fail_msg("case '%s': got %s, want %s", cases[i].name, owb_err_code(rc),
                     owb_err_code(cases[i].want));
        if (rc != OWB_OK) {
            /* A refused W leaves nothing behind. */
            static const struct owb_wifi zero;
            assert_memory_equal(&w, &zero, sizeof w);
        }
    }
}

static void test_raw_nul_refused(void **state)
{
    (void)state;
    static const char text[] = "{\"ssid\":\"a\0b\",\"security\":\"open\"}";
    struct owb_wifi w;
    assert_int_equal(owb_wifi_parse(text, sizeof text - 1, &w), OWB_ERR_INVALID_CONFIG);
}

static void test_round_trip_hostile(void **state)
{
    (void)state;
    struct owb_wifi w = {0}, back;
    char json[OWB_WIFI_JSON_MAX];
    size_t len;

    strcpy(w.ssid, "Caf\xc3\xa9 \"$(reboot)\" \\ `x`");
    w.ssid_len = strlen(w.ssid);
    w.security = OWB_SEC_WPA2_PSK;
    strcpy(w.psk, "p\"a$(s)s\\w`o`rd ");
    w.hidden = true;
    assert_int_equal(owb_wifi_to_json(&w, json, sizeof json, &len), OWB_OK);
    assert_int_equal(len, strlen(json));
    assert_int_equal(owb_wifi_parse(json, len, &back), OWB_OK);
    assert_memory_equal(&w, &back, sizeof w);

    /* Output buffer too small: refused, and no cut-off PSK is left in it. */
    assert_int_equal(owb_wifi_to_json(&w, json, 40, &len), OWB_ERR_SPACE);
    for (size_t i = 0; i < 40; i++)
        assert_int_equal(json[i], 0);
    /* One byte short of the text and its NUL. */
    assert_int_equal(owb_wifi_to_json(&w, json, sizeof json, &len), OWB_OK);
    size_t exact = len + 1;
    assert_int_equal(owb_wifi_to_json(&w, json, exact - 1, &len), OWB_ERR_SPACE);
    assert_int_equal(owb_wifi_to_json(&w, json, exact, &len), OWB_OK);
    /* A struct that breaks a rule is not written. */
    w.security = OWB_SEC_OPEN;
    assert_int_equal(owb_wifi_to_json(&w, json, sizeof json, &len), OWB_ERR_INVALID_CONFIG);
}

/* W and P are written without cJSON; their strings must be escaped the
 * way cJSON prints them (the vectors' texts were made that way): every
 * byte value, alone and between others. */
static void test_writer_escapes_like_cjson(void **state)
{
    (void)state;
    for (int b = 1; b < 256; b++) {
        char in[4] = {'a', (char)b, 'z', 0}, out[32];
        struct owb_jw jw;
        size_t len;
        cJSON *str = cJSON_CreateString(in);
        char *theirs = cJSON_PrintUnformatted(str);
        owb_jw_init(&jw, out, sizeof out);
        owb_jw_string(&jw, in, 3);
        assert_int_equal(owb_jw_finish(&jw, &len), OWB_OK);
        assert_string_equal(out, theirs);
        cJSON_free(theirs);
        cJSON_Delete(str);
    }
}

static void test_security_names(void **state)
{
    (void)state;
    enum owb_security s;
    assert_int_equal(owb_security_parse("wpa3-sae", &s), OWB_OK);
    assert_int_equal(s, OWB_SEC_WPA3_SAE);
    assert_string_equal(owb_security_name(OWB_SEC_WPA2_PSK), "wpa2-psk");
    assert_int_equal(owb_security_parse(NULL, &s), OWB_ERR_INVALID_CONFIG);
    assert_int_equal(owb_security_parse("", &s), OWB_ERR_INVALID_CONFIG);
}

/* FIPS 180-4 examples, and one message past a block boundary. */
static void test_sha1(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    };
    uint8_t got[OWB_SHA1_BYTES], want[OWB_SHA1_BYTES];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        owb_sha1((const uint8_t *)v[i].msg, strlen(v[i].msg), got);
        t_hex(v[i].hex, want, sizeof want);
        assert_memory_equal(got, want, sizeof want);
    }
}

/* IEEE 802.11i H.4, and values wpa_passphrase (wpa_supplicant 2.10) gives
 * for a 32-byte UTF-8 SSID with the hostile passphrase of the Wi-Fi VM
 * scenario, and for the longest passphrase. */
static void test_wpa_psk(void **state)
{
    (void)state;
    static const struct {
        const char *ssid, *pass, *hex;
    } v[] = {
        {"IEEE", "password", "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"},
        {"ThisIsASSID", "ThisIsAPassword",
         "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af"},
        {"Caf\xc3\xa9 \xe2\x98\x95 \xc3\x9cn\xc3\xaf"
         "c\xc3\xb8"
         "d\xc3\xa9"
         " 32 byte!!!",
         " a\"b#c\\d $(x) =;\" ",
         "8d64c6c83b04cb230181b8f23f76c1edc5f4b85cab83f3268df489294d1a0934"},
        {"Z", "123456789012345678901234567890123456789012345678901234567890123",
         "c2dbbb1e389761985e922c406e9d69ca63cdd703ddf2401a35767b6807bbb736"},
    };
    uint8_t got[OWB_WPA_PSK_BYTES], want[OWB_WPA_PSK_BYTES];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_int_equal(owb_wpa_psk(v[i].pass, (const uint8_t *)v[i].ssid, strlen(v[i].ssid), got),
                         OWB_OK);
        t_hex(v[i].hex, want, sizeof want);
        assert_memory_equal(got, want, sizeof want);
    }
    assert_int_equal(owb_wpa_psk("1234567", (const uint8_t *)"x", 1, got), OWB_ERR_INVALID_ARG);
    assert_int_equal(owb_wpa_psk("12345678", (const uint8_t *)"x", 0, got), OWB_ERR_INVALID_ARG);
    assert_int_equal(owb_wpa_psk("12345678", (const uint8_t *)"x", 33, got), OWB_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_raw_nul_refused),
        cmocka_unit_test(test_round_trip_hostile),
        cmocka_unit_test(test_writer_escapes_like_cjson),
        cmocka_unit_test(test_security_names),
        cmocka_unit_test(test_sha1),
        cmocka_unit_test(test_wpa_psk),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
