/* owb-server init: create the master key, the signing key and the database. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "signing.h"
#include "owb/keyfile.h"

static const char init_help[] =
    "Usage: owb-server init [--db FILE|URI] [--master-key FILE] [--signing-key FILE]\n"
    "Creates the master key file and the pk suite's signing key file (mode\n"
    "0600; existing ones are kept, never replaced) and the database, and\n"
    "records a check value so that a server started with another master key\n"
    "refuses to run. Safe to run again.\n\n" CLI_DB_HELP;

int cmd_init_main(int argc, char **argv)
{
    static const struct option opts[] = {CLI_DB_OPTIONS, {NULL, 0, NULL, 0}};
    struct cli_db o;
    struct owb_srv srv;
    char diag[OWB_DIAG_SIZE];
    const char *key_path;
    bool made_key = false, made_db, pg, made_signing = false;
    const char *signing_path;
    char label[1024];
    int c;

    cli_db_defaults(&o);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_db_opt(&o, c, optarg))
            continue;
        if (c == 'h') {
            fputs(init_help, stdout);
            return 0;
        }
        return cli_usage_error("init", "unknown option");
    }
    if (optind != argc)
        return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);

    key_path = owb_master_path(o.master_key, o.master_buf, sizeof o.master_buf);
    if (access(key_path, F_OK) != 0) {
        if (owb_master_create(key_path, diag) != OWB_OK) {
            fprintf(stderr, "owb-server init: %s\n", diag);
            return 1;
        }
        made_key = true;
    }
    signing_path = owb_signing_path(o.signing_key, key_path, o.signing_buf, sizeof o.signing_buf);
    if (access(signing_path, F_OK) != 0) {
        if (owb_signing_create(signing_path, diag) != OWB_OK) {
            fprintf(stderr, "owb-server init: %s\n", diag);
            return 1;
        }
        made_signing = true;
    }
    pg = owb_store_pg_dsn(o.db);
    made_db = !pg && access(o.db, F_OK) != 0;
    if (cli_open(&o, true, 1, true, &srv) != OWB_OK)
        return 1;
    cli_close(&srv);
    printf("master key: %s (%s)\n", key_path, made_key ? "created" : "kept");
    printf("signing key: %s (%s; 'owb-server signing-key public' prints its public key)\n",
           signing_path, made_signing ? "created" : "kept");
    printf("database:   %s (%s)\n", cli_db_label(o.db, label, sizeof label),
           pg        ? "schema up to date"
           : made_db ? "created"
                     : "up to date");
    return 0;
}
