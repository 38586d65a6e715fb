/* owb-mint batch: the factory line. Every device's key file and QR code is
 * written first (without a sync each, or 100 000 devices would take
 * minutes), then one syncfs() makes them all durable, and only then do the
 * manifest, the summary and, last, records.jsonl appear, each atomically.
 * A crash or a full disk at any point therefore leaves no records file at
 * all, never a partial one; on a failure the files of this run are removed. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "commands.h"
#include "label.h"
#include "mint_cli.h"
#include "owb/fileio.h"
#include "owb/mem.h"

#define PROG "owb-mint batch"

static const char batch_about[] =
    "Mints N devices (ids P plus 10 random characters, P defaults to \"owb-\";\n"
    "unique within the batch). Writes DIR/<id>.key (0600) and a label per device\n"
    "(SVG by default: the QR code of the setup URL, the id and the claim code),\n"
    "then DIR/manifest.csv (id, setup URL, AP SSID, label file) for the label\n"
    "printer and 'owb-mint labels', DIR/summary.json, and DIR/records.jsonl for\n"
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

/* What the options say, before the run starts. */
struct batch_opts {
    unsigned count, threads, qr_format; /* qr_format: index in "svg|png|none" */
    struct mint_target t;
};

static const struct owb_opt batch_opts[] = {
    OWB_OPT_UINT_("count", "N", struct batch_opts, count, 1, MAX_COUNT,
                  "how many devices (required)"),
    OWB_OPT_CHOICE_("qr-format", "svg|png|none", struct batch_opts, qr_format,
                    "a label file per device, or none (default svg)"),
    OWB_OPT_UINT_("threads", "T", struct batch_opts, threads, 1, 64,
                  "threads minting at once (default 2)"),
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
            if (owb_label_write(s->id, kf->claim_code, url, &b->qo, path, OWB_WRITE_NO_SYNC) !=
                OWB_OK) {
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

static int parse_options(int argc, char **argv, struct batch_opts *o, struct batch *b)
{
    static const char *const exts[] = {"svg", "png", NULL};
    const struct owb_opt_group groups[] = {{batch_opts, OWB_ARRAY_LEN(batch_opts), o},
                                           mint_target_group(&o->t)};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "--count N --server URL --out-dir DIR [options]",
                                .about = batch_about,
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};
    int ret;

    *o = (struct batch_opts){.threads = 2, .t.prefix = "owb-"};
    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;
    if (!o->count || !o->t.server || !o->t.dir)
        return owb_cli_usage_error(PROG, "--count, --server and --out-dir are required");
    if ((ret = mint_target_check(PROG, &o->t)) != OWB_CLI_RUN)
        return ret;
    b->suite = o->t.ms;
    b->count = o->count;
    b->server = o->t.server;
    b->dir = o->t.dir;
    b->qr = exts[o->qr_format] != NULL;
    b->qr_ext = b->qr ? exts[o->qr_format] : "none";
    b->qo.format = o->qr_format == 1 ? OWB_QR_PNG : OWB_QR_SVG;
    return OWB_CLI_RUN;
}

/* DIR made if need be, and holding no batch yet. */
static int check_out_dir(const char *dir)
{
    static const char *const outputs[] = {"records.jsonl", "manifest.csv"};
    char path[4096];

    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return owb_cli_fail(PROG, "%s: %s", dir, strerror(errno));
    for (size_t i = 0; i < OWB_ARRAY_LEN(outputs); i++) {
        snprintf(path, sizeof path, "%s/%s", dir, outputs[i]);
        if (access(path, F_OK) == 0)
            return owb_cli_fail(PROG, "%s exists: use a new --out-dir for each batch", path);
    }
    return OWB_CLI_RUN;
}

/* Mints every device on up to threads threads; false when any failed. */
static bool mint_all(struct batch *b, unsigned long threads)
{
    pthread_t tids[64];
    struct worker ws[64];
    bool tty = isatty(2);

    if (threads > b->count)
        threads = b->count;
    for (unsigned long t = 0; t < threads; t++) {
        ws[t] = (struct worker){b, b->count * t / threads, b->count * (t + 1) / threads};
        if (pthread_create(&tids[t], NULL, work, &ws[t]) != 0) {
            atomic_store(&b->failed, 1);
            threads = t;
            break;
        }
    }
    while (atomic_load(&b->done) < b->count && !atomic_load(&b->failed)) {
        /* A bar redrawn ten times a second; plain lines once a second. */
        struct timespec nap = {tty ? 0 : 1, tty ? 100000000L : 0};
        nanosleep(&nap, NULL);
        progress(b, tty, false);
    }
    for (unsigned long t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);
    progress(b, tty, true);
    return !atomic_load(&b->failed) && atomic_load(&b->done) == b->count;
}

/* DIR/summary.json, through the JSON writer: the server URL may hold any
 * character a URL may, quotes and backslashes too. */
static enum owb_err write_summary(const struct batch *b, const char *prefix, double secs)
{
    cJSON *root = cJSON_CreateObject();
    char path[4096], text[4096];
    enum owb_err rc = OWB_ERR_NOMEM;
    size_t n;

    if (!root || !cJSON_AddNumberToObject(root, "count", (double)b->count) ||
        !cJSON_AddStringToObject(root, "prefix", prefix) ||
        !cJSON_AddStringToObject(root, "server", b->server) ||
        !cJSON_AddStringToObject(root, "qr_format", b->qr_ext) ||
        !cJSON_AddStringToObject(root, "records", "records.jsonl") ||
        !cJSON_AddStringToObject(root, "manifest", "manifest.csv") ||
        !cJSON_AddNumberToObject(root, "seconds", round(secs * 1000) / 1000) ||
        !cJSON_PrintPreallocated(root, text, sizeof text - 1, false))
        goto out;
    n = strlen(text);
    text[n++] = '\n';
    snprintf(path, sizeof path, "%s/summary.json", b->dir);
    rc = owb_file_write_atomic(path, text, n, 0644, OWB_WRITE_REPLACE);
out:
    cJSON_Delete(root);
    return rc;
}

/* After a sync of everything minted: the manifest, the summary, and last
 * the records. */
static int publish(struct batch *b, const char *prefix, double secs)
{
    char path[4096];
    int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    /* Everything written so far reaches the disk before anything is published. */
    if (dfd < 0 || syncfs(dfd) != 0) {
        int ret = owb_cli_fail(PROG, "%s: cannot sync: %s", b->dir, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return ret;
    }
    close(dfd);
    if (write_joined(b, "manifest.csv", false, "id,setup_url,ap_ssid,qr_file\n") != OWB_OK ||
        write_summary(b, prefix, secs) != OWB_OK ||
        write_joined(b, "records.jsonl", true, "") != OWB_OK) {
        int ret =
            owb_cli_fail(PROG, "%s: cannot write the batch files: %s", b->dir, strerror(errno));
        snprintf(path, sizeof path, "%s/manifest.csv", b->dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/summary.json", b->dir);
        unlink(path);
        return ret;
    }
    return OWB_EXIT_OK;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int cmd_batch_main(int argc, char **argv)
{
    struct batch b = {.qo = {OWB_QR_SVG, 'M', 8, 4}};
    struct batch_opts o;
    struct timespec t0;
    double secs;
    int ret;

    if ((ret = parse_options(argc, argv, &o, &b)) != OWB_CLI_RUN ||
        (ret = check_out_dir(b.dir)) != OWB_CLI_RUN)
        return ret;
    /* A full file system can also show up as SIGXFSZ; an error is wanted. */
    signal(SIGXFSZ, SIG_IGN);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_init(&b.mu, NULL);
    b.slots = owb_secret_alloc(b.count * sizeof *b.slots);
    b.manifest = calloc(b.count, MANIFEST_LINE_MAX);
    if (!b.slots || !b.manifest || !draw_ids(&b, o.t.prefix)) {
        ret = owb_cli_fail(PROG, "out of memory for %lu devices", b.count);
        goto out;
    }
    if (!mint_all(&b, o.threads)) {
        ret = owb_cli_fail(PROG, "%s; nothing published, files of this run removed",
                           b.error[0] ? b.error : "minting failed");
        clean_up(&b);
        goto out;
    }
    secs = seconds_since(&t0);
    if ((ret = publish(&b, o.t.prefix, secs)) != OWB_EXIT_OK) {
        clean_up(&b);
        goto out;
    }
    printf("minted %lu devices in %.2f s (%.0f/s): %s/records.jsonl, %s/manifest.csv\n", b.count,
           secs, (double)b.count / secs, b.dir, b.dir);
out:
    if (b.slots)
        owb_secret_free(b.slots);
    free(b.manifest);
    pthread_mutex_destroy(&b.mu);
    return ret;
}
