/* libFuzzer: the key-file parser and the records importer's line parser,
 * the two parsers of files a factory or a customer hands us. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "owb/keyfile.h"
#include "owb/mem.h"
#include "owb/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct owb_keyfile kf;
    struct owb_record r;
    char diag[OWB_DIAG_SIZE];

    if (!ready) {
        if (owb_init() != OWB_OK)
            return 0;
        ready = 1;
    }
    (void)owb_keyfile_parse((const char *)data, size, &kf, diag);
    /* The importer feeds one line at a time. */
    const uint8_t *line = data, *end = data + size;
    while (line < end) {
        const uint8_t *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
        (void)owb_record_parse((const char *)line, n, &r, diag);
        line += n + 1;
    }
    return 0;
}
