/* The CUDA driver, loaded at run time with dlopen so that the library loads (and says
 * so clearly) on machines without a driver or a GPU. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "internal.h"

/* Needed for the context-independent CUlibrary/CUkernel API. */
#define TRITIUM_MIN_DRIVER 12000

static tritium_driver driver;
static tritium_status driver_status = TRITIUM_ERROR_INTERNAL;
static char driver_message[256];
static pthread_once_t driver_once = PTHREAD_ONCE_INIT;

/* cuda.h maps names to their current ABI versions (cuCtxPushCurrent -> ..._v2);
 * stringizing after expansion asks dlsym for exactly that version. */
#define TRITIUM_STR2(x) #x
#define TRITIUM_STR(x) TRITIUM_STR2(x)
#define LOAD(field, sym)                                                                   \
    do {                                                                                   \
        *(void **)(&driver.field) = dlsym(lib, TRITIUM_STR(sym));                          \
        if (!driver.field) {                                                               \
            snprintf(driver_message, sizeof driver_message,                                \
                     "libcuda.so.1 lacks %s (driver older than CUDA 12.0?)", TRITIUM_STR(sym)); \
            driver_status = TRITIUM_ERROR_DRIVER_TOO_OLD;                                  \
            return;                                                                        \
        }                                                                                  \
    } while (0)

static void driver_load(void) {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(driver_message, sizeof driver_message, "cannot load libcuda.so.1: %s",
                 e ? e : "not found");
        driver_status = TRITIUM_ERROR_NO_DRIVER;
        return;
    }
    LOAD(Init, cuInit);
    LOAD(DriverGetVersion, cuDriverGetVersion);
    LOAD(GetErrorName, cuGetErrorName);
    int version = 0;
    if (driver.DriverGetVersion(&version) != CUDA_SUCCESS || version < TRITIUM_MIN_DRIVER) {
        snprintf(driver_message, sizeof driver_message,
                 "the CUDA driver supports CUDA %d.%d; tritium needs 12.0 or newer",
                 version / 1000, version % 1000 / 10);
        driver_status = TRITIUM_ERROR_DRIVER_TOO_OLD;
        return;
    }
    LOAD(DeviceGetCount, cuDeviceGetCount);
    LOAD(DeviceGet, cuDeviceGet);
    LOAD(DeviceGetAttribute, cuDeviceGetAttribute);
    LOAD(DeviceGetName, cuDeviceGetName);
    LOAD(CtxGetCurrent, cuCtxGetCurrent);
    LOAD(CtxGetDevice, cuCtxGetDevice);
    LOAD(CtxPushCurrent, cuCtxPushCurrent);
    LOAD(CtxPopCurrent, cuCtxPopCurrent);
    LOAD(StreamGetCtx, cuStreamGetCtx);
    LOAD(PointerGetAttribute, cuPointerGetAttribute);
    LOAD(DevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain);
    LOAD(DevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease);
    LOAD(LibraryLoadData, cuLibraryLoadData);
    LOAD(LibraryGetKernel, cuLibraryGetKernel);
    LOAD(KernelSetAttribute, cuKernelSetAttribute);
    LOAD(LaunchKernel, cuLaunchKernel);
    *(void **)(&driver.LaunchKernelEx) = dlsym(lib, TRITIUM_STR(cuLaunchKernelEx)); /* optional */
    CUresult r = driver.Init(0);
    if (r != CUDA_SUCCESS) {
        const char *name = NULL;
        driver.GetErrorName(r, &name);
        snprintf(driver_message, sizeof driver_message, "cuInit failed: %s (CUresult %d)",
                 name ? name : "unknown error", (int)r);
        driver_status = (r == CUDA_ERROR_NO_DEVICE) ? TRITIUM_ERROR_NO_DEVICE : TRITIUM_ERROR_DRIVER;
        return;
    }
    int count = 0;
    if (driver.DeviceGetCount(&count) != CUDA_SUCCESS || count == 0) {
        snprintf(driver_message, sizeof driver_message, "the CUDA driver sees no device");
        driver_status = TRITIUM_ERROR_NO_DEVICE;
        return;
    }
    driver_status = TRITIUM_SUCCESS;
    /* the handle stays open for the life of the process: kernels may still run */
}

tritium_status tritium_driver_get(const tritium_driver **drv) {
    pthread_once(&driver_once, driver_load);
    if (driver_status != TRITIUM_SUCCESS)
        return tritium_fail(driver_status, "%s", driver_message);
    *drv = &driver;
    return TRITIUM_SUCCESS;
}
