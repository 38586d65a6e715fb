/* libFuzzer: the heartbeat's two parsers, the server's (a request body,
 * for a device of either suite) and the device's (the server's answer,
 * which may carry a rollout bundle). A request that parses must write
 * back to a body that parses to the same fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "owb/heartbeat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct owb_heartbeat_answer a;
    struct owb_heartbeat hb, again;
    uint8_t proof[OWB_PK_SIGNATURE_BYTES], proof2[OWB_PK_SIGNATURE_BYTES];
    char body[OWB_HEARTBEAT_REQUEST_MAX];
    size_t len;

    for (int s = 0; s < 2; s++) {
        enum owb_suite suite = s ? OWB_SUITE_PK : OWB_SUITE_SYM;
        if (owb_heartbeat_request_parse((const char *)data, size, suite, &hb, proof) != OWB_OK)
            continue;
        if (owb_heartbeat_request_write(suite, &hb, proof, body, sizeof body, &len) != OWB_OK ||
            owb_heartbeat_request_parse(body, len, suite, &again, proof2) != OWB_OK ||
            memcmp(&hb, &again, sizeof hb) != 0 ||
            memcmp(proof, proof2, suite == OWB_SUITE_PK ? 64 : 32) != 0)
            abort();
    }
    if (owb_heartbeat_answer_parse((const char *)data, size, "Omega-2231", &a) == OWB_OK)
        owb_heartbeat_answer_wipe(&a);
    return 0;
}
