/* The device's HTTP client: what it parses. Every byte here came from the
 * network (the answer) or from a bundle (the URL): bounded, and refused
 * rather than guessed at. */
#include "http_answer.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool owb_http_url_split(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                        const char **path)
{
    const char *h = url + 7, *end, *colon, *hs = h;
    size_t hn;

    if (strncmp(url, "http://", 7) != 0)
        return false;
    end = h + strcspn(h, "/?#");
    *path = *end == '/' ? end : "/";
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb)
            return false;
        hs = h + 1;
        hn = (size_t)(rb - hs);
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (!colon && rb + 1 != end)
            return false;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        hn = (size_t)((colon ? colon : end) - h);
    }
    if (hn == 0 || hn >= hcap)
        return false;
    memcpy(host, hs, hn);
    host[hn] = '\0';
    if (!colon) {
        snprintf(port, pcap, "80");
        return pcap > 2;
    }
    size_t pn = (size_t)(end - colon - 1);
    unsigned long v = 0;
    if (pn == 0 || pn > 5 || pn >= pcap)
        return false;
    for (size_t i = 0; i < pn; i++) {
        if (colon[1 + i] < '0' || colon[1 + i] > '9')
            return false;
        v = v * 10 + (unsigned long)(colon[1 + i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    memcpy(port, colon + 1, pn);
    port[pn] = '\0';
    return true;
}

int owb_http_answer_status(const char *buf, size_t got)
{
    int status = 0;

    if (got < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
        buf[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        status = status * 10 + (buf[i] - '0');
    }
    if (got > 12 && buf[12] != ' ' && buf[12] != '\r')
        return -1;
    return status >= 100 && status <= 599 ? status : -1;
}

/* The value of header name in head[0..n) (n ends at the blank line), or
 * NULL; *vlen its length without the line end. */
static const char *header_value(const char *head, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', n), *end = head + n;

    while (p && p + 1 < end) {
        const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            break;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            *vlen = (size_t)(eol - v) - (eol > v && eol[-1] == '\r');
            return v;
        }
        p = eol;
    }
    return NULL;
}

int owb_http_answer_parse(char *buf, size_t got, size_t cap, size_t *len)
{
    int status = owb_http_answer_status(buf, got);
    const char *body, *v;
    size_t head, vlen, blen;

    if (status < 0 || got + 1 >= cap)
        return -1;
    buf[got] = '\0';
    body = memmem(buf, got, "\r\n\r\n", 4);
    if (!body)
        return -1;
    head = (size_t)(body - buf) + 2;
    body += 4;
    blen = got - (size_t)(body - buf);
    if (header_value(buf, head, "Transfer-Encoding", &vlen))
        return -1;
    v = header_value(buf, head, "Content-Length", &vlen);
    if (v) {
        uint64_t n = 0;
        if (vlen == 0 || vlen > 9)
            return -1;
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -1;
            n = n * 10 + (uint64_t)(v[i] - '0');
        }
        if (n != blen)
            return -1;
    }
    *len = blen;
    memmove(buf, body, blen + 1);
    return status;
}
