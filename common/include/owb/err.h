/* Error codes shared by every owb module and program.
 *
 * Every function that can fail returns enum owb_err; 0 is success. The codes
 * that a peer sees on the wire map onto the protocol's "error" strings and
 * HTTP statuses (PROTOCOL.md, "HTTP: device agent" and "provisioning server").
 */
#ifndef OWB_ERR_H
#define OWB_ERR_H

enum owb_err {
    OWB_OK = 0,
    /* Wire errors, in the order of the device's check table. */
    OWB_ERR_TOO_LARGE,        /* 413 too_large */
    OWB_ERR_BAD_REQUEST,      /* 400 bad_request */
    OWB_ERR_WRONG_DEVICE,     /* 403 wrong_device */
    OWB_ERR_REPLAYED,         /* 409 replayed */
    OWB_ERR_AUTH_FAILED,      /* 401 auth_failed */
    OWB_ERR_APP_KEY_REJECTED, /* 401 app_key_rejected */
    OWB_ERR_INVALID_CONFIG,   /* 422 invalid_config */
    OWB_ERR_BUSY,             /* 429 busy */
    /* Wire errors of the provisioning server. */
    OWB_ERR_CLAIM_REJECTED, /* 403 claim_rejected */
    OWB_ERR_LOCKED,         /* 429 locked */
    OWB_ERR_UNKNOWN_DEVICE, /* 404 unknown_device */
    OWB_ERR_UNAUTHORIZED,   /* 401 unauthorized: installer token missing or wrong */
    OWB_ERR_RATE_LIMITED,   /* 429 rate_limited */
    OWB_ERR_NOT_FOUND,      /* 404 not_found */
    OWB_ERR_METHOD,         /* 405 method_not_allowed */
    OWB_ERR_CONFLICT,       /* 409 conflict: e.g. no network assigned */
    OWB_ERR_UNAVAILABLE,    /* 503 unavailable */
    OWB_ERR_SETUP_CLOSED,   /* 403 setup_closed: the device is not in setup mode */
    OWB_ERR_MEDIA_TYPE,     /* 415 unsupported_media_type: a body that is not application/json */
    OWB_ERR_WRONG_HOST,     /* 421 wrong_host: a Host or Origin not naming the agent itself */
    /* Heartbeats. */
    OWB_ERR_STALE_CHALLENGE, /* 409 stale_challenge */
    /* Local errors. */
    OWB_ERR_INVALID_ARG, /* a caller passed something out of range */
    OWB_ERR_NOMEM,
    OWB_ERR_IO,          /* a system call failed; errno tells more */
    OWB_ERR_EXISTS,      /* refused to overwrite */
    OWB_ERR_NOENT,       /* file or record not there */
    OWB_ERR_BAD_FILE,    /* a file's content is malformed */
    OWB_ERR_PERM,        /* a file's mode or owner is unsafe */
    OWB_ERR_SPACE,       /* output buffer too small */
    OWB_ERR_CRYPTO,      /* libsodium could not initialise */
    OWB_ERR_UNSUPPORTED, /* not compiled into this build */
    OWB_ERR_TAMPERED,    /* a stored row does not match its MAC: changed without the master key */
    OWB_ERR_INTERNAL,
    OWB_ERR__COUNT
};

/* A readable sentence for the code, never NULL. */
const char *owb_strerror(enum owb_err err);

/* The protocol's machine-readable error string ("bad_request", ...). */
const char *owb_err_code(enum owb_err err);

/* The HTTP status a server answers with for this code (500 for local ones). */
int owb_err_http_status(enum owb_err err);

/* Size of the diagnostic buffers functions fill with a readable reason. */
#define OWB_DIAG_SIZE 256

/* Writes a diagnostic (cut to OWB_DIAG_SIZE); diag may be NULL. */
void owb_diagf(char *diag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#if defined(__GNUC__)
#define OWB_MUST_CHECK __attribute__((warn_unused_result))
#else
#define OWB_MUST_CHECK
#endif

#endif
