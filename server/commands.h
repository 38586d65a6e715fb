/* owb-server's subcommands, one file each. */
#ifndef OWB_SERVER_COMMANDS_H
#define OWB_SERVER_COMMANDS_H

int cmd_init_main(int argc, char **argv);
int cmd_serve_main(int argc, char **argv);
int cmd_device_main(int argc, char **argv);
int cmd_network_main(int argc, char **argv);
int cmd_rollout_main(int argc, char **argv);
int cmd_token_main(int argc, char **argv);
int cmd_signing_main(int argc, char **argv);
int cmd_seal_rows_main(int argc, char **argv);
int cmd_prune_main(int argc, char **argv);
int cmd_counters_main(int argc, char **argv);

#endif
