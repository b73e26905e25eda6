"""The manifest: every kernel variant the AOT step compiles, in one place.

A variant is (kernel, dtype, aligned, constexpr params, num_warps, num_stages); each is
compiled for every arch of the build. The C runtime sees the same list as a generated
table and picks a variant by these fields at run time, so adding a config here is all it
takes to ship it.

`aligned` is the byte alignment a variant promises the compiler (0: none): 16-byte aligned
pointers, and sizes and strides that are multiples of 16 bytes (4 fp32 or 8 fp16/bf16
elements: Triton's `tt.divisibility`, ALIGN_ELEMS), which is what a 16-byte vector load of
a row needs. The triplet kernels also come in 8- and 4-byte classes (TRIPLET_ALIGN_CLASSES)
for rows that allow only narrower vectors. The runtime only chooses a variant when the
call's arguments satisfy its promise. Arguments the library itself sizes (workspace rows,
`always_aligned`) are promised 16 elements.
"""
from dataclasses import dataclass, field

DTYPES = {"f32": "fp32", "f16": "fp16", "bf16": "bf16"}  # tritium name -> Triton type
DTYPE_IDS = {"f32": 0, "f16": 1, "bf16": 2}              # = tritium_dtype in tritium.h
# Elements per 16 bytes: the divisibility an aligned variant promises for its caller's sizes
# and strides (= 16 / tritium_dtype_size, src/validate.c's tritium_align_elems). The rule
# was 16 elements for every dtype; with 16 bytes the code for shapes that met the old rule
# keeps its vector widths (the PTX differs only in a few more mask compares at the K tail),
# and rows of 1000 or 3000 bf16 elements, or 300 fp32, load in place with 16-byte vectors
# instead of one element at a time or being packed first.
DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2}
ALIGNED = 16  # the `aligned` of the matmul kernels' aligned variants (bytes)
ALIGN_ELEMS = {dt: ALIGNED // size for dt, size in DTYPE_BYTES.items()}

# Archs compiled by default (TRITIUM_ARCHS narrows or widens this). Archs below 90
# compile to plain targets whose PTX the driver can JIT on any newer GPU; 90 and above
# compile to arch-specific targets (sm_90a, sm_120a) and ship cubins only.
DEFAULT_ARCHS = (80, 86, 89, 90, 120)


def pdl(arch):
    """Whether images for `arch` may use programmatic dependent launch (Hopper and newer).
    The triplet kernels do: a launch hidden behind the previous kernel's tail is a large part
    of their time (H200, bf16 (4096, 512) forward + backward: 16.5 -> 14.1 us), but for the
    lanes forward (TRIPLET_LANES_CONFIGS says why). So do the
    matmul gemv and split reduce kernels, microseconds long (H200: a dot product of 65536
    11.3 -> 9.2 us, bf16 1 x 1024 x 1024 4.1 -> 2.8 us). The other matmul kernels do not:
    they run for tens of microseconds and more, so there is little to hide, and in the one
    H200 run with it the bf16 skinny product (M = 128, N = K = 8192, one wave of 6-stage
    tiles) fell from 0.96x to 0.80x cuBLAS (not investigated further). With PDL for the pack,
    packed and streamed kernels (H200, 2026-11-22, the library with TRITIUM_NO_PDL unset /
    set, one build, us) fp32 'high' products of K = 1024 gained 3-4 % (4096 x 4096 x 1024
    121.0 / 125.5) and 512^3 10.2 / 11.4, but 2048^3 lost 14 % (77.6 / 68.0), 3072^3 241 /
    232 and bf16 3000^3 124.4 / 115.8: the product's programs, placed while the pack's
    last ones still run, start unevenly. A reduce after one
    of them starts when it ends (no early trigger), as it would without PDL. Variants marked
    `plain` (the triplet forward's TRIPLET_NARROW_CONFIG) opt out too."""
    return int(arch >= 90)


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
    aligned_args: tuple = ()  # args promised `aligned` bytes (pointers) or elements' worth (ints)
    always_aligned: tuple = ()  # args promised divisible by 16 in every variant
    # ((param, value, args), ...): more args promised as aligned_args in aligned variants
    # whose constexpr param has that value (which strides a layout leaves as arguments)
    aligned_by_param: tuple = ()
    pdl: bool = True          # programmatic dependent launch where the arch has it (see pdl())


@dataclass(frozen=True)
class Variant:
    kernel: Kernel
    dtype: str
    aligned: int              # bytes promised (0, 4, 8, 16): see the module doc
    params: tuple             # values, in kernel.params order
    num_warps: int
    num_stages: int = 1
    archs: tuple = ()         # the archs it is compiled for; () = every arch of the build
    tag: str = field(default="", compare=False)
    plain: bool = False       # launched without PDL even where its kernel uses it (see pdl())

    def for_arch(self, arch):
        return not self.archs or arch in self.archs

    @property
    def ident(self):
        p = "_".join(f"{k.lower()}{int(v)}" for k, v in zip(self.kernel.params, self.params))
        cls = {0: "ua", ALIGNED: "al"}.get(self.aligned, f"a{self.aligned}")
        return f"{self.kernel.name}_{self.dtype}_{cls}_{p}_w{self.num_warps}s{self.num_stages}"

    def signature(self):
        sig = {}
        for name, ty in self.kernel.args:
            sig[name] = ty.replace("T", DTYPES[self.dtype]) if "T" in ty else ty
        for name in self.kernel.params:
            sig[name] = "constexpr"
        sig["PDL"] = "constexpr"  # every kernel's last param: see pdl()
        return sig

    def constexprs(self, arch=None):
        """The constexpr values; with an arch, also PDL: 1 where the images use programmatic
        dependent launch (griddepcontrol, sm_90 and newer), and the runtime launches them so."""
        out = dict(zip(self.kernel.params, self.params))
        if arch is not None:
            out["PDL"] = self.pdl(arch)
        return out

    def pdl(self, arch):
        return pdl(arch) if self.kernel.pdl and not self.plain else 0

    def attrs(self):
        """Triton's divisibility promises: a pointer's in bytes, an integer's in elements
        (16 for what the library sizes; for what the caller does, `aligned` bytes' worth:
        ALIGN_ELEMS in the 16-byte variants)."""
        names = [n for n, _ in self.kernel.args]
        types = dict(self.kernel.args)
        out = {(names.index(a),): [["tt.divisibility", 16]] for a in self.kernel.always_aligned}
        if self.aligned:
            values = dict(zip(self.kernel.params, self.params))
            args = self.kernel.aligned_args + tuple(a for p, value, more in self.kernel.aligned_by_param
                                                    if values[p] == value for a in more)
            for a in args:
                div = self.aligned if types[a].startswith("*") else self.aligned // DTYPE_BYTES[self.dtype]
                out[(names.index(a),)] = [["tt.divisibility", div]]
        return out


TRIPLET_FWD = Kernel(
    name="triplet_fwd", module="tritium.kernels.triplet", function="_triplet_fwd_kernel",
    args=(("a_ptr", "*T"), ("p_ptr", "*T"), ("n_ptr", "*T"), ("out_ptr", "*T"),
          ("partial_ptr", "*fp32"), ("saved_ptr", "*fp32"),
          ("N", "i32"), ("D", "i32"), ("chunk", "i32"),
          ("stride_a", "i64"), ("stride_p", "i64"), ("stride_n", "i64"),
          ("margin", "fp32"), ("norm_p", "fp32"), ("inv_p", "fp32"), ("eps", "fp32"), ("divisor", "fp32"),
          ("swap", "i32"), ("reduce", "i32"), ("save", "i32"), ("split", "i32")),
    params=("P_MODE", "ROWS", "BLOCK_D", "STAGES"),
    aligned_args=("a_ptr", "p_ptr", "n_ptr", "D", "chunk", "stride_a", "stride_p", "stride_n"),
)

# The forward of many short rows (TRIPLET_LANES_CONFIGS); the forward's arguments, ROWS =
# 32 * num_warps / LANES, VEC the alignment class's vector in elements (1 for class 0)
TRIPLET_FWD_LANES = Kernel(
    name="triplet_fwd_lanes", module="tritium.kernels.triplet", function="_triplet_fwd_lanes_kernel",
    args=TRIPLET_FWD.args, params=("P_MODE", "ROWS", "BLOCK_D", "LANES", "VEC"),
    aligned_args=TRIPLET_FWD.aligned_args, pdl=False,
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
          ("swap", "i32"), ("write_a", "i32"), ("write_p", "i32"), ("write_n", "i32")),
    params=("P_MODE", "ROWS", "BLOCK_D"),
    aligned_args=("a_ptr", "p_ptr", "n_ptr", "ga_ptr", "gp_ptr", "gn_ptr", "D", "chunk",
                  "stride_a", "stride_p", "stride_n", "stride_ga", "stride_gp", "stride_gn"),
)

# The backward of contiguous rows as one flat elementwise pass (triplet.py says why); built
# 16-byte aligned only: its pointers, and N * D (the mask's bound: a vector's lanes share
# its mask only if the bound is a multiple of the vector)
TRIPLET_BWD_FLAT = Kernel(
    name="triplet_bwd_flat", module="tritium.kernels.triplet", function="_triplet_bwd_flat_kernel",
    args=(("a_ptr", "*T"), ("p_ptr", "*T"), ("n_ptr", "*T"), ("gout_ptr", "*T"), ("saved_ptr", "*fp32"),
          ("ga_ptr", "*T"), ("gp_ptr", "*T"), ("gn_ptr", "*T"),
          ("total", "i32"), ("D", "i32"),
          ("stride_g", "i64"), ("eps", "fp32"), ("norm_p", "fp32"), ("divisor", "fp32"),
          ("swap", "i32"), ("write_a", "i32"), ("write_p", "i32"), ("write_n", "i32")),
    params=("P_MODE", "BLOCK"),
    aligned_args=("a_ptr", "p_ptr", "n_ptr", "ga_ptr", "gp_ptr", "gn_ptr", "total"),
)

# The one-program mean or sum of a small batch, p = 2 (TRIPLET_SINGLE_TILE): swap and save
# are constants, so that the program runs no branch it does not use
TRIPLET_SINGLE = Kernel(
    name="triplet_single", module="tritium.kernels.triplet", function="_triplet_single_kernel",
    args=(("a_ptr", "*T"), ("p_ptr", "*T"), ("n_ptr", "*T"), ("out_ptr", "*T"), ("saved_ptr", "*fp32"),
          ("N", "i32"), ("D", "i32"), ("stride_a", "i64"), ("stride_p", "i64"), ("stride_n", "i64"),
          ("margin", "fp32"), ("eps", "fp32"), ("divisor", "fp32")),
    params=("ROWS", "BLOCK_D", "SWAP", "SAVE"),
    aligned_args=("a_ptr", "p_ptr", "n_ptr", "D", "stride_a", "stride_p", "stride_n"),
)

TRIPLET_REDUCE = Kernel(
    name="triplet_reduce", module="tritium.kernels.triplet", function="_triplet_reduce_kernel",
    args=(("partial_ptr", "*fp32"), ("out_ptr", "*T"), ("count", "i32"), ("divisor", "fp32")),
    params=("BLOCK", "UNROLL"),
)

MATMUL = Kernel(
    name="matmul", module="tritium.kernels.matmul", function="_matmul_kernel",
    args=(("a_ptr", "*T"), ("b_ptr", "*T"), ("c_ptr", "*T"), ("partial_ptr", "*fp32"),
          ("M", "i32"), ("N", "i32"), ("K", "i32"), ("k_chunk", "i32"), ("split", "i32"),
          ("stride_am", "i64"), ("stride_ak", "i64"), ("stride_bk", "i64"),
          ("stride_bn", "i64"), ("stride_cm", "i64"), ("stride_cn", "i64")),
    params=("PRECISION", "A_K1", "B_N1", "C_N1", "BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"),
    # N too: B's columns wrap with % N, and keep their contiguity (vector loads) only when
    # the compiler knows N is a multiple of 16. M only where A is read along M (A_K1 = 2):
    # a row-major A is read along K, and skinny M (1, a few rows) must stay on the aligned
    # variants. Of each operand's strides, the one its layout leaves as an argument.
    aligned_args=("a_ptr", "b_ptr", "c_ptr", "partial_ptr", "N", "K", "k_chunk", "stride_cm"),
    aligned_by_param=(("A_K1", 1, ("stride_am",)), ("A_K1", 2, ("stride_ak", "M")),
                      ("B_N1", 1, ("stride_bk",)), ("B_N1", 2, ("stride_bn",))),
    pdl=False,  # see pdl()
)

MATMUL_PACK = Kernel(
    name="matmul_pack", module="tritium.kernels.matmul", function="_matmul_pack_kernel",
    args=(("src_ptr", "*T"), ("dst_ptr", "*T"), ("R", "i32"), ("C", "i32"), ("CP", "i32"),
          ("stride_r", "i64"), ("stride_c", "i64"), ("ld", "i64")),
    params=("MODE", "SRC", "BLOCK_R", "BLOCK_C"),
    always_aligned=("dst_ptr", "CP", "ld"),  # the workspace side
    pdl=False,  # see pdl()
)

# the packed operands always have aligned rows (KP_ALIGN elements) in a 256-byte aligned
# workspace; `aligned` variants also promise an aligned C (pointer, row stride, N), whose
# store is then vectorized
MATMUL_PACKED = Kernel(
    name="matmul_packed", module="tritium.kernels.matmul", function="_matmul_packed_kernel",
    args=(("a_ptr", "*T"), ("b_ptr", "*T"), ("c_ptr", "*T"), ("partial_ptr", "*fp32"),
          ("M", "i32"), ("N", "i32"), ("KP", "i32"), ("k_chunk", "i32"), ("split", "i32"),
          ("lda", "i64"), ("ldb", "i64"), ("stride_cm", "i64"), ("stride_cn", "i64")),
    params=("TF32", "PROMOTE", "C_N1", "BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"),
    always_aligned=("a_ptr", "b_ptr", "partial_ptr", "KP", "k_chunk", "lda", "ldb"),
    aligned_args=("c_ptr", "stride_cm", "N"),
    pdl=False,  # see pdl()
)

# fp32 only. X is read in place (R x K through two strides); Y, the packed operand, and
# the partials are workspace. In an aligned variant X's pointer is 16-byte aligned and R, K
# and its strides 16 bytes (4 elements) apart, the unit stride that XL makes a constexpr
# being passed as 0
MATMUL_STREAMED = Kernel(
    name="matmul_streamed", module="tritium.kernels.matmul", function="_matmul_streamed_kernel",
    args=(("x_ptr", "*T"), ("y_ptr", "*T"), ("c_ptr", "*T"), ("partial_ptr", "*fp32"),
          ("R", "i32"), ("S", "i32"), ("K", "i32"), ("k_chunk", "i32"), ("split", "i32"),
          ("stride_xr", "i64"), ("stride_xk", "i64"), ("ldy", "i64"), ("stride_cr", "i64"), ("stride_cs", "i64")),
    params=("PRECISION", "XL", "BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"),
    always_aligned=("y_ptr", "partial_ptr", "k_chunk", "ldy"),
    aligned_args=("x_ptr", "R", "K", "stride_xr", "stride_xk"),
    pdl=False,  # see pdl()
)

# M = 1 or N = 1 (any dtype): X (R x K) read in place, v and y through their strides; the
# partials (split > 1) are workspace. Aligned as the streamed kernel's X, and v 16-byte
# aligned with a unit stride (V1 = 1, the runtime's gemv_variant checks both)
MATMUL_GEMV = Kernel(
    name="matmul_gemv", module="tritium.kernels.matmul", function="_matmul_gemv_kernel",
    args=(("x_ptr", "*T"), ("v_ptr", "*T"), ("y_ptr", "*T"), ("partial_ptr", "*fp32"),
          ("R", "i32"), ("K", "i32"), ("k_chunk", "i32"), ("split", "i32"),
          ("stride_xr", "i64"), ("stride_xk", "i64"), ("stride_v", "i64"), ("stride_y", "i64")),
    params=("PRECISION", "XL", "V1", "STAGES", "BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"),
    always_aligned=("partial_ptr", "k_chunk"),
    aligned_args=("x_ptr", "v_ptr", "R", "K", "stride_xr", "stride_xk"),
)

MATMUL_REDUCE = Kernel(
    name="matmul_reduce", module="tritium.kernels.matmul", function="_matmul_reduce_kernel",
    args=(("partial_ptr", "*fp32"), ("c_ptr", "*T"), ("M", "i32"), ("N", "i32"), ("split", "i32"),
          ("stride_cm", "i64"), ("stride_cn", "i64")),
    params=("C_N1", "BLOCK_M", "BLOCK_N", "STAGES"),
    always_aligned=("partial_ptr",),  # workspace, 256-byte aligned
)

KERNELS = (TRIPLET_FWD, TRIPLET_FWD_LANES, TRIPLET_FINISH, TRIPLET_SINGLE, TRIPLET_REDUCE, TRIPLET_BWD, TRIPLET_BWD_FLAT, MATMUL,
           MATMUL_PACK, MATMUL_PACKED, MATMUL_STREAMED, MATMUL_GEMV, MATMUL_REDUCE)


# The split path of the triplet forward/backward (few long rows): each row's D is cut into
# at most SPLIT_MAX ranges of whole SPLIT_BLOCK_D chunks, aiming at SPLIT_PROGRAMS programs;
# rows take it when that gives a row at least two ranges (so fewer than SPLIT_PROGRAMS
# rows, each holding at least two chunks). SPLIT_BLOCK_D is the wide row config's BLOCK_D
# (ROWS = 1, 3 pipelined stages), which every (dtype, p, alignment) family ships.
# SPLIT_PROGRAMS: about two programs per SM, each streaming a long range. Measured on an
# H200 (132 SMs; JIT, the forward and its finish kernel with PDL, inputs past L2): fp32
# (128, 65536) took 28.6 us at 1024 programs of 4 steps, 27.6 at 384 of 11 and 26.5 at 256
# of 16; bf16 18.1 / 16.7 (512) / 16.0; (8, 1048576) fp32 28.8 at 1024, 27.6 at 256, bf16
# 18.1 / 16.9. On a 4090 (128 SMs; the fp32 config's 72 KB of shared memory allows one
# block per SM) 256 programs are two even waves, each block keeping two 24 KB steps in
# flight, five times what Little's law asks of an SM there (see triplet_row_configs). A
# constant, not the device's SM count: the split, and so the bits of the result, are the
# same on every GPU, and the workspace query needs no device.
# Re-swept on an H200 (2026-11-22, JIT with PDL, fp32, the forward and its finish, us; the
# bench's traffic reference, which only reads the bytes, 23.2-23.6 in the same runs):
# (128, 65536) best 25.56 with (1, 4096) steps of 8 warps, unpipelined, 256 programs (the
# forward alone 24.29), 26.01 as shipped; (8, 1048576) best 26.70, 27.09 as shipped; 36
# (BLOCK_D, warps, stages) x 3 program counts, none within 1.15x of the bytes' time (25.07).
# A 1-D grid taking a row's splits in order (so that the programs in flight read a
# contiguous span, as the backward's grid does) was slower at every count: 26.32 at 256
# programs, 27.4 at 512, 28.0-28.5 at 1024, 29.4-33.9 at 2048. The finish costs 1.3-1.5 us
# after the forward: one dependent round trip through L2.
TRIPLET_SPLIT_MAX = 256
# (ROWS, BLOCK_S) of the finish kernel: one program combines ROWS rows x BLOCK_S splits per
# step; the runtime takes the narrowest BLOCK_S >= the splits. With ~SPLIT_PROGRAMS (256)
# partials in all, each config's ROWS holds every row its splits come with (8 or fewer
# splits: < 256 rows; up to 32: < 32 rows; more: < 8 rows), so the program makes one step.
# A tile wider than the rows costs: on an H200 (AOT-compiled as shipped, no PDL, after the
# forward) (8, 1048576)'s 32 splits took 4.55 us to finish with a 64 x 32 tile, 2.27 with
# 32 x 32 (and 2.24 with 64 x 32 where S was known to be a multiple of 16, as in a JIT
# build: the AOT image cannot assume it).
TRIPLET_FINISH_CONFIGS = ((256, 8), (32, 32), (8, TRIPLET_SPLIT_MAX))
TRIPLET_SPLIT_BLOCK_D = 2048
TRIPLET_SPLIT_PROGRAMS = 256
# mean/sum of rows that one row config holds (ROWS >= N) in at most this many steps along D
# run as one program that writes the final value: one launch instead of two. A step is a
# memory round trip (the single program's loop is not pipelined), a launch about two: on an
# H200 (PDL, device time) a (32, 128) forward took 2.7 us as one program of four 32 x 32
# steps, 2.2 (fp32) / 1.9 (bf16) as one 32 x 128 step, and 2.8-3.0 as the row grid and its
# reduce at (256, 128). Its warps do not matter (H200, JIT with PDL, mean, us, 4 / 8 / 16 / 32
# warps): fp32 (32, 128) 2.19 / 2.01 / 2.02 / 1.97, bf16 1.89-2.00; a program's load, its
# reductions and its store take ~2 us where the bench's traffic kernel, 16 programs that only
# read, takes 1.0.
TRIPLET_SINGLE_MAX_STEPS = 2
TRIPLET_SINGLE_CONFIG = (32, 128, 8, 1)  # (ROWS, BLOCK_D, num_warps, STAGES), p = 2, aligned rows
# (ROWS, BLOCK_D, num_warps) of _triplet_single_kernel, which takes the one-program mean and
# sum for p = 2 where the rows fit this one tile (the row kernel's one-program grid keeps the
# rest: other p, and rows of up to TRIPLET_SINGLE_MAX_STEPS steps). Built in every alignment
# class, each with swap and save as constants (the kernel says why, with its timings): with
# the 16-byte and no-class builds only, bf16 rows of 100 (an 8-byte class, so element-wise
# loads) took 2.90 us on an H200 where fp32 took 1.34. For the 4090: 12 K elements, 48 per
# thread of 256 in fp32, and no shared memory beyond the reductions, as TRIPLET_SINGLE_CONFIG.
# Why a kernel of its own: one program runs alone, so its time is the chain of its
# instructions. Bisected on an H200 (JIT, PDL, fp32 (32, 128), 8 warps, us): a bare
# straight-line tile 1.60, with the row kernel's D loop 1.84, with its epilogue (runtime
# flags for split, save, swap, reduce) 1.89, both 2.03. Built as shipped, in the bench:
# fp32 2.10 -> 1.55 us, bf16 1.96 -> 1.69 (forward+backward 3.82 -> 3.17, 3.47 -> 3.27).
# Measured and not built: one thread-block cluster whose blocks each sum a slice of the rows
# and whose first block adds their partials after a cluster barrier (global partials, the
# barrier by inline asm, the launch with cluster dims; one launch, fixed order): fp32 (32,
# 128) 1.68-1.85 us with 4-16 blocks, 0.45 us over the same kernel without the barrier (whose
# sum is wrong); fp32 (256, 128) 2.32 us with 16 blocks of 8 warps, bf16 2.06, where the row
# grid and its reduce take 2.95-3.0. Triton 3.6's own num_ctas > 1 fails to compile a
# reduction across the blocks (TritonGPUPlanCTAPass).
# Warps per dtype (TRIPLET_SINGLE_WARPS): 16-bit rows take 16, fp32 8. H200, JIT with PDL,
# (32, 128), device time, us, 4 / 8 / 16 warps, the same in two rounds: bf16 mean 1.50 /
# 1.67 / 1.37, saving rows 1.66 / 1.83 / 1.53, swap 1.73 / 1.67 / 1.42; fp32 mean 1.72 /
# 1.68 / 1.57, saving rows 2.04 / 1.82 / 1.83, swap 1.91 / 1.80 / 1.88 (and the library's
# 8-warp build 1.55 in the same run: fp32 gains nothing). As built, in the bench: bf16
# forward 1.69 -> 1.44 us, forward+backward 3.27 -> 2.89; fp16 1.30 (JIT 1.65 / 1.34 at 8 / 16). For the 4090 the 16-bit tile's
# 512 threads hold 24 elements each, well under 128 registers.
TRIPLET_SINGLE_TILE = (32, 128)
TRIPLET_SINGLE_WARPS = {"f32": 8, "f16": 16, "bf16": 16}
# Many short programs: a forward grid of more than MANY_PROGRAMS programs, each reading fewer
# than MIN_PROGRAM_BYTES of a, p and n, is bound by starting programs, not by memory; it
# takes the family's narrowest config of BLOCK_D >= 64 instead (16 rows of 64 where p = 2
# and rows are aligned), whose programs read more rows. On an H200 the sm_90 images' 1-warp
# (1, 512) programs took 84 us at 65536 rows of 272 to 512 elements, fp32 and bf16 alike:
# 1.3 ns per program, in which 4.4 TB/s reads 5.6 KB (MIN_PROGRAM_BYTES). With 16-row
# programs: bf16 33 us at D = 272, 40 at 384, 51 at 512 (torch.compile 36, 63, 70), fp32
# 57 at 272 and 72 at 384 (compile 58, 79); at 8192 rows bf16 7.7-11 us where (1, 512) took
# 12.3. Rows of 6000 bytes keep the (1, 512) tile: 97 us at (65536, 1000) bf16, where 16-row
# programs took 110. At 4096 rows (the bench's (4096, 512)) nothing changes.
TRIPLET_MANY_PROGRAMS = 4096
TRIPLET_MIN_PROGRAM_BYTES = 5632
# Many short rows narrower than 16 bytes' alignment (N >= MANY_PROGRAMS, D of at most
# LANES_MAX_D, classes 8, 4 and 0) take the lanes forward
# (_triplet_fwd_lanes_kernel: each row over LANES lanes of a warp, not all 32), in one of
# LANES_CONFIGS by the row's bytes: (most row bytes, LANES, ROWS, BLOCK_D, num_warps); rows
# past the last but one whose last step of the last config would hold at most half of its
# BLOCK_D take the config before it (src/triplet.c, pick_lanes). Row tiles of short rows
# are bound by instructions (the kernel's doc says why), and so were the old rules' tiles:
# 4 x 64 of one warp for rows narrower than 16 bytes, 16 x 64 of 2 warps for 16-byte rows.
# Measured on an H200 (.whl/tlanes.py: each config compiled as the build does, p = 2,
# 65536 rows, forward 'mean' alone, device time without / with the saved rows, us; the
# row kernel's 4 x 64 and 16 x 64 tiles, and torch.compile's forward, in the same run):
#   bf16 D = 37 (no class):   4 lanes x 8 rows x 64 11.9 / 12.3   4 x 64 22.1 / 22.1   compile 21.9
#   bf16 D = 50 (4-byte):     4 x 8 x 64 11.4 / 11.9              4 x 64 22.1 / 22.0   compile 15.8
#   bf16 D = 64 (16-byte):    4 x 8 x 64 10.2 / 10.6              16 x 64 10.5 / 11.4  compile 15.1
#   bf16 D = 100 (8-byte):    8 x 4 x 64 15.4 / 16.6              16 x 64 19.3 / 21.1  compile 18.9
#   bf16 D = 130 (4-byte):    8 x 4 x 64 21.5 / 23.2              4 x 64 23.1 / 25.3   compile 22.8
#   bf16 D = 250 (4-byte):    16 x 2 x 128 28.8 / 31.4            4 x 64 29.8 / 33.4   compile 33.5
#   bf16 D = 300 (8-byte):    8 x 4 x 64 34.5 / 36.5 (16 x 2 x 128: 36.1 / 38.7)
#                                                                 4 x 64 34.9 / 37.1   compile 37.3
#   bf16 D = 384 (16-byte):   16 x 2 x 128 38.1 / 39.9            16 x 64 38.9 / 40.9  compile 44.6
#   bf16 D = 500 (8-byte):    16 x 2 x 128 49.8 / 52.2            4 x 64 54.7 / 57.1   compile 54.5
#   fp32 D = 50 (8-byte):     8 x 4 x 64 13.8 / 14.0              16 x 64 19.2 / 24.0  compile 20.2
#   fp32 D = 100 (16-byte):   16 x 2 x 128 23.5 / 23.7            16 x 64 24.5 / 26.8  compile 29.8
#   fp32 D = 250 (8-byte):    16 x 2 x 128 46.5 / 48.2            4 x 64 48.5 / 50.5   compile 54.5
#   fp32 D = 500 (16-byte):   16 x 2 x 128 89.3 / 91.5            16 x 64 94.7 / 97.1  compile 96.7
# Two warps of 8 lanes x 8 rows were as fast at D <= 64 without the saved rows and slower
# with them (bf16 D = 64: 10.4 / 11.7): their rows' values cross warps through shared
# memory on the way to the stores. 4 lanes a row lost wherever rows were longer than 64
# elements, and 16 lanes a row lost at D <= 130 (23.0-24.7 us: 32768 programs of little
# work each, the per-program cost MANY_PROGRAMS is about). At 8192 rows of 250 every config
# took 7.4-8.1 us. The images are launched without PDL (TRIPLET_FWD_LANES.pdl): the wait at
# the start of each of 16384 one-warp programs cost more than the launch PDL hides (H200,
# 4 x 64 tiles, the library, 'none', us, with PDL / without: bf16 (65536, 37) 20.7 / 14.9,
# (65536, 50) 20.7 / 13.6). For the 4090 (sm_89): blocks of one warp, no shared memory,
# few registers (test_sm89_resources_and_occupancy): its 24 blocks per SM, each with its
# rows' loads in flight, keep far more than Little's law's 4.7 KB per SM in flight (see
# triplet_row_configs).
# Rows of 16 bytes keep the row tiles (the many-programs rule's 16 x 64): in the library,
# whose lanes images launch without PDL and whose mean adds a reduce launch, their forward
# was slower in lanes tiles (H200, 'mean', us, lanes / row tiles): bf16 (65536, 64) 11.6 /
# 10.8, fp32 (65536, 64) 15.9 / 14.8, bf16 (4096, 512) 8.0 / 7.5, fp32 9.0 / 10.4, and bf16
# (65536, 384) 41-45 / 43 (noisy), where the kernels alone had favoured the lanes tiles.
# Not used, measured (H200, 2026-11-22, sm_90 images as built, bf16 rows of the 4-byte class,
# 65536 rows, with saved rows, us): a last step of two elements costs nearly a full one (8 x
# 4 x 64: D = 128 19.2, D = 130 23.3, D = 192 26.6, D = 194 30.2). A half tile for a last
# step of at most half a step's elements, loaded before the loop and joined to the main
# tile at the end, made every width slower, not only the ones it was for (D = 64 13.3 ->
# 14.5, 128 19.2 -> 21.7, 130 23.3 -> 24.7; the library's bf16 (65536, 37) forward 13.2 ->
# 17.2, (65536, 250) 31.2 -> 37.3): the extra tile's code costs each program more than the
# step it saves, in a kernel bound by instructions. Pipelining the D loop through shared
# memory (tl.range num_stages 2 or 3, cp.async) made it 1.4-4x slower (same setup, 'mean',
# us, 1 / 2 / 3 stages: bf16 D = 130 23.4 / 51.9 / 56.1, D = 500 53.1 / 74.9 / 82.1, fp32 D
# = 250 49.1 / 128.6 / 153.8): one-warp programs of a few steps gain nothing from loads
# ahead and pay the copies and barriers.
TRIPLET_LANES_CONFIGS = ((128, 4, 8, 64, 1), (384, 8, 4, 64, 1), (1 << 30, 16, 2, 128, 1))
TRIPLET_LANES_MAX_D = 512
# Rows of no class (loaded element by element) take the lanes forward up to this many bytes
# only; longer ones (at most LANES_MAX_D elements) take NARROW_CONFIG, 4 rows of 64 a
# program and one warp, as before the lanes forward: fp32 (65536, 301) took 72.0 us in 8 x
# 4 x 64 lanes tiles, 62.7 in it (H200, the library, 'mean'), where bf16 (65536, 37) took
# 13.2 against 16.3. Its images are launched without PDL (Variant.plain), for the reason
# the lanes forward's are.
TRIPLET_LANES_NO_CLASS_MAX_BYTES = 384
TRIPLET_NARROW_CONFIG = (4, 64, 1, 1)
# lanes variants (dtype, class, p_mode, ROWS) built for Hopper only: their sm_89 code needs
# an 8-byte stack frame (fp32 rows of no class in general p, 8 lanes), which the 4090
# resource check rejects; such calls there take the row tiles (src/triplet.c)
TRIPLET_LANES_HOPPER_ONLY = {("f32", 0, 0, 4)}
# Long rows whose last 2048-element step holds at most TAIL_MAX elements run that step
# nearly empty, at the cost of a full one (the steps are pipelined): with N >= MANY_PROGRAMS
# they take the (1, 512) tile instead. H200, bf16, 32768 rows (us; (1, 2048) / (1, 512)):
# D = 8196 448.5 / 367.4, D = 8200 404.8 / 368.9 (torch.compile 355 at both), D = 8192 356
# with (1, 2048). Not used, measured (H200, 2026-11-22, sm_90 images as built, 'mean' with
# saved rows, us, the partial step last in the loop / loaded before the loop and summed
# after it, so that its loads fly with the first step's): bf16 32768 x 8200 (1, 512) 376.1 /
# 395.6, (1, 1024) 372.4 / 418.5, (1, 2048) 418.7 / 483.5; 32768 x 8192 (1, 2048) 355.5 /
# 455.8; 16384 x 3600 (1, 512) 88.2 / 95.7; 65536 x 1030 (1, 512) 140.6 / 192.2; fp32 32768 x
# 8200 (1, 1024) 712.8 / 710.4: the partial step's values, held in registers over the loop,
# cost the programs more than its latency did.
TRIPLET_TAIL_MAX = 512
# Rows of fewer than WIDE_MIN_D elements take the (1, 512) tile too, with N >= MANY_PROGRAMS:
# the (1, 2048) tile of 8 pipelined warps pays off only over several full steps. H200,
# 2026-11-22, sm_90 images as built, 'mean' with saved rows, 16384 rows (us; (1, 2048) /
# (1, 512) / torch.compile): bf16 D = 1030 99.6 / 39.3 / 49.4, 1300 94.7 / 38.2 / 43.6,
# 2000 78.5 / 50.0 / 50.9, 3000 100.5 / 71.4 / 74.3, 4000 101.6 / 92.8 / 92.5; fp32 1030
# 142.3 / 52.3 / 56.1, 2000 112.6 / 88.8 / 94.1, 3000 145.8 / 131.8 / 134.4, 4000 172.8 /
# 172.6 / 176.0; 65536 x 1030 bf16 387.9 / 140.7 / 172.5. From four full steps on, the
# (1, 2048) tile is ahead (32768 x 8192 bf16 349.5 / 357.8).
TRIPLET_WIDE_MIN_D = 4 * TRIPLET_SPLIT_BLOCK_D
CONSTANTS = {"TRIPLET_SPLIT_MAX": TRIPLET_SPLIT_MAX, "TRIPLET_SPLIT_BLOCK_D": TRIPLET_SPLIT_BLOCK_D,
             "TRIPLET_SPLIT_PROGRAMS": TRIPLET_SPLIT_PROGRAMS,
             "TRIPLET_SINGLE_MAX_STEPS": TRIPLET_SINGLE_MAX_STEPS,
             "TRIPLET_MANY_PROGRAMS": TRIPLET_MANY_PROGRAMS,
             "TRIPLET_MIN_PROGRAM_BYTES": TRIPLET_MIN_PROGRAM_BYTES,
             "TRIPLET_LANES_MAX_D": TRIPLET_LANES_MAX_D, "TRIPLET_TAIL_MAX": TRIPLET_TAIL_MAX,
             "TRIPLET_WIDE_MIN_D": TRIPLET_WIDE_MIN_D,
             "TRIPLET_LANES_NO_CLASS_MAX_BYTES": TRIPLET_LANES_NO_CLASS_MAX_BYTES,
             "TRIPLET_NARROW_ROWS": TRIPLET_NARROW_CONFIG[0], "TRIPLET_NARROW_BLOCK_D": TRIPLET_NARROW_CONFIG[1],
             "TRIPLET_LANES_MAX_BYTES": "{" + ", ".join(str(c[0]) for c in TRIPLET_LANES_CONFIGS) + "}",
             "TRIPLET_LANES_ROWS": "{" + ", ".join(str(c[2]) for c in TRIPLET_LANES_CONFIGS) + "}",
             "TRIPLET_LANES_BLOCK_D": "{" + ", ".join(str(c[3]) for c in TRIPLET_LANES_CONFIGS) + "}",
             "TRIPLET_LANES_COUNT": len(TRIPLET_LANES_CONFIGS)}  # matmul's are added below


# The triplet kernels' alignment classes per dtype (the `aligned` of their variants, bytes):
# rows whose pointers, stride and D are multiples of 16 bytes load with 16-byte vectors, of
# 8 bytes with 8-byte ones, and so on; 0 loads element by element. The runtime takes the
# widest class the call's rows allow (src/triplet.c, narrow_class).
TRIPLET_ALIGN_CLASSES = {"f32": (0, 8, 16), "f16": (0, 4, 8, 16), "bf16": (0, 4, 8, 16)}


def triplet_row_configs(p_mode, aligned):
    """(ROWS, BLOCK_D, num_warps, STAGES) for the forward row kernel (the backward's are
    triplet_bwd_configs); the runtime picks the widest BLOCK_D that D fills. STAGES > 1
    pipelines the D loop's loads (Triton's software pipelining through shared memory).

    Chosen from sweeps on an H200 (these kernels JIT-compiled per config, device time per
    call with inputs past L2, the forward with its reduce launch), then checked against
    the 4090's limits:
    * short rows want many small programs, not few wide ones: at (4096, 512) one row per
      1-warp program took 11.4 us (fp32) / 9.4 us (bf16) where 4 rows per 8-warp program
      took 14.8 / 11.3; likewise (4, 128, 4 warps), (4, 256, 4), (16, 64, 2) beat the
      16-to-64-row 8-warp programs by 3-10 %. A program then holds 1024 or fewer elements
      of each input per step, 4 to 16 per thread, so that registers stay low (no spills,
      several blocks per SM) and each SM runs many independent programs;
    * long rows (ROWS = 1, BLOCK_D = 2048, 8 warps) are bandwidth-bound: with STAGES = 3
      the loads of the next steps are in flight while a step is summed (in a stripped-down
      forward, bf16 at (32768, 8192) went from 374 to 356 us; fp32 stayed at ~701 us, the
      read ceiling);
    * for the RTX 4090 (sm_89: 128 SMs, 1008 GB/s, 1536 threads and 64K registers per
      SM, at most 24 resident blocks, 99 KB shared memory per block): Little's law with
      ~600 ns of DRAM latency asks for ~600 KB in flight, ~4.7 KB per SM. The widest
      config's three pipelined 2048-element steps take 3 x 3 x 2048 x 4 = 72 KB of shared
      memory in fp32 (36 KB in 16-bit), under 99 KB, one block of 256 threads per SM at
      worst, which still keeps 48 KB in flight; the short-row configs use no shared memory
      beyond their reductions and 24 one-warp blocks keep 24 x 512 x 3 x 4 B = 147 KB in
      flight per SM, far above the need. Registers stay under 255 with no spills;
    * a small batch's mean or sum runs as one program when its rows fit one config in at
      most TRIPLET_SINGLE_MAX_STEPS steps; TRIPLET_SINGLE_CONFIG (32 x 128, 8 warps) is
      there for it: 12 K elements a step, 48 per thread, no shared memory beyond the
      reductions. The row grid never takes it (at equal BLOCK_D it takes fewer rows);
    * re-checked with PDL against the bench's traffic reference (H200, JIT, 2026-11-22,
      main kernel / with its reduce, us): bf16 (4096, 512) 1 x 512 on 1 warp 5.84 / 7.09,
      2 x 512 on 2 warps 5.47 / 6.73, 4 x 512 on 4 warps 5.66 / 6.95, 8 x 512 on 8 warps
      6.16 / 7.53 (traffic 4.42 alone); fp32 7.41 / 8.68, 7.53 / 8.73, 7.61 / 8.79, 11.25 /
      12.66 (traffic 7.08); (65536, 64) bf16 16 x 64 on 2 warps 8.67 / 10.15, the best of six
      tiles of 16-128 rows; (1024, 256) all six tiles of 1-8 rows within 0.2 us. No tile
      gains more than 5 %, so the set stays;
    * ROWS grows as D shrinks so that short rows still fill a step; the split path
      (TRIPLET_SPLIT_*) covers the opposite case, few rows of many elements.
    The common case (p = 2) gets the full set in every alignment class (with
    other p get a wide and a narrow config, which keeps the shipped library small. `test_sm89_resources_and_occupancy`
    checks registers, spills, shared memory and blocks per SM of every sm_89 cubin.
    """
    # the 4-byte class (fp16/bf16 rows of 2 mod 4 elements) pipelines 2 steps: with 3, the
    # sm_89 images of p = 1 and 2 need a 16-byte stack frame (no spills), which the 4090
    # resource check rejects; 2 steps take 80 registers and none
    wide = (1, 2048, 8, 2 if aligned == 4 else 3)
    if p_mode == 2:  # rows of no class: TRIPLET_NARROW_CONFIG in place of 16 x 64
        return (wide, (1, 512, 1, 1), (4, 256, 4, 1), (4, 128, 4, 1),
                (16, 64, 2, 1) if aligned else TRIPLET_NARROW_CONFIG, (32, 32, 2, 1), TRIPLET_SINGLE_CONFIG)
    return (wide, (4, 128, 4, 1))


# (BLOCK, num_warps) of the flat backward: 1024 elements, 8 (16-bit) or 4 (fp32) to a
# thread, one or two 16-byte vectors of each stream
TRIPLET_BWD_FLAT_CONFIGS = ((1024, 4),)


def triplet_bwd_configs(p_mode, aligned):
    """(ROWS, BLOCK_D, num_warps) for the backward: the forward's tiles, except that long
    rows take (2, 1024) tiles of 8 warps in place of (1, 2048) with pipelined steps.

    The backward is elementwise (a program is one straight-line tile; only a grid past
    2^31 programs loops, unpipelined). Its time is DRAM traffic, three streams read and
    three written; measured on an H200 (JIT, the backward alone, device time per call): at (32768, 8192) fp32, 1561 us with (1, 2048, 8 warps), 1513 with
    (2, 1024, 8), 1518-1522 with (1, 1024, 4 or 8) and (2, 512, 4); Inductor's flat
    1024-element kernel took 1510. bf16 762-765 us with any of them (Inductor 761); at
    (8, 1048576) and (128, 65536) fp32 49.8-50.6 us (Inductor 48). For the 4090: 2048
    elements of each input per program, 8 per thread, no shared memory; ~80 registers
    (127 for unaligned general p) leave 2-3 blocks of 256 threads per SM, which still keep
    2 x 2048 x 3 x 4 B = 48 KB of loads in flight per SM, ten times what Little's law asks
    (see triplet_row_configs). Every aligned class takes the 16-byte class's tiles. Rows
    of no class (element by element loads and stores, each through its own address) keep
    BLOCK_D >= 128: the sm_89 images of 16 x 64 and 32 x 32 need stack frames of 32-160
    bytes there."""
    return ((2, 1024, 8),) + tuple(c[:3] for c in triplet_row_configs(p_mode, ALIGNED if aligned else 0)[1:]
                                   if c != TRIPLET_SINGLE_CONFIG and (aligned or c[1] >= 128))


# Matmul tile configs: (BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, num_warps, num_stages, archs).
# Shared memory per block is (BLOCK_M + BLOCK_N) * BLOCK_K * bytes * stages; configs over
# the ~99 KB that sm_86/sm_89/sm_120 give a block are built for sm_90 only (227 KB). Which
# config a call gets is the tuning table's choice (aot/tuning/sm_<arch>.json, written by
# `python -m tritium tune`); a config missing from a device's build is never chosen.
HOPPER = (90,)
KP_ALIGN = 64          # packed rows are padded with zeros to a multiple of this many elements
MATMUL_DIRECT_CONFIGS = {
    # fp32 'highest' (FMA products): a large tile, a skinny-M and a mid tile
    ("f32", 0): ((128, 128, 16, 8, 8, 3, ()), (16, 128, 32, 8, 4, 4, ()), (64, 128, 32, 8, 8, 3, ()),
                 (64, 256, 32, 8, 8, 3, HOPPER)),
    # fp32 'high' (TF32, operands rounded in the loop): for shapes that do not pay for packing
    ("f32", 1): ((128, 128, 32, 8, 8, 3, ()), (16, 128, 32, 8, 4, 3, ()), (64, 128, 32, 8, 8, 3, ())),
    # fp16/bf16: the Hopper tile that reaches cuBLAS at 4096^3-8192^3, a 96 KB one, skinny
    ("16", 0): ((128, 256, 64, 8, 8, 4, HOPPER), (128, 128, 32, 8, 8, 4, ()), (16, 128, 64, 8, 4, 4, ()),
                (64, 128, 64, 8, 8, 4, ()), (128, 64, 64, 8, 8, 4, ()), (64, 64, 128, 8, 8, 3, ()),
                (64, 128, 64, 8, 8, 6, HOPPER)),  # skinny M streams B: deeper pipelining
}
# direct variants (family, precision, tile, (A_K1, B_N1, aligned)) built for Hopper only: on
# sm_89 their code needs a stack frame (8 bytes for the 'highest' 128 x 128 x 16 FMA tile
# with both operands column-major), which the 4090 resource check rejects; calls of that
# layout there take the unaligned variant of the same tile (aot/build.py)
MATMUL_DIRECT_HOPPER_ONLY = {("f32", 0, (128, 128, 16), (2, 2, True))}
# Not used, measured (H200, 2026-11-22, bf16, device time, cuBLAS in the same run): mid-size
# squares lose to cuBLAS by wave quantization (3072^3: 288 tiles of 128 x 256 on 132 SMs, run
# as 3 waves: 101 us, cuBLAS 72). Two remedies were tried in JIT. Splitting C's rows into full
# waves plus a tail with its own config (two launches of this kernel): 3072^3 84 us, 2304^3
# 52 -> 47, no gain at 1280^3-2560^3 or 4096^3. Stream-K (full waves as they are, the rest
# cut into equal K ranges over one program per SM, fp32 partial tiles added up in a fixed
# order by a second kernel): 3072^3 93 us, 2304^3 50, and slower than the plain tiles at
# 1024^3-2048^3 and 4096^3 (1536^3: 25.7 us against 20.9), since each cut tile writes and
# reads 128 KB of fp32 partials and restarts the pipeline (the prototype stored its partials
# as bytes by mistake, so its results were wrong and these times flatter it). Neither was
# worth a new path. Nor was a persistent product (one program per SM, or two, looping
# over tiles with the K loop flattened into the tile loop, tl.range(flatten=True), so that
# the next tile's loads overlap this one's epilogue; H200, JIT, 2026-11-22, us, one tile a
# program / persistent): bf16 128 x 256 8192 x 8192 x 512 142.0 / 143.4 (cuBLAS 105.6),
# 4096 x 4096 x 1024 58.6 / 64.8, 3072^3 109.9 / 126.9, 4096^3 192.7 / 218.7; fp32 'high'
# (operands rounded beforehand) 128 x 128 4096^3 461.7 / 580-588. Nor was a tile 192 wide
# (H200, JIT, 2026-11-22, bf16, 128 x (128 + 64) as two products sharing A, against a plain
# 128 x 256 kernel written the same way and cuBLAS, us): 3072^3 97.9-105.9 / 110.5 / 76.7,
# 2304^3 51.0-55.8 / 56.3 / 39.3, 1536^3 19.3-20.9 / 20.7 / 13.1, but 2560^3 82.0 / 61.7 /
# 54.3, 4096^3 251 / 203 / 177 and 6144^3 860 / 703 / 619: its fuller waves gain less than
# its two narrower products lose.
MATMUL_PACKED_CONFIGS = {
    # (TF32, PROMOTE) per family. fp32 'high' 64 x 128 (one warpgroup): mid-size products
    # fill the SMs with it where 128 x 128 leaves half of them idle (H200, 2026-11-22, the
    # library before -> after re-tuning with it, cuBLAS TF32, us: 1024^3 23.2 -> 20.3 (14.3),
    # 1536^3 49.2 -> 45.0 (36.0), 768 x 3072 x 768 38.6 -> 28.9 (22.9))
    ("f32", 1): ((128, 256, 32, 8, 8, 3, HOPPER), (128, 128, 32, 8, 8, 3, ()), (64, 128, 32, 8, 4, 3, ())),
    # 'highest' adds each K step's product to the total in fp32 (PROMOTE): BLOCK_K = 64
    # halves the waits for the tensor cores that this costs
    ("f32", 0): ((128, 128, 32, 8, 8, 3, ()), (64, 256, 32, 8, 8, 3, HOPPER), (128, 128, 64, 8, 8, 3, HOPPER)),
    ("16", 0): ((128, 256, 64, 8, 8, 3, HOPPER), (256, 128, 64, 8, 8, 3, HOPPER), (128, 128, 64, 8, 8, 3, ())),
}
# The streamed path (fp32; _matmul_streamed_kernel): the large operand read once in place
# and rounded/split in registers, the small one packed. Tiles are (BLOCK_M, BLOCK_N) of the
# R x S output (R: the large operand's rows, S: the skinny side). Measured on an H200
# (pack + product + split reduce, JIT, fp32 'high' / 'highest', against cuBLAS TF32 /
# fp32): M=128, N=K=8192: 177 TF/s = 0.91x (64x128, split 2) / 62 TF/s = 1.22x (128x128,
# split 2); M=16: 0.92x / 0.92x (128x32); M=64: 0.96x / 1.04x (64x64, split 2); N=128:
# 0.80x / 1.31x; M=N=1024, K=65536: 249 TF/s (128x256, split 4; the packed path 224) /
# 62 TF/s = 1.18x (128x128, split 2). Shared memory is (stages - 1) steps of X's BLOCK_M
# rows and Y's BLOCK_N rows (twice, hi and lo, for 'highest') of 32 fp32: the 128x256 tile
# (128 / 224 KB) is Hopper only, and 'highest' takes its 64x128 tile at 3 stages (80 KB,
# where 4 would need 120). On sm_89 (mma.sync, both operands through registers) the
# 3xTF32 tiles wider than 64x64 and the 128x32 tile need stack frames beyond the 255
# registers of a thread: sm_89 gets 'high' 128x128, 64x128, 64x64 and 'highest' 64x64.
# Not used, measured (H200, JIT, 2026-11-21, fp32 'high' 4096^3, product alone with B^T
# rounded beforehand; cuBLAS TF32 351 us in the same run): this kernel's 128x256 tile 385
# us; the same loop reading through tensor descriptors (TMA) 432-442 us at 3-4 stages;
# triton 3.6's Hopper warp specialization (tl.range(warp_specialize=True), 12 warps) 780-797
# us persistent at 128x128, 9.3-10.6 ms persistent at 128x256, and the non-persistent loop
# at 128x256 failed at launch or hung; the TMA loop with no rounding at all (raw fp32 from
# shared memory, Triton's truncation) 357 us. At M = N = 1024, K = 65536 (split 4) this
# kernel took 373 us to cuBLAS's 369, TMA 420-427. So the pointer loop stays, and what
# fp32 'high' lacks at 4096^3 is the B pack plus Triton's own TF32 loop, which stays short
# of cuBLAS even with no rounding at all. A Gluon kernel that rounds in its own pipeline
# (H200, JIT, 2026-11-21: raw A and B by cp.async, each K step B read back from shared
# memory, rounded and stored K-major for wgmma, A rounded into wgmma's register operand;
# no pack at all) reached 207-233 TF/s: 4096^3 in 663 us at best (cuBLAS 345), 8192^3 in
# 4721 (cuBLAS 2647), M = N = 1024, K = 65536 in 593 (cuBLAS 374); not pursued either.
# Nor was hiding the packs under the product (H200, JIT, 2026-11-22, fp32 'high', both
# operands packed, 128 x 256 tiles): a persistent pack of P programs that triggers the next
# launch at its start (PDL), rounds A and transposes B by chunks of 512-1024 of K and counts
# each chunk's finished tiles in a flag (release), and a product launched with PDL that
# waits on a chunk's flag (acquire) before its K steps. PDL did start the product beside the
# pack (126-131 of 132 SMs at once), but the pack, on P <= 66 programs, moved 256 MB at
# 1.1-2.3 TB/s while the product's first wave waited on it: 4096^3 in 516-590 us where pack
# then product took 484 (cuBLAS 329), 8192^3 3.9-6.9 ms against 3.5. A pack on few programs
# is bound by the loads each keeps in flight; and at M = N = 1024, K = 65536 the product's
# one wave of 128 split tiles takes every SM such a pack would need.
MATMUL_STREAMED_CONFIGS = {
    1: ((128, 256, 32, 8, 8, 3, HOPPER), (128, 128, 32, 8, 8, 3, ()), (64, 128, 32, 8, 4, 4, ()),
        (64, 64, 32, 8, 4, 4, ()), (128, 32, 32, 8, 4, 4, HOPPER)),
    0: ((128, 256, 32, 8, 8, 3, HOPPER), (128, 128, 32, 8, 8, 3, HOPPER), (64, 128, 32, 8, 4, 3, HOPPER),
        (64, 64, 32, 8, 4, 4, ()), (128, 32, 32, 8, 4, 4, HOPPER)),
}
# (XL, aligned) of the streamed variants: general strides; X's rows contiguous (skinny M:
# X = B^T of a row-major B); X's K contiguous (skinny N: X = a row-major A).
# No 8-warp streamed variant reads X through XL 0 or 1 on sm_90: with two warpgroups taking
# the left operand from registers (wgmma), triton 3.6's pipelined loop raced in JIT builds
# of this kernel. On an H200 at 4096^3 ('high', X = B^T read with its rows contiguous),
# 128 x 128 at 3 and 4 stages gave 316-4674 wrong outputs per run (off by up to 2.7e-3 of
# the largest) with the integer rounding, and a 64 x 256 8-warp tile 9645-18457 with
# cvt.rna, different every run, while every 4-warp tile and every XL 2 read was exact run
# after run. The AOT images of these variants, put back for a test, passed
# tests/test_gpu.py's test_matmul_config_large_grid: the race depends on timing and code
# layout, so they are left out rather than trusted. mma.sync (sm_80/86/89/120) has no
# asynchronous register operand and keeps them.
MATMUL_STREAMED_LAYOUTS = ((0, False), (1, False), (1, True), (2, False), (2, True))
MATMUL_GEMV_LAYOUTS = MATMUL_STREAMED_LAYOUTS  # the same X, read in place
# The matrix-vector path (M = 1 or N = 1; _matmul_gemv_kernel): (BLOCK_M, BLOCK_K, warps)
# by which of X's strides is 1, for the tuning table to choose from with a K split. Measured
# on an H200 (JIT, device time with inputs past L2, against cuBLAS in the same run, fp32
# 'highest'): with X's K contiguous (N = 1 of a row-major A, M = 1 of a column-major B),
# 4 x 1024 (8 warps) and 4 x 512 (4 warps) read 3.9-4.2 TB/s, 1.13-1.44x cuBLAS (4096 x 8192
# and 8192 x 8192); bf16 1.10x. With X's rows contiguous (M = 1 of a row-major B) a tile
# must span R across every lane and hold its K steps in registers, summed within the thread
# at the end: 256 x 64 reached 3.4 TB/s (0.86x) with a K split of 4 (bf16: 64 x 64, split
# 8, 0.80x, with N = 1 of a column-major A), the 512 x 8 and 1024 x 8 tiles keep the
# accumulator at 32 values a thread (several programs per SM). The kernel's num_stages
# alone made no difference (Triton pipelines the loads of a loop that feed no dot only
# when the loop asks for it: the STAGES of MATMUL_GEMV_PIPELINED below), and issuing each
# step's loads before the previous step's products by hand made the library slower (H200,
# tuned, device time: bf16 N = 1 of a row-major A 20 -> 26 us, fp32 'high' N = 1 of a
# column-major A 42 -> 90 us; only a JIT prototype of fp32 M = 1 gained), so it is not
# done. General strides take the K-contiguous tiles. The last field: built aligned only. Unaligned, the 64 x 64
# and 256 x 64 tiles (and a 512 x 16 one) load element by element, each through its own
# 64-bit address, and need stack frames (8-528 bytes on sm_89, 40 on sm_90), which the
# 4090 resource check rejects; aligned they take 96-250 registers and none.
MATMUL_GEMV_CONFIGS = {2: ((4, 1024, 8, False), (4, 512, 4, False), (1, 1024, 4, False)),
                       1: ((512, 8, 4, False), (1024, 8, 8, False), (64, 64, 4, True), (256, 64, 8, True))}
# Pipelined fp32 tiles (BLOCK_M, BLOCK_K, warps, STAGES) for X's rows contiguous, aligned only
# (the asynchronous copies move 16-byte pieces). Measured on an H200 (JIT, device time with
# inputs past L2, the best split of each, against torch.mv in the same run): 1 x 4096 x 4096
# 64 x 64 at 3 stages 20.7 us where the best unpipelined tile took 26.2 (torch 18.9); 4096 x
# 8192 35.2 against 44.5 (33.7); 8192 x 8192 63.8 against 77.7 (64.7); 128 x 32 at 3
# stages within 10 % of it. 3 stages of either take 48 KB of shared memory. fp16/bf16
# gained nothing from the same pipelining (64 x 64: 15.7 us unpipelined, 16.8 at 2 and 3
# stages at 1 x 4096 x 4096), so they have none.
MATMUL_GEMV_PIPELINED = {1: ((64, 64, 4, 3), (128, 32, 4, 3))}
# pack tiles by source layout (SRC: 0 general, 1 rows contiguous, 2 columns contiguous): a
# row-major source is read along its rows, a transposed one through a 64 x 64 tile that
# the compiler transposes in shared memory
MATMUL_PACK_TILES = {0: (16, 256), 1: (64, 64), 2: (16, 256)}
# (BLOCK_M, BLOCK_N, STAGES) of the split reduce: a tile of C, and for the gemv path (y as
# 1 x R, unit stride) a row (src/matmul.c, reduce_variant: BLOCK_M 1 or not). Only the row's
# loop is pipelined: a gemv's reduce is a few programs, each otherwise waiting out its
# splits' loads one by one, where C's tiles are many programs (and pipelined, the 16-bit
# ones need an 8-byte stack frame on sm_89). The tile of C comes with C_N1 = 0 (any
# strides) and 1 (row-major C), the row with C_N1 = 1 only (a strided y takes the tile).
MATMUL_REDUCE_TILES = ((32, 128, 1), (1, 1024, 4))
# Layout classes (src/matmul.c's mm_problem.layout), (A_K1, B_N1, aligned) of the direct
# kernel: general strides, then each of A row- or column-major times B row- or
# column-major (C row-major), unaligned and aligned. Classes 0-2 also name the packed
# kernel's C (C_N1 = 0 / 1, aligned) and the streamed kernel's X (XL 0 / not 0, aligned).
MATMUL_ORIENTATIONS = ((1, 1), (1, 2), (2, 1), (2, 2))
MATMUL_LAYOUTS = ((0, 0, False),) + tuple((a, b, al) for a, b in MATMUL_ORIENTATIONS for al in (False, True))
CONSTANTS.update({"MATMUL_KP_ALIGN": KP_ALIGN, "MATMUL_LAYOUT_COUNT": len(MATMUL_LAYOUTS)})


def _family(dtype):
    return "f32" if dtype == "f32" else "16"


def matmul_config(v):
    """How the tuning tables name a matmul variant's config: (path, dtype, precision, tile)
    with path 'direct', 'packed', 'streamed' or 'gemv', precision 1 'high' / 0 'highest' (0 for
    fp16/bf16) and tile (BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, num_warps, num_stages), where a
    gemv tile is (BLOCK_M, 1, BLOCK_K, 1, ...); None for other kernels."""
    if v.kernel is MATMUL:
        path, prec = "direct", v.params[0]
    elif v.kernel is MATMUL_GEMV:
        path, prec = "gemv", v.params[0]
    elif v.kernel is MATMUL_PACKED:
        path, prec = "packed", 1 - v.params[1]  # PROMOTE is 'highest'
    elif v.kernel is MATMUL_STREAMED:
        path, prec = "streamed", v.params[0]
    else:
        return None
    return path, v.dtype, prec if v.dtype == "f32" else 0, tuple(v.params[-4:]) + (v.num_warps, v.num_stages)


def matmul_layout(v):
    """The layout class (MATMUL_LAYOUTS index) a matmul, matmul_packed, matmul_streamed or
    matmul_gemv variant serves (of A, B and C; of C; of X, whose unit stride, XL 1 or 2, the
    runtime picks by the call's strides)."""
    values = dict(zip(v.kernel.params, v.params))
    if v.kernel is MATMUL:
        return MATMUL_LAYOUTS.index((values["A_K1"], values["B_N1"], v.aligned == ALIGNED))
    unit = int(values["XL"] != 0) if v.kernel in (MATMUL_STREAMED, MATMUL_GEMV) else values["C_N1"]
    return MATMUL_LAYOUTS.index((unit, unit, v.aligned == ALIGNED))


def matmul_variants():
    out = []
    for dtype in DTYPES:
        fam = _family(dtype)
        for precision in ((0, 1) if dtype == "f32" else (0,)):
            for a_k1, b_n1, aligned in MATMUL_LAYOUTS:
                for bm, bn, bk, gm, warps, stages, archs in MATMUL_DIRECT_CONFIGS[(fam, precision)]:
                    if (fam, precision, (bm, bn, bk), (a_k1, b_n1, aligned)) in MATMUL_DIRECT_HOPPER_ONLY:
                        archs = HOPPER
                    out.append(Variant(MATMUL, dtype, ALIGNED * aligned, (precision, a_k1, b_n1, int(a_k1 != 0), bm, bn, bk, gm),
                                       warps, stages, archs))
            for unit, _, aligned in MATMUL_LAYOUTS[:3]:  # C's layout class
                for bm, bn, bk, gm, warps, stages, archs in MATMUL_PACKED_CONFIGS[(fam, precision)]:
                    tf32, promote = (1, int(precision == 0)) if dtype == "f32" else (0, 0)
                    out.append(Variant(MATMUL_PACKED, dtype, ALIGNED * aligned, (tf32, promote, unit, bm, bn, bk, gm), warps,
                                       stages, archs))
        if dtype == "f32":
            for precision in (0, 1):
                for xl, aligned in MATMUL_STREAMED_LAYOUTS:
                    for bm, bn, bk, gm, warps, stages, archs in MATMUL_STREAMED_CONFIGS[precision]:
                        if warps == 8 and xl != 2:
                            archs = tuple(a for a in (archs or DEFAULT_ARCHS) if a not in HOPPER)
                            if not archs:
                                continue
                        out.append(Variant(MATMUL_STREAMED, dtype, ALIGNED * aligned, (precision, xl, bm, bn, bk, gm), warps,
                                           stages, archs))
        for precision in ((0, 1) if dtype == "f32" else (0,)):
            for xl, aligned in MATMUL_GEMV_LAYOUTS:
                tiles = [(bm, bk, warps, 1) for bm, bk, warps, aligned_only in MATMUL_GEMV_CONFIGS[1 if xl == 1 else 2]
                         if aligned or not aligned_only]
                if dtype == "f32" and aligned:
                    tiles += MATMUL_GEMV_PIPELINED.get(xl, ())
                for bm, bk, warps, stages in tiles:  # V1 (v's unit stride) comes with the alignment
                    out.append(Variant(MATMUL_GEMV, dtype, ALIGNED * aligned, (precision, xl, int(aligned), stages, bm, 1, bk, 1),
                                       warps, stages))
        for mode in ((1, 2, 3, 4) if dtype == "f32" else (0,)):
            for src, (br, bc) in MATMUL_PACK_TILES.items():
                out.append(Variant(MATMUL_PACK, dtype, ALIGNED, (mode, src, br, bc), 4))
        for bm, bn, stages in MATMUL_REDUCE_TILES:
            for c_n1 in ((1,) if bm == 1 else (0, 1)):
                out.append(Variant(MATMUL_REDUCE, dtype, 0, (c_n1, bm, bn, stages), 4, stages))
    return out


def variants():
    out = []
    for dtype in DTYPES:
        for aligned in TRIPLET_ALIGN_CLASSES[dtype]:
            for p_mode in (0, 1, 2, 3):
                for rows, block_d, warps, stages in triplet_row_configs(p_mode, aligned):
                    out.append(Variant(TRIPLET_FWD, dtype, aligned, (p_mode, rows, block_d, stages), warps, stages,
                                       plain=(rows, block_d, warps, stages) == TRIPLET_NARROW_CONFIG))
                vec = max(aligned // DTYPE_BYTES[dtype], 1)
                for k, (_, lanes, rows, block_d, warps) in enumerate(TRIPLET_LANES_CONFIGS):
                    if aligned == ALIGNED or (not aligned and k and
                                              TRIPLET_LANES_CONFIGS[k - 1][0] >= TRIPLET_LANES_NO_CLASS_MAX_BYTES):
                        continue  # 16-byte rows, and rows of no class this long, take row tiles
                    archs = HOPPER if (dtype, aligned, p_mode, rows) in TRIPLET_LANES_HOPPER_ONLY else ()
                    out.append(Variant(TRIPLET_FWD_LANES, dtype, aligned, (p_mode, rows, block_d, lanes, vec), warps,
                                       archs=archs))
                for rows, block_d, warps in triplet_bwd_configs(p_mode, aligned):
                    out.append(Variant(TRIPLET_BWD, dtype, aligned, (p_mode, rows, block_d), warps))
                if aligned == ALIGNED:
                    for block, warps in TRIPLET_BWD_FLAT_CONFIGS:
                        out.append(Variant(TRIPLET_BWD_FLAT, dtype, ALIGNED, (p_mode, block), warps))
                if not aligned:
                    for rows, block_s in TRIPLET_FINISH_CONFIGS:
                        out.append(Variant(TRIPLET_FINISH, dtype, 0, (p_mode, rows, block_s), 8))
        # the reduce: 16 warps issue 8 loads of 2048 partials each per step (the 32768
        # partials of (32768, 8192) in 2 steps: 2.9 us per call on an H200, where one load
        # of 1024 per step took 6.0). Not used, measured: one launch, where the last program
        # to finish (counted by an atomic add) sums the partials in the same fixed order (H200,
        # JIT prototype of the row forward, 'mean', device time; none / partials + a reduce
        # launch / last program with a counter zeroed beforehand / last program with a
        # counter tagged per call, so that no zeroing is needed, us): fp32 256 x 128 (64
        # programs) 2.63 / 4.74 / 3.38 / 6.31, 1024 x 256 (256) 4.12 / 6.51 / 4.89 / 8.05,
        # 4096 x 512 (4096) 8.81 / 11.73 / 11.93 / 21.96, bf16 65536 x 64 (2048) 9.01 /
        # 11.77 / 10.28 / 22.17. The zeroed counter saves 0.7-1.5 us up to ~2000 programs and
        # nothing at 4096 (its adds to one address queue up), but needs every caller's
        # workspace zeroed before its first use; the tagged counter, which recognizes a stale
        # value and re-arms it by compare-and-swap, lost everywhere. The reduce launch (with
        # PDL) stays. Re-measured at (256, 128) with the zeroed counter and fewer, wider
        # programs (H200, 2026-11-22, JIT, 4-64 programs of 2-8 warps; then the flat backward):
        # best forward 2.51 us fp32 / 2.38 bf16, forward+backward 4.07 / 3.95, where the
        # library took 2.98 / 3.07 and 4.84 / 4.81 and the floor bar was 1.55 / 3.10: even
        # with memory zeroed for it, one launch does not bring these rows to the bar.
        out.append(Variant(TRIPLET_REDUCE, dtype, 0, (2048, 8), 16))
        rows, block_d = TRIPLET_SINGLE_TILE
        warps = TRIPLET_SINGLE_WARPS[dtype]
        for aligned in TRIPLET_ALIGN_CLASSES[dtype]:
            for swap in (0, 1):
                for save in (0, 1):
                    out.append(Variant(TRIPLET_SINGLE, dtype, aligned, (rows, block_d, swap, save), warps))
    out += matmul_variants()
    # grouped by kernel, so that the runtime searches one kernel's range
    order = {k.name: i for i, k in enumerate(KERNELS)}
    return sorted(out, key=lambda v: order[v.kernel.name])
