/* owb-mint's subcommands, one file each. */
#ifndef OWB_TOOLS_COMMANDS_H
#define OWB_TOOLS_COMMANDS_H

int cmd_device_main(int argc, char **argv);
int cmd_batch_main(int argc, char **argv);
int cmd_labels_main(int argc, char **argv);
int cmd_qr_main(int argc, char **argv);
int cmd_ap_main(int argc, char **argv);
int cmd_inspect_main(int argc, char **argv);

#endif
