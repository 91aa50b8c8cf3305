/* visft error values.
 *
 * Errors are values: a function that can fail returns a vt_status (VT_OK == 0, negative on failure) and,
 * when given a vt_err, fills a one-line message naming the file, key, tensor or offset at fault.
 * Nothing in visft aborts on bad input. */
#ifndef VISFT_ERROR_H
#define VISFT_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vt_status {
    VT_OK = 0,
    VT_EINVAL = -1,       /* bad argument or bad user input */
    VT_EIO = -2,          /* file could not be opened, read or written */
    VT_ENOMEM = -3,       /* allocation failed */
    VT_EFORMAT = -4,      /* malformed file contents */
    VT_ESHAPE = -5,       /* tensor shapes do not fit the op */
    VT_EDTYPE = -6,       /* tensor dtype not supported by the op */
    VT_ENOTFOUND = -7,    /* a named thing (key, tensor, plugin) does not exist */
    VT_EUNSUPPORTED = -8, /* valid request this build or backend cannot do */
    VT_EABI = -9,         /* plugin ABI mismatch */
    VT_ESTATE = -10,      /* call made in the wrong state */
    VT_EDEVICE = -11      /* an accelerator, its driver or its library (CUDA, cuBLAS, cuDNN, NCCL) failed */
} vt_status;

#define VT_ERR_MSG_MAX 512

typedef struct vt_err {
    vt_status code;
    char msg[VT_ERR_MSG_MAX];
} vt_err;

/* Fills err (if non-NULL) with a printf-style message and returns code. */
vt_status vt_err_set(vt_err *err, vt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
vt_status vt_err_setv(vt_err *err, vt_status code, const char *fmt, va_list ap);
/* Prefixes an existing message ("prefix: old message"); keeps the code. */
vt_status vt_err_prefix(vt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vt_err_clear(vt_err *err);
const char *vt_status_name(vt_status code);

#ifdef __cplusplus
}
#endif
#endif
