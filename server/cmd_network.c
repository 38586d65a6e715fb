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

static const char network_help[] =
    "Usage: owb-server network add NAME --ssid SSID --security wpa2-psk|wpa3-sae|open\n"
    "                              [--psk-file FILE] [--hidden] [db options]\n"
    "       owb-server network list [db options]\n"
    "       owb-server network remove NAME [db options]\n"
    "The PSK is read from --psk-file, or from standard input when that option\n"
    "is absent or '-' (first line); it is never taken from the command line.\n\n" CLI_DB_HELP;

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
        if (rc != OWB_OK) {
            fprintf(stderr, "owb-server network: %s\n", owb_strerror(rc));
            return 1;
        }
    }
    owb_row_mac_network(srv->master, &row, row.row_mac);
    rc = srv->store->ops->network_add(srv->store, &row);
    if (rc == OWB_ERR_EXISTS) {
        fprintf(stderr, "owb-server network: a network named '%s' exists (remove it first)\n",
                name);
        return 1;
    }
    if (rc != OWB_OK) {
        fprintf(stderr, "owb-server network: %s\n", owb_strerror(rc));
        return 1;
    }
    printf("network %s added (ssid \"%s\", %s)\n", name, w->ssid, owb_security_name(w->security));
    return 0;
}

int cmd_network_main(int argc, char **argv)
{
    static const struct option opts[] = {CLI_DB_OPTIONS,
                                         {"ssid", required_argument, NULL, 's'},
                                         {"security", required_argument, NULL, 'S'},
                                         {"psk-file", required_argument, NULL, 'p'},
                                         {"hidden", no_argument, NULL, 'H'},
                                         {NULL, 0, NULL, 0}};
    struct cli_db o;
    struct owb_srv srv;
    struct owb_wifi w = {0};
    const char *ssid = NULL, *security = NULL, *psk_file = NULL, *action, *name = NULL;
    char diag[OWB_DIAG_SIZE];
    int c, ret = 1;
    enum owb_err rc;

    cli_db_defaults(&o);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_db_opt(&o, c, optarg))
            continue;
        switch (c) {
        case 'h':
            fputs(network_help, stdout);
            return 0;
        case 's':
            ssid = optarg;
            break;
        case 'S':
            security = optarg;
            break;
        case 'p':
            psk_file = optarg;
            break;
        case 'H':
            w.hidden = true;
            break;
        default:
            return cli_usage_error("network", "unknown option");
        }
    }
    if (optind >= argc)
        return cli_usage_error("network", "missing action: add, list or remove");
    action = argv[optind++];
    if (strcmp(action, "list") == 0) {
        if (optind != argc)
            return cli_usage_error("network", "list takes no argument");
    } else if (strcmp(action, "add") == 0 || strcmp(action, "remove") == 0) {
        if (optind + 1 != argc)
            return cli_usage_error("network", "%s needs one NAME", action);
        name = argv[optind];
        if (!name_ok(name))
            return cli_usage_error("network", "NAME must be 1-%d of [A-Za-z0-9._-]",
                                   OWB_NETWORK_NAME_MAX);
    } else {
        return cli_usage_error("network", "unknown action '%s'", action);
    }

    if (strcmp(action, "add") == 0) {
        if (!ssid || !security)
            return cli_usage_error("network", "add needs --ssid and --security");
        if (strlen(ssid) > OWB_SSID_MAX)
            return cli_usage_error("network", "--ssid is longer than 32 bytes");
        snprintf(w.ssid, sizeof w.ssid, "%s", ssid);
        w.ssid_len = strlen(w.ssid);
        if (owb_security_parse(security, &w.security) != OWB_OK)
            return cli_usage_error("network", "--security must be wpa2-psk, wpa3-sae or open");
        if (w.security != OWB_SEC_OPEN) {
            rc = cli_read_secret(psk_file, w.psk, sizeof w.psk, diag);
            if (rc != OWB_OK) {
                fprintf(stderr, "owb-server network: PSK: %s\n", diag);
                return 1;
            }
        } else if (psk_file) {
            return cli_usage_error("network", "an open network takes no PSK");
        }
        if (owb_wifi_check(&w) != OWB_OK) {
            owb_wifi_wipe(&w);
            fprintf(stderr, "owb-server network: settings break a rule: SSID 1-32 bytes of "
                            "UTF-8 without control characters; PSK 8-63 printable ASCII "
                            "characters or 64 hex digits\n");
            return 1;
        }
    }

    if (cli_open(&o, false, 1, true, &srv) != OWB_OK) {
        owb_wifi_wipe(&w);
        return 1;
    }
    if (strcmp(action, "add") == 0) {
        ret = network_add(&srv, name, &w);
    } else if (strcmp(action, "list") == 0) {
        ret = srv.store->ops->network_list(srv.store, print_network, NULL) == OWB_OK ? 0 : 1;
    } else {
        rc = srv.store->ops->network_remove(srv.store, name);
        if (rc == OWB_OK) {
            printf("network %s removed\n", name);
            ret = 0;
        } else {
            fprintf(stderr, "owb-server network: %s: %s\n", name,
                    rc == OWB_ERR_NOENT ? "no such network" : owb_strerror(rc));
        }
    }
    owb_wifi_wipe(&w);
    cli_close(&srv);
    return ret;
}
