// matmul.cpp: tritium from C++17, with no CUDA toolkit.
//
// Runs a triplet margin loss (n = 5 rows of d = 7, reduction mean, with the workspace the
// size query asks for) and a 3x5 @ 5x4 fp32 matrix product (precision highest) on device 0,
// and checks both against a double-precision CPU reference computed here.
//
// Build with CMake (see CMakeLists.txt next to this file) or with pkg-config:
//
//   c++ -std=c++17 matmul.cpp $(pkg-config --cflags --libs tritium) -ldl -o matmul
//
// Device memory comes from the CUDA driver, which this program loads itself with
// dlopen("libcuda.so.1"), declaring the few entry points it needs by hand. Exit status: 0
// with "OK" (results match) or with "no GPU: ..." (no driver or no device, a normal outcome
// on a CPU-only machine); nonzero otherwise.
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <tritium.h>

namespace {

// ---- the driver API subset, by hand (from cuda.h; the _v2 names are the current ABI) ----
using CUresult = int;  // CUDA_SUCCESS is 0
using CUdevice = int;
using CUcontext = struct CUctx_st *;
using CUdeviceptr = unsigned long long;

struct Driver {
    CUresult (*Init)(unsigned) = nullptr;
    CUresult (*DeviceGet)(CUdevice *, int) = nullptr;
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice) = nullptr;
    CUresult (*CtxSetCurrent)(CUcontext) = nullptr;
    CUresult (*MemAlloc)(CUdeviceptr *, size_t) = nullptr;
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t) = nullptr;
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t) = nullptr;
    CUresult (*MemFree)(CUdeviceptr) = nullptr;
    CUresult (*CtxSynchronize)() = nullptr;

    Driver() {
        void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) throw std::runtime_error(std::string("cannot load libcuda.so.1: ") + dlerror());
        load(lib, Init, "cuInit");
        load(lib, DeviceGet, "cuDeviceGet");
        load(lib, DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
        load(lib, CtxSetCurrent, "cuCtxSetCurrent");
        load(lib, MemAlloc, "cuMemAlloc_v2");
        load(lib, MemcpyHtoD, "cuMemcpyHtoD_v2");
        load(lib, MemcpyDtoH, "cuMemcpyDtoH_v2");
        load(lib, MemFree, "cuMemFree_v2");
        load(lib, CtxSynchronize, "cuCtxSynchronize");
    }
    template <class Fn> static void load(void *lib, Fn &fn, const char *name) {
        fn = reinterpret_cast<Fn>(dlsym(lib, name));
        if (!fn) throw std::runtime_error(std::string("libcuda.so.1 lacks ") + name);
    }
};

const Driver *cu = nullptr;

void check(CUresult r, const char *what) {
    if (r != 0) throw std::runtime_error(std::string(what) + " failed: CUresult " + std::to_string(r));
}

void check(tritium_status s, const char *what) {
    if (s != TRITIUM_SUCCESS)
        throw std::runtime_error(std::string(what) + " failed: " + tritium_status_string(s) + ": " +
                                 tritium_last_error());
}

// Device memory owned by a scope; `get()` is the `void *` tritium takes.
class DeviceBuffer {
  public:
    explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
        if (bytes) check(cu->MemAlloc(&ptr_, bytes), "cuMemAlloc");
    }
    template <class T> explicit DeviceBuffer(const std::vector<T> &host) : DeviceBuffer(host.size() * sizeof(T)) {
        check(cu->MemcpyHtoD(ptr_, host.data(), bytes_), "cuMemcpyHtoD");
    }
    ~DeviceBuffer() {
        if (ptr_) cu->MemFree(ptr_);
    }
    DeviceBuffer(const DeviceBuffer &) = delete;
    DeviceBuffer &operator=(const DeviceBuffer &) = delete;

    void *get() const { return reinterpret_cast<void *>(static_cast<uintptr_t>(ptr_)); }
    size_t size() const { return bytes_; }
    template <class T> std::vector<T> download() const {
        std::vector<T> host(bytes_ / sizeof(T));
        check(cu->MemcpyDtoH(host.data(), ptr_, bytes_), "cuMemcpyDtoH");
        return host;
    }

  private:
    CUdeviceptr ptr_ = 0;
    size_t bytes_;
};

bool close_enough(double got, double want, const std::string &what) {
    if (std::fabs(got - want) <= 1e-5 + 1e-5 * std::fabs(want)) return true;
    std::fprintf(stderr, "MISMATCH %s: got %.9g, want %.9g\n", what.c_str(), got, want);
    return false;
}

bool run_triplet() {
    constexpr int64_t n = 5, d = 7;
    constexpr float margin = 1.0f, p = 2.0f, eps = 1e-6f;
    std::vector<float> a(n * d), pos(n * d), neg(n * d);
    for (int i = 0; i < n * d; ++i) {
        a[i] = static_cast<float>(std::sin(0.37 * i));
        pos[i] = a[i] + 0.25f * static_cast<float>(std::cos(1.3 * i));
        // negatives move away row by row: the first rows have a loss, the last clamp to 0
        neg[i] = a[i] + 0.25f * static_cast<float>(1 + i / d) * static_cast<float>(std::sin(2.1 * i));
    }
    double want = 0.0;  // mean_i max(||a_i - p_i + eps|| - ||a_i - n_i + eps|| + margin, 0)
    for (int i = 0; i < n; ++i) {
        double dp = 0.0, dn = 0.0;
        for (int j = 0; j < d; ++j) {
            const double ep = double(a[i * d + j]) - pos[i * d + j] + eps;
            const double en = double(a[i * d + j]) - neg[i * d + j] + eps;
            dp += ep * ep;
            dn += en * en;
        }
        want += std::max(std::sqrt(dp) - std::sqrt(dn) + margin, 0.0);
    }
    want /= n;

    size_t ws_bytes = 0;
    check(tritium_triplet_margin_loss_workspace_size(n, d, TRITIUM_REDUCTION_MEAN, &ws_bytes), "workspace query");
    DeviceBuffer da(a), dp(pos), dn(neg), out(sizeof(float)), ws(ws_bytes);
    check(tritium_triplet_margin_loss(TRITIUM_FLOAT32, n, d, da.get(), d, dp.get(), d, dn.get(), d, margin, p, eps,
                                      0, TRITIUM_REDUCTION_MEAN, out.get(), nullptr, ws.get(), ws.size(), nullptr),
          "tritium_triplet_margin_loss");
    check(cu->CtxSynchronize(), "cuCtxSynchronize");
    const float got = out.download<float>()[0];
    std::printf("triplet_margin_loss n=%d d=%d mean (workspace %zu bytes): %.7f (reference %.7f)\n", int(n), int(d),
                ws_bytes, double(got), want);
    return close_enough(got, want, "triplet loss");
}

bool run_matmul() {
    constexpr int64_t m = 3, k = 5, n = 4;
    std::vector<float> a(m * k), b(k * n);
    // values with full fp32 mantissas, so a TF32 product would not pass the check
    for (int i = 0; i < m * k; ++i) a[i] = static_cast<float>(std::sin(0.7 * i + 0.1));
    for (int i = 0; i < k * n; ++i) b[i] = static_cast<float>(std::cos(0.3 * i - 0.2));

    size_t ws_bytes = 0;
    check(tritium_matmul_workspace_size(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGHEST, m, n, k, &ws_bytes),
          "workspace query");
    DeviceBuffer da(a), db(b), dc(m * n * sizeof(float)), ws(ws_bytes);
    // row-major: element (i, j) at i * cols + j; a transposed operand would just swap its strides
    check(tritium_matmul(TRITIUM_FLOAT32, TRITIUM_PRECISION_HIGHEST, m, n, k, da.get(), k, 1, db.get(), n, 1,
                         dc.get(), n, 1, ws.get(), ws.size(), nullptr),
          "tritium_matmul");
    check(cu->CtxSynchronize(), "cuCtxSynchronize");
    const std::vector<float> c = dc.download<float>();

    bool ok = true;
    std::printf("matmul %dx%d @ %dx%d fp32 highest:\n", int(m), int(k), int(k), int(n));
    for (int i = 0; i < m; ++i) {
        std::printf("  ");
        for (int j = 0; j < n; ++j) {
            double want = 0.0;
            for (int l = 0; l < k; ++l) want += double(a[i * k + l]) * b[l * n + j];
            ok &= close_enough(c[i * n + j], want, "c[" + std::to_string(i) + "][" + std::to_string(j) + "]");
            std::printf(" %9.5f", double(c[i * n + j]));
        }
        std::printf("\n");
    }
    return ok;
}

}  // namespace

int main() {
    std::printf("tritium %s (header %s), images for: %s\n", tritium_version_string(), TRITIUM_VERSION_STRING,
                tritium_shipped_archs());
    int count = 0;
    const tritium_status s = tritium_device_count(&count);
    if (s == TRITIUM_ERROR_NO_DRIVER || s == TRITIUM_ERROR_NO_DEVICE || (s == TRITIUM_SUCCESS && count == 0)) {
        std::printf("no GPU: %s: %s\n", tritium_status_string(s), tritium_last_error());
        return 0;
    }
    try {
        check(s, "tritium_device_count");
        int major = 0, minor = 0;
        std::array<char, 128> name{};
        std::array<char, 160> image{};
        check(tritium_device_info(0, &major, &minor, name.data(), name.size(), image.data(), image.size()),
              "tritium_device_info");
        std::printf("device 0 of %d: %s (sm_%d%d), image %s\n", count, name.data(), major, minor, image.data());

        // the device's primary context, made current: tritium's NULL stream then runs there
        static const Driver driver;
        cu = &driver;
        CUdevice dev = 0;
        CUcontext ctx = nullptr;
        check(cu->Init(0), "cuInit");
        check(cu->DeviceGet(&dev, 0), "cuDeviceGet");
        check(cu->DevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
        check(cu->CtxSetCurrent(ctx), "cuCtxSetCurrent");

        bool ok = run_triplet();
        ok = run_matmul() && ok;
        std::printf(ok ? "OK\n" : "FAILED\n");
        return ok ? 0 : 1;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
