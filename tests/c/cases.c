/* The cases of test_support.h: device buffers, random inputs, tritium calls, and the
 * fp64 references their outputs are checked against. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

/* ---- cases --------------------------------------------------------------------------- */

/* triplet buffers */
enum { T_A, T_P, T_N, T_OUT, T_SAVED, T_WS, T_GOUT, T_GA, T_GP, T_GN, T_COUNT };
/* matmul buffers */
enum { M_A, M_B, M_C, M_WS, M_COUNT };

static void fail_msg(char *msg, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
}

void case_random(test_case *c, int kind, uint64_t *rng, int64_t max_extent) {
    static const float ps[] = {2.0f, 2.0f, 1.0f, 1.5f, 3.0f, INFINITY};
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->dtype = (tritium_dtype)rng_below(rng, 3);
    if (kind == CASE_TRIPLET) {
        if (rng_below(rng, 8) == 0) { /* few long rows: the split path */
            c->n = 1 + (int64_t)rng_below(rng, 4);
            c->d = 4097 + (int64_t)rng_below(rng, 8000);
        } else {
            c->n = 1 + (int64_t)rng_below(rng, (uint64_t)max_extent);
            c->d = 1 + (int64_t)rng_below(rng, 2 * (uint64_t)max_extent);
        }
        c->p = ps[rng_below(rng, sizeof ps / sizeof ps[0])];
        c->eps = 1e-6f;
        c->swap = (int)rng_below(rng, 2);
        c->reduction = (tritium_reduction)rng_below(rng, 3);
        /* about 0.15 of a typical distance: a mix of rows on either side of the hinge */
        c->margin = isinf(c->p) ? 0.4f : (float)(0.15 * pow((double)c->d, 1.0 / c->p));
    } else {
        c->precision = (tritium_precision)rng_below(rng, 2);
        c->m = 1 + (int64_t)rng_below(rng, (uint64_t)max_extent);
        c->nc = 1 + (int64_t)rng_below(rng, (uint64_t)max_extent);
        c->k = 1 + (int64_t)rng_below(rng, (uint64_t)max_extent);
        c->la = (int)rng_below(rng, 4);
        c->lb = (int)rng_below(rng, 4);
        c->lc = (int)rng_below(rng, 4);
        c->workspace = (int)rng_below(rng, 2);
    }
}

/* strides of an r x cols matrix in layout l, and its span in elements */
static size_t layout_strides(int l, int64_t r, int64_t cols, int64_t st[2]) {
    switch (l) {
    case LAYOUT_COL: st[0] = 1; st[1] = r; break;
    case LAYOUT_STRIDED: st[0] = 2 * cols + 1; st[1] = 2; break;
    case LAYOUT_PADDED: st[0] = cols + 3; st[1] = 1; break;
    default: st[0] = cols; st[1] = 1; break;
    }
    return r && cols ? (size_t)((r - 1) * st[0] + (cols - 1) * st[1] + 1) : 0;
}

static void add_buffer(test_case *c, int i, size_t bytes) {
    c->bytes[i] = bytes;
    c->dev[i] = dev_alloc(bytes);
    c->host[i] = calloc(bytes ? bytes : 1, 1);
    if (!c->host[i]) {
        fprintf(stderr, "out of host memory\n");
        exit(1);
    }
    if (i + 1 > c->nbuf) c->nbuf = i + 1;
}

static void tr_check(tritium_status s, const char *what) {
    if (s != TRITIUM_SUCCESS) {
        fprintf(stderr, "%s: %s: %s\n", what, tritium_status_string(s), tritium_last_error());
        exit(1);
    }
}

void case_alloc(test_case *c) {
    size_t e = dt_size(c->dtype);
    if (c->kind == CASE_TRIPLET) {
        size_t rows = (size_t)(c->n * c->d), in = c->n ? (size_t)((c->n - 1) * (c->d + c->pad) + c->d) : 0;
        size_t saved = 0, ws = 0;
        tr_check(tritium_triplet_margin_loss_saved_size(c->n, c->p, &saved), "saved size");
        tr_check(tritium_triplet_margin_loss_workspace_size(c->n, c->d, c->reduction, &ws), "workspace size");
        int64_t outs = c->reduction == TRITIUM_REDUCTION_NONE ? c->n : 1;
        for (int i = T_A; i <= T_N; ++i) add_buffer(c, i, in * e);
        add_buffer(c, T_OUT, (size_t)outs * e);
        add_buffer(c, T_SAVED, saved);
        add_buffer(c, T_WS, ws);
        c->ws_bytes = ws;
        add_buffer(c, T_GOUT, (size_t)outs * e);
        for (int i = T_GA; i <= T_GN; ++i) add_buffer(c, i, rows * e);
    } else {
        size_t sa = layout_strides(c->la, c->m, c->k, c->sa), sb = layout_strides(c->lb, c->k, c->nc, c->sb);
        size_t sc = layout_strides(c->lc, c->m, c->nc, c->sc), ws = 0;
        if (c->workspace)
            tr_check(tritium_matmul_workspace_size(c->dtype, c->precision, c->m, c->nc, c->k, &ws), "workspace size");
        add_buffer(c, M_A, sa * e);
        add_buffer(c, M_B, sb * e);
        add_buffer(c, M_C, sc * e);
        add_buffer(c, M_WS, ws);
        c->ws_bytes = ws;
    }
}

void case_free(test_case *c) {
    for (int i = 0; i < c->nbuf; ++i) {
        dev_free(c->dev[i]);
        free(c->host[i]);
        c->dev[i] = 0;
        c->host[i] = NULL;
    }
    c->nbuf = 0;
}

static int is_input(const test_case *c, int i) {
    return c->kind == CASE_TRIPLET ? i <= T_N || i == T_GOUT : i <= M_B;
}

static void fill_normal(test_case *c, int i, uint64_t *rng, size_t count, const void *base, double scale) {
    for (size_t j = 0; j < count; ++j)
        elem_store(c->host[i], j, c->dtype, (base ? elem_load(base, j, c->dtype) : 0.0) + scale * rng_normal(rng));
}

void case_fill(test_case *c, uint64_t *rng, CUstream s) {
    /* outputs, saved values and workspace: NaN bytes, so that an element left unwritten, or
     * scratch read before it is written, shows in the results */
    int first_out = c->kind == CASE_TRIPLET ? T_OUT : M_C;
    for (int i = first_out; i < c->nbuf; ++i)
        if (!is_input(c, i)) memset(c->host[i], 0xff, c->bytes[i]);
    if (c->kind == CASE_TRIPLET) {
        size_t rows = c->bytes[T_A] / dt_size(c->dtype);
        fill_normal(c, T_A, rng, rows, NULL, 1.0);
        fill_normal(c, T_P, rng, rows, c->host[T_A], 1.0);
        fill_normal(c, T_N, rng, rows, c->host[T_A], 1.2);
        size_t outs = c->bytes[T_GOUT] / dt_size(c->dtype);
        for (size_t j = 0; j < outs; ++j) elem_store(c->host[T_GOUT], j, c->dtype, 0.5 + rng_uniform(rng));
    } else {
        size_t e = dt_size(c->dtype);
        fill_normal(c, M_A, rng, c->bytes[M_A] / e, NULL, 1.0);
        fill_normal(c, M_B, rng, c->bytes[M_B] / e, NULL, 1.0);
    }
    for (int i = 0; i < c->nbuf; ++i)
        if (is_input(c, i) || !c->keep_outputs) dev_upload(c->dev[i], c->host[i], c->bytes[i], s);
}

tritium_status case_enqueue(test_case *c, CUstream s) {
    if (c->kind == CASE_MATMUL)
        return tritium_matmul(c->dtype, c->precision, c->m, c->nc, c->k, dptr(c->dev[M_A]), c->sa[0], c->sa[1],
                              dptr(c->dev[M_B]), c->sb[0], c->sb[1], dptr(c->dev[M_C]), c->sc[0], c->sc[1],
                              dptr(c->dev[M_WS]), c->ws_bytes, s);
    int64_t d = c->d, gd = d > 0 ? d : 1; /* gradient rows must not overlap, even empty ones */
    int64_t sd = d + c->pad;
    tritium_status st = tritium_triplet_margin_loss(
        c->dtype, c->n, d, dptr(c->dev[T_A]), sd, dptr(c->dev[T_P]), sd, dptr(c->dev[T_N]), sd, c->margin, c->p,
        c->eps, c->swap, c->reduction, dptr(c->dev[T_OUT]), c->nosave ? NULL : dptr(c->dev[T_SAVED]), dptr(c->dev[T_WS]),
        c->ws_bytes, s);
    if (st != TRITIUM_SUCCESS || c->nosave) return st;
    return tritium_triplet_margin_loss_backward(
        c->dtype, c->n, d, dptr(c->dev[T_A]), sd, dptr(c->dev[T_P]), sd, dptr(c->dev[T_N]), sd, c->p, c->eps, c->swap,
        c->reduction, dptr(c->dev[T_GOUT]), 1, dptr(c->dev[T_SAVED]), dptr(c->dev[T_GA]), gd, dptr(c->dev[T_GP]), gd,
        dptr(c->dev[T_GN]), gd, s);
}

/* output bounds per dtype: the loss (relative to the distances' scale), gradients and
 * products (relative to the largest reference value / the reference's norm) */
static double tol_loss(tritium_dtype dt) { return dt == TRITIUM_FLOAT32 ? 2e-5 : dt == TRITIUM_FLOAT16 ? 2e-3 : 1.6e-2; }
static double tol_grad(tritium_dtype dt) { return dt == TRITIUM_FLOAT32 ? 2e-4 : dt == TRITIUM_FLOAT16 ? 4e-3 : 3e-2; }
static double tol_matmul(const test_case *c) {
    if (c->dtype == TRITIUM_FLOAT32) return c->precision == TRITIUM_PRECISION_HIGHEST ? 1e-5 : 2e-3;
    return c->dtype == TRITIUM_FLOAT16 ? 2e-3 : 1.6e-2;
}

/* ||x - y + eps||_p of rows x, y (fp64), and d dist / d x in g (NULL: not wanted); sets
 * *ambiguous where the gradient is not well defined (zero distance, p = inf ties) */
static double dist_grad(const test_case *c, const void *x, const void *y, size_t row, double *g, int *ambiguous) {
    int64_t d = c->d;
    size_t at = row * (size_t)(d + c->pad);
    double p = c->p, acc = 0.0, second = 0.0;
    int64_t arg = -1;
    for (int64_t j = 0; j < d; ++j) {
        double u = fabs(elem_load(x, at + (size_t)j, c->dtype) - elem_load(y, at + (size_t)j, c->dtype) + c->eps);
        if (isinf(p)) {
            if (u > acc) { second = acc; acc = u; arg = j; }
            else if (u > second) second = u;
        } else {
            acc += pow(u, p);
        }
    }
    double dist = isinf(p) ? acc : pow(acc, 1.0 / p);
    if (dist == 0.0 || (isinf(p) && second >= acc * (1.0 - 1e-5))) *ambiguous = 1;
    if (!g) return dist;
    for (int64_t j = 0; j < d; ++j) {
        double u = elem_load(x, at + (size_t)j, c->dtype) - elem_load(y, at + (size_t)j, c->dtype) + c->eps;
        double sg = u > 0 ? 1.0 : u < 0 ? -1.0 : 0.0;
        g[j] = dist == 0.0 ? 0.0 : isinf(p) ? (j == arg ? sg : 0.0) : sg * pow(fabs(u), p - 1) / pow(dist, p - 1);
    }
    return dist;
}

/* |got - want| <= bound, with NaN never within */
static int within(double got, double want, double bound) { return fabs(got - want) <= bound; }

static int check_triplet(test_case *c, CUstream s, char *msg, size_t size) {
    tritium_dtype dt = c->dtype;
    int64_t n = c->n, d = c->d;
    for (int i = T_OUT; i < T_COUNT; ++i)
        if (i == T_OUT || i >= T_GA) dev_download(c->host[i], c->dev[i], c->bytes[i], s);
    double *gp_ = calloc((size_t)(d > 0 ? d : 1) * 3, sizeof(double));
    double *g_ap = gp_, *g_an = gp_ + (d > 0 ? d : 1), *g_pn = g_an + (d > 0 ? d : 1);
    double *ref_g[3];
    for (int t = 0; t < 3; ++t) ref_g[t] = calloc((size_t)(n * d > 0 ? n * d : 1), sizeof(double));
    char *skip = calloc((size_t)(n > 0 ? n : 1), 1);
    double sum = 0.0, scale_sum = 0.0;
    /* the largest |term| summed into any gradient element: a bound relative to the result
     * alone fails where the terms cancel (d = 1: +1 - 1 is 0 exactly in fp64, 1e-8 in fp32) */
    double terms = 0.0;
    int bad = 0;
    for (int64_t i = 0; i < n && !bad; ++i) {
        int amb = 0;
        double dp = dist_grad(c, c->host[T_A], c->host[T_P], (size_t)i, g_ap, &amb);
        double dan = dist_grad(c, c->host[T_A], c->host[T_N], (size_t)i, g_an, &amb);
        double dpn = c->swap ? dist_grad(c, c->host[T_P], c->host[T_N], (size_t)i, g_pn, &amb) : INFINITY;
        int use_pn = c->swap && dpn < dan;
        double dneg = use_pn ? dpn : dan, pre = c->margin + dp - dneg, loss = pre > 0 ? pre : 0.0;
        double scale = dp + dneg + fabs(c->margin);
        sum += loss;
        scale_sum += scale;
        if (c->reduction == TRITIUM_REDUCTION_NONE) {
            double got = elem_load(c->host[T_OUT], (size_t)i, dt);
            if (!within(got, loss, tol_loss(dt) * scale + 1e-30)) {
                fail_msg(msg, size, "loss[%lld] = %.8g, reference %.8g", (long long)i, got, loss);
                bad = 1;
            }
        }
        /* the gradient is ambiguous at the hinge's corner and at the swap's tie */
        skip[i] = amb || fabs(pre) < 1e-3 * scale || (c->swap && fabs(dan - dpn) < 1e-3 * scale);
        double g = c->reduction == TRITIUM_REDUCTION_NONE ? elem_load(c->host[T_GOUT], (size_t)i, dt)
                   : c->reduction == TRITIUM_REDUCTION_MEAN ? elem_load(c->host[T_GOUT], 0, dt) / (double)n
                                                            : elem_load(c->host[T_GOUT], 0, dt);
        if (pre <= 0) continue;
        double *ga = ref_g[0] + i * d, *gpos = ref_g[1] + i * d, *gn = ref_g[2] + i * d;
        for (int64_t j = 0; j < d; ++j) {
            terms = fmax(terms, fabs(g) * (fabs(g_ap[j]) + fabs(use_pn ? g_pn[j] : g_an[j])));
            ga[j] += g * g_ap[j];
            gpos[j] -= g * g_ap[j];
            if (use_pn) {
                gpos[j] -= g * g_pn[j];
                gn[j] += g * g_pn[j];
            } else {
                ga[j] -= g * g_an[j];
                gn[j] += g * g_an[j];
            }
        }
    }
    if (!bad && c->reduction != TRITIUM_REDUCTION_NONE) {
        double want = c->reduction == TRITIUM_REDUCTION_MEAN ? sum / (double)n : sum;
        double bound = tol_loss(dt) * (c->reduction == TRITIUM_REDUCTION_MEAN ? scale_sum / (double)n : scale_sum);
        double got = elem_load(c->host[T_OUT], 0, dt);
        if (n == 0 ? !isnan(got) : !within(got, want, bound + 1e-30)) {
            fail_msg(msg, size, "%s loss = %.8g, reference %.8g", c->reduction == TRITIUM_REDUCTION_MEAN ? "mean" : "sum",
                     got, want);
            bad = 1;
        }
    }
    static const char *const gname[3] = {"grad_anchor", "grad_positive", "grad_negative"};
    for (int t = 0; t < 3 && !bad && !c->nosave; ++t) {
        double peak = terms;
        for (int64_t j = 0; j < n * d; ++j) peak = fmax(peak, fabs(ref_g[t][j]));
        for (int64_t j = 0; j < n * d && !bad; ++j) {
            double got = elem_load(c->host[T_GA + t], (size_t)j, dt);
            if (skip[j / d] ? isnan(got) : !within(got, ref_g[t][j], tol_grad(dt) * peak + 1e-30)) {
                fail_msg(msg, size, "%s[%lld][%lld] = %.8g, reference %.8g (scale %.3g)", gname[t], (long long)(j / d),
                         (long long)(j % d), got, ref_g[t][j], peak);
                bad = 1;
            }
        }
    }
    free(gp_);
    for (int t = 0; t < 3; ++t) free(ref_g[t]);
    free(skip);
    return bad;
}

/* C's host twin from the device. A padded or strided C has gaps that nothing writes; with
 * keep_outputs they are uninitialized device memory, and copying them is what
 * compute-sanitizer's initcheck reports, so then only the elements are copied (by rows). */
static void download_c(test_case *c, CUstream s) {
    size_t e = dt_size(c->dtype);
    if (!c->keep_outputs || (c->lc != LAYOUT_PADDED && c->lc != LAYOUT_STRIDED)) {
        dev_download(c->host[M_C], c->dev[M_C], c->bytes[M_C], s);
        return;
    }
    int rows_contiguous = c->sc[1] == 1;
    for (int64_t i = 0; i < c->m; ++i)
        for (int64_t j = 0; j < c->nc; j += rows_contiguous ? c->nc : 1) {
            size_t at = (size_t)(i * c->sc[0] + j * c->sc[1]) * e;
            dev_download((char *)c->host[M_C] + at, c->dev[M_C] + at, rows_contiguous ? (size_t)c->nc * e : e, s);
        }
}

static int check_matmul(test_case *c, CUstream s, char *msg, size_t size) {
    tritium_dtype dt = c->dtype;
    size_t e = dt_size(dt);
    download_c(c, s);
    char *is_elem = calloc(c->bytes[M_C] / e + 1, 1);
    /* the operands as dense fp64: A row-major, B transposed (rows of K) */
    size_t mk = (size_t)(c->m * c->k), nk = (size_t)(c->nc * c->k);
    double *a = malloc((mk ? mk : 1) * sizeof(double)), *bt = malloc((nk ? nk : 1) * sizeof(double));
    for (int64_t i = 0; i < c->m; ++i)
        for (int64_t l = 0; l < c->k; ++l)
            a[i * c->k + l] = elem_load(c->host[M_A], (size_t)(i * c->sa[0] + l * c->sa[1]), dt);
    for (int64_t l = 0; l < c->k; ++l)
        for (int64_t j = 0; j < c->nc; ++j)
            bt[j * c->k + l] = elem_load(c->host[M_B], (size_t)(l * c->sb[0] + j * c->sb[1]), dt);
    double err = 0.0, norm = 0.0;
    int bad = 0;
    for (int64_t i = 0; i < c->m && !bad; ++i)
        for (int64_t j = 0; j < c->nc && !bad; ++j) {
            double want = 0.0;
            for (int64_t l = 0; l < c->k; ++l) want += a[i * c->k + l] * bt[j * c->k + l];
            size_t at = (size_t)(i * c->sc[0] + j * c->sc[1]);
            double got = elem_load(c->host[M_C], at, dt);
            is_elem[at] = 1;
            if (!c->keep_outputs && (isnan(got) || isinf(got))) {
                fail_msg(msg, size, "c[%lld][%lld] = %g (unwritten?)", (long long)i, (long long)j, got);
                bad = 1;
            }
            err += (got - want) * (got - want);
            norm += want * want;
        }
    /* the gaps of a strided or padded C keep their NaN bytes */
    const unsigned char *bytes = c->host[M_C];
    for (size_t b = 0; b < c->bytes[M_C] && !bad && !c->keep_outputs; ++b)
        if (!is_elem[b / e] && bytes[b] != 0xff) {
            fail_msg(msg, size, "byte %zu of C, between its elements, was written", b);
            bad = 1;
        }
    free(is_elem);
    free(a);
    free(bt);
    double rel = norm > 0 ? sqrt(err / norm) : sqrt(err);
    if (!bad && !(rel <= tol_matmul(c))) {
        fail_msg(msg, size, "relative error %.3e > %.1e", rel, tol_matmul(c));
        bad = 1;
    }
    return bad;
}

int case_check(test_case *c, CUstream s, char *msg, size_t msg_size) {
    msg[0] = '\0';
    return c->kind == CASE_TRIPLET ? check_triplet(c, s, msg, msg_size) : check_matmul(c, s, msg, msg_size);
}

void case_describe(const test_case *c, char *buf, size_t size) {
    static const char *const red[3] = {"none", "mean", "sum"}, *const lay[4] = {"row", "col", "strided", "padded"};
    if (c->kind == CASE_TRIPLET)
        snprintf(buf, size, "triplet %s n=%lld d=%lld%s p=%g %s%s", dt_name(c->dtype), (long long)c->n, (long long)c->d,
                 c->pad ? " padded" : "", (double)c->p, red[c->reduction % 3], c->swap ? " swap" : "");
    else
        snprintf(buf, size, "matmul %s%s %lldx%lldx%lld A=%s B=%s C=%s%s", dt_name(c->dtype),
                 c->dtype == TRITIUM_FLOAT32 ? (c->precision == TRITIUM_PRECISION_HIGH ? " high" : " highest") : "",
                 (long long)c->m, (long long)c->nc, (long long)c->k, lay[c->la % 4], lay[c->lb % 4], lay[c->lc % 4],
                 c->workspace ? " ws" : "");
}
