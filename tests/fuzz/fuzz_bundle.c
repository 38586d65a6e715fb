/* libFuzzer: the outer layer as the device meets it, from base64url text
 * to header parse and open under fixed keys (the first vector cases'
 * device key, and in the pk suite its device and server keys), then the
 * payload parse. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "owb/base64.h"
#include "owb/envelope.h"
#include "owb/envelope_pk.h"
#include "owb/kdf.h"
#include "owb/mem.h"
#include "owb/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t kb[32], dev_sk[64], srv_pk[1][32];

static enum owb_err open_any(const struct owb_bundle_header *h, const uint8_t *b, size_t len,
                             uint8_t *p, size_t cap, size_t *p_len)
{
    if (h->suite == OWB_SUITE_PK)
        return owb_pk_bundle_open(dev_sk, (const uint8_t(*)[32])srv_pk, 1, h, b, len, p, cap,
                                  p_len);
    return owb_bundle_open(kb, h, b, len, p, cap, p_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
        uint8_t seed[32], pk[32], sk[64];
        for (int i = 0; i < 32; i++)
            seed[i] = (uint8_t)(i + 1); /* the pk vectors' first device seed */
        crypto_sign_seed_keypair(pk, dev_sk, seed);
        for (int i = 0; i < 32; i++)
            seed[i] = (uint8_t)(0x41 + i); /* and server seed */
        crypto_sign_seed_keypair(srv_pk[0], sk, seed);
        ready = 1;
    }
    /* Raw bytes, and the same bytes read as base64url text. */
    if (owb_bundle_header_parse(data, size, &h) == OWB_OK &&
        open_any(&h, data, size, p, sizeof p, &p_len) == OWB_OK)
        (void)owb_payload_parse((const char *)p, p_len, &pl);
    if (owb_b64_decode((const char *)data, size, bundle, sizeof bundle, &len) == OWB_OK &&
        owb_bundle_header_parse(bundle, len, &h) == OWB_OK &&
        open_any(&h, bundle, len, p, sizeof p, &p_len) == OWB_OK)
        (void)owb_payload_parse((const char *)p, p_len, &pl);
    return 0;
}
