/* The device agent: its configuration, keys, state machine and the worker
 * that applies a bundle. One mutex guards the shared state; the HTTP
 * thread decides, the worker thread acts. */
#ifndef OWB_DEVICE_AGENT_H
#define OWB_DEVICE_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "backend.h"
#include "owb/httpd.h"
#include "owb/kdf.h"
#include "owb/keyfile.h"
#include "owb/payload.h"
#include "owb/ratelimit.h"
#include "owb/wifi.h"

#define OWB_DEVICE_BODY_MAX (8 * 1024)
/* Client addresses whose failures are counted; more evict the oldest. */
#define OWB_FAIL_SLOTS 64

/* checking_in: on the premises network, checking in with the server (the
 * setup AP still up where the backend can keep it). joined: checked in,
 * the final success; failed: the previous settings are back. */
enum owb_agent_state {
    OWB_STATE_SETUP,
    OWB_STATE_APPLYING,
    OWB_STATE_CHECKING_IN,
    OWB_STATE_JOINED,
    OWB_STATE_FAILED,
};

enum owb_fail_reason {
    OWB_REASON_NONE,
    OWB_REASON_WRONG_PASSWORD,
    OWB_REASON_NETWORK_NOT_FOUND,
    OWB_REASON_NO_IP,
    OWB_REASON_SERVER_UNREACHABLE,
    OWB_REASON_APPLY_FAILED,
};

struct owb_agent_config {
    const char *key_file;
    const char *state_dir;
    const char *state_hook; /* run as "PROG save DIR FILE" after each state write, or NULL */
    const char *listen;
    const char *backend;
    struct owb_backend_config backend_cfg;
    unsigned join_timeout_s;
    unsigned setup_window_s; /* 0 = no limit */
    unsigned checkin_timeout_s;
    unsigned fail_cap;        /* failed provisions per minute before 429 */
    const char *https_helper; /* program for https check-in URLs */
    unsigned heartbeat_s;     /* mean heartbeat interval; 0 = no heartbeats */
    bool quiet;
};

/* Keys derived once from the device key, in secret memory. */
struct owb_agent_keys {
    uint8_t bundle_key[OWB_BUNDLE_KEY_BYTES];
    uint8_t checkin_key[OWB_CHECKIN_KEY_BYTES];
    char ap_passphrase[OWB_AP_PASSPHRASE_SIZE];
};

/* What the worker applies; in secret memory. */
struct owb_job {
    struct owb_wifi wifi;
    char hostname[OWB_HOSTNAME_MAX + 1];
    char checkin_url[OWB_URL_MAX + 1];
    uint64_t counter;
};

struct owb_agent {
    struct owb_agent_config cfg;
    struct owb_keyfile *kf;
    struct owb_agent_keys *keys;
    char ap_ssid[OWB_AP_SSID_SIZE];
    struct owb_backend *backend;

    pthread_mutex_t mu;
    /* Held around raising or lowering the setup AP, together with the
     * decision to lower it, so that the button's raise and a lowering
     * decided meanwhile cannot cross (taken before mu). */
    pthread_mutex_t ap_mu;
    bool ap_opening; /* the button's raise is under way (setup_open after it) */
    pthread_cond_t cv;
    enum owb_agent_state state;
    enum owb_fail_reason reason;
    uint64_t counter; /* highest accepted, as stored */
    bool setup_open;
    time_t setup_deadline; /* 0 = none */
    bool ap_pending;       /* the setup AP failed to come up: tick() tries again */
    time_t ap_retry_at;
    char visible[OWB_SCAN_MAX][OWB_SSID_MAX + 1];
    size_t n_visible;
    bool have_scan;
    struct owb_job *job;
    /* The worker's copy of the job it runs (secure memory, made with the
     * agent so that the worker cannot fail to start for the lack of it). */
    struct owb_job *running_job;
    bool job_pending, stopping;
    /* Joined, the setup AP still up until the phone has read it (worker.c):
     * the first /v1/status that says "joined" sets joined_read. */
    bool ap_linger, joined_read;
    /* Failed provisions per client address, --fail-cap a minute each: one
     * noisy client does not lock the phone out. NULL when off. */
    struct owb_ratelimit *fail_rl;
    unsigned port; /* the port the agent listens on (Host checks) */
    pthread_t worker;
    bool worker_started;

    /* Heartbeats and rollouts (heartbeat.c). running: the counter of the
     * bundle whose settings run (the "provisioned" file); counter above is
     * "held". hb_reason: why held is not running (held > running). */
    uint64_t running;
    enum owb_fail_reason hb_reason;
    char hb_url[OWB_URL_MAX + 1]; /* "" = no heartbeats (the "server" file) */
    bool hb_armed;                /* hb_at is set */
    struct timespec hb_at;        /* CLOCK_MONOTONIC of the next heartbeat */
    unsigned hb_interval_s;       /* --heartbeat, or the server's wish */
    unsigned hb_unreachable;      /* heartbeats in a row that got no answer */
    bool hb_quick;                /* the next heartbeat comes after S/8 */
    unsigned hb_sent;             /* heartbeats answered (for /v1/status) */
    /* The server's last challenge, in memory only: after a restart (all
     * zero) the first heartbeat costs one more round trip, never a flash
     * write per heartbeat. */
    uint8_t hb_challenge[16];
    bool has_held; /* the "held" file holds bundle `counter` */
    bool rolling;  /* a rollout is being applied: busy */
    /* Failed tries of the held bundle in a row, and how many heartbeats
     * to let pass before the next (rollout.c, retry_wait). */
    unsigned held_fails, held_skip;
};

/* Loads the key file and the stored counter, creates the backend. The
 * diag buffer (OWB_DIAG_SIZE) says what went wrong. */
enum owb_err owb_agent_init(struct owb_agent *a, const struct owb_agent_config *cfg,
                            char *diag) OWB_MUST_CHECK;
/* Starts the worker thread and, when not yet provisioned, setup mode. */
enum owb_err owb_agent_start(struct owb_agent *a) OWB_MUST_CHECK;
/* Stops the worker (finishing nothing half-way) and frees everything. */
void owb_agent_destroy(struct owb_agent *a);

/* Whether a bundle is being applied or checked in (call with a->mu held):
 * no other may start, and setup mode may not close under it. */
bool owb_agent_busy(const struct owb_agent *a);

/* Opens setup mode for another window (SIGUSR1). */
void owb_agent_open_setup(struct owb_agent *a);
/* Raises the setup AP; when the backend fails, tick() tries again every
 * few seconds while setup mode is open. Called without the lock held. */
void owb_agent_raise_ap(struct owb_agent *a);
/* Closes setup mode when its window has run out, and retries a setup AP
 * that failed to come up; call periodically. */
void owb_agent_tick(struct owb_agent *a);

/* HTTP: POST /v1/provision, GET /v1/status, GET / and the page's assets. */
void owb_agent_handle(void *ctx, const struct owb_http_request *req,
                      struct owb_http_response *resp);
/* Answers from the request line and headers alone, before the body is
 * read (owb_httpd's precheck): the Host and Origin, the media type, then
 * the protocol's first two rows (setup_closed, then rate_limited), which
 * come before a body too large is refused. Leaves resp unset to go on. */
void owb_agent_precheck(void *ctx, const struct owb_http_request *req,
                        struct owb_http_response *resp);
void owb_agent_provision(struct owb_agent *a, const struct owb_http_request *req,
                         struct owb_http_response *resp);
/* setup_closed, then rate_limited: false (and answered) when one holds. */
bool owb_agent_provision_gate(struct owb_agent *a, const struct owb_http_request *req,
                              struct owb_http_response *resp);

/* State dir (state.c): the replay counter and the provisioned marker. */
enum owb_err owb_state_load_counter(const char *dir, uint64_t *counter, char *diag) OWB_MUST_CHECK;
/* Both writers run hook (when not NULL) after the file is in place and
 * fail when it fails: it copies the state to storage that survives a
 * factory reset, and nothing may be acted on before that copy is made. */
enum owb_err owb_state_store_counter(const char *dir, const char *hook,
                                     uint64_t counter) OWB_MUST_CHECK;
bool owb_state_provisioned(const char *dir);
/* Removes temporary files an interrupted write left behind. */
void owb_state_clean(const char *dir);
enum owb_err owb_state_mark_provisioned(const char *dir, const char *hook,
                                        uint64_t counter) OWB_MUST_CHECK;

/* Running counter ("provisioned": the counter of the bundle whose settings
 * run); OWB_ERR_NOENT when not provisioned. */
enum owb_err owb_state_load_running(const char *dir, uint64_t *running) OWB_MUST_CHECK;
/* The heartbeat URL ("server"); "" in url when there is none. */
enum owb_err owb_state_load_server(const char *dir, char *url, size_t cap) OWB_MUST_CHECK;
/* Writes url, or removes the file when url is "". */
enum owb_err owb_state_store_server(const char *dir, const char *hook,
                                    const char *url) OWB_MUST_CHECK;
/* The held rollout ("held"): the POST /v1/provision body that carries it,
 * {"bundle":...,"app_key":...}. load: malloc'd (owb_clear_free), NULL when
 * there is none. */
enum owb_err owb_state_load_held(const char *dir, char **body, size_t *len) OWB_MUST_CHECK;
enum owb_err owb_state_store_held(const char *dir, const char *hook, const char *body,
                                  size_t len) OWB_MUST_CHECK;
/* Removes "held" (the hook is told: it saves a file that is gone as gone). */
enum owb_err owb_state_drop_held(const char *dir, const char *hook) OWB_MUST_CHECK;

/* The worker (worker.c). */
void *owb_agent_worker(void *arg);
/* Applies job's settings and waits for the join (the scan in between says
 * "not found" apart); OWB_REASON_NONE when joined. Rolls nothing back. */
enum owb_fail_reason owb_worker_apply_join(struct owb_agent *a, const struct owb_job *job,
                                           const struct timespec *t0);
/* After a rollback: waits, up to --join-timeout, until the settings put
 * back are joined again (a heartbeat sent before would find no network, and
 * two unanswered ones read as "the network is down"); true when joined. */
bool owb_worker_rejoin(struct owb_agent *a);
/* Sleeps up to ms, waking early when the agent stops; false when stopping. */
bool owb_agent_nap(struct owb_agent *a, unsigned ms);
/* Seconds on the monotonic clock, for the agent's deadlines (the wall
 * clock is stepped by NTP when a board without a real-time clock joins). */
time_t owb_agent_now_s(void);
/* Milliseconds since t0 (CLOCK_MONOTONIC). */
long owb_since_ms(const struct timespec *t0);

/* The provision check table (provision.c) on a POST /v1/provision body:
 * the bundle's counter must be above `above`. job gets the settings. */
enum owb_err owb_provision_check(struct owb_agent *a, const char *body, size_t len, uint64_t above,
                                 struct owb_job *job) OWB_MUST_CHECK;

/* Heartbeats and rollouts (heartbeat.c). */
/* The check-in URL with its last segment "checkin" made "heartbeat";
 * false when it does not end so. */
bool owb_heartbeat_url(const char *checkin_url, char *out, size_t cap);
/* Loads running, the server file and the held bundle at start; a damaged
 * one is logged, never fatal (the replay counter is what protects). */
void owb_heartbeat_init(struct owb_agent *a);
struct owb_heartbeat_answer;
/* One heartbeat; OWB_ERR_UNAVAILABLE when no answer came (or 5xx/429),
 * another error when the server refused it or its answer is malformed. */
enum owb_err owb_heartbeat_send(struct owb_agent *a,
                                struct owb_heartbeat_answer *ans) OWB_MUST_CHECK;
/* After a phone's bundle joined and checked in: running, the server file,
 * the first heartbeat an interval from now. Call without the lock. */
void owb_heartbeat_joined(struct owb_agent *a, const struct owb_job *job);
/* Arms the next heartbeat s seconds (with jitter) from now; lock held. */
void owb_heartbeat_arm(struct owb_agent *a, unsigned s);
/* Whether a heartbeat is due now (lock held). */
bool owb_heartbeat_due(const struct owb_agent *a);
/* Sends the heartbeat, acts on its answer, retries held settings (the
 * worker thread, without the lock; rollout.c). */
void owb_heartbeat_beat(struct owb_agent *a);

/* One POST of a JSON body (checkin_client.c): plain http by the built-in
 * client, https through --https-helper (execve, no shell). The HTTP
 * status, or -1 when no answer came (through the helper: 200 or -1). When
 * answer is not NULL it gets the body (NUL-terminated, *alen bytes). */
int owb_post_json(struct owb_agent *a, const char *url, const char *body, char *answer, size_t cap,
                  size_t *alen);

/* Check-in (checkin_client.c): POSTs the proof until accepted or out of time. */
enum owb_err owb_checkin_send(struct owb_agent *a, const char *url,
                              uint64_t counter) OWB_MUST_CHECK;

const char *owb_state_name(enum owb_agent_state s);
const char *owb_reason_name(enum owb_fail_reason r);

#endif
