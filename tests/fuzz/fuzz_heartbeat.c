/* libFuzzer: the heartbeat's parsers, the server's (a request body, for
 * a device of either suite) and the device's (the server's answer, with
 * its challenge and maybe a rollout bundle; the 409 stale_challenge
 * answer). A request or an answer that parses must write back to a body
 * that parses to the same fields; a challenge that parses is never all
 * zero. */
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
    uint8_t challenge[OWB_HEARTBEAT_CHALLENGE_BYTES], again_c[OWB_HEARTBEAT_CHALLENGE_BYTES];
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
    if (owb_heartbeat_answer_parse((const char *)data, size, "Omega-2231", &a) == OWB_OK) {
        static struct owb_heartbeat_answer b;
        static char text[OWB_HEARTBEAT_ANSWER_MAX];
        if (owb_heartbeat_challenge_none(a.challenge) ||
            owb_heartbeat_answer_write(&a, text, sizeof text, &len) != OWB_OK ||
            owb_heartbeat_answer_parse(text, len, "Omega-2231", &b) != OWB_OK ||
            memcmp(a.challenge, b.challenge, sizeof a.challenge) != 0 ||
            a.has_rollout != b.has_rollout || a.heartbeat_s != b.heartbeat_s)
            abort();
        owb_heartbeat_answer_wipe(&b);
        owb_heartbeat_answer_wipe(&a);
    }
    if (owb_heartbeat_stale_parse((const char *)data, size, challenge) == OWB_OK &&
        (owb_heartbeat_challenge_none(challenge) ||
         owb_heartbeat_stale_write(challenge, NULL, body, sizeof body, &len) != OWB_OK ||
         owb_heartbeat_stale_parse(body, len, again_c) != OWB_OK ||
         memcmp(challenge, again_c, sizeof challenge) != 0))
        abort();
    return 0;
}
