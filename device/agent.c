/* Agent life cycle: keys from the key file, the stored counter, the
 * backend, the worker thread and setup mode. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "agent.h"
#include "owb/mem.h"

static const char *const state_names[] = {"setup", "applying", "checking_in", "joined", "failed"};
static const char *const reason_names[] = {"",      "wrong_password",     "network_not_found",
                                           "no_ip", "server_unreachable", "apply_failed"};

const char *owb_state_name(enum owb_agent_state s)
{
    return state_names[s];
}

const char *owb_reason_name(enum owb_fail_reason r)
{
    return reason_names[r];
}

bool owb_agent_busy(const struct owb_agent *a)
{
    return a->state == OWB_STATE_APPLYING || a->state == OWB_STATE_CHECKING_IN || a->job_pending ||
           a->rolling;
}

enum owb_err owb_agent_init(struct owb_agent *a, const struct owb_agent_config *cfg, char *diag)
{
    struct stat st;
    enum owb_err rc;

    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->ap_mu, NULL);
    /* Waits and deadlines run on the monotonic clock: a board without a
     * real-time clock has its wall clock stepped by NTP right as it joins
     * the premises network, months forward or back. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (cfg->fail_cap) {
        a->fail_rl = owb_ratelimit_new(OWB_FAIL_SLOTS, cfg->fail_cap / 60.0, cfg->fail_cap);
        if (!a->fail_rl) {
            owb_diagf(diag, "out of memory");
            return OWB_ERR_NOMEM;
        }
    }
    if (stat(cfg->state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        owb_diagf(diag, "%s: not a directory (create it, mode 0700)", cfg->state_dir);
        return OWB_ERR_NOENT;
    }
    owb_state_clean(cfg->state_dir);
    rc = owb_keyfile_read(cfg->key_file, &a->kf, diag);
    if (rc != OWB_OK)
        return rc;
    a->keys = owb_secret_alloc(sizeof *a->keys);
    a->job = owb_secret_alloc(sizeof *a->job);
    a->running_job = owb_secret_alloc(sizeof *a->running_job);
    if (!a->keys || !a->job || !a->running_job) {
        owb_diagf(diag, "out of secure memory");
        return OWB_ERR_NOMEM;
    }
    /* The suite is the key file's: a pk device holds its secret key and
     * the server's public key(s), and a minted AP passphrase. */
    if (a->kf->suite == OWB_SUITE_PK) {
        memcpy(a->keys->ap_passphrase, a->kf->ap_passphrase, sizeof a->keys->ap_passphrase);
    } else {
        owb_kdf_bundle_key(a->keys->bundle_key, a->kf->device_key);
        owb_kdf_checkin_key(a->keys->checkin_key, a->kf->device_key);
        owb_kdf_ap_passphrase(a->keys->ap_passphrase, a->kf->device_key);
    }
    if (owb_ap_ssid(a->ap_ssid, a->kf->device_id) != OWB_OK)
        return OWB_ERR_INTERNAL;
    rc = owb_state_load_counter(cfg->state_dir, &a->counter, diag);
    if (rc != OWB_OK)
        return rc;
    owb_heartbeat_init(a);
    rc = owb_backend_create(cfg->backend, &cfg->backend_cfg, &a->backend, diag);
    if (rc != OWB_OK)
        return rc;
    a->state = owb_state_provisioned(cfg->state_dir) ? OWB_STATE_JOINED : OWB_STATE_SETUP;
    return OWB_OK;
}

enum owb_err owb_agent_start(struct owb_agent *a)
{
    if (pthread_create(&a->worker, NULL, owb_agent_worker, a) != 0)
        return OWB_ERR_NOMEM;
    a->worker_started = true;
    if (a->state == OWB_STATE_JOINED && a->backend->ops->resume)
        a->backend->ops->resume(a->backend);
    if (a->state == OWB_STATE_SETUP)
        owb_agent_open_setup(a);
    return OWB_OK;
}

void owb_agent_open_setup(struct owb_agent *a)
{
    pthread_mutex_lock(&a->mu);
    bool busy = owb_agent_busy(a);
    /* A lowering decided from now on (the linger after a join, the
     * window's end) sees ap_opening and leaves the AP; one decided before
     * holds ap_mu, so this raise comes after it. */
    a->ap_opening = !busy;
    pthread_mutex_unlock(&a->mu);
    if (busy)
        return;
    owb_agent_raise_ap(a);
    pthread_mutex_lock(&a->mu);
    a->ap_opening = false;
    a->setup_open = true;
    a->setup_deadline = a->cfg.setup_window_s ? owb_agent_now_s() + a->cfg.setup_window_s : 0;
    if (a->state != OWB_STATE_FAILED)
        a->state = OWB_STATE_SETUP;
    pthread_mutex_unlock(&a->mu);
    fprintf(stderr, "owb-device: setup mode open (AP \"%s\"%s)\n", a->ap_ssid,
            a->cfg.setup_window_s ? "" : ", no time limit");
}

/* A Wi-Fi stack busy starting (NetworkManager gives a hotspot 25 s) is
 * asked again this often. */
#define AP_RETRY_S 10

void owb_agent_raise_ap(struct owb_agent *a)
{
    pthread_mutex_lock(&a->ap_mu);
    bool ok = a->backend->ops->ap_up(a->backend, a->ap_ssid, a->keys->ap_passphrase) == OWB_OK;
    pthread_mutex_unlock(&a->ap_mu);

    if (!ok)
        fprintf(stderr, "owb-device: could not raise the setup AP; trying again in %d s\n",
                AP_RETRY_S);
    pthread_mutex_lock(&a->mu);
    a->ap_pending = !ok;
    a->ap_retry_at = owb_agent_now_s() + AP_RETRY_S;
    pthread_mutex_unlock(&a->mu);
}

void owb_agent_tick(struct owb_agent *a)
{
    bool close_now, retry_ap;

    pthread_mutex_lock(&a->mu);
    retry_ap =
        a->setup_open && a->ap_pending && owb_agent_now_s() >= a->ap_retry_at && !owb_agent_busy(a);
    pthread_mutex_unlock(&a->mu);
    if (retry_ap)
        owb_agent_raise_ap(a);

    pthread_mutex_lock(&a->mu);
    close_now = a->setup_open && a->setup_deadline && owb_agent_now_s() >= a->setup_deadline &&
                !owb_agent_busy(a);
    pthread_mutex_unlock(&a->mu);
    if (!close_now)
        return;
    /* Decided again under ap_mu: the button may be opening it anew. */
    pthread_mutex_lock(&a->ap_mu);
    pthread_mutex_lock(&a->mu);
    close_now = a->setup_open && a->setup_deadline && owb_agent_now_s() >= a->setup_deadline &&
                !owb_agent_busy(a) && !a->ap_opening;
    if (close_now) {
        a->setup_open = false;
        a->setup_deadline = 0;
        a->ap_pending = false;
    }
    pthread_mutex_unlock(&a->mu);
    if (close_now) {
        fprintf(stderr, "owb-device: setup window over; setup AP down (SIGUSR1 opens it again)\n");
        if (a->backend->ops->ap_down(a->backend) != OWB_OK)
            fprintf(stderr, "owb-device: could not take the setup AP down\n");
    }
    pthread_mutex_unlock(&a->ap_mu);
}

void owb_agent_destroy(struct owb_agent *a)
{
    if (a->worker_started) {
        pthread_mutex_lock(&a->mu);
        a->stopping = true;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->worker, NULL);
    }
    if (a->backend)
        a->backend->ops->destroy(a->backend);
    owb_keyfile_free(a->kf);
    if (a->keys)
        owb_secret_free(a->keys);
    if (a->job)
        owb_secret_free(a->job);
    if (a->running_job)
        owb_secret_free(a->running_job);
    owb_ratelimit_free(a->fail_rl);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->ap_mu);
    pthread_cond_destroy(&a->cv);
    memset(a, 0, sizeof *a);
}

time_t owb_agent_now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}
