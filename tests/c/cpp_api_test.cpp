// tritium.hpp test, run on every machine: exceptions carry the status and the detail,
// views check shapes and dtypes before the C call, the forced-config guard restores the
// table's choice. Without a driver the calls that reach a device throw NO_DRIVER/NO_DEVICE;
// with one they are not made (this program has no device memory to give them).
// Prints one line per check and "PASSED" at the end; exits nonzero on a failure.
#include <cstdio>
#include <cstring>
#include <string>

#include "tritium.hpp"

static int failures;

static void check(bool cond, const std::string &what) {
    if (!cond) ++failures;
    std::printf("%s %s\n", cond ? "ok  " : "FAIL", what.c_str());
}

template <class F>
static void expect_error(F &&f, tritium_status want, const char *needle, const std::string &what) {
    try {
        f();
        check(false, what + ": no exception");
    } catch (const tritium::error &e) {
        check(e.status() == want && std::strstr(e.what(), needle) != nullptr,
              what + ": status " + std::to_string(e.status()) + " '" + e.what() + "'");
    }
}

int main() {
    check(tritium::version() == TRITIUM_VERSION_STRING, "version " + tritium::version());
    check(tritium::shipped_archs().find("sm_") != std::string::npos, "shipped archs " + tritium::shipped_archs());
    const bool device = tritium::device_count() > 0;
    check(true, std::string("device_count: ") + (device ? "a device" : "none, without an error"));

    float fake[4096];
    tritium::rows<float> a(fake, 8, 16), p(fake + 128, 8, 16), n(fake + 256, 8, 16), bad(fake + 384, 8, 15);
    expect_error([&] { tritium::triplet_margin_loss(a, p, bad, fake + 1024); }, TRITIUM_ERROR_INVALID_SIZE,
                 "negative: 8 x 15", "triplet: shapes are checked by the views");
    tritium::rows<void> half_rows(TRITIUM_FLOAT16, fake + 512, 8, 16, 16);
    expect_error([&] { tritium::triplet_margin_loss(a, half_rows, n, fake + 1024); }, TRITIUM_ERROR_INVALID_VALUE,
                 "positive: dtype", "triplet: dtypes are checked by the views");
    tritium::triplet_options o;
    o.p = -1.0f;
    expect_error([&] { tritium::triplet_margin_loss(a, p, n, fake + 1024, o); }, TRITIUM_ERROR_INVALID_VALUE,
                 "p must be > 0", "triplet: the C library's own check, with its detail");
    check(tritium::triplet_margin_loss_saved_size(8, 2.0f) == 8 * 12, "saved size");
    expect_error([&] { tritium::triplet_margin_loss_workspace_size(-1, 4, TRITIUM_REDUCTION_MEAN); },
                 TRITIUM_ERROR_INVALID_SIZE, "n and d", "workspace size of n < 0");
    tritium::rows<void> no_grad(TRITIUM_FLOAT32, nullptr, 0, 0, 0);
    expect_error([&] {
        tritium::triplet_margin_loss_backward(a, p, n, fake + 1024, 0, fake + 1100, tritium::rows<float>(fake + 2048, 8, 9),
                                              no_grad, no_grad);
    }, TRITIUM_ERROR_INVALID_SIZE, "grad_anchor", "backward: gradient views are checked");

    tritium::matrix<float> A(fake, 4, 8), B(fake + 64, 8, 3), C(fake + 128, 4, 3);
    expect_error([&] { tritium::matmul(A, A, C); }, TRITIUM_ERROR_INVALID_SIZE, "4 x 8 @ 4 x 8",
                 "matmul: shapes are checked by the views");
    tritium::matrix<void> C16(TRITIUM_BFLOAT16, fake + 128, 4, 3, 3, 1);
    expect_error([&] { tritium::matmul(A, B, C16); }, TRITIUM_ERROR_INVALID_VALUE, "one dtype",
                 "matmul: dtypes are checked by the views");
    check(A.t().rows == 8 && A.t().cols == 4 && A.t().row_stride == 1 && A.t().col_stride == 8, "transposed view");
    expect_error([&] { tritium::matmul(A, B, tritium::matrix<float>(fake + 128, 4, 3, 1, 1)); },
                 TRITIUM_ERROR_INVALID_STRIDE, "overlap", "matmul: the C library's stride check");

    // the forced-config guard: a direct config needs no workspace; the table's choice for
    // the seed shape does, and comes back when the guard goes
    const std::size_t table = tritium::matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 8205, 5921, 2949);
    {
        const int32_t cfg[6] = {128, 128, 32, 8, 8, 3};
        tritium::forced_matmul_config guard(tritium::forced_matmul_config::direct, cfg);
        check(tritium::matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 8205, 5921, 2949) == 0,
              "forced direct config: no workspace");
    }
    check(table > 0 && tritium::matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGH, 8205, 5921, 2949) == table,
          "guard gone: the table's workspace again (" + std::to_string(table) + " bytes)");
    expect_error([&] {
        const int32_t cfg[6] = {128, 128, 32, 8, 8, 3};
        tritium::forced_matmul_config guard(tritium::forced_matmul_config::packed, cfg, 0);
    }, TRITIUM_ERROR_INVALID_VALUE, "split", "forced config: split 0");

    if (!device) {
        expect_error([&] { tritium::device_info(0); }, TRITIUM_ERROR_NO_DRIVER, "tritium_device_info",
                     "device_info without a driver");
        expect_error([&] { tritium::matmul(A, B, C); }, TRITIUM_ERROR_NO_DRIVER, "tritium_matmul",
                     "matmul without a driver");
    } else {
        check(!tritium::device_info(0).name.empty(), "device_info(0)");
    }
    std::printf(failures ? "FAILED (%d)\n" : "PASSED\n", failures);
    return failures != 0;
}
