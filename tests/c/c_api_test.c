/* C API smoke test, run on every machine: version, status strings, argument errors (which
 * need no GPU and must name the argument), and then the device status: on a machine without
 * a driver or device, NO_DRIVER / NO_DEVICE; with one, a real call succeeds.
 * Prints one line per check; exits nonzero on the first failure. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tritium.h"

static int failures;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            ++failures;                                                       \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                       \
            printf(__VA_ARGS__);                                              \
            printf("\n");                                                     \
        }                                                                     \
    } while (0)

static void expect(tritium_status got, tritium_status want, const char *needle, const char *what) {
    const char *msg = tritium_last_error();
    CHECK(got == want, "%s: status %d (%s), wanted %d; detail: %s", what, (int)got, tritium_status_string(got),
          (int)want, msg);
    CHECK(needle == NULL || strstr(msg, needle) != NULL, "%s: detail '%s' does not mention '%s'", what, msg, needle);
    printf("ok   %-48s -> %s: %s\n", what, tritium_status_string(got), msg);
}

int main(void) {
    CHECK(tritium_version() == TRITIUM_VERSION_NUMBER, "version %u vs header %d", tritium_version(), TRITIUM_VERSION_NUMBER);
    CHECK(strcmp(tritium_version_string(), TRITIUM_VERSION_STRING) == 0, "version string");
    CHECK(strcmp(tritium_status_string(TRITIUM_ERROR_NO_DEVICE), "no CUDA device") == 0, "status string");
    CHECK(strcmp(tritium_status_string((tritium_status)12345), "unknown status") == 0, "unknown status string");
    CHECK(strstr(tritium_shipped_archs(), "sm_") != NULL, "shipped archs: %s", tritium_shipped_archs());

    /* argument errors come before any driver call, so they are the same everywhere */
    float fake[64];
    void *p = fake;
    size_t ws = 0;
    expect(tritium_triplet_margin_loss(TRITIUM_FLOAT32, -1, 4, p, 4, p, 4, p, 4, 1.0f, 2.0f, 1e-6f, 0,
                                       TRITIUM_REDUCTION_NONE, p, NULL, NULL, 0, NULL),
           TRITIUM_ERROR_INVALID_SIZE, "n", "triplet n < 0");
    expect(tritium_triplet_margin_loss(TRITIUM_FLOAT32, 2, 4, NULL, 4, p, 4, p, 4, 1.0f, 2.0f, 1e-6f, 0,
                                       TRITIUM_REDUCTION_NONE, fake + 32, NULL, NULL, 0, NULL),
           TRITIUM_ERROR_NULL_POINTER, "anchor", "triplet anchor NULL");
    expect(tritium_triplet_margin_loss((tritium_dtype)7, 2, 4, p, 4, p, 4, p, 4, 1.0f, 2.0f, 1e-6f, 0,
                                       TRITIUM_REDUCTION_NONE, fake + 32, NULL, NULL, 0, NULL),
           TRITIUM_ERROR_INVALID_ENUM, "dtype", "triplet bad dtype");
    expect(tritium_triplet_margin_loss(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 1.0f, -1.0f, 1e-6f, 0,
                                       TRITIUM_REDUCTION_NONE, fake + 32, NULL, NULL, 0, NULL),
           TRITIUM_ERROR_INVALID_VALUE, "p must be", "triplet p <= 0");
    expect(tritium_triplet_margin_loss(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 1.0f, 2.0f, 1e-6f, 0,
                                       TRITIUM_REDUCTION_MEAN, fake + 32, NULL, NULL, 0, NULL),
           TRITIUM_ERROR_WORKSPACE_TOO_SMALL, "workspace", "triplet mean without workspace");
    expect(tritium_triplet_margin_loss(TRITIUM_FLOAT32, 4, 4, p, 4, p, 4, p, 4, 1.0f, 2.0f, 1e-6f, 0,
                                       TRITIUM_REDUCTION_NONE, fake + 2, NULL, NULL, 0, NULL),
           TRITIUM_ERROR_INVALID_VALUE, "overlaps", "triplet out overlaps input");
    expect(tritium_triplet_margin_loss(TRITIUM_FLOAT32, 2, INT64_C(1) << 40, p, 4, p, 4, p, 4, 1.0f, 2.0f, 1e-6f,
                                       0, TRITIUM_REDUCTION_NONE, fake + 32, NULL, NULL, 0, NULL),
           TRITIUM_ERROR_NOT_SUPPORTED, "2^31", "triplet d too large");
    expect(tritium_triplet_margin_loss_workspace_size(10, 4, TRITIUM_REDUCTION_MEAN, &ws), TRITIUM_SUCCESS, NULL,
           "triplet workspace query");
    CHECK(ws >= 10 * sizeof(float), "workspace %zu", ws);
    expect(tritium_matmul(TRITIUM_FLOAT32, (tritium_precision)9, 4, 4, 4, p, 4, 1, p, 4, 1, fake + 32, 4, 1, NULL, 0,
                          NULL),
           TRITIUM_ERROR_INVALID_ENUM, "precision", "matmul bad precision");
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, p, 4, 1, p, 4, 1, fake + 32, 1, 1, NULL,
                          0, NULL),
           TRITIUM_ERROR_INVALID_STRIDE, "overlap", "matmul c overlaps itself");
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, p, -4, 1, p, 4, 1, fake + 32, 4, 1, NULL,
                          0, NULL),
           TRITIUM_ERROR_INVALID_STRIDE, "strides", "matmul negative stride");
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, p, INT64_MAX / 2, 1, p, 4, 1, fake + 32,
                          4, 1, NULL, 0, NULL),
           TRITIUM_ERROR_OVERFLOW, "a:", "matmul extent overflow");
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, (char *)p + 1, 4, 1, p, 4, 1,
                          fake + 32, 4, 1, NULL, 0, NULL),
           TRITIUM_ERROR_MISALIGNED, "a is not aligned", "matmul misaligned a");
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, p, 4, 1, p, 4, 1, fake + 8, 4, 1, NULL,
                          0, NULL),
           TRITIUM_ERROR_INVALID_VALUE, "c overlaps", "matmul c overlaps a");
    static float big[320];
    float *al = (float *)(((uintptr_t)big + 255) & ~(uintptr_t)255); /* 256-byte aligned, 64 floats inside */
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, p, 4, 1, p, 4, 1, fake + 32, 4, 1,
                          al + 1, 128, NULL),
           TRITIUM_ERROR_MISALIGNED, "256-byte", "matmul misaligned workspace");
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, p, 4, 1, p, 4, 1, fake + 32, 4, 1, NULL,
                          256, NULL),
           TRITIUM_ERROR_NULL_POINTER, "workspace", "matmul workspace bytes without a workspace");
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, al, 4, 1, p, 4, 1, fake + 32, 4, 1, al,
                          128, NULL),
           TRITIUM_ERROR_INVALID_VALUE, "workspace overlaps", "matmul workspace overlaps a");
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, p, 4, 1, p, 4, 1, fake + 32, 4, 1, al,
                          SIZE_MAX - 255, NULL),
           TRITIUM_ERROR_OVERFLOW, "workspace", "matmul workspace range wraps");
    expect(tritium_matmul_force_config(5, NULL, 1), TRITIUM_ERROR_INVALID_ENUM, "path", "force config bad path");
    expect(tritium_matmul_force_config(-1, NULL, 1), TRITIUM_ERROR_INVALID_ENUM, "path", "force config negative path");
    expect(tritium_matmul_force_config(1, NULL, 1), TRITIUM_ERROR_NULL_POINTER, "config", "force config NULL");
    {
        const int32_t cfg[6] = {128, 128, 32, 8, 8, 3};
        expect(tritium_matmul_force_config(1, cfg, 0), TRITIUM_ERROR_INVALID_VALUE, "split", "force config split 0");
        expect(tritium_matmul_force_config(0, NULL, 1), TRITIUM_SUCCESS, NULL, "force config off");
    }
    {   /* the workspace query: 0 for empty outputs; for fp32 at the seed shape room to pack both operands
         * (at least (m + n) * k floats for 'high', three times that for 3xTF32 at 'highest') */
        size_t hi = 0, hst = 0, none = 1;
        expect(tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 8205, 5921, 2949, &hi),
               TRITIUM_SUCCESS, NULL, "matmul workspace high");
        expect(tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGHEST, 8205, 5921, 2949, &hst),
               TRITIUM_SUCCESS, NULL, "matmul workspace highest");
        expect(tritium_matmul_workspace_size(TRITIUM_BFLOAT16, TRITIUM_PRECISION_HIGH, 0, 5921, 2949, &none),
               TRITIUM_SUCCESS, NULL, "matmul workspace m = 0");
        CHECK(hi >= (size_t)(8205 + 5921) * 2949 * 4, "high workspace %zu", hi);
        CHECK(hst >= 3 * (size_t)(8205 + 5921) * 2949 * 4, "highest workspace %zu", hst);
        CHECK(none == 0, "m = 0 workspace %zu", none);
        expect(tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, INT64_C(1) << 30, &hi),
               TRITIUM_ERROR_NOT_SUPPORTED, "2^31", "matmul workspace k too large");
        /* the largest shapes: plans whose workspace would overflow a size_t are never offered */
        expect(tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGHEST, INT32_MAX, INT32_MAX,
                                             INT32_MAX / 3, &hst),
               TRITIUM_SUCCESS, NULL, "matmul workspace of the largest shape");
        CHECK(hst < SIZE_MAX, "largest shape workspace %zu", hst);
    }
    {   /* answers are remembered per thread (8 of them): twelve shapes asked three times over,
         * the memo cycled through, give the same answers every time; a forced config's answer
         * is its own, and the memo's comes back once it is lifted */
        static const int64_t shapes[12][3] = {{8205, 5921, 2949}, {1, 8192, 8192}, {8192, 1, 8192}, {16, 8192, 8192},
                                              {4096, 4096, 4096}, {1, 1, 65536}, {128, 8192, 8192}, {300, 17, 1031},
                                              {1024, 1024, 65536}, {37, 21, 19}, {8192, 128, 8192}, {2, 3, 4}};
        size_t first[12][2], again = 0, forced_ws = 0;
        for (int round = 0; round < 3; ++round)
            for (int i = 0; i < 12; ++i)
                for (int prec = 0; prec < 2; ++prec) {
                    size_t *out = round ? &again : &first[i][prec];
                    expect(tritium_matmul_workspace_size(TRITIUM_FLOAT32, (tritium_precision)prec, shapes[i][0],
                                                         shapes[i][1], shapes[i][2], out),
                           TRITIUM_SUCCESS, NULL, "matmul workspace, repeated");
                    if (round) CHECK(again == first[i][prec], "shape %d prec %d: %zu then %zu", i, prec,
                                     first[i][prec], again);
                }
        const int32_t cfg[6] = {16, 128, 32, 8, 4, 3}; /* direct, unsplit: no workspace */
        expect(tritium_matmul_force_config(1, cfg, 1), TRITIUM_SUCCESS, NULL, "force direct");
        /* 4096^3 'high': the table's path packs (workspace), the forced one does not */
        expect(tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4096, 4096, 4096, &forced_ws),
               TRITIUM_SUCCESS, NULL, "matmul workspace, forced");
        expect(tritium_matmul_force_config(0, NULL, 1), TRITIUM_SUCCESS, NULL, "force config off");
        CHECK(forced_ws == 0 && first[4][1] > 0, "forced direct workspace %zu (table's %zu)", forced_ws, first[4][1]);
        expect(tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4096, 4096, 4096, &again),
               TRITIUM_SUCCESS, NULL, "matmul workspace, unforced");
        CHECK(again == first[4][1], "after the forced config: %zu, before %zu", again, first[4][1]);
    }
    /* zero-size problems succeed without touching the device */
    expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 0, 4, 4, NULL, 4, 1, p, 4, 1, NULL, 4, 1, NULL, 0,
                          NULL),
           TRITIUM_SUCCESS, NULL, "matmul m = 0");
    expect(tritium_triplet_margin_loss(TRITIUM_FLOAT32, 0, 4, NULL, 4, NULL, 4, NULL, 4, 1.0f, 2.0f, 1e-6f, 0,
                                       TRITIUM_REDUCTION_NONE, NULL, NULL, NULL, 0, NULL),
           TRITIUM_SUCCESS, NULL, "triplet n = 0, none");
    /* backward: argument errors, and the calls with nothing to do */
    expect(tritium_triplet_margin_loss_backward(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 2.0f, 1e-6f, 0,
                                                TRITIUM_REDUCTION_MEAN, fake + 40, 0, NULL, fake + 48, 4, NULL, 0,
                                                NULL, 0, NULL),
           TRITIUM_ERROR_NULL_POINTER, "saved", "triplet backward without saved");
    expect(tritium_triplet_margin_loss_backward(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 2.0f, 1e-6f, 0,
                                                TRITIUM_REDUCTION_MEAN, fake + 40, 0, fake + 32, fake + 4, 4, NULL,
                                                0, NULL, 0, NULL),
           TRITIUM_ERROR_INVALID_VALUE, "grad_anchor overlaps anchor", "triplet backward grad overlaps input");
    expect(tritium_triplet_margin_loss_backward(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 2.0f, 1e-6f, 0,
                                                TRITIUM_REDUCTION_MEAN, fake + 40, 0, fake + 32, fake + 48, 2, NULL,
                                                0, NULL, 0, NULL),
           TRITIUM_ERROR_INVALID_STRIDE, "rows overlap", "triplet backward grad rows overlap");
    expect(tritium_triplet_margin_loss_backward(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 2.0f, 1e-6f, 0,
                                                TRITIUM_REDUCTION_NONE, fake + 40, -1, fake + 32, fake + 48, 4, NULL,
                                                0, NULL, 0, NULL),
           TRITIUM_ERROR_INVALID_STRIDE, "stride_grad_out", "triplet backward negative grad_out stride");
    expect(tritium_triplet_margin_loss_backward(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 2.0f, 1e-6f, 0,
                                                TRITIUM_REDUCTION_NONE, fake + 40, 1, fake + 32, fake + 48, 4,
                                                fake + 48, 4, NULL, 0, NULL),
           TRITIUM_ERROR_INVALID_VALUE, "grad_positive overlaps grad_anchor", "triplet backward grads overlap");
    expect(tritium_triplet_margin_loss_backward(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 2.0f, 1e-6f, 0,
                                                TRITIUM_REDUCTION_SUM, fake + 40, 0, fake + 32, NULL, 0, NULL, 0,
                                                NULL, 0, NULL),
           TRITIUM_SUCCESS, NULL, "triplet backward with no gradient wanted");
    expect(tritium_triplet_margin_loss_backward(TRITIUM_FLOAT32, 0, 4, NULL, 4, NULL, 4, NULL, 4, 2.0f, 1e-6f, 0,
                                                TRITIUM_REDUCTION_MEAN, NULL, 0, NULL, NULL, 4, NULL, 4, NULL, 4,
                                                NULL),
           TRITIUM_SUCCESS, NULL, "triplet backward n = 0");
    expect(tritium_triplet_margin_loss_saved_size(10, INFINITY, &ws), TRITIUM_SUCCESS, NULL, "saved size");
    CHECK(ws == 10 * 6 * sizeof(float), "saved size for p = inf: %zu", ws);

    /* the device: without a driver or GPU a valid call reports it cleanly */
    int count = -1;
    tritium_status s = tritium_device_count(&count);
    printf("info device_count -> %s (%d): %s\n", tritium_status_string(s), count, tritium_last_error());
    if (s == TRITIUM_ERROR_NO_DRIVER || s == TRITIUM_ERROR_NO_DEVICE) {
        expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, p, 4, 1, p, 4, 1, fake + 32, 4, 1,
                              NULL, 0, NULL),
               s, NULL, "matmul without a device");
        size_t need = 0;
        tritium_triplet_margin_loss_workspace_size(2, 4, TRITIUM_REDUCTION_SUM, &need);
        expect(tritium_triplet_margin_loss(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 1.0f, 2.0f, 1e-6f, 1,
                                           TRITIUM_REDUCTION_SUM, fake + 32, NULL, fake + 40, need, NULL),
               s, NULL, "triplet without a device");
        expect(tritium_triplet_margin_loss_backward(TRITIUM_FLOAT32, 2, 4, p, 4, p, 4, p, 4, 2.0f, 1e-6f, 0,
                                                    TRITIUM_REDUCTION_SUM, fake + 40, 0, fake + 32, fake + 48, 4,
                                                    NULL, 0, NULL, 0, NULL),
               s, NULL, "triplet backward without a device");
        printf("no device: %s\n", tritium_status_string(s));
    } else {
        CHECK(s == TRITIUM_SUCCESS && count > 0, "device count failed: %s", tritium_last_error());
        int major = 0, minor = 0;
        char name[128], image[160];
        s = tritium_device_info(0, &major, &minor, name, sizeof name, image, sizeof image);
        CHECK(s == TRITIUM_SUCCESS, "device_info: %s", tritium_last_error());
        printf("device 0: %s sm_%d%d, image %s\n", name, major, minor, image);
        /* no context is current in this program: a NULL-stream call says so */
        expect(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 4, 4, 4, p, 4, 1, p, 4, 1, fake + 32, 4, 1,
                              NULL, 0, NULL),
               TRITIUM_ERROR_NO_CONTEXT, "context", "matmul with no context");
    }
    printf(failures ? "FAILED (%d)\n" : "PASSED\n", failures);
    return failures != 0;
}
