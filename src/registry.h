/* The tables the AOT step generates (tritium_kernels.c) and the runtime dispatches on. */
#ifndef TRITIUM_REGISTRY_H
#define TRITIUM_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "tritium_kernels.h" /* generated: TRITIUM_K_*, TRITIUM_P_*, counts */

typedef struct tritium_image {
    uint16_t arch;        /* 89 for sm_89 / compute_89 */
    uint8_t is_ptx;       /* 1: NUL-terminated PTX text, JIT-compiled by the driver */
    uint8_t pdl;          /* 1: compiled with PDL = 1 (each kernel waits on the one before it,
                             griddepcontrol): launched with programmatic stream serialization */
    uint32_t shared;      /* bytes of dynamic shared memory per block */
    uint16_t registers;   /* per thread, from the cubin of the same compile */
    uint32_t size;        /* bytes, including the PTX terminator */
    const unsigned char *data;
} tritium_image;

typedef struct tritium_variant {
    uint16_t kernel;                    /* TRITIUM_K_* */
    uint8_t dtype;                      /* tritium_dtype */
    uint8_t aligned;                    /* bytes of alignment its pointers and rows were compiled assuming: 0 (none),
                                           4 or 8 (triplet kernels), 16 (tritium_align_elems elements) */
    int32_t params[TRITIUM_MAX_PARAMS]; /* constexprs, slots TRITIUM_P_<KERNEL>_<NAME> */
    uint8_t num_warps, num_stages;
    uint16_t first_image, image_count;  /* into tritium_images */
    const char *function;               /* entry name inside each image */
} tritium_variant;

/* One measured choice of the matmul tuning tables (aot/tuning/sm_<arch>.json). */
typedef struct tritium_matmul_tuning {
    uint8_t arch;        /* the table's arch */
    uint8_t dtype;       /* tritium_dtype */
    uint8_t precision;   /* tritium_precision for fp32; 0 for fp16/bf16 */
    uint8_t path;        /* 0 direct; 1 packed: both operands packed into the workspace, then
                            the packed kernel; 2 streamed: the skinny side packed, the other read
                            in place by the streamed kernel (fp32); 3 gemv: M = 1 or N = 1, the
                            matrix read in place by the gemv kernel */
    uint8_t align;       /* measured on unit-stride operands whose sizes and strides are
                            multiples of 16 elements (2), of 16 bytes only (1: the aligned
                            variants run), or neither (0) */
    uint8_t x_layout;    /* 0: measured on row-major operands, for any layout; 1 or 2 (skinny
                            shapes, python -m tritium tune's SKINNY): measured with the
                            streamed/gemv X's rows (1) or K (2) contiguous, for calls whose X
                            is laid out so (2 also for general strides) */
    int32_t m, n, k;     /* the measured shape */
    int32_t split;       /* K ranges (1: none) */
    int16_t variant[TRITIUM_MATMUL_LAYOUT_COUNT]; /* per layout class (aot/manifest.py,
                            MATMUL_LAYOUTS): general strides, then A and B row- or column-major,
                            unaligned and aligned, for the direct kernel; classes 0-2 (general,
                            unit strides, unit + aligned) of C for the packed one and of the
                            streamed and gemv kernels' X (any of its XL: the runtime picks by
                            strides) */
} tritium_matmul_tuning;

extern const tritium_image tritium_images[TRITIUM_IMAGE_COUNT];
extern const uint16_t tritium_kernel_first[TRITIUM_K_COUNT], tritium_kernel_count[TRITIUM_K_COUNT];
extern const tritium_matmul_tuning tritium_matmul_tunings[TRITIUM_MATMUL_TUNING_COUNT];
extern const tritium_variant tritium_variants[TRITIUM_VARIANT_COUNT];
extern const char *const tritium_kernel_names[TRITIUM_K_COUNT];

#endif
