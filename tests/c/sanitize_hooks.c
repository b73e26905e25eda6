/* Link-time hooks of tritium_sanitize (see sanitize_hooks.h): built into the program with
 * the static library and -Wl,--wrap=tritium_call_begin,--wrap=tritium_launch, so that the
 * library's own calls of those two internal functions come here first. Test-only: this is
 * the one test source that includes the runtime's internal headers. */
#include "sanitize_hooks.h"

#include <stdio.h>
#include <string.h>

#include "internal.h"

tritium_status __real_tritium_call_begin(tritium_call *call, struct CUstream_st *stream, const void *data);
tritium_status __real_tritium_launch(const tritium_call *call, int variant, unsigned grid_x, unsigned grid_y,
                                     void **args, int nargs);
tritium_status __wrap_tritium_call_begin(tritium_call *call, struct CUstream_st *stream, const void *data);
tritium_status __wrap_tritium_launch(const tritium_call *call, int variant, unsigned grid_x, unsigned grid_y,
                                     void **args, int nargs);

static struct { int dry, arch, max_shared, mismatches; } device;
static long launches[TRITIUM_VARIANT_COUNT];

void hooks_device(int dry, int arch, int max_shared) {
    device.dry = dry;
    device.arch = arch;
    device.max_shared = max_shared;
}

tritium_status __wrap_tritium_call_begin(tritium_call *call, struct CUstream_st *stream, const void *data) {
    if (!device.dry) {
        tritium_status s = __real_tritium_call_begin(call, stream, data);
        if (s == TRITIUM_SUCCESS && (call->arch != device.arch || call->max_shared != device.max_shared))
            ++device.mismatches;
        return s;
    }
    memset(call, 0, sizeof *call); /* no driver, no context: tritium_call_end has nothing to pop */
    call->arch = device.arch;
    call->max_shared = device.max_shared;
    return TRITIUM_SUCCESS;
}

tritium_status __wrap_tritium_launch(const tritium_call *call, int variant, unsigned grid_x, unsigned grid_y,
                                     void **args, int nargs) {
    if (variant >= 0 && variant < TRITIUM_VARIANT_COUNT) ++launches[variant];
    if (!device.dry) return __real_tritium_launch(call, variant, grid_x, grid_y, args, nargs);
    if (tritium_select_image(variant, call->arch, call->max_shared) < 0)
        return tritium_fail(TRITIUM_ERROR_NO_KERNEL_IMAGE, "dry run: no image of %s for sm_%d",
                            tritium_variants[variant].function, call->arch);
    return TRITIUM_SUCCESS;
}

int hooks_variant_count(void) { return TRITIUM_VARIANT_COUNT; }

int hooks_usable(int variant) { return tritium_select_image(variant, device.arch, device.max_shared) >= 0; }

long hooks_launches(int variant) { return launches[variant]; }

int hooks_device_mismatches(void) { return device.mismatches; }

int hooks_is_matmul(int variant) {
    int k = tritium_variants[variant].kernel;
    return k == TRITIUM_K_MATMUL || k == TRITIUM_K_MATMUL_PACK || k == TRITIUM_K_MATMUL_PACKED ||
           k == TRITIUM_K_MATMUL_STREAMED || k == TRITIUM_K_MATMUL_GEMV || k == TRITIUM_K_MATMUL_REDUCE;
}

void hooks_describe(int variant, char *buf, size_t size) {
    const tritium_variant *v = &tritium_variants[variant];
    static const char *const dts[3] = {"f32", "f16", "bf16"};
    int n = snprintf(buf, size, "%s %s %s [", tritium_kernel_names[v->kernel], dts[v->dtype % 3],
                     v->aligned ? "aligned" : "unaligned");
    int last = TRITIUM_MAX_PARAMS;
    while (last > 1 && v->params[last - 1] == 0) --last;
    for (int i = 0; i < last && n > 0 && (size_t)n < size; ++i)
        n += snprintf(buf + n, size - (size_t)n, i ? " %d" : "%d", (int)v->params[i]);
    if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "] w%d s%d", v->num_warps, v->num_stages);
}

int hooks_matmul_variants(hooks_matmul *out, int max) {
    int count = 0;
    for (int i = 0; i < TRITIUM_VARIANT_COUNT && count < max; ++i) {
        const tritium_variant *v = &tritium_variants[i];
        if ((v->kernel != TRITIUM_K_MATMUL && v->kernel != TRITIUM_K_MATMUL_PACKED &&
             v->kernel != TRITIUM_K_MATMUL_STREAMED && v->kernel != TRITIUM_K_MATMUL_GEMV) || !hooks_usable(i))
            continue;
        hooks_matmul *m = &out[count++];
        int packed = v->kernel == TRITIUM_K_MATMUL_PACKED, streamed = v->kernel == TRITIUM_K_MATMUL_STREAMED;
        int gemv = v->kernel == TRITIUM_K_MATMUL_GEMV;
        const int32_t *tile = v->params + (packed     ? TRITIUM_P_MATMUL_PACKED_BLOCK_M
                                           : streamed ? TRITIUM_P_MATMUL_STREAMED_BLOCK_M
                                           : gemv     ? TRITIUM_P_MATMUL_GEMV_BLOCK_M
                                                      : TRITIUM_P_MATMUL_BLOCK_M);
        m->variant = i;
        m->path = packed ? 2 : streamed ? 3 : gemv ? 4 : 1;
        m->dtype = (tritium_dtype)v->dtype;
        m->xl = streamed ? v->params[TRITIUM_P_MATMUL_STREAMED_XL] : gemv ? v->params[TRITIUM_P_MATMUL_GEMV_XL] : 0;
        m->a_k1 = packed || streamed || gemv ? 0 : v->params[TRITIUM_P_MATMUL_A_K1];
        m->b_n1 = packed || streamed || gemv ? 0 : v->params[TRITIUM_P_MATMUL_B_N1];
        m->layout = v->aligned ? 2 : streamed || gemv ? m->xl != 0 : v->params[packed ? TRITIUM_P_MATMUL_PACKED_C_N1 : TRITIUM_P_MATMUL_A_K1] != 0;
        /* packed fp32 'highest' is the promoted 3xTF32 kernel; fp16/bf16 ignore precision */
        m->precision = packed     ? (v->params[TRITIUM_P_MATMUL_PACKED_PROMOTE] ? TRITIUM_PRECISION_HIGHEST
                                     : v->dtype == TRITIUM_FLOAT32 ? TRITIUM_PRECISION_HIGH : TRITIUM_PRECISION_HIGHEST)
                       : streamed ? (tritium_precision)v->params[TRITIUM_P_MATMUL_STREAMED_PRECISION]
                       : gemv     ? (tritium_precision)v->params[TRITIUM_P_MATMUL_GEMV_PRECISION]
                                  : (tritium_precision)v->params[TRITIUM_P_MATMUL_PRECISION];
        for (int j = 0; j < 4; ++j) m->config[j] = tile[j];
        m->config[4] = v->num_warps;
        m->config[5] = v->num_stages;
    }
    return count;
}
