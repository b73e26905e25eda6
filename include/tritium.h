/*
 * tritium.h: Triton GPU kernels compiled ahead of time, behind a stable C ABI.
 *
 * Every entry point validates its arguments, returns a tritium_status and never prints,
 * exits, allocates or synchronizes. Device pointers are plain `void *` (CUdeviceptr
 * values); the stream is the last argument, as a `struct CUstream_st *`, which is both
 * CUDA's CUstream and cudaStream_t (NULL is the legacy default stream). The kernel runs
 * in the context that owns the stream (the current context for NULL). Nothing here needs
 * a CUDA header; at run time the library needs only the NVIDIA driver.
 *
 * Sizes and strides are in elements, not bytes. Scratch memory, where an entry point needs
 * it, comes from the caller: query its size first (the cuBLASLt pattern).
 */
#ifndef TRITIUM_H
#define TRITIUM_H

#include <stddef.h>
#include <stdint.h>

/* ====================================================================================
 *  Version
 * ==================================================================================== */
#define TRITIUM_VERSION_MAJOR 0
#define TRITIUM_VERSION_MINOR 1
#define TRITIUM_VERSION_PATCH 0
#define TRITIUM_VERSION_NUMBER \
    (TRITIUM_VERSION_MAJOR * 10000 + TRITIUM_VERSION_MINOR * 100 + TRITIUM_VERSION_PATCH)
#define TRITIUM_VERSION_STRING "0.1.0"

/* ====================================================================================
 *  Export and linkage
 * ==================================================================================== */
#if defined(TRITIUM_STATIC)
#  define TRITIUM_API
#elif defined(_WIN32)
#  if defined(TRITIUM_BUILDING)
#    define TRITIUM_API __declspec(dllexport)
#  else
#    define TRITIUM_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define TRITIUM_API __attribute__((visibility("default")))
#else
#  define TRITIUM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct CUstream_st; /* CUstream / cudaStream_t */

/* ====================================================================================
 *  Status codes: values are pinned; grouped by range.
 * ==================================================================================== */
typedef enum tritium_status {
    TRITIUM_SUCCESS = 0,

    /* 100-199: the call's arguments (nothing was launched or written) */
    TRITIUM_ERROR_INVALID_VALUE = 100,      /* a value outside its domain (NaN, p <= 0, ...) */
    TRITIUM_ERROR_NULL_POINTER = 101,       /* a NULL pointer where data must be */
    TRITIUM_ERROR_INVALID_SIZE = 102,       /* a negative or mismatched size */
    TRITIUM_ERROR_INVALID_STRIDE = 103,     /* a negative stride, or an output that overlaps itself */
    TRITIUM_ERROR_INVALID_ENUM = 104,       /* an unknown dtype, reduction or precision */
    TRITIUM_ERROR_OVERFLOW = 105,           /* an extent whose element or byte count overflows */
    TRITIUM_ERROR_WORKSPACE_TOO_SMALL = 106,/* workspace smaller than the size query asked for */
    TRITIUM_ERROR_NOT_SUPPORTED = 107,      /* a valid combination this build does not implement */
    TRITIUM_ERROR_MISALIGNED = 108,         /* a pointer not aligned to its element size */

    /* 200-299: the driver and the device */
    TRITIUM_ERROR_NO_DRIVER = 200,          /* libcuda.so.1 could not be loaded */
    TRITIUM_ERROR_DRIVER_TOO_OLD = 201,     /* the driver lacks an entry point tritium needs */
    TRITIUM_ERROR_NO_DEVICE = 202,          /* the driver sees no CUDA device */
    TRITIUM_ERROR_NO_CONTEXT = 203,         /* no current context and a NULL stream */
    TRITIUM_ERROR_DRIVER = 204,             /* a driver call failed: tritium_last_error() names it */

    /* 300-399: kernel images */
    TRITIUM_ERROR_NO_KERNEL_IMAGE = 300,    /* no cubin or PTX in this build runs on the device */
    TRITIUM_ERROR_IMAGE_LOAD = 301,         /* the driver refused an image (e.g. PTX JIT failed) */

    /* 400-499: launches */
    TRITIUM_ERROR_LAUNCH = 400,             /* cuLaunchKernel failed */

    TRITIUM_ERROR_INTERNAL = 900
} tritium_status;

/* Element types. */
typedef enum tritium_dtype {
    TRITIUM_FLOAT32 = 0,
    TRITIUM_FLOAT16 = 1,
    TRITIUM_BFLOAT16 = 2
} tritium_dtype;

/* Reductions, as torch.nn.functional's `reduction`. */
typedef enum tritium_reduction {
    TRITIUM_REDUCTION_NONE = 0,
    TRITIUM_REDUCTION_MEAN = 1,
    TRITIUM_REDUCTION_SUM = 2
} tritium_reduction;

/* fp32 matrix-product precision, as torch.get_float32_matmul_precision(). */
typedef enum tritium_precision {
    TRITIUM_PRECISION_HIGHEST = 0,  /* fp32-level accuracy */
    TRITIUM_PRECISION_HIGH = 1      /* TF32 tensor cores, operands rounded to nearest */
} tritium_precision;

/* ====================================================================================
 *  Library
 * ==================================================================================== */

/*! tritium_version() : the library's version as TRITIUM_VERSION_NUMBER, so a caller can
 *  compare it with the header it was compiled against. */
TRITIUM_API unsigned tritium_version(void);

/*! tritium_version_string() : e.g. "0.1.0". */
TRITIUM_API const char *tritium_version_string(void);

/*! tritium_status_string() : a static English description of a status; never NULL. */
TRITIUM_API const char *tritium_status_string(tritium_status status);

/*! tritium_last_error() : detail on the calling thread's last failed call (which argument,
 *  which driver call and CUresult); "" if the last call succeeded. Valid until the
 *  thread's next tritium call. */
TRITIUM_API const char *tritium_last_error(void);

/*! tritium_shipped_archs() : the archs this build carries images for, e.g.
 *  "sm_80 sm_86 sm_89 sm_90 sm_120" (PTX for the newest plain one). */
TRITIUM_API const char *tritium_shipped_archs(void);

/*! tritium_device_info() : probe device `ordinal`: its name, compute capability and, per
 *  kernel, which image this build would load there, e.g. "matmul: cubin sm_90a (6 cubin,
 *  0 ptx, 0 none); ..." or "ptx compute_89 JIT" (truncated to image_size). The probe loads
 *  nothing onto the device.
 *  @return TRITIUM_SUCCESS, or NO_DRIVER / NO_DEVICE / INVALID_VALUE / NO_KERNEL_IMAGE. */
TRITIUM_API tritium_status tritium_device_info(int ordinal, int *major, int *minor,
                                               char *name, size_t name_size,
                                               char *image, size_t image_size);

/*! tritium_device_count() : number of CUDA devices the driver sees (0 when there is no
 *  driver or no device; the status says which). */
TRITIUM_API tritium_status tritium_device_count(int *count);

/* ====================================================================================
 *  Triplet margin loss (torch.nn.functional.triplet_margin_loss)
 *
 *  For each of n rows of d elements (row i of x at x + i * stride_x):
 *      dist(x, y) = || x - y + eps ||_p
 *      loss_i     = max(margin + dist(a, p) - dist_neg, 0),
 *      dist_neg   = swap ? min(dist(a, n), dist(p, n)) : dist(a, n)
 *  p > 0 (INFINITY allowed). Accumulation is fp32 for every dtype.
 *  reduction NONE writes n values to `out`; MEAN and SUM write one value, computed in a
 *  fixed order (the same bits run after run); MEAN of n = 0 rows is NaN, as in PyTorch.
 *  The backward gives the gradients PyTorch's autograd gives (including its conventions
 *  at zero distances, at the hinge's corner, and for ties of the swap and of p = inf).
 * ==================================================================================== */

/*! tritium_triplet_margin_loss_workspace_size() : bytes of workspace the forward needs for
 *  these sizes and this reduction (often 0). */
TRITIUM_API tritium_status tritium_triplet_margin_loss_workspace_size(
    int64_t n, int64_t d, tritium_reduction reduction, size_t *bytes);

/*! tritium_triplet_margin_loss_saved_size() : bytes of the forward's optional `saved`
 *  output for n rows and this p (12 bytes per row, 24 for p = INFINITY). */
TRITIUM_API tritium_status tritium_triplet_margin_loss_saved_size(int64_t n, float p, size_t *bytes);

/*! tritium_triplet_margin_loss() : the forward loss.
 *  @param anchor, positive, negative  device pointers, n rows of d elements of `dtype`
 *  @param stride_*                    row strides in elements (>= 0; rows may repeat)
 *  @param out                         n elements (NONE) or 1 element, of `dtype`
 *  @param saved                       NULL, or the saved-size query's bytes (4-byte aligned):
 *                                     per-row values for tritium_triplet_margin_loss_backward
 *  @param workspace, workspace_bytes  at least the size query's bytes (may be NULL if 0)
 *  @return SUCCESS, an argument error (1xx), a driver error (2xx), NO_KERNEL_IMAGE,
 *          IMAGE_LOAD or LAUNCH. On an error nothing is launched or written. */
TRITIUM_API tritium_status tritium_triplet_margin_loss(
    tritium_dtype dtype, int64_t n, int64_t d,
    const void *anchor, int64_t stride_anchor,
    const void *positive, int64_t stride_positive,
    const void *negative, int64_t stride_negative,
    float margin, float p, float eps, int swap, tritium_reduction reduction,
    void *out, void *saved, void *workspace, size_t workspace_bytes, struct CUstream_st *stream);

/*! tritium_triplet_margin_loss_backward() : gradients of the loss w.r.t. the three inputs,
 *  in one pass over them.
 *  @param dtype ... reduction         as given to the forward (margin is folded into saved)
 *  @param grad_out, stride_grad_out   upstream gradient of `dtype`: n elements with this
 *                                     stride (NONE) or one element (MEAN, SUM)
 *  @param saved                       what the forward wrote to its `saved` output
 *  @param grad_*, stride_grad_*       n rows of d elements of `dtype` (rows must not
 *                                     overlap); a NULL grad_* is skipped
 *  @return as the forward; on an error nothing is launched or written. */
TRITIUM_API tritium_status tritium_triplet_margin_loss_backward(
    tritium_dtype dtype, int64_t n, int64_t d,
    const void *anchor, int64_t stride_anchor,
    const void *positive, int64_t stride_positive,
    const void *negative, int64_t stride_negative,
    float p, float eps, int swap, tritium_reduction reduction,
    const void *grad_out, int64_t stride_grad_out, const void *saved,
    void *grad_anchor, int64_t stride_grad_anchor,
    void *grad_positive, int64_t stride_grad_positive,
    void *grad_negative, int64_t stride_grad_negative,
    struct CUstream_st *stream);

/* ====================================================================================
 *  Matrix product C = A @ B
 *
 *  A is m x k, B is k x n, C is m x n; element (i, j) of X is at X + i * row_stride +
 *  j * col_stride (so a transposed view is just swapped strides; no copy is made).
 *  Inputs may have zero strides (broadcast); C must not overlap itself nor A or B.
 *  fp32 follows `precision`; fp16 and bf16 accumulate in fp32 and ignore it.
 *  k = 0 writes zeros; m = 0 or n = 0 does nothing.
 * ==================================================================================== */

/*! tritium_matmul_workspace_size() : bytes of workspace the fastest path for this problem
 *  can use on any device (0 if it needs none): room to pack both operands into aligned
 *  K-major tiles (TF32-rounded, or split in three for 3xTF32 at 'highest'), and fp32
 *  partial products where K is cut into ranges. A smaller workspace is never an error: the
 *  call then takes a path that needs less, down to one that needs none. The workspace
 *  must be 256-byte aligned (cudaMalloc's and PyTorch's allocations are) and must not
 *  overlap a, b or c. */
TRITIUM_API tritium_status tritium_matmul_workspace_size(
    tritium_dtype dtype, tritium_precision precision, int64_t m, int64_t n, int64_t k,
    size_t *bytes);

/*! tritium_matmul_force_config() : for tuning tools (`python -m tritium tune`) only.
 *  Until called again with path 0, this thread's matmul calls (and workspace queries) use
 *  one shipped config instead of the tuning table's choice: path 1 = direct, 2 = packed,
 *  3 = streamed (fp32: the skinny side packed, the other operand read in place), 4 = gemv
 *  (M = 1 or N = 1 only: the matrix read in place, times the vector);
 *  config = {block_m, block_n, block_k, group_m, num_warps, num_stages} as the build's
 *  manifest.json lists them; split >= 1 cuts K into that many ranges. A call whose config
 *  is not shipped for its device, dtype and layout then fails with NOT_SUPPORTED, one with
 *  too small a workspace with WORKSPACE_TOO_SMALL. */
TRITIUM_API tritium_status tritium_matmul_force_config(int path, const int32_t *config, int32_t split);

/*! tritium_matmul() : C = A @ B.
 *  @return SUCCESS, an argument error (1xx), a driver error (2xx), NO_KERNEL_IMAGE,
 *          IMAGE_LOAD or LAUNCH. On an error nothing is launched or written. */
TRITIUM_API tritium_status tritium_matmul(
    tritium_dtype dtype, tritium_precision precision,
    int64_t m, int64_t n, int64_t k,
    const void *a, int64_t stride_am, int64_t stride_ak,
    const void *b, int64_t stride_bk, int64_t stride_bn,
    void *c, int64_t stride_cm, int64_t stride_cn,
    void *workspace, size_t workspace_bytes, struct CUstream_st *stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TRITIUM_H */
