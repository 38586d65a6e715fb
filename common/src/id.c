#include "owb/id.h"

#include <string.h>

bool owb_device_id_valid(const char *id, size_t len)
{
    if (!id || len == 0 || len > OWB_DEVICE_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool owb_device_id_valid_str(const char *id)
{
    return id && owb_device_id_valid(id, strnlen(id, OWB_DEVICE_ID_MAX + 1));
}
