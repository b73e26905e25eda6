/* tritium_triplet_margin_loss and its backward: checks, plan, variant choice, launches.
 * Kernels: python/tritium/kernels/triplet.py (_triplet_fwd_kernel, _triplet_finish_kernel,
 * _triplet_reduce_kernel, _triplet_bwd_kernel); their math is described there. */
#include <math.h>
#include <string.h>

#include "internal.h"

static const char *const names[3] = {"anchor", "positive", "negative"};

/* Alignment classes (bytes: 16, 8, 4, or 0 for none): the variants of class c assume
 * pointers, row strides and D that are multiples of c bytes, and load rows with c-byte
 * vectors (aot/manifest.py, TRIPLET_ALIGN_CLASSES). The widest class at most `cls` that
 * divides `bytes`. */
static int narrow_class(int cls, uint64_t bytes) {
    while (cls && bytes % (uint64_t)cls) cls = cls > 4 ? cls / 2 : 0;
    return cls;
}

/* The row stride a kernel gets for an array of n rows of dtype at ptr (a lone row's stride
 * is never used: 0, which keeps it divisible); narrows *cls to what ptr and the stride allow. */
static int64_t kernel_stride(int64_t n, int64_t stride, const void *ptr, tritium_dtype dtype, int *cls) {
    int64_t st = n > 1 ? stride : 0;
    *cls = narrow_class(narrow_class(*cls, (uint64_t)st * tritium_dtype_size(dtype)), (uintptr_t)ptr);
    return st;
}

/* floats per row of `saved` */
static int64_t saved_width(float p) { return isinf(p) ? TRITIUM_TRIPLET_SAVED_W_INF : TRITIUM_TRIPLET_SAVED_W; }

static int p_mode_of(float p) { return p == 2.0f ? 2 : p == 1.0f ? 1 : isinf(p) ? 3 : 0; }

/* How the rows are cut: s ranges of `chunk` elements per row (the split path, s >= 2), or
 * s = 1 and chunk = d. Splitting pays when the row grid is small and rows are long: a row
 * takes ceil(SPLIT_PROGRAMS / n) ranges of whole SPLIT_BLOCK_D chunks (at most the chunks
 * it holds, and SPLIT_MAX), and the split path is taken when that is two or more (the
 * reasoning: aot/manifest.py, TRIPLET_SPLIT_PROGRAMS). */
static void plan_split(int64_t n, int64_t d, int64_t *s, int64_t *chunk) {
    const int64_t block = TRITIUM_TRIPLET_SPLIT_BLOCK_D;
    *s = 1;
    *chunk = d;
    if (n == 0 || d < 2 * block) return;
    int64_t want = (TRITIUM_TRIPLET_SPLIT_PROGRAMS + n - 1) / n, blocks = (d + block - 1) / block;
    if (want > blocks) want = blocks;
    if (want > TRITIUM_TRIPLET_SPLIT_MAX) want = TRITIUM_TRIPLET_SPLIT_MAX;
    if (want < 2) return;
    int64_t c = ((blocks + want - 1) / want) * block;
    *chunk = c;
    *s = (d + c - 1) / c;
}

static tritium_status check_sizes(int64_t n, int64_t d, tritium_reduction reduction) {
    if (reduction != TRITIUM_REDUCTION_NONE && reduction != TRITIUM_REDUCTION_MEAN &&
        reduction != TRITIUM_REDUCTION_SUM)
        return tritium_fail(TRITIUM_ERROR_INVALID_ENUM, "reduction: unknown value %d", (int)reduction);
    if (n < 0 || d < 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_SIZE, "n and d must be >= 0 (got n=%lld, d=%lld)",
                            (long long)n, (long long)d);
    if (n > INT32_MAX || d > INT32_MAX)
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "n and d must be < 2^31 (got n=%lld, d=%lld)",
                            (long long)n, (long long)d);
    return TRITIUM_SUCCESS;
}

TRITIUM_API tritium_status tritium_triplet_margin_loss_workspace_size(int64_t n, int64_t d,
                                                                       tritium_reduction reduction,
                                                                       size_t *bytes) {
    tritium_clear_error();
    if (!bytes) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "bytes is NULL");
    tritium_status s = check_sizes(n, d, reduction);
    if (s != TRITIUM_SUCCESS) return s;
    int64_t splits, chunk;
    plan_split(n, d, &splits, &chunk);
    if (splits > 1) /* the split path: PARTIAL_W floats per (row, split) */
        *bytes = (size_t)(n * splits) * TRITIUM_TRIPLET_PARTIAL_W * sizeof(float);
    else /* the row path: one fp32 partial per program; programs hold >= 1 row */
        *bytes = reduction == TRITIUM_REDUCTION_NONE ? 0 : (size_t)n * sizeof(float);
    return TRITIUM_SUCCESS;
}

TRITIUM_API tritium_status tritium_triplet_margin_loss_saved_size(int64_t n, float p, size_t *bytes) {
    tritium_clear_error();
    if (!bytes) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "bytes is NULL");
    if (n < 0 || n > INT32_MAX) return tritium_fail(TRITIUM_ERROR_INVALID_SIZE, "n must be in [0, 2^31) (got %lld)",
                                                    (long long)n);
    if (!(p > 0.0f)) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "p must be > 0 (got %g)", (double)p);
    *bytes = (size_t)n * (size_t)saved_width(p) * sizeof(float);
    return TRITIUM_SUCCESS;
}

/* The row-kernel variant of `kernel` for this dtype and norm that `better` prefers, from the
 * widest alignment class at most `cls` that the build has (a class's variants serve every
 * call of that class or a wider one); -1 if none. */
typedef int (*row_pref)(int32_t block, int32_t rows, int32_t best_block, int32_t best_rows, int64_t want);
static int pick_family(int kernel, tritium_dtype dtype, int p_mode, int cls, int64_t want, row_pref better) {
    int best = -1;
    int32_t best_block = 0, best_rows = 0;
    int first = tritium_kernel_first[kernel], end = first + tritium_kernel_count[kernel];
    for (int c = cls;; c = c > 4 ? c / 2 : 0) {
        for (int i = first; i < end; ++i) {
            const tritium_variant *v = &tritium_variants[i];
            if (v->dtype != dtype || v->aligned != c || v->params[0] != p_mode) continue;
            int32_t rows = v->params[1], block = v->params[2];
            if (best < 0 || better(block, rows, best_block, best_rows, want)) {
                best = i; best_block = block; best_rows = rows;
            }
        }
        if (best >= 0 || c == 0) return best;
    }
}

/* the widest BLOCK_D not wider than `want` (if none is that narrow, the narrowest), then the
 * fewest rows */
static int widest_fitting(int32_t block, int32_t rows, int32_t best_block, int32_t best_rows, int64_t want) {
    return (block <= want ? (best_block > want || block > best_block) : (best_block > want && block < best_block)) ||
           (block == best_block && rows < best_rows);
}

/* the narrowest BLOCK_D of at least 64, then the fewest rows */
static int narrowest_64(int32_t block, int32_t rows, int32_t best_block, int32_t best_rows, int64_t want) {
    (void)want;
    return block >= 64 && (best_block < 64 || block < best_block || (block == best_block && rows < best_rows));
}

/* the variant whose ROWS is `want` (any BLOCK_D) */
static int rows_equal(int32_t block, int32_t rows, int32_t best_block, int32_t best_rows, int64_t want) {
    (void)block, (void)best_block;
    return rows == want && best_rows != want;
}

_Static_assert(TRITIUM_P_TRIPLET_FWD_LANES_ROWS == TRITIUM_P_TRIPLET_FWD_ROWS,
               "the forward launch reads ROWS of either forward kernel at one place");

/* The lanes forward's variant (_triplet_fwd_lanes_kernel) for rows of d elements: the first
 * of aot/manifest.py's TRIPLET_LANES_CONFIGS whose row bytes hold them, or for rows past
 * the last but one whose last step of the last config would be at most half full, the
 * config before it; named by its ROWS; -1 for rows of no class longer than
 * TRIPLET_LANES_NO_CLASS_MAX_BYTES, or if the build lacks it. */
static int pick_lanes(tritium_dtype dtype, int p_mode, int cls, int64_t d) {
    static const int64_t max_bytes[TRITIUM_TRIPLET_LANES_COUNT] = TRITIUM_TRIPLET_LANES_MAX_BYTES;
    static const int32_t rows[TRITIUM_TRIPLET_LANES_COUNT] = TRITIUM_TRIPLET_LANES_ROWS;
    static const int32_t block[TRITIUM_TRIPLET_LANES_COUNT] = TRITIUM_TRIPLET_LANES_BLOCK_D;
    const int64_t bytes = d * (int64_t)tritium_dtype_size(dtype);
    int k = 0;
    while (k + 1 < TRITIUM_TRIPLET_LANES_COUNT && bytes > max_bytes[k]) ++k;
    const int64_t last = d % block[k];
    if (k > 0 && k + 1 == TRITIUM_TRIPLET_LANES_COUNT && last && 2 * last <= block[k]) --k;
    int v = pick_family(TRITIUM_K_TRIPLET_FWD_LANES, dtype, p_mode, cls, rows[k], rows_equal);
    if (v < 0 || tritium_variants[v].params[TRITIUM_P_TRIPLET_FWD_LANES_ROWS] != rows[k]) return -1;
    return tritium_variants[v].aligned == 0 && bytes > TRITIUM_TRIPLET_LANES_NO_CLASS_MAX_BYTES ? -1 : v;
}

/* Variant v if it is the (rows, block_d) tile a rule asks for, else -1 (also for v = -1). */
static int tile_or_none(int v, int32_t rows, int32_t block_d) {
    return v >= 0 && tritium_variants[v].params[1] == rows && tritium_variants[v].params[2] == block_d ? v : -1;
}

/* The row-kernel variant of `kernel` for this call: the widest BLOCK_D not wider than D needs
 * (rounded up to a power of two), with the fewest rows per program among those; -1 if none.
 * Three forward rules for many rows (aot/manifest.py says why, beside their constants):
 * rows narrower than 16 bytes of at most TRIPLET_LANES_MAX_D elements take the lanes
 * forward (a variant of another kernel, with the forward's arguments and ROWS at the same
 * place), or where it has none for them the 4 x 64 tile of rows of no class
 * (TRIPLET_NARROW_CONFIG); rows of fewer than TRIPLET_WIDE_MIN_D elements, and long rows
 * whose last 2048-element step holds at most TRIPLET_TAIL_MAX elements, take the (1, 512)
 * tile where the widest would be (1, 2048); a
 * grid of many programs that each read little (TRIPLET_MANY_PROGRAMS) takes the narrowest
 * BLOCK_D of at least 64, whose programs hold more rows. */
static int pick_rows(int kernel, tritium_dtype dtype, int p_mode, int cls, int64_t n, int64_t d, int lanes_ok) {
    int64_t want = 1;
    while (want < d) want <<= 1;
    int best = pick_family(kernel, dtype, p_mode, cls, want, widest_fitting);
    if (best < 0 || kernel != TRITIUM_K_TRIPLET_FWD) return best;
    /* 16-byte rows keep the row tiles (aot/manifest.py, TRIPLET_LANES_CONFIGS, says why) */
    if (cls < 16 && n >= TRITIUM_TRIPLET_MANY_PROGRAMS && d <= TRITIUM_TRIPLET_LANES_MAX_D) {
        int lanes = lanes_ok ? pick_lanes(dtype, p_mode, cls, d) : -1;
        if (lanes >= 0) return lanes;
        /* rows the lanes forward does not take: the no-class family's 4 x 64 tile where it
         * has one (aot/manifest.py, TRIPLET_NARROW_CONFIG) */
        int narrow = tile_or_none(pick_family(kernel, dtype, p_mode, cls, want, narrowest_64),
                                  TRITIUM_TRIPLET_NARROW_ROWS, TRITIUM_TRIPLET_NARROW_BLOCK_D);
        if (narrow >= 0) return narrow;
    }
    const int64_t last = d % TRITIUM_TRIPLET_SPLIT_BLOCK_D;
    if (n >= TRITIUM_TRIPLET_MANY_PROGRAMS && tritium_variants[best].params[2] == TRITIUM_TRIPLET_SPLIT_BLOCK_D &&
        (d < TRITIUM_TRIPLET_WIDE_MIN_D || (last && last <= TRITIUM_TRIPLET_TAIL_MAX))) {
        /* rows of fewer than four 2048-element steps, or whose last step is nearly empty: the
         * (1, 512) tile (TRIPLET_WIDE_MIN_D, TRIPLET_TAIL_MAX) */
        int tail = tile_or_none(pick_family(kernel, dtype, p_mode, cls, 512, widest_fitting), 1, 512);
        if (tail >= 0) return tail;
    }
    int64_t rows = tritium_variants[best].params[1];
    if ((n + rows - 1) / rows > TRITIUM_TRIPLET_MANY_PROGRAMS &&
        rows * d * 3 * (int64_t)tritium_dtype_size(dtype) < TRITIUM_TRIPLET_MIN_PROGRAM_BYTES) {
        int wide = pick_family(kernel, dtype, p_mode, cls, want, narrowest_64);
        if (wide >= 0 && tritium_variants[wide].params[2] >= 64) return wide;
    }
    return best;
}

/* For mean/sum of a small batch: the forward variant that holds all n rows (ROWS >= n) in
 * the fewest steps along D (then the widest alignment class at most `cls`, then the
 * smallest tile), so that one program computes the final value and the reduce launch is
 * saved; -1 if every such
 * variant needs more than TRIPLET_SINGLE_MAX_STEPS steps (a step is a memory round trip,
 * the saved launch about two), or none holds n rows. */
static int pick_single(tritium_dtype dtype, int p_mode, int cls, int64_t n, int64_t d) {
    int best = -1;
    int64_t best_steps = 0, best_size = 0;
    int first = tritium_kernel_first[TRITIUM_K_TRIPLET_FWD], end = first + tritium_kernel_count[TRITIUM_K_TRIPLET_FWD];
    for (int i = first; i < end; ++i) {
        const tritium_variant *v = &tritium_variants[i];
        if (v->dtype != dtype || v->params[0] != p_mode ||
            v->aligned > cls || v->params[TRITIUM_P_TRIPLET_FWD_ROWS] < n)
            continue;
        int64_t block = v->params[TRITIUM_P_TRIPLET_FWD_BLOCK_D], steps = (d + block - 1) / block;
        int64_t size = (int64_t)v->params[TRITIUM_P_TRIPLET_FWD_ROWS] * block;
        const tritium_variant *b = best >= 0 ? &tritium_variants[best] : NULL;
        int better = !b || steps < best_steps ||
                     (steps == best_steps &&
                      (v->aligned > b->aligned || (v->aligned == b->aligned && size < best_size)));
        if (better) { best = i; best_steps = steps; best_size = size; }
    }
    return best >= 0 && best_steps <= TRITIUM_TRIPLET_SINGLE_MAX_STEPS ? best : -1;
}

/* For mean/sum with p = 2: the one-program kernel (_triplet_single_kernel) whose tile holds
 * all n rows of d elements, built with this swap and save, from the widest alignment class
 * at most `cls`; -1 if none. It comes before pick_single: its
 * program runs only the code the call needs (the kernel says what that saves). */
static int pick_single_tile(tritium_dtype dtype, int p_mode, int cls, int64_t n, int64_t d, int swap, int save) {
    if (p_mode != 2) return -1;
    int best = -1;
    int first = tritium_kernel_first[TRITIUM_K_TRIPLET_SINGLE], end = first + tritium_kernel_count[TRITIUM_K_TRIPLET_SINGLE];
    for (int i = first; i < end; ++i) {
        const tritium_variant *v = &tritium_variants[i];
        if (v->dtype != dtype || v->aligned > cls || v->params[TRITIUM_P_TRIPLET_SINGLE_ROWS] < n ||
            v->params[TRITIUM_P_TRIPLET_SINGLE_BLOCK_D] < d || v->params[TRITIUM_P_TRIPLET_SINGLE_SWAP] != swap ||
            v->params[TRITIUM_P_TRIPLET_SINGLE_SAVE] != save)
            continue;
        if (best < 0 || v->aligned > tritium_variants[best].aligned) best = i;
    }
    return best;
}

static int pick_reduce(tritium_dtype dtype) {
    int first = tritium_kernel_first[TRITIUM_K_TRIPLET_REDUCE];
    for (int i = first; i < first + tritium_kernel_count[TRITIUM_K_TRIPLET_REDUCE]; ++i)
        if (tritium_variants[i].dtype == dtype) return i;
    return -1;
}

/* The finish variant with the narrowest BLOCK_S that holds `splits`. */
static int pick_finish(tritium_dtype dtype, int p_mode, int64_t splits) {
    int best = -1;
    int first = tritium_kernel_first[TRITIUM_K_TRIPLET_FINISH];
    for (int i = first; i < first + tritium_kernel_count[TRITIUM_K_TRIPLET_FINISH]; ++i) {
        const tritium_variant *v = &tritium_variants[i];
        int32_t block_s = v->params[TRITIUM_P_TRIPLET_FINISH_BLOCK_S];
        if (v->dtype == dtype && v->params[0] == p_mode && block_s >= splits &&
            (best < 0 || block_s < tritium_variants[best].params[TRITIUM_P_TRIPLET_FINISH_BLOCK_S]))
            best = i;
    }
    return best;
}

/* The flat backward's variant (aot/manifest.py, TRIPLET_BWD_FLAT) where the call allows it,
 * else -1. It is as fast as the row kernel's tiles or faster for rows of every width. H200,
 * us: the backward alone, row tiles / flat, bf16 (65536, 300) 85 / 63, (65536, 37) 52 / 7.6;
 * rows of 16 bytes, a forward with saved rows then the backward, the library's row tiles
 * (with PDL) / the flat kernel (compiled as built, without PDL): bf16 (65536, 384) 127.1 /
 * 118.1, (4096, 512) 13.4 / 14.3, (128, 65536) 44.1 / 44.6, (32768, 8192) 1126 / 1121,
 * fp32 (65536, 64) 43.1 / 42.4, (8, 1048576) 82.9 / 81.8; in the library, forward and
 * backward through autograd, bf16 (65536, 384) went from 126.8 to 116.6 us (torch.compile
 * 120.4) and (65536, 64) from 23.9 to 23.8. It needs the inputs and every gradient asked for
 * to be contiguous rows (stride D, or one row), their pointers 16-byte aligned, N * D a
 * multiple of 16 bytes and, with a block more, below 2^31 (the kernel's offsets are
 * 32-bit). */
static int pick_flat(tritium_dtype dtype, int p_mode, int64_t n, int64_t d, const void *const inputs[3],
                     const int64_t strides[3], const void *const grads[3], const int64_t gstrides[3]) {
    int first = tritium_kernel_first[TRITIUM_K_TRIPLET_BWD_FLAT], end = first + tritium_kernel_count[TRITIUM_K_TRIPLET_BWD_FLAT];
    int best = -1;
    for (int i = first; i < end; ++i)
        if (tritium_variants[i].dtype == dtype && tritium_variants[i].params[0] == p_mode) best = i;
    if (best < 0 || d == 0 || (n * d) % tritium_align_elems(dtype) ||
        n * d > INT32_MAX - tritium_variants[best].params[TRITIUM_P_TRIPLET_BWD_FLAT_BLOCK])
        return -1;
    for (int i = 0; i < 3; ++i) {
        if ((n > 1 && strides[i] != d) || (uintptr_t)inputs[i] % 16) return -1;
        if (grads[i] && ((n > 1 && gstrides[i] != d) || (uintptr_t)grads[i] % 16)) return -1;
    }
    return best;
}

/* Checks shared by the forward and the backward: scalars, the three inputs (byte spans in
 * lo/hi[0..2]), and the alignment class their rows allow (*cls; st = strides with a lone
 * row's stride zeroed). */
static tritium_status check_inputs(tritium_dtype dtype, int64_t n, int64_t d, const void *const inputs[3],
                                   const int64_t strides[3], float p, float eps, int swap,
                                   uintptr_t lo[], uintptr_t hi[], int64_t st[3], int *cls) {
    tritium_status s;
    size_t elem = tritium_dtype_size(dtype);
    if (!elem) return tritium_fail(TRITIUM_ERROR_INVALID_ENUM, "dtype: unknown value %d", (int)dtype);
    if (strides[0] < 0 || strides[1] < 0 || strides[2] < 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_STRIDE, "row strides must be >= 0 (anchor %lld, positive %lld, "
                            "negative %lld)", (long long)strides[0], (long long)strides[1], (long long)strides[2]);
    if (!(p > 0.0f)) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "p must be > 0 (got %g)", (double)p);
    if (isinf(p) && d == 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_SIZE, "d = 0 with p = inf: the max-norm of an empty row is "
                            "undefined (PyTorch raises too)");
    if (!isfinite(eps)) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "eps must be finite");
    if (swap != 0 && swap != 1) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "swap must be 0 or 1 (got %d)", swap);
    *cls = narrow_class(16, (uint64_t)d * elem);
    for (int i = 0; i < 3; ++i) {
        if (n * d > 0 && !inputs[i]) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "%s is NULL", names[i]);
        if ((uintptr_t)inputs[i] % elem)
            return tritium_fail(TRITIUM_ERROR_MISALIGNED, "%s is not aligned to its %zu-byte elements", names[i], elem);
        if ((s = tritium_span_2d(names[i], inputs[i], n, d, strides[i], 1, elem, &lo[i], &hi[i]))) return s;
        st[i] = kernel_stride(n, strides[i], inputs[i], dtype, cls);
    }
    return TRITIUM_SUCCESS;
}

/* A written span [lo[k], hi[k]) must not meet any of the spans before it. */
static tritium_status check_disjoint(uintptr_t lo[], uintptr_t hi[], const char *const what[], int k) {
    for (int i = 0; i < k; ++i)
        if (tritium_spans_overlap(lo[k], hi[k], lo[i], hi[i]))
            return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "%s overlaps %s", what[k], what[i]);
    return TRITIUM_SUCCESS;
}

static tritium_status check_f32_buffer(const char *what, const void *ptr, size_t bytes, uintptr_t *lo, uintptr_t *hi) {
    if (bytes && !ptr) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "%s is NULL", what);
    if ((uintptr_t)ptr % 4) return tritium_fail(TRITIUM_ERROR_MISALIGNED, "%s is not 4-byte aligned", what);
    *lo = (uintptr_t)ptr;
    if (__builtin_add_overflow(*lo, (uintptr_t)bytes, hi))
        return tritium_fail(TRITIUM_ERROR_OVERFLOW, "%s: %zu bytes overflow the address space", what, bytes);
    return TRITIUM_SUCCESS;
}

TRITIUM_API tritium_status tritium_triplet_margin_loss(
    tritium_dtype dtype, int64_t n, int64_t d,
    const void *anchor, int64_t stride_anchor,
    const void *positive, int64_t stride_positive,
    const void *negative, int64_t stride_negative,
    float margin, float p, float eps, int swap, tritium_reduction reduction,
    void *out, void *saved, void *workspace, size_t workspace_bytes, struct CUstream_st *stream) {
    size_t need;
    tritium_status s = tritium_triplet_margin_loss_workspace_size(n, d, reduction, &need);
    if (s != TRITIUM_SUCCESS) return s;
    const void *inputs[3] = {anchor, positive, negative};
    const int64_t strides[3] = {stride_anchor, stride_positive, stride_negative};
    static const char *const what[6] = {"anchor", "positive", "negative", "out", "saved", "workspace"};
    uintptr_t lo[6], hi[6];
    int64_t st[3];
    int cls;
    if ((s = check_inputs(dtype, n, d, inputs, strides, p, eps, swap, lo, hi, st, &cls))) return s;
    if (!isfinite(margin)) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "margin must be finite");
    size_t elem = tritium_dtype_size(dtype);
    const int reduce = reduction != TRITIUM_REDUCTION_NONE;
    const int64_t out_count = reduce ? 1 : n;
    if (out_count > 0 && !out) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "out is NULL");
    if ((uintptr_t)out % elem)
        return tritium_fail(TRITIUM_ERROR_MISALIGNED, "out is not aligned to its %zu-byte elements", elem);
    if ((s = tritium_span_2d("out", out, out_count, 1, 1, 1, elem, &lo[3], &hi[3]))) return s;
    size_t saved_bytes = saved ? (size_t)n * (size_t)saved_width(p) * sizeof(float) : 0;
    if ((s = check_f32_buffer("saved", saved, saved_bytes, &lo[4], &hi[4]))) return s;
    if (workspace_bytes < need)
        return tritium_fail(TRITIUM_ERROR_WORKSPACE_TOO_SMALL, "workspace: %zu bytes given, %zu needed",
                            workspace_bytes, need);
    if ((s = check_f32_buffer("workspace", workspace, need, &lo[5], &hi[5]))) return s;
    for (int k = 3; k < 6; ++k)
        if ((s = check_disjoint(lo, hi, what, k))) return s;
    if (out_count == 0) return TRITIUM_SUCCESS; /* reduction 'none' of zero rows */

    /* variants */
    const int p_mode = p_mode_of(p);
    int64_t splits, chunk;
    plan_split(n, d, &splits, &chunk);
    int tile = reduce && splits == 1 && n > 0 ? pick_single_tile(dtype, p_mode, cls, n, d, swap, saved != NULL) : -1;
    int single = tile < 0 && reduce && splits == 1 && n > 0 ? pick_single(dtype, p_mode, cls, n, d) : -1;
    const int one = tile >= 0 || single >= 0; /* one program writes the final value: no reduce launch */
    int fwd = tile >= 0     ? tile
              : single >= 0 ? single
              : n > 0       ? pick_rows(TRITIUM_K_TRIPLET_FWD, dtype, p_mode, cls, n, d, 1)
                            : -1;
    int fin = splits > 1 ? pick_finish(dtype, p_mode, splits) : -1;
    int red = reduce && splits == 1 && !one ? pick_reduce(dtype) : -1;
    if ((n > 0 && fwd < 0) || (splits > 1 && fin < 0) || (reduce && splits == 1 && !one && red < 0))
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "this build has no triplet kernel for dtype %d, p %g",
                            (int)dtype, (double)p);
    if (splits > 1 && (tritium_variants[fwd].params[TRITIUM_P_TRIPLET_FWD_ROWS] != 1 ||
                       tritium_variants[fwd].params[TRITIUM_P_TRIPLET_FWD_BLOCK_D] != TRITIUM_TRIPLET_SPLIT_BLOCK_D))
        return tritium_fail(TRITIUM_ERROR_INTERNAL, "split path without its row config");

    tritium_call call;
    if ((s = tritium_call_begin(&call, stream, anchor))) return s;
    CUdeviceptr a_ = (CUdeviceptr)anchor, p_ = (CUdeviceptr)positive, n_ = (CUdeviceptr)negative;
    CUdeviceptr o_ = (CUdeviceptr)out, w_ = (CUdeviceptr)workspace, sv_ = (CUdeviceptr)saved;
    int32_t n32 = (int32_t)n, d32 = (int32_t)d, swap32 = swap, reduce32 = reduce, save32 = saved != NULL;
    float norm_p = p, inv_p = 1.0f / p, divisor = reduction == TRITIUM_REDUCTION_MEAN ? (float)n : 1.0f;
    if (tile >= 0) {
        /* _triplet_single_kernel(a_ptr, p_ptr, n_ptr, out_ptr, saved_ptr, N, D, stride_a, stride_p, stride_n,
         *                        margin, eps, divisor, ROWS, BLOCK_D, SWAP, SAVE) */
        void *args[] = {&a_, &p_, &n_, &o_, &sv_, &n32, &d32, &st[0], &st[1], &st[2], &margin, &eps, &divisor};
        s = tritium_launch(&call, tile, 1, 1, args, (int)(sizeof args / sizeof args[0]));
        tritium_call_end(&call);
        return s;
    }
    /* a lanes variant the build ships for other archs only (aot/manifest.py,
     * TRIPLET_LANES_HOPPER_ONLY): the row tiles instead, which every family has */
    if (fwd >= 0 && tritium_variants[fwd].kernel == TRITIUM_K_TRIPLET_FWD_LANES &&
        tritium_select_image(fwd, call.arch, call.max_shared) < 0)
        fwd = pick_rows(TRITIUM_K_TRIPLET_FWD, dtype, p_mode, cls, n, d, 0);
    int32_t rows = fwd >= 0 ? tritium_variants[fwd].params[TRITIUM_P_TRIPLET_FWD_ROWS] : 1;
    unsigned grid = (unsigned)((n + rows - 1) / rows);
    if (n > 0) {
        /* _triplet_fwd_kernel(a_ptr, p_ptr, n_ptr, out_ptr, partial_ptr, saved_ptr, N, D, chunk,
         *                     stride_a, stride_p, stride_n, margin, norm_p, inv_p, eps, divisor,
         *                     swap, reduce, save, split, P_MODE, ROWS, BLOCK_D, STAGES); a one-program
         *                     grid with reduce writes the final value to out itself */
        int32_t chunk32 = (int32_t)chunk, split32 = splits > 1;
        int32_t fwd_reduce = splits > 1 ? 0 : reduce32, fwd_save = splits > 1 ? 0 : save32;
        void *args[] = {&a_, &p_, &n_, &o_, &w_, &sv_, &n32, &d32, &chunk32, &st[0], &st[1], &st[2],
                        &margin, &norm_p, &inv_p, &eps, &divisor, &swap32, &fwd_reduce, &fwd_save, &split32};
        s = tritium_launch(&call, fwd, splits > 1 ? (unsigned)n : grid, (unsigned)splits, args,
                           (int)(sizeof args / sizeof args[0]));
    }
    if (s == TRITIUM_SUCCESS && splits > 1) {
        /* _triplet_finish_kernel(partial_ptr, out_ptr, saved_ptr, N, S, margin, norm_p, inv_p,
         *                        divisor, swap, reduce, save, P_MODE, ROWS, BLOCK_S) */
        int32_t s32 = (int32_t)splits;
        void *args[] = {&w_, &o_, &sv_, &n32, &s32, &margin, &norm_p, &inv_p, &divisor, &swap32, &reduce32, &save32};
        s = tritium_launch(&call, fin, 1, 1, args, (int)(sizeof args / sizeof args[0]));
    } else if (s == TRITIUM_SUCCESS && reduce && grid != 1) {
        /* _triplet_reduce_kernel(partial_ptr, out_ptr, count, divisor, BLOCK, UNROLL) */
        int32_t count = n > 0 ? (int32_t)grid : 0;
        void *args[] = {&w_, &o_, &count, &divisor};
        s = tritium_launch(&call, red, 1, 1, args, 4);
    }
    tritium_call_end(&call);
    return s;
}

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
    struct CUstream_st *stream) {
    tritium_clear_error();
    tritium_status s = check_sizes(n, d, reduction);
    if (s != TRITIUM_SUCCESS) return s;
    const void *inputs[3] = {anchor, positive, negative};
    const int64_t strides[3] = {stride_anchor, stride_positive, stride_negative};
    static const char *const what[8] = {"anchor", "positive", "negative", "grad_out", "saved",
                                        "grad_anchor", "grad_positive", "grad_negative"};
    uintptr_t lo[8], hi[8];
    int64_t st[3];
    int cls;
    if ((s = check_inputs(dtype, n, d, inputs, strides, p, eps, swap, lo, hi, st, &cls))) return s;
    size_t elem = tritium_dtype_size(dtype);
    const int reduce = reduction != TRITIUM_REDUCTION_NONE;
    const int work = n * d > 0; /* anything to write at all */
    if (work && !grad_out) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "grad_out is NULL");
    if ((uintptr_t)grad_out % elem)
        return tritium_fail(TRITIUM_ERROR_MISALIGNED, "grad_out is not aligned to its %zu-byte elements", elem);
    if (stride_grad_out < 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_STRIDE, "stride_grad_out must be >= 0 (got %lld)",
                            (long long)stride_grad_out);
    if ((s = tritium_span_2d("grad_out", grad_out, work ? (reduce ? 1 : n) : 0, 1, stride_grad_out, 1, elem,
                             &lo[3], &hi[3])))
        return s;
    if ((s = check_f32_buffer("saved", saved, work ? (size_t)n * (size_t)saved_width(p) * sizeof(float) : 0,
                              &lo[4], &hi[4])))
        return s;
    void *grads[3] = {grad_anchor, grad_positive, grad_negative};
    const int64_t gstrides[3] = {stride_grad_anchor, stride_grad_positive, stride_grad_negative};
    int64_t gst[3];
    for (int i = 0; i < 3; ++i) {
        const char *name = what[5 + i];
        if ((uintptr_t)grads[i] % elem)
            return tritium_fail(TRITIUM_ERROR_MISALIGNED, "%s is not aligned to its %zu-byte elements", name, elem);
        if (gstrides[i] < 0)
            return tritium_fail(TRITIUM_ERROR_INVALID_STRIDE, "%s: row stride must be >= 0 (got %lld)", name,
                                (long long)gstrides[i]);
        if (grads[i] && tritium_self_overlapping(n, d, gstrides[i], 1))
            return tritium_fail(TRITIUM_ERROR_INVALID_STRIDE, "%s: row stride %lld < d = %lld makes rows overlap",
                                name, (long long)gstrides[i], (long long)d);
        if ((s = tritium_span_2d(name, grads[i], grads[i] ? n : 0, d, gstrides[i], 1, elem, &lo[5 + i], &hi[5 + i])))
            return s;
        gst[i] = kernel_stride(n, gstrides[i], grads[i], dtype, &cls);
    }
    for (int k = 5; k < 8; ++k)
        if ((s = check_disjoint(lo, hi, what, k))) return s;
    if (!work || (!grad_anchor && !grad_positive && !grad_negative)) return TRITIUM_SUCCESS;

    const int p_mode = p_mode_of(p);
    CUdeviceptr a_ = (CUdeviceptr)anchor, p_ = (CUdeviceptr)positive, n_ = (CUdeviceptr)negative;
    CUdeviceptr g_ = (CUdeviceptr)grad_out, sv_ = (CUdeviceptr)saved;
    CUdeviceptr ga_ = (CUdeviceptr)grad_anchor, gp_ = (CUdeviceptr)grad_positive, gn_ = (CUdeviceptr)grad_negative;
    int32_t d32 = (int32_t)d, swap32 = swap;
    int32_t wa = grad_anchor != NULL, wp = grad_positive != NULL, wn = grad_negative != NULL;
    int64_t sg = reduce ? 0 : stride_grad_out;
    float norm_p = p, divisor = reduction == TRITIUM_REDUCTION_MEAN ? (float)n : 1.0f;
    tritium_call call;

    int flat = pick_flat(dtype, p_mode, n, d, inputs, strides, (const void *const *)grads, gstrides);
    if (flat >= 0) {
        int64_t block = tritium_variants[flat].params[TRITIUM_P_TRIPLET_BWD_FLAT_BLOCK];
        int32_t total = (int32_t)(n * d);
        if ((s = tritium_call_begin(&call, stream, anchor))) return s;
        /* _triplet_bwd_flat_kernel(a_ptr, p_ptr, n_ptr, gout_ptr, saved_ptr, ga_ptr, gp_ptr, gn_ptr, total, D,
         *                          stride_g, eps, norm_p, divisor, swap, write_a, write_p, write_n, P_MODE, BLOCK) */
        void *args[] = {&a_, &p_, &n_, &g_, &sv_, &ga_, &gp_, &gn_, &total, &d32, &sg, &eps, &norm_p, &divisor,
                        &swap32, &wa, &wp, &wn};
        s = tritium_launch(&call, flat, (unsigned)((n * d + block - 1) / block), 1, args,
                           (int)(sizeof args / sizeof args[0]));
        tritium_call_end(&call);
        return s;
    }
    int v = pick_rows(TRITIUM_K_TRIPLET_BWD, dtype, p_mode, cls, n, d, 0);
    if (v < 0)
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "this build has no triplet backward kernel for dtype %d, "
                            "p %g", (int)dtype, (double)p);
    int32_t rows = tritium_variants[v].params[TRITIUM_P_TRIPLET_BWD_ROWS];
    /* The backward is elementwise: a program takes one (ROWS, BLOCK_D) tile as straight-line
     * code (its loads all in flight at once), on a 1-D grid that walks along each row (see
     * the kernel). Only a grid past 2^31 - 1 programs widens the chunk so that a program
     * loops over several tiles. */
    int64_t block_d = tritium_variants[v].params[TRITIUM_P_TRIPLET_BWD_BLOCK_D];
    int64_t row_blocks = (n + rows - 1) / rows, blocks = (d + block_d - 1) / block_d;
    int64_t max_splits = INT32_MAX / row_blocks, per = (blocks + max_splits - 1) / max_splits;
    int64_t chunk = per * block_d, splits = (d + chunk - 1) / chunk;
    if ((s = tritium_call_begin(&call, stream, anchor))) return s;
    /* _triplet_bwd_kernel(a_ptr, p_ptr, n_ptr, gout_ptr, saved_ptr, ga_ptr, gp_ptr, gn_ptr, N, D, chunk,
     *                     stride_a, stride_p, stride_n, stride_g, stride_ga, stride_gp, stride_gn,
     *                     eps, norm_p, divisor, swap, write_a, write_p, write_n, P_MODE, ROWS, BLOCK_D) */
    int32_t n32 = (int32_t)n, chunk32 = (int32_t)chunk;
    void *args[] = {&a_, &p_, &n_, &g_, &sv_, &ga_, &gp_, &gn_, &n32, &d32, &chunk32, &st[0], &st[1], &st[2],
                    &sg, &gst[0], &gst[1], &gst[2], &eps, &norm_p, &divisor, &swap32, &wa, &wp, &wn};
    s = tritium_launch(&call, v, (unsigned)(row_blocks * splits), 1, args, (int)(sizeof args / sizeof args[0]));
    tritium_call_end(&call);
    return s;
}
