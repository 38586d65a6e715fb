/* The bundle payload P: wifi, config (checkin_url, hostname), issued_at. */
#include "test_support.h"

#include <string.h>

#include "owb/mem.h"
#include "owb/payload.h"

/* 40 bytes of base64url: a wifi blob of minimal size (24 + 16 bytes = 54 chars). */
#define BLOB "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

struct pcase {
    const char *name;
    const char *json;
    enum owb_err want;
};

static const struct pcase cases[] = {
    {"minimal", "{\"wifi\":\"" BLOB "\"}", OWB_OK},
    {"wifi missing", "{\"config\":{}}", OWB_ERR_BAD_REQUEST},
    {"wifi number", "{\"wifi\":1}", OWB_ERR_BAD_REQUEST},
    {"wifi bad base64", "{\"wifi\":\"" BLOB "!\"}", OWB_ERR_BAD_REQUEST},
    {"wifi padded", "{\"wifi\":\"" BLOB "==\"}", OWB_ERR_BAD_REQUEST},
    {"wifi too short", "{\"wifi\":\"AAAA\"}", OWB_ERR_BAD_REQUEST},
    {"duplicate wifi", "{\"wifi\":\"" BLOB "\",\"wifi\":\"" BLOB "\"}", OWB_ERR_BAD_REQUEST},
    {"issued_at string", "{\"wifi\":\"" BLOB "\",\"issued_at\":\"1\"}", OWB_ERR_BAD_REQUEST},
    {"issued_at ok", "{\"wifi\":\"" BLOB "\",\"issued_at\":1764000000}", OWB_OK},
    {"config not object", "{\"wifi\":\"" BLOB "\",\"config\":[]}", OWB_ERR_INVALID_CONFIG},
    {"config unknown keys ignored",
     "{\"wifi\":\"" BLOB "\",\"config\":{\"led\":\"blue\",\"x\":[1,{}]}}", OWB_OK},
    {"checkin https",
     "{\"wifi\":\"" BLOB "\",\"config\":{\"checkin_url\":\"https://a.example/v1\"}}", OWB_OK},
    {"checkin http port",
     "{\"wifi\":\"" BLOB "\",\"config\":{\"checkin_url\":\"http://127.0.0.1:8080/x\"}}", OWB_OK},
    {"checkin ftp", "{\"wifi\":\"" BLOB "\",\"config\":{\"checkin_url\":\"ftp://a.example/\"}}",
     OWB_ERR_INVALID_CONFIG},
    {"checkin no host", "{\"wifi\":\"" BLOB "\",\"config\":{\"checkin_url\":\"http:///x\"}}",
     OWB_ERR_INVALID_CONFIG},
    {"checkin bare scheme", "{\"wifi\":\"" BLOB "\",\"config\":{\"checkin_url\":\"https://\"}}",
     OWB_ERR_INVALID_CONFIG},
    {"checkin space", "{\"wifi\":\"" BLOB "\",\"config\":{\"checkin_url\":\"http://a b/\"}}",
     OWB_ERR_INVALID_CONFIG},
    {"checkin number", "{\"wifi\":\"" BLOB "\",\"config\":{\"checkin_url\":5}}",
     OWB_ERR_INVALID_CONFIG},
    {"hostname ok", "{\"wifi\":\"" BLOB "\",\"config\":{\"hostname\":\"sensor-7\"}}", OWB_OK},
    {"hostname leading dash", "{\"wifi\":\"" BLOB "\",\"config\":{\"hostname\":\"-a\"}}",
     OWB_ERR_INVALID_CONFIG},
    {"hostname trailing dash", "{\"wifi\":\"" BLOB "\",\"config\":{\"hostname\":\"a-\"}}",
     OWB_ERR_INVALID_CONFIG},
    {"hostname dot", "{\"wifi\":\"" BLOB "\",\"config\":{\"hostname\":\"a.b\"}}",
     OWB_ERR_INVALID_CONFIG},
    {"hostname empty", "{\"wifi\":\"" BLOB "\",\"config\":{\"hostname\":\"\"}}",
     OWB_ERR_INVALID_CONFIG},
    {"hostname 63",
     "{\"wifi\":\"" BLOB "\",\"config\":{\"hostname\":"
     "\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk\"}}",
     OWB_OK},
    {"hostname 64",
     "{\"wifi\":\"" BLOB "\",\"config\":{\"hostname\":"
     "\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl\"}}",
     OWB_ERR_INVALID_CONFIG},
    {"duplicate hostname",
     "{\"wifi\":\"" BLOB "\",\"config\":{\"hostname\":\"a\",\"hostname\":\"b\"}}",
     OWB_ERR_BAD_REQUEST},
    {"not object", "\"wifi\"", OWB_ERR_BAD_REQUEST},
};

static int setup(void **state)
{
    (void)state;
    return owb_init() == OWB_OK ? 0 : -1;
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct owb_payload p;
        enum owb_err rc = owb_payload_parse(cases[i].json, strlen(cases[i].json), &p);
        if (rc != cases[i].want)
            fail_msg("case '%s': got %s, want %s", cases[i].name, owb_err_code(rc),
                     owb_err_code(cases[i].want));
    }
}

static void test_url_limit(void **state)
{
    (void)state;
    char url[OWB_URL_MAX + 2];
    memset(url, 'a', sizeof url);
    memcpy(url, "https://", 8);
    assert_true(owb_http_url_valid(url, OWB_URL_MAX));
    assert_false(owb_http_url_valid(url, OWB_URL_MAX + 1));
}

static void test_round_trip(void **state)
{
    (void)state;
    struct owb_payload p = {0}, back;
    char json[OWB_PAYLOAD_MAX + 6];
    size_t len;

    p.wifi_blob_len = 60;
    memset(p.wifi_blob, 0xA5, p.wifi_blob_len);
    strcpy(p.checkin_url, "https://prov.example.com/v1/devices/x/checkin");
    strcpy(p.hostname, "kitchen");
    p.has_issued_at = true;
    p.issued_at = 4102444800; /* past 2^31: printed as an integer */
    assert_int_equal(owb_payload_to_json(&p, json, sizeof json, &len), OWB_OK);
    assert_non_null(strstr(json, "\"issued_at\":4102444800}"));
    assert_int_equal(owb_payload_parse(json, len, &back), OWB_OK);
    assert_memory_equal(&p, &back, sizeof p);

    strcpy(p.hostname, "bad_host");
    assert_int_equal(owb_payload_to_json(&p, json, sizeof json, &len), OWB_ERR_INVALID_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_url_limit),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
