/* owb-mint: the factory CLI. */
#include "commands.h"
#include "owb/cli.h"

static const struct owb_command commands[] = {
    {"device", cmd_device_main, "mint one device: key file, server record, QR codes"},
    {"batch", cmd_batch_main, "mint many devices for a factory line"},
    {"labels", cmd_labels_main, "lay out a batch's labels on A4 or Letter sheets (PDF or SVG)"},
    {"qr", cmd_qr_main, "draw the QR code of a setup URL"},
    {"ap", cmd_ap_main, "show a device's setup-AP name and passphrase"},
    {"inspect", cmd_inspect_main, "show what a key file holds (never the key)"},
};

int main(int argc, char **argv)
{
    return owb_cli_dispatch("owb-mint", OWB_VERSION, commands, sizeof commands / sizeof commands[0],
                            argc, argv);
}
