"""Matrix product C = A @ B (Triton), the single source of the compiled images.

A is M x K, B is K x N, C is M x N, each with two arbitrary element strides. Products
accumulate in fp32 and C is stored in its own dtype.

Three paths, chosen per call by the runtime (src/matmul.c) from the tuning table:

* direct, `_matmul_kernel`: reads A and B in place through their strides. It needs no
  scratch, and with `split` > 1 it cuts K into ranges whose fp32 partial products go to
  the workspace and are added up, in a fixed order, by `_matmul_reduce_kernel` (skinny
  outputs and long K: more programs than output tiles). fp32 'high' rounds the operands
  inside the K loop, 'highest' uses fp32 FMA products summed per K step, then added to the total.
* packed, `_matmul_pack_kernel` then `_matmul_packed_kernel`: both operands are first
  copied into the workspace as K-major rows (A as M x Kp, B transposed to N x Kp) with
  row strides that are multiples of 64 elements and zeros past K. The product then runs
  on aligned, unmasked, K-major tiles, which is what Hopper's tensor cores (wgmma) want
  for TF32 and what lets Ada/Ampere use wide async copies. The copy also does the fp32
  precision work once per element instead of once per use:
    'high':    each operand rounded to nearest TF32 (ties away from zero, as cvt.rna);
    'highest': 3xTF32. Each x is split into hi = tf32(x) and lo = tf32(x - hi), and K is
               tripled: A's row holds (hi, hi, lo) per element and B's (hi, lo, hi), so
               the one TF32 product over 3K sums a_hi b_hi + a_hi b_lo + a_lo b_hi, which
               leaves only a_lo b_lo (~2^-22 relative) out: fp32-level accuracy.
* streamed (fp32), `_matmul_pack_kernel` then `_matmul_streamed_kernel`: only the skinny
  side is packed (TF32, or hi and lo planes, pack mode 4); the large operand is read once
  in place and rounded or split in registers (see the kernel). For skinny M and N and
  long K, where packing the large operand would cost more than the product.

Precision codes (PRECISION, constexpr): 0 'highest', 1 'high'. fp16 and bf16 always use
their native tensor-core product.

Layout specializations (constexpr) let the compiler see unit strides: A_K1 is 1 where
stride_ak == 1 (A row-major) and 2 where stride_am == 1 (A column-major: a transposed
view), B_N1 is 1 where stride_bn == 1 (B row-major) and 2 where stride_bk == 1 (B
column-major, as `x @ w.T` gives), 0 for general strides; SRC (pack) that the
source's rows or its columns have stride 1, C_N1 stride_cn == 1 (C row-major), XL
(streamed) which stride of the operand read in place is 1.

PDL (constexpr, every kernel): programmatic dependent launch, see _dependent_launch.
"""
import os

import triton
import triton.language as tl


@triton.jit
def _dependent_launch(PDL: tl.constexpr):
    """The same as triplet.py's (see there; each kernel file is compiled on its own). The
    matmul images are built with PDL = 0 for now (aot/manifest.py, pdl(), says why)."""
    if PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()

HIGHEST = 0
HIGH = 1

# pack modes (MODE of _matmul_pack_kernel)
PACK_COPY = 0      # the value as is (fp16/bf16)
PACK_TF32 = 1      # fp32 rounded to nearest TF32
PACK_3X_A = 2      # fp32 -> (hi, hi, lo): A side of 3xTF32
PACK_3X_B = 3      # fp32 -> (hi, lo, hi): B side of 3xTF32
PACK_SPLIT = 4     # fp32 -> hi and lo in two planes (rows [0, R) and [R, 2R)): the streamed path's A


# The interpreter (TRITON_INTERPRET=1, the CPU tests) cannot run inline PTX: there the
# rounding below is the same function written in integer ops.
_INTERPRETED = tl.constexpr(os.environ.get("TRITON_INTERPRET", "0") == "1")


@triton.jit
def _round_to_tf32(x):
    """fp32 -> nearest TF32 value (10-bit mantissa), ties away from zero: the hardware's
    cvt.rna.tf32.f32 (sm_80+), one instruction where the integer form takes five. On an
    H200 that alone took the streamed product from 408 to 368 us at 4096^3 and from 407 to
    354 us at M = N = 1024, K = 65536 (fp32 'high', 128 x 256 tiles). A finite x that rounds
    past the largest TF32 value becomes inf; inf stays inf and NaN stays NaN."""
    if _INTERPRETED:
        bits = x.to(tl.uint32, bitcast=True)
        rounded = (bits + 0x1000) & 0xFFFFE000  # + half a TF32 ulp on the magnitude, truncate
        return tl.where(x != x, x, rounded.to(tl.float32, bitcast=True))
    else:
        return tl.inline_asm_elementwise("cvt.rna.tf32.f32 $0, $1;", "=r,r", [x], dtype=tl.float32,
                                         is_pure=True, pack=1)


@triton.jit
def _split_tf32(x):
    """fp32 -> (hi, lo), both TF32 values, with x = hi + lo up to ~2^-22 |x|: hi = tf32(x),
    lo = tf32(x - hi). A finite x that rounds up past the fp32 range keeps its truncated
    value as hi; inf and nan go whole into hi, with lo = 0 (so no inf - inf)."""
    bits = x.to(tl.uint32, bitcast=True)
    finite = (bits & 0x7F800000) != 0x7F800000
    hi = _round_to_tf32(x)
    hi = tl.where(finite & (tl.abs(hi) == float("inf")), (bits & 0xFFFFE000).to(tl.float32, bitcast=True), hi)
    lo = tl.where(finite, _round_to_tf32(x - hi), 0.0)
    return hi, lo


@triton.jit
def _tile_ids(M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """This program's output tile, in grouped order: GROUP_M rows of tiles share B in L2."""
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    group_size = GROUP_M * num_pid_n
    first_m = (pid // group_size) * GROUP_M
    group_rows = min(num_pid_m - first_m, GROUP_M)
    pid_m = first_m + (pid % group_size) % group_rows
    pid_n = (pid % group_size) // group_rows
    return pid_m, pid_n


@triton.jit
def _tile_offsets(M, N, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """This program's tile (_tile_ids) and its row and column offsets. Rows and columns
    past M / N wrap onto valid ones (the store is masked), so only the K tail needs a
    load mask."""
    pid_m, pid_n = _tile_ids(M, N, BLOCK_M, BLOCK_N, GROUP_M)
    offs_m = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)) % M
    offs_n = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)) % N
    return pid_m, pid_n, offs_m, offs_n


@triton.jit
def _unit_or(stride, UNIT: tl.constexpr):
    """stride, or 1 where a layout specialization (constexpr) promises it is 1: the
    compiler then sees the unit stride and vectorizes along it."""
    if UNIT:
        return 1
    else:
        return stride


@triton.jit
def _opaque_zeros(M, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """Zeros the compiler cannot see through (M >= 0 at run time), for a product's fresh
    accumulator: with literal zeros it folds `acc + dot(a, b, 0)` back into
    `dot(a, b, acc)`, one long accumulation chain."""
    return tl.full((BLOCK_M, BLOCK_N), tl.where(M < 0, 1.0, 0.0), dtype=tl.float32)


@triton.jit
def _store_block(ptr, val, m0, n0, M, N, stride_m, stride_n, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                 TILE_OFFSETS: tl.constexpr):
    """val (BLOCK_M x BLOCK_N) into rows m0.. and columns n0.. of an M x N matrix at ptr,
    masked to it. TILE_OFFSETS: the address is the tile's origin (one 64-bit scalar) plus
    32-bit offsets within the tile wherever those cannot overflow. With a 64-bit address per
    element, an epilogue that cannot vectorize (C's rows not 16-byte aligned, or N not a
    multiple of 16) took the packed product's 128 x 256 tiles to 255 registers and spills,
    which cost it 27 % (bf16) and 12 % (fp32) at the seed shape on an H200. The direct
    kernel keeps the 64-bit addresses: with both branches, its 3xTF32 128 x 128 x 16 tile
    would spill on sm_89."""
    lm = tl.arange(0, BLOCK_M)
    ln = tl.arange(0, BLOCK_N)
    if TILE_OFFSETS:
        mask = (lm[:, None] < M - m0) & (ln[None, :] < N - n0)
        origin = ptr + m0.to(tl.int64) * stride_m + n0.to(tl.int64) * stride_n
        if (stride_m < (1 << 30) // BLOCK_M) & (stride_n < (1 << 30) // BLOCK_N):
            offs = lm[:, None] * tl.cast(stride_m, tl.int32) + ln[None, :] * tl.cast(stride_n, tl.int32)
            tl.store(origin + offs, val, mask=mask)
        else:
            tl.store(origin + lm[:, None].to(tl.int64) * stride_m + ln[None, :].to(tl.int64) * stride_n, val,
                     mask=mask)
    else:
        rm = m0 + lm
        rn = n0 + ln
        tl.store(ptr + rm[:, None].to(tl.int64) * stride_m + rn[None, :].to(tl.int64) * stride_n, val,
                 mask=(rm[:, None] < M) & (rn[None, :] < N))


@triton.jit
def _store_tile(acc, c_ptr, partial_ptr, M, N, stride_cm, stride_cn, pid_m, pid_n, split,
                C_N1: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, TILE_OFFSETS: tl.constexpr):
    """C's tile in C's dtype, or (split > 1) this K range's fp32 partial tile, at
    partial[program_id(1)] (M x N, contiguous)."""
    m0 = pid_m * BLOCK_M
    n0 = pid_n * BLOCK_N
    if split > 1:
        base = partial_ptr + tl.program_id(1).to(tl.int64) * M * N
        _store_block(base, acc, m0, n0, M, N, N, 1, BLOCK_M, BLOCK_N, TILE_OFFSETS)
    else:
        scn = _unit_or(stride_cn, C_N1)
        _store_block(c_ptr, acc.to(c_ptr.dtype.element_ty), m0, n0, M, N, stride_cm, scn, BLOCK_M, BLOCK_N,
                     TILE_OFFSETS)


@triton.jit
def _matmul_kernel(
    # pointers: operands, C, fp32 partials (workspace; used when split > 1)
    a_ptr, b_ptr, c_ptr, partial_ptr,
    # sizes; K range per split (a multiple of BLOCK_K) and the number of splits
    M, N, K, k_chunk, split,
    # strides, in elements
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    # meta
    PRECISION: tl.constexpr, A_K1: tl.constexpr, B_N1: tl.constexpr, C_N1: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """The direct path: operands read in place through their strides."""
    _dependent_launch(PDL)
    pid_m, pid_n, offs_m, offs_n = _tile_offsets(M, N, BLOCK_M, BLOCK_N, GROUP_M)
    k_lo = tl.program_id(1) * k_chunk
    sam = _unit_or(stride_am, A_K1 == 2)
    sak = _unit_or(stride_ak, A_K1 == 1)
    sbk = _unit_or(stride_bk, B_N1 == 2)
    sbn = _unit_or(stride_bn, B_N1 == 1)
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = (a_ptr + offs_m[:, None].to(tl.int64) * sam
              + (k_lo + offs_k[None, :]).to(tl.int64) * sak)
    b_ptrs = (b_ptr + (k_lo + offs_k[:, None]).to(tl.int64) * sbk
              + offs_n[None, :].to(tl.int64) * sbn)
    step_a = BLOCK_K * sak
    step_b = BLOCK_K * sbk

    # the K mask is taken against K itself (not this split's end, which the loop count
    # already respects): K's divisibility then tells the compiler the mask is uniform
    # over aligned groups, which keeps the loads vectorized
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    zero = _opaque_zeros(M, BLOCK_M, BLOCK_N)
    for kk in range(0, tl.cdiv(tl.minimum(k_chunk, K - k_lo), BLOCK_K)):
        k_left = K - k_lo - kk * BLOCK_K
        a = tl.load(a_ptrs, mask=offs_k[None, :] < k_left, other=0.0)
        b = tl.load(b_ptrs, mask=offs_k[:, None] < k_left, other=0.0)
        if a.dtype == tl.float32:
            if PRECISION == 1:
                acc = tl.dot(_round_to_tf32(a), _round_to_tf32(b), acc, input_precision="tf32")
            else:
                # FMA products: each K step summed on its own, then added to the total,
                # so no output is one chain of K sequential adds (error ~ K * eps)
                acc += tl.dot(a, b, zero, input_precision="ieee")
        else:
            acc = tl.dot(a, b, acc)
        a_ptrs += step_a
        b_ptrs += step_b
    _store_tile(acc, c_ptr, partial_ptr, M, N, stride_cm, stride_cn, pid_m, pid_n, split,
                C_N1, BLOCK_M, BLOCK_N, False)


@triton.jit
def _matmul_pack_kernel(
    src_ptr, dst_ptr,
    R, C, CP,                    # source R x C; destination R x CP (CP >= C, or 3C for 3xTF32)
    stride_r, stride_c, ld,      # source strides; destination row stride (elements)
    MODE: tl.constexpr, SRC: tl.constexpr,
    BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """dst[r, j] for j < CP from src[r, j] (MODE 0/1) or src[r, j // 3] split into TF32
    parts (MODE 2/3); MODE 4 writes tf32(src[r, j]) to row r and the rest, tf32'd, to row
    R + r; zeros past the source's columns. SRC: 0 general strides, 1 the
    source's rows are contiguous (stride_r == 1, a transposed read), 2 its columns are
    (stride_c == 1, a row-major read)."""
    _dependent_launch(PDL)
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    j = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    if MODE == 2 or MODE == 3:
        col = j // 3
        part = j % 3
    else:
        col = j
        part = j * 0
    sr = _unit_or(stride_r, SRC == 1)
    sc = _unit_or(stride_c, SRC == 2)
    ok = (r[:, None] < R) & (col[None, :] < C)
    x = tl.load(src_ptr + r[:, None].to(tl.int64) * sr + col[None, :].to(tl.int64) * sc,
                mask=ok, other=0.0)
    dst = dst_ptr + r[:, None].to(tl.int64) * ld + j[None, :]
    out_mask = (r[:, None] < R) & (j[None, :] < CP)
    if MODE == 1:
        x = _round_to_tf32(x)
    elif MODE == 4:
        # two planes: hi in rows [0, R), lo in rows [R, 2R)
        hi, lo = _split_tf32(x)
        tl.store(dst + R.to(tl.int64) * ld, lo, mask=out_mask)
        x = hi
    elif MODE >= 2:
        hi, lo = _split_tf32(x)
        if MODE == 2:
            x = tl.where(part[None, :] == 2, lo, hi)
        else:
            x = tl.where(part[None, :] == 1, lo, hi)
    tl.store(dst, x.to(dst_ptr.dtype.element_ty), mask=out_mask)


@triton.jit
def _matmul_packed_kernel(
    # packed operands (workspace): A as M x KP, B transposed as N x KP, both K-major
    a_ptr, b_ptr, c_ptr, partial_ptr,
    M, N, KP, k_chunk, split,    # KP and k_chunk are multiples of BLOCK_K
    lda, ldb, stride_cm, stride_cn,
    TF32: tl.constexpr, PROMOTE: tl.constexpr, C_N1: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """The packed path: aligned, unmasked K-major tiles (rows past M/N wrap)."""
    _dependent_launch(PDL)
    pid_m, pid_n, offs_m, offs_n = _tile_offsets(M, N, BLOCK_M, BLOCK_N, GROUP_M)
    k_lo = tl.program_id(1) * k_chunk
    k_hi = tl.minimum(k_lo + k_chunk, KP)
    offs_k = k_lo + tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None].to(tl.int64) * lda + offs_k[None, :]
    b_ptrs = b_ptr + offs_n[:, None].to(tl.int64) * ldb + offs_k[None, :]
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    if PROMOTE:
        zero = _opaque_zeros(M, BLOCK_M, BLOCK_N)
    for _ in range(0, tl.cdiv(k_hi - k_lo, BLOCK_K)):
        a = tl.load(a_ptrs)
        b = tl.load(b_ptrs)
        if PROMOTE:
            # each K step's product in a fresh accumulator, added to the total with a
            # rounded fp32 add: the tensor cores' own accumulation truncates, which over
            # a long chain of all-positive terms drifts well past fp32 rounding error
            acc += tl.dot(a, tl.trans(b), zero, input_precision="tf32")
        elif TF32:
            acc = tl.dot(a, tl.trans(b), acc, input_precision="tf32")
        else:
            acc = tl.dot(a, tl.trans(b), acc)
        a_ptrs += BLOCK_K
        b_ptrs += BLOCK_K
    _store_tile(acc, c_ptr, partial_ptr, M, N, stride_cm, stride_cn, pid_m, pid_n, split,
                C_N1, BLOCK_M, BLOCK_N, True)


@triton.jit
def _matmul_streamed_kernel(
    # X (R x K) read in place; Y (S x K) packed in the workspace as K-major rows: TF32
    # ('high') or, for 'highest', a hi plane then a lo plane (S x KP each); C (R x S, through
    # its strides); fp32 partials (split > 1)
    x_ptr, y_ptr, c_ptr, partial_ptr,
    R, S, K, k_chunk, split,     # k_chunk: a multiple of BLOCK_K
    stride_xr, stride_xk, ldy, stride_cr, stride_cs,
    PRECISION: tl.constexpr, XL: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """The streamed path (fp32, one skinny side): the large operand X is read once, in
    place, and goes through registers, where it is rounded to TF32 ('high') or split into
    hi + lo ('highest'); the tensor cores take a left operand from registers in any layout,
    while the right one must be K-major in shared memory: that is Y, the small operand,
    packed once. Skinny M runs as C^T = B^T A^T (X = B^T, Y = A, C's strides swapped),
    skinny N as C = A B (X = A, Y = B^T). XL: 0 general X strides, 1 X's rows contiguous
    (stride_xr == 1), 2 its K contiguous (stride_xk == 1). A program computes a
    BLOCK_M x BLOCK_N tile of the R x S output."""
    _dependent_launch(PDL)
    pid_r, pid_s, offs_r, offs_s = _tile_offsets(R, S, BLOCK_M, BLOCK_N, GROUP_M)
    k_lo = tl.program_id(1) * k_chunk
    sxr = _unit_or(stride_xr, XL == 1)
    sxk = _unit_or(stride_xk, XL == 2)
    offs_k = tl.arange(0, BLOCK_K)
    x_ptrs = (x_ptr + offs_r[:, None].to(tl.int64) * sxr
              + (k_lo + offs_k[None, :]).to(tl.int64) * sxk)
    y_ptrs = y_ptr + offs_s[:, None].to(tl.int64) * ldy + (k_lo + offs_k[None, :])
    lo_plane = S.to(tl.int64) * ldy
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    zero = _opaque_zeros(R, BLOCK_M, BLOCK_N)
    for kk in range(0, tl.cdiv(tl.minimum(k_chunk, K - k_lo), BLOCK_K)):
        # X's K tail is masked; Y's packed rows hold zeros up to KP (>= the last step's end)
        x = tl.load(x_ptrs, mask=offs_k[None, :] < K - k_lo - kk * BLOCK_K, other=0.0)
        y = tl.load(y_ptrs)
        if PRECISION == 1:
            acc = tl.dot(_round_to_tf32(x), tl.trans(y), acc, input_precision="tf32")
        else:
            # 3xTF32, small terms first, each K step's sum added to the total in fp32
            # (as the packed path's PROMOTE)
            x_hi, x_lo = _split_tf32(x)
            y_lo = tl.load(y_ptrs + lo_plane)
            part = tl.dot(x_lo, tl.trans(y), zero, input_precision="tf32")
            part = tl.dot(x_hi, tl.trans(y_lo), part, input_precision="tf32")
            acc += tl.dot(x_hi, tl.trans(y), part, input_precision="tf32")
        x_ptrs += BLOCK_K * sxk
        y_ptrs += BLOCK_K
    _store_tile(acc, c_ptr, partial_ptr, R, S, stride_cr, stride_cs, pid_r, pid_s, split,
                False, BLOCK_M, BLOCK_N, True)


@triton.jit
def _matmul_gemv_kernel(
    # X (R x K) read in place; v (K elements) and y (R elements) through their strides;
    # fp32 partials (split > 1: split x R, contiguous)
    x_ptr, v_ptr, y_ptr, partial_ptr,
    R, K, k_chunk, split,        # k_chunk: a multiple of BLOCK_K
    stride_xr, stride_xk, stride_v, stride_y,
    PRECISION: tl.constexpr, XL: tl.constexpr, V1: tl.constexpr, STAGES: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """The matrix-vector path (M = 1 or N = 1): y = X v, bound by reading X once. N = 1 runs
    as y = A b (X = A, v = B's column, y = C's column), M = 1 as y^T = B^T a^T (X = B^T, v =
    A's row, y = C's row). A program sums BLOCK_M rows of X over its K range: each lane
    keeps its own fp32 partial sums across the K steps (no reduction inside the loop),
    added across the tile once at the end. The tile kernels would spend their N tile on
    one column. XL: 0 general X strides, 1 X's rows contiguous (stride_xr == 1, coalesced
    along R), 2 its K contiguous. V1: v's stride is 1 (the aligned variants). STAGES > 1
    pipelines the K loop, its loads going through shared memory STAGES - 1 steps ahead
    (Triton pipelines the loads of a loop that feed no dot only when the loop asks for it;
    fp32 with X's rows contiguous, H200: 1 x 4096 x 4096 from 26.2 to 20.7 us). BLOCK_N is
    1 and GROUP_M unused (the tile params every matmul kernel names). Products in fp32 FMA; fp32 'high' rounds both operands to TF32
    first, as the tensor-core paths do, so a call's result does not depend on its path
    beyond the order of the sums; fp16/bf16 are widened to fp32."""
    _dependent_launch(PDL)
    offs_r = (tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)) % R  # rows past R wrap; the store is masked
    k_lo = tl.program_id(1) * k_chunk
    sxr = _unit_or(stride_xr, XL == 1)
    sxk = _unit_or(stride_xk, XL == 2)
    offs_k = tl.arange(0, BLOCK_K)
    x_ptrs = x_ptr + offs_r[:, None].to(tl.int64) * sxr + (k_lo + offs_k[None, :]).to(tl.int64) * sxk
    sv = _unit_or(stride_v, V1)
    v_ptrs = v_ptr + (k_lo + offs_k).to(tl.int64) * sv
    acc = tl.zeros((BLOCK_M, BLOCK_K), dtype=tl.float32)
    for kk in tl.range(0, tl.cdiv(tl.minimum(k_chunk, K - k_lo), BLOCK_K), num_stages=STAGES):
        k_ok = offs_k < K - k_lo - kk * BLOCK_K  # against K itself: see _matmul_kernel
        x = tl.load(x_ptrs, mask=k_ok[None, :], other=0.0).to(tl.float32)
        v = tl.load(v_ptrs, mask=k_ok, other=0.0).to(tl.float32)
        if PRECISION == 1:  # fp32 only
            x = _round_to_tf32(x)
            v = _round_to_tf32(v)
        acc += x * v[None, :]
        x_ptrs += BLOCK_K * sxk
        v_ptrs += BLOCK_K * sv
    y = tl.sum(acc, axis=1)
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    if split > 1:
        tl.store(partial_ptr + tl.program_id(1).to(tl.int64) * R + rows, y, mask=rows < R)
    else:
        tl.store(y_ptr + rows.to(tl.int64) * stride_y, y.to(y_ptr.dtype.element_ty), mask=rows < R)


@triton.jit(do_not_specialize=["M", "N", "split"])
def _matmul_reduce_kernel(
    partial_ptr, c_ptr,          # split x M x N fp32 partials in; C out (its dtype)
    M, N, split, stride_cm, stride_cn,
    C_N1: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, STAGES: tl.constexpr,
    PDL: tl.constexpr = 0,
):
    """C = the sum of the split partials, added in split order (same bits every run). The
    loop is pipelined (STAGES): unpipelined, a program waits out one load per split in
    turn, which is most of a small product's time (the gemv path's dot product of 65536,
    split 8: the reduce is one program). C_N1: C's column stride is 1 (a row-major C);
    passed at run time, that stride made the store of a row-major C take 21.8 us where a
    column-major one took 4.9 (H200, 8192 x 128 from two splits; 5.7 with it a constant)."""
    _dependent_launch(PDL)
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    ptrs = partial_ptr + rm[:, None].to(tl.int64) * N + rn[None, :]
    plane = M.to(tl.int64) * N
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for _ in tl.range(0, split, num_stages=STAGES):
        acc += tl.load(ptrs, mask=mask, other=0.0)
        ptrs += plane
    scn = _unit_or(stride_cn, C_N1)
    tl.store(c_ptr + rm[:, None].to(tl.int64) * stride_cm + rn[None, :].to(tl.int64) * scn,
             acc.to(c_ptr.dtype.element_ty), mask=mask)
