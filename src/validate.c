/* Shared argument checks: element sizes, byte spans of strided arrays, overlap. */
#include "internal.h"

size_t tritium_dtype_size(tritium_dtype dtype) {
    switch (dtype) {
    case TRITIUM_FLOAT32: return 4;
    case TRITIUM_FLOAT16: return 2;
    case TRITIUM_BFLOAT16: return 2;
    }
    return 0;
}

int64_t tritium_align_elems(tritium_dtype dtype) {
    size_t elem = tritium_dtype_size(dtype);
    return elem ? (int64_t)(16 / elem) : 16;
}

tritium_status tritium_span_2d(const char *what, const void *base, int64_t rows, int64_t cols,
                               int64_t row_stride, int64_t col_stride, size_t elem,
                               uintptr_t *lo, uintptr_t *hi) {
    *lo = *hi = (uintptr_t)base;
    if (rows == 0 || cols == 0) return TRITIUM_SUCCESS;
    /* last element's offset, in elements, then in bytes, then the end address */
    int64_t a, b, last, bytes;
    uintptr_t end;
    if (__builtin_mul_overflow(rows - 1, row_stride, &a) || __builtin_mul_overflow(cols - 1, col_stride, &b) ||
        __builtin_add_overflow(a, b, &last) || __builtin_add_overflow(last, (int64_t)1, &last) ||
        __builtin_mul_overflow(last, (int64_t)elem, &bytes) ||
        __builtin_add_overflow((uintptr_t)base, (uintptr_t)bytes, &end))
        return tritium_fail(TRITIUM_ERROR_OVERFLOW, "%s: %lld x %lld elements with strides (%lld, %lld) "
                            "overflow the address space", what, (long long)rows, (long long)cols,
                            (long long)row_stride, (long long)col_stride);
    *hi = end;
    return TRITIUM_SUCCESS;
}

int tritium_spans_overlap(uintptr_t lo1, uintptr_t hi1, uintptr_t lo2, uintptr_t hi2) {
    return lo1 < hi1 && lo2 < hi2 && lo1 < hi2 && lo2 < hi1;
}

/* With dims sorted by stride, each stride must step past the whole span of the smaller
 * one. Extent-1 dims do not matter. */
int tritium_self_overlapping(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
    int64_t m = rows, n = cols, sm = row_stride, sn = col_stride;
    if (m <= 1 || n <= 1) return (m > 1 && sm == 0) || (n > 1 && sn == 0);
    int64_t s_small = sm < sn ? sm : sn, e_small = sm < sn ? m : n, s_big = sm < sn ? sn : sm;
    return s_small == 0 || s_big < s_small * (e_small - 1) + 1;
}
