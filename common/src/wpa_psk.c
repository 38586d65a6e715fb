/* SHA-1 (FIPS 180-4), HMAC-SHA1 (RFC 2104) and PBKDF2 (RFC 8018) for the
 * one thing that needs them: the WPA2 PSK. The HMAC keeps the inner and
 * outer states after the key block, so each of the 8192 HMACs costs two
 * compressions. Every intermediate is wiped. */
#include <string.h>

#include <sodium.h>

#include "owb/wpa_psk.h"

struct sha1 {
    uint32_t h[5];
    uint8_t block[64];
    size_t used;
    uint64_t total;
};

static uint32_t rol(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void compress(uint32_t h[5], const uint8_t block[64])
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    sodium_memzero(w, sizeof w);
}

static void sha1_init(struct sha1 *s)
{
    static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    memcpy(s->h, iv, sizeof iv);
    s->used = 0;
    s->total = 0;
}

static void sha1_update(struct sha1 *s, const uint8_t *p, size_t len)
{
    s->total += len;
    while (len) {
        size_t take = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        len -= take;
        if (s->used == 64) {
            compress(s->h, s->block);
            s->used = 0;
        }
    }
}

static void sha1_final(struct sha1 *s, uint8_t out[OWB_SHA1_BYTES])
{
    uint64_t bits = s->total * 8;
    uint8_t pad = 0x80, zero = 0, len[8];

    sha1_update(s, &pad, 1);
    while (s->used != 56)
        sha1_update(s, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha1_update(s, len, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void owb_sha1(const uint8_t *msg, size_t len, uint8_t out[OWB_SHA1_BYTES])
{
    struct sha1 s;

    sha1_init(&s);
    sha1_update(&s, msg, len);
    sha1_final(&s, out);
    sodium_memzero(&s, sizeof s);
}

/* The inner and outer states after the key block (the key is <= 64 bytes). */
struct hmac {
    struct sha1 inner, outer;
};

static void hmac_init(struct hmac *m, const uint8_t *key, size_t key_len)
{
    uint8_t pad[64];

    memset(pad, 0x36, sizeof pad);
    for (size_t i = 0; i < key_len; i++)
        pad[i] ^= key[i];
    sha1_init(&m->inner);
    sha1_update(&m->inner, pad, 64);
    for (size_t i = 0; i < 64; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    sha1_init(&m->outer);
    sha1_update(&m->outer, pad, 64);
    sodium_memzero(pad, sizeof pad);
}

static void hmac(const struct hmac *m, const uint8_t *msg, size_t len, uint8_t out[OWB_SHA1_BYTES])
{
    struct sha1 s = m->inner;

    sha1_update(&s, msg, len);
    sha1_final(&s, out);
    s = m->outer;
    sha1_update(&s, out, OWB_SHA1_BYTES);
    sha1_final(&s, out);
    sodium_memzero(&s, sizeof s);
}

enum owb_err owb_wpa_psk(const char *passphrase, const uint8_t *ssid, size_t ssid_len,
                         uint8_t psk[OWB_WPA_PSK_BYTES])
{
    size_t plen = strlen(passphrase);
    struct hmac m;
    uint8_t salt[32 + 4], u[OWB_SHA1_BYTES], t[OWB_SHA1_BYTES];

    if (plen < 8 || plen > 63 || ssid_len < 1 || ssid_len > 32)
        return OWB_ERR_INVALID_ARG;
    hmac_init(&m, (const uint8_t *)passphrase, plen);
    memcpy(salt, ssid, ssid_len);
    /* Two blocks of 20 bytes give the 32. */
    for (uint32_t block = 1; block <= 2; block++) {
        salt[ssid_len] = 0;
        salt[ssid_len + 1] = 0;
        salt[ssid_len + 2] = 0;
        salt[ssid_len + 3] = (uint8_t)block;
        hmac(&m, salt, ssid_len + 4, u);
        memcpy(t, u, sizeof t);
        for (int i = 1; i < 4096; i++) {
            hmac(&m, u, sizeof u, u);
            for (size_t k = 0; k < sizeof t; k++)
                t[k] ^= u[k];
        }
        memcpy(psk + (block - 1) * OWB_SHA1_BYTES, t,
               block == 1 ? OWB_SHA1_BYTES : OWB_WPA_PSK_BYTES - OWB_SHA1_BYTES);
    }
    sodium_memzero(&m, sizeof m);
    sodium_memzero(u, sizeof u);
    sodium_memzero(t, sizeof t);
    sodium_memzero(salt, sizeof salt);
    return OWB_OK;
}
