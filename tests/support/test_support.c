#include "test_support.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

size_t t_hex_len(const char *hex)
{
    return strlen(hex) / 2;
}

void t_hex(const char *hex, uint8_t *out, size_t out_len)
{
    size_t n = 0;

    assert_int_equal(sodium_hex2bin(out, out_len, hex, strlen(hex), NULL, &n, NULL), 0);
    assert_int_equal(n, out_len);
}

char *t_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

const cJSON *t_vector_cases(const char *name, cJSON **root)
{
    char path[4096];
    char *text;
    const cJSON *cases;

    snprintf(path, sizeof path, "%s/%s", OWB_TEST_VECTORS_DIR, name);
    text = t_read_file(path, NULL);
    *root = cJSON_Parse(text);
    free(text);
    assert_non_null(*root);
    cases = cJSON_GetObjectItemCaseSensitive(*root, "cases");
    assert_true(cJSON_IsArray(cases));
    assert_true(cJSON_GetArraySize(cases) > 0);
    return cases;
}

const char *t_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(item))
        fail_msg("vector member %s missing", key);
    return item->valuestring;
}

char *t_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = malloc(4096);

    assert_non_null(path);
    snprintf(path, 4096, "%s/owb-test-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(path));
    return path;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void t_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
