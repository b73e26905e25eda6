/*
 * sanitize_hooks.h: what tritium_sanitize learns from the library's internal tables and from
 * link-time hooks (ld --wrap) around its launch path: which compiled variants a device can
 * run, the config of each matmul variant (to force it), and how often each was launched.
 * A dry run stands in for the device, so that the plan's coverage is checked without a GPU.
 */
#ifndef TRITIUM_SANITIZE_HOOKS_H
#define TRITIUM_SANITIZE_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "tritium.h"

/* The device the variants are judged for (its arch, e.g. 90, and opt-in shared memory per
 * block); dry: launches are counted, not made, and no driver is touched. */
void hooks_device(int dry, int arch, int max_shared);

int hooks_variant_count(void);
/* 1 if the variant has an image for the device (TRITIUM_FORCE_* honoured) */
int hooks_usable(int variant);
long hooks_launches(int variant);
/* 1 for the matmul kernels (matmul, matmul_pack, matmul_packed, matmul_streamed, matmul_gemv,
 * matmul_reduce), 0 for triplet's */
int hooks_is_matmul(int variant);
void hooks_describe(int variant, char *buf, size_t size);
/* calls whose device (arch, shared memory) differed from hooks_device's */
int hooks_device_mismatches(void);

/* One matmul, matmul_packed, matmul_streamed or matmul_gemv variant as tritium_matmul_force_config forces it. */
typedef struct hooks_matmul {
    int variant;
    int path;                 /* 1 direct, 2 packed, 3 streamed, 4 gemv */
    int layout;               /* 0 general strides, 1 unit strides, 2 unit + 16-byte aligned (C's, if
                                 packed; X's, if streamed or gemv) */
    int xl;                   /* streamed, gemv: X's unit stride (XL: 0 none, 1 along its rows, 2 along K) */
    int a_k1, b_n1;           /* direct: A_K1 / B_N1 (0 general, 1 row-major, 2 column-major) */
    tritium_dtype dtype;
    tritium_precision precision;
    int32_t config[6];        /* block_m, block_n, block_k, group_m, num_warps, num_stages */
} hooks_matmul;

/* The usable matmul, matmul_packed, matmul_streamed and matmul_gemv variants, at most max of them;
 * returns the count. */
int hooks_matmul_variants(hooks_matmul *out, int max);

#endif
