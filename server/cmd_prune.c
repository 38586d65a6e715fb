/* owb-server prune: one pruning pass now, as 'serve --retention' runs
 * them in the background (retention.h), and what it removed. */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "retention.h"

#define PROG "owb-server prune"

static const char prune_about[] =
    "Removes the sessions and check-in nonces no answer needs any more: the\n"
    "sessions created longer ago than the retention period, except each\n"
    "device's newest, and the nonces of the sessions removed. A phone polling\n"
    "a removed session is answered 404, and a device checking in with its\n"
    "counter 409 conflict. 'serve' does the same on its own (--retention).\n"
    "--retention 0 keeps only each device's newest session.\n";

struct prune_opts {
    const char *retention;
};

static const struct owb_opt prune_opts[] = {
    OWB_OPT_STR_("retention", "PERIOD", struct prune_opts, retention,
                 "keep what is younger than this: " OWB_RETENTION_FORMS
                 " (default " OWB_RETENTION_DEFAULT ")"),
};

int cmd_prune_main(int argc, char **argv)
{
    struct cli_db o;
    struct owb_srv srv;
    struct prune_opts po = {OWB_RETENTION_DEFAULT};
    struct owb_prune_result res;
    int64_t retention_s = 0;
    char period[32];
    enum owb_err rc;
    int ret;
    const struct owb_opt_group groups[] = {{prune_opts, OWB_ARRAY_LEN(prune_opts), &po},
                                           cli_db_group(&o, CLI_DB_ADMIN)};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "[options]",
                                .about = prune_about,
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};

    cli_db_defaults(&o);
    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;
    if (!owb_retention_parse(po.retention, &retention_s))
        return owb_cli_usage_error(PROG, "--retention takes " OWB_RETENTION_FORMS "; not '%s'",
                                   po.retention);
    if (cli_open(&o, false, 1, true, &srv) != OWB_OK)
        return OWB_EXIT_FAIL;
    rc = owb_retention_pass(srv.store, cli_now(), retention_s, &res);
    owb_retention_format(retention_s, period, sizeof period);
    ret = OWB_EXIT_OK;
    if (rc != OWB_OK)
        ret = owb_cli_fail(PROG, "%s", owb_strerror(rc));
    else
        printf("removed %llu session(s) and %llu check-in nonce(s) older than %s; each device's "
               "newest session kept%s\n",
               (unsigned long long)res.sessions, (unsigned long long)res.nonces, period,
               res.skipped ? "; stopped there: another process is pruning the database or "
                             "holds its write lock"
                           : "");
    cli_close(&srv);
    return ret;
}
