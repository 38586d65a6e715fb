/* A batch's manifest.csv, as owb-mint batch writes it:
 *   id,setup_url,ap_ssid,qr_file
 *   <id>,<server>/s/<id>#c=<claim>,OWB-<id>,<id>.svg
 * read back for owb-mint labels. Every line is checked (the URL is the
 * one of that id, its claim code 16 characters of the claim alphabet, the
 * SSID the id's, no id twice, the file ends with a newline) so that a
 * damaged manifest is refused with its line number rather than printed
 * as labels that do not work. The setup URL holds the claim code: the
 * manifest is wiped when freed. */
#ifndef OWB_TOOLS_MANIFEST_H
#define OWB_TOOLS_MANIFEST_H

#include <stddef.h>

#include "owb/claim.h"
#include "owb/err.h"
#include "owb/id.h"

#define OWB_MANIFEST_HEADER "id,setup_url,ap_ssid,qr_file"

struct owb_manifest_entry {
    const char *id, *url; /* into the manifest's text */
    char claim[OWB_CLAIM_SIZE];
};

struct owb_manifest {
    struct owb_manifest_entry *e;
    size_t n, cap;
    char *text;
    size_t text_len;
};

/* Reads and checks path. On failure diag (OWB_DIAG_SIZE) says what is
 * wrong and on which line: OWB_ERR_NOENT, OWB_ERR_IO, OWB_ERR_TOO_LARGE,
 * OWB_ERR_BAD_FILE (damaged), OWB_ERR_NOMEM. */
enum owb_err owb_manifest_read(const char *path, struct owb_manifest *m, char *diag) OWB_MUST_CHECK;

/* Splits a setup URL <server>/s/<id>#c=<claim>: the id into id, the claim
 * into claim. OWB_ERR_BAD_FILE when it has another form. */
enum owb_err owb_setup_url_split(const char *url, char id[static OWB_DEVICE_ID_SIZE],
                                 char claim[static OWB_CLAIM_SIZE]) OWB_MUST_CHECK;

/* Wipes and frees what m holds. */
void owb_manifest_free(struct owb_manifest *m);

#endif
