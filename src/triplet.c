/* tritium_triplet_margin_loss: checks, variant choice, launches.
 * Kernels: python/tritium/kernels/triplet.py (_triplet_fwd_kernel, _triplet_reduce_kernel). */
#include <math.h>
#include <string.h>

#include "internal.h"

static int is_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

TRITIUM_API tritium_status tritium_triplet_margin_loss_workspace_size(int64_t n, int64_t d,
                                                                       tritium_reduction reduction,
                                                                       size_t *bytes) {
    tritium_clear_error();
    if (!bytes) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "bytes is NULL");
    if (reduction != TRITIUM_REDUCTION_NONE && reduction != TRITIUM_REDUCTION_MEAN &&
        reduction != TRITIUM_REDUCTION_SUM)
        return tritium_fail(TRITIUM_ERROR_INVALID_ENUM, "reduction: unknown value %d", (int)reduction);
    if (n < 0 || d < 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_SIZE, "n and d must be >= 0 (got n=%lld, d=%lld)",
                            (long long)n, (long long)d);
    if (n > INT32_MAX || d > INT32_MAX)
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "n and d must be < 2^31 (got n=%lld, d=%lld)",
                            (long long)n, (long long)d);
    /* one fp32 partial per program; programs hold >= 1 row */
    *bytes = reduction == TRITIUM_REDUCTION_NONE ? 0 : (size_t)n * sizeof(float);
    return TRITIUM_SUCCESS;
}

/* The row-kernel variant for this call: matching dtype, norm and alignment, and the
 * widest BLOCK_D not wider than D needs (rounded up to a power of two). */
static int pick_forward(tritium_dtype dtype, int p_mode, int aligned, int64_t d) {
    int64_t want = 1;
    while (want < d) want <<= 1;
    int best = -1;
    int32_t best_block = 0;
    for (int pass = aligned ? 0 : 1; pass < 2 && best < 0; ++pass) {
        int al = pass == 0;
        for (int i = 0; i < TRITIUM_VARIANT_COUNT; ++i) {
            const tritium_variant *v = &tritium_variants[i];
            if (v->kernel != TRITIUM_K_TRIPLET_FWD || v->dtype != dtype || v->aligned != al ||
                v->params[TRITIUM_P_TRIPLET_FWD_P_MODE] != p_mode)
                continue;
            int32_t block = v->params[TRITIUM_P_TRIPLET_FWD_BLOCK_D];
            /* prefer the widest block <= want; if none is that narrow, the narrowest */
            int better = best < 0 || (block <= want ? (best_block > want || block > best_block)
                                                   : (best_block > want && block < best_block));
            if (better) { best = i; best_block = block; }
        }
    }
    return best;
}

static int pick_reduce(tritium_dtype dtype) {
    for (int i = 0; i < TRITIUM_VARIANT_COUNT; ++i)
        if (tritium_variants[i].kernel == TRITIUM_K_TRIPLET_REDUCE && tritium_variants[i].dtype == dtype) return i;
    return -1;
}

TRITIUM_API tritium_status tritium_triplet_margin_loss(
    tritium_dtype dtype, int64_t n, int64_t d,
    const void *anchor, int64_t stride_anchor,
    const void *positive, int64_t stride_positive,
    const void *negative, int64_t stride_negative,
    float margin, float p, float eps, int swap, tritium_reduction reduction,
    void *out, void *workspace, size_t workspace_bytes, struct CUstream_st *stream) {
    size_t need;
    tritium_status s = tritium_triplet_margin_loss_workspace_size(n, d, reduction, &need);
    if (s != TRITIUM_SUCCESS) return s;
    size_t elem = tritium_dtype_size(dtype);
    if (!elem) return tritium_fail(TRITIUM_ERROR_INVALID_ENUM, "dtype: unknown value %d", (int)dtype);
    if (stride_anchor < 0 || stride_positive < 0 || stride_negative < 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_STRIDE, "row strides must be >= 0 (anchor %lld, positive %lld, "
                            "negative %lld)", (long long)stride_anchor, (long long)stride_positive,
                            (long long)stride_negative);
    if (!(p > 0.0f)) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "p must be > 0 (got %g)", (double)p);
    if (isinf(p) && d == 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_SIZE, "d = 0 with p = inf: the max-norm of an empty row is "
                            "undefined (PyTorch raises too)");
    if (!isfinite(margin)) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "margin must be finite");
    if (!isfinite(eps)) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "eps must be finite");
    if (swap != 0 && swap != 1) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "swap must be 0 or 1 (got %d)", swap);

    const int reduce = reduction != TRITIUM_REDUCTION_NONE;
    const int64_t out_count = reduce ? 1 : n;
    const void *inputs[3] = {anchor, positive, negative};
    const int64_t strides[3] = {stride_anchor, stride_positive, stride_negative};
    static const char *const names[3] = {"anchor", "positive", "negative"};
    uintptr_t lo[5], hi[5];
    for (int i = 0; i < 3; ++i) {
        if (n * d > 0 && !inputs[i]) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "%s is NULL", names[i]);
        if ((uintptr_t)inputs[i] % elem)
            return tritium_fail(TRITIUM_ERROR_MISALIGNED, "%s is not aligned to its %zu-byte elements", names[i], elem);
        if ((s = tritium_span_2d(names[i], inputs[i], n, d, strides[i], 1, elem, &lo[i], &hi[i]))) return s;
    }
    if (out_count > 0 && !out) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "out is NULL");
    if ((uintptr_t)out % elem)
        return tritium_fail(TRITIUM_ERROR_MISALIGNED, "out is not aligned to its %zu-byte elements", elem);
    if ((s = tritium_span_2d("out", out, out_count, 1, 1, 1, elem, &lo[3], &hi[3]))) return s;
    if (workspace_bytes < need)
        return tritium_fail(TRITIUM_ERROR_WORKSPACE_TOO_SMALL, "workspace: %zu bytes given, %zu needed",
                            workspace_bytes, need);
    if (need && !workspace) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "workspace is NULL");
    if (need && (uintptr_t)workspace % 4)
        return tritium_fail(TRITIUM_ERROR_MISALIGNED, "workspace is not 4-byte aligned");
    lo[4] = (uintptr_t)workspace;
    hi[4] = lo[4] + need;
    for (int i = 0; i < 3; ++i)
        if (tritium_spans_overlap(lo[3], hi[3], lo[i], hi[i]) || tritium_spans_overlap(lo[4], hi[4], lo[i], hi[i]))
            return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "out or workspace overlaps %s", names[i]);
    if (tritium_spans_overlap(lo[3], hi[3], lo[4], hi[4]))
        return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "out overlaps workspace");
    if (out_count == 0) return TRITIUM_SUCCESS; /* reduction 'none' of zero rows */

    /* variants */
    const int p_mode = p == 2.0f ? 2 : p == 1.0f ? 1 : isinf(p) ? 3 : 0;
    /* a single row's stride is never used: pass 0, which keeps it 16-divisible */
    int64_t st[3];
    int aligned = d % 16 == 0;
    for (int i = 0; i < 3; ++i) {
        st[i] = n > 1 ? strides[i] : 0;
        aligned = aligned && st[i] % 16 == 0 && is_aligned16(inputs[i]);
    }
    int fwd = n > 0 ? pick_forward(dtype, p_mode, aligned, d) : -1;
    int red = reduce ? pick_reduce(dtype) : -1;
    if ((n > 0 && fwd < 0) || (reduce && red < 0))
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "this build has no triplet kernel for dtype %d, p %g",
                            (int)dtype, (double)p);

    tritium_call call;
    if ((s = tritium_call_begin(&call, stream))) return s;
    int32_t rows = fwd >= 0 ? tritium_variants[fwd].params[TRITIUM_P_TRIPLET_FWD_ROWS] : 1;
    unsigned grid = (unsigned)((n + rows - 1) / rows);
    if (n > 0) {
        /* _triplet_fwd_kernel(a_ptr, p_ptr, n_ptr, out_ptr, partial_ptr, N, D, stride_a, stride_p,
         *                     stride_n, margin, norm_p, inv_p, eps, swap, reduce, P_MODE, ROWS, BLOCK_D) */
        CUdeviceptr a_ = (CUdeviceptr)anchor, p_ = (CUdeviceptr)positive, n_ = (CUdeviceptr)negative;
        CUdeviceptr o_ = (CUdeviceptr)out, w_ = (CUdeviceptr)workspace;
        int32_t n32 = (int32_t)n, d32 = (int32_t)d, swap32 = swap, reduce32 = reduce;
        float norm_p = p, inv_p = 1.0f / p;
        void *args[] = {&a_, &p_, &n_, &o_, &w_, &n32, &d32, &st[0], &st[1], &st[2],
                        &margin, &norm_p, &inv_p, &eps, &swap32, &reduce32};
        s = tritium_launch(&call, fwd, grid, args, (int)(sizeof args / sizeof args[0]));
    }
    if (s == TRITIUM_SUCCESS && reduce) {
        /* _triplet_reduce_kernel(partial_ptr, out_ptr, count, divisor, BLOCK) */
        CUdeviceptr w_ = (CUdeviceptr)workspace, o_ = (CUdeviceptr)out;
        int32_t count = n > 0 ? (int32_t)grid : 0;
        float divisor = reduction == TRITIUM_REDUCTION_MEAN ? (float)n : 1.0f;
        void *args[] = {&w_, &o_, &count, &divisor};
        s = tritium_launch(&call, red, 1, args, 4);
    }
    tritium_call_end(&call);
    return s;
}
