/* What the device's built-in HTTP client reads from the network: the
 * server's URL (from a bundle) and the server's answer. Both are pure
 * functions over bytes, so that a fuzzer can drive them
 * (tests/fuzz/fuzz_http_answer.c). */
#ifndef OWB_DEVICE_HTTP_ANSWER_H
#define OWB_DEVICE_HTTP_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

/* Splits http://host[:port][/path]: host without brackets for [IPv6],
 * port "80" when none, path "/" when none. False for anything else, a
 * host or port that does not fit, or a port that is not 1-65535. */
bool owb_http_url_split(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                        const char **path);

/* The status of an answer whose first got bytes are in buf: "HTTP/1.x NNN"
 * with NNN from 100 to 599, or -1. */
int owb_http_answer_status(const char *buf, size_t got);

/* The whole answer (Connection: close, read to EOF) is in buf[0..got),
 * got < cap: on success its body is moved to buf's start, NUL-terminated,
 * its length in *len, and the status returned. -1 (nothing usable) when
 * the status line is bad, the head has no end, the answer filled the
 * buffer (it may be cut short), the body is chunked (the agent asks for
 * none), or a Content-Length disagrees with the body read. */
int owb_http_answer_parse(char *buf, size_t got, size_t cap, size_t *len);

#endif
