/* libFuzzer: what owb-device's built-in HTTP client reads, the server's
 * answer (any bytes a network can deliver) and the URL a bundle names.
 * A parsed answer's body must lie inside what was read. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[4096], host[256], port[16], url[600];
    const char *path;
    size_t len = 0;
    int status;

    if (size < sizeof buf) {
        memcpy(buf, data, size);
        status = owb_http_answer_parse(buf, size, sizeof buf, &len);
        if (status >= 0 && (status < 100 || status > 599 || len > size || buf[len] != '\0'))
            abort();
    }
    if (size < sizeof url) {
        memcpy(url, data, size);
        url[size] = '\0';
        if (owb_http_url_split(url, host, sizeof host, port, sizeof port, &path) &&
            (!host[0] || !port[0] || path[0] != '/' || strlen(host) >= sizeof host))
            abort();
    }
    return 0;
}
