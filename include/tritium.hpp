/* tritium.hpp: a C++ layer over the C ABI of tritium.h.
 *
 * Header-only and inline: it adds no symbol to libtritium, and a program using it links
 * the same library as a C program. What it adds:
 *   - tritium::error, thrown on any failed call, carrying the status and the library's
 *     detail message (which argument, which driver call);
 *   - strided views (tritium::matrix, tritium::rows) that carry dtype, shape and strides, so
 *     that shapes are checked once, here, instead of being passed as loose integers;
 *   - RAII for the one piece of state the C ABI has a caller set and reset: a forced matmul
 *     config (tritium::forced_matmul_config, for tuning tools).
 * The library owns no memory for the caller, so there is nothing else to own: device
 * buffers (inputs, outputs, workspace) stay the caller's. Needs C++14.
 *
 * fp16/bf16: C++ has no standard 16-bit float types. Views of them are built with an
 * explicit dtype (tritium::matrix<void>(TRITIUM_FLOAT16, ...)), or by specializing
 * tritium::dtype_of for the application's type, e.g.
 *     template <> struct tritium::dtype_of<__half> { static constexpr tritium_dtype value = TRITIUM_FLOAT16; };
 */
#ifndef TRITIUM_HPP
#define TRITIUM_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "tritium.h"

namespace tritium {

/*! A failed tritium call. what() is "<call>: <status description>: <detail>". */
class error : public std::runtime_error {
public:
    error(tritium_status status, const std::string &what) : std::runtime_error(what), status_(status) {}
    tritium_status status() const noexcept { return status_; }

private:
    tritium_status status_;
};

namespace detail {
inline void check(tritium_status s, const char *call) {
    if (s != TRITIUM_SUCCESS)
        throw error(s, std::string(call) + ": " + tritium_status_string(s) + ": " + tritium_last_error());
}
[[noreturn]] inline void fail(tritium_status s, const std::string &what) {
    throw error(s, what + " (" + tritium_status_string(s) + ")");
}
}  // namespace detail

/*! The tritium_dtype of an element type; specialize it for 16-bit types (see above). */
template <class T>
struct dtype_of;
template <>
struct dtype_of<float> {
    static constexpr tritium_dtype value = TRITIUM_FLOAT32;
};
template <class T>
struct dtype_of<const T> : dtype_of<T> {};

/*! A 2-D strided view of device memory: element (i, j) at data + i * row_stride +
 *  j * col_stride (in elements). A transposed view is the same data with swapped strides
 *  (see t()). T = void (or const void) views carry their dtype explicitly. */
template <class T>
struct matrix {
    tritium_dtype dtype;
    T *data;
    int64_t rows, cols, row_stride, col_stride;

    /* a typed view; row-major (contiguous rows) unless strides are given */
    matrix(T *data_, int64_t rows_, int64_t cols_)
        : matrix(data_, rows_, cols_, cols_, 1) {}
    matrix(T *data_, int64_t rows_, int64_t cols_, int64_t row_stride_, int64_t col_stride_)
        : dtype(dtype_of<T>::value), data(data_), rows(rows_), cols(cols_), row_stride(row_stride_),
          col_stride(col_stride_) {}
    /* an untyped view (T = void or const void) */
    matrix(tritium_dtype dtype_, T *data_, int64_t rows_, int64_t cols_, int64_t row_stride_, int64_t col_stride_)
        : dtype(dtype_), data(data_), rows(rows_), cols(cols_), row_stride(row_stride_), col_stride(col_stride_) {}
    /* a view of U's elements as this (const, or untyped) view type */
    template <class U>
    matrix(const matrix<U> &o)  // NOLINT: implicit, as T* from U*
        : dtype(o.dtype), data(o.data), rows(o.rows), cols(o.cols), row_stride(o.row_stride),
          col_stride(o.col_stride) {}

    matrix t() const { return matrix(dtype, data, cols, rows, col_stride, row_stride); }
};

/*! n rows of d contiguous elements, row i at data + i * stride (in elements): the inputs
 *  and gradients of the triplet loss. */
template <class T>
struct rows {
    tritium_dtype dtype;
    T *data;
    int64_t n, d, stride;

    rows(T *data_, int64_t n_, int64_t d_) : rows(data_, n_, d_, d_) {}
    rows(T *data_, int64_t n_, int64_t d_, int64_t stride_)
        : dtype(dtype_of<T>::value), data(data_), n(n_), d(d_), stride(stride_) {}
    rows(tritium_dtype dtype_, T *data_, int64_t n_, int64_t d_, int64_t stride_)
        : dtype(dtype_), data(data_), n(n_), d(d_), stride(stride_) {}
    template <class U>
    rows(const rows<U> &o)  // NOLINT: implicit, as T* from U*
        : dtype(o.dtype), data(o.data), n(o.n), d(o.d), stride(o.stride) {}
};

/* ---- library and devices ------------------------------------------------------------- */

inline std::string version() { return tritium_version_string(); }
inline std::string shipped_archs() { return tritium_shipped_archs(); }

/*! Devices the driver sees: 0 when there is no driver or no device (not an error). */
inline int device_count() {
    int count = 0;
    tritium_status s = tritium_device_count(&count);
    if (s != TRITIUM_SUCCESS && s != TRITIUM_ERROR_NO_DRIVER && s != TRITIUM_ERROR_NO_DEVICE)
        detail::check(s, "tritium_device_count");
    return count;
}

struct device_properties {
    int major, minor;
    std::string name;
    std::string images;  // per kernel, which image this build would load there
};

inline device_properties device_info(int ordinal) {
    device_properties p{0, 0, std::string(), std::string()};
    char name[256], images[4096];
    detail::check(tritium_device_info(ordinal, &p.major, &p.minor, name, sizeof name, images, sizeof images),
                  "tritium_device_info");
    p.name = name;
    p.images = images;
    return p;
}

/* ---- triplet margin loss --------------------------------------------------------------- */

/*! torch.nn.functional.triplet_margin_loss's options, with its defaults. */
struct triplet_options {
    float margin = 1.0f;
    float p = 2.0f;
    float eps = 1e-6f;
    bool swap = false;
    tritium_reduction reduction = TRITIUM_REDUCTION_MEAN;
};

inline std::size_t triplet_margin_loss_workspace_size(int64_t n, int64_t d, tritium_reduction reduction) {
    std::size_t bytes = 0;
    detail::check(tritium_triplet_margin_loss_workspace_size(n, d, reduction, &bytes),
                  "tritium_triplet_margin_loss_workspace_size");
    return bytes;
}

inline std::size_t triplet_margin_loss_saved_size(int64_t n, float p) {
    std::size_t bytes = 0;
    detail::check(tritium_triplet_margin_loss_saved_size(n, p, &bytes), "tritium_triplet_margin_loss_saved_size");
    return bytes;
}

namespace detail {
inline void same_rows(const rows<const void> &a, const rows<const void> &x, const char *name) {
    if (x.dtype != a.dtype) fail(TRITIUM_ERROR_INVALID_VALUE, std::string(name) + ": dtype differs from anchor's");
    if (x.n != a.n || x.d != a.d)
        fail(TRITIUM_ERROR_INVALID_SIZE, std::string(name) + ": " + std::to_string(x.n) + " x " + std::to_string(x.d) +
                                             ", anchor is " + std::to_string(a.n) + " x " + std::to_string(a.d));
}
}  // namespace detail

/*! The forward loss into `out` (n values of the inputs' dtype for NONE, else 1).
 *  `saved`: nullptr, or triplet_margin_loss_saved_size(n, p) bytes for the backward. */
inline void triplet_margin_loss(rows<const void> anchor, rows<const void> positive, rows<const void> negative,
                                void *out, const triplet_options &o = triplet_options(), void *saved = nullptr,
                                void *workspace = nullptr, std::size_t workspace_bytes = 0,
                                CUstream_st *stream = nullptr) {
    detail::same_rows(anchor, positive, "positive");
    detail::same_rows(anchor, negative, "negative");
    detail::check(tritium_triplet_margin_loss(anchor.dtype, anchor.n, anchor.d, anchor.data, anchor.stride,
                                              positive.data, positive.stride, negative.data, negative.stride,
                                              o.margin, o.p, o.eps, o.swap ? 1 : 0, o.reduction, out, saved, workspace,
                                              workspace_bytes, stream),
                  "tritium_triplet_margin_loss");
}

/*! The three gradients in one pass; `grad_out` holds n values with stride
 *  `stride_grad_out` (NONE) or one value (MEAN, SUM); a gradient view with data ==
 *  nullptr is skipped. */
inline void triplet_margin_loss_backward(rows<const void> anchor, rows<const void> positive, rows<const void> negative,
                                         const void *grad_out, int64_t stride_grad_out, const void *saved,
                                         rows<void> grad_anchor, rows<void> grad_positive, rows<void> grad_negative,
                                         const triplet_options &o = triplet_options(), CUstream_st *stream = nullptr) {
    detail::same_rows(anchor, positive, "positive");
    detail::same_rows(anchor, negative, "negative");
    const char *names[3] = {"grad_anchor", "grad_positive", "grad_negative"};
    const rows<void> *grads[3] = {&grad_anchor, &grad_positive, &grad_negative};
    for (int i = 0; i < 3; ++i)
        if (grads[i]->data) detail::same_rows(anchor, *grads[i], names[i]);
    detail::check(tritium_triplet_margin_loss_backward(
                      anchor.dtype, anchor.n, anchor.d, anchor.data, anchor.stride, positive.data, positive.stride,
                      negative.data, negative.stride, o.p, o.eps, o.swap ? 1 : 0, o.reduction, grad_out,
                      stride_grad_out, saved, grad_anchor.data, grad_anchor.stride, grad_positive.data,
                      grad_positive.stride, grad_negative.data, grad_negative.stride, stream),
                  "tritium_triplet_margin_loss_backward");
}

/* ---- matrix product -------------------------------------------------------------------- */

inline std::size_t matmul_workspace_size(tritium_dtype dtype, tritium_precision precision, int64_t m, int64_t n,
                                         int64_t k) {
    std::size_t bytes = 0;
    detail::check(tritium_matmul_workspace_size(dtype, precision, m, n, k, &bytes), "tritium_matmul_workspace_size");
    return bytes;
}

/*! C = A @ B through the views' strides. With less workspace than matmul_workspace_size()
 *  asks (none included) a path that fits is taken, with the same accuracy. */
inline void matmul(matrix<const void> a, matrix<const void> b, matrix<void> c,
                   tritium_precision precision = TRITIUM_PRECISION_HIGH, void *workspace = nullptr,
                   std::size_t workspace_bytes = 0, CUstream_st *stream = nullptr) {
    if (b.dtype != a.dtype || c.dtype != a.dtype)
        detail::fail(TRITIUM_ERROR_INVALID_VALUE, "matmul: a, b and c must have one dtype");
    if (a.cols != b.rows || c.rows != a.rows || c.cols != b.cols)
        detail::fail(TRITIUM_ERROR_INVALID_SIZE,
                     "matmul: shapes " + std::to_string(a.rows) + " x " + std::to_string(a.cols) + " @ " +
                         std::to_string(b.rows) + " x " + std::to_string(b.cols) + " -> " + std::to_string(c.rows) +
                         " x " + std::to_string(c.cols) + " do not match");
    detail::check(tritium_matmul(a.dtype, precision, a.rows, b.cols, a.cols, a.data, a.row_stride, a.col_stride,
                                 b.data, b.row_stride, b.col_stride, c.data, c.row_stride, c.col_stride, workspace,
                                 workspace_bytes, stream),
                  "tritium_matmul");
}

/*! For tuning tools: while alive, this thread's matmul calls use one shipped config
 *  (tritium_matmul_force_config); the table's choice comes back when it is destroyed. */
class forced_matmul_config {
public:
    enum path { direct = 1, packed = 2, streamed = 3 };
    forced_matmul_config(path p, const int32_t (&config)[6], int32_t split = 1) {
        detail::check(tritium_matmul_force_config(static_cast<int>(p), config, split), "tritium_matmul_force_config");
    }
    ~forced_matmul_config() { tritium_matmul_force_config(0, nullptr, 1); }
    forced_matmul_config(const forced_matmul_config &) = delete;
    forced_matmul_config &operator=(const forced_matmul_config &) = delete;
};

}  // namespace tritium

#endif /* TRITIUM_HPP */
