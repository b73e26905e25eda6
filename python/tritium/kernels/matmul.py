"""Matrix product C = A @ B (Triton), the single source of the compiled images.

A is M x K, B is K x N, C is M x N, each with two arbitrary element strides. The kernel
accumulates in fp32 and stores C in its own dtype.

Precision for fp32 inputs (PRECISION, constexpr):
  0 'highest': fp32 FMA products (input_precision="ieee"), fp32-level accuracy.
  1 'high':    TF32 tensor cores with every operand rounded to nearest (ties to even) to
               TF32 first. Feeding raw fp32 bits to the TF32 units truncates the mantissa,
               which biases every product downwards (measured 6.7e-4 relative error against
               about 2.3e-5 when rounded).
fp16 and bf16 inputs always use their native tensor-core product.

Layout specializations (constexpr) let the compiler see unit strides: A_K1 means
stride_ak == 1 (A row-major), B_N1 means stride_bn == 1 (B row-major). Without them the
strides are read at run time, which covers transposed and arbitrary views.
"""
import triton
import triton.language as tl

HIGHEST = 0
HIGH = 1


@triton.jit
def _round_to_tf32(x):
    """fp32 -> nearest TF32 value (10-bit mantissa), ties to even; inf/nan kept."""
    bits = x.to(tl.uint32, bitcast=True)
    lsb = (bits >> 13) & 1
    rounded = (bits + 0xFFF + lsb) & 0xFFFFE000
    special = (bits & 0x7F800000) == 0x7F800000
    return tl.where(special, bits, rounded).to(tl.float32, bitcast=True)


@triton.jit
def _matmul_kernel(
    # pointers
    a_ptr, b_ptr, c_ptr,
    # sizes
    M, N, K,
    # strides, in elements
    stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn,
    # meta
    PRECISION: tl.constexpr, A_K1: tl.constexpr, B_N1: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
):
    # program mapping: grouped order, so that GROUP_M rows of tiles share B in L2
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N, BLOCK_N)
    group_size = GROUP_M * num_pid_n
    first_m = (pid // group_size) * GROUP_M
    group_rows = min(num_pid_m - first_m, GROUP_M)
    pid_m = first_m + (pid % group_size) % group_rows
    pid_n = (pid % group_size) // group_rows

    # pointers: rows/columns past the edge wrap onto valid ones (the store is masked),
    # so only the K tail needs a load mask
    if A_K1:
        sak = 1
    else:
        sak = stride_ak
    if B_N1:
        sbn = 1
    else:
        sbn = stride_bn
    offs_m = (pid_m * BLOCK_M + tl.arange(0, BLOCK_M)) % M
    offs_n = (pid_n * BLOCK_N + tl.arange(0, BLOCK_N)) % N
    offs_k = tl.arange(0, BLOCK_K)
    a_ptrs = a_ptr + offs_m[:, None].to(tl.int64) * stride_am + offs_k[None, :].to(tl.int64) * sak
    b_ptrs = b_ptr + offs_k[:, None].to(tl.int64) * stride_bk + offs_n[None, :].to(tl.int64) * sbn
    step_a = BLOCK_K * sak
    step_b = BLOCK_K * stride_bk

    # K loop
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for kk in range(0, tl.cdiv(K, BLOCK_K)):
        k_left = K - kk * BLOCK_K
        a = tl.load(a_ptrs, mask=offs_k[None, :] < k_left, other=0.0)
        b = tl.load(b_ptrs, mask=offs_k[:, None] < k_left, other=0.0)
        if a.dtype == tl.float32:
            if PRECISION == 1:
                acc = tl.dot(_round_to_tf32(a), _round_to_tf32(b), acc, input_precision="tf32")
            else:
                acc = tl.dot(a, b, acc, input_precision="ieee")
        else:
            acc = tl.dot(a, b, acc)
        a_ptrs += step_a
        b_ptrs += step_b

    # write-back
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    c_ptrs = c_ptr + rm[:, None].to(tl.int64) * stride_cm + rn[None, :].to(tl.int64) * stride_cn
    c_mask = (rm[:, None] < M) & (rn[None, :] < N)
    tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=c_mask)
