/* vt_err helpers: bounded formatting so a message can never overflow. */
#include "visft/error.h"

#include <stdio.h>
#include <string.h>

vt_status vt_err_setv(vt_err *err, vt_status code, const char *fmt, va_list ap) {
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

vt_status vt_err_set(vt_err *err, vt_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vt_err_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

vt_status vt_err_prefix(vt_err *err, const char *fmt, ...) {
    if (!err) return VT_EINVAL;
    char prefix[VT_ERR_MSG_MAX], old[VT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return err->code;
}

void vt_err_clear(vt_err *err) {
    if (err) {
        err->code = VT_OK;
        err->msg[0] = '\0';
    }
}

const char *vt_status_name(vt_status code) {
    switch (code) {
    case VT_OK: return "ok";
    case VT_EINVAL: return "invalid argument";
    case VT_EIO: return "i/o error";
    case VT_ENOMEM: return "out of memory";
    case VT_EFORMAT: return "malformed input";
    case VT_ESHAPE: return "shape mismatch";
    case VT_EDTYPE: return "unsupported dtype";
    case VT_ENOTFOUND: return "not found";
    case VT_EUNSUPPORTED: return "unsupported";
    case VT_EABI: return "plugin ABI mismatch";
    case VT_ESTATE: return "bad state";
    case VT_EDEVICE: return "device error";
    }
    return "unknown error";
}
