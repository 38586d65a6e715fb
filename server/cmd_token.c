/* owb-server token create|list|revoke: installer tokens for server-sealed setup. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cli.h"
#include "commands.h"

#define PROG "owb-server token"

struct token_cmd {
    struct cli_admin a;
    const char *label;
};

static const char token_about[] =
    "Installer tokens let an installer's phone ask for server-sealed bundles\n"
    "(which carry the organisation's Wi-Fi password). A token is printed once\n"
    "at creation; the database keeps only its hash.\n";

static const struct owb_opt token_opts[] = {
    {.name = "label",
     .short_name = 'l',
     .type = OWB_OPT_STR,
     .off = offsetof(struct token_cmd, label),
     .arg = "LABEL",
     .help = "create: the token's label, 1-64 printable characters, not digits alone; "
             "unique (a revoked token keeps its label)"},
};

static void print_token(void *ctx, const struct owb_token_row *t)
{
    char when[CLI_TIME_SIZE];
    (void)ctx;
    cli_time_format(when, t->created_at);
    printf("%-6lld %-24s %s %s\n", (long long)t->id, t->label, when,
           t->revoked_at ? "revoked" : "valid");
}

/* Printable, and not digits alone: revoke takes an id or a label, and a
 * label that reads as a number would stand for another token's id. */
static bool label_ok(const char *l)
{
    size_t n = strlen(l);
    if (n == 0 || n > OWB_LABEL_MAX || strspn(l, "0123456789") == n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)l[i] < 0x20 || l[i] == 0x7f)
            return false;
    return true;
}

static int verb_create(void *ctx, int argc, char **argv)
{
    struct token_cmd *t = ctx;
    char token[OWB_TOKEN_SIZE];
    uint8_t hash[OWB_HASH_BYTES];
    int64_t id;
    enum owb_err rc;

    (void)argc, (void)argv;
    if (!t->label || !label_ok(t->label))
        return owb_cli_usage_error(
            PROG, "create needs --label LABEL (1-%d printable chars, not digits alone)",
            OWB_LABEL_MAX);
    if (!cli_admin_open(&t->a))
        return OWB_EXIT_FAIL;
    owb_token_new(token, hash);
    rc = t->a.srv.store->ops->token_add(t->a.srv.store, hash, t->label, cli_now(), &id);
    if (rc == OWB_OK) {
        printf("%s\n", token);
        fprintf(stderr, "token %lld (%s) created; it is shown only this once\n", (long long)id,
                t->label);
    }
    sodium_memzero(token, sizeof token);
    /* A token's hash is random: a duplicate is its label. */
    if (rc == OWB_ERR_EXISTS)
        return owb_cli_fail(PROG,
                            "a token labelled '%s' exists already (token list shows it); "
                            "nothing created: choose another label",
                            t->label);
    return rc == OWB_OK ? OWB_EXIT_OK : owb_cli_fail(PROG, "%s", owb_strerror(rc));
}

static int verb_list(void *ctx, int argc, char **argv)
{
    struct token_cmd *t = ctx;
    (void)argc, (void)argv;
    if (!cli_admin_open(&t->a))
        return OWB_EXIT_FAIL;
    enum owb_err rc = t->a.srv.store->ops->token_list(t->a.srv.store, print_token, NULL);
    return rc == OWB_OK ? OWB_EXIT_OK : owb_cli_fail(PROG, "list: %s", owb_strerror(rc));
}

static int verb_revoke(void *ctx, int argc, char **argv)
{
    struct token_cmd *t = ctx;
    size_t n = 0;
    enum owb_err rc;

    (void)argc;
    if (!cli_admin_open(&t->a))
        return OWB_EXIT_FAIL;
    rc = t->a.srv.store->ops->token_revoke(t->a.srv.store, argv[0], cli_now(), &n);
    if (rc != OWB_OK)
        return owb_cli_fail(PROG, "%s", owb_strerror(rc));
    if (n == 0)
        return owb_cli_fail(PROG, "no valid token with id or label '%s'", argv[0]);
    printf("token '%s' revoked\n", argv[0]);
    return OWB_EXIT_OK;
}

static const struct owb_verb token_verbs[] = {
    {"create", "", verb_create, "make a token and print it, once (needs --label LABEL)"},
    {"list", "", verb_list, "one line a token (never the token)"},
    {"revoke", "ID|LABEL", verb_revoke,
     "refuse a token from now on (the one with this label, else with this id)"},
};

static const struct cli_admin_cmd token_spec = {.prog = PROG,
                                                .about = token_about,
                                                .verbs = token_verbs,
                                                .n_verbs = OWB_ARRAY_LEN(token_verbs),
                                                .opts = token_opts,
                                                .n_opts = OWB_ARRAY_LEN(token_opts),
                                                .db_use = CLI_DB_ADMIN};

int cmd_token_main(int argc, char **argv)
{
    struct token_cmd t = {0};
    return cli_admin_main(&token_spec, &t.a, &t, argc, argv);
}
