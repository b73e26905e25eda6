/* Internal interfaces of the C runtime: errors, the dlopen'ed driver, image loading. */
#ifndef TRITIUM_INTERNAL_H
#define TRITIUM_INTERNAL_H

#include <cuda.h> /* types and constants only: from the triton wheel, never linked */
#include <stdint.h>

#include "registry.h"
#include "tritium.h"

#if defined(__GNUC__)
#  define TRITIUM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define TRITIUM_PRINTF(f, a)
#endif

/* ---- errors (error.c) -------------------------------------------------------------- */

/* Clears the calling thread's detail message; every entry point starts with it. */
void tritium_clear_error(void);
/* Records a detail message for `status` and returns `status`. */
tritium_status tritium_fail(tritium_status status, const char *fmt, ...) TRITIUM_PRINTF(2, 3);
/* A failed driver call: the message names the call and its CUresult. */
tritium_status tritium_fail_driver(tritium_status status, const char *call, CUresult r);

/* ---- the driver (driver.c) --------------------------------------------------------- */

typedef struct tritium_driver {
    CUresult (*Init)(unsigned);
    CUresult (*DriverGetVersion)(int *);
    CUresult (*DeviceGetCount)(int *);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DeviceGetAttribute)(int *, CUdevice_attribute, CUdevice);
    CUresult (*DeviceGetName)(char *, int, CUdevice);
    CUresult (*CtxGetCurrent)(CUcontext *);
    CUresult (*CtxGetDevice)(CUdevice *);
    CUresult (*CtxPushCurrent)(CUcontext);
    CUresult (*CtxPopCurrent)(CUcontext *);
    CUresult (*StreamGetCtx)(CUstream, CUcontext *);
    CUresult (*PointerGetAttribute)(void *, CUpointer_attribute, CUdeviceptr);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*DevicePrimaryCtxRelease)(CUdevice);
    CUresult (*LibraryLoadData)(CUlibrary *, const void *, CUjit_option *, void **, unsigned,
                                CUlibraryOption *, void **, unsigned);
    CUresult (*LibraryGetKernel)(CUkernel *, CUlibrary, const char *);
    CUresult (*KernelSetAttribute)(CUfunction_attribute, int, CUkernel, CUdevice);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void **, void **);
    /* NULL if the driver lacks it (then PDL images launch plainly: their wait is a no-op) */
    CUresult (*LaunchKernelEx)(const CUlaunchConfig *, CUfunction, void **, void **);
    CUresult (*GetErrorName)(CUresult, const char **);
} tritium_driver;

/* Loads libcuda.so.1 and calls cuInit once per process; afterwards returns the same
 * status and, on success, the function table. Thread-safe. */
tritium_status tritium_driver_get(const tritium_driver **drv);

/* ---- devices, images and launches (loader.c) --------------------------------------- */

#define TRITIUM_MAX_DEVICES 64

/* A call's place: the context owning its stream, pushed current for the call. */
typedef struct tritium_call {
    const tritium_driver *drv;
    CUstream stream;
    CUcontext ctx;
    CUdevice dev;
    int arch;          /* major * 10 + minor */
    int max_shared;    /* opt-in shared memory per block, bytes */
    int pushed;
} tritium_call;

/* Resolves the stream's context and device and makes the context current for the call.
 * A NULL stream means the legacy stream of the current context; where the thread has
 * none (a fresh thread, e.g. PyTorch's autograd workers), the primary context of the
 * device holding `data` (any of the call's device pointers, or NULL) is used. */
tritium_status tritium_call_begin(tritium_call *call, struct CUstream_st *stream, const void *data);
/* Restores the caller's current context. */
void tritium_call_end(tritium_call *call);

/* Index into tritium_images of the image `variant` would use on a device of this arch and
 * shared-memory limit, honouring TRITIUM_FORCE_PTX / TRITIUM_FORCE_ARCH; -1 if none. */
int tritium_select_image(int variant, int arch, int max_shared);
/* TRITIUM_FORCE_ARCH's arch, or 0. */
int tritium_forced_arch(void);

/* Launches `variant` on a grid_x x grid_y grid with the kernel's arguments in `args` (the
 * two trailing scratch pointers Triton adds are appended here). Loads the image on first use. */
tritium_status tritium_launch(const tritium_call *call, int variant, unsigned grid_x, unsigned grid_y, void **args,
                              int nargs);

/* ---- argument checks (validate.c) -------------------------------------------------- */

size_t tritium_dtype_size(tritium_dtype dtype); /* 0 for an unknown dtype */

/* Elements per 16 bytes (4 fp32, 8 fp16/bf16): the aligned variants' promise is 16-byte
 * aligned pointers and sizes and strides that are multiples of this (aot/manifest.py,
 * ALIGN_ELEMS), the most a 16-byte vector load of a row needs. */
int64_t tritium_align_elems(tritium_dtype dtype);

/* Byte span [lo, hi) touched by a strided 2-D array of rows x cols elements; 0 on success,
 * or OVERFLOW with a message naming `what`. An empty array has hi == lo. */
tritium_status tritium_span_2d(const char *what, const void *base, int64_t rows, int64_t cols,
                               int64_t row_stride, int64_t col_stride, size_t elem,
                               uintptr_t *lo, uintptr_t *hi);

/* 1 when two non-empty byte spans intersect. */
int tritium_spans_overlap(uintptr_t lo1, uintptr_t hi1, uintptr_t lo2, uintptr_t hi2);

/* 1 when a rows x cols array with these element strides holds some element at two
 * (i, j), so that writing it would race. */
int tritium_self_overlapping(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride);

#endif
