/* tritium_matmul: checks, the choice of path and config (tuning table), launches.
 * Kernels: python/tritium/kernels/matmul.py (_matmul_kernel, _matmul_pack_kernel,
 * _matmul_packed_kernel, _matmul_streamed_kernel, _matmul_gemv_kernel,
 * _matmul_reduce_kernel); the paths are described there. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

/* pack modes of _matmul_pack_kernel */
enum { PACK_COPY = 0, PACK_TF32 = 1, PACK_3X_A = 2, PACK_3X_B = 3, PACK_SPLIT = 4 };

/* paths (tritium_matmul_tuning.path; tritium_matmul_force_config's path is one more) */
enum { PATH_DIRECT = 0, PATH_PACKED = 1, PATH_STREAMED = 2, PATH_GEMV = 3 };

/* one problem, strides normalized (those of extent-1 dims are never used) */
typedef struct mm_problem {
    tritium_dtype dtype;
    int prec;                      /* 0 highest, 1 high; 0 for fp16/bf16 */
    int64_t m, n, k;
    int64_t sam, sak, sbk, sbn, scm, scn;
    int layout;                    /* the direct kernel's class (layout_a, layout_b, layout_aligned) */
    int c_layout;                  /* C alone (the packed kernel's): 0 general strides, 1 unit, 2 unit + aligned */
    int x_layout, x_aligned;       /* the streamed and gemv kernels' X: its XL, and whether aligned variants fit */
    int v_unit;                    /* the gemv kernel's v: 16-byte aligned, unit stride (its aligned variants' V1) */
    int align;                     /* the tuning class (tritium_matmul_tuning.align): 2 sizes and strides
                                      multiples of 16 elements, 1 of 16 bytes only, 0 neither */
} mm_problem;

/* The streamed path's operands: X (R x K) read in place, Y (S rows of K) packed, C seen as
 * R x S. Skinny M (m < n) swaps: C^T = B^T A^T. At m == n either side may be X: A where
 * its K is contiguous (an XL 2 read: on sm_90 only those have the 8-warp tiles, see
 * aot/manifest.py), else B^T. The gemv path (S = 1) reads the same X, Y's one row being
 * its vector v (strides ysr, ysc) and C's one column its y (stride scr). */
typedef struct mm_streamed {
    int swap;
    int64_t r, s;
    int64_t sxr, sxk;              /* X */
    int64_t ysr, ysc;              /* Y's source: row and K strides */
    int64_t scr, scs;              /* C as R x S */
} mm_streamed;

static mm_streamed streamed_geometry(const mm_problem *p) {
    mm_streamed g;
    g.swap = p->m < p->n || (p->m == p->n && p->sak != 1);
    if (g.swap) {
        g.r = p->n, g.s = p->m, g.sxr = p->sbn, g.sxk = p->sbk, g.ysr = p->sam, g.ysc = p->sak;
        g.scr = p->scn, g.scs = p->scm;
    } else {
        g.r = p->m, g.s = p->n, g.sxr = p->sam, g.sxk = p->sak, g.ysr = p->sbn, g.ysc = p->sbk;
        g.scr = p->scm, g.scs = p->scn;
    }
    return g;
}

/* The direct kernel's layout classes (aot/manifest.py, MATMUL_LAYOUTS): 0 general strides;
 * else 1 + 2 * (2 * (A_K1 - 1) + (B_N1 - 1)) + aligned, where A_K1 is 1 for a row-major A (K
 * stride 1) and 2 for a column-major one (M stride 1), B_N1 1 for a row-major B and 2 for a
 * column-major one (K stride 1), C row-major. */
static int layout_a(int layout) { return layout ? 1 + (layout - 1) / 4 : 0; }
static int layout_b(int layout) { return layout ? 1 + (layout - 1) / 2 % 2 : 0; }
static int layout_aligned(int layout) { return layout > 0 && layout % 2 == 0; }

/* what a call runs */
typedef struct mm_plan {
    int variant;                   /* the product kernel's variant */
    int path, split;
    int64_t kp, chunk;             /* packed row length; K range per split (elements) */
    size_t b_offset, part_offset, bytes;  /* workspace layout and size */
} mm_plan;

/* the config a tuning tool forces on this thread (path 0: none) */
static _Thread_local struct { int path; int32_t cfg[6]; int32_t split; } forced;

/* a * b + c in size_t; 0 on overflow */
static int size_mad(size_t a, size_t b, size_t c, size_t *out) {
    size_t ab;
    return !__builtin_mul_overflow(a, b, &ab) && !__builtin_add_overflow(ab, c, out);
}

static int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

/* a matrix-vector product: the shapes the gemv path serves */
static int is_gemv(const mm_problem *p) { return p->m == 1 || p->n == 1; }

/* Fills the plan's sizes for variant v (path and split as asked; split clamped to K).
 * Returns 0 if the plan cannot be used: its workspace would not fit in a size_t, or its
 * K split would not fit a grid (65535). */
static int plan_sizes(const mm_problem *p, int v, int path, int split, mm_plan *pl) {
    const tritium_variant *var = &tritium_variants[v];
    size_t elem = tritium_dtype_size(p->dtype);
    int64_t bk = path == PATH_PACKED     ? var->params[TRITIUM_P_MATMUL_PACKED_BLOCK_K]
                 : path == PATH_STREAMED ? var->params[TRITIUM_P_MATMUL_STREAMED_BLOCK_K]
                 : path == PATH_GEMV     ? var->params[TRITIUM_P_MATMUL_GEMV_BLOCK_K]
                                         : var->params[TRITIUM_P_MATMUL_BLOCK_K];
    int64_t kk = p->k;
    pl->variant = v;
    pl->path = path;
    pl->kp = 0;
    pl->b_offset = 0;
    if (path == PATH_PACKED) {
        int64_t kx = p->dtype == TRITIUM_FLOAT32 && p->prec == 0 ? 3 * p->k : p->k; /* 3xTF32 triples K */
        pl->kp = kk = round_up(kx, TRITIUM_MATMUL_KP_ALIGN);
    } else if (path == PATH_STREAMED) {
        pl->kp = round_up(p->k, TRITIUM_MATMUL_KP_ALIGN); /* K itself is looped over, masked in X */
    }
    int64_t blocks = (kk + bk - 1) / bk, s = split < 1 ? 1 : split;
    if (s > blocks) s = blocks > 0 ? blocks : 1;
    pl->chunk = ((blocks + s - 1) / s) * bk;
    pl->split = (int)(pl->chunk > 0 ? (kk + pl->chunk - 1) / pl->chunk : 1);
    if (pl->split < 1) pl->split = 1;
    if (pl->split > 65535) return 0;
    size_t off = 0, a_bytes, b_bytes, mn;
    if (path == PATH_STREAMED) { /* Y: S rows of kp, one plane ('high') or hi and lo ('highest') */
        int64_t rows = (p->prec == 0 ? 2 : 1) * streamed_geometry(p).s;
        if (!size_mad((size_t)rows * (size_t)pl->kp, elem, 255, &off)) return 0;
        off = off / 256 * 256;
    }
    if (path == PATH_PACKED) {
        if (!size_mad((size_t)(p->m * pl->kp), elem, 255, &a_bytes) ||
            !size_mad((size_t)(p->n * pl->kp), elem, 255, &b_bytes) || !size_mad(a_bytes / 256, 256, 0, &a_bytes) ||
            !size_mad(b_bytes / 256, 256, a_bytes, &off))
            return 0;
        pl->b_offset = a_bytes;
    }
    pl->part_offset = off;
    if (!size_mad((size_t)p->m, (size_t)p->n, 0, &mn) ||
        !size_mad(pl->split > 1 ? (size_t)pl->split * sizeof(float) : 0, mn, off, &pl->bytes))
        return 0;
    return 1;
}

/* The variant of `kernel` for this dtype and alignment whose params are lead[] then cfg's
 * tile (BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M) and whose warps/stages are cfg[4], cfg[5]. -1 if
 * the build has none. */
static int find_variant(int kernel, const mm_problem *p, int aligned, const int32_t *lead, int nlead,
                        const int32_t cfg[6]) {
    int first = tritium_kernel_first[kernel], end = first + tritium_kernel_count[kernel];
    for (int i = first; i < end; ++i) {
        const tritium_variant *v = &tritium_variants[i];
        if (v->dtype != p->dtype) continue;
        if ((v->aligned != 0) != aligned) continue; /* matmul variants are 16-byte aligned or not */
        int ok = 1;
        for (int j = 0; j < nlead && ok; ++j) ok = v->params[j] == lead[j];
        for (int j = 0; j < 4 && ok; ++j) ok = v->params[nlead + j] == cfg[j];
        if (ok && v->num_warps == cfg[4] && v->num_stages == cfg[5]) return i;
    }
    return -1;
}

static int find_simple(int kernel, tritium_dtype dtype, int32_t p0, int32_t p1) {
    int first = tritium_kernel_first[kernel], end = first + tritium_kernel_count[kernel];
    for (int i = first; i < end; ++i) {
        const tritium_variant *v = &tritium_variants[i];
        if (v->dtype == dtype && (p0 < 0 || v->params[0] == p0) && (p1 < 0 || v->params[1] == p1)) return i;
    }
    return -1;
}

/* the pack mode of the packed path's A (side 0) or B (side 1), or (side 2) of the streamed path's Y */
static int pack_mode(const mm_problem *p, int side) {
    if (p->dtype != TRITIUM_FLOAT32) return PACK_COPY;
    if (side == 2) return p->prec == 1 ? PACK_TF32 : PACK_SPLIT;
    return p->prec == 1 ? PACK_TF32 : side ? PACK_3X_B : PACK_3X_A;
}

/* The split reduce's variant: for the gemv path's y (taken as 1 x R) with a unit stride the
 * row tile (BLOCK_M 1), else the tile of C; C_N1 where C's column stride (as the reduce
 * sees C) is 1 (aot/manifest.py, MATMUL_REDUCE_TILES). -1 if none. */
static int reduce_variant(tritium_dtype dtype, int gemv, int c_n1) {
    int first = tritium_kernel_first[TRITIUM_K_MATMUL_REDUCE], end = first + tritium_kernel_count[TRITIUM_K_MATMUL_REDUCE];
    for (int i = first; i < end; ++i) {
        const int32_t *prm = tritium_variants[i].params;
        if (tritium_variants[i].dtype == dtype && (prm[TRITIUM_P_MATMUL_REDUCE_BLOCK_M] == 1) == (gemv && c_n1) &&
            prm[TRITIUM_P_MATMUL_REDUCE_C_N1] == c_n1)
            return i;
    }
    return -1;
}

/* The variants besides the main one that a plan launches are shipped for the call's device
 * (the reduce for a split; the pack kernels of the packed and streamed paths). */
static int usable(const tritium_call *call, const mm_problem *p, int v, int path, int split) {
    if (!call) return 1;
    if (tritium_select_image(v, call->arch, call->max_shared) < 0) return 0;
    if (split > 1) {
        for (int c_n1 = 0; c_n1 < 2; ++c_n1) { /* the call's C decides which: both must be there */
            int r = reduce_variant(p->dtype, path == PATH_GEMV, c_n1);
            if (r < 0 || tritium_select_image(r, call->arch, call->max_shared) < 0) return 0;
        }
    }
    /* the pack kernels: pack_mode's sides 0 and 1 (packed) or 2 (streamed), none (direct, gemv) */
    int first_side = path == PATH_STREAMED ? 2 : 0, end_side = path == PATH_PACKED ? 2 : path == PATH_STREAMED ? 3 : 0;
    for (int side = first_side; side < end_side; ++side)
        for (int src = 0; src < 3; ++src) {
            int pv = find_simple(TRITIUM_K_MATMUL_PACK, p->dtype, pack_mode(p, side), src);
            if (pv < 0 || tritium_select_image(pv, call->arch, call->max_shared) < 0) return 0;
        }
    return 1;
}

/* Whether variant v on `path` with this split can run the call within ws_bytes of
 * workspace; fills the plan if so. */
static int fits(const tritium_call *call, const mm_problem *p, int v, int path, int split, size_t ws_bytes,
                mm_plan *pl) {
    return usable(call, p, v, path, split) && plan_sizes(p, v, path, split, pl) && pl->bytes <= ws_bytes;
}

/* The tile config (BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, warps, stages) of a matmul variant
 * whose four tile params start at slot first_tile_param. */
static void variant_config(int v, int first_tile_param, int32_t cfg[6]) {
    const tritium_variant *var = &tritium_variants[v];
    for (int j = 0; j < 4; ++j) cfg[j] = var->params[first_tile_param + j];
    cfg[4] = var->num_warps;
    cfg[5] = var->num_stages;
}

/* The streamed variant of config cfg for this problem's X: its XL and alignment where
 * shipped, else the general one. -1 if none. */
static int streamed_variant(const mm_problem *p, const int32_t cfg[6]) {
    int32_t lead[2] = {p->prec, p->x_layout};
    int v = find_variant(TRITIUM_K_MATMUL_STREAMED, p, p->x_aligned, lead, 2, cfg);
    if (v < 0 && p->x_aligned) v = find_variant(TRITIUM_K_MATMUL_STREAMED, p, 0, lead, 2, cfg);
    lead[1] = 0;
    if (v < 0) v = find_variant(TRITIUM_K_MATMUL_STREAMED, p, 0, lead, 2, cfg);
    return v;
}

/* The gemv variant of config cfg for this problem's X: its XL, aligned (X and v: V1) where
 * the call allows, else unaligned. -1 if the build has none (each XL has its own tiles,
 * general strides those of XL 2, the pipelined ones aligned only; aot/manifest.py,
 * MATMUL_GEMV_CONFIGS) or the shape is no gemv. */
static int gemv_variant(const mm_problem *p, const int32_t cfg[6]) {
    if (!is_gemv(p)) return -1;
    int32_t lead[4] = {p->prec, p->x_layout, 1, cfg[5]}; /* PRECISION, XL, V1, STAGES */
    int v = p->x_aligned && p->v_unit ? find_variant(TRITIUM_K_MATMUL_GEMV, p, 1, lead, 4, cfg) : -1;
    lead[2] = 0;
    return v >= 0 ? v : find_variant(TRITIUM_K_MATMUL_GEMV, p, 0, lead, 4, cfg);
}

/* The K split of a gemv call served by table entry t with variant v. An entry that splits
 * K does so to fill the GPU with programs: its number of programs (R tiles times split) is
 * kept, spread over the call's R tiles, since the same split at a smaller R leaves SMs idle
 * (H200, fp32, N = 1 of a 4096 x 8192 A with its rows contiguous: the 8192 x 8192 entry's
 * split of 4, 256 programs, took 42.8 us, split 8 40.0). An entry of split 1 stays 1:
 * there a split was slower than the tiles alone (a second launch and the partials; bf16,
 * N = 1 of a row-major 4096 x 8192 A: 20.1 us unsplit, 22.4 split 2). plan_sizes clamps
 * the split to the K steps. */
static int gemv_split(const mm_problem *p, int v, const tritium_matmul_tuning *t) {
    if (t->split <= 1) return 1;
    int64_t bm = tritium_variants[v].params[TRITIUM_P_MATMUL_GEMV_BLOCK_M];
    int64_t tr = t->m > t->n ? t->m : t->n, r = p->m > p->n ? p->m : p->n;
    int64_t programs = (tr + bm - 1) / bm * t->split, tiles = (r + bm - 1) / bm;
    int64_t s = tiles > 0 ? (programs + tiles - 1) / tiles : 1;
    return (int)(s < 1 ? 1 : s > 65535 ? 65535 : s);
}

/* Where the table's streamed config has no variant for the call's X layout on this device
 * (sm_90 ships its 8-warp tiles only for X with K contiguous): the largest tile of the
 * call's precision that reads this X (its XL, aligned where the call allows, else XL 0).
 * -1 if none is usable. */
static int streamed_fallback(const tritium_call *call, const mm_problem *p, int split) {
    int first = tritium_kernel_first[TRITIUM_K_MATMUL_STREAMED], end = first + tritium_kernel_count[TRITIUM_K_MATMUL_STREAMED];
    int best = -1;
    int64_t best_area = 0;
    for (int i = first; i < end; ++i) {
        const tritium_variant *v = &tritium_variants[i];
        int xl = v->params[TRITIUM_P_MATMUL_STREAMED_XL];
        if (v->dtype != p->dtype || v->params[TRITIUM_P_MATMUL_STREAMED_PRECISION] != p->prec ||
            (xl != 0 && xl != p->x_layout) || (v->aligned && (!p->x_aligned || xl == 0)))
            continue;
        /* the call's own XL before XL 0, then the larger tile, then aligned */
        int64_t area = (xl ? (int64_t)1 << 40 : 0) + (v->aligned != 0) +
                       2 * (int64_t)v->params[TRITIUM_P_MATMUL_STREAMED_BLOCK_M] * v->params[TRITIUM_P_MATMUL_STREAMED_BLOCK_N];
        if (area > best_area && usable(call, p, i, PATH_STREAMED, split)) best = i, best_area = area;
    }
    return best;
}

/* The tuning table of an arch: its own where one was measured or derived, else the newest
 * portable one below it (the sm_90a-only configs of an sm_90 table run nowhere else). */
static int table_arch(int arch) {
    int best = 0;
    for (int i = 0; i < TRITIUM_MATMUL_TUNING_USED; ++i) {
        int a = tritium_matmul_tunings[i].arch;
        if (a == arch) return a;
        if (a < 90 && a <= arch && a > best) best = a;
    }
    return best;
}

/* What an entry measured in another alignment class adds to its log-distance, per class
 * apart: as much as a factor of e in one dimension. Where the strides are not multiples of
 * 16 bytes the direct tiles load element by element, and an entry measured on such a shape
 * (packing, say) is what the call wants, while an aligned one nearby picks a tile for vector
 * loads (H200, bf16 777 x 1999 x 3001: the 2048^3 entry's direct 128 x 256 tile 544 us,
 * cuBLAS 109). At 0.25 an unaligned call took the aligned entry of a shape 2.4x away in M.
 * Rows of 16 bytes but not 16 elements (class 1) run the aligned variants, but a tile's rows
 * then straddle 128-byte lines, and packing can pay again: on an H200, bf16 3000^3 took 135
 * us in place on the 3072^3 entry's direct tile and 124 packed, fp32 'high' 1000 x 1000 x 8000
 * 156 and 121 streamed, while bf16 1000^3 took 13.2 in place and 16.8 packed. The gemv path's
 * variants go by X's and v's own alignment (gemv_variant), so its entries take none. */
#define ALIGN_MISMATCH 1.0

/* The plan for problem p: the forced config, else the nearest usable tuning-table entry
 * (log-distance in m, n, k, plus ALIGN_MISMATCH), else the first usable direct
 * config. call == NULL: any device, unlimited workspace. Returns 0 if nothing fits. */
static int choose(const tritium_call *call, const mm_problem *p, int arch, size_t ws_bytes, mm_plan *out) {
    if (forced.path) {
        int path = forced.path - 1, c_unit = p->c_layout > 0;
        int32_t lead[4] = {p->prec, layout_a(p->layout), layout_b(p->layout), p->layout > 0};
        int32_t plead[3] = {p->dtype == TRITIUM_FLOAT32, p->dtype == TRITIUM_FLOAT32 && p->prec == 0, c_unit};
        int v = path == PATH_PACKED     ? find_variant(TRITIUM_K_MATMUL_PACKED, p, p->c_layout == 2, plead, 3, forced.cfg)
                : path == PATH_STREAMED ? streamed_variant(p, forced.cfg)
                : path == PATH_GEMV     ? gemv_variant(p, forced.cfg)
                                        : find_variant(TRITIUM_K_MATMUL, p, layout_aligned(p->layout), lead, 4, forced.cfg);
        if (path == PATH_DIRECT && layout_aligned(p->layout) && (v < 0 || !usable(call, p, v, path, forced.split)))
            v = find_variant(TRITIUM_K_MATMUL, p, 0, lead, 4, forced.cfg); /* see MATMUL_DIRECT_HOPPER_ONLY */
        if (path != PATH_DIRECT && p->k == 0) return 0;
        return v >= 0 && usable(call, p, v, path, forced.split) && plan_sizes(p, v, path, forced.split, out);
    }
    double best_d = INFINITY;
    int found = 0;
    int t_arch = table_arch(arch);
    for (int i = 0; i < TRITIUM_MATMUL_TUNING_USED; ++i) {
        const tritium_matmul_tuning *t = &tritium_matmul_tunings[i];
        if (t->arch != t_arch || t->dtype != p->dtype || t->precision != p->prec) continue;
        /* an entry measured on one X layout serves that layout (general strides: XL 2's) */
        if (t->x_layout && t->x_layout != (p->x_layout ? p->x_layout : 2)) continue;
        if (t->path != PATH_DIRECT && p->k == 0) continue;
        int v;
        int32_t cfg[6];
        if (t->path == PATH_STREAMED) {
            variant_config(t->variant[0], TRITIUM_P_MATMUL_STREAMED_BLOCK_M, cfg);
            v = streamed_variant(p, cfg);
            if (v < 0 || !usable(call, p, v, t->path, t->split)) v = streamed_fallback(call, p, t->split);
        } else if (t->path == PATH_GEMV) { /* an entry measured with the call's XL names a tile it has */
            variant_config(t->variant[0], TRITIUM_P_MATMUL_GEMV_BLOCK_M, cfg);
            v = gemv_variant(p, cfg);
        } else {
            v = t->variant[t->path == PATH_PACKED ? p->c_layout : p->layout];
        }
        if (v < 0) continue;
        /* a gemv entry's split scaled to the call, else (no workspace for that) its own */
        int gemv = t->path == PATH_GEMV, split = gemv ? gemv_split(p, v, t) : t->split;
        mm_plan pl;
        if (!fits(call, p, v, t->path, split, ws_bytes, &pl) &&
            (split == t->split || !fits(call, p, v, t->path, t->split, ws_bytes, &pl)))
            continue;
        /* a gemv entry is as near as its R x K (M = 1 and N = 1 are the same product) */
        double tm = gemv ? (t->m > t->n ? t->m : t->n) : t->m, tn = gemv ? 1 : t->n;
        double pm = gemv ? (double)(p->m > p->n ? p->m : p->n) : (double)p->m, pn = gemv ? 1 : (double)p->n;
        double d = fabs(log(pm / tm)) + fabs(log(pn / tn)) +
                   fabs(log((double)(p->k > 0 ? p->k : 1) / t->k)) +
                   (gemv ? 0 : ALIGN_MISMATCH * abs(t->align - p->align));
        if (d < best_d) { best_d = d; *out = pl; found = 1; }
    }
    if (found) return 1;
    /* no table entry fits: a direct config of the call's layout class, its unaligned twin, or
     * general strides */
    int layouts[3] = {p->layout, layout_aligned(p->layout) ? p->layout - 1 : 0, 0};
    for (int li = 0; li < 3; ++li) {
        int layout = layouts[li];
        int first = tritium_kernel_first[TRITIUM_K_MATMUL], end = first + tritium_kernel_count[TRITIUM_K_MATMUL];
        for (int i = first; i < end; ++i) {
            const tritium_variant *v = &tritium_variants[i];
            if (v->dtype != p->dtype || v->params[TRITIUM_P_MATMUL_PRECISION] != p->prec ||
                (v->aligned != 0) != layout_aligned(layout) || v->params[TRITIUM_P_MATMUL_A_K1] != layout_a(layout) ||
                v->params[TRITIUM_P_MATMUL_B_N1] != layout_b(layout) || !usable(call, p, i, 0, 1))
                continue;
            if (plan_sizes(p, i, PATH_DIRECT, 1, out)) return 1;
        }
    }
    return 0;
}

static tritium_status check_shape(tritium_dtype dtype, tritium_precision precision, int64_t m, int64_t n, int64_t k) {
    if (!tritium_dtype_size(dtype)) return tritium_fail(TRITIUM_ERROR_INVALID_ENUM, "dtype: unknown value %d", (int)dtype);
    if (precision != TRITIUM_PRECISION_HIGHEST && precision != TRITIUM_PRECISION_HIGH)
        return tritium_fail(TRITIUM_ERROR_INVALID_ENUM, "precision: unknown value %d", (int)precision);
    if (m < 0 || n < 0 || k < 0)
        return tritium_fail(TRITIUM_ERROR_INVALID_SIZE, "m, n and k must be >= 0 (got %lld, %lld, %lld)",
                            (long long)m, (long long)n, (long long)k);
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX / 3)
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "m and n must be < 2^31 and k < 2^31 / 3 (got %lld, %lld, %lld)",
                            (long long)m, (long long)n, (long long)k);
    return TRITIUM_SUCCESS;
}

/* This thread's last answers of the workspace query: a training loop asks for the same few
 * shapes on every call (tritium.matmul does, each time), and an answer searches the tables
 * of every arch for several layout classes, tens of microseconds of host time. The answer
 * depends only on the arguments (and on a forced config, which bypasses the memo). */
#define WS_MEMO 8
static _Thread_local struct ws_memo { int used; tritium_dtype dtype; int prec; int64_t m, n, k; size_t bytes; }
    ws_memo[WS_MEMO];
static _Thread_local unsigned ws_memo_next;

TRITIUM_API tritium_status tritium_matmul_workspace_size(tritium_dtype dtype, tritium_precision precision,
                                                         int64_t m, int64_t n, int64_t k, size_t *bytes) {
    tritium_clear_error();
    if (!bytes) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "bytes is NULL");
    tritium_status s = check_shape(dtype, precision, m, n, k);
    if (s != TRITIUM_SUCCESS) return s;
    *bytes = 0;
    if (m == 0 || n == 0) return TRITIUM_SUCCESS;
    int prec = dtype == TRITIUM_FLOAT32 ? (int)precision : 0;
    for (int i = 0; i < WS_MEMO && !forced.path; ++i) {
        const struct ws_memo *e = &ws_memo[i];
        if (e->used && e->dtype == dtype && e->prec == prec && e->m == m && e->n == n && e->k == k) {
            *bytes = e->bytes;
            return TRITIUM_SUCCESS;
        }
    }
    /* the most that any device's table, and any layout, asks of this shape */
    mm_problem p = {dtype, prec, m, n, k, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int archs[TRITIUM_MATMUL_TUNING_COUNT + 1], na = 0;
    archs[na++] = 0;
    for (int i = 0; i < TRITIUM_MATMUL_TUNING_USED; ++i) { /* each table's arch once */
        int seen = 0;
        for (int j = 0; j < na; ++j) seen |= archs[j] == tritium_matmul_tunings[i].arch;
        if (!seen) archs[na++] = tritium_matmul_tunings[i].arch;
    }
    for (int i = 0; i < na; ++i)
        /* classes 0 and 2 stand for all: without a device the choice sees the direct class
         * only through its alignment (each class has a variant of every direct config, and
         * their plans' sizes are the same), and C's class only through its variant; each
         * alignment class of the table (mm_problem.align) with the layout class it implies */
        for (p.align = 0; p.align < 3; ++p.align) {
            p.c_layout = p.layout = p.align ? 2 : 0;
            for (p.x_layout = 0; p.x_layout < 3; ++p.x_layout) { /* a streamed config may lack some XL */
                p.x_aligned = p.x_layout != 0;
                p.v_unit = 1;
                mm_plan pl;
                if (choose(NULL, &p, archs[i], SIZE_MAX, &pl) && pl.bytes > *bytes) *bytes = pl.bytes;
            }
        }
    if (!forced.path)
        ws_memo[ws_memo_next++ % WS_MEMO] = (struct ws_memo){1, dtype, prec, m, n, k, *bytes};
    return TRITIUM_SUCCESS;
}

TRITIUM_API tritium_status tritium_matmul_force_config(int path, const int32_t *config, int32_t split) {
    tritium_clear_error();
    if (path < 0 || path > 4) return tritium_fail(TRITIUM_ERROR_INVALID_ENUM, "path: unknown value %d", path);
    if (path && !config) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "config is NULL");
    if (path && split < 1) return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "split must be >= 1 (got %d)", (int)split);
    forced.path = path;
    for (int i = 0; i < 6; ++i) forced.cfg[i] = path ? config[i] : 0;
    forced.split = path ? split : 1;
    return TRITIUM_SUCCESS;
}

/* Packs `rows` rows of K elements (src's strides sr along rows, sc along K) into dst as
 * rows of kp, in pack mode `mode`. */
static tritium_status pack(const tritium_call *call, const mm_problem *p, int mode, int64_t rows, int64_t sr,
                           int64_t sc, const void *src, void *dst, int64_t kp) {
    int src_layout = sr == 1 && rows > 1 ? 1 : sc == 1 ? 2 : 0; /* rows / columns contiguous */
    int v = find_simple(TRITIUM_K_MATMUL_PACK, p->dtype, mode, src_layout);
    const tritium_variant *var = &tritium_variants[v];
    int64_t br = var->params[TRITIUM_P_MATMUL_PACK_BLOCK_R], bc = var->params[TRITIUM_P_MATMUL_PACK_BLOCK_C];
    /* _matmul_pack_kernel(src, dst, R, C, CP, stride_r, stride_c, ld) */
    CUdeviceptr s_ = (CUdeviceptr)src, d_ = (CUdeviceptr)dst;
    int32_t r32 = (int32_t)rows, c32 = (int32_t)p->k, cp32 = (int32_t)kp;
    int64_t ld = kp;
    void *args[] = {&s_, &d_, &r32, &c32, &cp32, &sr, &sc, &ld};
    return tritium_launch(call, v, (unsigned)((rows + br - 1) / br), (unsigned)((kp + bc - 1) / bc), args, 8);
}

TRITIUM_API tritium_status tritium_matmul(tritium_dtype dtype, tritium_precision precision,
                                          int64_t m, int64_t n, int64_t k,
                                          const void *a, int64_t stride_am, int64_t stride_ak,
                                          const void *b, int64_t stride_bk, int64_t stride_bn,
                                          void *c, int64_t stride_cm, int64_t stride_cn,
                                          void *workspace, size_t workspace_bytes, struct CUstream_st *stream) {
    tritium_clear_error();
    tritium_status s = check_shape(dtype, precision, m, n, k);
    if (s != TRITIUM_SUCCESS) return s;
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
    if (workspace_bytes && !workspace) return tritium_fail(TRITIUM_ERROR_NULL_POINTER, "workspace is NULL");
    if ((uintptr_t)workspace % 256)
        return tritium_fail(TRITIUM_ERROR_MISALIGNED, "workspace must be 256-byte aligned");
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
    if (workspace_bytes) {
        /* a range that wraps could not be checked for overlap, and the plan would trust it */
        uintptr_t wlo = (uintptr_t)workspace, whi;
        if (__builtin_add_overflow(wlo, (uintptr_t)workspace_bytes, &whi))
            return tritium_fail(TRITIUM_ERROR_OVERFLOW, "workspace: %zu bytes from %p overflow the address space",
                                workspace_bytes, workspace);
        if (tritium_spans_overlap(wlo, whi, alo, ahi) || tritium_spans_overlap(wlo, whi, blo, bhi) ||
            tritium_spans_overlap(wlo, whi, clo, chi))
            return tritium_fail(TRITIUM_ERROR_INVALID_VALUE, "workspace overlaps a, b or c");
    }
    if (m == 0 || n == 0) return TRITIUM_SUCCESS;

    mm_problem p = {dtype, dtype == TRITIUM_FLOAT32 ? (int)precision : 0, m, n, k,
                    m > 1 ? stride_am : 0, k > 1 ? stride_ak : 1, k > 1 ? stride_bk : 0, n > 1 ? stride_bn : 1,
                    m > 1 ? stride_cm : 0, n > 1 ? stride_cn : 1, 0, 0, 0, 0, 0, 0};
    /* aligned: what the aligned variants promise the compiler holds (pointers 16-byte
     * aligned, the sizes and strides they name multiples of al elements: 16 bytes) */
    const int64_t al = tritium_align_elems(dtype);
    int c_aligned = (uintptr_t)c % 16 == 0 && p.scm % al == 0 && n % al == 0;
    p.c_layout = p.scn != 1 ? 0 : c_aligned ? 2 : 1;
    /* each operand row- or column-major (an extent-1 dim takes any stride), C row-major */
    int a_o = p.sak == 1 ? 1 : p.sam == 1 || m == 1 ? 2 : 0, b_o = p.sbn == 1 ? 1 : p.sbk == 1 || k == 1 ? 2 : 0;
    /* the sizes and strides the aligned variants name, OR-ed: a power of two divides each of
     * them exactly when it divides this (K, the strides each layout leaves as arguments, M for
     * a column-major A, C's row stride and N) */
    int64_t rows = k | (a_o == 1 ? p.sam : p.sak) | (a_o == 1 ? 0 : m) | (b_o == 1 ? p.sbk : p.sbn) | p.scm | n;
    int aligned = c_aligned && ((uintptr_t)a | (uintptr_t)b) % 16 == 0 && rows % al == 0;
    p.layout = a_o && b_o && p.scn == 1 ? 1 + 2 * (2 * (a_o - 1) + (b_o - 1)) + aligned : 0;
    p.align = layout_aligned(p.layout) ? (rows % 16 == 0 ? 2 : 1) : 0;
    mm_streamed g = streamed_geometry(&p);
    const void *x = g.swap ? b : a;
    p.x_layout = g.sxr == 1 ? 1 : g.sxk == 1 ? 2 : 0;
    int64_t x_other = p.x_layout == 1 ? g.sxk : g.sxr; /* the stride that stays an argument */
    p.x_aligned = p.x_layout && (uintptr_t)x % 16 == 0 && g.r % al == 0 && k % al == 0 && x_other % al == 0;
    p.v_unit = (uintptr_t)(g.swap ? a : b) % 16 == 0 && g.ysc == 1; /* the gemv path's v: Y's one row */

    tritium_call call;
    if ((s = tritium_call_begin(&call, stream, k > 0 ? a : c))) return s;
    mm_plan pl;
    if (!choose(&call, &p, tritium_forced_arch() ? tritium_forced_arch() : call.arch, workspace_bytes, &pl)) {
        tritium_call_end(&call);
        if (forced.path)
            return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "the forced matmul config is not shipped for this "
                                "device, dtype and layout, or its K split or workspace is out of range");
        return tritium_fail(TRITIUM_ERROR_NO_KERNEL_IMAGE, "no matmul kernel of this build runs on sm_%d for dtype %d",
                            call.arch, (int)dtype);
    }
    if (pl.bytes > workspace_bytes) { /* only a forced config gets here */
        tritium_call_end(&call);
        return tritium_fail(TRITIUM_ERROR_WORKSPACE_TOO_SMALL, "the forced config needs %zu bytes of workspace, "
                            "got %zu", pl.bytes, workspace_bytes);
    }
    int32_t cfg[6];
    variant_config(pl.variant, pl.path == PATH_PACKED     ? TRITIUM_P_MATMUL_PACKED_BLOCK_M
                               : pl.path == PATH_STREAMED ? TRITIUM_P_MATMUL_STREAMED_BLOCK_M
                               : pl.path == PATH_GEMV     ? TRITIUM_P_MATMUL_GEMV_BLOCK_M
                                                          : TRITIUM_P_MATMUL_BLOCK_M, cfg);
    /* the output as the product kernel and the reduce see it: C, or for the streamed and gemv
     * paths R x S (the gemv reduce takes y as 1 x R: its partials are split x R) */
    int rs = pl.path == PATH_STREAMED || pl.path == PATH_GEMV;
    int64_t om = rs ? g.r : m, on = rs ? g.s : n;
    int64_t ocm = rs ? g.scr : p.scm, ocn = rs ? g.scs : p.scn;
    int64_t tiles = ((om + cfg[0] - 1) / cfg[0]) * ((on + cfg[1] - 1) / cfg[1]);
    if (tiles > INT32_MAX) {
        tritium_call_end(&call);
        return tritium_fail(TRITIUM_ERROR_NOT_SUPPORTED, "%lld x %lld output needs %lld tiles, more than a grid holds",
                            (long long)m, (long long)n, (long long)tiles);
    }
    char *ws = (char *)workspace;
    CUdeviceptr c_ = (CUdeviceptr)c, part_ = (CUdeviceptr)(ws ? ws + pl.part_offset : NULL);
    int32_t m32 = (int32_t)m, n32 = (int32_t)n, chunk32 = (int32_t)pl.chunk, split32 = pl.split;
    int32_t om32 = (int32_t)om, on32 = (int32_t)on, k32 = (int32_t)k;
    /* X's strides for the streamed and gemv kernels: the one XL makes a constexpr goes as 0 */
    int64_t sxr = p.x_layout == 1 ? 0 : g.sxr, sxk = p.x_layout == 2 ? 0 : g.sxk;
    CUdeviceptr x_ = (CUdeviceptr)x;
    if (pl.path == PATH_GEMV) {
        /* _matmul_gemv_kernel(x, v, y, partial, R, K, k_chunk, split, stride_xr, stride_xk, stride_v,
         *                     stride_y) */
        CUdeviceptr v_ = (CUdeviceptr)(g.swap ? a : b);
        void *args[] = {&x_, &v_, &c_, &part_, &om32, &k32, &chunk32, &split32, &sxr, &sxk, &g.ysc, &g.scr};
        s = tritium_launch(&call, pl.variant, (unsigned)tiles, (unsigned)pl.split, args, 12);
        om32 = 1, on32 = (int32_t)g.r, om = 1, on = g.r, ocm = 0, ocn = g.scr;
    } else if (rs) {
        if (!(s = pack(&call, &p, pack_mode(&p, 2), g.s, g.ysr, g.ysc, g.swap ? a : b, ws, pl.kp))) {
            /* _matmul_streamed_kernel(x, y, c, partial, R, S, K, k_chunk, split, stride_xr, stride_xk, ldy,
             *                         stride_cr, stride_cs) */
            CUdeviceptr y_ = (CUdeviceptr)ws;
            int64_t ld = pl.kp;
            void *args[] = {&x_, &y_, &c_, &part_, &om32, &on32, &k32, &chunk32, &split32, &sxr, &sxk, &ld,
                            &g.scr, &g.scs};
            s = tritium_launch(&call, pl.variant, (unsigned)tiles, (unsigned)pl.split, args, 14);
        }
    } else if (pl.path == PATH_PACKED) {
        char *ap = ws, *bp = ws + pl.b_offset;
        if (!(s = pack(&call, &p, pack_mode(&p, 0), m, p.sam, p.sak, a, ap, pl.kp)) &&
            !(s = pack(&call, &p, pack_mode(&p, 1), n, p.sbn, p.sbk, b, bp, pl.kp))) {
            /* _matmul_packed_kernel(a, b, c, partial, M, N, KP, k_chunk, split, lda, ldb, stride_cm, stride_cn) */
            CUdeviceptr a_ = (CUdeviceptr)ap, b_ = (CUdeviceptr)bp;
            int32_t kp32 = (int32_t)pl.kp;
            int64_t ld = pl.kp;
            void *args[] = {&a_, &b_, &c_, &part_, &m32, &n32, &kp32, &chunk32, &split32, &ld, &ld, &p.scm, &p.scn};
            s = tritium_launch(&call, pl.variant, (unsigned)tiles, (unsigned)pl.split, args, 13);
        }
    } else {
        /* _matmul_kernel(a, b, c, partial, M, N, K, k_chunk, split, stride_am, stride_ak, stride_bk, stride_bn,
         *                stride_cm, stride_cn) */
        CUdeviceptr a_ = (CUdeviceptr)a, b_ = (CUdeviceptr)b;
        void *args[] = {&a_, &b_, &c_, &part_, &m32, &n32, &k32, &chunk32, &split32,
                        &p.sam, &p.sak, &p.sbk, &p.sbn, &p.scm, &p.scn};
        s = tritium_launch(&call, pl.variant, (unsigned)tiles, (unsigned)pl.split, args, 15);
    }
    if (!s && pl.split > 1) {
        /* _matmul_reduce_kernel(partial, c, M, N, split, stride_cm, stride_cn) */
        int r = reduce_variant(dtype, pl.path == PATH_GEMV, ocn == 1);
        const tritium_variant *rv = &tritium_variants[r];
        int64_t rbm = rv->params[TRITIUM_P_MATMUL_REDUCE_BLOCK_M], rbn = rv->params[TRITIUM_P_MATMUL_REDUCE_BLOCK_N];
        void *args[] = {&part_, &c_, &om32, &on32, &split32, &ocm, &ocn};
        s = tritium_launch(&call, r, (unsigned)((om + rbm - 1) / rbm), (unsigned)((on + rbn - 1) / rbn), args, 7);
    }
    tritium_call_end(&call);
    return s;
}
