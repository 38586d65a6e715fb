/* owb-server token create|list|revoke: installer tokens for server-sealed setup. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "commands.h"

static const char token_help[] =
    "Usage: owb-server token create --label LABEL [db options]\n"
    "       owb-server token list [db options]\n"
    "       owb-server token revoke ID|LABEL [db options]\n"
    "Installer tokens let an installer's phone ask for server-sealed bundles\n"
    "(which carry the organisation's Wi-Fi password). A token is printed once\n"
    "at creation; the database keeps only its hash.\n\n" CLI_DB_HELP;

static void print_token(void *ctx, const struct owb_token_row *t)
{
    char when[32];
    struct tm tm;
    time_t ts = (time_t)t->created_at;
    (void)ctx;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&ts, &tm));
    printf("%-6lld %-24s %s %s\n", (long long)t->id, t->label, when,
           t->revoked_at ? "revoked" : "valid");
}

static bool label_ok(const char *l)
{
    size_t n = strlen(l);
    if (n == 0 || n > OWB_LABEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)l[i] < 0x20 || l[i] == 0x7f)
            return false;
    return true;
}

int cmd_token_main(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_DB_OPTIONS, {"label", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0}};
    struct cli_db o;
    struct owb_srv srv;
    const char *label = NULL, *action;
    int c, ret = 1;
    enum owb_err rc;

    cli_db_defaults(&o);
    while ((c = getopt_long(argc, argv, "hl:", opts, NULL)) != -1) {
        if (cli_db_opt(&o, c, optarg))
            continue;
        if (c == 'h') {
            fputs(token_help, stdout);
            return 0;
        }
        if (c == 'l') {
            label = optarg;
            continue;
        }
        return cli_usage_error("token", "unknown option");
    }
    if (optind >= argc)
        return cli_usage_error("token", "missing action: create, list or revoke");
    action = argv[optind++];
    if (strcmp(action, "create") == 0) {
        if (!label || !label_ok(label) || optind != argc)
            return cli_usage_error("token", "create needs --label LABEL (1-%d printable chars)",
                                   OWB_LABEL_MAX);
    } else if (strcmp(action, "list") == 0) {
        if (optind != argc)
            return cli_usage_error("token", "list takes no argument");
    } else if (strcmp(action, "revoke") == 0) {
        if (optind + 1 != argc)
            return cli_usage_error("token", "revoke needs one ID or LABEL");
    } else {
        return cli_usage_error("token", "unknown action '%s'", action);
    }

    if (cli_open(&o, false, 1, true, &srv) != OWB_OK)
        return 1;
    if (strcmp(action, "create") == 0) {
        char token[OWB_TOKEN_SIZE];
        uint8_t hash[OWB_HASH_BYTES];
        int64_t id;
        owb_token_new(token, hash);
        rc = srv.store->ops->token_add(srv.store, hash, label, cli_now(), &id);
        if (rc == OWB_OK) {
            printf("%s\n", token);
            fprintf(stderr, "token %lld (%s) created; it is shown only this once\n", (long long)id,
                    label);
            ret = 0;
        } else {
            fprintf(stderr, "owb-server token: %s\n", owb_strerror(rc));
        }
        sodium_memzero(token, sizeof token);
    } else if (strcmp(action, "list") == 0) {
        rc = srv.store->ops->token_list(srv.store, print_token, NULL);
        ret = rc == OWB_OK ? 0 : 1;
    } else {
        size_t n = 0;
        rc = srv.store->ops->token_revoke(srv.store, argv[optind], cli_now(), &n);
        if (rc == OWB_OK && n > 0) {
            printf("revoked %zu token(s)\n", n);
            ret = 0;
        } else if (rc == OWB_OK) {
            fprintf(stderr, "owb-server token: no valid token with id or label '%s'\n",
                    argv[optind]);
        } else {
            fprintf(stderr, "owb-server token: %s\n", owb_strerror(rc));
        }
    }
    cli_close(&srv);
    return ret;
}
