/* Per-device image choice, thread-safe lazy loading, and launches.
 *
 * Images are loaded with cuLibraryLoadData, whose CUlibrary/CUkernel handles are
 * context-independent: one load serves every device and context that picks the same
 * image, and the driver loads it into each context on first launch there. What is per
 * device is the choice of image (by arch and shared-memory limit) and the shared-memory
 * opt-in above 48 KB. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- environment overrides, read once ---------------------------------------------- */

static int force_ptx;   /* TRITIUM_FORCE_PTX=1: only PTX images */
static int force_arch;  /* TRITIUM_FORCE_ARCH=89 (or sm_89): only images built for that arch */
static int no_pdl;      /* TRITIUM_NO_PDL=1: launch every image plainly (their waits are no-ops then) */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void env_read(void) {
    const char *s = getenv("TRITIUM_FORCE_PTX");
    force_ptx = s && s[0] && strcmp(s, "0") != 0;
    s = getenv("TRITIUM_FORCE_ARCH");
    if (s && s[0]) {
        if (strncmp(s, "sm_", 3) == 0 || strncmp(s, "compute_", 8) == 0)
            s = strchr(s, '_') + 1;
        force_arch = atoi(s);
    }
    s = getenv("TRITIUM_NO_PDL");
    no_pdl = s && s[0] && strcmp(s, "0") != 0;
}

static int pdl_enabled(void) {
    pthread_once(&env_once, env_read);
    return !no_pdl;
}

/* ---- image choice ------------------------------------------------------------------ */

int tritium_forced_arch(void) {
    pthread_once(&env_once, env_read);
    return force_arch;
}

int tritium_select_image(int variant, int arch, int max_shared) {
    pthread_once(&env_once, env_read);
    const tritium_variant *v = &tritium_variants[variant];
    int best = -1, best_rank = 0;
    for (int i = v->first_image; i < v->first_image + v->image_count; ++i) {
        const tritium_image *img = &tritium_images[i];
        if ((int)img->shared > max_shared) continue;
        if (force_arch && img->arch != force_arch) continue;
        if (force_ptx && !img->is_ptx) continue;
        int rank; /* higher is better */
        if (!img->is_ptx) {
            if (img->arch == arch)
                rank = 3000;                        /* exact cubin */
            else if (img->arch < 90 && img->arch / 10 == arch / 10 && img->arch < arch)
                rank = 2000 + img->arch;            /* same major, lower minor (sm_90a+ are exact-only) */
            else
                continue;
        } else if (img->arch <= arch) {
            rank = 1000 + img->arch;                /* PTX, JIT-compiled by the driver */
        } else {
            continue;
        }
        if (rank > best_rank) { best = i; best_rank = rank; }
    }
    return best;
}

/* ---- devices ----------------------------------------------------------------------- */

typedef struct device_info {
    _Atomic int ready;
    int arch, max_shared;
} device_info;

static device_info devices[TRITIUM_MAX_DEVICES];
/* 1 once the >48 KB shared-memory opt-in is set for (device, image) */
static _Atomic unsigned char shared_opt_in[TRITIUM_MAX_DEVICES][TRITIUM_IMAGE_COUNT];

static tritium_status device_query(const tritium_driver *drv, CUdevice dev, device_info **out) {
    if (dev < 0 || dev >= TRITIUM_MAX_DEVICES)
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "device ordinal %d: tritium handles %d devices",
                            (int)dev, TRITIUM_MAX_DEVICES);
    device_info *d = &devices[dev];
    if (!atomic_load_explicit(&d->ready, memory_order_acquire)) {
        int major = 0, minor = 0, smem = 0;
        CUresult r;
        if ((r = drv->DeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev)) ||
            (r = drv->DeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev)) ||
            (r = drv->DeviceGetAttribute(&smem, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev)))
            return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuDeviceGetAttribute", r);
        /* racing threads compute the same values; the release store publishes them */
        d->arch = major * 10 + minor;
        d->max_shared = smem;
        atomic_store_explicit(&d->ready, 1, memory_order_release);
    }
    *out = d;
    return TRITIUM_SUCCESS;
}

/* ---- calls ------------------------------------------------------------------------- */

static _Atomic int primary_retained[TRITIUM_MAX_DEVICES];

tritium_status tritium_call_begin(tritium_call *call, struct CUstream_st *stream, const void *data) {
    memset(call, 0, sizeof *call);
    tritium_status s = tritium_driver_get(&call->drv);
    if (s != TRITIUM_SUCCESS) return s;
    const tritium_driver *drv = call->drv;
    call->stream = (CUstream)stream;
    CUcontext current = NULL;
    CUresult r = drv->CtxGetCurrent(&current);
    if (r != CUDA_SUCCESS) return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuCtxGetCurrent", r);
    if (stream) {
        r = drv->StreamGetCtx(call->stream, &call->ctx);
        if (r != CUDA_SUCCESS)
            return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuStreamGetCtx (stream)", r);
    } else {
        call->ctx = current;
    }
    int ordinal = -1;
    if (!call->ctx && data &&
        drv->PointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, (CUdeviceptr)data) == CUDA_SUCCESS &&
        ordinal >= 0) {
        CUdevice dev;
        if ((r = drv->DeviceGet(&dev, ordinal)) != CUDA_SUCCESS)
            return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuDeviceGet", r);
        if ((r = drv->DevicePrimaryCtxRetain(&call->ctx, dev)) != CUDA_SUCCESS)
            return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuDevicePrimaryCtxRetain", r);
        /* keep one reference per device for the process's life (released here, the last
         * reference could destroy the context under the work just queued) */
        if (ordinal < TRITIUM_MAX_DEVICES && atomic_exchange(&primary_retained[ordinal], 1))
            drv->DevicePrimaryCtxRelease(dev);
    }
    if (!call->ctx)
        return tritium_fail(TRITIUM_ERROR_NO_CONTEXT,
                            "stream is NULL and the calling thread has no current CUDA context");
    if (call->ctx != current) {
        r = drv->CtxPushCurrent(call->ctx);
        if (r != CUDA_SUCCESS) {
            tritium_call_end(call);
            return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuCtxPushCurrent", r);
        }
        call->pushed = 1;
    }
    r = drv->CtxGetDevice(&call->dev);
    if (r != CUDA_SUCCESS) {
        tritium_call_end(call);
        return tritium_fail_driver(TRITIUM_ERROR_DRIVER, "cuCtxGetDevice", r);
    }
    device_info *d = NULL;
    s = device_query(drv, call->dev, &d);
    if (s != TRITIUM_SUCCESS) {
        tritium_call_end(call);
        return s;
    }
    call->arch = d->arch;
    call->max_shared = d->max_shared;
    return TRITIUM_SUCCESS;
}

void tritium_call_end(tritium_call *call) {
    if (call->pushed) {
        CUcontext dummy;
        call->drv->CtxPopCurrent(&dummy);
        call->pushed = 0;
    }
}

/* ---- lazy loading ------------------------------------------------------------------ */

typedef struct loaded_image {
    _Atomic int ready;
    CUlibrary library;
    CUkernel kernel;
} loaded_image;

static loaded_image loaded[TRITIUM_IMAGE_COUNT];
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

static tritium_status image_kernel(const tritium_driver *drv, int variant, int image, CUkernel *out) {
    loaded_image *l = &loaded[image];
    if (!atomic_load_explicit(&l->ready, memory_order_acquire)) {
        tritium_status s = TRITIUM_SUCCESS;
        pthread_mutex_lock(&load_lock);
        if (!atomic_load_explicit(&l->ready, memory_order_relaxed)) {
            const tritium_image *img = &tritium_images[image];
            CUresult r = drv->LibraryLoadData(&l->library, img->data, NULL, NULL, 0, NULL, NULL, 0);
            if (r != CUDA_SUCCESS) {
                s = tritium_fail(TRITIUM_ERROR_IMAGE_LOAD, "cuLibraryLoadData (%s %s_%d of %s) failed: CUresult %d",
                                 img->is_ptx ? "PTX" : "cubin", img->is_ptx ? "compute" : "sm",
                                 img->arch, tritium_variants[variant].function, (int)r);
            } else if ((r = drv->LibraryGetKernel(&l->kernel, l->library, tritium_variants[variant].function))) {
                s = tritium_fail_driver(TRITIUM_ERROR_IMAGE_LOAD, "cuLibraryGetKernel", r);
            } else {
                atomic_store_explicit(&l->ready, 1, memory_order_release);
            }
        }
        pthread_mutex_unlock(&load_lock);
        if (s != TRITIUM_SUCCESS) return s;
    }
    *out = l->kernel;
    return TRITIUM_SUCCESS;
}

tritium_status tritium_launch(const tritium_call *call, int variant, unsigned grid_x, unsigned grid_y, void **args,
                              int nargs) {
    const tritium_driver *drv = call->drv;
    const tritium_variant *v = &tritium_variants[variant];
    int image = tritium_select_image(variant, call->arch, call->max_shared);
    if (image < 0)
        return tritium_fail(TRITIUM_ERROR_NO_KERNEL_IMAGE,
                            "no image of %s for sm_%d (%d bytes of shared memory per block); shipped: %s%s",
                            v->function, call->arch, call->max_shared, TRITIUM_SHIPPED_ARCHS,
                            getenv("TRITIUM_FORCE_ARCH") || getenv("TRITIUM_FORCE_PTX")
                                ? " (restricted by TRITIUM_FORCE_*)" : "");
    CUkernel kernel;
    tritium_status s = image_kernel(drv, variant, image, &kernel);
    if (s != TRITIUM_SUCCESS) return s;
    unsigned shared = tritium_images[image].shared;
    if (shared > 48 * 1024 && !atomic_load_explicit(&shared_opt_in[call->dev][image], memory_order_acquire)) {
        CUresult r = drv->KernelSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)shared,
                                             kernel, call->dev);
        if (r != CUDA_SUCCESS) return tritium_fail_driver(TRITIUM_ERROR_LAUNCH, "cuKernelSetAttribute", r);
        atomic_store_explicit(&shared_opt_in[call->dev][image], 1, memory_order_release);
    }
    /* Triton appends two scratch pointers (global, profile); the AOT step only ships
     * kernels that need neither, so both are null. */
    void *params[32];
    CUdeviceptr no_scratch = 0;
    if (nargs + 2 > (int)(sizeof params / sizeof params[0]))
        return tritium_fail(TRITIUM_ERROR_INTERNAL, "too many kernel arguments (%d)", nargs);
    for (int i = 0; i < nargs; ++i) params[i] = args[i];
    params[nargs] = &no_scratch;
    params[nargs + 1] = &no_scratch;
    CUresult r;
    if (tritium_images[image].pdl && drv->LaunchKernelEx && pdl_enabled()) {
        /* programmatic dependent launch: this kernel may start launching while the previous
         * one in the stream finishes; its first instruction waits for that one (see
         * _dependent_launch in the kernel sources) */
        CUlaunchAttribute attr;
        memset(&attr, 0, sizeof attr);
        attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
        attr.value.programmaticStreamSerializationAllowed = 1;
        CUlaunchConfig cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.gridDimX = grid_x, cfg.gridDimY = grid_y, cfg.gridDimZ = 1;
        cfg.blockDimX = 32u * v->num_warps, cfg.blockDimY = 1, cfg.blockDimZ = 1;
        cfg.sharedMemBytes = shared;
        cfg.hStream = call->stream;
        cfg.attrs = &attr;
        cfg.numAttrs = 1;
        r = drv->LaunchKernelEx(&cfg, (CUfunction)kernel, params, NULL);
        if (r != CUDA_SUCCESS) return tritium_fail_driver(TRITIUM_ERROR_LAUNCH, "cuLaunchKernelEx", r);
    } else {
        r = drv->LaunchKernel((CUfunction)kernel, grid_x, grid_y, 1, 32u * v->num_warps, 1, 1, shared, call->stream,
                              params, NULL);
        if (r != CUDA_SUCCESS) return tritium_fail_driver(TRITIUM_ERROR_LAUNCH, "cuLaunchKernel", r);
    }
    return TRITIUM_SUCCESS;
}
