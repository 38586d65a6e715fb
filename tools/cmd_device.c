/* owb-mint device: mint one device. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "commands.h"
#include "mint.h"
#include "owb/fileio.h"
#include "owb/mem.h"

static const char device_help[] =
    "Usage: owb-mint device [--id ID | --prefix P] --server URL --out-dir DIR [--force]\n"
    "                       [--suite sym|pk --server-public-key FILE]\n"
    "Mints one device: a random 32-byte key and claim code, and an id (P plus\n"
    "10 random Crockford base32 characters; P defaults to \"owb-\"). Writes\n"
    "DIR/ID.key (mode 0600), DIR/ID.png and DIR/ID.svg (the QR code of the\n"
    "setup URL <server>/s/<id>#c=<claim>), and appends the server record to\n"
    "DIR/records.jsonl, the file 'owb-server device import' reads.\n"
    "An existing key file is never replaced without --force.\n"
    "--suite pk mints for the public-key suite instead (the default stays sym):\n"
    "an Ed25519 key pair whose secret half stays in the key file, the server\n"
    "key(s) of FILE ('owb-server signing-key public') pinned in it, and a\n"
    "random AP passphrase; the record holds only the public key.\n";

/* Appends line to DIR/records.jsonl: the whole file is rewritten atomically
 * under a lock, so a crash leaves the old file or the new one. */
static enum owb_err append_record(const char *dir, const char *line, size_t len)
{
    char path[4096], lock[4096], *old = NULL, *all = NULL;
    size_t old_len = 0;
    int fd;
    enum owb_err rc;

    snprintf(path, sizeof path, "%s/records.jsonl", dir);
    snprintf(lock, sizeof lock, "%s/.records.lock", dir);
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
    if (rc == OWB_OK) {
        if (old_len)
            memcpy(all, old, old_len);
        memcpy(all + old_len, line, len);
        rc = owb_file_write_atomic(path, all, old_len + len, 0600, OWB_WRITE_REPLACE);
    }
    if (old)
        owb_clear_free(old, old_len);
    if (all)
        owb_clear_free(all, old_len + len);
    close(fd);
    return rc;
}

int cmd_device_main(int argc, char **argv)
{
    static const struct option opts[] = {{"id", required_argument, NULL, 'i'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"server", required_argument, NULL, 's'},
                                         {"out-dir", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"suite", required_argument, NULL, 'S'},
                                         {"server-public-key", required_argument, NULL, 'K'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *id = NULL, *prefix = NULL, *server = NULL, *dir = NULL, *suite = NULL;
    const char *server_key = NULL;
    struct owb_mint_suite ms;
    bool force = false;
    struct owb_keyfile *kf = NULL;
    char path[4096], url[OWB_SETUP_URL_MAX], ssid[OWB_AP_SSID_SIZE], diag[OWB_DIAG_SIZE];
    char line[OWB_RECORD_LINE_MAX + 2];
    size_t len = 0;
    struct owb_qr_opts qo = {OWB_QR_PNG, 'M', 8, 4};
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            id = optarg;
            break;
        case 'p':
            prefix = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'o':
            dir = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'S':
            suite = optarg;
            break;
        case 'K':
            server_key = optarg;
            break;
        case 'h':
            fputs(device_help, stdout);
            return 0;
        default:
            return mint_usage("device", "unknown option");
        }
    }
    if (optind != argc)
        return mint_usage("device", "unexpected argument '%s'", argv[optind]);
    if (id && prefix)
        return mint_usage("device", "--id and --prefix exclude each other");
    if (!server || !dir)
        return mint_usage("device", "--server and --out-dir are required");
    if (id && !owb_device_id_valid_str(id))
        return mint_usage("device", "--id must be 1-32 characters of [A-Za-z0-9._-]");
    if (prefix && !owb_prefix_valid(prefix))
        return mint_usage("device", "--prefix must be at most %d characters of [A-Za-z0-9._-]",
                          OWB_PREFIX_MAX);
    if (!owb_http_url_valid(server, strlen(server)) || strlen(server) > OWB_URL_MAX - 64)
        return mint_usage("device", "--server must be an http or https URL");
    if ((ret = owb_mint_suite_parse("device", suite, server_key, &ms)) != 0)
        return ret;
    ret = 1;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return mint_fail("device", "%s: %s", dir, strerror(errno));

    kf = owb_keyfile_new();
    if (!kf)
        return mint_fail("device", "out of secure memory");
    if (owb_mint_identity(kf, id, prefix ? prefix : "owb-", server, &ms) != OWB_OK) {
        ret = mint_fail("device", "could not make an identity");
        goto out;
    }
    snprintf(path, sizeof path, "%s/%s.key", dir, kf->device_id);
    if (owb_keyfile_write(path, kf, force, diag) != OWB_OK) {
        ret = mint_fail("device", "%s", diag);
        goto out;
    }
    owb_setup_url(kf, url, sizeof url);
    snprintf(path, sizeof path, "%s/%s.png", dir, kf->device_id);
    if (owb_qr_write(url, &qo, path, OWB_WRITE_REPLACE) != OWB_OK) {
        ret = mint_fail("device", "%s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    qo.format = OWB_QR_SVG;
    snprintf(path, sizeof path, "%s/%s.svg", dir, kf->device_id);
    if (owb_qr_write(url, &qo, path, OWB_WRITE_REPLACE) != OWB_OK) {
        ret = mint_fail("device", "%s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    if (owb_mint_record(kf, line, sizeof line, &len) != OWB_OK ||
        append_record(dir, line, len) != OWB_OK) {
        ret = mint_fail("device", "%s/records.jsonl: cannot write: %s", dir, strerror(errno));
        goto out;
    }
    if (owb_ap_ssid(ssid, kf->device_id) != OWB_OK)
        goto out;
    printf("id:        %s\nsetup URL: %s\nAP SSID:   %s\nkey file:  %s/%s.key\n", kf->device_id,
           url, ssid, dir, kf->device_id);
    ret = 0;
out:
    sodium_memzero(line, sizeof line);
    owb_keyfile_free(kf);
    return ret;
}
