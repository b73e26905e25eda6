/*
 * unload.c: dlopen libtritium, run kernels (so that the driver holds its loaded images),
 * dlclose it while they stay loaded, and again, several times; then exit. Nothing may
 * crash, at dlclose or at the process's exit, and every round's results must be right.
 * libtritium has no destructor: a closed instance's images stay loaded in the driver, so
 * each round may keep some device memory; the figure is printed (and bounded loosely).
 *
 *   tritium_unload_test LIBTRITIUM_SO [--rounds 4]
 *
 * Exit: 0, 1 on a failure, 77 without a GPU, 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

typedef tritium_status (*matmul_fn)(tritium_dtype, tritium_precision, int64_t, int64_t, int64_t, const void *,
                                    int64_t, int64_t, const void *, int64_t, int64_t, void *, int64_t, int64_t,
                                    void *, size_t, struct CUstream_st *);
typedef tritium_status (*workspace_fn)(tritium_dtype, tritium_precision, int64_t, int64_t, int64_t, size_t *);
typedef const char *(*string_fn)(void);

enum { M = 70, N = 50, K = 90 };

/* One round: C = A @ B in fp32 'highest', with the workspace and without; 0 if both match
 * the fp64 product. */
static int round_trip(void *lib, uint64_t *rng, CUstream s) {
    matmul_fn matmul;
    workspace_fn workspace;
    string_fn last_error;
    *(void **)&matmul = dlsym(lib, "tritium_matmul");
    *(void **)&workspace = dlsym(lib, "tritium_matmul_workspace_size");
    *(void **)&last_error = dlsym(lib, "tritium_last_error");
    if (!matmul || !workspace || !last_error) {
        printf("FAIL: libtritium lacks an entry point\n");
        return 1;
    }
    static float a[M * K], b[K * N], c[M * N];
    for (int i = 0; i < M * K; ++i) a[i] = (float)rng_normal(rng);
    for (int i = 0; i < K * N; ++i) b[i] = (float)rng_normal(rng);
    size_t ws = 0;
    workspace(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGHEST, M, N, K, &ws);
    CUdeviceptr da = dev_alloc(sizeof a), db = dev_alloc(sizeof b), dc = dev_alloc(sizeof c), dw = dev_alloc(ws);
    dev_upload(da, a, sizeof a, s);
    dev_upload(db, b, sizeof b, s);
    int bad = 0;
    for (int with_ws = 0; with_ws < 2 && !bad; ++with_ws) {
        tritium_status st = matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGHEST, M, N, K, dptr(da), K, 1, dptr(db), N,
                                   1, dptr(dc), N, 1, with_ws ? dptr(dw) : NULL, with_ws ? ws : 0, s);
        if (st != TRITIUM_SUCCESS) {
            printf("FAIL: tritium_matmul: status %d: %s\n", (int)st, last_error());
            bad = 1;
            break;
        }
        dev_download(c, dc, sizeof c, s);
        double err = 0, norm = 0;
        for (int i = 0; i < M; ++i)
            for (int j = 0; j < N; ++j) {
                double want = 0;
                for (int l = 0; l < K; ++l) want += (double)a[i * K + l] * b[l * N + j];
                err += (c[i * N + j] - want) * (c[i * N + j] - want);
                norm += want * want;
            }
        if (!(sqrt(err / norm) <= 1e-5)) {
            printf("FAIL: relative error %.3e (workspace: %d)\n", sqrt(err / norm), with_ws);
            bad = 1;
        }
    }
    dev_free(da);
    dev_free(db);
    dev_free(dc);
    dev_free(dw);
    return bad;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tritium_unload_test LIBTRITIUM_SO [--rounds R]\n");
        return 2;
    }
    int rounds = argc >= 4 && !strcmp(argv[2], "--rounds") ? atoi(argv[3]) : 4;
    setvbuf(stdout, NULL, _IOLBF, 0);
    cu_open_or_skip(1, "tritium_unload_test");
    CUstream s;
    CU_OK(cu.StreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint64_t rng = 99;
    size_t free0 = 0, total = 0, prev = 0;
    CU_OK(cu.MemGetInfo(&free0, &total));
    prev = free0;
    int bad = 0;
    long long kept_max = 0;
    for (int r = 0; r < rounds && !bad; ++r) {
        void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            printf("FAIL: dlopen %s: %s\n", argv[1], dlerror());
            return 1;
        }
        bad = round_trip(lib, &rng, s);
        CU_OK(cu.StreamSynchronize(s));
        if (dlclose(lib) != 0) {
            printf("FAIL: dlclose: %s\n", dlerror());
            bad = 1;
        }
        /* still usable after the library is gone: the context, and memory */
        CUdeviceptr probe = dev_alloc(1 << 20);
        dev_free(probe);
        size_t free_now = 0;
        CU_OK(cu.MemGetInfo(&free_now, &total));
        long long kept = (long long)prev - (long long)free_now;
        if (kept > kept_max) kept_max = kept;
        printf("round %d: dlopen, 2 matmuls checked, dlclose: device free %.1f MiB (%lld bytes fewer than before "
               "the round)\n", r, free_now / 1048576.0, kept);
        prev = free_now;
    }
    const long long bound = 64ll << 20;
    if (kept_max > bound) {
        printf("FAIL: a round kept %lld bytes of device memory (bound %lld)\n", kept_max, bound);
        bad = 1;
    }
    CU_OK(cu.StreamDestroy(s));
    printf("unload: %d rounds of dlopen/dlclose with loaded images, device memory kept per round at most %lld "
           "bytes, %s; exiting with the images still loaded\n",
           rounds, kept_max, bad ? "FAILED" : "ok");
    return bad;
}
