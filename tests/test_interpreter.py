"""Math checks of the Triton kernels through the Triton interpreter (CPU, no GPU needed).

Every kernel launched here is the same @triton.jit source the AOT step compiles
(python/tritium/kernels/*.py); under TRITON_INTERPRET=1 Triton runs it on CPU, with numpy,
on torch CPU tensors. Results are compared against fp64 torch references.

Conventions of every test:
  * outputs are poisoned with NaN before each launch, and every element the kernel owns
    must have been written (no NaN left where the reference has none); where a padded
    or strided buffer holds the view, the bytes outside the view must stay untouched;
  * inputs are fresh seeded random values, and padding around strided inputs is NaN, so a
    kernel that reads outside its view gets NaN into its result;
  * bounds are relative errors per dtype and are tight enough to fail on a wrong formula.
"""
import math
import os
import re
import sys
from pathlib import Path

# The interpreter must be selected before triton (and any @triton.jit module) is imported.
os.environ["TRITON_INTERPRET"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "aot"))

import pytest  # noqa: E402

np = pytest.importorskip("numpy")
# numpy 2.4 no longer converts 1-element arrays to Python scalars implicitly; Triton's
# interpreter relies on that (tensor.__index__ -> int(ndarray)) and raises
# "TypeError: only 0-dimensional arrays can be converted to Python scalars"
# (triton-lang/triton#9171), so the kernels cannot run there at all.
if tuple(int(v) for v in re.findall(r"\d+", np.__version__)[:2]) >= (2, 4):
    pytest.skip(f"Triton's interpreter is broken with numpy {np.__version__} (>= 2.4)",
                allow_module_level=True)
torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from grad_checks import check_grads  # noqa: E402
from tf32_ref import tf32_round_bits  # noqa: E402
import manifest  # noqa: E402  (aot/manifest.py: the shipped tile constants)

from tritium.kernels.matmul import (_matmul_gemv_kernel, _matmul_kernel, _matmul_pack_kernel,  # noqa: E402
                                    _matmul_packed_kernel, _matmul_reduce_kernel, _matmul_streamed_kernel,
                                    _round_to_tf32)
from tritium.kernels.triplet import (  # noqa: E402
    P_GENERAL, P_INF, P_ONE, P_TWO, PARTIAL_W, SAVED_W, SAVED_W_INF, _triplet_bwd_flat_kernel,
    _triplet_bwd_kernel, _triplet_finish_kernel, _triplet_fwd_kernel, _triplet_fwd_lanes_kernel,
    _triplet_reduce_kernel, _triplet_single_kernel)

try:
    from triton.runtime.interpreter import InterpretedFunction
except ImportError:  # pragma: no cover - layout of other Triton versions
    InterpretedFunction = None
if InterpretedFunction is not None and not isinstance(_matmul_kernel, InterpretedFunction):
    # The kernel modules were imported earlier in this process without TRITON_INTERPRET:
    # launching them would need a GPU and would not test what this file means to test.
    pytest.skip("tritium kernels were imported before TRITON_INTERPRET=1 was set",
                allow_module_level=True)

# Expected noise from the interpreter itself: numpy's deprecation of the array->scalar
# conversion the interpreter does (the one that breaks in 2.4, see above), log(0) in the
# general-p norm (exp2(p * -inf) = 0 is intended, and tl.where evaluates both branches),
# 1/d of a zero distance (the gradient scale; the other branch is taken), and 0/0 for the
# mean of no rows.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Conversion of an array with ndim > 0:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:divide by zero encountered in divide:RuntimeWarning"),
]

# NOTE: no numpy arrays at module level: the interpreter scans the globals of every
# kernel's module with `value in [tl, tl.core]`, which raises on arrays.

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# relative error bounds per input/output dtype
TOL = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}

# triplet launch config: small tiles keep the interpreter fast and exercise the D loop,
# the row tail and the chunked reduce (BLOCK=4 < number of partials)
ROWS = 4
BLOCK_D = 16
RED_BLOCK = 4
RED_UNROLL = 2  # the reduce takes RED_BLOCK * RED_UNROLL partials per step


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _randn(shape, dtype, seed, scale=1.0):
    x = torch.randn(*shape, generator=_gen(seed), dtype=torch.float64) * scale
    return x.to(dtype)


def _padded_rows(n, d, pad, dtype, seed):
    """(n, d) view with row stride d + pad into a NaN-filled buffer (NaN padding)."""
    buf = torch.full((n, d + pad), float("nan"), dtype=dtype)
    view = buf[:, :d]
    view.copy_(_randn((n, d), dtype, seed))
    return view


# --------------------------------------------------------------------------------------
# triplet margin loss
# --------------------------------------------------------------------------------------

# p -> P_MODE: 2 and 1 have their own specializations, 3 and 0.5 take the general path
# (0.5 < 1: not a norm, but torch computes it the same way), inf takes the max path
P_CASES = {"p2": 2.0, "p1": 1.0, "p3": 3.0, "p0.5": 0.5, "pinf": math.inf}


def _mode_args(p):
    """(P_MODE, norm_p, inv_p) as the host passes them."""
    if p == math.inf:
        return P_INF, math.inf, 0.0
    mode = {1.0: P_ONE, 2.0: P_TWO}.get(p, P_GENERAL)
    return mode, p, 1.0 / p


def _split_plan(D, splits, block_d):
    """(grid splits, chunk) as the C runtime cuts rows: whole BLOCK_D chunks per split."""
    if splits <= 1 or D == 0:
        return 1, D
    chunk = triton.cdiv(triton.cdiv(D, splits), block_d) * block_d
    return triton.cdiv(D, chunk), chunk


def triplet_launch(a, p, n, *, margin, pnorm, swap, reduction, eps=1e-6, rows=ROWS, block_d=BLOCK_D,
                   red_block=RED_BLOCK, splits=1, poison=float("nan"), with_saved=False, lanes=None):
    """Run the forward kernels as the C runtime does; returns the output tensor (input
    dtype), and the saved rows for the backward when `with_saved`. splits > 1 takes the
    split path (one row per program, D cut into ranges, finished by the finish kernel);
    lanes = (LANES, VEC) takes the lanes forward (rows programs of `rows` rows)."""
    N, D = a.shape
    for t in (p, n):
        assert t.shape == a.shape and t.dtype == a.dtype
    for t in (a, p, n):
        assert D <= 1 or t.stride(1) == 1, "kernel takes a row stride only"
    P_MODE, norm_p, inv_p = _mode_args(pnorm)
    reduce = 0 if reduction == "none" else 1
    divisor = float(N) if reduction == "mean" else 1.0
    out = torch.full((N,) if reduction == "none" else (1,), poison, dtype=a.dtype)
    saved = torch.full((N, int(SAVED_W_INF if P_MODE == P_INF else SAVED_W)), float("nan"), dtype=torch.float32)
    save = 1 if with_saved else 0
    S, chunk = _split_plan(D, splits, block_d)
    strides = (a.stride(0), p.stride(0), n.stride(0))
    if S > 1:
        partial = torch.full((N * S * int(PARTIAL_W),), float("nan"), dtype=torch.float32)
        _triplet_fwd_kernel[(N, S)](
            a, p, n, out, partial, saved, N, D, chunk, *strides, float(margin), float(norm_p), float(inv_p),
            float(eps), divisor, int(swap), 0, 0, 1, P_MODE=P_MODE, ROWS=1, BLOCK_D=block_d, STAGES=1)
        _triplet_finish_kernel[(1,)](
            partial, out, saved, N, S, float(margin), float(norm_p), float(inv_p), divisor, int(swap), reduce,
            save, P_MODE=P_MODE, ROWS=rows, BLOCK_S=triton.next_power_of_2(S))
    else:
        programs = triton.cdiv(N, rows)
        partial = torch.full((max(programs, 1),), float("nan"), dtype=torch.float32)
        args = (a, p, n, out, partial, saved, N, D, D, *strides, float(margin), float(norm_p), float(inv_p),
                float(eps), divisor, int(swap), reduce, save, 0)
        if programs > 0 and lanes:
            _triplet_fwd_lanes_kernel[(programs, 1)](*args, P_MODE=P_MODE, ROWS=rows, BLOCK_D=block_d,
                                                     LANES=lanes[0], VEC=lanes[1])
        elif programs > 0:
            _triplet_fwd_kernel[(programs, 1)](*args, P_MODE=P_MODE, ROWS=rows, BLOCK_D=block_d, STAGES=1)
        if reduce and programs == 1:  # one program wrote the final value itself: no reduce launch
            assert torch.isnan(partial).all(), "a one-program grid wrote a partial"
        elif reduce:
            if programs > 0:
                assert not torch.isnan(partial).any(), f"unwritten partial sums: {partial}"
            _triplet_reduce_kernel[(1,)](partial, out, programs, divisor, BLOCK=red_block, UNROLL=RED_UNROLL)
    if reduce:
        out = out[0]
    if with_saved:
        assert not torch.isnan(saved).any(), f"unwritten saved rows: {saved}"
        return out, saved
    return out


def triplet_backward_launch(a, p, n, saved, grad_out, *, pnorm, swap, reduction, eps=1e-6, rows=ROWS,
                            block_d=BLOCK_D, splits=1, grads=None, write=(1, 1, 1), flat=0):
    """Run the backward kernel as the C runtime does; returns the three gradient tensors
    (NaN-poisoned before the launch, or the given `grads` buffers). flat: the flat kernel's
    BLOCK (contiguous rows), 0 for the row kernel."""
    N, D = a.shape
    P_MODE, norm_p, _ = _mode_args(pnorm)
    if grads is None:
        grads = [torch.full((N, D), float("nan"), dtype=a.dtype) for _ in range(3)]
    if flat:
        assert all(t.is_contiguous() for t in (a, p, n, *grads))
        _triplet_bwd_flat_kernel[(triton.cdiv(N * D, flat),)](
            a, p, n, grad_out, saved, *grads, N * D, D, grad_out.stride(0) if grad_out.dim() else 0, float(eps),
            float(norm_p), float(N) if reduction == "mean" else 1.0, int(swap), *write, P_MODE=P_MODE, BLOCK=flat)
        return grads
    S, chunk = _split_plan(D, splits, block_d)
    _triplet_bwd_kernel[(triton.cdiv(N, rows) * S,)](
        a, p, n, grad_out, saved, *grads, N, D, chunk, a.stride(0), p.stride(0), n.stride(0),
        grad_out.stride(0) if grad_out.dim() else 0, *(g.stride(0) for g in grads), float(eps), float(norm_p),
        float(N) if reduction == "mean" else 1.0, int(swap), *write,
        P_MODE=P_MODE, ROWS=rows, BLOCK_D=block_d)
    return grads


def triplet_reference(a, p, n, *, margin, pnorm, swap, reduction, eps=1e-6):
    """fp64 reference: (loss, scale), scale bounding the magnitude of the terms whose
    difference is the loss (d_ap + d_neg + margin per row, reduced like the loss)."""
    a64, p64, n64 = a.double(), p.double(), n.double()
    N, D = a.shape
    if D == 0:  # torch refuses the inf norm of an empty row; the norm of nothing is 0
        d_ap = d_neg = torch.zeros(N, dtype=torch.float64)
        rows = torch.full((N,), float(margin), dtype=torch.float64)
    else:
        rows = F.triplet_margin_loss(a64, p64, n64, margin=margin, p=pnorm, eps=eps,
                                     swap=swap, reduction="none")
        d_ap = F.pairwise_distance(a64, p64, p=pnorm, eps=eps)
        d_neg = F.pairwise_distance(a64, n64, p=pnorm, eps=eps)
        if swap:
            d_neg = torch.minimum(d_neg, F.pairwise_distance(p64, n64, p=pnorm, eps=eps))
        # the reference itself must agree with the documented math
        own = torch.clamp(d_ap - d_neg + margin, min=0.0)
        assert torch.allclose(rows, own, rtol=1e-12, atol=1e-12)
    scale = d_ap + d_neg + abs(margin)
    if reduction == "none":
        return rows, scale
    if reduction == "sum":
        return rows.sum(), scale.sum()
    return rows.mean(), scale.mean()


# The kernel accumulates in fp32 whatever the dtype: besides the rounding of the output
# (TOL, relative to the value), each row may be off by a few fp32 ulps of the distances
# that the hinge subtracts (the scale), which matters where the loss is near 0.
FP32_COMPUTE_TOL = 2e-6


def check_triplet(got, ref, scale, dtype):
    tol = TOL[dtype]
    got64 = got.double()
    if ref.dim() == 0:
        if math.isnan(ref.item()):
            assert math.isnan(got64.item()), f"expected NaN, got {got64.item()}"
            return
        assert not math.isnan(got64.item()), "reduced output was not written (NaN poison)"
        err = abs(got64.item() - ref.item())
        bound = tol * abs(ref.item()) + FP32_COMPUTE_TOL * scale.item()
        assert err <= bound, (
            f"got {got64.item()!r}, ref {ref.item()!r}, err {err:.3g} > {bound:.3g}")
        return
    assert got.shape == ref.shape
    nan_left = torch.isnan(got64) & ~torch.isnan(ref)
    assert not nan_left.any(), f"rows not written: {nan_left.nonzero().flatten().tolist()}"
    # elementwise allclose, rtol = TOL[dtype], atol = FP32_COMPUTE_TOL * scale per row
    bound = tol * ref.abs() + FP32_COMPUTE_TOL * scale
    err = (got64 - ref).abs()
    bad = err > bound
    assert not bad.any(), (
        f"rows {bad.nonzero().flatten().tolist()}: got {got64[bad].tolist()}, "
        f"ref {ref[bad].tolist()}")
    if ref.norm() > 0:
        rel = ((got64 - ref).norm() / ref.norm()).item()
        assert rel <= tol, f"relative error {rel:.3g} > {tol}"


def _triplet_inputs(N, D, dtype, seed):
    return tuple(_randn((N, D), dtype, seed + i) for i in range(3))


# (ROWS, BLOCK_D, LANES, VEC) of the lanes forward: one lane a row and vectors of one element;
# 4 lanes a row, 2-element vectors and 2 of them a lane (8 x 2 = 16 columns a step); a row
# over 8 lanes, 4-element vectors, 16 rows (of which 13 are real)
LANES_TILES = [(4, 4, 1, 1), (4, 16, 4, 2), (16, 32, 8, 4)]


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("swap", [False, True], ids=["noswap", "swap"])
@pytest.mark.parametrize("pcase", list(P_CASES))
@pytest.mark.parametrize("tile", [None] + LANES_TILES, ids=["rows"] + [f"lanes{t[2]}x{t[3]}" for t in LANES_TILES])
def test_triplet_forward_matches_torch(tile, pcase, swap, reduction, dtype):
    pnorm = P_CASES[pcase]
    dt = DTYPES[dtype]
    seed = 1000 + 17 * list(P_CASES).index(pcase) + 5 * swap + 100 * (tile is not None)
    seed += ["none", "mean", "sum"].index(reduction)
    # N = 13: 4 programs of ROWS=4, last one with a row tail (the lanes tiles: a row tail in
    # each); D = 37: 3 chunks, a tail (40 for the lanes tiles of vectors: tails, several steps)
    kw = dict(margin=1.0, pnorm=pnorm, swap=swap, reduction=reduction)
    a, p, n = _triplet_inputs(13, 40 if tile and tile[3] > 1 else 37, dt, seed)
    launch = {} if tile is None else dict(rows=tile[0], block_d=tile[1], lanes=tile[2:])
    got = triplet_launch(a, p, n, **launch, **kw)
    ref, scale = triplet_reference(a, p, n, **kw)
    check_triplet(got, ref, scale, dt)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("pcase", list(P_CASES))
@pytest.mark.parametrize("N,D,margin", [
    (1, 1, 1.0),      # singleton
    (1, 37, 0.3),     # one row, tails in D
    (9, 1, 0.3),      # one column, row tail
    (8, 32, 1.0),     # exact multiples of ROWS and BLOCK_D
    (5, 16, 0.3),     # one exact chunk
    (7, 37, 1.0),     # tails everywhere
    (3, 5, 0.3),      # D < BLOCK_D
], ids=lambda v: str(v))
def test_triplet_forward_shapes(N, D, margin, pcase, reduction):
    pnorm = P_CASES[pcase]
    a, p, n = _triplet_inputs(N, D, torch.float32, 31 * N + D)
    for swap in (False, True):
        kw = dict(margin=margin, pnorm=pnorm, swap=swap, reduction=reduction)
        got = triplet_launch(a, p, n, **kw)
        ref, scale = triplet_reference(a, p, n, **kw)
        check_triplet(got, ref, scale, torch.float32)


@pytest.mark.parametrize("pcase", list(P_CASES))
@pytest.mark.parametrize("eps", [0.25, -0.5])
def test_triplet_forward_eps_added_to_difference(pcase, eps):
    # a large eps makes its treatment visible: it is added to every real element of the
    # difference (as torch.pairwise_distance does) and to none of the masked tail lanes
    pnorm = P_CASES[pcase]
    a, p, n = _triplet_inputs(6, 21, torch.float32, 77)
    for swap in (False, True):
        for reduction in ("none", "sum"):
            kw = dict(margin=1.0, pnorm=pnorm, swap=swap, reduction=reduction, eps=eps)
            got = triplet_launch(a, p, n, **kw)
            ref, scale = triplet_reference(a, p, n, **kw)
            check_triplet(got, ref, scale, torch.float32)


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("pcase", list(P_CASES))
def test_triplet_forward_zero_dim(pcase, reduction, dtype):
    # D = 0: every distance is 0, so every row's loss is the margin
    dt = DTYPES[dtype]
    N = 6
    a = p = n = torch.empty((N, 0), dtype=dt)
    for swap in (False, True):
        kw = dict(margin=0.3, pnorm=P_CASES[pcase], swap=swap, reduction=reduction)
        got = triplet_launch(a, p, n, **kw)
        ref, scale = triplet_reference(a, p, n, **kw)
        expect = {"none": torch.full((N,), 0.3, dtype=torch.float64),
                  "mean": torch.tensor(0.3, dtype=torch.float64),
                  "sum": torch.tensor(0.3 * N, dtype=torch.float64)}[reduction]
        assert torch.allclose(ref, expect)
        check_triplet(got, ref, scale, dt)


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_triplet_forward_empty_batch(reduction, dtype):
    # N = 0: the row kernel has an empty grid and is not launched; the reduce kernel runs
    # with count = 0: mean = 0/0 = NaN, sum = 0
    dt = DTYPES[dtype]
    a = p = n = torch.empty((0, 5), dtype=dt)
    kw = dict(margin=1.0, pnorm=2.0, swap=False, reduction=reduction)
    ref, _ = triplet_reference(a, p, n, **kw)
    if reduction == "none":
        got = triplet_launch(a, p, n, **kw)
        assert got.shape == (0,)
        return
    for poison in (float("nan"), 123.0):  # a non-NaN poison shows the NaN mean is written
        got = triplet_launch(a, p, n, poison=poison, **kw)
        if reduction == "mean":
            assert math.isnan(ref.item())
            assert math.isnan(got.item()), f"mean of no rows: expected NaN, got {got.item()}"
        else:
            assert ref.item() == 0.0
            assert got.item() == 0.0, f"sum of no rows: expected 0, got {got.item()}"


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
@pytest.mark.parametrize("pcase", list(P_CASES))
def test_triplet_forward_strided_rows(pcase, dtype):
    # rows with a stride larger than D, a different one per input, NaN in the padding
    dt = DTYPES[dtype]
    N, D = 9, 23
    a = _padded_rows(N, D, 13, dt, 501)
    p = _padded_rows(N, D, 1, dt, 502)
    n = _padded_rows(N, D, 41, dt, 503)
    assert (a.stride(0), p.stride(0), n.stride(0)) == (36, 24, 64)
    for swap in (False, True):
        for reduction in ("none", "mean", "sum"):
            kw = dict(margin=1.0, pnorm=P_CASES[pcase], swap=swap, reduction=reduction)
            got = triplet_launch(a, p, n, **kw)
            ref, scale = triplet_reference(a, p, n, **kw)
            check_triplet(got, ref, scale, dt)


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
def test_triplet_forward_mean_is_sum_over_n(dtype):
    dt = DTYPES[dtype]
    N = 29
    a, p, n = _triplet_inputs(N, 19, dt, 901)
    for pcase in ("p2", "p0.5"):
        kw = dict(margin=0.3, pnorm=P_CASES[pcase], swap=True)
        s = triplet_launch(a, p, n, reduction="sum", **kw)
        m = triplet_launch(a, p, n, reduction="mean", **kw)
        if dt == torch.float32:
            # both are the same fp32 total, once divided by 1 and once by N
            assert m.item() == (s / torch.tensor(float(N), dtype=torch.float32)).item()
        else:
            # each is rounded once to the output dtype
            ulp = torch.finfo(dt).eps
            assert abs(m.double().item() - s.double().item() / N) <= 2 * ulp * abs(m.item())


def test_triplet_forward_deterministic():
    # many partials (N = 61 -> 16 programs; two steps of RED_BLOCK * RED_UNROLL = 8 in the
    # reduce): the mean is the same bits run after run
    a, p, n = _triplet_inputs(61, 45, torch.float32, 4242)
    for pcase in ("p2", "p3"):
        kw = dict(margin=1.0, pnorm=P_CASES[pcase], swap=True, reduction="mean")
        runs = [triplet_launch(a, p, n, **kw) for _ in range(4)]
        bits = {r.view(torch.int32).item() for r in runs}
        assert len(bits) == 1, f"mean differs between runs: {[r.item() for r in runs]}"
        ref, scale = triplet_reference(a, p, n, **kw)
        check_triplet(runs[0], ref, scale, torch.float32)


@pytest.mark.parametrize("rows,block_d,red_block", [(1, 16, 1), (16, 32, 1024), (2, 64, 2)])
def test_triplet_forward_other_tiles(rows, block_d, red_block):
    # the math must not depend on the tile shape the runtime picks
    a, p, n = _triplet_inputs(19, 70, torch.float32, 7 * rows + block_d)
    for pcase in P_CASES:
        for reduction in ("none", "mean"):
            kw = dict(margin=1.0, pnorm=P_CASES[pcase], swap=True, reduction=reduction)
            got = triplet_launch(a, p, n, rows=rows, block_d=block_d, red_block=red_block, **kw)
            ref, scale = triplet_reference(a, p, n, **kw)
            check_triplet(got, ref, scale, torch.float32)


# (ROWS, BLOCK_D) of the one-program kernel: the shipped tile, and a small one whose rows and
# columns the inputs below fill exactly
SINGLE_TILES = [manifest.TRIPLET_SINGLE_TILE[:2], (16, 64)]


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
@pytest.mark.parametrize("save", [False, True], ids=["nosave", "save"])
@pytest.mark.parametrize("swap", [False, True], ids=["noswap", "swap"])
@pytest.mark.parametrize("tile", SINGLE_TILES, ids=[f"{r}x{b}" for r, b in SINGLE_TILES])
def test_triplet_single_kernel(tile, swap, save, dtype):
    # _triplet_single_kernel (p = 2, the one-program mean and sum): against fp64 torch, with a
    # full tile, row and column tails, a singleton and strided rows whose NaN padding would
    # poison a read past D; its saved rows are the row kernel's (the backward reads them)
    rows, block_d = tile
    dt = DTYPES[dtype]
    shapes = [(rows, block_d, 0), (rows - 3, block_d - 5, 0), (1, 1, 0), (rows // 2 + 1, block_d // 2 + 3, 7)]
    for k, (N, D, pad) in enumerate(shapes):
        seed = 9000 + 31 * k + 7 * swap + 3 * save + 100 * list(DTYPES).index(dtype) + rows
        if pad:
            a, p, n = (_padded_rows(N, D, pad, dt, seed + i) for i in range(3))
        else:
            a, p, n = _triplet_inputs(N, D, dt, seed)
        margin = 0.5 + k / 4
        for reduction in ("mean", "sum"):
            out = torch.full((1,), float("nan"), dtype=dt)
            saved = torch.full((N + 2, int(SAVED_W)), float("nan"), dtype=torch.float32)
            _triplet_single_kernel[(1,)](
                a, p, n, out, saved, N, D, a.stride(0), p.stride(0), n.stride(0), margin, 1e-6,
                float(N) if reduction == "mean" else 1.0, ROWS=rows, BLOCK_D=block_d, SWAP=int(swap), SAVE=int(save))
            kw = dict(margin=margin, pnorm=2.0, swap=swap, reduction=reduction)
            ref, scale = triplet_reference(a, p, n, **kw)
            check_triplet(out[0], ref, scale, dt)
            assert torch.isnan(saved[N:]).all(), "saved rows past N were written"
            if save:
                _, want = triplet_launch(a, p, n, with_saved=True, **kw)
                torch.testing.assert_close(saved[:N], want, rtol=1e-5, atol=1e-6)
            else:
                assert torch.isnan(saved).all(), "saved rows written without SAVE"
        runs = set()
        for _ in range(3):  # the same bits run after run
            _triplet_single_kernel[(1,)](a, p, n, out, saved, N, D, a.stride(0), p.stride(0), n.stride(0), 1.0,
                                         1e-6, float(N), ROWS=rows, BLOCK_D=block_d, SWAP=int(swap), SAVE=0)
            runs.add(out.view(torch.int16 if dt != torch.float32 else torch.int32).item())
        assert len(runs) == 1


@pytest.mark.parametrize("splits", [2, 3, 7])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("pcase", list(P_CASES))
def test_triplet_forward_split_path(pcase, reduction, splits):
    # few long rows: D cut into ranges (the last one short), combined by the finish kernel
    a, p, n = _triplet_inputs(5, 101, torch.float32, 300 + splits)
    kw = dict(margin=1.0, pnorm=P_CASES[pcase], swap=True, reduction=reduction)
    got = triplet_launch(a, p, n, splits=splits, **kw)
    ref, scale = triplet_reference(a, p, n, **kw)
    check_triplet(got, ref, scale, torch.float32)


# ---- backward ------------------------------------------------------------------------

# gradient bounds per dtype: relative to the element, plus fp32 compute noise relative to
# the largest gradient element of the row
GRAD_TOL = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}


def triplet_grad_reference(a, p, n, grad_out, *, margin, pnorm, swap, reduction, eps=1e-6):
    """PyTorch's autograd in fp64 on the same inputs: (grad_a, grad_p, grad_n)."""
    leaves = [t.double().requires_grad_() for t in (a, p, n)]
    loss = F.triplet_margin_loss(*leaves, margin=margin, p=pnorm, eps=eps, swap=swap, reduction=reduction)
    loss.backward(grad_out.double().reshape(loss.shape))
    return [t.grad for t in leaves]


def _grad_out(reduction, N, dtype, seed):
    if reduction == "none":
        return _randn((N,), dtype, seed)
    return (_randn((1,), dtype, seed).double() + 2.0).to(dtype).reshape(())  # a scalar away from 0


def _tied_inputs(N, D, dtype, seed):
    """Inputs with a swap tie in row 3 (d(a, n) == d(p, n) exactly: each side gets half) and,
    in row 7, d(p, n) the smaller one (swap) at eps-size."""
    a, p, n = _triplet_inputs(N, D, dtype, seed)
    p[3] = a[3]
    n[7] = p[7]
    return a, p, n


def _backward_case(a, p, n, *, dtype, reduction, seed, splits=1, flat=0, **kw):
    N = a.shape[0]
    _, saved = triplet_launch(a, p, n, reduction=reduction, with_saved=True, splits=splits, **kw)
    g = _grad_out(reduction, N, dtype, seed)
    got = triplet_backward_launch(a, p, n, saved, g, reduction=reduction, splits=splits, flat=flat,
                                  **{k: v for k, v in kw.items() if k not in ("margin", "lanes")})
    ref = triplet_grad_reference(a, p, n, g, reduction=reduction,
                                 **{k: v for k, v in kw.items() if k not in ("rows", "block_d", "lanes")})
    check_grads(got, ref, dtype, GRAD_TOL[dtype])


@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("swap", [False, True], ids=["noswap", "swap"])
@pytest.mark.parametrize("pcase", list(P_CASES))
def test_triplet_backward_matches_autograd(pcase, swap, reduction, dtype):
    dt = DTYPES[dtype]
    seed = 5000 + 17 * list(P_CASES).index(pcase) + 5 * swap + ["none", "mean", "sum"].index(reduction)
    a, p, n = _tied_inputs(13, 37, dt, seed)
    _backward_case(a, p, n, dtype=dt, reduction=reduction, seed=seed, margin=1.0, pnorm=P_CASES[pcase], swap=swap)


@pytest.mark.parametrize("path", ["flat", "flat_narrow", "lanes"])
@pytest.mark.parametrize("dtype", list(DTYPES), ids=list(DTYPES))
@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("swap", [False, True], ids=["noswap", "swap"])
@pytest.mark.parametrize("pcase", list(P_CASES))
def test_triplet_backward_other_paths(pcase, swap, reduction, dtype, path):
    """flat: the flat kernel over 12 x 42 = 504 elements in blocks of 128 (rows straddle
    blocks and 16-byte vectors, the last block is partial); flat_narrow: rows narrower than
    a vector (24 x 3), whose elements take their rows by division; lanes: the saved rows as
    the lanes forward writes them (the row forward's, up to the order of its sums), into the
    row backward."""
    dt = DTYPES[dtype]
    seed = 7000 + 17 * list(P_CASES).index(pcase) + 5 * swap + ["none", "mean"].index(reduction)
    a, p, n = _tied_inputs(*{"flat_narrow": (24, 3), "flat": (12, 42), "lanes": (13, 40)}[path], dt, seed)
    kw = dict(margin=1.0, pnorm=P_CASES[pcase], swap=swap)
    if path.startswith("flat"):
        _backward_case(a, p, n, dtype=dt, reduction=reduction, seed=seed, flat=128 if path == "flat" else 32, **kw)
        return
    rows, block_d, lanes, vec = LANES_TILES[1]
    tile = dict(rows=rows, block_d=block_d, lanes=(lanes, vec))
    _, saved = triplet_launch(a, p, n, reduction=reduction, with_saved=True, **tile, **kw)
    _, ref_saved = triplet_launch(a, p, n, reduction=reduction, with_saved=True, **kw)
    torch.testing.assert_close(saved, ref_saved, rtol=1e-5, atol=1e-6)
    _backward_case(a, p, n, dtype=dt, reduction=reduction, seed=seed, **tile, **kw)


def test_triplet_backward_flat_skips_unwanted_gradients():
    a, p, n = _triplet_inputs(9, 20, torch.float32, 62)
    _, saved = triplet_launch(a, p, n, margin=1.0, pnorm=2.0, swap=True, reduction="none", with_saved=True)
    g = _randn((9,), torch.float32, 5)
    got = triplet_backward_launch(a, p, n, saved, g, pnorm=2.0, swap=True, reduction="none", write=(1, 0, 1), flat=64)
    assert torch.isnan(got[1]).all()
    ref = triplet_grad_reference(a, p, n, g, margin=1.0, pnorm=2.0, swap=True, reduction="none")
    check_grads([got[0], got[2]], [ref[0], ref[2]], torch.float32, GRAD_TOL[torch.float32], names=("anchor", "negative"))


@pytest.mark.parametrize("pcase", list(P_CASES))
def test_triplet_backward_zero_distances_ties_and_hinge_corner(pcase):
    # integer-valued inputs with eps = 0: exact zero distances, many ties of |v| for p = inf,
    # and rows sitting exactly on the hinge's corner (margin + d_ap - d_neg == 0)
    g = _gen(77)
    a, p, n = (torch.randint(-2, 3, (12, 6), generator=g).float() for _ in range(3))
    p[0] = a[0]                 # d(a, p) = 0
    n[1] = a[1]                 # d(a, n) = 0
    p[2] = a[2]; n[2] = a[2]    # everything 0
    p[3] = a[3]                 # swap tie
    a[4] = torch.tensor([0., 0, 0, 0, 0, 0]); p[4] = torch.tensor([1., 0, 0, 0, 0, 0])
    n[4] = torch.tensor([3., 0, 0, 0, 0, 0])   # corner: 2 + 1 - 3 = 0 for every p
    for swap in (False, True):
        for reduction in ("none", "sum"):
            _backward_case(a, p, n, dtype=torch.float32, reduction=reduction, seed=9, margin=2.0,
                           pnorm=P_CASES[pcase], swap=swap, eps=0.0)


@pytest.mark.parametrize("splits", [1, 3])
@pytest.mark.parametrize("pcase", list(P_CASES))
def test_triplet_backward_split_and_strides(pcase, splits):
    # padded rows in and out, a strided upstream gradient, and the split grid
    dt = torch.float32
    a, p, n = (_padded_rows(6, 101, 5, dt, 40 + i) for i in range(3))
    kw = dict(margin=1.0, pnorm=P_CASES[pcase], swap=True)
    _, saved = triplet_launch(a, p, n, reduction="none", with_saved=True, splits=splits, **kw)
    gbuf = torch.full((12,), float("nan"), dtype=dt)
    gout = gbuf[::2]
    gout.copy_(_randn((6,), dt, 3))
    bufs = [torch.full((6, 109), -7.0, dtype=dt) for _ in range(3)]
    grads = [b[:, :101] for b in bufs]
    triplet_backward_launch(a, p, n, saved, gout, reduction="none", splits=splits, grads=grads,
                            pnorm=kw["pnorm"], swap=True)
    check_grads(grads, triplet_grad_reference(a, p, n, gout, reduction="none", **kw), dt, GRAD_TOL[dt])
    for b in bufs:
        assert (b[:, 101:] == -7.0).all(), "wrote outside the gradient's view"


def test_triplet_backward_skips_unwanted_gradients():
    a, p, n = _triplet_inputs(9, 20, torch.float32, 61)
    _, saved = triplet_launch(a, p, n, margin=1.0, pnorm=2.0, swap=False, reduction="mean", with_saved=True)
    g = torch.tensor(1.0)
    got = triplet_backward_launch(a, p, n, saved, g, pnorm=2.0, swap=False, reduction="mean", write=(0, 1, 0))
    assert torch.isnan(got[0]).all() and torch.isnan(got[2]).all()
    ref = triplet_grad_reference(a, p, n, g, margin=1.0, pnorm=2.0, swap=False, reduction="mean")
    check_grads([got[1]], [ref[1]], torch.float32, GRAD_TOL[torch.float32], names=("positive",))


# --------------------------------------------------------------------------------------
# matmul
# --------------------------------------------------------------------------------------

BM = BN = BK = 16  # tl.dot in the interpreter needs every dim >= 16


def matmul_launch(a, b, c, *, precision=0, a_k1=None, b_n1=None, group_m=2,
                  block=(BM, BN, BK), split=1):
    M, K = a.shape
    K2, N = b.shape
    assert K == K2 and tuple(c.shape) == (M, N)
    assert M > 0 and N > 0, "the kernel wraps offsets with % M / % N: never launch empty"
    if a_k1 is None:
        a_k1 = int(a.stride(1) == 1)
    if b_n1 is None:
        b_n1 = int(b.stride(1) == 1)
    assert a_k1 != 1 or K <= 1 or a.stride(1) == 1
    assert a_k1 != 2 or M <= 1 or a.stride(0) == 1
    assert b_n1 != 1 or N <= 1 or b.stride(1) == 1
    assert b_n1 != 2 or K <= 1 or b.stride(0) == 1
    bm, bn, bk = block
    chunk = max(1, triton.cdiv(triton.cdiv(K, bk), split)) * bk
    split = max(1, triton.cdiv(K, chunk))
    part = torch.full((split * M * N if split > 1 else 1,), float("nan"))
    grid = (triton.cdiv(M, bm) * triton.cdiv(N, bn), split)
    _matmul_kernel[grid](
        a, b, c, part, M, N, K, chunk, split,
        a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1),
        PRECISION=precision, A_K1=a_k1, B_N1=b_n1, C_N1=int(c.stride(1) == 1 or N == 1),
        BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=group_m)
    if split > 1:
        reduce_launch(part, c, split)
    return c


def reduce_launch(part, c, split):
    M, N = c.shape
    _matmul_reduce_kernel[(triton.cdiv(M, 16), triton.cdiv(N, 32))](
        part, c, M, N, split, c.stride(0), c.stride(1), C_N1=int(c.stride(1) == 1), BLOCK_M=16, BLOCK_N=32, STAGES=1)


KP_ALIGN = manifest.KP_ALIGN


def pack_launch(src, rows, cols, stride_r, stride_c, mode):
    """src (rows x cols through the strides) packed K-major into a NaN-poisoned buffer:
    returns (packed rows x CP, CP); mode 4 (hi and lo planes) fills 2 * rows rows."""
    cp = triton.cdiv(3 * cols if mode in (2, 3) else cols, KP_ALIGN) * KP_ALIGN
    dst = torch.full((2 * rows if mode == 4 else rows, cp), float("nan"), dtype=src.dtype)
    layout = 1 if stride_r == 1 and rows > 1 else 2 if stride_c == 1 else 0
    br, bc = manifest.MATMUL_PACK_TILES[layout]
    _matmul_pack_kernel[(triton.cdiv(rows, br), triton.cdiv(cp, bc))](
        src, dst, rows, cols, cp, stride_r, stride_c, cp, MODE=mode, SRC=layout, BLOCK_R=br, BLOCK_C=bc)
    return dst, cp


def packed_launch(a, b, c, *, precision=1, split=1, block=(16, 16, 32)):
    """The packed path: pack A and B (transposed) then _matmul_packed_kernel (+ reduce)."""
    M, K = a.shape
    N = b.shape[1]
    fp32 = a.dtype == torch.float32
    mode_a, mode_b = ((1, 1) if precision == 1 else (2, 3)) if fp32 else (0, 0)
    ap, kp = pack_launch(a, M, K, a.stride(0), a.stride(1), mode_a)
    bp, _ = pack_launch(b, N, K, b.stride(1), b.stride(0), mode_b)
    assert not torch.isnan(ap).any() and not torch.isnan(bp).any(), "pack left elements unwritten"
    bm, bn, bk = block
    chunk = triton.cdiv(triton.cdiv(kp, bk), split) * bk
    split = triton.cdiv(kp, chunk)
    part = torch.full((split * M * N if split > 1 else 1,), float("nan"))
    _matmul_packed_kernel[(triton.cdiv(M, bm) * triton.cdiv(N, bn), split)](
        ap, bp, c, part, M, N, kp, chunk, split, kp, kp, c.stride(0), c.stride(1),
        TF32=int(fp32), PROMOTE=int(fp32 and precision == 0), C_N1=int(c.stride(1) == 1 or N == 1), BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=2)
    if split > 1:
        reduce_launch(part, c, split)
    return ap, bp


def streamed_launch(a, b, c, *, precision=1, split=1, block=(16, 16, 16), group_m=2):
    """The streamed path as the runtime runs it: the skinny side packed (TF32, or hi and lo
    planes), the other operand X read in place through its strides, C seen as R x S
    (C^T = B^T A^T when M <= N), then the split reduce."""
    M, K = a.shape
    N = b.shape[1]
    if M <= N:
        x, R, S, sxr, sxk = b, N, M, b.stride(1), b.stride(0)
        y, ysr, ysc = a, a.stride(0), a.stride(1)
        scr, scs = c.stride(1), c.stride(0)
    else:
        x, R, S, sxr, sxk = a, M, N, a.stride(0), a.stride(1)
        y, ysr, ysc = b, b.stride(1), b.stride(0)
        scr, scs = c.stride(0), c.stride(1)
    yp, kp = pack_launch(y, S, K, ysr, ysc, 4 if precision == 0 else 1)
    assert not torch.isnan(yp).any(), "pack left elements unwritten"
    xl = 1 if sxr == 1 and R > 1 else 2 if sxk == 1 else 0
    bm, bn, bk = block
    chunk = max(1, triton.cdiv(triton.cdiv(K, bk), split)) * bk
    split = max(1, triton.cdiv(K, chunk))
    part = torch.full((split * R * S if split > 1 else 1,), float("nan"))
    _matmul_streamed_kernel[(triton.cdiv(R, bm) * triton.cdiv(S, bn), split)](
        x, yp, c, part, R, S, K, chunk, split, 0 if xl == 1 else sxr, 0 if xl == 2 else sxk, kp, scr, scs,
        PRECISION=precision, XL=xl, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, GROUP_M=group_m)
    if split > 1:
        _matmul_reduce_kernel[(triton.cdiv(R, 16), triton.cdiv(S, 32))](
            part, c, R, S, split, scr, scs, C_N1=int(scs == 1), BLOCK_M=16, BLOCK_N=32, STAGES=1)


def gemv_launch(a, b, c, *, precision=0, split=1, block=(16, 16)):
    """The gemv path as the runtime runs it (M = 1 or N = 1): X read in place (B^T when
    M < N, else A), v the other operand's one row or column, y C's one row or column;
    then, split > 1, the reduce taking y as 1 x R. V1 where v's stride is 1, as the aligned
    variants take it (the interpreter runs the pipelined loop, STAGES > 1, as a plain one)."""
    M, K = a.shape
    N = b.shape[1]
    sak = a.stride(1) if K > 1 else 1
    if M < N or (M == N and sak != 1):
        x, R, sxr, sxk, v, sv, sy = b, N, b.stride(1) if N > 1 else 1, b.stride(0) if K > 1 else 0, a, sak, c.stride(1)
    else:
        x, R, sxr, sxk, v, sv, sy = a, M, a.stride(0) if M > 1 else 0, sak, b, b.stride(0) if K > 1 else 0, c.stride(0)
    xl = 1 if sxr == 1 else 2 if sxk == 1 else 0
    bm, bk = block
    chunk = max(1, triton.cdiv(triton.cdiv(K, bk), split)) * bk
    split = max(1, triton.cdiv(K, chunk))
    part = torch.full((split * R if split > 1 else 1,), float("nan"))
    _matmul_gemv_kernel[(triton.cdiv(R, bm), split)](
        x, v, c, part, R, K, chunk, split, 0 if xl == 1 else sxr, 0 if xl == 2 else sxk, sv, sy,
        PRECISION=precision, XL=xl, V1=int(sv == 1), STAGES=3 if split > 1 else 1, BLOCK_M=bm, BLOCK_N=1,
        BLOCK_K=bk, GROUP_M=1)
    if split > 1:
        _matmul_reduce_kernel[(1, triton.cdiv(R, 32))](part, c, 1, R, split, 0, sy, C_N1=int(sy == 1), BLOCK_M=1,
                                                       BLOCK_N=32, STAGES=4)
    return xl


def _strided(shape, dtype, seed, layout):
    """A (rows, cols) operand in the given memory layout; every byte of its buffer that is
    not part of the view is NaN."""
    r, c = shape
    vals = _randn(shape, dtype, seed)
    if layout == "row":
        return vals.contiguous()
    if layout == "col":  # column-major: the transpose of a contiguous (c, r) tensor
        buf = torch.full((c, r), float("nan"), dtype=dtype)
        x = buf.t()
    elif layout == "rowpad":  # row-major with padded rows
        buf = torch.full((r, c + 5), float("nan"), dtype=dtype)
        x = buf[:, :c]
    elif layout == "slice":  # no unit stride at all
        buf = torch.full((2 * r + 1, 3 * c + 2), float("nan"), dtype=dtype)
        x = buf[1::2, 2::3][:r, :c]
    else:
        raise ValueError(layout)
    x.copy_(vals)
    return x


def _out(shape, dtype, layout):
    """C (poisoned with NaN) plus its whole buffer, to check nothing outside C is written."""
    m, n = shape
    if layout == "row":
        buf = torch.full((m, n), float("nan"), dtype=dtype)
        return buf, buf
    if layout == "col":  # C written through a transposed view
        buf = torch.full((n, m), float("nan"), dtype=dtype)
        return buf.t(), buf
    if layout == "slice":
        buf = torch.full((2 * m + 1, 2 * n + 3), float("nan"), dtype=dtype)
        return buf[1::2, 1::2][:m, :n], buf
    raise ValueError(layout)


def check_matmul_written(c, buf):
    assert not torch.isnan(c).any(), (
        f"C elements not written: {torch.isnan(c).nonzero().tolist()[:8]}")
    outside = buf.numel() - c.numel()
    assert int(torch.isnan(buf).sum()) == outside, "the kernel wrote outside of C"


def rel_err(got, ref):
    return ((got.double() - ref).norm() / ref.norm()).item()


# (name, A layout, B layout, A_K1, B_N1, C layout)
LAYOUTS = [
    ("rowmajor", "row", "row", 1, 1, "row"),
    ("rowmajor_general", "row", "row", 0, 0, "row"),        # general path on unit strides
    ("rowpad", "rowpad", "rowpad", 1, 1, "row"),
    ("transposed", "col", "col", 2, 2, "row"),                # both column-major
    ("transposed_general", "col", "col", 0, 0, "row"),
    ("a_col_b_row", "col", "row", 2, 1, "row"),               # A^T @ B (a weight gradient)
    ("a_col_b_row_general", "col", "row", 0, 1, "row"),
    ("a_row_b_col", "row", "col", 1, 2, "row"),               # x @ w.T (a linear layer)
    ("a_row_b_col_general", "row", "col", 1, 0, "row"),
    ("slices", "slice", "slice", 0, 0, "slice"),
    ("c_transposed", "row", "col", 1, 2, "col"),
]
SHAPES = [(37, 21, 19), (1, 1, 1), (16, 16, 16), (5, 33, 40), (33, 1, 7)]


def _matmul_case(M, N, K, dtype, layout, seed):
    name, la, lb, a_k1, b_n1, lc = layout
    a = _strided((M, K), dtype, seed, la)
    b = _strided((K, N), dtype, seed + 1, lb)
    c, buf = _out((M, N), dtype, lc)
    return a, b, c, buf, a_k1, b_n1


def _tf32_ref(x):
    """Round fp32 to TF32 (10 mantissa bits), ties to even, in fp64 math per element."""
    bits = x.contiguous().view(torch.int32).numpy().view(np.uint32)
    return torch.from_numpy(tf32_round_bits(bits).view(np.float32).copy())


@pytest.mark.parametrize("precision", [0, 1], ids=["highest", "high_tf32"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=[lay[0] for lay in LAYOUTS])
@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
def test_matmul_fp32(shape, layout, precision):
    M, N, K = shape
    a, b, c, buf, a_k1, b_n1 = _matmul_case(M, N, K, torch.float32, layout, 11 * M + N + K)
    matmul_launch(a, b, c, precision=precision, a_k1=a_k1, b_n1=b_n1)
    check_matmul_written(c, buf)
    ref = a.double() @ b.double()
    err = rel_err(c, ref)
    if precision == 0:
        assert err < 1e-5, f"fp32 'highest': relative error {err:.3g}"
    else:
        assert err < 5e-3, f"fp32 'high' (TF32): relative error {err:.3g}"
        # the products are those of the operands rounded to nearest TF32: against that
        # exact reference only fp32 accumulation error is left (truncation would be
        # off by ~1e-4 here)
        ref_rn = _tf32_ref(a).double() @ _tf32_ref(b).double()
        err_rn = rel_err(c, ref_rn)
        assert err_rn < 1e-5, f"TF32 operands not rounded to nearest: {err_rn:.3g}"


@triton.jit
def _dot_probe_kernel(a_ptr, b_ptr, c_ptr, BLOCK: tl.constexpr):
    r = tl.arange(0, BLOCK)
    idx = r[:, None] * BLOCK + r[None, :]
    acc = tl.dot(tl.load(a_ptr + idx), tl.load(b_ptr + idx),
                 tl.zeros((BLOCK, BLOCK), dtype=tl.float32))
    tl.store(c_ptr + idx, acc)


_DOT_OK = {}


def _interpreter_dot_works(dtype):
    """Whether the interpreter's tl.dot itself is right for this dtype, probed with a
    minimal kernel (not the one under test). Triton 3.6's interpreter runs tl.dot on bf16
    as np.matmul of the raw uint16 bit patterns (create_dot has no bf16 conversion)."""
    if dtype not in _DOT_OK:
        a = _randn((16, 16), dtype, 5)
        b = _randn((16, 16), dtype, 6)
        c = torch.full((16, 16), float("nan"), dtype=torch.float32)
        _dot_probe_kernel[(1,)](a, b, c, BLOCK=16)
        _DOT_OK[dtype] = rel_err(c, a.double() @ b.double()) < 1e-5
    return _DOT_OK[dtype]


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=[lay[0] for lay in LAYOUTS])
@pytest.mark.parametrize("shape", SHAPES[:3], ids=["x".join(map(str, s)) for s in SHAPES[:3]])
def test_matmul_half(shape, layout, dtype):
    dt = DTYPES[dtype]
    if not _interpreter_dot_works(dt):
        pytest.skip(f"this Triton interpreter's tl.dot is wrong for {dtype} by itself (3.6 "
                    "multiplies bf16 bit patterns as uint16 integers), so the matmul "
                    "kernel cannot be checked in it")
    M, N, K = shape
    a, b, c, buf, a_k1, b_n1 = _matmul_case(M, N, K, dt, layout, 7 * M + N + K)
    matmul_launch(a, b, c, precision=0, a_k1=a_k1, b_n1=b_n1)
    check_matmul_written(c, buf)
    err = rel_err(c, a.double() @ b.double())
    assert err < TOL[dt], f"{dtype}: relative error {err:.3g}"


@pytest.mark.parametrize("dtype,precision", [("fp32", 0), ("fp32", 1), ("fp16", 0), ("bf16", 0)])
@pytest.mark.parametrize("M,N", [(37, 21), (1, 1)])
def test_matmul_k0(M, N, dtype, precision):
    # K = 0: no K step at all, C must be all zeros (not left as the NaN poison)
    dt = DTYPES[dtype]
    a = torch.empty((M, 0), dtype=dt)
    b = torch.empty((0, N), dtype=dt)
    for lc in ("row", "col"):
        c, buf = _out((M, N), dt, lc)
        matmul_launch(a, b, c, precision=precision, a_k1=1, b_n1=1)
        check_matmul_written(c, buf)
        assert (c == 0).all()


@pytest.mark.parametrize("group_m", [1, 2, 3, 8])
def test_matmul_grouped_tile_order(group_m):
    # 5 x 3 tiles: groups of GROUP_M tile rows, the last group shorter; every tile of C
    # must be computed exactly once and from the right A rows / B columns
    M, N, K = 70, 40, 24
    a = _randn((M, K), torch.float32, 61)
    b = _randn((K, N), torch.float32, 62)
    c, buf = _out((M, N), torch.float32, "row")
    matmul_launch(a, b, c, group_m=group_m)
    check_matmul_written(c, buf)
    err = rel_err(c, a.double() @ b.double())
    assert err < 1e-5, f"GROUP_M={group_m}: relative error {err:.3g}"


@pytest.mark.parametrize("block", [(16, 32, 16), (32, 16, 32)], ids=str)
def test_matmul_other_tiles(block):
    M, N, K = 45, 50, 70
    a = _strided((M, K), torch.float32, 71, "col")
    b = _strided((K, N), torch.float32, 72, "rowpad")
    c, buf = _out((M, N), torch.float32, "slice")
    for precision in (0, 1):
        c.fill_(float("nan"))
        matmul_launch(a, b, c, precision=precision, a_k1=0, b_n1=1, block=block)
        check_matmul_written(c, buf)
        err = rel_err(c, a.double() @ b.double())
        assert err < (1e-5 if precision == 0 else 5e-3), f"relative error {err:.3g}"


@pytest.mark.parametrize("split", [2, 3, 5])
@pytest.mark.parametrize("dtype,precision", [("fp32", 0), ("fp32", 1), ("fp16", 0)])
def test_matmul_split_k(split, dtype, precision):
    # K cut into ranges whose fp32 partials the reduce kernel adds in a fixed order;
    # ranges are whole BLOCK_K steps, the last one ragged
    dt = DTYPES[dtype]
    M, N, K = 33, 40, 150
    a = _strided((M, K), dt, 81 + split, "col")
    b = _strided((K, N), dt, 82 + split, "row")
    c, buf = _out((M, N), dt, "slice")
    matmul_launch(a, b, c, precision=precision, a_k1=0, b_n1=1, split=split)
    check_matmul_written(c, buf)
    err = rel_err(c, a.double() @ b.double())
    assert err < (1e-5 if dtype == "fp32" and precision == 0 else 5e-3), f"relative error {err:.3g}"
    again = torch.full_like(c, float("nan"))
    matmul_launch(a, b, again, precision=precision, a_k1=0, b_n1=1, split=split)
    assert torch.equal(again, c), "split-K result not bit-identical run to run"


def _tf32_parts(x):
    hi = _tf32_ref(x)
    return hi, _tf32_ref(x - hi)


@pytest.mark.parametrize("layout", ["row", "col", "slice"])
@pytest.mark.parametrize("mode", [0, 1, 2, 3, 4])
def test_matmul_pack(mode, layout):
    # packed rows: the source's row r (through any strides) in KP_ALIGN-padded K-major form,
    # zeros past K; fp32 modes round to TF32 (1) or lay out the 3xTF32 parts (2: hi hi lo,
    # 3: hi lo hi; 4: a hi plane over a lo plane)
    dt = torch.float16 if mode == 0 else torch.float32
    R, C = 37, 70
    x = _strided((R, C), dt, 90 + mode, layout)
    dst, cp = pack_launch(x, R, C, x.stride(0), x.stride(1), mode)
    assert cp % KP_ALIGN == 0 and cp >= (3 * C if mode in (2, 3) else C)
    assert not torch.isnan(dst).any(), "pack left elements unwritten"
    if mode == 0:
        want = x
    elif mode == 1:
        want = _tf32_ref(x)
    elif mode == 4:
        want = torch.cat(_tf32_parts(x), dim=0)
    else:
        hi, lo = _tf32_parts(x)
        parts = (hi, hi, lo) if mode == 2 else (hi, lo, hi)
        want = torch.stack(parts, dim=2).reshape(R, 3 * C)
    width = want.shape[1]
    assert torch.equal(dst[:, :width], want.to(dt)), "packed values differ"
    assert (dst[:, width:] == 0).all(), "padding past K is not zero"


@pytest.mark.parametrize("mode", [2, 4])
def test_matmul_pack_3x_specials(mode):
    # inf and nan go whole into hi with lo = 0; a finite value that TF32 rounding would
    # carry past the fp32 range keeps its truncated hi
    big = torch.tensor(3.4028235e38, dtype=torch.float32)  # largest finite fp32
    x = torch.tensor([[float("inf"), -float("inf"), float("nan"), big.item(), -big.item(), 1.0]],
                     dtype=torch.float32)
    dst, _ = pack_launch(x, 1, 6, 6, 1, mode)
    if mode == 2:
        got = dst[0, :18].reshape(6, 3)
    else:  # (hi, _, lo) columns from the two planes
        got = torch.stack((dst[0, :6], dst[0, :6], dst[1, :6]), dim=1)
    assert torch.isinf(got[0, 0]) and got[0, 0] > 0 and got[0, 2] == 0
    assert torch.isinf(got[1, 0]) and got[1, 0] < 0 and got[1, 2] == 0
    assert torch.isnan(got[2, 0]) and got[2, 2] == 0
    for i in (3, 4):
        assert torch.isfinite(got[i]).all()
        resid = abs(float(got[i, 0].double() + got[i, 2].double()) - float(x[0, i].double()))
        assert resid <= 2.0 ** -21 * abs(float(x[0, i])), "hi + lo is not x to 3xTF32 accuracy"
    assert got[5].tolist() == [1.0, 1.0, 0.0]


def check_fp32_precision(c, a, b, precision, path):
    """The fp32 paths that do the precision work on operands (packed, streamed):
    'highest' is 3xTF32 (a_hi b_hi + a_hi b_lo + a_lo b_hi leaves ~2^-22 out: fp32-level);
    'high' is the exact product of the operands rounded to nearest TF32, up to fp32
    accumulation."""
    if precision == 0:
        err = rel_err(c, a.double() @ b.double())
        assert err < 1e-6, f"{path} 3xTF32: relative error {err:.3g}"
    else:
        err_rn = rel_err(c, _tf32_ref(a).double() @ _tf32_ref(b).double())
        assert err_rn < 1e-6, f"{path} TF32 operands not rounded to nearest: {err_rn:.3g}"


@pytest.mark.parametrize("split", [1, 3])
@pytest.mark.parametrize("precision", [0, 1], ids=["highest_3xtf32", "high_tf32"])
@pytest.mark.parametrize("a_layout,b_layout", [("row", "row"), ("col", "col"), ("slice", "rowpad")])
def test_matmul_packed_fp32(a_layout, b_layout, precision, split):
    M, N, K = 37, 45, 70
    a = _strided((M, K), torch.float32, 101 + split, a_layout)
    b = _strided((K, N), torch.float32, 102 + split, b_layout)
    c, buf = _out((M, N), torch.float32, "col")
    packed_launch(a, b, c, precision=precision, split=split)
    check_matmul_written(c, buf)
    check_fp32_precision(c, a, b, precision, "packed")


@pytest.mark.parametrize("split", [1, 3])
@pytest.mark.parametrize("precision", [0, 1], ids=["highest_3xtf32", "high_tf32"])
@pytest.mark.parametrize("shape", [(5, 40, 70), (40, 7, 70), (1, 33, 19), (33, 1, 19), (17, 17, 16)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("layouts", [("row", "row", "row"), ("col", "col", "col"), ("slice", "rowpad", "slice"),
                                     ("row", "col", "row")], ids="-".join)
def test_matmul_streamed_fp32(layouts, shape, precision, split):
    # both orientations (skinny M: C^T = B^T A^T; skinny N: C = A B), every X layout (XL 0,
    # 1, 2), ragged K, tiles past every edge
    M, N, K = shape
    la, lb, lc = layouts
    a = _strided((M, K), torch.float32, 121 + split + M, la)
    b = _strided((K, N), torch.float32, 122 + split + N, lb)
    c, buf = _out((M, N), torch.float32, lc)
    streamed_launch(a, b, c, precision=precision, split=split)
    check_matmul_written(c, buf)
    check_fp32_precision(c, a, b, precision, "streamed")
    if split > 1:
        again = torch.full_like(c, float("nan"))
        streamed_launch(a, b, again, precision=precision, split=split)
        assert torch.equal(again, c), "split-K result not bit-identical run to run"


@pytest.mark.parametrize("split", [1, 3])
@pytest.mark.parametrize("mode", ["highest", "high", "fp16", "bf16"])
@pytest.mark.parametrize("shape", [(1, 70, 300), (70, 1, 300), (1, 1, 77), (1, 33, 1), (45, 1, 16)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("layouts", [("row", "row", "row"), ("col", "col", "col"), ("slice", "rowpad", "slice"),
                                     ("rowpad", "slice", "row"), ("row", "col", "col")], ids="-".join)
def test_matmul_gemv(layouts, shape, mode, split):
    """The matrix-vector path: both orientations (M = 1: X = B^T; N = 1: X = A), every X
    layout (XL 0, 1, 2), rows past R in the last program, ragged K, a K split; products in
    fp32 ('high': of the operands rounded to nearest TF32), the sums deterministic."""
    M, N, K = shape
    la, lb, lc = layouts
    dt = torch.float32 if mode in ("highest", "high") else DTYPES[mode]
    precision = 1 if mode == "high" else 0
    a = _strided((M, K), dt, 131 + split + M, la)
    b = _strided((K, N), dt, 132 + split + N, lb)
    c, buf = _out((M, N), dt, lc)
    gemv_launch(a, b, c, precision=precision, split=split)
    check_matmul_written(c, buf)
    if mode == "high":
        ref = _tf32_ref(a).double() @ _tf32_ref(b).double()
        assert rel_err(c, ref) < 1e-6, "TF32 operands not rounded to nearest"
    else:
        assert rel_err(c, a.double() @ b.double()) < (1e-6 if dt == torch.float32 else TOL[dt])
    if split > 1:
        again = torch.full_like(c, float("nan"))
        gemv_launch(a, b, again, precision=precision, split=split)
        assert torch.equal(again, c), "split-K result not bit-identical run to run"


def test_matmul_gemv_layouts_reached():
    """The layouts above reach each of the kernel's XL specializations in each orientation."""
    seen = set()
    for M, N, K in ((1, 20, 30), (20, 1, 30)):
        for la, lb in (("row", "row"), ("col", "col"), ("slice", "rowpad"), ("rowpad", "slice")):
            a = _strided((M, K), torch.float32, 1, la)
            b = _strided((K, N), torch.float32, 2, lb)
            c, _ = _out((M, N), torch.float32, "row")
            seen.add((M == 1, gemv_launch(a, b, c)))
    assert seen == {(o, xl) for o in (True, False) for xl in (0, 1, 2)}, seen


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_matmul_packed_half(dtype):
    dt = DTYPES[dtype]
    if not _interpreter_dot_works(dt):
        pytest.skip(f"this Triton interpreter's tl.dot is wrong for {dtype} by itself")
    M, N, K = 20, 33, 40
    a = _strided((M, K), dt, 111, "slice")
    b = _strided((K, N), dt, 112, "col")
    c, buf = _out((M, N), dt, "row")
    packed_launch(a, b, c, split=2, block=(16, 16, 64))
    check_matmul_written(c, buf)
    assert rel_err(c, a.double() @ b.double()) < TOL[dt]


# --------------------------------------------------------------------------------------
# _round_to_tf32: bit-exact against an independent reference
# --------------------------------------------------------------------------------------

@triton.jit
def _tf32_probe_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0)
    tl.store(y_ptr + offs, _round_to_tf32(x), mask=m)


def _tf32_run(bits):
    x = torch.from_numpy(bits.astype(np.uint32).view(np.float32).copy())
    y = torch.full_like(x, float("nan"))
    y.view(torch.int32).fill_(0x7FC0DEAD)  # poison with a NaN payload no result can have
    BLOCK = 64
    _tf32_probe_kernel[(triton.cdiv(x.numel(), BLOCK),)](x, y, x.numel(), BLOCK=BLOCK)
    return y.view(torch.int32).numpy().view(np.uint32)


def _tf32_special_patterns():
    pats = []
    for hi in (0x3F800000, 0x40490000, 0x00000000, 0x00800000, 0x7F000000, 0x3F802000):
        for low in (0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x1FFF):
            for bit13 in (0, 0x2000):  # either last kept bit
                pats.append(hi | bit13 | low)
    pats += [
        0x3F801000,  # 1 + half a TF32 ulp: a tie, away from zero to 0x3F802000
        0x3F803000,  # tie: up to 0x3F804000
        0x3FFFF000,  # tie, mantissa all ones: carries into the exponent -> 2.0
        0x3FFFEFFF,  # just below that tie: down
        0x7F7FFFFF,  # largest finite: rounds up to inf
        0x7F7FEFFF,  # just below the tie at the top: stays finite
        0x7F7FF000,  # exact tie at the top: inf
        0x7F7FD000,  # a tie just below: up to 0x7F7FE000, finite
        0x7F800000,  # +inf
        0x7F800001,  # NaN whose payload lies only in the dropped bits: must stay NaN
        0x7FC00000,  # quiet NaN
        0x7FBFFFFF,  # signalling NaN, all payload bits
        0x00000001,  # smallest subnormal: to 0
        0x00001000,  # subnormal tie: up to 0x00002000
        0x00000FFF,  # just below it: to 0
        0x007FFFFF,  # largest subnormal: up to the smallest normal
    ]
    pats += [p | 0x80000000 for p in list(pats)]  # negatives: same magnitude rounding
    return np.array(pats, dtype=np.uint64).astype(np.uint32)


def test_matmul_round_to_tf32_special_patterns():
    bits = _tf32_special_patterns()
    got = _tf32_run(bits)
    want = tf32_round_bits(bits)
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, "; ".join(
        f"{bits[i]:#010x} -> got {got[i]:#010x}, want {want[i]:#010x}" for i in bad[:10])
    # a few spot values, written out by hand
    spot = {0x3F801000: 0x3F802000, 0x3F803000: 0x3F804000, 0x3FFFF000: 0x40000000,
            0x7F7FFFFF: 0x7F800000, 0xFF7FFFFF: 0xFF800000, 0xBF803000: 0xBF804000,
            0x3F801001: 0x3F802000, 0x3F800FFF: 0x3F800000, 0x00003000: 0x00004000}
    got_spot = _tf32_run(np.array(list(spot), dtype=np.uint64).astype(np.uint32))
    assert [int(v) for v in got_spot] == list(spot.values())
    nan_in = np.array([0x7F800001, 0xFFC00000, 0x7FBFFFFF], dtype=np.uint64).astype(np.uint32)
    assert np.isnan(_tf32_run(nan_in).view(np.float32)).all()


def test_matmul_round_to_tf32_random_bits():
    g = _gen(2024)
    bits = torch.randint(0, 2**32, (3000,), generator=g, dtype=torch.int64).numpy()
    # plus many exact ties and their neighbours, at random exponents and signs
    base = torch.randint(0, 2**19, (1000,), generator=g, dtype=torch.int64).numpy() << 13
    ties = np.concatenate([base | 0x1000, base | 0x0FFF, base | 0x1001])
    bits = np.concatenate([bits, ties]).astype(np.uint64).astype(np.uint32)
    got = _tf32_run(bits)
    want = tf32_round_bits(bits)
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, "; ".join(
        f"{bits[i]:#010x} -> got {got[i]:#010x}, want {want[i]:#010x}" for i in bad[:10])
    # the result is a TF32 value (13 low bits clear) unless inf/NaN, within half a TF32 ulp
    fin = (bits & 0x7F800000) != 0x7F800000
    assert ((got[fin] & 0x1FFF) == 0).all()
    x = bits[fin].view(np.float32).astype(np.float64)
    y = got[fin].view(np.float32).astype(np.float64)
    ok = np.isfinite(y)
    ulp = np.spacing(np.abs(x[ok]).astype(np.float32)).astype(np.float64) * 2**13
    assert (np.abs(y[ok] - x[ok]) <= ulp / 2).all()


# ---- the benchmark's traffic reference (python/tritium/_traffic.py) ---------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("block,steps", [(256, 1), (512, 2)])
def test_traffic_kernels_move_every_element(dtype, block, steps):
    """The bench's pure-traffic kernels read every element (read3's per-program sums add up to
    the inputs' total) and rw3 writes every element of its three outputs, tail included."""
    from tritium import _traffic
    g = _gen(77)
    total = 3 * block * steps + 37  # a partial last program
    a, p, n = (torch.randn(total, generator=g, dtype=torch.float64).to(dtype) for _ in range(3))
    grid = triton.cdiv(total, block * steps)
    out = torch.full((grid,), float("nan"))
    _traffic.read3[(grid,)](a, p, n, out, total, BLOCK=block, STEPS=steps, PDL=0)
    want = (a.double() + p.double() + n.double()).reshape(-1)
    want = torch.nn.functional.pad(want, (0, grid * block * steps - total)).reshape(grid, -1).sum(1)
    assert torch.allclose(out.double(), want, rtol=1e-5, atol=1e-4)
    outs = [torch.full((total,), float("nan"), dtype=dtype) for _ in range(3)]
    _traffic.rw3[(grid,)](a, p, n, *outs, total, BLOCK=block, STEPS=steps, PDL=0)
    for got, ref in zip(outs, (a.double() - p.double(), p.double() - n.double(), n.double() - a.double())):
        assert not got.isnan().any()
        tol = 2 ** -7 if dtype == torch.bfloat16 else 1e-6  # one rounding to the output dtype
        assert torch.allclose(got.double(), ref, rtol=tol, atol=tol)
