/* The world an owb-server test program runs against: a temporary
 * directory, a database (a SQLite file, or with OWB_TEST_PG a PostgreSQL
 * server of the program's own), a master key, four devices imported from
 * records (dev-0, dev-1 and dev-3 on the network "home", dev-2 on none),
 * an installer token and a running server. Each program builds its own
 * with t_world_setup() and removes it with t_world_teardown(); nothing is
 * shared between programs. Tests that change the world put it back. */
#ifndef OWB_TEST_SERVER_FIXTURE_H
#define OWB_TEST_SERVER_FIXTURE_H

#include "test_support.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "owb/payload.h"
#include "owb/record.h"
#ifdef OWB_TEST_PG
#include "pg.h"
#endif
#include "proc.h"

#define T_N_DEV 4
#define T_PSK "correct \"horse\" $(battery) \\ staple"
#define T_SSID "Caf\xc3\xa9 \"Net\""
/* The world server's --claim-window, in seconds. */
#define T_CLAIM_WINDOW "2"

/* Room for a session token as the server hands it out. */
#define T_SESSION_SIZE 128

/* Room for any owb-server argv the helpers build. */
enum { T_ARGV_MAX = 48 };

struct t_world {
    char *dir;
    char db[4096], key[4096], records[4096];
    char token[128]; /* the installer token "installer-1" */
    struct owb_record dev[T_N_DEV];
    struct t_proc srv; /* started by t_start_server(..., "0") */
    char base[64];     /* http://127.0.0.1:<srv.port> */
#ifdef OWB_TEST_PG
    struct t_pg pg;
#endif
    /* pk-0, the pk-suite device of t_pk_device_add(): its secrets, which
     * the database must never hold; pk_ap[0] is 0 until it is added. */
    uint8_t pk_sk[64], pk_pk[32], srv_pk[32];
    char pk_ap[OWB_AP_PASSPHRASE_SIZE], pk_claim[OWB_CLAIM_SIZE];
};

extern struct t_world F;

/* False when the world cannot be built here (PostgreSQL not installed):
 * the program then returns 77, reported as skipped. */
bool t_world_available(void);

/* cmocka group setup and teardown: build the world, remove it. */
int t_world_setup(void **state);
int t_world_teardown(void **state);

/* A program's main: its tests in the world, or 77 when it cannot be
 * built. */
#define T_WORLD_RUN(tests)                                                                         \
    (t_world_available() ? cmocka_run_group_tests(tests, t_world_setup, t_world_teardown) : 77)

/* Fills argv: owb-server, the strings up to NULL, then --db with the
 * world's database and --master-key with key (NULL: the world's). */
void t_admin_argv(char *argv[T_ARGV_MAX], const char *key, ...);

/* Runs owb-server with the strings up to NULL and the world's database and
 * key, input on stdin (NULL for none); stdout into out. Returns the exit
 * status. */
int t_admin(const char *input, char *out, size_t cap, ...);

/* Starts "owb-server serve" on 127.0.0.1:0 with the world's database and
 * key and the options up to NULL; its log is <world dir>/name.log. */
void t_serve(struct t_proc *p, const char *name, ...);

/* The world's kind of server: request rate and check-in rate rate (per
 * second, "0" for no limit), bursts of 3, --claim-max-failures 3, the
 * T_CLAIM_WINDOW window, a device AP URL and a metrics listener. */
void t_start_server(struct t_proc *p, const char *name, const char *rate);

/* Writes records as a JSON Lines file for "device import". */
void t_write_records(const char *path, const struct owb_record *recs, size_t n);

/* out (512 bytes): the world server's URL for path. */
void t_url(char *out, const char *path);

/* POST /v1/setup/{id} to the world server; auth NULL for no token. */
void t_setup_req(const char *id, const char *body, const char *auth, struct t_resp *r);

/* GET /v1/sessions/{session} from base (NULL: the world server). */
void t_session_req(const char *base, const char *session, struct t_resp *r);

/* A server-sealed setup body: the claim and the phone's app key. */
void t_server_sealed_body(char *out, size_t cap, const char *claim, const uint8_t app_key[32]);

struct t_opened {
    uint64_t counter;
    struct owb_payload p;
    char session[T_SESSION_SIZE];
    char ap_ssid[64], ap_pass[64];
};

/* Opens a 200 answer's bundle with dev's key, as the device would; fails
 * the test on anything else. Does not free r. */
void t_open_answer(const struct t_resp *r, const struct owb_record *dev, struct t_opened *o);

/* One server-sealed setup of id (one of the world's devices) with the
 * installer token, opened; returns its counter. */
uint64_t t_issue_one(const char *id, const char *claim, struct t_opened *o);

/* A check-in body for dev; corrupt flips a bit of the MAC. */
void t_checkin_body(char *out, size_t cap, const struct owb_record *dev, uint64_t counter,
                    const uint8_t nonce[16], bool corrupt);

/* n server-sealed setups for dev-<dev> through base, one after another,
 * each answered 200: counters and sessions of the bundles, *answered
 * counted as they come (another thread may watch it). When may_lose (its
 * server is killed meanwhile), a request with no answer ends the series. */
void t_setup_series(const char *base, int dev, int n, bool may_lose, _Atomic int *answered,
                    uint64_t *counters, char (*sessions)[T_SESSION_SIZE]);

/* qsort comparison of uint64_t. */
int t_cmp_u64(const void *a, const void *b);

/* One server-sealed setup of dev-0 through base, timed: a thread body. */
struct t_slow_setup {
    const char *base;
    long status;
    double ms;
};
void *t_slow_setup_run(void *arg);

/* Clients that keep asking base while the database is held (its write
 * lock taken, or PostgreSQL stopped): t_bound_start() starts n threads,
 * each sending in turn a setup of dev-0, a session read and GET /readyz,
 * one after another on new connections, each timed from its own start,
 * until t_bound_stop(), which sums up what they saw in b->sum. Then
 * t_bound_check() fails the test unless every request got an HTTP answer
 * and every 503 said Retry-After, the server's log shows each request
 * answered within bound_ms of its arrival, and each client had its answer
 * within bound_ms + T_BOUND_NET_MS of its own start. The second bound is
 * looser because it also holds what the server does not control: the
 * connection's handshake (a SYN the kernel drops is sent again after 1 s)
 * and the 30 client threads' own turns on a loaded machine. */
enum { T_BOUND_CLIENTS = 32, T_BOUND_NET_MS = 2000 };
struct t_bound_client {
    const char *base;
    _Atomic bool *stop;
    _Atomic int answered;
    int sent, unavailable, no_retry_after, late, ready_503, ready_200;
    double worst_ms, bound_ms;
};
struct t_bound {
    int n;
    _Atomic bool stop;
    pthread_t t[T_BOUND_CLIENTS];
    struct t_bound_client c[T_BOUND_CLIENTS];
    struct t_bound_client sum; /* after t_bound_stop */
};
void t_bound_start(struct t_bound *b, const char *base, int n, double bound_ms);
/* Waits until *count (another thread's tally) reaches n; fails the test
 * after 60 s, naming what it waited for. */
void t_wait_count(_Atomic int *count, int n, const char *what);

/* Waits until every client has had n answers, or 60 s. */
void t_bound_wait(struct t_bound *b, int n);
void t_bound_stop(struct t_bound *b);
void t_bound_check(const struct t_bound *b, const struct t_proc *server);
/* The longest time the server's log gives for answering a request (its
 * lines "... STATUS N.NNms"), and how many such lines it has. */
double t_log_worst_ms(const char *log, int *lines);

/* GET base/readyz: its status; a 503 must say Retry-After. */
long t_readyz(const char *base);

/* Adds pk-0 to the world once: a pk-suite device imported from a record
 * with only its public key (its secrets kept in F) and assigned to "home";
 * F.srv_pk is the server's signing key. */
void t_pk_device_add(void);

/* A connection of another process to the world's database, to take the
 * locks a setup must wait for or to change rows behind the server's back
 * (SQLite, or PostgreSQL with OWB_TEST_PG). */
struct t_db;
struct t_db *t_db_open(void);
/* Runs sql or fails the test. */
void t_db_sql(struct t_db *db, const char *sql);
/* Holds what a setup of dev-0 and a claim failure of dev-1 must write:
 * SQLite's write lock, or PostgreSQL's row locks on both devices and the
 * claim_guard table (reads go on in both). COMMIT or ROLLBACK ends it. */
void t_db_lock(struct t_db *db);
void t_db_close(struct t_db *db);

#endif
