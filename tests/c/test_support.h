/*
 * test_support.h: what tritium's C test programs share besides the driver (cuda_min.h):
 * a seeded PRNG, fp16/bf16 conversion, host fp64 references of both kernels, and
 * "cases": one entry-point call (a triplet forward + backward, or a matmul) with its
 * device buffers, fresh random inputs, and a check of its outputs against the reference.
 */
#ifndef TRITIUM_TEST_SUPPORT_H
#define TRITIUM_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_min.h"
#include "tritium.h"

/* ---- PRNG (splitmix64): every program takes its seed from argv --------------------- */
uint64_t rng_next(uint64_t *state);
uint64_t rng_below(uint64_t *state, uint64_t bound); /* [0, bound), bound > 0 */
double rng_uniform(uint64_t *state);                 /* [0, 1) */
double rng_normal(uint64_t *state);

/* ---- element types ----------------------------------------------------------------- */
size_t dt_size(tritium_dtype dt);   /* 4, 2, 2; 0 for an unknown value */
const char *dt_name(tritium_dtype dt);
uint16_t f32_to_f16(float x);       /* round to nearest even, as the GPU converts */
float f16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float x);
float bf16_to_f32(uint16_t h);
/* element i of a host array of dtype dt; store rounds to dt */
double elem_load(const void *buf, size_t i, tritium_dtype dt);
void elem_store(void *buf, size_t i, tritium_dtype dt, double v);

/* ---- cases ------------------------------------------------------------------------- */

enum { CASE_TRIPLET = 0, CASE_MATMUL = 1 };
/* operand layouts of a matmul case (A is m x k, B k x n, C m x n) */
enum { LAYOUT_ROW = 0,     /* row-major, rows packed */
       LAYOUT_COL = 1,     /* column-major (a transposed view) */
       LAYOUT_STRIDED = 2, /* row-major with every other column (col stride 2), padded rows */
       LAYOUT_PADDED = 3 };/* row-major, leading dim padded by 3 elements */

typedef struct test_case {
    int kind;
    tritium_dtype dtype;
    /* triplet: forward with `saved`, then the backward of all three inputs */
    int64_t n, d;
    int64_t pad;      /* elements between the inputs' rows (row stride d + pad; gradients stay contiguous) */
    float margin, p, eps;
    int swap;
    tritium_reduction reduction;
    int nosave;       /* 1: the forward only, with no `saved` (so no backward) */
    /* matmul */
    tritium_precision precision;
    int64_t m, nc, k;
    int la, lb, lc;   /* LAYOUT_* of A, B, C */
    int workspace;    /* 1: the size query's workspace, 0: none */
    /* 1: case_fill uploads the inputs only, leaving outputs, saved values and workspace as
     * allocated (for compute-sanitizer's initcheck); else they are filled with NaN bytes */
    int keep_outputs;
    /* filled by case_alloc: device buffers and their host twins */
    int nbuf;
    CUdeviceptr dev[12];
    void *host[12];
    size_t bytes[12];
    size_t ws_bytes;
    int64_t lda, ldb, ldc, sa[2], sb[2], sc[2];   /* matmul strides (elements) */
} test_case;

/* A random case of `kind` with a random dtype (precision), reduction, p and small shape. */
void case_random(test_case *c, int kind, uint64_t *rng, int64_t max_extent);
/* Allocates the device buffers, each exactly its span, and asks tritium for the workspace
 * (under a forced matmul config, the forced one's). */
void case_alloc(test_case *c);
void case_free(test_case *c);
/* Fresh random inputs, uploaded in stream s (outputs are left as they are). */
void case_fill(test_case *c, uint64_t *rng, CUstream s);
/* Enqueues the case's tritium calls in s; the first failing status (SUCCESS if none). */
tritium_status case_enqueue(test_case *c, CUstream s);
/* Downloads the outputs (waiting for s) and compares them with the fp64 reference of the
 * inputs last filled; 0 if within the dtype's bounds, else 1 with the reason in msg. */
int case_check(test_case *c, CUstream s, char *msg, size_t msg_size);
/* "triplet f16 n=37 d=133 p=2 sum swap" / "matmul bf16 65x17x33 A=col ws" */
void case_describe(const test_case *c, char *buf, size_t size);

#endif
