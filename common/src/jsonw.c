#include "jsonw_i.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void owb_jw_init(struct owb_jw *w, char *out, size_t cap)
{
    w->out = out;
    w->cap = cap;
    w->len = 0;
    w->overflow = cap == 0;
}

static void put(struct owb_jw *w, const char *s, size_t n)
{
    /* One byte is kept for the final NUL. */
    if (w->overflow || n >= w->cap - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
}

void owb_jw_raw(struct owb_jw *w, const char *s)
{
    put(w, s, strlen(s));
}

void owb_jw_string(struct owb_jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    put(w, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t esc_len = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(w, s + run, i - run); /* the plain bytes before this one */
        run = i + 1;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc_len = 6;
        }
        put(w, esc, esc_len);
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

void owb_jw_int(struct owb_jw *w, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    put(w, num, (size_t)n);
}

enum owb_err owb_jw_finish(struct owb_jw *w, size_t *len)
{
    *len = 0;
    if (w->overflow)
        return OWB_ERR_SPACE;
    w->out[w->len] = '\0';
    *len = w->len;
    return OWB_OK;
}
