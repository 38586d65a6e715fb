/* One HTTP request with libcurl, for the demo client and the benchmarks'
 * preparation (loopback, JSON bodies). */
#ifndef OWB_CURL_HTTP_H
#define OWB_CURL_HTTP_H

/* method, url, an optional bearer token and JSON body; the answer's body
 * in *out (free()); returns the HTTP status, or -1 when there was none. */
long owb_curl_request(const char *method, const char *url, const char *auth, const char *body,
                      char **out);

#endif
