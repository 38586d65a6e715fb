/* libFuzzer: the inner layer (open under a fixed app key) and the W and
 * payload parsers on the raw input. */
#include <stddef.h>
#include <stdint.h>

#include "owb/envelope.h"
#include "owb/mem.h"
#include "owb/payload.h"
#include "owb/wifi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t a[32];
    static int ready;
    uint8_t w[OWB_WIFI_JSON_MAX];
    size_t w_len = 0;
    struct owb_wifi wifi;
    struct owb_payload p;

    if (!ready) {
        for (int i = 0; i < 32; i++)
            a[i] = (uint8_t)(0x40 + i); /* the first vector case's app key */
        if (owb_init() != OWB_OK)
            return 0;
        ready = 1;
    }
    if (owb_wifi_blob_open(a, "Omega-2231", data, size, w, sizeof w, &w_len) == OWB_OK)
        (void)owb_wifi_parse((const char *)w, w_len, &wifi);
    (void)owb_wifi_parse((const char *)data, size, &wifi);
    (void)owb_payload_parse((const char *)data, size, &p);
    return 0;
}
