/* owb-server signing-key public: the public half of the pk suite's server
 * signing key, for the factory (owb-mint --server-public-key). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "owb/base64.h"
#include "secrets.h"
#include "signing.h"

static const char signing_help[] =
    "Usage: owb-server signing-key public [--signing-key FILE] [--master-key FILE]\n"
    "Prints the public half of the server's signing key (base64url), the key\n"
    "owb-mint --suite pk pins in every device it mints. The secret half never\n"
    "leaves its file (made by 'owb-server init', mode 0600).\n"
    "To rotate: make a new key file, mint with both public keys in the file\n"
    "given to --server-public-key (one per line; a device accepts either), and\n"
    "switch the server to the new key once no device needs the old one.\n\n"
    "  --signing-key FILE the key file (default $OWB_SIGNING_KEY_FILE,\n"
    "                     $CREDENTIALS_DIRECTORY/owb-signing-key, or owb-signing.key\n"
    "                     beside the master key)\n"
    "  --master-key FILE  where the master key is (for that default)\n"
    "  -h, --help         this help\n";

int cmd_signing_main(int argc, char **argv)
{
    static const struct option opts[] = {{"signing-key", required_argument, NULL, 'G'},
                                         {"master-key", required_argument, NULL, 'K'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *flag = NULL, *master = NULL, *path;
    char buf[4096], mbuf[4096], diag[OWB_DIAG_SIZE];
    char pk[OWB_B64_ENCODED_SIZE(OWB_PK_PUBLIC_KEY_BYTES)];
    struct owb_signing *s = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'G') {
            flag = optarg;
        } else if (c == 'K') {
            master = optarg;
        } else if (c == 'h') {
            fputs(signing_help, stdout);
            return 0;
        } else {
            return cli_usage_error("signing-key", "unknown option");
        }
    }
    if (optind + 1 != argc || strcmp(argv[optind], "public") != 0)
        return cli_usage_error("signing-key", "the command is 'public'");
    path = owb_signing_path(flag, owb_master_path(master, mbuf, sizeof mbuf), buf, sizeof buf);
    if (owb_signing_load(path, &s, diag) != OWB_OK) {
        fprintf(stderr, "owb-server signing-key: %s\n", diag);
        return 1;
    }
    if (owb_b64_encode(s->pk, sizeof s->pk, pk, sizeof pk) != OWB_OK) {
        owb_signing_free(s);
        return 1;
    }
    owb_signing_free(s);
    printf("%s\n", pk);
    return 0;
}
