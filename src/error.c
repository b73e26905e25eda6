/* Status strings and the thread-local detail message. Never prints. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static _Thread_local char last_error[512];

void tritium_clear_error(void) { last_error[0] = '\0'; }

tritium_status tritium_fail(tritium_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

tritium_status tritium_fail_driver(tritium_status status, const char *call, CUresult r) {
    const char *name = NULL;
    const tritium_driver *drv = NULL;
    /* the driver is loaded whenever a driver call could have failed */
    if (tritium_driver_get(&drv) == TRITIUM_SUCCESS && drv->GetErrorName(r, &name) != CUDA_SUCCESS)
        name = NULL;
    return tritium_fail(status, "%s failed: %s (CUresult %d)", call, name ? name : "unknown error", (int)r);
}

TRITIUM_API const char *tritium_last_error(void) { return last_error; }

TRITIUM_API const char *tritium_status_string(tritium_status status) {
    switch (status) {
    case TRITIUM_SUCCESS: return "success";
    case TRITIUM_ERROR_INVALID_VALUE: return "invalid value";
    case TRITIUM_ERROR_NULL_POINTER: return "null pointer";
    case TRITIUM_ERROR_INVALID_SIZE: return "invalid size";
    case TRITIUM_ERROR_INVALID_STRIDE: return "invalid stride";
    case TRITIUM_ERROR_INVALID_ENUM: return "invalid enum value";
    case TRITIUM_ERROR_OVERFLOW: return "size overflow";
    case TRITIUM_ERROR_WORKSPACE_TOO_SMALL: return "workspace too small";
    case TRITIUM_ERROR_NOT_SUPPORTED: return "not supported";
    case TRITIUM_ERROR_MISALIGNED: return "misaligned pointer";
    case TRITIUM_ERROR_NO_DRIVER: return "no CUDA driver";
    case TRITIUM_ERROR_DRIVER_TOO_OLD: return "CUDA driver too old";
    case TRITIUM_ERROR_NO_DEVICE: return "no CUDA device";
    case TRITIUM_ERROR_NO_CONTEXT: return "no CUDA context";
    case TRITIUM_ERROR_DRIVER: return "CUDA driver error";
    case TRITIUM_ERROR_NO_KERNEL_IMAGE: return "no kernel image for the device";
    case TRITIUM_ERROR_IMAGE_LOAD: return "kernel image failed to load";
    case TRITIUM_ERROR_LAUNCH: return "kernel launch failed";
    case TRITIUM_ERROR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
