#include "owb/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* An escaped NUL would end cJSON's C string early, so "ab\u0000cd" would
 * read as "ab" here but as five characters elsewhere. Walks escapes in
 * pairs so that "\\u0000" (a backslash, then text) is not mistaken. */
static bool has_escaped_nul(const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (t[i] != '\\')
            continue;
        if (i + 1 >= len)
            return false;
        if (t[i + 1] == 'u' && i + 5 < len && memcmp(t + i + 2, "0000", 4) == 0)
            return true;
        i++;
    }
    return false;
}

/* Deeper than OWB_JSON_MAX_DEPTH, counted on the text before cJSON parses
 * it: cJSON recurses once per level up to its own limit (1000), and the
 * device parses on an HTTP thread with musl's 128 KiB stack. Brackets in
 * strings do not count. */
static bool too_deep(const char *t, size_t len)
{
    int depth = 0;
    bool in_string = false;

    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (t[i] == '\\')
                i++;
            else if (t[i] == '"')
                in_string = false;
        } else if (t[i] == '"') {
            in_string = true;
        } else if (t[i] == '{' || t[i] == '[') {
            if (++depth > OWB_JSON_MAX_DEPTH)
                return true;
        } else if (t[i] == '}' || t[i] == ']') {
            depth--;
        }
    }
    return false;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* No key twice in one object: the keys sorted, neighbours compared, so a
 * body of thousands of keys costs n log n, not n^2. */
static bool keys_unique(const cJSON *obj)
{
    const char *small[16], **keys = small;
    size_t n = 0, i = 0;
    bool ok = true;

    for (const cJSON *c = obj->child; c; c = c->next)
        n++;
    if (n < 2)
        return true;
    if (n > sizeof small / sizeof small[0] && !(keys = malloc(n * sizeof *keys)))
        return false;
    for (const cJSON *c = obj->child; c; c = c->next)
        keys[i++] = c->string;
    qsort(keys, n, sizeof *keys, by_key);
    for (i = 1; i < n && ok; i++)
        ok = strcmp(keys[i - 1], keys[i]) != 0;
    if (keys != small)
        free(keys);
    return ok;
}

static bool tree_ok(const cJSON *node, int depth)
{
    if (depth > OWB_JSON_MAX_DEPTH)
        return false;
    if (cJSON_IsObject(node)) {
        for (const cJSON *c = node->child; c; c = c->next)
            if (!c->string)
                return false;
        if (!keys_unique(node))
            return false;
    }
    for (const cJSON *c = node->child; c; c = c->next)
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && !tree_ok(c, depth + 1))
            return false;
    return true;
}

enum owb_err owb_json_parse(const char *text, size_t len, cJSON **out)
{
    const char *end = NULL;
    cJSON *root = NULL;
    enum owb_err rc = OWB_ERR_BAD_REQUEST;

    *out = NULL;
    /* All JSON is UTF-8 (the contract): a member the reader ignores must
     * not carry bytes another reader would take differently. */
    if (!text || len == 0 || memchr(text, '\0', len) || has_escaped_nul(text, len) ||
        too_deep(text, len) || !owb_utf8_valid((const uint8_t *)text, len))
        goto out;
    root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root || !end || end < text || (size_t)(end - text) > len)
        goto out;
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            goto out;
    if (!tree_ok(root, 1))
        goto out;
    *out = root;
    root = NULL;
    rc = OWB_OK;
out:
    owb_json_free_secret(root);
    return rc;
}

static void wipe_tree(cJSON *node)
{
    for (cJSON *c = node; c; c = c->next) {
        if (c->valuestring)
            sodium_memzero(c->valuestring, strlen(c->valuestring));
        if (c->child)
            wipe_tree(c->child);
    }
}

void owb_json_free_secret(cJSON *root)
{
    if (!root)
        return;
    wipe_tree(root);
    cJSON_Delete(root);
}

const char *owb_json_string(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

enum owb_err owb_json_uint(const cJSON *obj, const char *key, uint64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    double v;

    *out = 0;
    if (!cJSON_IsNumber(item))
        return OWB_ERR_BAD_REQUEST;
    v = item->valuedouble;
    /* Below 2^53, where a JSON number is exact everywhere (PROTOCOL.md,
     * amendment 2). 2^53 itself is refused: "9007199254740993" parses to
     * it, and would pass as another number than the one sent. */
    if (!isfinite(v) || v < 0 || v >= 9007199254740992.0 || floor(v) != v)
        return OWB_ERR_BAD_REQUEST;
    *out = (uint64_t)v;
    return OWB_OK;
}

bool owb_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = s[i];
        size_t need;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i - 1 < need)
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}
