/* libFuzzer: the strict JSON front door every request body goes through,
 * and the UTF-8 validator. */
#include <stddef.h>
#include <stdint.h>

#include "owb/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *root = NULL;
    uint64_t v;

    if (owb_json_parse((const char *)data, size, &root) == OWB_OK) {
        (void)owb_json_string(root, "a");
        (void)owb_json_uint(root, "counter", &v);
        owb_json_free_secret(root);
    }
    (void)owb_utf8_valid(data, size);
    return 0;
}
