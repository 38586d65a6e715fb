/* docs/protocol.md agrees with tests/vectors/ and with the code.
 *
 * The doc's worked examples are fenced blocks the test reads:
 *   ```vector <file> case <n>      name = value, each the vector's field
 *   ```layout <file> case <n> <field>  parts whose hex concatenation is the
 *                                      field, each part the right thing
 *   ```constants                   KDF context and ids, magics, types
 * The constants must be what the code does (its derivations and message
 * prefixes are recomputed from them), every identifier-like string literal
 * of the protocol's source files must appear in the doc, and README.md and
 * docs/ must link nothing outside the repository. */
#include "test_support.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "owb/checkin.h"
#include "owb/envelope.h"
#include "owb/envelope_pk.h"
#include "owb/kdf.h"

#define MAX_BLOCKS 64
#define MAX_LINES 32

enum kind { K_VECTOR, K_LAYOUT, K_CONSTANTS };

struct block {
    enum kind kind;
    char file[64];
    int case_idx;
    char field[64]; /* layout only */
    size_t n;
    char *name[MAX_LINES];
    char *value[MAX_LINES];
    int line; /* of the opening fence, for messages */
};

static char *doc;
static struct block blocks[MAX_BLOCKS];
static size_t n_blocks;
#define N_VECTOR_FILES 3
static cJSON *roots[N_VECTOR_FILES];
static const cJSON *case_lists[N_VECTOR_FILES];
static const char *const vector_files[N_VECTOR_FILES] = {"protocol-v1.json", "protocol-v1-pk.json",
                                                         "heartbeat-v1.json"};

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Splits the doc (in place) into the blocks the test reads. */
static void parse_doc(void)
{
    char *save = NULL, *line;
    struct block *b = NULL;
    int lineno = 0;

    for (line = strtok_r(doc, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (b) {
            char *eq;
            if (strncmp(line, "```", 3) == 0) {
                b = NULL;
                continue;
            }
            eq = strstr(line, " = ");
            if (!eq)
                fail_msg("docs/protocol.md block at line %d: \"%s\" is not name = value", b->line,
                         line);
            assert_true(b->n < MAX_LINES);
            *eq = '\0';
            b->name[b->n] = trim(line);
            b->value[b->n] = trim(eq + 3);
            b->n++;
            continue;
        }
        if (strncmp(line, "```vector ", 10) == 0 || strncmp(line, "```layout ", 10) == 0) {
            assert_true(n_blocks < MAX_BLOCKS);
            b = &blocks[n_blocks++];
            memset(b, 0, sizeof *b);
            b->line = lineno;
            b->kind = line[3] == 'v' ? K_VECTOR : K_LAYOUT;
            int got = sscanf(line + 10, "%63s case %d %63s", b->file, &b->case_idx, b->field);
            if (got != (b->kind == K_VECTOR ? 2 : 3))
                fail_msg("docs/protocol.md line %d: malformed block header \"%s\"", lineno, line);
        } else if (strcmp(trim(line), "```constants") == 0) {
            assert_true(n_blocks < MAX_BLOCKS);
            b = &blocks[n_blocks++];
            memset(b, 0, sizeof *b);
            b->line = lineno;
            b->kind = K_CONSTANTS;
        }
    }
    assert_null(b); /* every block is closed */
}

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    doc = t_read_file(OWB_SOURCE_DIR "/docs/protocol.md", NULL);
    parse_doc();
    for (int i = 0; i < N_VECTOR_FILES; i++)
        case_lists[i] = t_vector_cases(vector_files[i], &roots[i]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N_VECTOR_FILES; i++)
        cJSON_Delete(roots[i]);
    free(doc);
    return 0;
}

static const char *constant(const char *name)
{
    for (size_t i = 0; i < n_blocks; i++)
        if (blocks[i].kind == K_CONSTANTS)
            for (size_t j = 0; j < blocks[i].n; j++)
                if (strcmp(blocks[i].name[j], name) == 0)
                    return blocks[i].value[j];
    fail_msg("docs/protocol.md: the constants block has no %s", name);
    return NULL;
}

static const cJSON *vector_case(const struct block *b)
{
    for (int i = 0; i < N_VECTOR_FILES; i++) {
        if (strcmp(b->file, vector_files[i]) != 0)
            continue;
        const cJSON *c = cJSON_GetArrayItem(case_lists[i], b->case_idx);
        if (!c)
            fail_msg("docs/protocol.md line %d: %s has no case %d", b->line, b->file, b->case_idx);
        return c;
    }
    fail_msg("docs/protocol.md line %d: unknown vector file %s", b->line, b->file);
    return NULL;
}

static bool is_pk(const struct block *b)
{
    return strcmp(b->file, "protocol-v1-pk.json") == 0;
}

static void tohex(const void *p, size_t len, char *out)
{
    sodium_bin2hex(out, 2 * len + 1, p, len);
}

static uint64_t case_counter(const cJSON *c)
{
    return strtoull(t_str(c, "counter"), NULL, 10);
}

/* Every value shown is the vector's field, byte for byte. */
static void test_vector_values(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < n_blocks; i++) {
        const struct block *b = &blocks[i];
        if (b->kind != K_VECTOR)
            continue;
        const cJSON *c = vector_case(b);
        for (size_t j = 0; j < b->n; j++) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, b->name[j]);
            if (!cJSON_IsString(f))
                fail_msg("docs/protocol.md line %d: %s case %d has no field %s", b->line, b->file,
                         b->case_idx, b->name[j]);
            if (strcmp(f->valuestring, b->value[j]) != 0)
                fail_msg("docs/protocol.md line %d: %s case %d %s is\n  %s\nin the doc but\n  %s\n"
                         "in the vector",
                         b->line, b->file, b->case_idx, b->name[j], b->value[j], f->valuestring);
            checked++;
        }
    }
    print_message("%zu values checked\n", checked);
    assert_true(checked >= 40);
}

static bool shown(const char *file, int case_idx, const char *name)
{
    for (size_t i = 0; i < n_blocks; i++) {
        const struct block *b = &blocks[i];
        if (b->kind != K_VECTOR || strcmp(b->file, file) != 0 || b->case_idx != case_idx)
            continue;
        for (size_t j = 0; j < b->n; j++)
            if (strcmp(b->name[j], name) == 0)
                return true;
    }
    return false;
}

static bool has_layout(const char *file, const char *field)
{
    for (size_t i = 0; i < n_blocks; i++)
        if (blocks[i].kind == K_LAYOUT && strcmp(blocks[i].file, file) == 0 &&
            strcmp(blocks[i].field, field) == 0)
            return true;
    return false;
}

/* The worked examples show every key, nonce, derived key, header and
 * check-in input and output of one case per suite. */
static void test_coverage(void **state)
{
    (void)state;
    static const char *const sym[] = {
        "device_id",      "counter",       "device_key",      "app_key",      "bundle_key",
        "ap_ssid",        "ap_passphrase", "checkin_key",     "wifi_aad",     "wifi_nonce",
        "wifi_plaintext", "wifi_blob",     "bundle_header",   "bundle_nonce", "bundle_plaintext",
        "bundle",         "checkin_nonce", "checkin_message", "checkin_mac"};
    static const char *const pk[] = {
        "device_id",   "counter",        "device_seed",     "device_sign_pk",   "device_box_pk",
        "server_seed", "server_sign_pk", "ephemeral_sk",    "ephemeral_pk",     "bundle_key",
        "app_key",     "bundle_header",  "bundle_nonce",    "bundle_plaintext", "bundle_signature",
        "bundle",      "checkin_nonce",  "checkin_message", "checkin_signature"};
    for (size_t i = 0; i < sizeof sym / sizeof sym[0]; i++)
        if (!shown("protocol-v1.json", 0, sym[i]))
            fail_msg("docs/protocol.md does not show protocol-v1.json case 0 %s", sym[i]);
    for (size_t i = 0; i < sizeof pk / sizeof pk[0]; i++)
        if (!shown("protocol-v1-pk.json", 0, pk[i]))
            fail_msg("docs/protocol.md does not show protocol-v1-pk.json case 0 %s", pk[i]);
    assert_true(has_layout("protocol-v1.json", "wifi_aad"));
    assert_true(has_layout("protocol-v1.json", "bundle_header"));
    assert_true(has_layout("protocol-v1.json", "checkin_message"));
    assert_true(has_layout("protocol-v1-pk.json", "bundle_header"));
    assert_true(has_layout("protocol-v1-pk.json", "checkin_message"));
}

/* What a layout part must be, in hex. */
static void expected_part(const struct block *b, const cJSON *c, const char *part, char *out,
                          size_t cap)
{
    const char *id = t_str(c, "device_id");
    const char *type = strcmp(b->field, "wifi_aad") == 0          ? constant("type_wifi")
                       : strcmp(b->field, "bundle_header") == 0   ? constant("type_bundle")
                       : strcmp(b->field, "checkin_message") == 0 ? constant("type_checkin")
                                                                  : NULL;
    uint8_t be[8];
    uint64_t v;

    assert_non_null(type);
    assert_true(cap > 2 * 64);
    if (strcmp(part, "magic") == 0) {
        /* The inner layer uses the symmetric magic in both suites. */
        const char *m = is_pk(b) && strcmp(b->field, "wifi_aad") != 0 ? constant("magic_pk")
                                                                      : constant("magic_sym");
        tohex(m, strlen(m), out);
    } else if (strcmp(part, "type") == 0) {
        assert_int_equal(strlen(type), 1);
        tohex(type, 1, out);
    } else if (strcmp(part, "id_len") == 0) {
        uint8_t n = (uint8_t)strlen(id);
        tohex(&n, 1, out);
    } else if (strcmp(part, "device_id") == 0) {
        tohex(id, strlen(id), out);
    } else if (strcmp(part, "counter") == 0) {
        v = case_counter(c);
        for (int i = 7; i >= 0; i--, v >>= 8)
            be[i] = (uint8_t)(v & 0xff);
        tohex(be, 8, out);
    } else if (strcmp(part, "nonce") == 0) {
        snprintf(out, cap, "%s", t_str(c, "checkin_nonce"));
    } else if (strcmp(part, "ephemeral_pk") == 0) {
        snprintf(out, cap, "%s", t_str(c, "ephemeral_pk"));
    } else {
        fail_msg("docs/protocol.md line %d: unknown layout part %s", b->line, part);
    }
}

/* Each header and message is split into the fields the text defines, and
 * the parts make the vector's bytes. */
static void test_layouts(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_blocks; i++) {
        const struct block *b = &blocks[i];
        char joined[1024] = "", want[256];
        if (b->kind != K_LAYOUT)
            continue;
        const cJSON *c = vector_case(b);
        for (size_t j = 0; j < b->n; j++) {
            expected_part(b, c, b->name[j], want, sizeof want);
            if (strcmp(want, b->value[j]) != 0)
                fail_msg("docs/protocol.md line %d: %s %s is %s in the doc, %s by the contract",
                         b->line, b->field, b->name[j], b->value[j], want);
            assert_true(strlen(joined) + strlen(b->value[j]) < sizeof joined);
            strcat(joined, b->value[j]);
        }
        if (strcmp(joined, t_str(c, b->field)) != 0)
            fail_msg("docs/protocol.md line %d: the parts of %s make %s, the vector has %s",
                     b->line, b->field, joined, t_str(c, b->field));
    }
}

static void prefix_hex(const char *magic, const char *type, const char *id, char *out)
{
    uint8_t buf[64];
    size_t n = 0, id_len = strlen(id);
    memcpy(buf, magic, strlen(magic));
    n += strlen(magic);
    buf[n++] = (uint8_t)type[0];
    buf[n++] = (uint8_t)id_len;
    memcpy(buf + n, id, id_len);
    n += id_len;
    tohex(buf, n, out);
}

static void assert_hex_prefix(const uint8_t *got, size_t got_len, const char *want_hex,
                              const char *what)
{
    char hex[1024];
    assert_true(got_len < 512);
    tohex(got, got_len, hex);
    if (strncmp(hex, want_hex, strlen(want_hex)) != 0)
        fail_msg("%s: the code makes %s, docs/protocol.md's constants say %s...", what, hex,
                 want_hex);
}

/* The doc's constants reproduce what the code computes. */
static void test_constants_are_the_codes(void **state)
{
    (void)state;
    const char *ctx = constant("kdf_context");
    const cJSON *c;

    assert_int_equal(strlen(ctx), crypto_kdf_CONTEXTBYTES);
    assert_string_equal(constant("magic_sym"), OWB_MAGIC_V1);
    assert_string_equal(constant("magic_pk"), OWB_MAGIC_V2);
    cJSON_ArrayForEach(c, case_lists[0])
    {
        const char *id = t_str(c, "device_id");
        uint64_t ctr = case_counter(c);
        uint8_t k[32], mine[32], code[32], raw[16], nonce[16], msg[128];
        char pass[OWB_AP_PASSPHRASE_SIZE], doc_pass[OWB_AP_PASSPHRASE_SIZE];
        char ssid[OWB_AP_SSID_SIZE], want[256];
        size_t len;

        t_hex(t_str(c, "device_key"), k, 32);
        crypto_kdf_derive_from_key(mine, 32, strtoull(constant("kdf_id_bundle_key"), NULL, 10), ctx,
                                   k);
        owb_kdf_bundle_key(code, k);
        assert_memory_equal(mine, code, 32);
        crypto_kdf_derive_from_key(mine, 32, strtoull(constant("kdf_id_checkin_key"), NULL, 10),
                                   ctx, k);
        owb_kdf_checkin_key(code, k);
        assert_memory_equal(mine, code, 32);
        crypto_kdf_derive_from_key(raw, 16, strtoull(constant("kdf_id_ap_passphrase"), NULL, 10),
                                   ctx, k);
        sodium_bin2base64(doc_pass, sizeof doc_pass, raw, 16,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        owb_kdf_ap_passphrase(pass, k);
        assert_string_equal(pass, doc_pass);

        assert_int_equal(owb_ap_ssid(ssid, id), OWB_OK);
        assert_memory_equal(ssid, constant("ap_ssid_prefix"), strlen(constant("ap_ssid_prefix")));

        assert_int_equal(owb_wifi_aad(id, msg, sizeof msg, &len), OWB_OK);
        prefix_hex(constant("magic_sym"), constant("type_wifi"), id, want);
        assert_hex_prefix(msg, len, want, "wifi_aad");
        assert_int_equal(strlen(want), 2 * len);

        assert_int_equal(owb_bundle_header_write(id, ctr, msg, sizeof msg, &len), OWB_OK);
        prefix_hex(constant("magic_sym"), constant("type_bundle"), id, want);
        assert_hex_prefix(msg, len, want, "bundle_header");

        t_hex(t_str(c, "checkin_nonce"), nonce, 16);
        assert_int_equal(owb_checkin_message(id, ctr, nonce, msg, sizeof msg, &len), OWB_OK);
        prefix_hex(constant("magic_sym"), constant("type_checkin"), id, want);
        assert_hex_prefix(msg, len, want, "checkin_message");
    }
    cJSON_ArrayForEach(c, case_lists[1])
    {
        const char *id = t_str(c, "device_id");
        const char *p = t_str(c, "bundle_plaintext");
        uint64_t ctr = case_counter(c);
        uint8_t seed[32], spk[32], ssk[64], dpk[32], dsk[64], eph[32], bn[24], nonce[16];
        uint8_t msg[128], bundle[OWB_BUNDLE_MAX];
        char want[256];
        size_t len;

        t_hex(t_str(c, "server_seed"), seed, 32);
        crypto_sign_seed_keypair(spk, ssk, seed);
        t_hex(t_str(c, "device_seed"), seed, 32);
        crypto_sign_seed_keypair(dpk, dsk, seed);
        t_hex(t_str(c, "ephemeral_sk"), eph, 32);
        t_hex(t_str(c, "bundle_nonce"), bn, 24);
        assert_int_equal(owb_pk_bundle_seal(ssk, dpk, id, ctr, (const uint8_t *)p, strlen(p), eph,
                                            bn, bundle, sizeof bundle, &len),
                         OWB_OK);
        prefix_hex(constant("magic_pk"), constant("type_bundle"), id, want);
        assert_hex_prefix(bundle, 6 + strlen(id), want, "pk bundle_header");

        t_hex(t_str(c, "checkin_nonce"), nonce, 16);
        assert_int_equal(owb_pk_checkin_message(id, ctr, nonce, msg, sizeof msg, &len), OWB_OK);
        prefix_hex(constant("magic_pk"), constant("type_checkin"), id, want);
        assert_hex_prefix(msg, len, want, "pk checkin_message");

        assert_int_equal(owb_wifi_aad(id, msg, sizeof msg, &len), OWB_OK);
        prefix_hex(constant("magic_sym"), constant("type_wifi"), id, want);
        assert_hex_prefix(msg, len, want, "pk wifi_aad");
    }
}

/* The string and character literals of a C file (comments and #include
 * lines skipped), in order. */
struct literal {
    char text[128];
    bool is_char;
    size_t offset; /* in the file */
};

static size_t literals(const char *src, struct literal *out, size_t cap)
{
    size_t n = 0;
    const char *p = src;
    while (*p) {
        if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else if (p[0] == '/' && p[1] == '/') {
            p += strcspn(p, "\n");
        } else if (p[0] == '#' && strncmp(p, "#include", 8) == 0) {
            p += strcspn(p, "\n");
        } else if (*p == '"' || *p == '\'') {
            char q = *p;
            const char *s = ++p;
            while (*p && *p != q)
                p += (*p == '\\' && p[1]) ? 2 : 1;
            assert_true(n < cap);
            size_t len = (size_t)(p - s);
            if (len >= sizeof out[n].text)
                len = sizeof out[n].text - 1;
            memcpy(out[n].text, s, len);
            out[n].text[len] = '\0';
            out[n].is_char = q == '\'';
            out[n].offset = (size_t)(s - 1 - src);
            n++;
            if (*p)
                p++;
        } else {
            p++;
        }
    }
    return n;
}

static bool identifier_like(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

static bool doc_mentions(const char *text, const char *s)
{
    char q[160];
    snprintf(q, sizeof q, "`%s`", s);
    if (strstr(text, q))
        return true;
    snprintf(q, sizeof q, "\"%s\"", s);
    return strstr(text, q) != NULL;
}

/* Every constant the protocol's code uses (KDF context and subkey ids,
 * magics, layer types, wire names) appears in the doc. */
static void test_code_constants_in_doc(void **state)
{
    (void)state;
    static const char *const files[] = {"common/src/kdf.c",         "common/src/envelope.c",
                                        "common/src/envelope_pk.c", "common/src/checkin.c",
                                        "common/src/wifi.c",        "common/include/owb/envelope.h",
                                        "common/src/heartbeat.c"};
    /* Literals that name no wire value. */
    static const char *const not_wire[] = {"unknown"};
    static struct literal lit[512];
    char *text = t_read_file(OWB_SOURCE_DIR "/docs/protocol.md", NULL);
    const char *types[] = {constant("type_wifi"), constant("type_bundle"), constant("type_checkin"),
                           constant("type_heartbeat")};

    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[4096], ctx[64] = "";
        snprintf(path, sizeof path, "%s/%s", OWB_SOURCE_DIR, files[f]);
        char *src = t_read_file(path, NULL);
        const char *ctx_decl = strstr(src, "kdf_context[");
        const char *ctx_end = ctx_decl ? strchr(ctx_decl, ';') : NULL;
        size_t n = literals(src, lit, sizeof lit / sizeof lit[0]);

        for (size_t i = 0; i < n; i++) {
            const char *s = lit[i].text;
            bool in_ctx = ctx_decl && lit[i].offset > (size_t)(ctx_decl - src) &&
                          lit[i].offset < (size_t)(ctx_end - src);
            if (in_ctx) {
                assert_true(strlen(s) == 1 && strlen(ctx) < sizeof ctx - 1);
                strcat(ctx, s);
                continue;
            }
            if (lit[i].is_char) {
                /* A message type is one capital letter; other characters
                 * ('\0', wifi.c's hex-digit ranges) are no wire constant. */
                if (strcmp(files[f], "common/src/wifi.c") == 0 || strlen(s) != 1 || s[0] < 'A' ||
                    s[0] > 'Z')
                    continue;
                bool known = false;
                for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
                    known = known || strcmp(s, types[t]) == 0;
                if (!known)
                    fail_msg("%s uses the character '%s', which docs/protocol.md's constants do "
                             "not name as a message type",
                             files[f], s);
                continue;
            }
            bool skip = !identifier_like(s);
            for (size_t k = 0; k < sizeof not_wire / sizeof not_wire[0]; k++)
                skip = skip || strcmp(s, not_wire[k]) == 0;
            if (!skip && !doc_mentions(text, s))
                fail_msg("%s uses \"%s\"; docs/protocol.md never names it", files[f], s);
        }
        if (ctx_decl) {
            assert_string_equal(ctx, constant("kdf_context"));
            /* The subkey ids, as the code numbers them. */
            static const char *const ids[][2] = {
                {"KDF_ID_BUNDLE = ", "kdf_id_bundle_key"},
                {"KDF_ID_AP_PASSPHRASE = ", "kdf_id_ap_passphrase"},
                {"KDF_ID_CHECKIN = ", "kdf_id_checkin_key"}};
            for (size_t k = 0; k < 3; k++) {
                const char *at = strstr(src, ids[k][0]);
                assert_non_null(at);
                assert_int_equal(strtoul(at + strlen(ids[k][0]), NULL, 10),
                                 strtoul(constant(ids[k][1]), NULL, 10));
            }
        }
        free(src);
    }
    /* The constants are named in the prose too, not only in the block. */
    const char *prose[] = {"magic_sym",    "magic_pk",       "type_wifi",   "type_bundle",
                           "type_checkin", "type_heartbeat", "kdf_context", "ap_ssid_prefix"};
    for (size_t i = 0; i < sizeof prose / sizeof prose[0]; i++)
        if (!doc_mentions(text, constant(prose[i])))
            fail_msg("docs/protocol.md's text never quotes %s (%s)", prose[i], constant(prose[i]));
    free(text);
}

static void check_standalone(const char *path)
{
    static const char *const outside[] = {"../shared", "/work/", "PROTOCOL.md", "](/", "](../../"};
    char *text = t_read_file(path, NULL);
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++)
        if (strstr(text, outside[i]))
            fail_msg("%s refers outside the repository (\"%s\")", path, outside[i]);
    free(text);
}

/* Someone who clones the repository has everything the docs point to. */
static void test_docs_stand_alone(void **state)
{
    (void)state;
    DIR *d = opendir(OWB_SOURCE_DIR "/docs");
    struct dirent *e;
    size_t n = 0;

    check_standalone(OWB_SOURCE_DIR "/README.md");
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[4096];
        if (len < 3 || strcmp(e->d_name + len - 3, ".md") != 0)
            continue;
        snprintf(path, sizeof path, "%s/docs/%s", OWB_SOURCE_DIR, e->d_name);
        check_standalone(path);
        n++;
    }
    closedir(d);
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_values),
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_constants_are_the_codes),
        cmocka_unit_test(test_code_constants_in_doc),
        cmocka_unit_test(test_docs_stand_alone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
