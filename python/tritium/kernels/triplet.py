"""Triplet margin loss kernels (Triton), the single source of the compiled images.

Math, per row i (v = x - y + eps, accumulated in fp32 whatever the input dtype):

    d(x, y)  = ||x - y + eps||_p                      (eps added to the difference,
                                                        as torch.pairwise_distance does)
    d_neg    = min(d(a, n), d(p, n)) if swap else d(a, n)
    loss_i   = max(d(a, p) - d_neg + margin, 0)

Reductions: 'none' stores loss_i in the input dtype; 'mean' and 'sum' store one fp32
partial sum per program into a workspace, and `_triplet_reduce_kernel` adds the partials
in a fixed order, so the result is the same bits run after run.
"""
import triton
import triton.language as tl

# P_MODE values (constexpr): which norm the kernel is specialized for.
P_ONE = 1
P_TWO = 2
P_GENERAL = 0  # any finite p > 0, through exp2/log2
P_INF = 3


@triton.jit
def _norm_term(v, norm_p, P_MODE: tl.constexpr):
    """Per-element contribution to the p-norm accumulator of v."""
    if P_MODE == 2:
        t = v * v
    elif P_MODE == 1:
        t = tl.abs(v)
    elif P_MODE == 3:
        t = tl.abs(v)
    else:
        av = tl.abs(v)
        # |v|^p; exp2(p * log2(0)) = exp2(-inf) = 0, as it should be for p > 0
        t = tl.exp2(norm_p * tl.log2(av))
    return t


@triton.jit
def _norm_combine(acc, P_MODE: tl.constexpr):
    """Reduce an accumulator tile along its last axis (sum, or max for p = inf)."""
    if P_MODE == 3:
        r = tl.max(acc, axis=1)
    else:
        r = tl.sum(acc, axis=1)
    return r


@triton.jit
def _norm_finish(s, inv_p, P_MODE: tl.constexpr):
    """Turn a reduced accumulator into the norm itself."""
    if P_MODE == 2:
        d = tl.sqrt(s)
    elif P_MODE == 1:
        d = s
    elif P_MODE == 3:
        d = s
    else:
        # s^(1/p), with 0 -> 0; once per row, so the accurate pow (exp2/log2 of a large
        # sum loses digits that the hinge's cancellation then magnifies)
        d = tl.where(s > 0.0, tl.exp(inv_p * tl.log(s.to(tl.float64))).to(tl.float32), 0.0)
    return d


@triton.jit
def _triplet_fwd_kernel(
    # pointers
    a_ptr, p_ptr, n_ptr,          # inputs, (N, D) rows with a row stride
    out_ptr,                      # per-row loss, input dtype (reduction 'none')
    partial_ptr,                  # one fp32 partial sum per program (reduction mean/sum)
    # sizes and row strides, in elements
    N, D, stride_a, stride_p, stride_n,
    # scalars
    margin, norm_p, inv_p, eps,
    swap, reduce,                 # 0/1 flags
    # meta
    P_MODE: tl.constexpr, ROWS: tl.constexpr, BLOCK_D: tl.constexpr,
):
    # program mapping: ROWS rows per program, D walked in BLOCK_D chunks
    pid = tl.program_id(0)
    rows = pid * ROWS + tl.arange(0, ROWS)
    row_ok = rows < N
    rows64 = rows.to(tl.int64)
    cols = tl.arange(0, BLOCK_D)
    a_row = a_ptr + rows64[:, None] * stride_a
    p_row = p_ptr + rows64[:, None] * stride_p
    n_row = n_ptr + rows64[:, None] * stride_n

    # D loop: three accumulators (a-p, a-n, and p-n only when swapping)
    acc_ap = tl.zeros([ROWS, BLOCK_D], dtype=tl.float32)
    acc_an = tl.zeros([ROWS, BLOCK_D], dtype=tl.float32)
    acc_pn = tl.zeros([ROWS, BLOCK_D], dtype=tl.float32)
    for d0 in range(0, D, BLOCK_D):
        c = d0 + cols
        m = row_ok[:, None] & (c[None, :] < D)
        a = tl.load(a_row + c[None, :], mask=m, other=0.0).to(tl.float32)
        p = tl.load(p_row + c[None, :], mask=m, other=0.0).to(tl.float32)
        n = tl.load(n_row + c[None, :], mask=m, other=0.0).to(tl.float32)
        # masked lanes must add nothing: eps alone would count there
        v_ap = tl.where(m, a - p + eps, 0.0)
        v_an = tl.where(m, a - n + eps, 0.0)
        if P_MODE == 3:
            acc_ap = tl.maximum(acc_ap, _norm_term(v_ap, norm_p, P_MODE))
            acc_an = tl.maximum(acc_an, _norm_term(v_an, norm_p, P_MODE))
        else:
            acc_ap += _norm_term(v_ap, norm_p, P_MODE)
            acc_an += _norm_term(v_an, norm_p, P_MODE)
        if swap != 0:
            v_pn = tl.where(m, p - n + eps, 0.0)
            if P_MODE == 3:
                acc_pn = tl.maximum(acc_pn, _norm_term(v_pn, norm_p, P_MODE))
            else:
                acc_pn += _norm_term(v_pn, norm_p, P_MODE)

    # per-row distances and hinge
    d_ap = _norm_finish(_norm_combine(acc_ap, P_MODE), inv_p, P_MODE)
    d_neg = _norm_finish(_norm_combine(acc_an, P_MODE), inv_p, P_MODE)
    if swap != 0:
        d_pn = _norm_finish(_norm_combine(acc_pn, P_MODE), inv_p, P_MODE)
        d_neg = tl.minimum(d_neg, d_pn)
    loss = tl.maximum(d_ap - d_neg + margin, 0.0)

    # write-back
    if reduce != 0:
        tl.store(partial_ptr + pid, tl.sum(tl.where(row_ok, loss, 0.0), axis=0))
    else:
        tl.store(out_ptr + rows, loss.to(out_ptr.dtype.element_ty), mask=row_ok)


@triton.jit
def _triplet_reduce_kernel(
    partial_ptr, out_ptr,         # fp32 partials in, one scalar out (input dtype)
    count, divisor,               # number of partials; N for 'mean', 1 for 'sum'
    BLOCK: tl.constexpr,
):
    """Deterministic sum of `count` fp32 partials: fixed chunk order, fixed tree."""
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(0, count, BLOCK):
        acc += tl.load(partial_ptr + i + offs, mask=i + offs < count, other=0.0)
    total = tl.sum(acc, axis=0) / divisor
    tl.store(out_ptr, total.to(out_ptr.dtype.element_ty))
