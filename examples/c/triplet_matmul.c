/*
 * triplet_matmul.c: tritium from C, with no CUDA toolkit.
 *
 * Runs a triplet margin loss (n = 5 rows of d = 7, reduction mean, with the workspace the
 * size query asks for) and a 3x5 @ 5x4 fp32 matrix product (precision highest) on device 0,
 * and checks both against a double-precision CPU reference computed here.
 *
 * Build with CMake (see CMakeLists.txt next to this file) or with pkg-config:
 *
 *   cc -std=c99 triplet_matmul.c $(pkg-config --cflags --libs tritium) -ldl -o triplet_matmul
 *
 * Device memory comes from the CUDA driver, which this program loads itself with
 * dlopen("libcuda.so.1"), declaring the few entry points it needs by hand; tritium does the
 * same internally. Exit status: 0 with "OK" (results match) or with "no GPU: ..." (no driver
 * or no device, which is a normal outcome on a CPU-only machine); nonzero otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <tritium.h>

/* ---- the driver API subset, by hand (from cuda.h; the _v2 names are the current ABI) ---- */
typedef int CUresult; /* CUDA_SUCCESS is 0 */
typedef int CUdevice;
typedef struct CUctx_st *CUcontext;
typedef unsigned long long CUdeviceptr;

static struct {
    CUresult (*Init)(unsigned flags);
    CUresult (*DeviceGet)(CUdevice *dev, int ordinal);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
    CUresult (*CtxSetCurrent)(CUcontext ctx);
    CUresult (*MemAlloc)(CUdeviceptr *ptr, size_t bytes);
    CUresult (*MemcpyHtoD)(CUdeviceptr dst, const void *src, size_t bytes);
    CUresult (*MemcpyDtoH)(void *dst, CUdeviceptr src, size_t bytes);
    CUresult (*MemFree)(CUdeviceptr ptr);
    CUresult (*CtxSynchronize)(void);
} cu;

static int load_driver(void) {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "cannot load libcuda.so.1: %s\n", dlerror());
        return 0;
    }
    /* POSIX's way to turn dlsym's void * into a function pointer */
#define LOAD(field, name)                                                   \
    do {                                                                    \
        *(void **)(&cu.field) = dlsym(lib, name);                           \
        if (!cu.field) {                                                    \
            fprintf(stderr, "libcuda.so.1 lacks %s\n", name);               \
            return 0;                                                       \
        }                                                                   \
    } while (0)
    LOAD(Init, "cuInit");
    LOAD(DeviceGet, "cuDeviceGet");
    LOAD(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    LOAD(CtxSetCurrent, "cuCtxSetCurrent");
    LOAD(MemAlloc, "cuMemAlloc_v2");
    LOAD(MemcpyHtoD, "cuMemcpyHtoD_v2");
    LOAD(MemcpyDtoH, "cuMemcpyDtoH_v2");
    LOAD(MemFree, "cuMemFree_v2");
    LOAD(CtxSynchronize, "cuCtxSynchronize");
#undef LOAD
    return 1;
}

#define CU(call)                                                                 \
    do {                                                                         \
        CUresult r_ = (call);                                                    \
        if (r_ != 0) {                                                           \
            fprintf(stderr, "%s:%d: %s failed: CUresult %d\n", __FILE__, __LINE__, \
                    #call, r_);                                                  \
            return 1;                                                            \
        }                                                                        \
    } while (0)

#define TR(call)                                                                     \
    do {                                                                             \
        tritium_status s_ = (call);                                                  \
        if (s_ != TRITIUM_SUCCESS) {                                                 \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call, \
                    tritium_status_string(s_), tritium_last_error());                \
            return 1;                                                                \
        }                                                                            \
    } while (0)

/* a device pointer as the `void *` tritium takes */
static void *dptr(CUdeviceptr p) { return (void *)(size_t)p; }

static int close_enough(double got, double want, const char *what) {
    double tol = 1e-5 + 1e-5 * fabs(want);
    if (fabs(got - want) <= tol) return 1;
    fprintf(stderr, "MISMATCH %s: got %.9g, want %.9g\n", what, got, want);
    return 0;
}

enum { N = 5, D = 7, M = 3, K = 5, NC = 4 };

static int run_triplet(void) {
    const float margin = 1.0f, p = 2.0f, eps = 1e-6f;
    float a[N * D], pos[N * D], neg[N * D];
    for (int i = 0; i < N * D; ++i) {
        a[i] = (float)sin(0.37 * i);
        pos[i] = a[i] + 0.25f * (float)cos(1.3 * i);
        /* negatives move away row by row: the first rows have a loss, the last clamp to 0 */
        neg[i] = a[i] + 0.25f * (float)(1 + i / D) * (float)sin(2.1 * i);
    }

    /* CPU reference: mean_i max(||a_i - p_i + eps||_2 - ||a_i - n_i + eps||_2 + margin, 0) */
    double want = 0.0;
    for (int i = 0; i < N; ++i) {
        double dp = 0.0, dn = 0.0;
        for (int j = 0; j < D; ++j) {
            double ep = (double)a[i * D + j] - pos[i * D + j] + eps;
            double en = (double)a[i * D + j] - neg[i * D + j] + eps;
            dp += ep * ep;
            dn += en * en;
        }
        double l = sqrt(dp) - sqrt(dn) + margin;
        want += l > 0.0 ? l : 0.0;
    }
    want /= N;

    size_t ws_bytes = 0;
    TR(tritium_triplet_margin_loss_workspace_size(N, D, TRITIUM_REDUCTION_MEAN, &ws_bytes));
    CUdeviceptr da, dp, dn, dout, dws = 0;
    CU(cu.MemAlloc(&da, sizeof a));
    CU(cu.MemAlloc(&dp, sizeof pos));
    CU(cu.MemAlloc(&dn, sizeof neg));
    CU(cu.MemAlloc(&dout, sizeof(float)));
    if (ws_bytes) CU(cu.MemAlloc(&dws, ws_bytes));
    CU(cu.MemcpyHtoD(da, a, sizeof a));
    CU(cu.MemcpyHtoD(dp, pos, sizeof pos));
    CU(cu.MemcpyHtoD(dn, neg, sizeof neg));

    /* NULL stream: the legacy default stream of the current context */
    TR(tritium_triplet_margin_loss(TRITIUM_FLOAT32, N, D, dptr(da), D, dptr(dp), D, dptr(dn), D, margin, p, eps,
                                   0, TRITIUM_REDUCTION_MEAN, dptr(dout), NULL, dptr(dws), ws_bytes, NULL));
    CU(cu.CtxSynchronize());
    float got = 0.0f;
    CU(cu.MemcpyDtoH(&got, dout, sizeof got));
    CU(cu.MemFree(da));
    CU(cu.MemFree(dp));
    CU(cu.MemFree(dn));
    CU(cu.MemFree(dout));
    if (dws) CU(cu.MemFree(dws));

    printf("triplet_margin_loss n=%d d=%d mean (workspace %zu bytes): %.7f (reference %.7f)\n", N, D, ws_bytes,
           (double)got, want);
    return close_enough(got, want, "triplet loss") ? 0 : 1;
}

static int run_matmul(void) {
    float a[M * K], b[K * NC], c[M * NC];
    /* values with full fp32 mantissas, so a TF32 product would not pass the check */
    for (int i = 0; i < M * K; ++i) a[i] = (float)sin(0.7 * i + 0.1);
    for (int i = 0; i < K * NC; ++i) b[i] = (float)cos(0.3 * i - 0.2);

    size_t ws_bytes = 0;
    TR(tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGHEST, M, NC, K, &ws_bytes));
    CUdeviceptr da, db, dc, dws = 0;
    CU(cu.MemAlloc(&da, sizeof a));
    CU(cu.MemAlloc(&db, sizeof b));
    CU(cu.MemAlloc(&dc, sizeof c));
    if (ws_bytes) CU(cu.MemAlloc(&dws, ws_bytes));
    CU(cu.MemcpyHtoD(da, a, sizeof a));
    CU(cu.MemcpyHtoD(db, b, sizeof b));

    /* row-major: element (i, j) at i * cols + j */
    TR(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGHEST, M, NC, K, dptr(da), K, 1, dptr(db), NC, 1,
                      dptr(dc), NC, 1, dptr(dws), ws_bytes, NULL));
    CU(cu.CtxSynchronize());
    CU(cu.MemcpyDtoH(c, dc, sizeof c));
    CU(cu.MemFree(da));
    CU(cu.MemFree(db));
    CU(cu.MemFree(dc));
    if (dws) CU(cu.MemFree(dws));

    int ok = 1;
    printf("matmul %dx%d @ %dx%d fp32 highest:\n", M, K, K, NC);
    for (int i = 0; i < M; ++i) {
        printf("  ");
        for (int j = 0; j < NC; ++j) {
            double want = 0.0;
            for (int l = 0; l < K; ++l) want += (double)a[i * K + l] * b[l * NC + j];
            char what[32];
            snprintf(what, sizeof what, "c[%d][%d]", i, j);
            ok &= close_enough(c[i * NC + j], want, what);
            printf(" %9.5f", (double)c[i * NC + j]);
        }
        printf("\n");
    }
    return ok ? 0 : 1;
}

int main(void) {
    printf("tritium %s (header %s), images for: %s\n", tritium_version_string(), TRITIUM_VERSION_STRING,
           tritium_shipped_archs());
    int count = 0;
    tritium_status s = tritium_device_count(&count);
    if (s == TRITIUM_ERROR_NO_DRIVER || s == TRITIUM_ERROR_NO_DEVICE || (s == TRITIUM_SUCCESS && count == 0)) {
        printf("no GPU: %s: %s\n", tritium_status_string(s), tritium_last_error());
        return 0;
    }
    if (s != TRITIUM_SUCCESS) {
        fprintf(stderr, "tritium_device_count: %s: %s\n", tritium_status_string(s), tritium_last_error());
        return 1;
    }
    int major = 0, minor = 0;
    char name[128], image[160];
    TR(tritium_device_info(0, &major, &minor, name, sizeof name, image, sizeof image));
    printf("device 0 of %d: %s (sm_%d%d), image %s\n", count, name, major, minor, image);

    /* the device's primary context, made current: tritium's NULL stream then runs there */
    if (!load_driver()) return 1;
    CUdevice dev;
    CUcontext ctx;
    CU(cu.Init(0));
    CU(cu.DeviceGet(&dev, 0));
    CU(cu.DevicePrimaryCtxRetain(&ctx, dev));
    CU(cu.CtxSetCurrent(ctx));

    int bad = run_triplet();
    bad |= run_matmul();
    printf(bad ? "FAILED\n" : "OK\n");
    return bad;
}
