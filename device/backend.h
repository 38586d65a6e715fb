/* Wi-Fi backends: how the agent changes the system's Wi-Fi settings.
 *
 * Each backend applies the premises settings (remembering what it
 * replaces), tells whether the device got onto the network, puts the
 * previous settings back, raises and lowers the setup access point, and
 * scans. None uses a shell: helpers run through owb_spawn_run() with an
 * argument vector, and configuration files are written atomically.
 */
#ifndef OWB_DEVICE_BACKEND_H
#define OWB_DEVICE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "owb/err.h"
#include "owb/wifi.h"

#define OWB_SCAN_MAX 32

enum owb_join {
    OWB_JOIN_OK,      /* on the network with an address */
    OWB_JOIN_PENDING, /* still trying */
    OWB_JOIN_WRONG_PASSWORD,
    OWB_JOIN_NETWORK_NOT_FOUND,
    OWB_JOIN_NO_IP,
    OWB_JOIN_ERROR, /* the check itself failed */
};

struct owb_backend_config {
    const char *tool_dir;      /* look for helper programs here first */
    unsigned timeout_ms;       /* per helper call */
    const char *command;       /* command: the program */
    const char *iface;         /* station interface (wpa_supplicant, nmcli, scans) */
    const char *ap_iface;      /* setup-AP interface */
    const char *uci_sta;       /* uci: wireless section of the station */
    const char *uci_ap;        /* uci: wireless section of the setup AP */
    const char *uci_net;       /* uci/ubus: network interface of the station */
    const char *wpa_config;    /* wpa_supplicant: station config file */
    const char *wpa_ap_config; /* wpa_supplicant: setup-AP config file */
    const char *nm_dir;        /* nmcli: keyfile directory */
    const char *ap_address;    /* setup-AP address/prefix (wpa_supplicant, nmcli) */
    const char *dhcp_client;   /* wpa_supplicant: station DHCP client, or "none" */
    const char *dhcp_server;   /* wpa_supplicant: setup-AP DHCP server, or "none" */
    const char *run_dir;       /* wpa_supplicant: the DHCP server's files */
};

struct owb_backend;

struct owb_backend_ops {
    const char *name;
    /* The radio runs the setup AP and the station together: the agent
     * keeps the AP up until the check-in has succeeded or failed, so the
     * phone learns the outcome. When false the AP goes down at the join. */
    bool ap_with_station;
    /* hostname may be "" (leave it). */
    enum owb_err (*apply)(struct owb_backend *b, const struct owb_wifi *w, const char *hostname);
    /* final: the join time is up; answer with the most specific reason
     * instead of OWB_JOIN_PENDING. */
    enum owb_join (*check)(struct owb_backend *b, bool final);
    enum owb_err (*rollback)(struct owb_backend *b);
    enum owb_err (*ap_up)(struct owb_backend *b, const char *ssid, const char *passphrase);
    enum owb_err (*ap_down)(struct owb_backend *b);
    /* Fills up to OWB_SCAN_MAX SSIDs; OWB_ERR_UNAVAILABLE when it cannot scan. */
    enum owb_err (*scan)(struct owb_backend *b, char ssids[][OWB_SSID_MAX + 1], size_t *n);
    /* Optional: the agent starts on a device already provisioned (e.g.
     * the station's DHCP client comes back). */
    void (*resume)(struct owb_backend *b);
    void (*destroy)(struct owb_backend *b);
};

struct owb_backend {
    const struct owb_backend_ops *ops;
    struct owb_backend_config cfg;
};

/* Creates the backend called name (uci, wpa_supplicant, nmcli, command).
 * OWB_ERR_INVALID_ARG for an unknown name or a missing setting. */
enum owb_err owb_backend_create(const char *name, const struct owb_backend_config *cfg,
                                struct owb_backend **out, char *diag) OWB_MUST_CHECK;

/* Helpers for the backends (backend_util.c). */
enum owb_err owb_backend_run(struct owb_backend *b, char *const *argv, char *const *env, char *out,
                             size_t out_cap, int *exit_code) OWB_MUST_CHECK;
/* The same with stderr captured too, in the C locale: for a tool whose
 * error messages say why it failed. */
enum owb_err owb_backend_run_merged(struct owb_backend *b, char *const *argv, char *out,
                                    size_t out_cap, int *exit_code) OWB_MUST_CHECK;
/* Runs argv and expects exit status 0. */
enum owb_err owb_backend_run_ok(struct owb_backend *b, char *const *argv) OWB_MUST_CHECK;
/* Splits text into lines and adds the non-empty valid SSIDs to ssids. */
void owb_backend_add_ssid(char ssids[][OWB_SSID_MAX + 1], size_t *n, const char *s, size_t len);

/* Runs argv (with env) and hands each line of its output to pick, which
 * adds the SSID it finds with owb_backend_add_ssid(). index counts lines
 * from 0. OWB_ERR_UNAVAILABLE when the program fails. */
typedef void (*owb_scan_line_fn)(const char *line, size_t len, size_t index,
                                 char ssids[][OWB_SSID_MAX + 1], size_t *n);
enum owb_err owb_backend_scan(struct owb_backend *b, char *const *argv, char *const *env,
                              owb_scan_line_fn pick, char ssids[][OWB_SSID_MAX + 1],
                              size_t *n) OWB_MUST_CHECK;

/* A configuration file a backend replaces, kept in memory (wiped when
 * dropped: it may hold a PSK) so that rollback can put it back exactly. */
struct owb_saved_file {
    bool taken;
    char *data; /* NULL when there was no file */
    size_t len;
};

/* Keeps the current content of path (none is fine); replaces what was kept. */
enum owb_err owb_saved_file_take(struct owb_saved_file *s, const char *path,
                                 size_t max) OWB_MUST_CHECK;
/* Writes the kept content back (mode 0600), or removes path when there was
 * none, then drops it. *had_file says which. OWB_OK and nothing done when
 * nothing was taken. */
enum owb_err owb_saved_file_restore(struct owb_saved_file *s, const char *path,
                                    bool *had_file) OWB_MUST_CHECK;
void owb_saved_file_drop(struct owb_saved_file *s);

/* Checks a setup-AP address ("A.B.C.D/24", D outside the DHCP pool
 * 100-199) and gives its network. */
struct in_addr;
enum owb_err owb_backend_ap_net(const char *cidr, struct in_addr *net) OWB_MUST_CHECK;

/* Decodes an SSID as wpa_cli prints it (\\ \" \e \n \r \t \xNN) into out
 * (OWB_SSID_MAX + 1 bytes); false when malformed or longer than 32 bytes. */
bool owb_wpa_unescape(const char *s, size_t len, char *out, size_t *out_len);

/* Appends to a NUL-terminated buffer; false when it does not fit. */
bool owb_backend_cat(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
