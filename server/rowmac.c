#include "rowmac.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

/* Each field is written with its length (two bytes, little-endian) in
 * front, so no two rows encode alike however their fields are split. */
struct enc {
    uint8_t buf[1024];
    size_t len;
};

/* The longest row, a device with eight fields at their maximum, fits. */
_Static_assert(8 * 2 + 32 + OWB_DEVICE_ID_SIZE + 3 + 2 * OWB_SEALED_MAX + 32 + OWB_HASH_BYTES +
                       OWB_NETWORK_NAME_MAX <=
                   sizeof(((struct enc *)0)->buf),
               "row encoding buffer too small");

static void put(struct enc *e, const void *p, size_t n)
{
    e->buf[e->len++] = (uint8_t)(n & 0xff);
    e->buf[e->len++] = (uint8_t)(n >> 8);
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}

static void put_str(struct enc *e, const char *s)
{
    put(e, s, strlen(s));
}

void owb_row_mac_device(const struct owb_master *m, const struct owb_device_row *row,
                        uint8_t mac[static OWB_ROW_MAC_BYTES])
{
    struct enc e = {.len = 0};
    bool pk = row->suite == OWB_SUITE_PK;

    put_str(&e, "owb-row-v1:devices");
    put_str(&e, row->id);
    put_str(&e, owb_suite_name(pk ? OWB_SUITE_PK : OWB_SUITE_SYM));
    put(&e, row->sealed_key.bytes, pk ? 0 : row->sealed_key.len);
    put(&e, row->public_key, pk ? sizeof row->public_key : 0);
    put(&e, row->sealed_ap.bytes, pk ? row->sealed_ap.len : 0);
    put(&e, row->claim_hash, row->has_claim ? sizeof row->claim_hash : 0);
    put_str(&e, row->network);
    owb_master_row_mac(m, e.buf, e.len, mac);
}

void owb_row_mac_network(const struct owb_master *m, const struct owb_network_row *row,
                         uint8_t mac[static OWB_ROW_MAC_BYTES])
{
    struct enc e = {.len = 0};

    put_str(&e, "owb-row-v1:networks");
    put_str(&e, row->name);
    put_str(&e, row->ssid);
    put_str(&e, owb_security_name(row->security));
    put_str(&e, row->hidden ? "hidden" : "visible");
    put(&e, row->sealed_psk.bytes, row->sealed_psk.len);
    owb_master_row_mac(m, e.buf, e.len, mac);
}

void owb_row_mac_import(const struct owb_master *m, const struct owb_import_item *it,
                        uint8_t mac[static OWB_ROW_MAC_BYTES])
{
    struct owb_device_row row;

    memset(&row, 0, sizeof row);
    memcpy(row.id, it->id, sizeof row.id);
    row.suite = it->suite;
    row.sealed_key = it->sealed_key;
    memcpy(row.public_key, it->public_key, sizeof row.public_key);
    row.sealed_ap = it->sealed_ap;
    row.has_claim = it->has_claim;
    memcpy(row.claim_hash, it->claim_hash, sizeof row.claim_hash);
    owb_row_mac_device(m, &row, mac);
}

static enum owb_err check(bool has_mac, const uint8_t *stored,
                          const uint8_t want[OWB_ROW_MAC_BYTES], const char **why)
{
    if (!has_mac) {
        *why = "has no row MAC (written before row MACs; check it, then run 'owb-server "
               "seal-rows')";
        return OWB_ERR_TAMPERED;
    }
    if (sodium_memcmp(stored, want, OWB_ROW_MAC_BYTES) != 0) {
        *why = "does not match its row MAC: changed without the master key";
        return OWB_ERR_TAMPERED;
    }
    *why = NULL;
    return OWB_OK;
}

enum owb_err owb_row_check_device(const struct owb_master *m, const struct owb_device_row *row,
                                  const char **why)
{
    uint8_t want[OWB_ROW_MAC_BYTES];
    owb_row_mac_device(m, row, want);
    return check(row->has_mac, row->row_mac, want, why);
}

enum owb_err owb_row_check_network(const struct owb_master *m, const struct owb_network_row *row,
                                   const char **why)
{
    uint8_t want[OWB_ROW_MAC_BYTES];
    owb_row_mac_network(m, row, want);
    return check(row->has_mac, row->row_mac, want, why);
}

/* A row's check (rc), logged naming the row when it fails (*why, read
 * once the check has set it). */
static enum owb_err logged(enum owb_err rc, const char *table, const char *key,
                           const char *const *why)
{
    if (rc != OWB_OK)
        fprintf(stderr, "owb-server: %s row %s %s; refusing to use it\n", table, key, *why);
    return rc;
}

/* A device row read with rc, checked when it was read: the twin of
 * owb_row_network_read for the three ways a device is read. */
static enum owb_err device_read(const struct owb_master *m, const char *id, enum owb_err rc,
                                const struct owb_device_row *row)
{
    const char *why = NULL;

    return rc == OWB_OK ? logged(owb_row_check_device(m, row, &why), "devices", id, &why) : rc;
}

enum owb_err owb_row_device_get(struct owb_store *s, const struct owb_master *m, const char *id,
                                struct owb_device_row *row)
{
    return device_read(m, id, s->ops->device_get(s, id, row), row);
}

enum owb_err owb_row_network_read(const struct owb_master *m, const char *name, enum owb_err rc,
                                  const struct owb_network_row *row)
{
    const char *why = NULL;

    return rc == OWB_OK ? logged(owb_row_check_network(m, row, &why), "networks", name, &why) : rc;
}

enum owb_err owb_row_network_get(struct owb_store *s, const struct owb_master *m, const char *name,
                                 struct owb_network_row *row)
{
    return owb_row_network_read(m, name, s->ops->network_get(s, name, row), row);
}

enum owb_err owb_row_setup_read(struct owb_store *s, const struct owb_master *m, const char *id,
                                int64_t claim_since, const uint8_t *token_hash,
                                struct owb_setup_read *out)
{
    return device_read(m, id, s->ops->setup_read(s, id, claim_since, token_hash, out), &out->dev);
}

enum owb_err owb_row_setup_issue(struct owb_store *s, const struct owb_master *m,
                                 const struct owb_setup_ask *ask, struct owb_setup_read *out,
                                 uint64_t *counter)
{
    return device_read(m, ask->id, s->ops->setup_issue(s, ask, out, counter), &out->dev);
}
