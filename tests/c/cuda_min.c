/* The driver subset of cuda_min.h, loaded with dlopen; fake device memory for CPU runs. */
#define _POSIX_C_SOURCE 200809L
#include "cuda_min.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cu_api cu;
int dev_fake;

int cu_open(char *why, size_t why_size) {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(why, why_size, "no CUDA driver: cannot load libcuda.so.1 (%s)", e ? e : "not found");
        return 0;
    }
    /* POSIX's way to turn dlsym's void * into a function pointer */
#define LOAD(field, name)                                                              \
    do {                                                                               \
        *(void **)(&cu.field) = dlsym(lib, name);                                      \
        if (!cu.field) {                                                               \
            snprintf(why, why_size, "libcuda.so.1 lacks %s (driver too old?)", name);  \
            return -1;                                                                 \
        }                                                                              \
    } while (0)
    LOAD(Init, "cuInit");
    LOAD(GetErrorName, "cuGetErrorName");
    LOAD(DeviceGetCount, "cuDeviceGetCount");
    LOAD(DeviceGet, "cuDeviceGet");
    LOAD(DeviceGetAttribute, "cuDeviceGetAttribute");
    LOAD(DeviceGetName, "cuDeviceGetName");
    LOAD(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    LOAD(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
    LOAD(CtxCreate, "cuCtxCreate_v2");
    LOAD(CtxDestroy, "cuCtxDestroy_v2");
    LOAD(CtxSetCurrent, "cuCtxSetCurrent");
    LOAD(CtxGetCurrent, "cuCtxGetCurrent");
    LOAD(CtxSynchronize, "cuCtxSynchronize");
    LOAD(MemAlloc, "cuMemAlloc_v2");
    LOAD(MemFree, "cuMemFree_v2");
    LOAD(MemGetInfo, "cuMemGetInfo_v2");
    LOAD(MemcpyHtoD, "cuMemcpyHtoD_v2");
    LOAD(MemcpyDtoH, "cuMemcpyDtoH_v2");
    LOAD(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
    LOAD(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
    LOAD(StreamCreate, "cuStreamCreate");
    LOAD(StreamDestroy, "cuStreamDestroy_v2");
    LOAD(StreamSynchronize, "cuStreamSynchronize");
    LOAD(StreamBeginCapture, "cuStreamBeginCapture_v2");
    LOAD(StreamEndCapture, "cuStreamEndCapture");
    LOAD(GraphInstantiateWithFlags, "cuGraphInstantiateWithFlags");
    LOAD(GraphLaunch, "cuGraphLaunch");
    LOAD(GraphExecDestroy, "cuGraphExecDestroy");
    LOAD(GraphDestroy, "cuGraphDestroy");
#undef LOAD
    CUresult r = cu.Init(0);
    if (r != 0) {
        snprintf(why, why_size, "%s: cuInit failed: %s", r == CUDA_ERROR_NO_DEVICE ? "no CUDA device" : "driver error",
                 cu_error_name(r));
        return r == CUDA_ERROR_NO_DEVICE ? 0 : -1;
    }
    int count = 0;
    if ((r = cu.DeviceGetCount(&count)) != 0) {
        snprintf(why, why_size, "cuDeviceGetCount failed: %s", cu_error_name(r));
        return -1;
    }
    if (count == 0) snprintf(why, why_size, "no CUDA device: the driver sees none");
    return count;
}

int cu_open_or_skip(int need, const char *what) {
    char why[256] = "";
    int count = cu_open(why, sizeof why);
    if (count < 0) {
        fprintf(stderr, "%s\n", why);
        exit(1);
    }
    if (count < need) {
        printf("skip: %s needs %d GPU(s): %s\n", what, need, count == 0 ? why : "fewer devices are visible");
        exit(77);
    }
    CU_OK(cu.CtxSetCurrent(cu_primary(0)));
    return count;
}

CUcontext cu_primary(int ordinal) {
    CUdevice dev;
    CUcontext ctx;
    CU_OK(cu.DeviceGet(&dev, ordinal));
    CU_OK(cu.DevicePrimaryCtxRetain(&ctx, dev));
    return ctx;
}

const char *cu_error_name(CUresult r) {
    const char *name = NULL;
    if (!cu.GetErrorName || cu.GetErrorName(r, &name) != 0 || !name) return "unknown CUresult";
    return name;
}

void cu_die(CUresult r, const char *call, const char *file, int line) {
    fprintf(stderr, "%s:%d: %s failed: %s (%d)\n", file, line, call, cu_error_name(r), r);
    fflush(NULL);
    exit(1);
}

CUdeviceptr dev_alloc(size_t bytes) {
    if (bytes == 0) return 0;
    if (dev_fake) {
        void *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
        if (!p) {
            fprintf(stderr, "out of host memory (%zu bytes)\n", bytes);
            exit(1);
        }
        return (CUdeviceptr)(size_t)p;
    }
    CUdeviceptr p = 0;
    CU_OK(cu.MemAlloc(&p, bytes));
    return p;
}

void dev_free(CUdeviceptr p) {
    if (!p) return;
    if (dev_fake)
        free(dptr(p));
    else
        CU_OK(cu.MemFree(p));
}

void dev_upload(CUdeviceptr dst, const void *src, size_t bytes, CUstream s) {
    if (!bytes) return;
    if (dev_fake)
        memcpy(dptr(dst), src, bytes);
    else
        CU_OK(cu.MemcpyHtoDAsync(dst, src, bytes, s));
}

void dev_download(void *dst, CUdeviceptr src, size_t bytes, CUstream s) {
    if (dev_fake) {
        memcpy(dst, dptr(src), bytes);
        return;
    }
    if (bytes) CU_OK(cu.MemcpyDtoHAsync(dst, src, bytes, s));
    CU_OK(cu.StreamSynchronize(s));
}

void dev_sync(CUstream s) {
    if (!dev_fake) CU_OK(cu.StreamSynchronize(s));
}

size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (!f) return 0;
    int got = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return got == 2 ? (size_t)resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}
