/*
 * cuda_min.h: the CUDA driver API subset tritium's test programs use, declared by hand
 * (types, values and the versioned entry-point names as cuda.h has them) and loaded with
 * dlopen("libcuda.so.1"), as the library itself and examples/c do: no test program links
 * libcuda or needs a CUDA toolkit to build.
 *
 * Also: "device" buffers that can be plain host memory (dev_fake), for the programs'
 * runs on machines without a GPU, where the library never dereferences them.
 */
#ifndef TRITIUM_TEST_CUDA_MIN_H
#define TRITIUM_TEST_CUDA_MIN_H

#include <stddef.h>

typedef int CUresult; /* 0: CUDA_SUCCESS */
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream; /* the same struct tag as tritium.h's stream argument */
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef unsigned long long CUdeviceptr;

enum {
    CUDA_ERROR_NO_DEVICE = 100,
    CU_STREAM_NON_BLOCKING = 1,
    CU_STREAM_CAPTURE_MODE_GLOBAL = 0,
    CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
    CU_STREAM_CAPTURE_MODE_RELAXED = 2,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97
};

typedef struct cu_api {
    CUresult (*Init)(unsigned flags);
    CUresult (*GetErrorName)(CUresult r, const char **name);
    CUresult (*DeviceGetCount)(int *count);
    CUresult (*DeviceGet)(CUdevice *dev, int ordinal);
    CUresult (*DeviceGetAttribute)(int *value, int attribute, CUdevice dev);
    CUresult (*DeviceGetName)(char *name, int len, CUdevice dev);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
    CUresult (*DevicePrimaryCtxRelease)(CUdevice dev);          /* _v2 */
    CUresult (*CtxCreate)(CUcontext *ctx, unsigned flags, CUdevice dev); /* _v2 */
    CUresult (*CtxDestroy)(CUcontext ctx);                       /* _v2 */
    CUresult (*CtxSetCurrent)(CUcontext ctx);
    CUresult (*CtxGetCurrent)(CUcontext *ctx);
    CUresult (*CtxSynchronize)(void);
    CUresult (*MemAlloc)(CUdeviceptr *ptr, size_t bytes);        /* _v2 */
    CUresult (*MemFree)(CUdeviceptr ptr);                        /* _v2 */
    CUresult (*MemGetInfo)(size_t *free_bytes, size_t *total);   /* _v2 */
    CUresult (*MemcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes); /* _v2 */
    CUresult (*MemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes);       /* _v2 */
    CUresult (*MemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream s); /* _v2 */
    CUresult (*MemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream s);       /* _v2 */
    CUresult (*StreamCreate)(CUstream *s, unsigned flags);
    CUresult (*StreamDestroy)(CUstream s);                       /* _v2 */
    CUresult (*StreamSynchronize)(CUstream s);
    CUresult (*StreamBeginCapture)(CUstream s, int mode);        /* _v2 */
    CUresult (*StreamEndCapture)(CUstream s, CUgraph *graph);
    CUresult (*GraphInstantiateWithFlags)(CUgraphExec *exec, CUgraph graph, unsigned long long flags);
    CUresult (*GraphLaunch)(CUgraphExec exec, CUstream s);
    CUresult (*GraphExecDestroy)(CUgraphExec exec);
    CUresult (*GraphDestroy)(CUgraph graph);
} cu_api;

extern cu_api cu;

/* Loads libcuda.so.1 and calls cuInit(0). Returns the number of devices; 0 (no driver, or
 * no device) or -1 (a failure) with the reason in why. */
int cu_open(char *why, size_t why_size);

/* For programs that need a GPU: cu_open, and with fewer than `need` devices prints
 * "skip: <what> needs ..." and exits 77 (1 on a driver failure); then makes device 0's
 * primary context current. Returns the device count. */
int cu_open_or_skip(int need, const char *what);

/* The primary context of device `ordinal`, retained (exits on failure). */
CUcontext cu_primary(int ordinal);

/* "CUDA_ERROR_..." for a CUresult. */
const char *cu_error_name(CUresult r);

/* A failed driver call of the test itself: prints it and exits 1 (any thread). */
void cu_die(CUresult r, const char *call, const char *file, int line);
#define CU_OK(call)                                                  \
    do {                                                             \
        CUresult cu_r_ = (call);                                     \
        if (cu_r_ != 0) cu_die(cu_r_, #call, __FILE__, __LINE__);    \
    } while (0)

/* 1: dev_* below use 256-byte aligned host memory instead of the driver (runs without a
 * GPU, where tritium never dereferences a data pointer). Set before any dev_alloc. */
extern int dev_fake;

CUdeviceptr dev_alloc(size_t bytes);            /* exits on failure; bytes may be 0 */
void dev_free(CUdeviceptr p);
void dev_upload(CUdeviceptr dst, const void *src, size_t bytes, CUstream s);   /* async in s */
void dev_download(void *dst, CUdeviceptr src, size_t bytes, CUstream s);       /* waits for s */
void dev_sync(CUstream s);

/* A device pointer as the `void *` tritium takes. */
static inline void *dptr(CUdeviceptr p) { return (void *)(size_t)p; }

/* The process's resident set in bytes (/proc/self/statm), 0 if unknown. */
size_t rss_bytes(void);

#endif
