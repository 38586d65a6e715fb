/* owb-server: the self-hosted provisioning server. */
#include <sys/stat.h>

#include "commands.h"
#include "owb/cli.h"

static const struct owb_command commands[] = {
    {"init", cmd_init_main, "create the master key and the database"},
    {"serve", cmd_serve_main, "serve the provisioning API and the setup page"},
    {"device", cmd_device_main, "import, list, show, remove and assign devices"},
    {"network", cmd_network_main, "add, update, list and remove premises networks"},
    {"rollout", cmd_rollout_main, "follow, pause, resume and abort rollouts of new settings"},
    {"token", cmd_token_main, "create, list and revoke installer tokens"},
    {"signing-key", cmd_signing_main, "print the pk suite's server public key"},
    {"seal-rows", cmd_seal_rows_main, "vouch for rows written before row MACs"},
    {"prune", cmd_prune_main, "remove sessions and check-in nonces past the retention period"},
    {"counters", cmd_counters_main, "show the counter mark, or raise it after a restore"},
};

int main(int argc, char **argv)
{
    /* Every file the server makes (database, WAL, keys) is its own alone. */
    umask(077);
    return owb_cli_dispatch("owb-server", OWB_VERSION, commands,
                            sizeof commands / sizeof commands[0], argc, argv);
}
