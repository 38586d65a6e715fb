/* owb-server init: create the master key, the signing key and the database. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "signing.h"
#include "owb/fileio.h"
#include "owb/keyfile.h"

#define PROG "owb-server init"

static const char init_about[] =
    "Creates the master key file and the pk suite's signing key file (mode\n"
    "0600; existing ones are kept, never replaced) and the database, and\n"
    "records a check value so that a server started with another master key\n"
    "refuses to run. Safe to run again.\n";

/* Everything init will write must be writable before it writes the first
 * key: the folders are made (0700) and checked, and a PostgreSQL database
 * is reached, so a failure leaves no half-made installation behind. Nor is
 * a master key made for a database that already has one elsewhere: the
 * new key would not open it, and would stand in the way as the default. */
static enum owb_err prepare(const struct cli_db *o, const char *key_path, const char *signing_path,
                            bool pg)
{
    const char *files[] = {key_path, signing_path, pg ? NULL : o->db};
    char diag[OWB_DIAG_SIZE];
    bool db_made = false, key_missing = access(key_path, F_OK) != 0;
    enum owb_err rc = OWB_OK;

    for (size_t i = 0; rc == OWB_OK && i < OWB_ARRAY_LEN(files); i++)
        if (files[i])
            rc = owb_dir_make_parents(files[i], 0700, diag);
    if (rc == OWB_OK && pg) {
        struct owb_store_config cfg = {.path = o->db, .connections = 1, .busy_ms = o->busy_ms};
        struct owb_store *store = NULL;
        rc = owb_store_open(&cfg, &store, diag);
        db_made = rc == OWB_OK;
        if (rc == OWB_ERR_BAD_FILE)
            rc = OWB_OK; /* reached, and not initialised yet: init is here for that */
        if (store)
            store->ops->close(store);
    } else if (rc == OWB_OK) {
        struct stat st;
        db_made = stat(o->db, &st) == 0 && st.st_size > 0;
    }
    if (rc == OWB_OK && db_made && key_missing) {
        owb_diagf(diag,
                  "the database exists and has a master key, but none is at %s (give its file "
                  "with --master-key)",
                  key_path);
        rc = OWB_ERR_EXISTS;
    }
    if (rc != OWB_OK)
        owb_cli_fail(PROG, "%s; nothing written", diag);
    return rc;
}

int cmd_init_main(int argc, char **argv)
{
    struct cli_db o;
    struct owb_srv srv;
    char diag[OWB_DIAG_SIZE];
    const char *key_path;
    bool made_key = false, made_db, pg, made_signing = false;
    const char *signing_path;
    char label[1024];
    int ret;
    const struct owb_opt_group groups[] = {cli_db_group(&o, CLI_DB_KEYS)};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "[options]",
                                .about = init_about,
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};

    cli_db_defaults(&o);
    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;

    key_path = owb_master_path(o.master_key, o.master_buf, sizeof o.master_buf);
    signing_path = owb_signing_path(o.signing_key, key_path, o.signing_buf, sizeof o.signing_buf);
    pg = owb_store_pg_dsn(o.db);
    if (prepare(&o, key_path, signing_path, pg) != OWB_OK)
        return 1;
    if (access(key_path, F_OK) != 0) {
        if (owb_master_create(key_path, diag) != OWB_OK)
            return owb_cli_fail(PROG, "%s", diag);
        made_key = true;
    }
    if (access(signing_path, F_OK) != 0) {
        if (owb_signing_create(signing_path, diag) != OWB_OK)
            return owb_cli_fail(PROG, "%s", diag);
        made_signing = true;
    }
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
