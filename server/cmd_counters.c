/* owb-server counters: the durable counter mark, and raising it past a
 * time for a database restored from a backup (store.h counter_mark;
 * docs/threat-model.md, "Counters across crashes"). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

#define PROG "owb-server counters"

static const char counters_about[] =
    "Shows the counter mark: no bundle counter at or above it has been issued,\n"
    "and after a crash none is issued below it. Counters come from the clock in\n"
    "microseconds, so they stay new across crashes and power cuts on their own.\n"
    "A database restored from a backup holds the backup's mark: if the lost\n"
    "database may have issued counters ahead of the clock (its clock had been\n"
    "stepped back, or it crashed within seconds of the restore's time), raise\n"
    "the mark past the last moment it served with --raise-past, with the\n"
    "servers stopped. PostgreSQL instances issue above it from their next\n"
    "setup; a SQLite server once it starts again (it reads the mark at start).\n";

struct counters_opts {
    const char *past;
};

static const struct owb_opt counters_opts[] = {
    OWB_OPT_STR_("raise-past", "TIME", struct counters_opts, past,
                 "issue no counter at or below TIME from now on: RFC 3339 in UTC "
                 "(2026-11-30T19:00:00Z) or @ and seconds since 1970"),
};

/* A counter as the moment of the clock it stands for. */
static void as_time(char out[static CLI_TIME_SIZE], int64_t us)
{
    if (us < 1000000)
        snprintf(out, CLI_TIME_SIZE, "none reserved yet");
    else
        cli_time_format(out, us / 1000000);
}

int cmd_counters_main(int argc, char **argv)
{
    struct cli_db o;
    struct owb_srv srv;
    struct counters_opts co = {NULL};
    int64_t past_s = 0, past_us = 0, before = 0, mark = 0;
    char when[CLI_TIME_SIZE], at[CLI_TIME_SIZE];
    enum owb_err rc;
    int ret;
    const struct owb_opt_group groups[] = {{counters_opts, OWB_ARRAY_LEN(counters_opts), &co},
                                           cli_db_group(&o, CLI_DB_ADMIN)};
    const struct owb_cli cli = {.prog = PROG,
                                .usage = "[--raise-past TIME] [options]",
                                .about = counters_about,
                                .groups = groups,
                                .n_groups = OWB_ARRAY_LEN(groups)};

    cli_db_defaults(&o);
    if ((ret = owb_cli_parse_no_args(&cli, argc, argv)) != OWB_CLI_RUN)
        return ret;
    if (co.past) {
        if (!cli_time_parse(co.past, &past_s))
            return owb_cli_usage_error(PROG,
                                       "--raise-past takes a time such as 2026-11-30T19:00:00Z "
                                       "or @1796000000; not '%s'",
                                       co.past);
        /* The mark must stay below 2^53 (about the year 2255). */
        if (past_s <= 0 || past_s >= (OWB_COUNTER_LIMIT - 1) / 1000000)
            return owb_cli_usage_error(PROG,
                                       "--raise-past: '%s' is out of the counters' range "
                                       "(1970 to 2255)",
                                       co.past);
        past_us = past_s * 1000000 + 999999;
    }
    if (cli_open(&o, false, 1, true, &srv) != OWB_OK)
        return OWB_EXIT_FAIL;
    rc = srv.store->ops->counter_mark(srv.store, 0, &before);
    if (rc == OWB_OK && past_us)
        rc = srv.store->ops->counter_mark(srv.store, past_us, &mark);
    else
        mark = before;
    ret = OWB_EXIT_OK;
    as_time(at, mark);
    if (rc != OWB_OK) {
        ret = owb_cli_fail(PROG, "%s", owb_strerror(rc));
    } else if (!past_us) {
        printf("counter mark: %lld (%s)\n", (long long)mark, at);
    } else if (mark == before) {
        cli_time_format(when, past_s);
        printf("counter mark: %lld (%s), already past %s; nothing changed\n", (long long)mark, at,
               when);
    } else {
        cli_time_format(when, past_s);
        printf("counter mark raised to %lld (%s): no counter at or below %s is issued %s\n",
               (long long)mark, at, when,
               strcmp(srv.store->ops->name, "sqlite") == 0
                   ? "once owb-server starts again (restart it if it is running)"
                   : "from each instance's next setup");
    }
    cli_close(&srv);
    return ret;
}
