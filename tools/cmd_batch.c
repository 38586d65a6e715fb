/* owb-mint batch: the factory line. Every device's key file and QR code is
 * written first (without a sync each, or 100 000 devices would take
 * minutes), then one syncfs() makes them all durable, and only then do the
 * manifest, the summary and, last, records.jsonl appear, each atomically.
 * A crash or a full disk at any point therefore leaves no records file at
 * all, never a partial one; on a failure the files of this run are removed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "commands.h"
#include "mint.h"
#include "owb/fileio.h"
#include "owb/mem.h"

static const char batch_help[] =
    "Usage: owb-mint batch --count N --server URL --out-dir DIR [--prefix P]\n"
    "                      [--qr-format svg|png|none] [--threads T]\n"
    "                      [--suite sym|pk --server-public-key FILE]\n"
    "Mints N devices (ids P plus 10 random characters, P defaults to \"owb-\";\n"
    "unique within the batch). Writes DIR/<id>.key (0600) and a QR code per\n"
    "device (SVG by default), then DIR/manifest.csv (id, setup URL, AP SSID, QR\n"
    "file) for the label printer, DIR/summary.json, and DIR/records.jsonl for\n"
    "'owb-server device import'. records.jsonl appears only once everything\n"
    "else is on disk. DIR must not hold a records.jsonl or manifest.csv yet.\n"
    "--suite pk: public-key devices, as for 'owb-mint device --suite pk'.\n";

#define MAX_COUNT 10000000UL
#define MANIFEST_LINE_MAX (OWB_DEVICE_ID_SIZE + OWB_SETUP_URL_MAX + OWB_AP_SSID_SIZE + 80)

struct slot {
    char id[OWB_DEVICE_ID_SIZE];
    char record[OWB_RECORD_LINE_MAX + 2]; /* holds the key: the array is secret memory */
    unsigned short record_len;
};

struct batch {
    const char *dir, *server, *qr_ext;
    struct owb_mint_suite suite;
    struct owb_qr_opts qo;
    bool qr;
    unsigned long count;
    struct slot *slots; /* secret memory */
    char *manifest;     /* count lines of MANIFEST_LINE_MAX */
    atomic_ulong done;
    atomic_int failed;
    char error[4096 + 256];
    pthread_mutex_t mu;
};

struct worker {
    struct batch *b;
    unsigned long from, to;
};

static void fail_once(struct batch *b, const char *what, const char *path)
{
    int err = errno;
    pthread_mutex_lock(&b->mu);
    if (!atomic_exchange(&b->failed, 1))
        snprintf(b->error, sizeof b->error, "%s: %s (%s)", path, what,
                 err ? strerror(err) : "internal error");
    pthread_mutex_unlock(&b->mu);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct batch *b = w->b;
    struct owb_keyfile *kf = owb_keyfile_new();
    char path[4096], url[OWB_SETUP_URL_MAX], ssid[OWB_AP_SSID_SIZE];
    size_t len;

    if (!kf) {
        atomic_store(&b->failed, 1);
        return NULL;
    }
    for (unsigned long i = w->from; i < w->to && !atomic_load(&b->failed); i++) {
        struct slot *s = &b->slots[i];
        if (owb_mint_identity(kf, s->id, NULL, b->server, &b->suite) != OWB_OK) {
            fail_once(b, "cannot mint", s->id);
            break;
        }
        snprintf(path, sizeof path, "%s/%s.key", b->dir, s->id);
        char *text = NULL;
        /* An existing key file is never replaced: it would orphan a device. */
        if (owb_keyfile_to_json(kf, &text) != OWB_OK ||
            owb_file_write_atomic(path, text, strlen(text), 0600,
                                  OWB_WRITE_NO_SYNC | OWB_WRITE_NO_REPLACE) != OWB_OK) {
            owb_clear_free_str(text);
            fail_once(b, "cannot write", path);
            break;
        }
        owb_clear_free_str(text);
        owb_setup_url(kf, url, sizeof url);
        if (b->qr) {
            snprintf(path, sizeof path, "%s/%s.%s", b->dir, s->id, b->qr_ext);
            if (owb_qr_write(url, &b->qo, path, OWB_WRITE_NO_SYNC) != OWB_OK) {
                fail_once(b, "cannot write", path);
                break;
            }
        }
        if (owb_mint_record(kf, s->record, sizeof s->record, &len) != OWB_OK) {
            fail_once(b, "cannot make the record", s->id);
            break;
        }
        s->record_len = (unsigned short)len;
        if (owb_ap_ssid(ssid, s->id) != OWB_OK)
            break;
        snprintf(b->manifest + i * MANIFEST_LINE_MAX, MANIFEST_LINE_MAX, "%s,%s,%s,%s\n", s->id,
                 url, ssid, b->qr ? strrchr(path, '/') + 1 : "");
        atomic_fetch_add(&b->done, 1);
    }
    owb_keyfile_free(kf);
    return NULL;
}

/* Ids drawn up front so that uniqueness is checked in one place. */
static bool draw_ids(struct batch *b, const char *prefix)
{
    size_t cap = 1;
    while (cap < b->count * 2)
        cap <<= 1;
    unsigned long *table = calloc(cap, sizeof *table); /* index + 1, 0 = empty */
    size_t plen = strlen(prefix);

    if (!table)
        return false;
    for (unsigned long i = 0; i < b->count; i++) {
        char *id = b->slots[i].id;
        for (;;) {
            memcpy(id, prefix, plen);
            owb_crockford_random(id + plen, OWB_ID_RANDOM_CHARS);
            size_t h = 1469598103934665603ULL;
            for (const char *p = id; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
            size_t k = h & (cap - 1);
            bool dup = false;
            while (table[k]) {
                if (strcmp(b->slots[table[k] - 1].id, id) == 0) {
                    dup = true;
                    break;
                }
                k = (k + 1) & (cap - 1);
            }
            if (!dup) {
                table[k] = i + 1;
                break;
            }
        }
    }
    free(table);
    return true;
}

static void progress(struct batch *b, bool tty, bool final)
{
    unsigned long done = atomic_load(&b->done);
    if (tty) {
        int width = 40, fill = (int)(done * (unsigned long)width / b->count);
        fprintf(stderr, "\r[%.*s%*s] %3lu%% %lu/%lu", fill,
                "########################################", width - fill, "", done * 100 / b->count,
                done, b->count);
        if (final)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "owb-mint batch: %lu/%lu devices\n", done, b->count);
    }
}

/* Removes what this run wrote (after a failure). */
static void clean_up(struct batch *b)
{
    char path[4096];
    for (unsigned long i = 0; i < b->count; i++) {
        if (!b->slots[i].id[0])
            continue;
        snprintf(path, sizeof path, "%s/%s.key", b->dir, b->slots[i].id);
        if (b->slots[i].record_len || access(path, F_OK) == 0)
            unlink(path);
        if (b->qr) {
            snprintf(path, sizeof path, "%s/%s.%s", b->dir, b->slots[i].id, b->qr_ext);
            unlink(path);
        }
    }
}

/* Joins the per-device lines into one buffer and writes it atomically. */
static enum owb_err write_joined(struct batch *b, const char *name, bool records, const char *head)
{
    size_t total = strlen(head), pos;
    char path[4096], *buf;
    enum owb_err rc;

    for (unsigned long i = 0; i < b->count; i++)
        total += records ? b->slots[i].record_len : strlen(b->manifest + i * MANIFEST_LINE_MAX);
    buf = records ? owb_secret_alloc(total + 1) : malloc(total + 1);
    if (!buf)
        return OWB_ERR_NOMEM;
    pos = strlen(head);
    memcpy(buf, head, pos);
    for (unsigned long i = 0; i < b->count; i++) {
        const char *line = records ? b->slots[i].record : b->manifest + i * MANIFEST_LINE_MAX;
        size_t n = records ? b->slots[i].record_len : strlen(line);
        memcpy(buf + pos, line, n);
        pos += n;
    }
    snprintf(path, sizeof path, "%s/%s", b->dir, name);
    /* The manifest's setup URLs carry claim codes: private, like the records. */
    rc = owb_file_write_atomic(path, buf, pos, 0600, OWB_WRITE_NO_REPLACE);
    if (records)
        owb_secret_free(buf);
    else
        free(buf);
    return rc;
}

int cmd_batch_main(int argc, char **argv)
{
    static const struct option opts[] = {{"count", required_argument, NULL, 'n'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"server", required_argument, NULL, 's'},
                                         {"out-dir", required_argument, NULL, 'o'},
                                         {"qr-format", required_argument, NULL, 'q'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"suite", required_argument, NULL, 'S'},
                                         {"server-public-key", required_argument, NULL, 'K'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct batch b = {.qo = {OWB_QR_SVG, 'M', 8, 4}, .qr = true, .qr_ext = "svg"};
    const char *prefix = "owb-", *suite = NULL, *server_key = NULL;
    unsigned long threads = 2, v;
    pthread_t tids[64];
    struct worker ws[64];
    struct timespec t0, t1;
    char path[4096];
    int c, ret = 1, dfd = -1;
    bool tty = isatty(2);

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!mint_parse_uint(optarg, 1, MAX_COUNT, &b.count))
                return mint_usage("batch", "--count takes 1-%lu", MAX_COUNT);
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'S':
            suite = optarg;
            break;
        case 'K':
            server_key = optarg;
            break;
        case 's':
            b.server = optarg;
            break;
        case 'o':
            b.dir = optarg;
            break;
        case 'q':
            if (!strcmp(optarg, "none"))
                b.qr = false;
            else if (!strcmp(optarg, "png") || !strcmp(optarg, "svg"))
                mint_parse_qr_format(optarg, &b.qo.format), b.qr_ext = optarg;
            else
                return mint_usage("batch", "--qr-format takes svg, png or none");
            break;
        case 't':
            if (!mint_parse_uint(optarg, 1, 64, &v))
                return mint_usage("batch", "--threads takes 1-64");
            threads = v;
            break;
        case 'h':
            fputs(batch_help, stdout);
            return 0;
        default:
            return mint_usage("batch", "unknown option");
        }
    }
    if (optind != argc)
        return mint_usage("batch", "unexpected argument '%s'", argv[optind]);
    if (!b.count || !b.server || !b.dir)
        return mint_usage("batch", "--count, --server and --out-dir are required");
    if (!owb_prefix_valid(prefix))
        return mint_usage("batch", "--prefix must be at most %d characters of [A-Za-z0-9._-]",
                          OWB_PREFIX_MAX);
    if (!owb_http_url_valid(b.server, strlen(b.server)) || strlen(b.server) > OWB_URL_MAX - 64)
        return mint_usage("batch", "--server must be an http or https URL");
    if ((ret = owb_mint_suite_parse("batch", suite, server_key, &b.suite)) != 0)
        return ret;
    ret = 1;
    if (mkdir(b.dir, 0755) != 0 && errno != EEXIST)
        return mint_fail("batch", "%s: %s", b.dir, strerror(errno));
    const char *outputs[] = {"records.jsonl", "manifest.csv"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", b.dir, outputs[i]);
        if (access(path, F_OK) == 0)
            return mint_fail("batch", "%s exists: use a new --out-dir for each batch", path);
    }
    /* A full file system can also show up as SIGXFSZ; an error is wanted. */
    signal(SIGXFSZ, SIG_IGN);
    clock_gettime(CLOCK_MONOTONIC, &t0);

    pthread_mutex_init(&b.mu, NULL);
    b.slots = owb_secret_alloc(b.count * sizeof *b.slots);
    b.manifest = calloc(b.count, MANIFEST_LINE_MAX);
    if (!b.slots || !b.manifest || !draw_ids(&b, prefix)) {
        ret = mint_fail("batch", "out of memory for %lu devices", b.count);
        goto out;
    }
    if (threads > b.count)
        threads = b.count;
    for (unsigned long t = 0; t < threads; t++) {
        ws[t] = (struct worker){&b, b.count * t / threads, b.count * (t + 1) / threads};
        if (pthread_create(&tids[t], NULL, work, &ws[t]) != 0) {
            atomic_store(&b.failed, 1);
            threads = t;
            break;
        }
    }
    while (atomic_load(&b.done) < b.count && !atomic_load(&b.failed)) {
        /* A bar redrawn ten times a second; plain lines once a second. */
        struct timespec nap = {tty ? 0 : 1, tty ? 100000000L : 0};
        nanosleep(&nap, NULL);
        progress(&b, tty, false);
    }
    for (unsigned long t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);
    progress(&b, tty, true);
    if (atomic_load(&b.failed) || atomic_load(&b.done) != b.count) {
        ret = mint_fail("batch", "%s; nothing published, files of this run removed",
                        b.error[0] ? b.error : "minting failed");
        clean_up(&b);
        goto out;
    }
    /* Everything written so far reaches the disk before anything is published. */
    dfd = open(b.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || syncfs(dfd) != 0) {
        ret = mint_fail("batch", "%s: cannot sync: %s", b.dir, strerror(errno));
        clean_up(&b);
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    char summary[1024];
    snprintf(summary, sizeof summary,
             "{\"count\":%lu,\"prefix\":\"%s\",\"server\":\"%s\",\"qr_format\":\"%s\","
             "\"records\":\"records.jsonl\",\"manifest\":\"manifest.csv\",\"seconds\":%.3f}\n",
             b.count, prefix, b.server, b.qr ? b.qr_ext : "none", secs);
    snprintf(path, sizeof path, "%s/summary.json", b.dir);
    if (write_joined(&b, "manifest.csv", false, "id,setup_url,ap_ssid,qr_file\n") != OWB_OK ||
        owb_file_write_atomic(path, summary, strlen(summary), 0644, OWB_WRITE_REPLACE) != OWB_OK ||
        write_joined(&b, "records.jsonl", true, "") != OWB_OK) {
        ret = mint_fail("batch", "%s: cannot write the batch files: %s", b.dir, strerror(errno));
        snprintf(path, sizeof path, "%s/manifest.csv", b.dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/summary.json", b.dir);
        unlink(path);
        clean_up(&b);
        goto out;
    }
    printf("minted %lu devices in %.2f s (%.0f/s): %s/records.jsonl, %s/manifest.csv\n", b.count,
           secs, (double)b.count / secs, b.dir, b.dir);
    ret = 0;
out:
    if (dfd >= 0)
        close(dfd);
    if (b.slots)
        owb_secret_free(b.slots);
    free(b.manifest);
    pthread_mutex_destroy(&b.mu);
    return ret;
}
