/* tritium_matmul: checks, variant choice, launch.
 * Kernel: python/tritium/kernels/matmul.py (_matmul_kernel). */
#include "internal.h"

TRITIUM_API tritium_status tritium_matmul_workspace_size(tritium_dtype dtype, tritium_precision precision,
                                                         int64_t m, int64_t n, int64_t k, size_t *bytes) {
    tritium_clear_error();
    if (!bytes) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "bytes is NULL");
    if (!tritium_dtype_size(dtype)) return tritium_fail(TRITIUM_ERROR_INVALID_ENUM, "dtype: unknown value %d", (int)dtype);
    if (precision != TRITIUM_PRECISION_HIGHEST && precision != TRITIUM_PRECISION_HIGH)
        return tritium_fail(TRITIUM_ERROR_INVALID_ENUM, "precision: unknown value %d", (int)precision);
    if (m < 0 || n < 0 || k < 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_SIZE, "m, n and k must be >= 0 (got %lld, %lld, %lld)",
                            (long long)m, (long long)n, (long long)k);
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "m, n and k must be < 2^31 (got %lld, %lld, %lld)",
                            (long long)m, (long long)n, (long long)k);
    *bytes = 0; /* every path of this build works in place */
    return TRITIUM_SUCCESS;
}

static int pick(tritium_dtype dtype, int precision, int a_k1, int b_n1, int aligned) {
    for (int i = 0; i < TRITIUM_VARIANT_COUNT; ++i) {
        const tritium_variant *v = &tritium_variants[i];
        if (v->kernel == TRITIUM_K_MATMUL && v->dtype == dtype && v->aligned == aligned &&
            v->params[TRITIUM_P_MATMUL_PRECISION] == precision && v->params[TRITIUM_P_MATMUL_A_K1] == a_k1 &&
            v->params[TRITIUM_P_MATMUL_B_N1] == b_n1)
            return i;
    }
    return -1;
}

TRITIUM_API tritium_status tritium_matmul(tritium_dtype dtype, tritium_precision precision,
                                          int64_t m, int64_t n, int64_t k,
                                          const void *a, int64_t stride_am, int64_t stride_ak,
                                          const void *b, int64_t stride_bk, int64_t stride_bn,
                                          void *c, int64_t stride_cm, int64_t stride_cn,
                                          void *workspace, size_t workspace_bytes, struct CUstream_st *stream) {
    size_t need;
    tritium_status s = tritium_matmul_workspace_size(dtype, precision, m, n, k, &need);
    if (s != TRITIUM_SUCCESS) return s;
    (void)workspace;
    (void)workspace_bytes; /* any size is accepted; none is needed by this build's paths */
    size_t elem = tritium_dtype_size(dtype);
    if (stride_am < 0 || stride_ak < 0 || stride_bk < 0 || stride_bn < 0 || stride_cm < 0 || stride_cn < 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_STRIDE, "strides must be >= 0 (a %lld,%lld b %lld,%lld c %lld,%lld)",
                            (long long)stride_am, (long long)stride_ak, (long long)stride_bk, (long long)stride_bn,
                            (long long)stride_cm, (long long)stride_cn);
    if (m * k > 0 && !a) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "a is NULL");
    if (k * n > 0 && !b) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "b is NULL");
    if (m * n > 0 && !c) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "c is NULL");
    if ((uintptr_t)a % elem || (uintptr_t)b % elem || (uintptr_t)c % elem)
        return tritium_fail(TRITIUM_ERROR_MISALIGNED, "%s is not aligned to its %zu-byte elements",
                            (uintptr_t)a % elem ? "a" : (uintptr_t)b % elem ? "b" : "c", elem);
    uintptr_t alo, ahi, blo, bhi, clo, chi;
    if ((s = tritium_span_2d("a", a, m, k, stride_am, stride_ak, elem, &alo, &ahi)) ||
        (s = tritium_span_2d("b", b, k, n, stride_bk, stride_bn, elem, &blo, &bhi)) ||
        (s = tritium_span_2d("c", c, m, n, stride_cm, stride_cn, elem, &clo, &chi)))
        return s;
    if (tritium_self_overlapping(m, n, stride_cm, stride_cn))
        return tritium_fail(TRITIUM_ERROR_INVALID_STRIDE, "c: strides (%lld, %lld) make elements of a %lld x %lld "
                            "output overlap", (long long)stride_cm, (long long)stride_cn, (long long)m, (long long)n);
    if (tritium_spans_overlap(clo, chi, alo, ahi) || tritium_spans_overlap(clo, chi, blo, bhi))
        return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "c overlaps %s", tritium_spans_overlap(clo, chi, alo, ahi) ? "a" : "b");
    if (m == 0 || n == 0) return TRITIUM_SUCCESS;

    /* strides of extent-1 dims are never used: normalize them so that specializations apply */
    int64_t sam = m > 1 ? stride_am : 0, sak = k > 1 ? stride_ak : 1;
    int64_t sbk = k > 1 ? stride_bk : 0, sbn = n > 1 ? stride_bn : 1;
    int64_t scm = m > 1 ? stride_cm : 0, scn = n > 1 ? stride_cn : 1;
    int prec = dtype == TRITIUM_FLOAT32 ? (int)precision : 0;
    int unit = sak == 1 && sbn == 1;
    int aligned = unit && ((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) % 16 == 0 && m % 16 == 0 &&
                  n % 16 == 0 && k % 16 == 0 && sam % 16 == 0 && sbk % 16 == 0 && scm % 16 == 0;
    int v = pick(dtype, prec, unit, unit, aligned);
    if (v < 0 && aligned) v = pick(dtype, prec, unit, unit, 0);
    if (v < 0) v = pick(dtype, prec, 0, 0, 0);
    if (v < 0) return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "this build has no matmul kernel for dtype %d", (int)dtype);
    const tritium_variant *var = &tritium_variants[v];
    int64_t bm = var->params[TRITIUM_P_MATMUL_BLOCK_M], bn = var->params[TRITIUM_P_MATMUL_BLOCK_N];
    int64_t grid = ((m + bm - 1) / bm) * ((n + bn - 1) / bn);
    if (grid > INT32_MAX)
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "%lld x %lld output needs %lld tiles, more than a grid holds",
                            (long long)m, (long long)n, (long long)grid);

    tritium_call call;
    if ((s = tritium_call_begin(&call, stream, a))) return s;
    /* _matmul_kernel(a_ptr, b_ptr, c_ptr, M, N, K, stride_am, stride_ak, stride_bk, stride_bn,
     *                stride_cm, stride_cn, PRECISION, A_K1, B_N1, BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M) */
    CUdeviceptr a_ = (CUdeviceptr)a, b_ = (CUdeviceptr)b, c_ = (CUdeviceptr)c;
    int32_t m32 = (int32_t)m, n32 = (int32_t)n, k32 = (int32_t)k;
    void *args[] = {&a_, &b_, &c_, &m32, &n32, &k32, &sam, &sak, &sbk, &sbn, &scm, &scn};
    s = tritium_launch(&call, v, (unsigned)grid, 1, args, 12);
    tritium_call_end(&call);
    return s;
}
