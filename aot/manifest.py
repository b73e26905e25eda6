"""The manifest: every kernel variant the AOT step compiles, in one place.

A variant is (kernel, dtype, aligned, constexpr params, num_warps, num_stages); each is
compiled for every arch of the build. The C runtime sees the same list as a generated
table and picks a variant by these fields at run time, so adding a config here is all it
takes to ship it.

`aligned` variants promise the compiler 16-byte aligned pointers and sizes/strides that
are multiples of 16 elements (Triton's `tt.divisibility`), which lets it emit 16-byte
vector loads; the runtime only chooses them when the call's arguments satisfy that.
"""
from dataclasses import dataclass, field

DTYPES = {"f32": "fp32", "f16": "fp16", "bf16": "bf16"}  # tritium name -> Triton type
DTYPE_IDS = {"f32": 0, "f16": 1, "bf16": 2}              # = tritium_dtype in tritium.h

# Archs compiled by default (TRITIUM_ARCHS narrows or widens this). Archs below 90
# compile to plain targets whose PTX the driver can JIT on any newer GPU; 90 and above
# compile to arch-specific targets (sm_90a, sm_120a) and ship cubins only.
DEFAULT_ARCHS = (80, 86, 89, 90, 120)


def ptx_portable(arch):
    return arch < 90


def ptx_archs(archs):
    """The archs whose PTX is shipped: the newest plain target of the build. Its PTX
    JIT-compiles on that arch and every newer GPU (and is how the sm_89 code is run on
    Hopper); older GPUs of the list run their own cubins."""
    plain = [a for a in archs if ptx_portable(a)]
    return {max(plain)} if plain else set()


@dataclass(frozen=True)
class Kernel:
    name: str                 # kernel id in the C tables (TRITIUM_K_<NAME>)
    module: str               # Python module holding the @triton.jit function
    function: str
    args: tuple               # (arg name, type) in order; "T" is the variant's dtype
    params: tuple             # constexpr params, in the order the C table stores them
    aligned_args: tuple = ()  # args promised divisible by 16 in aligned variants


@dataclass(frozen=True)
class Variant:
    kernel: Kernel
    dtype: str
    aligned: bool
    params: tuple             # values, in kernel.params order
    num_warps: int
    num_stages: int = 1
    tag: str = field(default="", compare=False)

    @property
    def ident(self):
        p = "_".join(f"{k.lower()}{int(v)}" for k, v in zip(self.kernel.params, self.params))
        return f"{self.kernel.name}_{self.dtype}_{'al' if self.aligned else 'ua'}_{p}_w{self.num_warps}s{self.num_stages}"

    def signature(self):
        sig = {}
        for name, ty in self.kernel.args:
            sig[name] = ty.replace("T", DTYPES[self.dtype]) if "T" in ty else ty
        for name in self.kernel.params:
            sig[name] = "constexpr"
        return sig

    def constexprs(self):
        return dict(zip(self.kernel.params, self.params))

    def attrs(self):
        if not self.aligned:
            return {}
        names = [n for n, _ in self.kernel.args]
        return {(names.index(a),): [["tt.divisibility", 16]] for a in self.kernel.aligned_args}


TRIPLET_FWD = Kernel(
    name="triplet_fwd", module="tritium.kernels.triplet", function="_triplet_fwd_kernel",
    args=(("a_ptr", "*T"), ("p_ptr", "*T"), ("n_ptr", "*T"), ("out_ptr", "*T"),
          ("partial_ptr", "*fp32"), ("saved_ptr", "*fp32"),
          ("N", "i32"), ("D", "i32"), ("chunk", "i32"),
          ("stride_a", "i64"), ("stride_p", "i64"), ("stride_n", "i64"),
          ("margin", "fp32"), ("norm_p", "fp32"), ("inv_p", "fp32"), ("eps", "fp32"),
          ("swap", "i32"), ("reduce", "i32"), ("save", "i32"), ("split", "i32")),
    params=("P_MODE", "ROWS", "BLOCK_D"),
    aligned_args=("a_ptr", "p_ptr", "n_ptr", "D", "chunk", "stride_a", "stride_p", "stride_n"),
)

TRIPLET_FINISH = Kernel(
    name="triplet_finish", module="tritium.kernels.triplet", function="_triplet_finish_kernel",
    args=(("partial_ptr", "*fp32"), ("out_ptr", "*T"), ("saved_ptr", "*fp32"), ("N", "i32"), ("S", "i32"),
          ("margin", "fp32"), ("norm_p", "fp32"), ("inv_p", "fp32"), ("divisor", "fp32"),
          ("swap", "i32"), ("reduce", "i32"), ("save", "i32")),
    params=("P_MODE", "ROWS", "BLOCK_S"),
)

TRIPLET_BWD = Kernel(
    name="triplet_bwd", module="tritium.kernels.triplet", function="_triplet_bwd_kernel",
    args=(("a_ptr", "*T"), ("p_ptr", "*T"), ("n_ptr", "*T"), ("gout_ptr", "*T"), ("saved_ptr", "*fp32"),
          ("ga_ptr", "*T"), ("gp_ptr", "*T"), ("gn_ptr", "*T"),
          ("N", "i32"), ("D", "i32"), ("chunk", "i32"),
          ("stride_a", "i64"), ("stride_p", "i64"), ("stride_n", "i64"), ("stride_g", "i64"),
          ("stride_ga", "i64"), ("stride_gp", "i64"), ("stride_gn", "i64"),
          ("eps", "fp32"), ("norm_p", "fp32"), ("divisor", "fp32"),
          ("swap", "i32"), ("reduce", "i32"), ("write_a", "i32"), ("write_p", "i32"), ("write_n", "i32")),
    params=("P_MODE", "ROWS", "BLOCK_D"),
    aligned_args=("a_ptr", "p_ptr", "n_ptr", "ga_ptr", "gp_ptr", "gn_ptr", "D", "chunk",
                  "stride_a", "stride_p", "stride_n", "stride_ga", "stride_gp", "stride_gn"),
)

TRIPLET_REDUCE = Kernel(
    name="triplet_reduce", module="tritium.kernels.triplet", function="_triplet_reduce_kernel",
    args=(("partial_ptr", "*fp32"), ("out_ptr", "*T"), ("count", "i32"), ("divisor", "fp32")),
    params=("BLOCK",),
)

MATMUL = Kernel(
    name="matmul", module="tritium.kernels.matmul", function="_matmul_kernel",
    args=(("a_ptr", "*T"), ("b_ptr", "*T"), ("c_ptr", "*T"),
          ("M", "i32"), ("N", "i32"), ("K", "i32"),
          ("stride_am", "i64"), ("stride_ak", "i64"), ("stride_bk", "i64"),
          ("stride_bn", "i64"), ("stride_cm", "i64"), ("stride_cn", "i64")),
    params=("PRECISION", "A_K1", "B_N1", "BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"),
    aligned_args=("a_ptr", "b_ptr", "c_ptr", "M", "N", "K", "stride_am", "stride_bk", "stride_cm"),
)

KERNELS = (TRIPLET_FWD, TRIPLET_FINISH, TRIPLET_REDUCE, TRIPLET_BWD, MATMUL)


# The split path of the triplet forward/backward (few long rows): each row's D is cut into
# at most SPLIT_MAX ranges of whole SPLIT_BLOCK_D chunks, aiming at SPLIT_PROGRAMS programs
# (enough to fill a GPU of ~100-150 SMs several blocks deep). Rows take the split path
# when the row grid would have fewer than SPLIT_PROGRAMS / 2 programs and a row holds at
# least two chunks. SPLIT_BLOCK_D is the wide row config's BLOCK_D (ROWS = 1), which every
# (dtype, p, alignment) family ships.
TRIPLET_SPLIT_MAX = 256
# (ROWS, BLOCK_S) of the finish kernel: one program combines ROWS rows x BLOCK_S splits per
# step, 2048 partials at a time; the runtime takes the narrowest BLOCK_S >= the splits, so
# that with ~SPLIT_PROGRAMS partials in all the program loops at most a few times.
TRIPLET_FINISH_CONFIGS = ((256, 8), (64, 32), (8, TRIPLET_SPLIT_MAX))
TRIPLET_SPLIT_BLOCK_D = 2048
TRIPLET_SPLIT_PROGRAMS = 1024
CONSTANTS = {"TRIPLET_SPLIT_MAX": TRIPLET_SPLIT_MAX, "TRIPLET_SPLIT_BLOCK_D": TRIPLET_SPLIT_BLOCK_D,
             "TRIPLET_SPLIT_PROGRAMS": TRIPLET_SPLIT_PROGRAMS}


def triplet_row_configs(p_mode, aligned):
    """(ROWS, BLOCK_D, num_warps) for the row kernels (forward and backward); the runtime
    picks the widest BLOCK_D that D fills.

    The reasoning, for the RTX 4090 (sm_89: 128 SMs, 1008 GB/s, 1536 threads and 64K
    registers per SM, 99 KB shared memory per block) and the same configs on Hopper:
    * the kernels are memory-bound: what matters is bytes in flight. Little's law with
      ~600 ns of DRAM latency asks for ~1008 GB/s x 600 ns = 600 KB in flight, ~4.7 KB per
      4090 SM (H100/H200: ~3.3-4.8 TB/s x ~700 ns over 132 SMs, ~18-25 KB per SM);
    * one step of a program loads ROWS x BLOCK_D = 2048 elements of each of a, p and n:
      24 KB (fp32) or 12 KB (16-bit) per block per step, so one resident block per SM
      already covers the 4090's need and two cover Hopper's;
    * 8 warps (256 threads) keep 8 elements of each input per thread per step: the
      backward holds three inputs and three gradients, the p = inf forward three values
      and three counts, and unaligned rows keep a 64-bit address per element, which with
      16 elements per thread (4 warps) ran out of registers and spilled to the stack;
      8 per thread stays under 255 registers without spills. At <= 255 registers a
      256-thread block fits the 4090's register file once (64K / (256 x 255) = 1), most
      configs fit 2-3 times, and no config uses shared memory beyond the reductions';
    * ROWS grows as D shrinks so that short rows still fill 2048-element steps; the split
      path (TRIPLET_SPLIT_*) covers the opposite case, few rows of many elements.
    The common case (p = 2, aligned rows) gets the full set; the others get a wide and a
    narrow config, which keeps the shipped library small. `test_sm89_resources_and_occupancy`
    checks registers, spills, shared memory and blocks per SM of every sm_89 cubin.
    """
    if p_mode == 2 and aligned:
        return ((1, 2048, 8), (4, 512, 8), (16, 128, 8), (64, 32, 8))
    return ((1, 2048, 8), (16, 128, 8))


def matmul_tile_configs(dtype, precision):
    """(BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, num_warps, num_stages).

    Shared memory is (BM + BN) * BK * bytes * stages and must stay under the 4090's
    99 KB per block: fp32 tensor-core tiles 128x128x32 x 3 stages = 96 KB.
    """
    if dtype == "f32" and precision == 0:
        return ((128, 128, 16, 8, 8, 3),)   # FMA path: smaller K step, 48 KB
    if dtype == "f32":
        return ((128, 128, 32, 8, 8, 3),)   # TF32: 96 KB
    return ((128, 128, 64, 8, 8, 3),)       # fp16/bf16: 96 KB


def variants():
    out = []
    for dtype in DTYPES:
        for aligned in (False, True):
            for p_mode in (0, 1, 2, 3):
                for rows, block_d, warps in triplet_row_configs(p_mode, aligned):
                    out.append(Variant(TRIPLET_FWD, dtype, aligned, (p_mode, rows, block_d), warps))
                    out.append(Variant(TRIPLET_BWD, dtype, aligned, (p_mode, rows, block_d), warps))
                if not aligned:
                    for rows, block_s in TRIPLET_FINISH_CONFIGS:
                        out.append(Variant(TRIPLET_FINISH, dtype, False, (p_mode, rows, block_s), 8))
        out.append(Variant(TRIPLET_REDUCE, dtype, False, (1024,), 4))
        for precision in ((0, 1) if dtype == "f32" else (0,)):
            for a_k1, b_n1, aligned in ((0, 0, False), (1, 1, False), (1, 1, True)):
                for bm, bn, bk, gm, warps, stages in matmul_tile_configs(dtype, precision):
                    out.append(Variant(MATMUL, dtype, aligned,
                                       (precision, a_k1, b_n1, bm, bn, bk, gm), warps, stages))
    return out
