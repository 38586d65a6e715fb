#include "mint_cli.h"

static const struct owb_opt target_opts[] = {
    OWB_OPT_STR_("server", "URL", struct mint_target, server,
                 "the provisioning server's base URL (required)"),
    OWB_OPT_STR_("out-dir", "DIR", struct mint_target, dir, "where the files go (required)"),
    OWB_OPT_STR_("prefix", "P", struct mint_target, prefix,
                 "ids of P and 10 random characters (default owb-)"),
    OWB_OPT_STR_("suite", "sym|pk", struct mint_target, suite, "the devices' suite (default sym)"),
    OWB_OPT_STR_("server-public-key", "FILE", struct mint_target, server_key,
                 "--suite pk: the server public key(s) to pin, one to four"),
};

struct owb_opt_group mint_target_group(struct mint_target *t)
{
    return (struct owb_opt_group){target_opts, OWB_ARRAY_LEN(target_opts), t};
}

int mint_target_check(const char *prog, struct mint_target *t)
{
    int ret;

    if (t->prefix && !owb_prefix_valid(t->prefix))
        return owb_cli_usage_error(prog, "--prefix must be at most %d characters of [A-Za-z0-9._-]",
                                   OWB_PREFIX_MAX);
    if (!owb_base_url_valid(t->server))
        return owb_cli_usage_error(
            prog, "--server must be an http or https URL of at most %d bytes", OWB_BASE_URL_MAX);
    ret = owb_mint_suite_parse(prog, t->suite, t->server_key, &t->ms);
    return ret != 0 ? ret : OWB_CLI_RUN;
}
