"""Triplet margin loss kernels (Triton), the single source of the compiled images.

Math, per row i (v = x - y + eps, accumulated in fp32 whatever the input dtype):

    d(x, y)  = ||x - y + eps||_p                      (eps added to the difference,
                                                        as torch.pairwise_distance does)
    d_neg    = min(d(a, n), d(p, n)) if swap else d(a, n)
    loss_i   = max(margin + d(a, p) - d_neg, 0)

Forward, two shapes of work:
  * row path: `_triplet_fwd_kernel` with one D range per row (chunk = D) finishes each row
    itself; 'none' stores loss_i, 'mean'/'sum' store one fp32 partial sum per program and
    `_triplet_reduce_kernel` adds the partials in a fixed order (same bits every run). A
    one-program grid (small batches, TRIPLET_SINGLE_MAX_STEPS) writes the final value
    itself, computed as the reduce kernel would from its one partial: one launch fewer;
  * split path, for few long rows: the same kernel on a (rows, splits) grid stores each
    split's norm accumulators (`split` = 1), and `_triplet_finish_kernel` combines them per
    row in a fixed order, then finishes rows and reduction in one program.

Backward: the forward can save, per row, the scale of each distance's gradient (hinge,
swap choice and norm derivative folded in; SAVED_W floats per row). `_triplet_bwd_kernel`
then reads a, p, n once and writes the three gradients, matching PyTorch's autograd
(`_triplet_bwd_flat_kernel` does the same in one flat pass over contiguous rows, the
common case; both walk their rows last first, see _last_first):

    dL/dv_xy = g * s_xy * f(v_xy),  f(v) = v (p=2), sgn v (p=1), sgn v |v|^(p-1) (other p),
               sgn v [|v| == d_xy] (p=inf), with s_xy = w_xy * k(d_xy) where
    w_ap = [margin + d_ap - d_neg >= 0], w_an = -w_ap * sel_an, w_pn = -w_ap * sel_pn
    (sel: 1 for the smaller of d_an, d_pn, 1/2 each on a tie), and
    k = 1/d (p=2, 0 at d=0), 1 (p=1), d^(1-p) (other p, 0 at d=0), 1/#{|v| == d} (p=inf).
"""
import triton
import triton.language as tl


@triton.jit
def _dependent_launch(PDL: tl.constexpr):
    """Programmatic dependent launch (Hopper; PDL = 1 in the sm_90 images, whose launches
    let a kernel start while the one before it in the stream drains): wait until the
    previous kernel has finished and its writes are visible, then let the next one start
    launching. Every kernel calls this first, before touching memory."""
    if PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()

# P_MODE values (constexpr): which norm the kernel is specialized for.
P_ONE = 1
P_TWO = 2
P_GENERAL = 0  # any finite p > 0, through exp2/log2
P_INF = 3

# floats saved per row for the backward: s_ap, s_an, s_pn (+ d_ap, d_an, d_pn for p=inf),
# stored and loaded one value per row each: the C library's size query
# (tritium_triplet_margin_loss_saved_size) reads these through the generated header
SAVED_W = tl.constexpr(3)
SAVED_W_INF = tl.constexpr(6)
# floats per (row, split) of the split path's workspace: three accumulators, three counts
PARTIAL_W = tl.constexpr(8)


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
def _accumulate(acc, cnt, v, m, norm_p, P_MODE: tl.constexpr):
    """Fold one tile of differences into a lane accumulator (sum of |v|^p, or for p = inf
    the running max of |v| with the number of lanes' elements equal to it)."""
    if P_MODE == 3:
        t = tl.where(m, tl.abs(v), -1.0)   # masked lanes never win nor tie (acc starts at -1)
        cnt = tl.where(t > acc, 1, tl.where((t == acc) & m, cnt + 1, cnt))
        acc = tl.maximum(acc, t)
    else:
        acc += tl.where(m, _norm_term(v, norm_p, P_MODE), 0.0)
    return acc, cnt


@triton.jit
def _accumulators(like, P_MODE: tl.constexpr):
    """The three distances' lane accumulators and counts, in the shape of the tile `like`."""
    if P_MODE == 3:
        init = -1.0
    else:
        init = 0.0
    acc = tl.full(like.shape, init, dtype=tl.float32)
    cnt = tl.zeros(like.shape, dtype=tl.int32)
    return acc, cnt, acc, cnt, acc, cnt


@triton.jit
def _accumulate3(acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, a, p, n, m, eps, norm_p, swap,
                 P_MODE: tl.constexpr):
    """One step of the three inputs folded into the a-p, a-n and (when swapping) p-n
    accumulators."""
    acc_ap, cnt_ap = _accumulate(acc_ap, cnt_ap, a - p + eps, m, norm_p, P_MODE)
    acc_an, cnt_an = _accumulate(acc_an, cnt_an, a - n + eps, m, norm_p, P_MODE)
    if swap != 0:
        acc_pn, cnt_pn = _accumulate(acc_pn, cnt_pn, p - n + eps, m, norm_p, P_MODE)
    return acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn


@triton.jit
def _combine(acc, cnt, P_MODE: tl.constexpr, AXIS: tl.constexpr = 1):
    """Reduce accumulator tiles along AXIS: (sum or max, count of the max). Applied to its
    own results along another axis, it goes on combining (the max of maxima, the count of
    those equal to it)."""
    if P_MODE == 3:
        r = tl.max(acc, axis=AXIS)
        c = tl.sum(tl.where(acc == tl.expand_dims(r, AXIS), cnt, 0), axis=AXIS)
    else:
        r = tl.sum(acc, axis=AXIS)
        c = tl.zeros(r.shape, dtype=tl.int32)
    return r, c


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
def _grad_scale(d, cnt, norm_p, P_MODE: tl.constexpr):
    """k(d): the row factor of d's gradient w.r.t. its differences (see the module doc)."""
    if P_MODE == 2:
        k = tl.where(d > 0.0, 1.0 / d, 0.0)
    elif P_MODE == 1:
        k = tl.full(d.shape, 1.0, tl.float32)
    elif P_MODE == 3:
        k = tl.where(cnt > 0, 1.0 / cnt.to(tl.float32), 0.0)
    else:
        k = tl.where(d > 0.0, tl.exp(((1.0 - norm_p) * tl.log(d.to(tl.float64)))).to(tl.float32), 0.0)
    return k


@triton.jit
def _finish_rows(r_ap, r_an, r_pn, c_ap, c_an, c_pn, row_ok, saved_ptr, rows,
                 margin, norm_p, inv_p, swap, save, P_MODE: tl.constexpr):
    """Per-row distances, loss, and (when `save`) the backward's saved row."""
    d_ap = _norm_finish(r_ap, inv_p, P_MODE)
    d_an = _norm_finish(r_an, inv_p, P_MODE)
    d_pn = _norm_finish(r_pn, inv_p, P_MODE)
    if swap != 0:
        d_neg = tl.minimum(d_an, d_pn)
        sel_an = tl.where(d_an < d_pn, 1.0, tl.where(d_an == d_pn, 0.5, 0.0))
    else:
        d_neg = d_an
        sel_an = tl.full(d_an.shape, 1.0, tl.float32)
    x = margin + d_ap - d_neg
    loss = tl.maximum(x, 0.0)
    if save != 0:
        w = tl.where(x >= 0.0, 1.0, 0.0)
        s_ap = w * _grad_scale(d_ap, c_ap, norm_p, P_MODE)
        s_an = -w * sel_an * _grad_scale(d_an, c_an, norm_p, P_MODE)
        s_pn = -w * (1.0 - sel_an) * _grad_scale(d_pn, c_pn, norm_p, P_MODE)
        # one store per value, in the rows' own layout (a [ROWS, W] tile of the values took
        # a layout conversion through shared memory; no faster or slower on an H200)
        sv = saved_ptr + rows.to(tl.int64) * (SAVED_W_INF if P_MODE == 3 else SAVED_W)
        tl.store(sv + 0, s_ap, mask=row_ok)
        tl.store(sv + 1, s_an, mask=row_ok)
        tl.store(sv + 2, s_pn, mask=row_ok)
        if P_MODE == 3:
            tl.store(sv + 3, d_ap, mask=row_ok)
            tl.store(sv + 4, d_an, mask=row_ok)
            tl.store(sv + 5, d_pn, mask=row_ok)
    return loss


@triton.jit
def _program_rows(row_block, split, N, D, chunk, ROWS: tl.constexpr):
    """The rows of a program (ROWS per row block) and its D range [lo, hi) (one `chunk`
    per split; chunk = D outside the split path)."""
    rows = row_block * ROWS + tl.arange(0, ROWS)
    lo = split * chunk
    return rows, rows < N, rows.to(tl.int64), lo, tl.minimum(lo + chunk, D)


@triton.jit
def _load3(a_row, p_row, n_row, c, m):
    """The three inputs at columns c of their rows (broadcast shapes), in fp32."""
    a = tl.load(a_row + c, mask=m, other=0.0).to(tl.float32)
    p = tl.load(p_row + c, mask=m, other=0.0).to(tl.float32)
    n = tl.load(n_row + c, mask=m, other=0.0).to(tl.float32)
    return a, p, n


@triton.jit
def _load_step(a_row, p_row, n_row, d0, row_ok, hi, BLOCK_D: tl.constexpr):
    """One BLOCK_D step of the three inputs' rows, in fp32, with its mask."""
    c = d0 + tl.arange(0, BLOCK_D)
    m = row_ok[:, None] & (c[None, :] < hi)
    a, p, n = _load3(a_row, p_row, n_row, c[None, :], m)
    return a, p, n, c, m


@triton.jit
def _triplet_fwd_kernel(
    # pointers
    a_ptr, p_ptr, n_ptr,          # inputs, (N, D) rows with a row stride
    out_ptr,                      # per-row loss, input dtype (reduction 'none')
    partial_ptr,                  # fp32 workspace: one partial sum per program (mean/sum),
                                  # or PARTIAL_W floats per (row, split) when `split`
    saved_ptr,                    # fp32, SAVED_W(_INF) per row, written when `save`
    # sizes, D range per split, row strides (elements)
    N, D, chunk, stride_a, stride_p, stride_n,
    # scalars
    margin, norm_p, inv_p, eps,
    divisor,                      # N for 'mean', 1 for 'sum' (used by a one-program grid)
    swap, reduce, save, split,    # 0/1 flags
    # meta
    P_MODE: tl.constexpr, ROWS: tl.constexpr, BLOCK_D: tl.constexpr, STAGES: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    _dependent_launch(PDL)
    rows, row_ok, rows64, lo, hi = _program_rows(tl.program_id(0), tl.program_id(1), N, D, chunk, ROWS)
    a_row = a_ptr + rows64[:, None] * stride_a
    p_row = p_ptr + rows64[:, None] * stride_p
    n_row = n_ptr + rows64[:, None] * stride_n

    # D loop: three accumulators (a-p, a-n, and p-n only when swapping)
    acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn = _accumulators(tl.zeros([ROWS, BLOCK_D], tl.float32), P_MODE)
    for d0 in tl.range(lo, hi, BLOCK_D, num_stages=STAGES):
        a, p, n, c, m = _load_step(a_row, p_row, n_row, d0, row_ok, hi, BLOCK_D)
        acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn = _accumulate3(
            acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, a, p, n, m, eps, norm_p, swap, P_MODE)
    _fwd_rows_out(acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, rows, row_ok, rows64, out_ptr, partial_ptr,
                  saved_ptr, margin, norm_p, inv_p, divisor, swap, reduce, save, split, P_MODE, False)


@triton.jit
def _triplet_fwd_lanes_kernel(
    a_ptr, p_ptr, n_ptr, out_ptr, partial_ptr, saved_ptr,   # as for _triplet_fwd_kernel
    N, D, chunk, stride_a, stride_p, stride_n,
    margin, norm_p, inv_p, eps, divisor,
    swap, reduce, save, split,
    P_MODE: tl.constexpr, ROWS: tl.constexpr, BLOCK_D: tl.constexpr,
    LANES: tl.constexpr, VEC: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """_triplet_fwd_kernel for many short rows, each spread over LANES lanes of a warp
    instead of all 32 of them (ROWS = 32 * num_warps / LANES rows a program).

    In a (ROWS, BLOCK_D) tile of short rows a warp's 32 lanes lie along one row: each row
    is then summed across 32 lanes (5 shuffles per row and accumulator), and every lane
    computes every row's norms, loss and saved values. That instruction count, not memory,
    bounded those programs (Nsight Compute, H200, bf16 (65536, 50), 4 x 64 tiles of one
    warp: 0.82 instructions issued per cycle and scheduler, 25 % of DRAM bandwidth). Here a
    step is a (LANES, ROWS, NV, VEC) tile, NV = BLOCK_D / (LANES * VEC) vectors of VEC
    elements per lane and row (VEC: the alignment class's vector, one element for class
    0). Triton gives each thread one vector along the last axis and spreads the lanes over
    the next axes in order, LANES then ROWS, leaving NV in registers (tests/
    test_c_build.py checks the compiled layout): a row is summed in registers, then across
    LANES lanes, and the rows' scalar work runs once per row, ROWS rows side by side."""
    _dependent_launch(PDL)
    NV: tl.constexpr = BLOCK_D // (LANES * VEC)
    rows, row_ok, rows64, lo, hi = _program_rows(tl.program_id(0), tl.program_id(1), N, D, chunk, ROWS)
    col = (tl.arange(0, NV)[None, None, :, None] * (LANES * VEC) + tl.arange(0, LANES)[:, None, None, None] * VEC +
           tl.arange(0, VEC)[None, None, None, :])
    ok4 = row_ok[None, :, None, None]
    r4 = rows64[None, :, None, None]
    a_row = a_ptr + r4 * stride_a
    p_row = p_ptr + r4 * stride_p
    n_row = n_ptr + r4 * stride_n
    acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn = _accumulators(
        tl.zeros([LANES, ROWS, NV, VEC], tl.float32), P_MODE)
    for d0 in range(lo, hi, BLOCK_D):
        c = d0 + col
        m = ok4 & (c < hi)
        a, p, n = _load3(a_row, p_row, n_row, c, m)
        acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn = _accumulate3(
            acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, a, p, n, m, eps, norm_p, swap, P_MODE)
    _fwd_rows_out(acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, rows, row_ok, rows64, out_ptr, partial_ptr,
                  saved_ptr, margin, norm_p, inv_p, divisor, swap, reduce, save, split, P_MODE, True)


@triton.jit
def _combine_tile(acc, cnt, P_MODE: tl.constexpr, LANES_TILE: tl.constexpr):
    """An accumulator tile reduced to its rows: a (ROWS, BLOCK_D) tile along its columns, or
    the lanes forward's (LANES, ROWS, NV, VEC) in registers first (VEC, then NV), then
    across the lanes."""
    if LANES_TILE:
        r, c = _combine(acc, cnt, P_MODE, 3)
        r, c = _combine(r, c, P_MODE, 2)
        r, c = _combine(r, c, P_MODE, 0)
    else:
        r, c = _combine(acc, cnt, P_MODE)
    return r, c


@triton.jit
def _combine3(acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, swap, P_MODE: tl.constexpr, LANES_TILE: tl.constexpr):
    """The three distances' accumulator tiles reduced to their rows (_combine_tile); p-n only
    when swapping (otherwise it was never accumulated, and its reduction would be work for
    nothing)."""
    r_ap, c_ap = _combine_tile(acc_ap, cnt_ap, P_MODE, LANES_TILE)
    r_an, c_an = _combine_tile(acc_an, cnt_an, P_MODE, LANES_TILE)
    if swap != 0:
        r_pn, c_pn = _combine_tile(acc_pn, cnt_pn, P_MODE, LANES_TILE)
    else:
        r_pn = tl.zeros(r_ap.shape, tl.float32)
        c_pn = tl.zeros(r_ap.shape, tl.int32)
    return r_ap, c_ap, r_an, c_an, r_pn, c_pn


@triton.jit
def _fwd_rows_out(acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, rows, row_ok, rows64, out_ptr, partial_ptr,
                  saved_ptr, margin, norm_p, inv_p, divisor, swap, reduce, save, split, P_MODE: tl.constexpr,
                  LANES_TILE: tl.constexpr):
    """What a forward program writes from its rows' accumulator tiles ((ROWS, BLOCK_D), or
    the lanes forward's when LANES_TILE) once reduced: the split's accumulators (split
    path), or the rows' losses (or their partial sum), and the saved rows when `save`."""
    r_ap, c_ap, r_an, c_an, r_pn, c_pn = _combine3(acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, swap, P_MODE,
                                                   LANES_TILE)
    if split != 0:
        # this split's accumulators, for _triplet_finish_kernel
        base = partial_ptr + (rows64 * tl.num_programs(1) + tl.program_id(1)) * PARTIAL_W
        cbase = base.to(tl.pointer_type(tl.int32), bitcast=True)
        tl.store(base + 0, r_ap, mask=row_ok)
        tl.store(base + 1, r_an, mask=row_ok)
        tl.store(base + 2, r_pn, mask=row_ok)
        tl.store(cbase + 3, c_ap, mask=row_ok)
        tl.store(cbase + 4, c_an, mask=row_ok)
        tl.store(cbase + 5, c_pn, mask=row_ok)
    else:
        loss = _finish_rows(r_ap, r_an, r_pn, c_ap, c_an, c_pn, row_ok, saved_ptr, rows,
                            margin, norm_p, inv_p, swap, save, P_MODE)
        if reduce != 0:
            total = tl.sum(tl.where(row_ok, loss, 0.0), axis=0)
            if tl.num_programs(0) == 1:
                # every row in this one program: the final value, as the reduce kernel
                # would compute it from this one partial (same bits, one launch fewer)
                tl.store(out_ptr, (total / divisor).to(out_ptr.dtype.element_ty))
            else:
                tl.store(partial_ptr + tl.program_id(0), total)
        else:
            tl.store(out_ptr + rows, loss.to(out_ptr.dtype.element_ty), mask=row_ok)


@triton.jit
def _triplet_finish_kernel(
    partial_ptr,                  # PARTIAL_W fp32 per (row, split), from the split forward
    out_ptr, saved_ptr,           # loss (per row, or one scalar), saved rows (when `save`)
    N, S,                         # rows, splits per row (S <= BLOCK_S)
    margin, norm_p, inv_p, divisor,
    swap, reduce, save,
    P_MODE: tl.constexpr, ROWS: tl.constexpr, BLOCK_S: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """One program: combine each row's splits in a fixed order, finish rows and the
    reduction (deterministic)."""
    _dependent_launch(PDL)
    j = tl.arange(0, BLOCK_S)
    total = tl.zeros([ROWS], dtype=tl.float32)
    for r0 in range(0, N, ROWS):
        rows = r0 + tl.arange(0, ROWS)
        row_ok = rows < N
        m = row_ok[:, None] & (j[None, :] < S)
        base = partial_ptr + (rows.to(tl.int64)[:, None] * S + j[None, :]) * PARTIAL_W
        cbase = base.to(tl.pointer_type(tl.int32), bitcast=True)
        if P_MODE == 3:
            fill = -1.0
        else:
            fill = 0.0
        r_ap, c_ap = _combine(tl.load(base + 0, mask=m, other=fill), tl.load(cbase + 3, mask=m, other=0), P_MODE)
        r_an, c_an = _combine(tl.load(base + 1, mask=m, other=fill), tl.load(cbase + 4, mask=m, other=0), P_MODE)
        r_pn, c_pn = _combine(tl.load(base + 2, mask=m, other=fill), tl.load(cbase + 5, mask=m, other=0), P_MODE)
        loss = _finish_rows(r_ap, r_an, r_pn, c_ap, c_an, c_pn, row_ok, saved_ptr, rows,
                            margin, norm_p, inv_p, swap, save, P_MODE)
        if reduce != 0:
            total += tl.where(row_ok, loss, 0.0)
        else:
            tl.store(out_ptr + rows, loss.to(out_ptr.dtype.element_ty), mask=row_ok)
    if reduce != 0:
        tl.store(out_ptr, (tl.sum(total, axis=0) / divisor).to(out_ptr.dtype.element_ty))


@triton.jit
def _triplet_single_kernel(
    a_ptr, p_ptr, n_ptr,          # inputs, N <= ROWS rows of D <= BLOCK_D with a row stride
    out_ptr,                      # one value, input dtype: the mean or sum
    saved_ptr,                    # fp32, SAVED_W per row, written when SAVE
    N, D, stride_a, stride_p, stride_n,
    margin, eps, divisor,         # divisor: N for 'mean', 1 for 'sum'
    ROWS: tl.constexpr, BLOCK_D: tl.constexpr, SWAP: tl.constexpr, SAVE: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """The mean or sum of a small batch for p = 2 (the common case): one program holds every
    row in one tile, as straight-line code, swap and save as constants. One program runs
    alone, so its time is the chain of its instructions: no loop, no branch on runtime flags,
    nothing the call does not use. On an H200 (JIT, PDL, device time, (32, 128), 8 warps,
    'mean') _triplet_fwd_kernel's one-program grid took 2.02 us fp32 / 1.93 bf16 and this
    kernel 1.61 / 1.47 (1.87 / 1.59 saving rows for the backward, where the row kernel took
    2.43 / 2.22); as built, in the bench, 2.10 -> 1.55 us fp32 and 1.96 -> 1.69 bf16, and
    1.44 with 16 warps for 16-bit rows (aot/manifest.py, TRIPLET_SINGLE_TILE and _WARPS, has
    the bisection and the warps' sweep). Same math and helpers as the
    row kernel; the sum of the rows' losses runs in one fixed tree (the same bits every run)."""
    _dependent_launch(PDL)
    # P_MODE = 2 (P_TWO) throughout, and norm_p = 2, inv_p = 1/2
    rows = tl.arange(0, ROWS)
    row_ok = rows < N
    rows64 = rows.to(tl.int64)
    a, p, n, c, m = _load_step(a_ptr + rows64[:, None] * stride_a, p_ptr + rows64[:, None] * stride_p,
                               n_ptr + rows64[:, None] * stride_n, 0, row_ok, D, BLOCK_D)
    acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn = _accumulators(tl.zeros([ROWS, BLOCK_D], tl.float32), 2)
    acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn = _accumulate3(
        acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, a, p, n, m, eps, 2.0, SWAP, 2)
    r_ap, c_ap, r_an, c_an, r_pn, c_pn = _combine3(acc_ap, cnt_ap, acc_an, cnt_an, acc_pn, cnt_pn, SWAP, 2, False)
    loss = _finish_rows(r_ap, r_an, r_pn, c_ap, c_an, c_pn, row_ok, saved_ptr, rows, margin, 2.0, 0.5, SWAP, SAVE,
                        2)
    total = tl.sum(tl.where(row_ok, loss, 0.0), axis=0)
    tl.store(out_ptr, (total / divisor).to(out_ptr.dtype.element_ty))


@triton.jit
def _triplet_reduce_kernel(
    partial_ptr, out_ptr,         # fp32 partials in, one scalar out (input dtype)
    count, divisor,               # number of partials; N for 'mean', 1 for 'sum'
    BLOCK: tl.constexpr, UNROLL: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """Deterministic sum of `count` fp32 partials: fixed chunk order, fixed tree. One
    program; a step's UNROLL loads of BLOCK partials are independent, so the compiler
    issues them together and a step costs about one memory latency."""
    _dependent_launch(PDL)
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(0, count, BLOCK * UNROLL):
        for u in tl.static_range(UNROLL):  # unrolled: the loads do not wait on the adds
            o = i + u * BLOCK + offs
            acc += tl.load(partial_ptr + o, mask=o < count, other=0.0)
    total = tl.sum(acc, axis=0) / divisor
    tl.store(out_ptr, total.to(out_ptr.dtype.element_ty))


@triton.jit
def _dnorm(v, d, norm_p, P_MODE: tl.constexpr):
    """f(v): the per-element factor of a norm's gradient (see the module doc)."""
    if P_MODE == 2:
        f = v
    else:
        sg = tl.where(v > 0.0, 1.0, tl.where(v < 0.0, -1.0, 0.0))
        if P_MODE == 1:
            f = sg
        elif P_MODE == 3:
            f = tl.where(tl.abs(v) == d, sg, 0.0)
        else:
            av = tl.abs(v)
            f = tl.where(av > 0.0, sg * tl.exp2((norm_p - 1.0) * tl.log2(av)), 0.0)
    return f


@triton.jit
def _bwd_factors(gout_ptr, saved_ptr, rows64, row_ok, stride_g, divisor, P_MODE: tl.constexpr):
    """Per-row factors of the backward, in the shape of rows64: g * s_xy for the three
    distances, and the distances themselves for p = inf (else the same factors again:
    _dnorm reads the distance only for p = inf). g is the upstream gradient of the row
    (stride_g = 0 for a reduced loss's scalar) over the divisor (N for 'mean', else 1)."""
    g = tl.load(gout_ptr + rows64 * stride_g, mask=row_ok, other=0.0).to(tl.float32) / divisor
    sv = saved_ptr + rows64 * (SAVED_W_INF if P_MODE == 3 else SAVED_W)
    k_ap = g * tl.load(sv + 0, mask=row_ok, other=0.0)
    k_an = g * tl.load(sv + 1, mask=row_ok, other=0.0)
    k_pn = g * tl.load(sv + 2, mask=row_ok, other=0.0)
    if P_MODE == 3:
        d_ap = tl.load(sv + 3, mask=row_ok, other=0.0)
        d_an = tl.load(sv + 4, mask=row_ok, other=0.0)
        d_pn = tl.load(sv + 5, mask=row_ok, other=0.0)
    else:
        d_ap = k_ap
        d_an = k_an
        d_pn = k_pn
    return k_ap, k_an, k_pn, d_ap, d_an, d_pn


@triton.jit
def _bwd_grads(a, p, n, k_ap, k_an, k_pn, d_ap, d_an, d_pn, eps, norm_p, swap, P_MODE: tl.constexpr):
    """The three gradients, elementwise, from the inputs and their rows' factors (any
    shapes that broadcast). swap selects values rather than branching (see _bwd_step)."""
    t_ap = k_ap * _dnorm(a - p + eps, d_ap, norm_p, P_MODE)
    t_an = k_an * _dnorm(a - n + eps, d_an, norm_p, P_MODE)
    t_pn = k_pn * _dnorm(p - n + eps, d_pn, norm_p, P_MODE)
    g_a = t_ap + t_an
    g_p = tl.where(swap != 0, t_pn - t_ap, -t_ap)
    g_n = tl.where(swap != 0, -t_an - t_pn, -t_an)
    return g_a, g_p, g_n


@triton.jit
def _bwd_step(a, p, n, c, m, k_ap, k_an, k_pn, d_ap, d_an, d_pn, rows64,
              ga_ptr, gp_ptr, gn_ptr, stride_ga, stride_gp, stride_gn,
              eps, norm_p, swap, write_a, write_p, write_n, P_MODE: tl.constexpr):
    """The three gradients of one step's tile (the factors per row, [ROWS] vectors).

    The runtime flags (swap, write_*) select values and mask stores instead of branching.
    With runtime branches (these, and one that chose how to load the upstream gradient),
    the bf16 backward at (32768, 8192) took 870 us on an H200 where the same kernel with
    the flags as constants took 762; selects and masks for these flags gave 821, and the
    gradient read as in _bwd_factors 770."""
    g_a, g_p, g_n = _bwd_grads(a, p, n, k_ap[:, None], k_an[:, None], k_pn[:, None], d_ap[:, None],
                               d_an[:, None], d_pn[:, None], eps, norm_p, swap, P_MODE)
    tl.store(ga_ptr + rows64[:, None] * stride_ga + c[None, :], g_a.to(ga_ptr.dtype.element_ty),
             mask=m & (write_a != 0))
    tl.store(gp_ptr + rows64[:, None] * stride_gp + c[None, :], g_p.to(gp_ptr.dtype.element_ty),
             mask=m & (write_p != 0))
    tl.store(gn_ptr + rows64[:, None] * stride_gn + c[None, :], g_n.to(gn_ptr.dtype.element_ty),
             mask=m & (write_n != 0))


@triton.jit
def _last_first():
    """A backward program's place in its 1-D grid, counted from the end: the first programs
    take the last rows, which the forward (in row order) read last and are the likeliest
    to be in L2 still when a training step runs the backward right after it. Measured on
    an H200 (a forward with saved rows, then the backward, device time; forward order ->
    reversed): bf16 (65536, 130) 54.9 -> 53.3 us, (65536, 250) 85.6 -> 83.9, (65536, 384)
    119.7 -> 118.1, (32768, 8192) 1126 -> 1121, fp32 (65536, 64) 45.3 -> 42.4, (65536,
    250) 151.0 -> 149.1; the rest within 0.3 us either way."""
    return tl.num_programs(0) - 1 - tl.program_id(0)


@triton.jit
def _triplet_bwd_kernel(
    a_ptr, p_ptr, n_ptr,          # inputs, as for the forward
    gout_ptr,                     # upstream gradient, input dtype: N values (stride_g) or a scalar (0)
    saved_ptr,                    # fp32 saved rows from the forward
    ga_ptr, gp_ptr, gn_ptr,       # gradients, input dtype, with row strides
    N, D, chunk,                  # chunk: BLOCK_D, unless D needs more of the grid than it has
    stride_a, stride_p, stride_n, stride_g, stride_ga, stride_gp, stride_gn,
    eps, norm_p, divisor,         # divisor: N for 'mean', else 1
    swap, write_a, write_p, write_n,
    P_MODE: tl.constexpr, ROWS: tl.constexpr, BLOCK_D: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """Elementwise over (ROWS, BLOCK_D) tiles. A program of one tile runs straight-line
    code, so the tile's loads and the per-row factors' loads are in flight together (in
    a loop the factors, loop-invariant, would be waited for before the first tile is
    even requested: two memory latencies per program instead of one)."""
    _dependent_launch(PDL)
    # A 1-D grid whose consecutive programs walk along a row (split fastest), so that the
    # programs in flight at once stream few contiguous spans of DRAM. With rows fastest (a
    # (rows, splits) grid), each wave touched a tile in each of many rows: 4.0 TB/s at
    # (32768, 8192) fp32 on an H200 against 4.2 along rows, at the same tile and warps.
    splits = tl.cdiv(D, chunk)
    pid = _last_first()
    rows, row_ok, rows64, lo, hi = _program_rows(pid // splits, pid % splits, N, D, chunk, ROWS)
    a_row = a_ptr + rows64[:, None] * stride_a
    p_row = p_ptr + rows64[:, None] * stride_p
    n_row = n_ptr + rows64[:, None] * stride_n
    if hi - lo <= BLOCK_D:
        a, p, n, c, m = _load_step(a_row, p_row, n_row, lo, row_ok, hi, BLOCK_D)
        k_ap, k_an, k_pn, d_ap, d_an, d_pn = _bwd_factors(gout_ptr, saved_ptr, rows64, row_ok, stride_g,
                                                          divisor, P_MODE)
        _bwd_step(a, p, n, c, m, k_ap, k_an, k_pn, d_ap, d_an, d_pn, rows64, ga_ptr, gp_ptr, gn_ptr,
                  stride_ga, stride_gp, stride_gn, eps, norm_p, swap, write_a, write_p, write_n, P_MODE)
    else:
        k_ap, k_an, k_pn, d_ap, d_an, d_pn = _bwd_factors(gout_ptr, saved_ptr, rows64, row_ok, stride_g,
                                                          divisor, P_MODE)
        for d0 in range(lo, hi, BLOCK_D):  # only where the grid could not hold a program per tile
            a, p, n, c, m = _load_step(a_row, p_row, n_row, d0, row_ok, hi, BLOCK_D)
            _bwd_step(a, p, n, c, m, k_ap, k_an, k_pn, d_ap, d_an, d_pn, rows64, ga_ptr, gp_ptr, gn_ptr,
                      stride_ga, stride_gp, stride_gn, eps, norm_p, swap, write_a, write_p, write_n, P_MODE)


@triton.jit
def _triplet_bwd_flat_kernel(
    a_ptr, p_ptr, n_ptr,          # inputs: contiguous (N, D), i.e. flat arrays of N * D
    gout_ptr, saved_ptr,          # as for _triplet_bwd_kernel
    ga_ptr, gp_ptr, gn_ptr,       # gradients, contiguous (N, D) like the inputs
    total, D,                     # total = N * D (with BLOCK more, below 2^31), D > 0
    stride_g, eps, norm_p, divisor,
    swap, write_a, write_p, write_n,
    P_MODE: tl.constexpr, BLOCK: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """The backward of contiguous rows as one elementwise pass over N * D elements: a
    program takes BLOCK consecutive elements wherever rows begin and end. Rows whose width
    is not a multiple of 16 bytes (D = 300 or 50 in bf16, 250 in fp32) then still load and
    store 16-byte vectors, and short or ragged rows fill every lane, where a row tile loads
    each row with the vectors its width allows and leaves a tile's lanes past D idle.

    The work is a (BLOCK / VEC, VEC) tile of 16-byte vectors. Where a row holds a vector or
    more (D >= VEC), a vector meets at most two rows: its first element's row q (one
    division per vector) and q + 1, so the rows' factors are loaded per vector for both
    and each element selects its own; narrower rows take each element's row by division.
    Against a division and the factors' loads per element (H200, sm_90 images as built, no
    PDL, the backward alone, us): bf16 (65536, 50) 12.2 -> 11.8, (65536, 384) 76.3 ->
    75.1, (32768, 8192) 771.9 -> 761.0; fp32 the same within 0.4. With the factors per
    vector the kernel is as fast as the row kernel's tiles for rows of 16 bytes too, which
    it now takes as well (src/triplet.c, pick_flat)."""
    _dependent_launch(PDL)
    VEC: tl.constexpr = 128 // a_ptr.dtype.element_ty.primitive_bitwidth
    pid = _last_first()
    start = pid * BLOCK + tl.arange(0, BLOCK // VEC) * VEC
    j = tl.arange(0, VEC)
    offs = start[:, None] + j[None, :]
    m = offs < total
    a, p, n = _load3(a_ptr, p_ptr, n_ptr, offs, m)
    if D >= VEC:
        q = start // D
        r = start - q * D
        first_ok = start < total
        next_ok = start - r + D < total
        q64 = q.to(tl.int64)
        k_ap, k_an, k_pn, d_ap, d_an, d_pn = _bwd_factors(gout_ptr, saved_ptr, q64, first_ok, stride_g, divisor,
                                                          P_MODE)
        k_ap2, k_an2, k_pn2, d_ap2, d_an2, d_pn2 = _bwd_factors(gout_ptr, saved_ptr, q64 + 1, next_ok, stride_g,
                                                                divisor, P_MODE)
        nxt = r[:, None] + j[None, :] >= D
        k_ap = tl.where(nxt, k_ap2[:, None], k_ap[:, None])
        k_an = tl.where(nxt, k_an2[:, None], k_an[:, None])
        k_pn = tl.where(nxt, k_pn2[:, None], k_pn[:, None])
        d_ap = tl.where(nxt, d_ap2[:, None], d_ap[:, None])
        d_an = tl.where(nxt, d_an2[:, None], d_an[:, None])
        d_pn = tl.where(nxt, d_pn2[:, None], d_pn[:, None])
    else:
        k_ap, k_an, k_pn, d_ap, d_an, d_pn = _bwd_factors(gout_ptr, saved_ptr, (offs // D).to(tl.int64), m,
                                                          stride_g, divisor, P_MODE)
    g_a, g_p, g_n = _bwd_grads(a, p, n, k_ap, k_an, k_pn, d_ap, d_an, d_pn, eps, norm_p, swap, P_MODE)
    tl.store(ga_ptr + offs, g_a.to(ga_ptr.dtype.element_ty), mask=m & (write_a != 0))
    tl.store(gp_ptr + offs, g_p.to(gp_ptr.dtype.element_ty), mask=m & (write_p != 0))
    tl.store(gn_ptr + offs, g_n.to(gn_ptr.dtype.element_ty), mask=m & (write_n != 0))
