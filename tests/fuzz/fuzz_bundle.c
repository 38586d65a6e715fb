/* libFuzzer: the outer layer as the device meets it, from base64url text
 * to header parse and open under a fixed key, then the payload parse. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "owb/base64.h"
#include "owb/envelope.h"
#include "owb/kdf.h"
#include "owb/mem.h"
#include "owb/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t kb[32];
    static int ready;
    uint8_t bundle[OWB_BUNDLE_MAX], p[OWB_PAYLOAD_MAX];
    size_t len = 0, p_len = 0;
    struct owb_bundle_header h;
    struct owb_payload pl;

    if (!ready) {
        uint8_t k[32];
        for (int i = 0; i < 32; i++)
            k[i] = (uint8_t)i; /* the first vector case's device key */
        if (owb_init() != OWB_OK)
            return 0;
        owb_kdf_bundle_key(kb, k);
        ready = 1;
    }
    /* Raw bytes, and the same bytes read as base64url text. */
    if (owb_bundle_header_parse(data, size, &h) == OWB_OK &&
        owb_bundle_open(kb, &h, data, size, p, sizeof p, &p_len) == OWB_OK)
        (void)owb_payload_parse((const char *)p, p_len, &pl);
    if (owb_b64_decode((const char *)data, size, bundle, sizeof bundle, &len) == OWB_OK &&
        owb_bundle_header_parse(bundle, len, &h) == OWB_OK &&
        owb_bundle_open(kb, &h, bundle, len, p, sizeof p, &p_len) == OWB_OK)
        (void)owb_payload_parse((const char *)p, p_len, &pl);
    return 0;
}
