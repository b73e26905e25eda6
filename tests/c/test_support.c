/* PRNG and fp16/bf16 conversion of test_support.h (the cases are in cases.c). */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <math.h>
#include <string.h>

/* ---- PRNG ---------------------------------------------------------------------------- */

uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t rng_below(uint64_t *state, uint64_t bound) { return rng_next(state) % bound; }

double rng_uniform(uint64_t *state) { return (double)(rng_next(state) >> 11) * 0x1.0p-53; }

double rng_normal(uint64_t *state) {
    double u = rng_uniform(state), v = rng_uniform(state);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* ---- element types ------------------------------------------------------------------- */

size_t dt_size(tritium_dtype dt) {
    return dt == TRITIUM_FLOAT32 ? 4 : dt == TRITIUM_FLOAT16 || dt == TRITIUM_BFLOAT16 ? 2 : 0;
}

const char *dt_name(tritium_dtype dt) {
    return dt == TRITIUM_FLOAT32 ? "f32" : dt == TRITIUM_FLOAT16 ? "f16" : dt == TRITIUM_BFLOAT16 ? "bf16" : "?";
}

uint16_t f32_to_f16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u); /* NaN, inf */
    if (a >= 0x477ff000u) return sign | 0x7c00u;                                 /* >= 65520: inf */
    if (a < 0x38800000u) {                                                        /* below 2^-14 */
        float f;
        memcpy(&f, &a, 4);
        return sign | (uint16_t)nearbyintf(f * 16777216.0f); /* multiples of 2^-24, ties to even */
    }
    a += 0xfffu + ((a >> 13) & 1u);                      /* round to nearest even at bit 13 */
    return sign | (uint16_t)((a - 0x38000000u) >> 13);   /* exponent bias 127 -> 15 */
}

float f16_to_f32(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float f = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 0x400), e - 25);
    return (h & 0x8000) ? -f : f;
}

uint16_t f32_to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double elem_load(const void *buf, size_t i, tritium_dtype dt) {
    if (dt == TRITIUM_FLOAT32) return ((const float *)buf)[i];
    uint16_t h = ((const uint16_t *)buf)[i];
    return dt == TRITIUM_FLOAT16 ? f16_to_f32(h) : bf16_to_f32(h);
}

void elem_store(void *buf, size_t i, tritium_dtype dt, double v) {
    if (dt == TRITIUM_FLOAT32)
        ((float *)buf)[i] = (float)v;
    else
        ((uint16_t *)buf)[i] = dt == TRITIUM_FLOAT16 ? f32_to_f16((float)v) : f32_to_bf16((float)v);
}
