/* owb-server network add|list|remove: premises networks handed out in
 * server-sealed mode. The PSK comes from a file or stdin, never argv,
 * and is sealed under the master key before it reaches the database. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "assign.h"
#include "cli.h"
#include "commands.h"
#include "owb/keyfile.h"
#include "rollout.h"
#include "rowmac.h"

#define PROG "owb-server network"

struct network_cmd {
    struct cli_admin a;
    const char *ssid, *security, *psk_file;
    bool hidden, visible;
    struct rollout_opts ro;
};

static const char network_about[] =
    "The PSK is read from --psk-file, or from standard input when that option\n"
    "is absent or '-' (first line); it is never taken from the command line.\n"
    "update changes what is given (--psk-file '-' reads a new PSK from standard\n"
    "input; without it the PSK stays) and starts a rollout: every device set up\n"
    "on the network gets the new settings in the answer to its next heartbeat\n"
    "(see 'owb-server rollout').\n";

static const struct owb_opt network_opts[] = {
    OWB_OPT_STR_("ssid", "SSID", struct network_cmd, ssid, "add, update: the network's SSID"),
    OWB_OPT_STR_("security", "wpa2-psk|wpa3-sae|open", struct network_cmd, security,
                 "add, update: how the network is secured"),
    OWB_OPT_STR_("psk-file", "FILE", struct network_cmd, psk_file,
                 "add, update: the file whose first line is the PSK ('-': standard input; add "
                 "reads it there when absent)"),
    OWB_OPT_FLAG_("hidden", struct network_cmd, hidden, "add, update: the network hides its SSID"),
    OWB_OPT_FLAG_("visible", struct network_cmd, visible, "update: the network shows its SSID"),
    OWB_ROLLOUT_OPTS(struct network_cmd, ro, "update"),
};

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > OWB_NETWORK_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = n[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

static void print_network(void *ctx, const struct owb_network_row *n)
{
    (void)ctx;
    printf("%-20s ssid=\"%s\" security=%s%s psk=%s\n", n->name, n->ssid,
           owb_security_name(n->security), n->hidden ? " hidden" : "",
           n->sealed_psk.len ? "(hidden)" : "-");
}

/* The row for w: its PSK sealed, its MAC made. */
static enum owb_err make_row(struct owb_srv *srv, const char *name, const struct owb_wifi *w,
                             int64_t created_at, struct owb_network_row *row)
{
    enum owb_err rc = OWB_OK;

    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "%s", name);
    memcpy(row->ssid, w->ssid, w->ssid_len + 1);
    row->security = w->security;
    row->hidden = w->hidden;
    row->created_at = created_at;
    if (w->security != OWB_SEC_OPEN)
        rc = owb_atrest_seal(srv->master, "networks", name, (const uint8_t *)w->psk, strlen(w->psk),
                             &row->sealed_psk);
    owb_row_mac_network(srv->master, row, row->row_mac);
    return rc;
}

static int network_add(struct owb_srv *srv, const char *name, struct owb_wifi *w)
{
    struct owb_network_row row;
    enum owb_err rc = make_row(srv, name, w, cli_now(), &row);

    if (rc != OWB_OK)
        return owb_cli_fail(PROG, "%s", owb_strerror(rc));
    rc = srv->store->ops->network_add(srv->store, &row);
    if (rc == OWB_ERR_EXISTS)
        return owb_cli_fail(PROG, "a network named '%s' exists (remove it first)", name);
    if (rc != OWB_OK)
        return owb_cli_fail(PROG, "%s", owb_strerror(rc));
    printf("network %s added (ssid \"%s\", %s)\n", name, w->ssid, owb_security_name(w->security));
    return 0;
}

static int name_check(const char *name)
{
    if (name_ok(name))
        return OWB_CLI_RUN;
    return owb_cli_usage_error(PROG, "NAME must be 1-%d of [A-Za-z0-9._-]", OWB_NETWORK_NAME_MAX);
}

/* The settings of add, the PSK read from its file; checked against the
 * Wi-Fi rules before the database is opened. */
static int read_wifi(const struct network_cmd *n, struct owb_wifi *w)
{
    char diag[OWB_DIAG_SIZE];

    if (!n->ssid || !n->security)
        return owb_cli_usage_error(PROG, "add needs --ssid and --security");
    if (strlen(n->ssid) > OWB_SSID_MAX)
        return owb_cli_usage_error(PROG, "--ssid is longer than 32 bytes");
    snprintf(w->ssid, sizeof w->ssid, "%s", n->ssid);
    w->ssid_len = strlen(w->ssid);
    w->hidden = n->hidden;
    if (owb_security_parse(n->security, &w->security) != OWB_OK)
        return owb_cli_usage_error(PROG, "--security must be wpa2-psk, wpa3-sae or open");
    if (w->security == OWB_SEC_OPEN && n->psk_file)
        return owb_cli_usage_error(PROG, "an open network takes no PSK");
    if (w->security != OWB_SEC_OPEN &&
        cli_read_secret(n->psk_file, "PSK", w->psk, sizeof w->psk, diag) != OWB_OK)
        return owb_cli_fail(PROG, "PSK: %s", diag);
    const char *why = owb_wifi_rule_broken(w);
    if (why) {
        owb_wifi_wipe(w);
        return owb_cli_fail(PROG, "%s", why);
    }
    return OWB_CLI_RUN;
}

static int verb_add(void *ctx, int argc, char **argv)
{
    struct network_cmd *n = ctx;
    struct owb_wifi w = {0};
    int ret = name_check(argv[0]);

    (void)argc;
    if (ret == OWB_CLI_RUN)
        ret = read_wifi(n, &w);
    if (ret == OWB_CLI_RUN)
        ret = cli_admin_open(&n->a) ? network_add(&n->a.srv, argv[0], &w) : OWB_EXIT_FAIL;
    owb_wifi_wipe(&w);
    return ret;
}

static int verb_list(void *ctx, int argc, char **argv)
{
    struct network_cmd *n = ctx;
    (void)argc, (void)argv;
    if (!cli_admin_open(&n->a))
        return OWB_EXIT_FAIL;
    enum owb_err rc = n->a.srv.store->ops->network_list(n->a.srv.store, print_network, NULL);
    return rc == OWB_OK ? OWB_EXIT_OK : owb_cli_fail(PROG, "list: %s", owb_strerror(rc));
}

/* Its devices are left with no network first, each row with a new MAC
 * (a device assigned to it meanwhile is cleared in the next round); then
 * the network goes, unless one was assigned again since. */
static int verb_remove(void *ctx, int argc, char **argv)
{
    struct network_cmd *n = ctx;
    struct owb_srv *srv = &n->a.srv;
    char what[OWB_DEVICE_ID_SIZE + OWB_NETWORK_NAME_MAX], reason[256];
    const char *why = "";
    size_t cleared = 0, total = 0;
    enum owb_err rc = OWB_OK;

    (void)argc;
    if (name_check(argv[0]) != OWB_CLI_RUN)
        return OWB_EXIT_USAGE;
    if (!cli_admin_open(&n->a))
        return OWB_EXIT_FAIL;
    for (int round = 0; round < 3; round++) {
        rc = assign_clear_network(srv, argv[0], &cleared, what, sizeof what, &why);
        total += cleared;
        if (rc == OWB_OK)
            rc = srv->store->ops->network_remove(srv->store, argv[0]);
        if (rc != OWB_ERR_EXISTS)
            break;
    }
    if (rc == OWB_OK) {
        printf("network %s removed; %zu device(s) assigned to it now have none\n", argv[0], total);
        return OWB_EXIT_OK;
    }
    if (rc == OWB_ERR_NOENT && !what[0])
        return owb_cli_fail(PROG, "%s: no such network", argv[0]);
    if (rc == OWB_ERR_TAMPERED && what[0])
        snprintf(reason, sizeof reason, "device %s: %s", what, why);
    else
        snprintf(reason, sizeof reason, "%s",
                 rc == OWB_ERR_TAMPERED ? why
                 : rc == OWB_ERR_EXISTS ? "devices are being assigned to it as it is removed"
                                        : owb_strerror(rc));
    return owb_cli_fail(PROG, "%s is kept: %s; %zu of its device(s) were left with no network",
                        argv[0], reason, total);
}

/* The network's settings as they are, the old PSK opened. */
static int current_wifi(struct owb_srv *srv, const struct owb_network_row *row, struct owb_wifi *w)
{
    size_t len = 0;

    snprintf(w->ssid, sizeof w->ssid, "%s", row->ssid);
    w->ssid_len = strlen(w->ssid);
    w->security = row->security;
    w->hidden = row->hidden;
    if (row->security != OWB_SEC_OPEN &&
        owb_atrest_open(srv->master, "networks", row->name, &row->sealed_psk, (uint8_t *)w->psk,
                        sizeof w->psk - 1, &len) != OWB_OK)
        return owb_cli_fail(PROG, "%s: the stored PSK does not open", row->name);
    w->psk[len] = '\0';
    return OWB_CLI_RUN;
}

/* What update changes, over the settings as they are. */
static int apply_changes(const struct network_cmd *n, struct owb_wifi *w)
{
    char diag[OWB_DIAG_SIZE];
    bool was_open = w->security == OWB_SEC_OPEN;

    if (n->ssid && strlen(n->ssid) > OWB_SSID_MAX)
        return owb_cli_usage_error(PROG, "--ssid is longer than 32 bytes");
    if (n->ssid) {
        snprintf(w->ssid, sizeof w->ssid, "%s", n->ssid);
        w->ssid_len = strlen(w->ssid);
    }
    if (n->security && owb_security_parse(n->security, &w->security) != OWB_OK)
        return owb_cli_usage_error(PROG, "--security must be wpa2-psk, wpa3-sae or open");
    w->hidden = n->hidden ? true : n->visible ? false : w->hidden;
    if (w->security == OWB_SEC_OPEN && n->psk_file)
        return owb_cli_usage_error(PROG, "an open network takes no PSK");
    if (w->security == OWB_SEC_OPEN)
        sodium_memzero(w->psk, sizeof w->psk);
    else if (n->psk_file &&
             cli_read_secret(n->psk_file, "PSK", w->psk, sizeof w->psk, diag) != OWB_OK)
        return owb_cli_fail(PROG, "PSK: %s", diag);
    else if (was_open && !n->psk_file)
        return owb_cli_usage_error(PROG, "a network that was open needs --psk-file");
    const char *why = owb_wifi_rule_broken(w);
    return why ? owb_cli_fail(PROG, "%s", why) : OWB_CLI_RUN;
}

static int network_update(struct network_cmd *n, const char *name, struct owb_wifi *w)
{
    struct owb_srv *srv = &n->a.srv;
    struct owb_network_row row;
    enum owb_err rc = owb_row_network_get(srv->store, srv->master, name, &row);
    int ret;

    if (rc != OWB_OK)
        return owb_cli_fail(PROG, "%s: %s", name,
                            rc == OWB_ERR_NOENT ? "no such network" : owb_strerror(rc));
    if ((ret = current_wifi(srv, &row, w)) != OWB_CLI_RUN ||
        (ret = apply_changes(n, w)) != OWB_CLI_RUN)
        return ret;
    rc = make_row(srv, name, w, row.created_at, &row);
    if (rc == OWB_OK)
        rc = srv->store->ops->network_update(srv->store, &row);
    if (rc != OWB_OK)
        return owb_cli_fail(PROG, "%s: %s", name, owb_strerror(rc));
    printf("network %s updated (ssid \"%s\", %s)\n", name, w->ssid, owb_security_name(w->security));
    rc = rollout_start(srv, "network", name, NULL, 0, &n->ro);
    return rc == OWB_OK ? OWB_EXIT_OK : owb_cli_fail(PROG, "rollout: %s", owb_strerror(rc));
}

static int verb_update(void *ctx, int argc, char **argv)
{
    struct network_cmd *n = ctx;
    struct owb_wifi w = {0};
    int ret = name_check(argv[0]);

    (void)argc;
    if (ret != OWB_CLI_RUN)
        return ret;
    if (!n->ssid && !n->security && !n->psk_file && !n->hidden && !n->visible)
        return owb_cli_usage_error(PROG, "update needs --ssid, --security, --psk-file, --hidden "
                                         "or --visible");
    if (n->hidden && n->visible)
        return owb_cli_usage_error(PROG, "--hidden and --visible do not go together");
    if (n->ro.batch && n->ro.percent)
        return owb_cli_usage_error(PROG, "--batch and --percent do not go together");
    ret = cli_admin_open(&n->a) ? network_update(n, argv[0], &w) : OWB_EXIT_FAIL;
    owb_wifi_wipe(&w);
    return ret;
}

static const struct owb_verb network_verbs[] = {
    {"add", "NAME", verb_add, "add a network (needs --ssid and --security)"},
    {"update", "NAME", verb_update,
     "change a network's settings and roll them out to the devices set up on it"},
    {"list", "", verb_list, "one line a network (never its PSK)"},
    {"remove", "NAME", verb_remove,
     "forget a network; the devices assigned to it are left with none"},
};

static const struct cli_admin_cmd network_spec = {.prog = PROG,
                                                  .about = network_about,
                                                  .verbs = network_verbs,
                                                  .n_verbs = OWB_ARRAY_LEN(network_verbs),
                                                  .opts = network_opts,
                                                  .n_opts = OWB_ARRAY_LEN(network_opts),
                                                  .db_use = CLI_DB_ADMIN};

int cmd_network_main(int argc, char **argv)
{
    struct network_cmd n = {0};
    return cli_admin_main(&network_spec, &n.a, &n, argc, argv);
}
