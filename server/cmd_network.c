/* owb-server network add|list|remove: premises networks handed out in
 * server-sealed mode. The PSK comes from a file or stdin, never argv,
 * and is sealed under the master key before it reaches the database. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "commands.h"
#include "owb/keyfile.h"
#include "rowmac.h"

#define PROG "owb-server network"

struct network_cmd {
    struct cli_admin a;
    const char *ssid, *security, *psk_file;
    bool hidden;
};

static const char network_about[] =
    "The PSK is read from --psk-file, or from standard input when that option\n"
    "is absent or '-' (first line); it is never taken from the command line.\n";

static const struct owb_opt network_opts[] = {
    OWB_OPT_STR_("ssid", "SSID", struct network_cmd, ssid, "add: the network's SSID"),
    OWB_OPT_STR_("security", "wpa2-psk|wpa3-sae|open", struct network_cmd, security,
                 "add: how the network is secured"),
    OWB_OPT_STR_("psk-file", "FILE", struct network_cmd, psk_file,
                 "add: the file whose first line is the PSK ('-' or absent: standard input)"),
    OWB_OPT_FLAG_("hidden", struct network_cmd, hidden, "add: the network hides its SSID"),
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

static int network_add(struct owb_srv *srv, const char *name, struct owb_wifi *w)
{
    struct owb_network_row row = {0};
    enum owb_err rc;

    snprintf(row.name, sizeof row.name, "%s", name);
    memcpy(row.ssid, w->ssid, w->ssid_len + 1);
    row.security = w->security;
    row.hidden = w->hidden;
    row.created_at = cli_now();
    if (w->security != OWB_SEC_OPEN) {
        rc = owb_atrest_seal(srv->master, "networks", name, (const uint8_t *)w->psk, strlen(w->psk),
                             &row.sealed_psk);
        if (rc != OWB_OK)
            return owb_cli_fail(PROG, "%s", owb_strerror(rc));
    }
    owb_row_mac_network(srv->master, &row, row.row_mac);
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
    return n->a.srv.store->ops->network_list(n->a.srv.store, print_network, NULL) == OWB_OK
               ? OWB_EXIT_OK
               : OWB_EXIT_FAIL;
}

static int verb_remove(void *ctx, int argc, char **argv)
{
    struct network_cmd *n = ctx;
    enum owb_err rc;

    (void)argc;
    if (name_check(argv[0]) != OWB_CLI_RUN)
        return OWB_EXIT_USAGE;
    if (!cli_admin_open(&n->a))
        return OWB_EXIT_FAIL;
    rc = n->a.srv.store->ops->network_remove(n->a.srv.store, argv[0]);
    if (rc != OWB_OK)
        return owb_cli_fail(PROG, "%s: %s", argv[0],
                            rc == OWB_ERR_NOENT ? "no such network" : owb_strerror(rc));
    printf("network %s removed\n", argv[0]);
    return OWB_EXIT_OK;
}

static const struct owb_verb network_verbs[] = {
    {"add", "NAME", verb_add, "add a network (needs --ssid and --security)"},
    {"list", "", verb_list, "one line a network (never its PSK)"},
    {"remove", "NAME", verb_remove, "forget a network"},
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
