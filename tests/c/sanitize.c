/*
 * sanitize.c: launches every compiled variant the device can run, on tiny shapes with
 * tails in every dimension (M, N and K not multiples of the tile; rows and row counts not
 * multiples of BLOCK_D and ROWS), for compute-sanitizer (tests/sanitize.sh runs it under
 * memcheck, racecheck, initcheck and synccheck, natively and through the sm_89 PTX).
 *
 *   tritium_sanitize [--seed S] [--list]     on a GPU
 *   tritium_sanitize --dry-run ARCH          no GPU: the same plan against the build's
 *                                            tables for an sm_ARCH device (90: H100/H200,
 *                                            89: RTX 4090), launches counted, not made
 *
 * Matmul: each matmul / matmul_packed / matmul_streamed / matmul_gemv variant forced
 * (tritium_matmul_force_config) with K unsplit and cut in three, on operands of its layout
 * class (the direct ones: A and B each row-major, column-major or strided); the packed
 * ones with A and B row-major, column-major and strided in turn, which reaches every pack
 * variant; the streamed and gemv ones in both orientations (skinny M and skinny N; M = 1
 * and N = 1), the operand read in place in the variant's layout, the streamed ones' packed
 * operand rotating through the pack variants; the splits reach the reduce kernel. Also a
 * few table-chosen calls (k = 0, m = 1, ...).
 * Triplet: every dtype and norm (p = 2, 1, inf, 1.5), rows of each alignment class, with D picking
 * each BLOCK_D, 37 rows (a partial row block), then mean and sum (the one-program and the
 * reduce-kernel paths), and few long rows for the split path at each finish BLOCK_S.
 *
 * Every buffer is its own allocation of exactly its span, so that memcheck sees any access
 * past it; outputs, saved values and workspace are not initialized (initcheck sees a read
 * before a write). Results are checked against the fp64 references. At the end, every
 * variant the device can run must have been launched. Exit: 0 on success, 1 on a failure
 * or a variant not reached, 77 without a GPU (and no --dry-run), 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize_hooks.h"
#include "test_support.h"

static int failures, cases;
static CUstream stream;

static void run(test_case *c, uint64_t *rng) {
    char msg[256], desc[160];
    c->keep_outputs = 1;
    case_alloc(c);
    case_fill(c, rng, stream);
    tritium_status s = case_enqueue(c, stream);
    ++cases;
    if (s != TRITIUM_SUCCESS)
        snprintf(msg, sizeof msg, "%s: %s", tritium_status_string(s), tritium_last_error());
    if (s != TRITIUM_SUCCESS || (!dev_fake && case_check(c, stream, msg, sizeof msg))) {
        case_describe(c, desc, sizeof desc);
        if (++failures <= 20) printf("FAIL %s: %s\n", desc, msg);
    }
    case_free(c);
}

static void run_matmul_variants(uint64_t *rng) {
    static hooks_matmul mv[1024];
    int count = hooks_matmul_variants(mv, 1024);
    static const int ab[3] = {LAYOUT_ROW, LAYOUT_COL, LAYOUT_STRIDED};
    for (int i = 0; i < count; ++i) {
        const hooks_matmul *v = &mv[i];
        for (int split = 1; split <= 3; split += 2) {
            test_case c;
            memset(&c, 0, sizeof c);
            c.kind = CASE_MATMUL;
            c.dtype = v->dtype;
            c.precision = v->precision;
            int aligned = v->layout == 2;
            c.m = v->config[0] + (aligned && v->a_k1 == 2 ? 16 : 3); /* a column-major A is read along M */
            c.nc = v->config[1] + (aligned ? 16 : 5);
            c.k = 2 * v->config[2] + (aligned ? 16 : 7); /* three K blocks, the last partial */
            if (v->path == 3 || v->path == 4) {
                /* X, the large side, read in place: B^T when M < N (swap), else A; R = the
                 * large side past the tile, a multiple of 16 when aligned, else ragged; S < R,
                 * ragged for the streamed ones, 1 for the gemv ones (M = 1 or N = 1) */
                int swap = (i + split / 2) % 2 == 0;
                int64_t big = v->path == 4
                                  ? (aligned ? (v->config[0] + 31) / 16 * 16 : v->config[0] + 5)
                                  : (v->config[0] > v->config[1] ? v->config[0] : v->config[1]) + (aligned ? 16 : 5);
                int64_t small = v->path == 4 ? 1 : v->config[1] + 3;
                int x_layout = v->xl == 0 ? LAYOUT_STRIDED : (v->xl == 1) == swap ? LAYOUT_ROW : LAYOUT_COL;
                int y_layout = ab[(i + split / 2) % 3];
                if (v->path == 4 && aligned && y_layout == LAYOUT_STRIDED)
                    y_layout = LAYOUT_ROW; /* an aligned gemv variant takes v with a unit stride (V1) */
                c.m = swap ? small : big;
                c.nc = swap ? big : small;
                c.la = swap ? y_layout : x_layout;
                c.lb = swap ? x_layout : y_layout;
                c.lc = split == 1 ? LAYOUT_ROW : LAYOUT_COL;
            } else if (v->path == 1) {
                /* the layout class is of A, B and C together: each operand row- or
                 * column-major as the variant's A_K1 / B_N1 say, or strided (general) */
                static const int orient[3] = {LAYOUT_STRIDED, LAYOUT_ROW, LAYOUT_COL};
                c.la = orient[v->a_k1];
                c.lb = orient[v->b_n1];
                c.lc = v->layout == 1 && split == 3 ? LAYOUT_PADDED : v->layout == 0 && split == 1 ? LAYOUT_COL : LAYOUT_ROW;
            } else {
                /* the packed kernel's class is C's; A and B only choose the pack variants */
                c.la = ab[(i + split / 2) % 3];
                c.lb = ab[(i + split / 2 + 1) % 3];
                c.lc = v->layout == 0 ? LAYOUT_COL : LAYOUT_ROW;
            }
            c.workspace = 1; /* the size query answers for the forced config */
            tritium_status s = tritium_matmul_force_config(v->path, v->config, split);
            if (s != TRITIUM_SUCCESS) {
                printf("FAIL force_config: %s\n", tritium_last_error());
                ++failures;
                continue;
            }
            run(&c, rng);
            tritium_matmul_force_config(0, NULL, 1);
        }
    }
}

static void run_matmul_table(uint64_t *rng) {
    static const int64_t shapes[][3] = {{1, 1, 1}, {64, 48, 0}, {1, 200, 300}, {37, 21, 19}, {300, 1, 70}};
    for (int mode = 0; mode < 4; ++mode)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i)
            for (int ws = 0; ws < 2; ++ws) {
                test_case c;
                memset(&c, 0, sizeof c);
                c.kind = CASE_MATMUL;
                c.dtype = mode < 2 ? TRITIUM_FLOAT32 : (tritium_dtype)(mode - 1);
                c.precision = mode == 1 ? TRITIUM_PRECISION_HIGH : TRITIUM_PRECISION_HIGHEST;
                c.m = shapes[i][0];
                c.nc = shapes[i][1];
                c.k = shapes[i][2];
                c.la = (int)(i % 2) ? LAYOUT_COL : LAYOUT_ROW;
                c.lc = ws ? LAYOUT_ROW : LAYOUT_COL;
                c.workspace = ws;
                run(&c, rng);
            }
}

static void run_triplet_case(uint64_t *rng, int dt, float p, int64_t n, int64_t d, int64_t pad, int swap,
                             int reduction) {
    test_case c;
    memset(&c, 0, sizeof c);
    c.kind = CASE_TRIPLET;
    c.dtype = (tritium_dtype)dt;
    c.p = p;
    c.n = n;
    c.d = d;
    c.pad = pad;
    c.eps = 1e-6f;
    c.margin = isinf(p) || d == 0 ? 0.4f : (float)(0.15 * pow((double)d, 1.0 / p));
    c.swap = swap;
    c.reduction = (tritium_reduction)reduction;
    run(&c, rng);
}

static void run_triplet(uint64_t *rng) {
    static const float ps[4] = {2.0f, 1.0f, INFINITY, 1.5f};
    /* D for each BLOCK_D (32, 64, 128, 256, 512, 2048; the backward's 1024 takes 528 and
     * 2064, its 512 takes 400), in each alignment class (src/triplet.c, narrow_class): 16
     * bytes; 8 bytes in fp16/bf16 (4 mod 8 elements; 16 in fp32); 4 bytes in fp16/bf16 (2
     * mod 4; 8 in fp32); none. With tails, in reduction 'none' (mean and sum of few short
     * rows take the one-program variant), and rows 8 elements apart (a row stride of d + 8
     * keeps the class and sends the backward to its row kernel: contiguous rows take the
     * flat one) */
    static const int64_t ds[] = {32, 48, 80, 144, 400, 528, 2064, 28, 44, 76, 140, 404, 532, 2068,
                                 30, 46, 78, 142, 402, 530, 2062, 31, 45, 77, 133, 401, 2053};
    /* the split path: 3, 10 and 34 ranges of 2048 (finish BLOCK_S 8, 32, 256), and the
     * classes above */
    static const int64_t splits[] = {4101, 18437, 67589, 4112, 4116, 4114};
    int turn = 0;
    for (int dt = 0; dt < 3; ++dt) {
        for (int pi = 0; pi < 4; ++pi) {
            for (size_t i = 0; i < sizeof ds / sizeof ds[0]; ++i, ++turn)
                run_triplet_case(rng, dt, ps[pi], 37, ds[i], 8, turn % 2, TRITIUM_REDUCTION_NONE);
            for (size_t i = 0; i < sizeof splits / sizeof splits[0]; ++i, ++turn)
                run_triplet_case(rng, dt, ps[pi], 2, splits[i], 0, turn % 2, turn % 3);
            /* the flat backward: contiguous rows whose N * D is a multiple of 16 bytes; 40 x
             * 130 = 5200 elements, five 1024-element blocks and a tail */
            run_triplet_case(rng, dt, ps[pi], 40, 130, 0, turn % 2, turn % 3), ++turn;
        }
        /* mean and sum: the row kernels and the reduce kernel (48, 133, 2064; 37 rows are more
         * than any config's ROWS, so none takes the one-program path), and the one-program
         * path: 20 rows of 144, 140, 142 and 143 (two steps of the 32 x 128 config, a tail
         * in D; the classes above) */
        for (int red = TRITIUM_REDUCTION_MEAN; red <= TRITIUM_REDUCTION_SUM; ++red) {
            for (int i = 0; i < 3; ++i, ++turn)
                run_triplet_case(rng, dt, 2.0f, 37, ((const int64_t[]){48, 133, 2064})[i], 0, turn % 2, red);
            for (int i = 0; i < 4; ++i, ++turn)
                run_triplet_case(rng, dt, 2.0f, 20, ((const int64_t[]){144, 140, 142, 143})[i], 0, turn % 2,
                                 red);
        }
    }
    /* the one-program kernel of p = 2 (_triplet_single_kernel): its four swap x save builds in
     * each alignment class (rows of 128: 16 bytes; 124: 8 in fp16/bf16; 126: 4 in fp16/bf16,
     * 8 in fp32; 127: none), with row tails (20 rows), mean and sum; without `saved` the
     * forward runs alone */
    for (int dt = 0; dt < 3; ++dt)
        for (int k = 0; k < 16; ++k, ++turn) {
            test_case c;
            memset(&c, 0, sizeof c);
            c.kind = CASE_TRIPLET;
            c.dtype = (tritium_dtype)dt;
            c.p = 2.0f;
            c.n = 20;
            c.d = ((const int64_t[]){128, 127, 126, 124})[k % 4];
            c.eps = 1e-6f;
            c.margin = (float)(0.15 * sqrt((double)c.d));
            c.swap = (k / 4) % 2;
            c.nosave = k / 8;
            c.reduction = turn % 2 ? TRITIUM_REDUCTION_SUM : TRITIUM_REDUCTION_MEAN;
            run(&c, rng);
        }
    /* many short rows: the lanes forward's configs (rows of at most 128 bytes, 384, more,
     * whose last 128-element step is more than half full or full; aot/manifest.py,
     * TRIPLET_LANES_CONFIGS) in each alignment class (as above) and norm; rows of no class
     * past 384 bytes (501) take the row tiles */
    static const int64_t lanes_16bit[] = {32, 28, 30, 45, 144, 140, 142, 143, 384, 500, 502, 501};
    static const int64_t lanes_fp32[] = {32, 30, 31, 76, 78, 77, 384, 502, 501};
    for (int dt = 0; dt < 3; ++dt) {
        const int64_t *ds_l = dt == TRITIUM_FLOAT32 ? lanes_fp32 : lanes_16bit;
        size_t count = dt == TRITIUM_FLOAT32 ? sizeof lanes_fp32 / sizeof lanes_fp32[0]
                                             : sizeof lanes_16bit / sizeof lanes_16bit[0];
        for (int pi = 0; pi < 4; ++pi)
            for (size_t i = 0; i < count; ++i, ++turn)
                run_triplet_case(rng, dt, ps[pi], 4096, ds_l[i], 0, turn % 2, turn % 3);
    }
    /* the edges: no rows (mean is NaN), one element, empty rows */
    static const int64_t edges[][3] = {{0, 5, TRITIUM_REDUCTION_MEAN}, {1, 1, TRITIUM_REDUCTION_SUM},
                                       {3, 0, TRITIUM_REDUCTION_NONE}, {3, 0, TRITIUM_REDUCTION_MEAN}};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; ++i)
        for (int dt = 0; dt < 3; ++dt) run_triplet_case(rng, dt, 2.0f, edges[i][0], edges[i][1], 0, 0, (int)edges[i][2]);
}

static int usage(void) {
    fprintf(stderr, "usage: tritium_sanitize [--dry-run ARCH] [--seed S] [--list]\n");
    return 2;
}

int main(int argc, char **argv) {
    int dry_arch = 0, list = 0;
    uint64_t seed = 2024;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--list")) list = 1;
        else if (!strcmp(argv[i], "--dry-run") && i + 1 < argc) dry_arch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else return usage();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *fa = getenv("TRITIUM_FORCE_ARCH"), *fp = getenv("TRITIUM_FORCE_PTX");
    int arch, max_shared;
    if (dry_arch) {
        /* opt-in shared memory per block: 227 KB on sm_90, 99 KB on sm_89 / sm_86, 163 KB on sm_80 */
        arch = dry_arch;
        max_shared = arch == 90 ? 232448 : arch == 80 ? 166912 : 101376;
        dev_fake = 1;
        hooks_device(1, arch, max_shared);
    } else {
        cu_open_or_skip(1, "tritium_sanitize (without --dry-run)");
        CUdevice dev;
        int major = 0, minor = 0;
        CU_OK(cu.DeviceGet(&dev, 0));
        CU_OK(cu.DeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
        CU_OK(cu.DeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
        CU_OK(cu.DeviceGetAttribute(&max_shared, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev));
        arch = major * 10 + minor;
        CU_OK(cu.StreamCreate(&stream, CU_STREAM_NON_BLOCKING));
        hooks_device(0, arch, max_shared);
    }
    printf("tritium %s: sm_%d%s (%d bytes of shared memory per block)%s%s%s%s\n", tritium_version_string(), arch,
           dry_arch ? " (dry run: launches counted, not made)" : "", max_shared, fa ? ", TRITIUM_FORCE_ARCH=" : "",
           fa ? fa : "", fp ? ", TRITIUM_FORCE_PTX=" : "", fp ? fp : "");
    uint64_t rng = seed;
    run_matmul_variants(&rng);
    run_matmul_table(&rng);
    run_triplet(&rng);
    if (!dry_arch) CU_OK(cu.StreamDestroy(stream));

    int usable[2] = {0, 0}, reached[2] = {0, 0}, missing = 0;
    long total = 0;
    char desc[160];
    for (int v = 0; v < hooks_variant_count(); ++v) {
        int mm = hooks_is_matmul(v);
        long n = hooks_launches(v);
        total += n;
        if (list && (n || hooks_usable(v))) {
            hooks_describe(v, desc, sizeof desc);
            printf("  %6ld  %s\n", n, desc);
        }
        if (!hooks_usable(v)) continue;
        ++usable[mm];
        if (n) {
            ++reached[mm];
        } else {
            hooks_describe(v, desc, sizeof desc);
            if (++missing <= 20) printf("NOT LAUNCHED %s\n", desc);
        }
    }
    if (hooks_device_mismatches()) {
        printf("FAIL: %d calls saw another device than sm_%d with %d bytes\n", hooks_device_mismatches(), arch,
               max_shared);
        ++failures;
    }
    printf("sanitize: %d calls, %ld launches; variants launched: %d/%d (matmul %d/%d, triplet %d/%d) of %d "
           "compiled; %d failures\n",
           cases, total, reached[0] + reached[1], usable[0] + usable[1], reached[1], usable[1], reached[0], usable[0],
           hooks_variant_count(), failures);
    return failures || missing ? 1 : 0;
}
