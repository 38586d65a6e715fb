#include "curl_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct sink {
    char *p;
    size_t len;
};

static size_t on_body(char *d, size_t s, size_t n, void *cls)
{
    struct sink *k = cls;
    char *np = realloc(k->p, k->len + s * n + 1);
    if (!np)
        return 0;
    memcpy(np + k->len, d, s * n);
    k->p = np;
    k->len += s * n;
    k->p[k->len] = '\0';
    return s * n;
}

long owb_curl_request(const char *method, const char *url, const char *auth, const char *body,
                      char **out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct sink s = {calloc(1, 1), 0};
    char hdr[256];
    long status = -1;

    if (auth) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", auth);
        h = curl_slist_append(h, hdr);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *out = s.p;
    return status;
}
