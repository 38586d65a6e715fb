/* owb-mint device: mint one device. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "commands.h"
#include "label.h"
#include "mint_cli.h"
#include "owb/fileio.h"
#include "owb/mem.h"

#define PROG "owb-mint device"

static const char device_about[] =
    "Mints one device: a random 32-byte key and claim code, and an id (P plus\n"
    "10 random Crockford base32 characters; P defaults to \"owb-\"). Writes\n"
    "DIR/ID.key (mode 0600), DIR/ID.png and DIR/ID.svg (the label: the QR code\n"
    "of the setup URL <server>/s/<id>#c=<claim>, and beside it the id and the\n"
    "claim code to type when no camera can read it), and appends the server record to\n"
    "DIR/records.jsonl, the file 'owb-server device import' reads.\n"
    "An existing key file is never replaced without --force.\n"
    "--suite pk mints for the public-key suite instead (the default stays sym):\n"
    "an Ed25519 key pair whose secret half stays in the key file, the server\n"
    "key(s) of FILE ('owb-server signing-key public') pinned in it, and a\n"
    "random AP passphrase; the record holds only the public key.\n";

struct device_opts {
    const char *id;
    bool force;
    struct mint_target t;
};

static const struct owb_opt device_opts[] = {
    OWB_OPT_STR_("id", "ID", struct device_opts, id, "the device's id (1-32 of [A-Za-z0-9._-])"),
    OWB_OPT_FLAG_("force", struct device_opts, force, "replace an existing key file"),
};

/* Adds id's record line to DIR/records.jsonl in place of any earlier one
 * of id (a key replaced with --force: two records of one id with two keys
 * would make the server refuse the whole file). The file is rewritten
 * atomically under a lock, so a crash leaves the old file or the new one.
 * *replaced: an earlier record of id was there. */
static enum owb_err put_record(const char *dir, const char *id, const char *line, size_t len,
                               bool *replaced)
{
    char path[4096], lock[4096], prefix[OWB_DEVICE_ID_SIZE + 16], *old = NULL, *all = NULL;
    size_t old_len = 0, all_len = 0, plen;
    int fd;
    enum owb_err rc;

    *replaced = false;
    snprintf(path, sizeof path, "%s/records.jsonl", dir);
    snprintf(lock, sizeof lock, "%s/.records.lock", dir);
    plen = (size_t)snprintf(prefix, sizeof prefix, "{\"device_id\":\"%s\",", id);
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        if (fd >= 0)
            close(fd);
        return OWB_ERR_IO;
    }
    rc = owb_file_read(path, (size_t)1 << 30, &old, &old_len);
    if (rc == OWB_ERR_NOENT)
        rc = OWB_OK;
    if (rc == OWB_OK) {
        all = malloc(old_len + len);
        if (!all)
            rc = OWB_ERR_NOMEM;
    }
    for (size_t at = 0; rc == OWB_OK && at < old_len;) {
        const char *nl = memchr(old + at, '\n', old_len - at);
        size_t n = nl ? (size_t)(nl - (old + at)) + 1 : old_len - at;
        if (n >= plen && memcmp(old + at, prefix, plen) == 0) {
            *replaced = true;
        } else {
            memcpy(all + all_len, old + at, n);
            all_len += n;
        }
        at += n;
    }
    if (rc == OWB_OK) {
        memcpy(all + all_len, line, len);
        all_len += len;
        rc = owb_file_write_atomic(path, all, all_len, 0600, OWB_WRITE_REPLACE);
    }
    if (old)
        owb_clear_free(old, old_len);
    if (all)
        owb_clear_free(all, old_len + len);
    close(fd);
    return rc;
}

static int parse_options(int argc, char **argv, struct device_opts *o)
{
    const struct owb_opt_group groups[] = {{device_opts, OWB_ARRAY_LEN(device_opts), o},
                                           mint_target_group(&o->t)};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "[--id ID | --prefix P] --server URL --out-dir DIR "
                                         "[options]",
                                .about = device_about,
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};
    int ret;

    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;
    if (o->id && o->t.prefix)
        return owb_cli_usage_error(PROG, "--id and --prefix exclude each other");
    if (!o->t.server || !o->t.dir)
        return owb_cli_usage_error(PROG, "--server and --out-dir are required");
    if (o->id && !owb_device_id_valid_str(o->id))
        return owb_cli_usage_error(PROG, "--id must be 1-32 characters of [A-Za-z0-9._-]");
    return mint_target_check(PROG, &o->t);
}

/* The label (the setup URL's QR code, the id and the claim code), as a PNG
 * and an SVG. */
static int write_labels(const char *dir, const struct owb_keyfile *kf, const char *url)
{
    static const enum owb_qr_format formats[] = {OWB_QR_PNG, OWB_QR_SVG};
    static const char *const exts[] = {"png", "svg"};
    struct owb_qr_opts qo = {OWB_QR_PNG, 'M', 8, 4};
    char path[4096];

    for (size_t i = 0; i < 2; i++) {
        qo.format = formats[i];
        snprintf(path, sizeof path, "%s/%s.%s", dir, kf->device_id, exts[i]);
        if (owb_label_write(kf->device_id, kf->claim_code, url, &qo, path, OWB_WRITE_REPLACE) !=
            OWB_OK)
            return owb_cli_fail(PROG, "%s: cannot write: %s", path, strerror(errno));
    }
    return OWB_EXIT_OK;
}

/* Writes kf's key file, QR codes and record; prints what was made. */
static int write_device(const struct device_opts *o, const struct owb_keyfile *kf)
{
    char path[4096], url[OWB_SETUP_URL_MAX], ssid[OWB_AP_SSID_SIZE], diag[OWB_DIAG_SIZE];
    char line[OWB_RECORD_LINE_MAX + 2];
    size_t len = 0;
    bool replaced = false;
    int ret;

    snprintf(path, sizeof path, "%s/%s.key", o->t.dir, kf->device_id);
    if (owb_keyfile_write(path, kf, o->force, diag) != OWB_OK)
        return owb_cli_fail(PROG, "%s", diag);
    owb_setup_url(kf, url, sizeof url);
    if ((ret = write_labels(o->t.dir, kf, url)) != OWB_EXIT_OK)
        return ret;
    ret = OWB_EXIT_FAIL;
    if (owb_mint_record(kf, line, sizeof line, &len) != OWB_OK ||
        put_record(o->t.dir, kf->device_id, line, len, &replaced) != OWB_OK)
        owb_cli_fail(PROG, "%s/records.jsonl: cannot write: %s", o->t.dir, strerror(errno));
    else if (owb_ap_ssid(ssid, kf->device_id) == OWB_OK)
        ret = OWB_EXIT_OK;
    sodium_memzero(line, sizeof line);
    if (ret == OWB_EXIT_OK)
        printf("id:        %s\nsetup URL: %s\nAP SSID:   %s\nkey file:  %s/%s.key\n%s",
               kf->device_id, url, ssid, o->t.dir, kf->device_id,
               replaced ? "record:    replaces the earlier one of this id in records.jsonl\n" : "");
    return ret;
}

int cmd_device_main(int argc, char **argv)
{
    struct device_opts o = {0};
    struct owb_keyfile *kf = NULL;
    int ret;

    if ((ret = parse_options(argc, argv, &o)) != OWB_CLI_RUN)
        return ret;
    if (mkdir(o.t.dir, 0755) != 0 && errno != EEXIST)
        return owb_cli_fail(PROG, "%s: %s", o.t.dir, strerror(errno));
    kf = owb_keyfile_new();
    if (!kf)
        return owb_cli_fail(PROG, "out of secure memory");
    if (owb_mint_identity(kf, o.id, o.t.prefix ? o.t.prefix : "owb-", o.t.server, &o.t.ms) !=
        OWB_OK)
        ret = owb_cli_fail(PROG, "could not make an identity");
    else
        ret = write_device(&o, kf);
    owb_keyfile_free(kf);
    return ret;
}
