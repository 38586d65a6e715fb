/* Internal: the constructors behind owb_backend_create(). */
#ifndef OWB_DEVICE_BACKEND_I_H
#define OWB_DEVICE_BACKEND_I_H

#include "backend.h"

enum owb_err owb_backend_command_create(const struct owb_backend_config *cfg,
                                        struct owb_backend **out, char *diag);
enum owb_err owb_backend_uci_create(const struct owb_backend_config *cfg, struct owb_backend **out,
                                    char *diag);
enum owb_err owb_backend_wpa_create(const struct owb_backend_config *cfg, struct owb_backend **out,
                                    char *diag);
enum owb_err owb_backend_nmcli_create(const struct owb_backend_config *cfg,
                                      struct owb_backend **out, char *diag);

#endif
