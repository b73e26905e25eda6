/*
 * fuzz_api.c: every entry point of tritium.h with argument vectors from a seeded PRNG.
 *
 *   tritium_fuzz_api [--seed S] [--count N] [--verbose]
 *
 * Most vectors start valid (buffers placed at random in one arena, with random gaps,
 * alignments and layouts) and then take 0 to 3 mutations: edge values of extents, strides,
 * enums and floats (negative, zero, huge, byte counts past 2^63, NaN, inf), NULL,
 * misaligned, overlapping or far-away pointers (an output on an input, the workspace on an
 * output, pointers near the top of the address space), too small or wrapping workspaces,
 * `saved` buffers sized for another p, gradient rows that overlap, bad ordinals and buffer
 * lengths for the info calls, forced matmul configs with bad paths, configs and splits.
 *
 * Each vector is judged by an oracle written from the header's contract (and the library's
 * stated conventions where the header is silent, e.g. spans are byte ranges): the set of
 * statuses its violations justify, or "valid". After each call:
 *  - the status is one the header documents; a rejected call's is one of the violations'
 *    (a valid call's: SUCCESS, or without a GPU the status tritium_device_count gave, or,
 *    for calls with nothing to do, SUCCESS without the driver);
 *  - tritium_last_error() is non-empty after a failure and empty after a success;
 *  - the whole arena, a guard band around every buffer, is byte-identical to its canary
 *    pattern, except, after a successful call on a GPU, the bytes the call may write;
 *    host outputs (size queries, device_info's strings) likewise.
 * Without a GPU, the "device" arena is host memory that the library must never touch (it
 * never dereferences device pointers). With one (dlopen libcuda + cuInit + a device), the
 * arena is a cuMemAlloc allocation read back with cuMemcpyDtoH, and valid vectors whose
 * buffers lie inside it run for real (their results are not checked here); valid vectors
 * that reach outside it are skipped there.
 *
 * Prints a summary line
 *   fuzz: N calls, R rejected (by status: ...), A accepted (...), K skipped, G guard
 *   violations, M status mismatches, seed S
 * and exits 1 on any violation or mismatch (the first ones are printed with their
 * arguments), 0 otherwise, 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

/* ---- statuses ---------------------------------------------------------------------- */

static const tritium_status documented[] = {
    TRITIUM_SUCCESS, TRITIUM_ERROR_INVALID_VALUE, TRITIUM_ERROR_NULL_POINTER, TRITIUM_ERROR_INVALID_SIZE,
    TRITIUM_ERROR_INVALID_STRIDE, TRITIUM_ERROR_INVALID_ENUM, TRITIUM_ERROR_OVERFLOW,
    TRITIUM_ERROR_WORKSPACE_TOO_SMALL, TRITIUM_ERROR_NOT_SUPPORTED, TRITIUM_ERROR_MISALIGNED,
    TRITIUM_ERROR_NO_DRIVER, TRITIUM_ERROR_DRIVER_TOO_OLD, TRITIUM_ERROR_NO_DEVICE, TRITIUM_ERROR_NO_CONTEXT,
    TRITIUM_ERROR_DRIVER, TRITIUM_ERROR_NO_KERNEL_IMAGE, TRITIUM_ERROR_IMAGE_LOAD, TRITIUM_ERROR_LAUNCH,
    TRITIUM_ERROR_INTERNAL};
enum { NSTATUS = sizeof documented / sizeof documented[0] };

/* index into documented[] (a bit of a status set), -1 for an undocumented value */
static int sidx(tritium_status s) {
    for (int i = 0; i < NSTATUS; ++i)
        if (documented[i] == s) return i;
    return -1;
}
#define BIT(s) (1u << sidx(s))
#define V_VALUE BIT(TRITIUM_ERROR_INVALID_VALUE)
#define V_NULL BIT(TRITIUM_ERROR_NULL_POINTER)
#define V_SIZE BIT(TRITIUM_ERROR_INVALID_SIZE)
#define V_STRIDE BIT(TRITIUM_ERROR_INVALID_STRIDE)
#define V_ENUM BIT(TRITIUM_ERROR_INVALID_ENUM)
#define V_OVERFLOW BIT(TRITIUM_ERROR_OVERFLOW)
#define V_WORKSPACE BIT(TRITIUM_ERROR_WORKSPACE_TOO_SMALL)
#define V_UNSUPPORTED BIT(TRITIUM_ERROR_NOT_SUPPORTED)
#define V_MISALIGNED BIT(TRITIUM_ERROR_MISALIGNED)

/* ---- the arenas ---------------------------------------------------------------------- */

enum { ARENA_BYTES = 1 << 20, BOX_BYTES = 16384 };

/* the "device" arena: every device pointer of a placed buffer lies inside it */
static struct {
    unsigned char *canary, *readback, *mask;
    uintptr_t base; /* device address (GPU) or the host copy's (no GPU) */
    int gpu;
    CUstream stream;
} arena;

/* host outputs: size queries, counts, device_info's strings, force_config's array */
static unsigned char box[BOX_BYTES], box_canary[BOX_BYTES], box_mask[BOX_BYTES];
enum { BOX_BYTES_AT = 64, BOX_COUNT_AT = 128, BOX_MAJOR_AT = 192, BOX_MINOR_AT = 256, BOX_CONFIG_AT = 320,
       BOX_NAME_AT = 512, BOX_IMAGE_AT = 8192, BOX_STRING_MAX = 4096 };

static uint64_t R; /* the PRNG */

static int chance(int percent) { return (int)rng_below(&R, 100) < percent; }
static uint64_t pick(uint64_t n) { return rng_below(&R, n); }
#define ONE_OF(arr) (arr)[pick(sizeof(arr) / sizeof((arr)[0]))]

static void arena_init(int gpu) {
    arena.gpu = gpu;
    arena.canary = malloc(ARENA_BYTES);
    arena.readback = malloc(ARENA_BYTES);
    arena.mask = malloc(ARENA_BYTES);
    if (!arena.canary || !arena.readback || !arena.mask) exit(1);
    uint64_t s = 0xC0FFEEull;
    for (size_t i = 0; i < ARENA_BYTES; i += 8) {
        uint64_t v = rng_next(&s);
        memcpy(arena.canary + i, &v, 8);
    }
    for (size_t i = 0; i < BOX_BYTES; ++i) box_canary[i] = (unsigned char)(0xA5 ^ (i * 7));
    memcpy(box, box_canary, BOX_BYTES);
    if (gpu) {
        CUdeviceptr p = dev_alloc(ARENA_BYTES); /* cuMemAlloc: at least 256-byte aligned */
        arena.base = (uintptr_t)p;
        CU_OK(cu.MemcpyHtoD(p, arena.canary, ARENA_BYTES));
    } else {
        unsigned char *h = aligned_alloc(4096, ARENA_BYTES);
        if (!h) exit(1);
        memcpy(h, arena.canary, ARENA_BYTES);
        arena.base = (uintptr_t)h;
    }
}

/* ---- placing buffers ----------------------------------------------------------------- */

typedef struct placer {
    size_t cursor;
} placer;

/* A random offset in the arena past the previous buffer, `align`-aligned; a far address
 * (outside the arena, no overflow) if `bytes` does not fit. */
static void *place(placer *pl, size_t bytes, size_t align) {
    static const size_t gaps[] = {0, 0, 0, 1, 2, 4, 16, 64, 256};
    size_t gap = chance(20) ? pick(512) : ONE_OF(gaps);
    size_t off = (pl->cursor + gap + align - 1) / align * align;
    if (bytes > ARENA_BYTES || off > ARENA_BYTES - bytes)
        return (void *)(arena.base + ((uintptr_t)1 << 40) + (uintptr_t)(pick(1 << 20) * 256));
    pl->cursor = off + bytes;
    return (void *)(arena.base + off);
}

/* ---- edge values --------------------------------------------------------------------- */

static int64_t edge_extent(void) {
    static const int64_t v[] = {-1, -2, INT64_MIN, INT64_MAX, INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MAX / 3,
                                INT32_MAX / 3 + 1, INT64_C(1) << 40, INT64_C(1) << 62, 0, 1, 2, 17, 65537};
    return ONE_OF(v);
}

static int64_t edge_stride(void) {
    static const int64_t v[] = {-1, -16, INT64_MIN, INT64_MAX, INT64_MAX / 2, INT64_C(1) << 61, INT64_C(1) << 32,
                                0, 1, 2, 3, 15, 16, 17};
    return ONE_OF(v);
}

static float edge_float(void) {
    static const float v[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, -1.0f, 1e-45f, 1e-30f, FLT_MAX, -FLT_MAX,
                              0.5f, 3.0f};
    return ONE_OF(v);
}

static int edge_enum(void) {
    static const int v[] = {-1, 3, 4, 7, 100, 255, 256, INT_MAX, INT_MIN, 0, 1, 2};
    return ONE_OF(v);
}

/* a pointer edge: NULL, misaligned by a few bytes, far away, or near the top of memory */
static void *edge_pointer(void *p) {
    switch (pick(6)) {
    case 0: return NULL;
    case 1: return (char *)p + 1 + pick(3);
    case 2: return (char *)p + ONE_OF(((const int[]){2, 4, 8, 16, 128}));
    case 3: return (void *)(arena.base + ((uintptr_t)1 << 44));
    case 4: return (void *)(UINTPTR_MAX - 4095);
    default: return (void *)(UINTPTR_MAX - 255 - (uintptr_t)pick(4) * 256);
    }
}

/* ---- the oracle's building blocks ------------------------------------------------------- */

typedef struct region {
    uintptr_t lo, hi;
} region;

/* the judgement of one call */
typedef struct expect {
    uint32_t violations;  /* statuses the arguments justify; 0: valid */
    int driver;           /* valid, and the call has work for the device */
    int forced;           /* a matmul under a forced config: NOT_SUPPORTED / WORKSPACE_TOO_SMALL may follow */
    int nwrite, ntouch;   /* a successful call may write write[]; touch[] (reads too) must lie in the arena */
    region write[8], touch[12];
    int ngrid;            /* and the elements of these strided outputs (not the gaps between them) */
    struct grid { uintptr_t base; int64_t rows, cols, rs, cs; size_t elem; } grid[3];
    int nbox, box_always; /* host bytes a successful call (any call: box_always) may write */
    region boxw[6];
    char what[512];       /* the arguments, for reports */
} expect;

static void add(region *list, int *n, uintptr_t lo, uintptr_t hi) {
    if (lo < hi) list[(*n)++] = (region){lo, hi};
}

/* byte span of a strided rows x cols array; 0 if its byte count or end overflows */
typedef struct span {
    uintptr_t lo, hi;
    int ok;
} span;

static span span_of(const void *p, int64_t rows, int64_t cols, int64_t rs, int64_t cs, size_t elem) {
    span s = {(uintptr_t)p, (uintptr_t)p, 1};
    if (rows <= 0 || cols <= 0) return s;
    __int128 bytes = ((__int128)(rows - 1) * rs + (__int128)(cols - 1) * cs + 1) * (__int128)elem;
    if (bytes > INT64_MAX || (__int128)(uintptr_t)p + bytes > (__int128)UINTPTR_MAX) {
        s.ok = 0;
        return s;
    }
    s.hi = (uintptr_t)p + (uintptr_t)bytes;
    return s;
}

static span bytes_at(const void *p, size_t bytes) {
    span s = {(uintptr_t)p, (uintptr_t)p + bytes, 1};
    if ((__int128)(uintptr_t)p + bytes > (__int128)UINTPTR_MAX) s.ok = 0;
    return s;
}

static int meet(span a, span b) { return a.lo < a.hi && b.lo < b.hi && a.lo < b.hi && b.lo < a.hi; }

static int misaligned(const void *p, size_t align) { return align && (uintptr_t)p % align != 0; }

/* Whether writing a rows x cols array with these (non-negative) strides would write some
 * element twice: with the dims of extent > 1 sorted by stride, each must step past the
 * whole span of the smaller one (the library's rule, which every true overlap breaks). */
static int self_overlap(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
    int64_t e[2], s[2];
    int k = 0;
    if (rows > 1) e[k] = rows, s[k++] = rs;
    if (cols > 1) e[k] = cols, s[k++] = cs;
    if (k == 0) return 0;
    if (k == 1) return s[0] == 0;
    int small = s[0] <= s[1] ? 0 : 1, big = 1 - small;
    return s[small] == 0 || (__int128)s[big] < (__int128)s[small] * (e[small] - 1) + 1;
}

static size_t elem_of(int dtype) { return dt_size((tritium_dtype)dtype); }

/* ---- triplet: arguments, generator, oracle ------------------------------------------- */

typedef struct triplet_args {
    int backward;
    int dtype, reduction, swap;
    int64_t n, d, stride[3], stride_gout, gstride[3];
    float margin, p, eps;
    void *in[3], *out, *saved, *ws, *gout, *grad[3];
    size_t ws_bytes;
} triplet_args;

static void describe_triplet(const triplet_args *a, char *buf, size_t size) {
    snprintf(buf, size,
             "%s(dtype=%d n=%lld d=%lld a=%#lx/%lld p=%#lx/%lld n=%#lx/%lld margin=%g p=%g eps=%g swap=%d red=%d "
             "out=%#lx saved=%#lx ws=%#lx/%zu gout=%#lx/%lld ga=%#lx/%lld gp=%#lx/%lld gn=%#lx/%lld) [arena %#lx]",
             a->backward ? "triplet_backward" : "triplet", a->dtype, (long long)a->n, (long long)a->d,
             (unsigned long)(uintptr_t)a->in[0], (long long)a->stride[0], (unsigned long)(uintptr_t)a->in[1],
             (long long)a->stride[1], (unsigned long)(uintptr_t)a->in[2], (long long)a->stride[2], (double)a->margin,
             (double)a->p, (double)a->eps, a->swap, a->reduction, (unsigned long)(uintptr_t)a->out,
             (unsigned long)(uintptr_t)a->saved, (unsigned long)(uintptr_t)a->ws, a->ws_bytes,
             (unsigned long)(uintptr_t)a->gout, (long long)a->stride_gout, (unsigned long)(uintptr_t)a->grad[0],
             (long long)a->gstride[0], (unsigned long)(uintptr_t)a->grad[1], (long long)a->gstride[1],
             (unsigned long)(uintptr_t)a->grad[2], (long long)a->gstride[2], (unsigned long)arena.base);
}

static size_t saved_width(float p) { return isinf(p) ? 6 : 3; } /* floats per row (the header says so) */

static void gen_triplet(triplet_args *a, int backward) {
    static const float ps[] = {2.0f, 2.0f, 1.0f, INFINITY, 1.5f, 3.0f, 0.5f};
    static const float margins[] = {1.0f, 0.0f, -0.5f, 2.5f};
    static const float epss[] = {1e-6f, 0.0f, -1e-3f};
    memset(a, 0, sizeof *a);
    a->backward = backward;
    a->dtype = (int)pick(3);
    a->reduction = (int)pick(3);
    a->swap = (int)pick(2);
    a->n = chance(5) ? 0 : (int64_t)pick(25);
    a->d = chance(5) ? 0 : (int64_t)pick(chance(10) ? 3000 : 200);
    if (a->d > 200) a->n = (int64_t)pick(4);
    a->p = ONE_OF(ps);
    if (isinf(a->p) && a->d == 0) a->d = 3;
    a->margin = ONE_OF(margins);
    a->eps = ONE_OF(epss);
    size_t e = elem_of(a->dtype);
    for (int i = 0; i < 3; ++i) {
        a->stride[i] = chance(10) ? 0 : a->d + (chance(30) ? (int64_t)pick(9) : 0);
        a->gstride[i] = (a->d > 0 ? a->d : 1) + (chance(30) ? (int64_t)pick(9) : 0);
    }
    int64_t outs = a->reduction ? 1 : a->n;
    a->stride_gout = chance(20) ? (int64_t)pick(3) : 1;
    /* a saved buffer sized for a p this call may not have ("wrong size"), 4-byte aligned */
    float p_sized = chance(10) ? (isinf(a->p) ? 2.0f : INFINITY) : a->p;
    size_t saved_bytes = (size_t)a->n * saved_width(p_sized) * 4, need = 0;
    tritium_triplet_margin_loss_workspace_size(a->n, a->d, (tritium_reduction)a->reduction, &need);
    a->ws_bytes = need + (chance(20) ? pick(64) : 0);
    /* place the buffers in a random order */
    void **slot[10];
    size_t bytes[10], align[10];
    int k = 0;
    for (int i = 0; i < 3; ++i) {
        slot[k] = &a->in[i];
        bytes[k] = (size_t)span_of(NULL, a->n, a->d, a->stride[i], 1, e).hi;
        align[k++] = chance(50) ? 16 : e;
    }
    if (!backward) {
        slot[k] = &a->out, bytes[k] = (size_t)outs * e, align[k++] = e;
        slot[k] = &a->ws, bytes[k] = a->ws_bytes, align[k++] = chance(50) ? 256 : 4;
    } else {
        slot[k] = &a->gout, bytes[k] = (size_t)span_of(NULL, a->reduction ? 1 : a->n, 1, a->stride_gout, 1, e).hi;
        align[k++] = e;
        for (int i = 0; i < 3; ++i)
            slot[k] = &a->grad[i], bytes[k] = (size_t)span_of(NULL, a->n, a->d, a->gstride[i], 1, e).hi,
            align[k++] = chance(50) ? 16 : e;
    }
    slot[k] = &a->saved, bytes[k] = saved_bytes, align[k++] = 4;
    for (int i = k - 1; i > 0; --i) { /* shuffle */
        int j = (int)pick((uint64_t)i + 1);
        void **ts = slot[i];
        size_t tb = bytes[i], ta = align[i];
        slot[i] = slot[j], bytes[i] = bytes[j], align[i] = align[j];
        slot[j] = ts, bytes[j] = tb, align[j] = ta;
    }
    placer pl = {pick(4096)};
    for (int i = 0; i < k; ++i) *slot[i] = place(&pl, bytes[i], align[i]);
    if (!backward && chance(25)) a->saved = NULL;
    if (backward)
        for (int i = 0; i < 3; ++i)
            if (chance(15)) a->grad[i] = NULL;
    if (!backward && a->ws_bytes == 0 && chance(50)) a->ws = NULL;
}

static void mutate_triplet(triplet_args *a) {
    void **ptrs[9] = {&a->in[0], &a->in[1], &a->in[2], &a->out, &a->saved, &a->ws, &a->gout, &a->grad[0], &a->grad[1]};
    int np = a->backward ? 9 : 6;
    switch (pick(13)) {
    case 0: a->dtype = edge_enum(); break;
    case 1: a->reduction = edge_enum(); break;
    case 2: *(chance(50) ? &a->n : &a->d) = edge_extent(); break;
    case 3: a->stride[pick(3)] = edge_stride(); break;
    case 4: {
        void **p = ptrs[pick((uint64_t)np)];
        *p = edge_pointer(*p);
        break;
    }
    case 5: { /* an output (or the workspace, or saved) onto another buffer */
        void **dst = a->backward ? (chance(70) ? &a->grad[pick(3)] : &a->saved) : ptrs[3 + pick(3)];
        void *src = *ptrs[pick((uint64_t)np)];
        if (src) *dst = (char *)src + 4 * pick(8);
        break;
    }
    case 6: { /* a float edge */
        float *f[3] = {&a->margin, &a->p, &a->eps};
        *f[pick(3)] = edge_float();
        break;
    }
    case 7: a->swap = ONE_OF(((const int[]){2, -1, INT_MAX, INT_MIN})); break;
    case 8: a->ws_bytes = ONE_OF(((const size_t[]){0, 1, SIZE_MAX, SIZE_MAX / 2})); break;
    case 9: if (a->ws_bytes) a->ws_bytes -= 1 + pick(a->ws_bytes); break;
    case 10: a->p = isinf(a->p) ? 2.0f : INFINITY; break; /* saved was sized for the other width */
    case 11: if (a->backward) a->gstride[pick(3)] = chance(50) ? edge_stride() : a->d - 1 - (int64_t)pick(2); break;
    default: if (a->backward) a->stride_gout = edge_stride(); else a->stride[pick(3)] = chance(50) ? 0 : a->d + 1; break;
    }
}

static void oracle_triplet(const triplet_args *a, expect *x) {
    uint32_t v = 0;
    size_t e = elem_of(a->dtype);
    int red_ok = a->reduction >= 0 && a->reduction <= 2, reduce = a->reduction != TRITIUM_REDUCTION_NONE;
    int sizes_ok = a->n >= 0 && a->d >= 0 && a->n <= INT32_MAX && a->d <= INT32_MAX;
    if (!red_ok || !e) v |= V_ENUM;
    if (a->n < 0 || a->d < 0) v |= V_SIZE;
    else if (!sizes_ok) v |= V_UNSUPPORTED;
    int strides_ok = a->stride[0] >= 0 && a->stride[1] >= 0 && a->stride[2] >= 0;
    if (!strides_ok) v |= V_STRIDE;
    if (!(a->p > 0.0f)) v |= V_VALUE;
    if (isinf(a->p) && a->p > 0 && a->d == 0) v |= V_SIZE;
    if (!isfinite(a->eps)) v |= V_VALUE;
    if (a->swap != 0 && a->swap != 1) v |= V_VALUE;
    if (!a->backward && !isfinite(a->margin)) v |= V_VALUE;
    int work = sizes_ok && a->n * a->d > 0, spans_ok = sizes_ok && strides_ok && e && red_ok;
    span sp[8] = {{0, 0, 1}};
    int ns = 0;
    for (int i = 0; i < 3; ++i) {
        if (e && work && !a->in[i]) v |= V_NULL;
        if (misaligned(a->in[i], e)) v |= V_MISALIGNED;
        if (spans_ok) {
            sp[i] = span_of(a->in[i], a->n, a->d, a->stride[i], 1, e);
            if (!sp[i].ok) v |= V_OVERFLOW, spans_ok = 0;
            add(x->touch, &x->ntouch, sp[i].lo, sp[i].hi);
        }
    }
    ns = 3;
    size_t saved_bytes = sizes_ok ? (size_t)a->n * saved_width(a->p) * 4 : 0;
    if (!a->backward) {
        int64_t outs = reduce ? 1 : a->n;
        size_t need = 0;
        if (e && sizes_ok && red_ok && outs > 0 && !a->out) v |= V_NULL;
        if (misaligned(a->out, e)) v |= V_MISALIGNED;
        if (a->saved && misaligned(a->saved, 4)) v |= V_MISALIGNED;
        if (misaligned(a->ws, 4)) v |= V_MISALIGNED;
        if (sizes_ok && red_ok) {
            tritium_triplet_margin_loss_workspace_size(a->n, a->d, (tritium_reduction)a->reduction, &need);
            if (a->ws_bytes < need) v |= V_WORKSPACE;
            if (need && !a->ws) v |= V_NULL;
        }
        if (spans_ok) {
            sp[ns++] = span_of(a->out, outs, 1, 1, 1, e);
            sp[ns++] = bytes_at(a->saved, a->saved ? saved_bytes : 0);
            sp[ns++] = bytes_at(a->ws, need);
            for (int i = 3; i < ns; ++i)
                if (!sp[i].ok) v |= V_OVERFLOW, spans_ok = 0;
            for (int i = 3; i < ns && spans_ok; ++i)
                for (int j = 0; j < i; ++j)
                    if (meet(sp[i], sp[j])) v |= V_VALUE;
            for (int i = 3; i < ns; ++i) {
                add(x->write, &x->nwrite, sp[i].lo, sp[i].hi); /* out is contiguous */
                add(x->touch, &x->ntouch, sp[i].lo, sp[i].hi);
            }
        }
        x->driver = outs > 0;
        return (void)(x->violations = v);
    }
    /* the backward: grad_out and saved are read, the gradients written */
    if (e && work && !a->gout) v |= V_NULL;
    if (misaligned(a->gout, e)) v |= V_MISALIGNED;
    if (a->stride_gout < 0) v |= V_STRIDE;
    if (work && !a->saved) v |= V_NULL;
    if (misaligned(a->saved, 4)) v |= V_MISALIGNED;
    for (int i = 0; i < 3; ++i) {
        if (misaligned(a->grad[i], e)) v |= V_MISALIGNED;
        if (a->gstride[i] < 0) v |= V_STRIDE;
        else if (a->grad[i] && sizes_ok && self_overlap(a->n, a->d, a->gstride[i], 1)) v |= V_STRIDE;
    }
    if (spans_ok && a->stride_gout >= 0) {
        sp[ns++] = span_of(a->gout, work ? (reduce ? 1 : a->n) : 0, 1, a->stride_gout, 1, e);
        sp[ns++] = bytes_at(a->saved, work ? saved_bytes : 0);
        for (int i = 0; i < 3; ++i)
            sp[ns++] = a->gstride[i] >= 0 ? span_of(a->grad[i], a->grad[i] ? a->n : 0, a->d, a->gstride[i], 1, e)
                                          : (span){0, 0, 1};
        for (int i = 3; i < ns; ++i)
            if (!sp[i].ok) v |= V_OVERFLOW, spans_ok = 0;
        for (int i = 5; i < ns && spans_ok; ++i)
            for (int j = 0; j < i; ++j)
                if (meet(sp[i], sp[j])) v |= V_VALUE;
        for (int i = 3; i < ns; ++i) add(x->touch, &x->ntouch, sp[i].lo, sp[i].hi);
        /* the gradients' elements (rows of d, at their stride) */
        for (int i = 0; i < 3; ++i)
            if (a->grad[i] && spans_ok)
                x->grid[x->ngrid++] = (struct grid){(uintptr_t)a->grad[i], a->n, a->d, a->gstride[i], 1, e};
    }
    x->driver = work && (a->grad[0] || a->grad[1] || a->grad[2]);
    x->violations = v;
}

static tritium_status call_triplet(const triplet_args *a, CUstream s) {
    if (!a->backward)
        return tritium_triplet_margin_loss((tritium_dtype)a->dtype, a->n, a->d, a->in[0], a->stride[0], a->in[1],
                                           a->stride[1], a->in[2], a->stride[2], a->margin, a->p, a->eps, a->swap,
                                           (tritium_reduction)a->reduction, a->out, a->saved, a->ws, a->ws_bytes, s);
    return tritium_triplet_margin_loss_backward(
        (tritium_dtype)a->dtype, a->n, a->d, a->in[0], a->stride[0], a->in[1], a->stride[1], a->in[2], a->stride[2],
        a->p, a->eps, a->swap, (tritium_reduction)a->reduction, a->gout, a->stride_gout, a->saved, a->grad[0],
        a->gstride[0], a->grad[1], a->gstride[1], a->grad[2], a->gstride[2], s);
}

/* ---- matmul: arguments, generator, oracle ---------------------------------------------- */

typedef struct matmul_args {
    int dtype, precision;
    int64_t m, n, k, sa[2], sb[2], sc[2];
    void *a, *b, *c, *ws;
    size_t ws_bytes;
    int force_path, force_split, forced; /* forced: a config is in force for this call */
    int32_t config[6];
} matmul_args;

static void describe_matmul(const matmul_args *a, char *buf, size_t size) {
    snprintf(buf, size,
             "matmul(dtype=%d prec=%d m=%lld n=%lld k=%lld a=%#lx (%lld,%lld) b=%#lx (%lld,%lld) c=%#lx (%lld,%lld) "
             "ws=%#lx/%zu)%s [arena %#lx]",
             a->dtype, a->precision, (long long)a->m, (long long)a->n, (long long)a->k, (unsigned long)(uintptr_t)a->a,
             (long long)a->sa[0], (long long)a->sa[1], (unsigned long)(uintptr_t)a->b, (long long)a->sb[0],
             (long long)a->sb[1], (unsigned long)(uintptr_t)a->c, (long long)a->sc[0], (long long)a->sc[1],
             (unsigned long)(uintptr_t)a->ws, a->ws_bytes, a->forced ? " under a forced config" : "",
             (unsigned long)arena.base);
}

/* strides of an r x c operand: row-major, column-major, padded, broadcast, or random */
static void gen_layout(int64_t r, int64_t c, int64_t st[2], int output) {
    switch (pick(output ? 3 : 6)) {
    case 0: st[0] = c, st[1] = 1; break;
    case 1: st[0] = 1, st[1] = r; break;
    case 2: st[0] = c + 1 + (int64_t)pick(8), st[1] = 1; break;
    case 3: st[0] = 0, st[1] = 1; break; /* every row the same */
    case 4: st[0] = c, st[1] = 0; break; /* every column the same */
    default: st[0] = (int64_t)pick(3 * (uint64_t)c + 2), st[1] = (int64_t)pick(4); break;
    }
}

static void gen_matmul(matmul_args *a) {
    memset(a, 0, sizeof *a);
    a->dtype = (int)pick(3);
    a->precision = (int)pick(2);
    a->m = chance(5) ? 0 : (int64_t)pick(49);
    a->n = chance(5) ? 0 : (int64_t)pick(49);
    a->k = chance(5) ? 0 : (int64_t)pick(49);
    gen_layout(a->m, a->k, a->sa, 0);
    gen_layout(a->k, a->n, a->sb, 0);
    gen_layout(a->m, a->n, a->sc, 1);
    size_t e = elem_of(a->dtype), need = 0;
    tritium_matmul_workspace_size((tritium_dtype)a->dtype, (tritium_precision)a->precision, a->m, a->n, a->k, &need);
    int wsk = (int)pick(4);
    a->ws_bytes = wsk == 0 ? 0 : wsk == 1 ? need : wsk == 2 ? pick(need + 1) : need + 256 * pick(16);
    void **slot[4] = {&a->a, &a->b, &a->c, &a->ws};
    size_t bytes[4] = {(size_t)span_of(NULL, a->m, a->k, a->sa[0], a->sa[1], e).hi,
                       (size_t)span_of(NULL, a->k, a->n, a->sb[0], a->sb[1], e).hi,
                       (size_t)span_of(NULL, a->m, a->n, a->sc[0], a->sc[1], e).hi, a->ws_bytes};
    size_t align[4] = {chance(50) ? 16 : e, chance(50) ? 16 : e, chance(50) ? 16 : e, 256};
    int order[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; --i) {
        int j = (int)pick((uint64_t)i + 1), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    placer pl = {pick(4096)};
    for (int i = 0; i < 4; ++i) *slot[order[i]] = place(&pl, bytes[order[i]], align[order[i]]);
    if (a->ws_bytes == 0 && chance(50)) a->ws = NULL;
}

static void mutate_matmul(matmul_args *a) {
    void **ptrs[4] = {&a->a, &a->b, &a->c, &a->ws};
    int64_t *strides[6] = {&a->sa[0], &a->sa[1], &a->sb[0], &a->sb[1], &a->sc[0], &a->sc[1]};
    int64_t *extents[3] = {&a->m, &a->n, &a->k};
    switch (pick(11)) {
    case 0: a->dtype = edge_enum(); break;
    case 1: a->precision = edge_enum(); break;
    case 2: *extents[pick(3)] = edge_extent(); break;
    case 3: *strides[pick(6)] = edge_stride(); break;
    case 4: {
        void **p = ptrs[pick(4)];
        *p = edge_pointer(*p);
        break;
    }
    case 5: { /* C onto A or B, or the workspace onto any of them */
        int dst = chance(50) ? 2 : 3, src = (int)pick(3);
        if (*ptrs[src]) *ptrs[dst] = (char *)*ptrs[src] + (dst == 3 ? 0 : 4 * pick(8));
        break;
    }
    case 6: { /* C overlapping itself */
        static const int64_t bad[][2] = {{1, 1}, {0, 1}, {1, 0}, {2, 3}, {3, 2}};
        int i = (int)pick(6);
        if (i == 5) a->sc[0] = a->n > 1 ? a->n - 1 : 0, a->sc[1] = 1;
        else a->sc[0] = bad[i][0], a->sc[1] = bad[i][1];
        break;
    }
    case 7: a->ws_bytes = ONE_OF(((const size_t[]){SIZE_MAX, SIZE_MAX - 255, (size_t)1 << 63, 1, 256})); break;
    case 8: a->ws = (char *)a->ws + ONE_OF(((const int[]){1, 4, 16, 128, -256})); break;
    case 9: a->sc[0] = a->sc[1] = 0; break;
    default: *extents[pick(3)] = (int64_t)pick(4096); break; /* larger than its buffer */
    }
}

static void oracle_matmul(const matmul_args *a, expect *x) {
    uint32_t v = 0;
    size_t e = elem_of(a->dtype);
    if (!e || (a->precision != 0 && a->precision != 1)) v |= V_ENUM;
    int sizes_ok = a->m >= 0 && a->n >= 0 && a->k >= 0;
    if (!sizes_ok) v |= V_SIZE;
    else if (a->m > INT32_MAX || a->n > INT32_MAX || a->k > INT32_MAX / 3) v |= V_UNSUPPORTED, sizes_ok = 0;
    const int64_t *st[3] = {a->sa, a->sb, a->sc};
    int strides_ok = 1;
    for (int i = 0; i < 3; ++i) strides_ok &= st[i][0] >= 0 && st[i][1] >= 0;
    if (!strides_ok) v |= V_STRIDE;
    if (sizes_ok) {
        if (a->m * a->k > 0 && !a->a) v |= V_NULL;
        if (a->k * a->n > 0 && !a->b) v |= V_NULL;
        if (a->m * a->n > 0 && !a->c) v |= V_NULL;
    }
    if (misaligned(a->a, e) || misaligned(a->b, e) || misaligned(a->c, e) || misaligned(a->ws, 256))
        v |= V_MISALIGNED;
    if (a->ws_bytes && !a->ws) v |= V_NULL;
    if (sizes_ok && strides_ok && e) {
        span sa = span_of(a->a, a->m, a->k, a->sa[0], a->sa[1], e);
        span sb = span_of(a->b, a->k, a->n, a->sb[0], a->sb[1], e);
        span sc = span_of(a->c, a->m, a->n, a->sc[0], a->sc[1], e);
        span sw = bytes_at(a->ws, a->ws_bytes);
        if (!sa.ok || !sb.ok || !sc.ok) v |= V_OVERFLOW;
        else {
            if (self_overlap(a->m, a->n, a->sc[0], a->sc[1])) v |= V_STRIDE;
            if (meet(sc, sa) || meet(sc, sb)) v |= V_VALUE;
            /* a workspace that wraps the address space (overlap cannot be judged) */
            if (a->ws_bytes && !sw.ok) v |= V_OVERFLOW;
            else if (a->ws_bytes && (meet(sw, sa) || meet(sw, sb) || meet(sw, sc))) v |= V_VALUE;
        }
        add(x->touch, &x->ntouch, sa.lo, sa.hi);
        add(x->touch, &x->ntouch, sb.lo, sb.hi);
        add(x->touch, &x->ntouch, sc.lo, sc.hi);
        add(x->touch, &x->ntouch, sw.lo, sw.ok ? sw.hi : UINTPTR_MAX);
        x->grid[x->ngrid++] = (struct grid){(uintptr_t)a->c, a->m, a->n, a->sc[0], a->sc[1], e};
        add(x->write, &x->nwrite, sw.lo, sw.ok ? sw.hi : UINTPTR_MAX);
    }
    x->violations = v;
    x->driver = sizes_ok && a->m > 0 && a->n > 0;
    x->forced = a->forced;
}

static tritium_status call_matmul(const matmul_args *a, CUstream s) {
    return tritium_matmul((tritium_dtype)a->dtype, (tritium_precision)a->precision, a->m, a->n, a->k, a->a, a->sa[0],
                          a->sa[1], a->b, a->sb[0], a->sb[1], a->c, a->sc[0], a->sc[1], a->ws, a->ws_bytes, s);
}

/* ---- the run ------------------------------------------------------------------------- */

enum { EP_TRIPLET, EP_BACKWARD, EP_MATMUL, EP_TRIPLET_WS, EP_SAVED, EP_MATMUL_WS, EP_FORCE, EP_INFO, EP_COUNT,
       EP_STATUS_STRING, EP_VERSION, EP_LAST_ERROR, EP_SHIPPED, EP_N };
static const char *const ep_names[EP_N] = {
    "triplet_margin_loss", "triplet_margin_loss_backward", "matmul", "triplet_margin_loss_workspace_size",
    "triplet_margin_loss_saved_size", "matmul_workspace_size", "matmul_force_config", "device_info", "device_count",
    "status_string", "version", "last_error", "shipped_archs"};

static struct {
    long calls, rejected, accepted, skipped, guard, mismatch;
    long by_status[NSTATUS], by_ep[EP_N];
    int verbose;
} st;
static tritium_status env_status; /* tritium_device_count's status: SUCCESS with a GPU */
static int env_devices;
static size_t baseline_ws;        /* the unforced workspace of a fixed shape: the forced state shows in it */

static void problem(const char *kind, const char *what, const char *detail) {
    if (st.guard + st.mismatch <= 25) printf("%s: %s: %s\n", kind, detail, what);
}

/* All arena and box bytes equal their canaries, except bytes a successful call may write
 * (mask); restores what changed. */
static void check_memory(const expect *x, int success, long index) {
    if (arena.gpu) {
        CU_OK(cu.CtxSynchronize());
        CU_OK(cu.MemcpyDtoH(arena.readback, (CUdeviceptr)arena.base, ARENA_BYTES));
    } else {
        memcpy(arena.readback, (const void *)arena.base, ARENA_BYTES);
    }
    char detail[160];
    if (memcmp(arena.readback, arena.canary, ARENA_BYTES) != 0) {
        memset(arena.mask, 0, ARENA_BYTES);
        for (int i = 0; success && i < x->nwrite; ++i) {
            uintptr_t lo = x->write[i].lo, hi = x->write[i].hi;
            if (hi <= arena.base || lo >= arena.base + ARENA_BYTES) continue;
            lo = lo < arena.base ? arena.base : lo;
            hi = hi > arena.base + ARENA_BYTES ? arena.base + ARENA_BYTES : hi;
            memset(arena.mask + (lo - arena.base), 1, hi - lo);
        }
        for (int g = 0; success && g < x->ngrid; ++g) {
            const struct grid *w = &x->grid[g];
            for (int64_t r = 0; r < w->rows; ++r)
                for (int64_t c = 0; c < w->cols; ++c) {
                    uintptr_t at = w->base + (uintptr_t)((r * w->rs + c * w->cs) * (int64_t)w->elem);
                    if (at >= arena.base && at + w->elem <= arena.base + ARENA_BYTES)
                        memset(arena.mask + (at - arena.base), 1, w->elem);
                }
        }
        for (size_t i = 0; i < ARENA_BYTES; ++i)
            if (arena.readback[i] != arena.canary[i] && !arena.mask[i]) {
                ++st.guard;
                snprintf(detail, sizeof detail, "call %ld wrote arena byte %zu (%s call)", index, i,
                         success ? "successful" : "rejected");
                problem("GUARD VIOLATION", x->what, detail);
                break;
            }
        if (arena.gpu)
            CU_OK(cu.MemcpyHtoD((CUdeviceptr)arena.base, arena.canary, ARENA_BYTES));
        else
            memcpy((void *)arena.base, arena.canary, ARENA_BYTES);
    }
    if (memcmp(box, box_canary, BOX_BYTES) != 0) {
        memset(box_mask, 0, BOX_BYTES);
        for (int i = 0; (success || x->box_always) && i < x->nbox; ++i)
            memset(box_mask + x->boxw[i].lo, 1, x->boxw[i].hi - x->boxw[i].lo);
        for (size_t i = 0; i < BOX_BYTES; ++i)
            if (box[i] != box_canary[i] && !box_mask[i]) {
                ++st.guard;
                snprintf(detail, sizeof detail, "call %ld wrote host output byte %zu", index, i);
                problem("GUARD VIOLATION", x->what, detail);
                break;
            }
        memcpy(box, box_canary, BOX_BYTES);
    }
}

/* Judges one call's status against the oracle and the memory against the canaries. */
static void judge(int ep, tritium_status s, const expect *x, long index) {
    ++st.calls;
    ++st.by_ep[ep];
    int si = sidx(s);
    if (si >= 0) ++st.by_status[si];
    const char *msg = tritium_last_error();
    char detail[700];
    const char *bad = NULL;
    int valid = x->violations == 0;
    if (si < 0) bad = "an undocumented status";
    else if (!valid && !(x->violations & (1u << si))) bad = "a status none of the arguments' violations justify";
    else if (valid && s != TRITIUM_SUCCESS) {
        int ok = x->driver && s == env_status;
        ok |= x->driver && x->forced && env_status == TRITIUM_SUCCESS &&
              (s == TRITIUM_ERROR_NOT_SUPPORTED || s == TRITIUM_ERROR_WORKSPACE_TOO_SMALL);
        if (!ok) bad = "valid arguments rejected";
    } else if (valid && s == TRITIUM_SUCCESS && x->driver && env_status != TRITIUM_SUCCESS)
        bad = "success without a device";
    if (!bad && s != TRITIUM_SUCCESS && msg[0] == '\0') bad = "a failure with an empty tritium_last_error()";
    if (!bad && s == TRITIUM_SUCCESS && msg[0] != '\0') bad = "a success with a non-empty tritium_last_error()";
    if (!bad && strlen(msg) >= 512) bad = "an over-long tritium_last_error()";
    if (bad) {
        ++st.mismatch;
        snprintf(detail, sizeof detail, "call %ld: %s: got %d (%s: %s), violations %#x", index, bad, (int)s,
                 tritium_status_string(s), msg, x->violations);
        problem("STATUS MISMATCH", x->what, detail);
    } else if (st.verbose) {
        printf("ok %ld %s -> %d %s\n", index, x->what, (int)s, msg);
    }
    if (valid && (s == TRITIUM_SUCCESS || s == env_status)) ++st.accepted;
    else ++st.rejected;
    check_memory(x, s == TRITIUM_SUCCESS, index);
}

/* Valid vectors on a GPU run only if everything they touch lies in the arena. */
static int runnable(const expect *x) {
    if (!arena.gpu || x->violations || !x->driver) return 1;
    for (int i = 0; i < x->ntouch; ++i)
        if (x->touch[i].lo < arena.base || x->touch[i].hi > arena.base + ARENA_BYTES) return 0;
    return 1;
}

static CUstream pick_stream(void) { return arena.gpu && chance(50) ? arena.stream : NULL; }

static void *box_ptr(size_t at) { return box + at; }

static void box_write(expect *x, size_t at, size_t bytes) { x->boxw[x->nbox++] = (region){at, at + bytes}; }

static void fuzz_triplet(long i, int backward) {
    triplet_args a;
    expect x;
    memset(&x, 0, sizeof x);
    gen_triplet(&a, backward);
    for (int m = (int)(chance(40) ? 0 : 1 + pick(3)); m > 0; --m) mutate_triplet(&a);
    describe_triplet(&a, x.what, sizeof x.what);
    oracle_triplet(&a, &x);
    if (!runnable(&x)) {
        ++st.skipped;
        return;
    }
    judge(backward ? EP_BACKWARD : EP_TRIPLET, call_triplet(&a, pick_stream()), &x, i);
}

/* The forced config is per thread and sticky: after a rejected force_config it must be
 * what it was (unforced here), which the workspace query of a fixed shape shows. */
static void check_unforced(long i, const char *after) {
    size_t ws = 0;
    tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 1024, 1024, 1024, &ws);
    if (ws != baseline_ws) {
        ++st.mismatch;
        char detail[160];
        snprintf(detail, sizeof detail, "call %ld: a forced config is in force after %s (workspace %zu, unforced %zu)",
                 i, after, ws, baseline_ws);
        problem("STATE", "matmul_force_config", detail);
    }
}

static void fuzz_force(long i, matmul_args *mm) {
    /* configs shipped for some dtype and layout (aot/manifest.py), and garbage; a config not
     * shipped for the call is NOT_SUPPORTED at the matmul, which the oracle allows */
    static const int32_t shipped[][6] = {{128, 128, 32, 8, 8, 3}, {16, 128, 32, 8, 4, 4}, {64, 128, 32, 8, 8, 3},
                                         {128, 128, 16, 8, 8, 3}, {64, 64, 128, 8, 8, 3}, {16, 128, 64, 8, 4, 4},
                                         {64, 64, 32, 8, 4, 4}, {128, 32, 32, 8, 4, 4}, {4, 1, 512, 1, 4, 1},
                                         {512, 1, 8, 1, 4, 1}};
    expect x;
    memset(&x, 0, sizeof x);
    int path = chance(80) ? 1 + (int)pick(4) : edge_enum();
    int32_t split = chance(80) ? 1 + (int32_t)pick(4) : (int32_t)edge_enum();
    int32_t *cfg = box_ptr(BOX_CONFIG_AT);
    if (chance(70)) memcpy(cfg, shipped[pick(10)], sizeof shipped[0]);
    else
        for (int j = 0; j < 6; ++j) cfg[j] = (int32_t)edge_enum();
    memcpy(box_canary + BOX_CONFIG_AT, cfg, 24); /* the config is an input */
    const int32_t *arg = chance(10) ? NULL : cfg;
    uint32_t v = 0;
    if (path < 0 || path > 4) v |= V_ENUM;
    if (path && !arg) v |= V_NULL;
    if (path && split < 1) v |= V_VALUE;
    x.violations = v;
    snprintf(x.what, sizeof x.what, "matmul_force_config(path=%d config=%s [%d %d %d %d %d %d] split=%d)", path,
             arg ? "box" : "NULL", (int)cfg[0], (int)cfg[1], (int)cfg[2], (int)cfg[3], (int)cfg[4], (int)cfg[5],
             (int)split);
    tritium_status s = tritium_matmul_force_config(path, arg, split);
    judge(EP_FORCE, s, &x, i);
    if (s != TRITIUM_SUCCESS) {
        check_unforced(i, "a rejected force_config");
        return;
    }
    mm->forced = path != 0;
}

static void fuzz_matmul(long i) {
    matmul_args a;
    expect x;
    memset(&x, 0, sizeof x);
    int force = chance(10);
    gen_matmul(&a);
    if (force) fuzz_force(i, &a);
    for (int m = (int)(chance(40) ? 0 : 1 + pick(3)); m > 0; --m) mutate_matmul(&a);
    describe_matmul(&a, x.what, sizeof x.what);
    oracle_matmul(&a, &x);
    if (runnable(&x))
        judge(EP_MATMUL, call_matmul(&a, pick_stream()), &x, i);
    else
        ++st.skipped;
    if (force) {
        expect off;
        memset(&off, 0, sizeof off);
        snprintf(off.what, sizeof off.what, "matmul_force_config(0, NULL, 1)");
        judge(EP_FORCE, tritium_matmul_force_config(0, NULL, 1), &off, i);
        check_unforced(i, "force_config(0)");
    }
}

/* the three size queries: extents and enums at the edges, bytes NULL or in the box */
static void fuzz_query(long i, int ep) {
    expect x;
    memset(&x, 0, sizeof x);
    size_t *bytes = chance(10) ? NULL : box_ptr(BOX_BYTES_AT);
    int64_t e1 = chance(60) ? (int64_t)pick(5000) : edge_extent(), e2 = chance(60) ? (int64_t)pick(5000) : edge_extent();
    int64_t e3 = chance(60) ? (int64_t)pick(5000) : edge_extent();
    int en1 = chance(80) ? (int)pick(3) : edge_enum(), en2 = chance(80) ? (int)pick(2) : edge_enum();
    float p = chance(70) ? ONE_OF(((const float[]){2.0f, 1.0f, INFINITY, 0.5f})) : edge_float();
    uint32_t v = bytes ? 0 : V_NULL;
    tritium_status s;
    if (ep == EP_TRIPLET_WS) {
        if (en1 < 0 || en1 > 2) v |= V_ENUM;
        if (e1 < 0 || e2 < 0) v |= V_SIZE;
        else if (e1 > INT32_MAX || e2 > INT32_MAX) v |= V_UNSUPPORTED;
        snprintf(x.what, sizeof x.what, "triplet_margin_loss_workspace_size(n=%lld d=%lld red=%d bytes=%s)",
                 (long long)e1, (long long)e2, en1, bytes ? "box" : "NULL");
        x.violations = v;
        s = tritium_triplet_margin_loss_workspace_size(e1, e2, (tritium_reduction)en1, bytes);
    } else if (ep == EP_SAVED) {
        if (e1 < 0 || e1 > INT32_MAX) v |= V_SIZE;
        if (!(p > 0.0f)) v |= V_VALUE;
        snprintf(x.what, sizeof x.what, "triplet_margin_loss_saved_size(n=%lld p=%g bytes=%s)", (long long)e1,
                 (double)p, bytes ? "box" : "NULL");
        x.violations = v;
        s = tritium_triplet_margin_loss_saved_size(e1, p, bytes);
        size_t want = (size_t)e1 * saved_width(p) * 4;
        if (s == TRITIUM_SUCCESS && *bytes != want) {
            ++st.mismatch;
            problem("VALUE", x.what, "the saved size is not 12 bytes a row (24 for p = inf)");
        }
    } else {
        if (!elem_of(en1) || (en2 != 0 && en2 != 1)) v |= V_ENUM;
        if (e1 < 0 || e2 < 0 || e3 < 0) v |= V_SIZE;
        else if (e1 > INT32_MAX || e2 > INT32_MAX || e3 > INT32_MAX / 3) v |= V_UNSUPPORTED;
        snprintf(x.what, sizeof x.what, "matmul_workspace_size(dtype=%d prec=%d m=%lld n=%lld k=%lld bytes=%s)", en1,
                 en2, (long long)e1, (long long)e2, (long long)e3, bytes ? "box" : "NULL");
        x.violations = v;
        s = tritium_matmul_workspace_size((tritium_dtype)en1, (tritium_precision)en2, e1, e2, e3, bytes);
        if (s == TRITIUM_SUCCESS && (e1 == 0 || e2 == 0) && *bytes != 0) {
            ++st.mismatch;
            problem("VALUE", x.what, "an empty product asks for workspace");
        }
    }
    box_write(&x, BOX_BYTES_AT, sizeof(size_t));
    judge(ep, s, &x, i);
}

static void fuzz_info(long i) {
    expect x;
    memset(&x, 0, sizeof x);
    static const int ordinals[] = {-1, 0, 0, 0, 1, 2, 7, 63, 64, INT_MAX, INT_MIN};
    static const size_t sizes[] = {0, 1, 2, 7, 16, 64, 100, BOX_STRING_MAX};
    int ordinal = ONE_OF(ordinals);
    int *major = chance(8) ? NULL : box_ptr(BOX_MAJOR_AT), *minor = chance(8) ? NULL : box_ptr(BOX_MINOR_AT);
    char *name = chance(8) ? NULL : box_ptr(BOX_NAME_AT), *image = chance(8) ? NULL : box_ptr(BOX_IMAGE_AT);
    size_t name_size = ONE_OF(sizes), image_size = ONE_OF(sizes);
    /* claimed lengths past the buffers only where nothing may be written */
    uint32_t v = 0;
    if (!major || !minor) v |= V_NULL;
    if ((!name && name_size) || (!image && image_size)) v |= V_NULL;
    int post = 0; /* a status the driver stage decides */
    if (!v && env_status == TRITIUM_SUCCESS && (ordinal < 0 || ordinal >= env_devices)) post = 1;
    x.violations = v | (post ? V_VALUE : 0);
    x.driver = !v && !post;
    snprintf(x.what, sizeof x.what, "device_info(ordinal=%d major=%s minor=%s name=%s/%zu image=%s/%zu)", ordinal,
             major ? "box" : "NULL", minor ? "box" : "NULL", name ? "box" : "NULL", name_size,
             image ? "box" : "NULL", image_size);
    box_write(&x, BOX_MAJOR_AT, 4);
    box_write(&x, BOX_MINOR_AT, 4);
    if (name) box_write(&x, BOX_NAME_AT, name_size);
    if (image) box_write(&x, BOX_IMAGE_AT, image_size);
    tritium_status s = tritium_device_info(ordinal, major, minor, name, name_size, image, image_size);
    if (s == TRITIUM_SUCCESS && image_size && !memchr(image, '\0', image_size)) {
        ++st.mismatch;
        problem("VALUE", x.what, "the image string is not terminated within image_size");
    }
    judge(EP_INFO, s, &x, i);
}

static void fuzz_misc(long i, int ep) {
    expect x;
    memset(&x, 0, sizeof x);
    tritium_status s = TRITIUM_SUCCESS;
    const char *bad = NULL;
    if (ep == EP_COUNT) {
        int *count = chance(20) ? NULL : box_ptr(BOX_COUNT_AT);
        x.violations = count ? 0 : V_NULL;
        x.driver = 1;
        snprintf(x.what, sizeof x.what, "device_count(count=%s)", count ? "box" : "NULL");
        box_write(&x, BOX_COUNT_AT, sizeof(int));
        x.box_always = 1; /* documented: the count is 0 when there is no driver or device */
        s = tritium_device_count(count);
        if (count && *count != (s == TRITIUM_SUCCESS ? env_devices : 0)) bad = "a wrong device count";
        judge(ep, s, &x, i);
    } else {
        /* calls that cannot fail: check their values, and that they leave the thread's
         * detail message alone is not promised; the status is SUCCESS by construction */
        int val = chance(50) ? (int)documented[pick(NSTATUS)] : (int)rng_next(&R);
        const char *str = NULL;
        if (ep == EP_STATUS_STRING) {
            str = tritium_status_string((tritium_status)val);
            snprintf(x.what, sizeof x.what, "status_string(%d)", val);
            if (!str || !str[0]) bad = "an empty status string";
            else if ((sidx((tritium_status)val) >= 0) == (strcmp(str, "unknown status") == 0))
                bad = "a status string that does not match the header's statuses";
        } else if (ep == EP_VERSION) {
            snprintf(x.what, sizeof x.what, "version()");
            if (tritium_version() != TRITIUM_VERSION_NUMBER || strcmp(tritium_version_string(), TRITIUM_VERSION_STRING))
                bad = "a version other than the header's";
        } else if (ep == EP_LAST_ERROR) {
            snprintf(x.what, sizeof x.what, "last_error()");
            str = tritium_last_error();
            if (!str) bad = "a NULL last error";
        } else {
            snprintf(x.what, sizeof x.what, "shipped_archs()");
            str = tritium_shipped_archs();
            if (!str || strncmp(str, "sm_", 3) != 0) bad = "shipped archs that do not start with sm_";
        }
        ++st.calls;
        ++st.by_ep[ep];
        ++st.by_status[0];
        ++st.accepted;
        check_memory(&x, 1, i);
    }
    if (bad) {
        ++st.mismatch;
        problem("VALUE", x.what, bad);
    }
}

int main(int argc, char **argv) {
    uint64_t seed = 1;
    long count = 20000;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atol(argv[++i]);
        else if (!strcmp(argv[i], "--verbose")) st.verbose = 1;
        else {
            fprintf(stderr, "usage: tritium_fuzz_api [--seed S] [--count N] [--verbose]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    R = seed;
    char why[256] = "";
    int gpus = cu_open(why, sizeof why);
    if (gpus > 0) {
        CU_OK(cu.CtxSetCurrent(cu_primary(0)));
        CU_OK(cu.StreamCreate(&arena.stream, CU_STREAM_NON_BLOCKING));
    } else {
        dev_fake = 1;
    }
    arena_init(gpus > 0);
    env_status = tritium_device_count(&env_devices);
    tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 1024, 1024, 1024, &baseline_ws);
    printf("tritium %s: %s (%s); arena of %d bytes in %s memory\n", tritium_version_string(),
           gpus > 0 ? "GPU" : "no GPU", tritium_status_string(env_status), ARENA_BYTES, gpus > 0 ? "device" : "host");
    /* weights: the launching entry points most, every entry point often */
    static const int weights[EP_N] = {22, 20, 26, 5, 5, 5, 0, 4, 3, 3, 2, 2, 3};
    int total = 0;
    for (int e = 0; e < EP_N; ++e) total += weights[e];
    for (long i = 0; i < count; ++i) {
        int r = (int)pick((uint64_t)total), ep = 0;
        while (r >= weights[ep]) r -= weights[ep++];
        switch (ep) {
        case EP_TRIPLET: fuzz_triplet(i, 0); break;
        case EP_BACKWARD: fuzz_triplet(i, 1); break;
        case EP_MATMUL: fuzz_matmul(i); break; /* with force_config before it, 10% of the time */
        case EP_TRIPLET_WS: case EP_SAVED: case EP_MATMUL_WS: fuzz_query(i, ep); break;
        case EP_INFO: fuzz_info(i); break;
        default: fuzz_misc(i, ep); break;
        }
    }
    printf("fuzz: %ld calls, %ld rejected (by status:", st.calls, st.rejected);
    for (int k = 0; k < NSTATUS; ++k)
        if (st.by_status[k] && documented[k] != TRITIUM_SUCCESS && documented[k] != env_status)
            printf(" %d=%ld", (int)documented[k], st.by_status[k]);
    printf("), %ld accepted (%ld success", st.accepted, st.by_status[0]);
    if (env_status != TRITIUM_SUCCESS)
        printf(", %ld %s", st.by_status[sidx(env_status)], tritium_status_string(env_status));
    printf("), %ld skipped (valid, reaching outside the arena), %ld guard violations, %ld status mismatches, seed %llu\n",
           st.skipped, st.guard, st.mismatch, (unsigned long long)seed);
    printf("by entry point:");
    for (int e = 0; e < EP_N; ++e) printf(" %s=%ld", ep_names[e], st.by_ep[e]);
    printf("\n");
    return st.guard || st.mismatch ? 1 : 0;
}
