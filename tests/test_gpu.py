"""GPU tests: both kernels against fp64 references, through the C ABI with poisoned,
guard-banded outputs, and through the Python wrappers. Skipped without a CUDA GPU.

Run them twice on a GPU machine: natively, and with TRITIUM_FORCE_ARCH=89
TRITIUM_FORCE_PTX=1 (the sm_89 PTX, JIT-compiled by the driver), which is how the 4090
code path is checked on other GPUs. `test_forced_image_is_reported` shows which ran.
"""
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "aot"))
import manifest  # noqa: E402  (aot/manifest.py: the shipped matmul configs)
import tritium  # noqa: E402
from tritium._lib import ffi, lib  # noqa: E402

from grad_checks import check_grads, hinge_ambiguous_rows  # noqa: E402
from tf32_ref import tf32_round_bits  # noqa: E402

DEV = torch.device("cuda")
GUARD = 64  # elements of NaN guard band on each side of every output
DT = {torch.float32: lib.TRITIUM_FLOAT32, torch.float16: lib.TRITIUM_FLOAT16, torch.bfloat16: lib.TRITIUM_BFLOAT16}
RED = {"none": lib.TRITIUM_REDUCTION_NONE, "mean": lib.TRITIUM_REDUCTION_MEAN, "sum": lib.TRITIUM_REDUCTION_SUM}
# relative error bounds vs fp64, per dtype (output rounding dominates for fp16/bf16)
TOL = {torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}

_gen = torch.Generator(device="cuda")
_gen.seed()  # fresh inputs every run


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, device=DEV, generator=_gen).to(dtype)


def guarded(count, dtype):
    """A NaN-filled buffer with `count` elements in the middle; returns (buffer, view)."""
    buf = torch.full((count + 2 * GUARD,), float("nan"), dtype=dtype, device=DEV)
    return buf, buf[GUARD:GUARD + count]


def guards_intact(buf):
    return bool(torch.isnan(buf[:GUARD]).all() and torch.isnan(buf[-GUARD:]).all())


def vp(t):
    return ffi.cast("void *", t.data_ptr())


def stream():
    return ffi.cast("struct CUstream_st *", torch.cuda.current_stream().cuda_stream)


def last_error():
    return ffi.string(lib.tritium_last_error()).decode()


# ---- triplet -----------------------------------------------------------------------------

def triplet_raw(a, p, n, margin, norm_p, eps, swap, reduction, saved=None):
    """Call the C API directly; returns (status, out view, guard buffer)."""
    rows, d = a.shape
    count = rows if reduction == "none" else 1
    buf, out = guarded(count, a.dtype)
    need = ffi.new("size_t *")
    assert lib.tritium_triplet_margin_loss_workspace_size(rows, d, RED[reduction], need) == 0
    ws = torch.full((max(need[0], 1),), 0xFF, dtype=torch.uint8, device=DEV)
    s = lib.tritium_triplet_margin_loss(DT[a.dtype], rows, d, vp(a), a.stride(0), vp(p), p.stride(0),
                                        vp(n), n.stride(0), margin, norm_p, eps, int(swap), RED[reduction],
                                        vp(out), vp(saved) if saved is not None else ffi.NULL, vp(ws), need[0],
                                        stream())
    torch.cuda.synchronize()
    return s, out, buf


def triplet_ref(a, p, n, margin, norm_p, eps, swap, reduction, dtype=torch.float64):
    """PyTorch's loss computed in `dtype` (fp64: the reference)."""
    return torch.nn.functional.triplet_margin_loss(a.to(dtype), p.to(dtype), n.to(dtype), margin=margin, p=norm_p,
                                                   eps=eps, swap=swap, reduction=reduction)


def assert_close(got, ref, dtype, what, tol=None):
    """`got` (in `dtype`) against an fp64 reference: same shape, every element written,
    the same NaN/inf pattern as the reference rounded to `dtype` (a sum can overflow
    fp16), and the finite part within the dtype's relative-error bound."""
    got = got.double()
    assert got.shape == ref.shape, what
    assert not torch.isnan(got[~torch.isnan(ref)]).any(), f"{what}: unwritten (NaN) outputs"
    rounded = ref.to(dtype).double()
    assert torch.equal(torch.isfinite(got), torch.isfinite(rounded)), f"{what}: non-finite pattern differs"
    ok = torch.isfinite(rounded)
    assert torch.equal(got[~ok].nan_to_num(), rounded[~ok].nan_to_num()), f"{what}: non-finite values differ"
    tol = TOL[dtype] if tol is None else tol
    err = (got[ok] - ref[ok]).norm() / max(ref[ok].norm().item(), 1e-30)
    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.1e}"


# (3, 9004), (9, 4098), (40, 4096), (2, 40000) and (1, 81920) take the split path (few long
# rows: D cut across programs; 5, 3, 2, 20 and 40 ranges, each finish BLOCK_S); (20, 144) and
# (32, 128) with mean or sum the one-program forward (two steps, one). The row widths cover
# the alignment classes (src/triplet.c, narrow_class): 16 bytes (128, 1000), 8 (fp32 130,
# 4098; fp16/bf16 300, 9004), 4 (fp16/bf16 130, 4098) and none (37, 17). Contiguous rows
# whose N * D fills 16-byte vectors take the flat backward: (1000, 17), (96, 3) and (40, 6)
# with rows narrower than a vector (fp16/bf16 3 and 6, fp32 3) or vectors across two rows
TRIPLET_SHAPES = [(1, 1), (7, 37), (33, 128), (130, 300), (257, 64), (5, 2049), (3, 0), (0, 5), (64, 1000),
                  (1000, 17), (66, 130), (3, 9004), (9, 4098), (40, 4096), (2, 40000), (1, 81920), (20, 144),
                  (32, 128), (96, 3), (40, 6)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("norm_p", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_sweep(dtype, norm_p, swap):
    for rows, d in TRIPLET_SHAPES:
        a, p, n = (randn(rows, d, dtype=dtype) for _ in range(3))
        for reduction in ("none", "mean", "sum"):
            margin, eps = 0.7, 1e-6
            s, out, buf = triplet_raw(a, p, n, margin, norm_p, eps, swap, reduction)
            what = f"{rows}x{d} {dtype} p={norm_p} swap={swap} {reduction}"
            try:
                ref = triplet_ref(a, p, n, margin, norm_p, eps, swap, reduction)
            except RuntimeError as e:  # PyTorch refuses (the inf-norm of an empty row): so must we
                assert s == lib.TRITIUM_ERROR_INVALID_SIZE, f"{what}: status {s}, torch raised {e}"
                assert torch.isnan(buf).all(), f"{what}: a rejected call wrote"
                continue
            assert s == 0, f"{what}: {last_error()}"
            # bound: the dtype's, or PyTorch's own fp32 error if that is larger. General p
            # raises |v| to p through the fp32 exp2/log2 units (about 2^-22 per term, a
            # few 1e-7 on a distance), and the hinge d_ap - d_an cancels digits: at
            # D = 2049, p = 0.5 the loss keeps ~1/40 of the distances' magnitude, so its
            # fp32 bound there is 5e-5.
            # Long rows add one more: a distance is a sum of d terms in fp32 (~1e-6 of
            # itself), and the hinge keeps a difference of two distances, so the bound
            # also carries 2e-6 of the distances' size (as the interpreter tests do).
            # The last term holds for fp16/bf16 too: their inputs are exact in fp32, but the
            # hinge can keep a small difference of two long fp32 sums there as well.
            tol = TOL[dtype]
            if rows * d:
                if dtype == torch.float32:
                    torch_err = rel_err(triplet_ref(a, p, n, margin, norm_p, eps, swap, reduction, torch.float32), ref)
                    tol = max(tol, 2 * torch_err, 5e-5 if norm_p not in (1.0, 2.0, math.inf) else 0.0)
                pd = torch.nn.functional.pairwise_distance
                scale = pd(a.double(), p.double(), p=norm_p, eps=eps) + pd(a.double(), n.double(), p=norm_p, eps=eps)
                if reduction != "none":
                    scale = scale.mean() if reduction == "mean" else scale.sum()
                # over the losses that assert_close compares: those finite in the dtype. An
                # fp16 loss past 65504 is inf there, and the rows left are those whose hinge
                # cancels the most (fp16, p = 0.5, 2 x 40000, swap, 'none': 2.6e-3 of the
                # loss, where the ratio over every row allowed 2e-3)
                seen = torch.isfinite(ref.to(dtype))
                tol = max(tol, 2e-6 * scale[seen].norm().item() / max(ref[seen].norm().item(), 1e-30))
            assert_close(out.reshape(ref.shape), ref, dtype, what, tol=tol)
            assert guards_intact(buf), f"{what}: wrote outside its output"


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_triplet_strided_rows(dtype):
    wide = [randn(100, 300, dtype=dtype) for _ in range(3)]
    a, p, n = wide[0][:50, :257], wide[1][:50, 3:260], wide[2][::2, :257]  # row strides 300, 300, 600
    _check_triplet_strided(a, p, n, dtype)
    # D = 256 with pointers 8 or 4 bytes past 16 (fp16/bf16: 4 and 2 elements): the 8- and
    # 4-byte classes (fp32: 16 and 8), set by the pointers alone
    for off in (4, 2):
        _check_triplet_strided(wide[0][:50, off:off + 256], wide[1][:50, :256], wide[2][::2, 8 + off:8 + off + 256],
                               dtype)
    # row strides of 150 elements from 16-byte aligned bases: fp32 rows of 600 bytes (the
    # 8-byte class), bf16 of 300 (the 4-byte class)
    flat = [randn(50 * 150, dtype=dtype).view(50, 150) for _ in range(3)]
    _check_triplet_strided(flat[0][:, :128], flat[1][:, :128], flat[2][:, 8:136], dtype)


def _check_triplet_strided(a, p, n, dtype):
    for reduction in ("none", "mean", "sum"):
        s, out, buf = triplet_raw(a, p, n, 1.0, 2.0, 1e-6, True, reduction)
        assert s == 0, last_error()
        ref = triplet_ref(a, p, n, 1.0, 2.0, 1e-6, True, reduction)
        assert_close(out.reshape(ref.shape), ref, dtype, f"strided raw {reduction}")
        got = tritium.triplet_margin_loss(a, p, n, reduction=reduction, swap=True)
        ref = triplet_ref(a, p, n, 1.0, 2.0, 1e-6, True, reduction)
        assert_close(got, ref, dtype, f"strided {reduction}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_triplet_many_rows_rules(dtype):
    """The forward's rules for many rows (src/triplet.c, pick_rows): rows narrower than 16
    bytes of at most 512 elements take the lanes forward, in its three configs by row bytes
    and each class (bf16 D = 30, 28, 45, 130, 250; fp32 30, 45, 50, 250; D = 300, whose
    last step of 128 would be less than half full, takes the config before); rows of no
    class over 384 bytes (301) the 4 x 64 row tile where p = 2; 16-byte rows (64, 512) their
    row tiles; rows of fewer than four 2048-element steps (1030, 2052) the (1, 512) tile,
    as do longer rows with a nearly empty last step (8200, not 9000), and
    rows just past the lanes forward the row tiles (D = 513); each in several norms and
    reductions, with and without swap; the backward through autograd (the flat kernel where
    the rows are contiguous)."""
    cases = ((2.0, "none", False), (2.0, "mean", True), (1.0, "sum", False), (math.inf, "mean", True),
             (1.5, "none", True))
    for d in (30, 28, 45, 50, 130, 250, 300, 301, 64, 512, 2052, 513, 1030, 8200, 9000):
        a, p, n = (randn(4096, d, dtype=dtype) for _ in range(3))
        for norm_p, reduction, swap in cases:
            what = f"4096x{d} {dtype} p={norm_p} {reduction} swap={swap}"
            s, out, buf = triplet_raw(a, p, n, 0.7, norm_p, 1e-6, swap, reduction)
            assert s == 0, f"{what}: {last_error()}"
            ref = triplet_ref(a, p, n, 0.7, norm_p, 1e-6, swap, reduction)
            pd = torch.nn.functional.pairwise_distance
            scale = pd(a.double(), p.double(), p=norm_p) + pd(a.double(), n.double(), p=norm_p)
            scale = scale if reduction == "none" else scale.mean() if reduction == "mean" else scale.sum()
            tol = max(TOL[dtype], 2e-6 * scale.norm().item() / max(ref.norm().item(), 1e-30))
            assert_close(out.reshape(ref.shape), ref, dtype, what, tol=tol)
            assert guards_intact(buf), f"{what}: wrote outside its output"
        leaves = [t.clone().requires_grad_() for t in (a, p, n)]
        g = randn(4096, dtype=dtype)
        tritium.triplet_margin_loss(*leaves, margin=0.7, reduction="none").backward(g)
        refs = triplet_grad_ref(a, p, n, 0.7, 2.0, 1e-6, False, "none", g)
        check_grads([t.grad for t in leaves], refs, dtype, GRAD_TOL[dtype],
                    skip_rows=hinge_ambiguous_rows(a, p, n, 0.7, 2.0, 1e-6, False))


def test_triplet_python_api_matches_torch():
    a, p, n = randn(100, 33), randn(100, 33), randn(100, 33)
    for kw in ({}, {"margin": 0.3, "p": 1}, {"swap": True, "reduction": "sum"}, {"reduction": "none", "eps": 1e-3},
               {"size_average": False}):
        ref = torch.nn.functional.triplet_margin_loss(a.double(), p.double(), n.double(), **kw)
        assert_close(tritium.triplet_margin_loss(a, p, n, **kw), ref, torch.float32, str(kw))
    # 1-D inputs, broadcasting of a single row, and the module
    ref = torch.nn.functional.triplet_margin_loss(a[0].double(), p[0].double(), n[0].double(), reduction="none")
    assert_close(tritium.triplet_margin_loss(a[0], p[0], n[0], reduction="none"), ref, torch.float32, "1-D")
    ref = torch.nn.functional.triplet_margin_loss(a[:1].double(), p.double(), n.double())
    assert_close(tritium.triplet_margin_loss(a[:1], p, n), ref, torch.float32, "broadcast anchor")
    mod = tritium.TripletMarginLoss(margin=0.5, p=3, swap=True)
    ref = torch.nn.TripletMarginLoss(margin=0.5, p=3, swap=True)(a.double(), p.double(), n.double())
    assert_close(mod(a, p, n), ref, torch.float32, "module")


def test_triplet_nd_inputs_match_torch():
    """Inputs of any number of dimensions, as torch takes them: the loss is per vector along
    the last one, 'none' keeps the leading shape, and leading dimensions broadcast."""
    cases = [((3, 5, 33), (3, 5, 33), (3, 5, 33)),         # 3-D
             ((3, 1, 33), (1, 5, 33), (3, 5, 33)),         # broadcast leading dimensions
             ((2, 3, 4, 17), (2, 3, 4, 17), (2, 3, 4, 17)),  # 4-D
             ((), (), ()),                                 # 0-D: one value each
             ((2, 0, 9), (2, 0, 9), (2, 0, 9)),            # no rows
             ((2, 3, 0), (2, 3, 0), (2, 3, 0))]            # empty vectors
    for dtype in DT:
        for shapes in cases:
            a, p, n = (randn(*s, dtype=dtype) if s else randn(1, dtype=dtype)[0] for s in shapes)
            for reduction in ("none", "mean", "sum"):
                kw = {"reduction": reduction, "swap": reduction == "sum", "p": 1.5 if reduction == "mean" else 2}
                ref = torch.nn.functional.triplet_margin_loss(a.double(), p.double(), n.double(), **kw)
                got = tritium.triplet_margin_loss(a, p, n, **kw)
                assert got.shape == ref.shape, f"{shapes} {reduction}: shape {tuple(got.shape)}"
                assert_close(got, ref, dtype, f"{shapes} {kw}")
    # 3-D inputs whose vectors are not contiguous (transposed views): flattened by a copy
    a, p, n = randn(4, 40, 6).transpose(1, 2), randn(4, 40, 6).transpose(1, 2), randn(4, 6, 40)
    ref = torch.nn.functional.triplet_margin_loss(a.double(), p.double(), n.double(), reduction="none")
    assert_close(tritium.triplet_margin_loss(a, p, n, reduction="none"), ref, torch.float32, "transposed 3-D")


def test_triplet_identical_inputs():
    """d(x, x) = eps * D^(1/p), not 0: eps is added to the difference."""
    a = randn(9, 40)
    for norm_p in (2.0, 1.0, 3.0):
        got = tritium.triplet_margin_loss(a, a, a, reduction="none", p=norm_p, eps=1e-3, swap=True)
        ref = triplet_ref(a, a, a, 1.0, norm_p, 1e-3, True, "none")
        assert_close(got, ref, torch.float32, f"identical p={norm_p}")


def test_triplet_seed_shape():
    """KernelBench level 1 problem 99: 32768 x 8192 fp32, mean."""
    a, p, n = randn(32768, 8192), randn(32768, 8192), randn(32768, 8192)
    for reduction in ("mean", "none"):
        s, out, buf = triplet_raw(a, p, n, 1.0, 2.0, 1e-6, False, reduction)
        assert s == 0, last_error()
        ref = triplet_ref(a, p, n, 1.0, 2.0, 1e-6, False, reduction)
        assert_close(out.reshape(ref.shape), ref, torch.float32, f"seed {reduction}")
        assert guards_intact(buf)


def test_triplet_mean_is_deterministic():
    a, p, n = randn(20000, 300), randn(20000, 300), randn(20000, 300)
    first = tritium.triplet_margin_loss(a, p, n)
    for _ in range(5):
        again = tritium.triplet_margin_loss(a, p, n)
        assert torch.equal(first.view(torch.int32), again.view(torch.int32))


def triplet_backward_raw(a, p, n, margin, norm_p, eps, swap, reduction, g):
    """Forward with `saved`, then the backward into NaN-guarded gradient buffers through
    the C API; returns (status, [grad views], [guard buffers])."""
    rows, d = a.shape
    need = ffi.new("size_t *")
    assert lib.tritium_triplet_margin_loss_saved_size(rows, norm_p, need) == 0
    saved = torch.full((max(need[0] // 4, 1),), float("nan"), device=DEV)
    s, out, _ = triplet_raw(a, p, n, margin, norm_p, eps, swap, reduction, saved=saved)
    assert s == 0, last_error()
    bufs, views = zip(*(guarded(rows * d, a.dtype) for _ in range(3)))
    s = lib.tritium_triplet_margin_loss_backward(
        DT[a.dtype], rows, d, vp(a), a.stride(0), vp(p), p.stride(0), vp(n), n.stride(0), norm_p, eps, int(swap),
        RED[reduction], vp(g), g.stride(0) if g.dim() else 0, vp(saved), *(x for v in views for x in (vp(v), d)),
        stream())
    torch.cuda.synchronize()
    return s, [v.view(rows, d) for v in views], bufs


def triplet_grad_ref(a, p, n, margin, norm_p, eps, swap, reduction, g):
    leaves = [t.double().requires_grad_() for t in (a, p, n)]
    loss = torch.nn.functional.triplet_margin_loss(*leaves, margin=margin, p=norm_p, eps=eps, swap=swap,
                                                   reduction=reduction)
    loss.backward(g.double().reshape(loss.shape))
    return [t.grad for t in leaves]


# gradient bounds per element (see grad_checks.check_grads)
GRAD_TOL = {torch.float32: 2e-5, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("norm_p", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_backward_sweep(dtype, norm_p, swap):
    for rows, d in TRIPLET_SHAPES:
        if norm_p == math.inf and d == 0:
            continue  # refused, as PyTorch refuses it (test_triplet_sweep)
        a, p, n = (randn(rows, d, dtype=dtype) for _ in range(3))
        if rows > 2:
            p[1] = a[1]  # a swap tie
        for reduction in ("none", "mean", "sum"):
            g = randn(rows, dtype=dtype) if reduction == "none" else (randn(1).abs() + 0.5).to(dtype)[0]
            what = f"backward {rows}x{d} {dtype} p={norm_p} swap={swap} {reduction}"
            s, grads, bufs = triplet_backward_raw(a, p, n, 0.7, norm_p, 1e-6, swap, reduction, g)
            assert s == 0, f"{what}: {last_error()}"
            refs = triplet_grad_ref(a, p, n, 0.7, norm_p, 1e-6, swap, reduction, g)
            check_grads(grads, refs, dtype, GRAD_TOL[dtype],
                        skip_rows=hinge_ambiguous_rows(a, p, n, 0.7, norm_p, 1e-6, swap))
            for buf, name in zip(bufs, ("anchor", "positive", "negative")):
                assert guards_intact(buf), f"{what} grad {name}: wrote outside its output"


def test_triplet_autograd_matches_torch():
    """loss.backward() through the Python op: broadcasting, 1-D, strided and transposed
    inputs, half precision, gradients of only some inputs, and the module."""
    F = torch.nn.functional

    def both(make, dtype=torch.float32, **kw):
        ours = [t.detach().clone().requires_grad_(t.requires_grad) for t in make()]
        refs = [t.detach().double().requires_grad_(t.requires_grad) for t in ours]
        loss = tritium.triplet_margin_loss(*ours, **kw)
        ref = F.triplet_margin_loss(*refs, **kw)
        upstream = torch.randn(ref.shape, device=DEV, dtype=torch.float64, generator=_gen)
        loss.backward(upstream.to(loss.dtype))
        ref.backward(upstream.to(loss.dtype).double())
        assert_close(loss.detach(), ref.detach(), dtype, f"loss {kw}")
        for mine, theirs in zip(ours, refs):
            assert (mine.grad is None) == (not theirs.requires_grad), f"grad {kw}: wanted only where required"
        pairs = [(mine.grad, theirs.grad) for mine, theirs in zip(ours, refs) if theirs.requires_grad]
        skip = None
        if all(t.dim() == 2 and t.shape == ours[0].shape for t in ours):
            skip = hinge_ambiguous_rows(*(t.detach() for t in ours), kw.get("margin", 1.0), kw.get("p", 2.0),
                                        1e-6, kw.get("swap", False))
        check_grads(*zip(*pairs), dtype, GRAD_TOL[dtype], skip_rows=skip)

    leaf = lambda *shape, dtype=torch.float32: randn(*shape, dtype=dtype).requires_grad_()  # noqa: E731
    both(lambda: (leaf(64, 33), leaf(64, 33), leaf(64, 33)))
    both(lambda: (leaf(64, 33), leaf(64, 33), leaf(64, 33)), reduction="none", swap=True, p=1)
    both(lambda: (leaf(1, 33), leaf(64, 33), leaf(64, 33)), reduction="sum", p=3)      # broadcast anchor
    both(lambda: (leaf(33), leaf(33), leaf(33)), reduction="none", p=float("inf"))     # 1-D
    both(lambda: (leaf(3, 5, 33), leaf(3, 5, 33), leaf(3, 5, 33)), reduction="none", swap=True)  # 3-D
    both(lambda: (leaf(3, 1, 33), leaf(1, 5, 33), leaf(3, 5, 33)), p=1)            # broadcast leading dims
    both(lambda: (leaf(2, 3, 4, 17), leaf(2, 3, 4, 17), leaf(2, 3, 4, 17)), reduction="sum", p=3)  # 4-D
    both(lambda: (leaf(40, 64).t(), leaf(64, 40), leaf(64, 80)[:, ::2]), swap=True)   # column strides
    both(lambda: (leaf(64, 200)[:, 3:150], leaf(64, 147), randn(64, 147)), margin=0.3)  # padded rows, no grad n
    both(lambda: (leaf(20, 5000, dtype=torch.bfloat16), leaf(20, 5000, dtype=torch.bfloat16),
                  leaf(20, 5000, dtype=torch.bfloat16)), dtype=torch.bfloat16, swap=True)  # split path
    both(lambda: (leaf(100, 64, dtype=torch.float16), leaf(100, 64, dtype=torch.float16),
                  leaf(100, 64, dtype=torch.float16)), dtype=torch.float16, reduction="none")
    mod = tritium.TripletMarginLoss(margin=0.5, swap=True)
    a, p, n = (leaf(16, 24) for _ in range(3))
    mod(a, p, n).backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (a, p, n))


def test_calls_from_a_fresh_thread():
    """A thread with no current CUDA context (like PyTorch's autograd workers) on the
    default stream: the library takes the data's device's primary context."""
    import threading
    a, p, n = (randn(64, 40).requires_grad_() for _ in range(3))
    out = {}

    def work():
        try:
            loss = tritium.triplet_margin_loss(a, p, n)
            out["grads"] = torch.autograd.grad(loss, (a, p, n))
            out["c"] = tritium.matmul(a.detach(), n.detach().t())
        except Exception as e:  # reported below, in the test's thread
            out["error"] = e

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert "error" not in out, repr(out.get("error"))
    refs = triplet_grad_ref(a.detach(), p.detach(), n.detach(), 1.0, 2.0, 1e-6, False, "mean",
                            torch.ones((), device=DEV))
    check_grads(out["grads"], refs, torch.float32, GRAD_TOL[torch.float32],
                skip_rows=hinge_ambiguous_rows(a.detach(), p.detach(), n.detach(), 1.0, 2.0, 1e-6, False))


def test_triplet_backward_is_deterministic():
    a, p, n = (randn(3000, 300).requires_grad_() for _ in range(3))
    grads = [torch.autograd.grad(tritium.triplet_margin_loss(a, p, n, swap=True), (a, p, n)) for _ in range(3)]
    for again in grads[1:]:
        assert all(torch.equal(x.view(torch.int32), y.view(torch.int32)) for x, y in zip(grads[0], again))


def test_triplet_backward_seed_shape():
    """The seed problem's shape, 32768 x 8192 fp32, forward and backward."""
    a, p, n = (randn(32768, 8192).requires_grad_() for _ in range(3))
    loss = tritium.triplet_margin_loss(a, p, n)
    got = torch.autograd.grad(loss, (a, p, n))
    refs = triplet_grad_ref(a.detach(), p.detach(), n.detach(), 1.0, 2.0, 1e-6, False, "mean",
                            torch.ones((), device=DEV))
    check_grads(got, refs, torch.float32, GRAD_TOL[torch.float32],
                skip_rows=hinge_ambiguous_rows(a.detach(), p.detach(), n.detach(), 1.0, 2.0, 1e-6, False))


# ---- matmul ------------------------------------------------------------------------------

def matmul_workspace(dtype, precision, m, n, k):
    need = ffi.new("size_t *")
    assert lib.tritium_matmul_workspace_size(DT[dtype], precision, m, n, k, need) == 0, last_error()
    return need[0]


def matmul_raw(a, b, c, precision, workspace="full"):
    """tritium_matmul through the C ABI; workspace: 'full' (the size query's bytes, NaN
    poisoned), 'none', or a byte count."""
    m, k = a.shape
    n = b.shape[1]
    need = matmul_workspace(a.dtype, precision, m, n, k)
    nbytes = need if workspace == "full" else 0 if workspace == "none" else workspace
    ws = torch.full((max(nbytes, 1) // 4 + 1,), float("nan"), device=DEV)
    s = lib.tritium_matmul(DT[a.dtype], precision, m, n, k, vp(a), a.stride(0), a.stride(1), vp(b), b.stride(0),
                           b.stride(1), vp(c), c.stride(0), c.stride(1), vp(ws) if nbytes else ffi.NULL, nbytes,
                           stream())
    torch.cuda.synchronize()
    return s


def rel_err(got, ref):
    return ((got.double() - ref).norm() / max(ref.norm().item(), 1e-30)).item()


def layouts(x):
    """x itself, a transposed-storage view of the same values, and a sliced view."""
    yield "row", x
    yield "col", x.t().contiguous().t()
    wide = torch.empty((x.shape[0], x.shape[1] + 3), dtype=x.dtype, device=DEV)
    wide[:, :x.shape[1]] = x
    yield "padded", wide[:, :x.shape[1]]


# (264, 136, 328): multiples of 8 elements, not 16 (16-byte rows in every dtype: the aligned
# variants); (132, 68, 300): of 4, not 8 (aligned in fp32 only)
MATMUL_SHAPES = [(1, 1, 1), (37, 21, 19), (128, 128, 128), (129, 257, 65), (300, 1, 700), (1, 500, 300),
                 (64, 48, 0), (16, 32, 64), (515, 259, 1031), (264, 136, 328), (132, 68, 300)]
MODES = [(torch.float32, lib.TRITIUM_PRECISION_HIGHEST, 2e-6), (torch.float32, lib.TRITIUM_PRECISION_HIGH, 1e-3),
         (torch.float16, 0, 2e-3), (torch.bfloat16, 0, 1.6e-2)]
MODE_TOL = {(dtype, precision): tol for dtype, precision, tol in MODES}  # relative error bound per mode


@pytest.mark.parametrize("workspace", ["full", "none"])
@pytest.mark.parametrize("dtype,precision,tol", MODES, ids=["f32-highest", "f32-high", "f16", "bf16"])
def test_matmul_sweep(dtype, precision, tol, workspace):
    for m, n, k in MATMUL_SHAPES:
        a0, b0 = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
        ref = a0.double() @ b0.double()
        for (la, a), (lb, b) in zip(layouts(a0), reversed(list(layouts(b0)))):
            for transposed_c in (False, True):
                buf, flat = guarded(m * n, dtype)
                c = flat.view(n, m).t() if transposed_c else flat.view(m, n)
                s = matmul_raw(a, b, c, precision, workspace)
                what = f"{m}x{n}x{k} {dtype} prec={precision} a={la} b={lb} cT={transposed_c} ws={workspace}"
                assert s == 0, f"{what}: {last_error()}"
                assert not torch.isnan(c).any(), f"{what}: unwritten outputs"
                assert guards_intact(buf), f"{what}: wrote outside C"
                err = rel_err(c, ref) if k else c.abs().max().item()
                assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.1e}"


@pytest.mark.parametrize("dtype,precision,tol", MODES, ids=["f32-highest", "f32-high", "f16", "bf16"])
def test_matmul_gemv_vector_layouts(dtype, precision, tol):
    """M = 1 and N = 1 with the matrix aligned (its aligned gemv variants apply) and the
    vector strided, off a 16-byte boundary, or both: those take the unaligned variants,
    which read v through its stride; the aligned ones take it as unit-stride and aligned
    (V1). Sizes past the tuned gemv tiles and splits (R 2048, K 4096)."""
    r, k = 2048, 4096
    x0 = randn(r, k, dtype=dtype)
    for name, make_v in (("strided", lambda: randn(k, 3, dtype=dtype)[:, 1]),
                         ("offset", lambda: randn(k + 1, dtype=dtype)[1:]),
                         ("unit", lambda: randn(k, dtype=dtype))):
        v = make_v()
        for orient in ("M=1", "N=1"):
            # M = 1: v^T @ X^T with X^T a row-major (K x R) view's rows contiguous; N = 1: X @ v
            a, b = (v.unsqueeze(0), x0.t().contiguous()) if orient == "M=1" else (x0, v.unsqueeze(1))
            ref = a.double() @ b.double()
            buf, flat = guarded(ref.numel(), dtype)
            c = flat.view(ref.shape)
            s = matmul_raw(a, b, c, precision)
            what = f"{orient} v {name} {dtype} prec={precision}"
            assert s == 0, f"{what}: {last_error()}"
            assert not torch.isnan(c).any(), f"{what}: unwritten outputs"
            assert guards_intact(buf), f"{what}: wrote outside C"
            err = rel_err(c, ref)
            assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.1e}"


_PATH_IDS = {"direct": 1, "packed": 2, "streamed": 3, "gemv": 4}  # tritium_matmul_force_config's path
_PATH_NAMES = {i: name for name, i in _PATH_IDS.items()}


_MATMUL_VARIANTS = manifest.matmul_variants()


def _shipped_matmul_configs():
    """(path: 1 direct / 2 packed / 3 streamed / 4 gemv, dtype, precision, tile, archs) of every matmul
    config; archs () where some variant of it is built for every arch."""
    archs = {}
    for v in _MATMUL_VARIANTS:
        key = manifest.matmul_config(v)
        if key is not None:
            path, dtype, prec, tile = key
            cfg = (_PATH_IDS[path], dtype, prec, tile)
            if not v.archs or (cfg in archs and not archs[cfg]):
                archs[cfg] = ()
            else:
                archs[cfg] = tuple(sorted(set(archs.get(cfg, ())) | set(v.archs)))
    return [cfg + (a,) for cfg, a in archs.items()]


def _forced_config_native(path, prec, tile, a, b):
    """Whether a forced config has a variant built for this arch and this call: a streamed
    config may lack the one for the call's X layout (aot/manifest.py, MATMUL_STREAMED_LAYOUTS),
    a gemv config has variants only for its own X layouts (MATMUL_GEMV_CONFIGS) and runs only
    M = 1 or N = 1. The call then runs an older arch's PTX of it where the build ships one
    (streamed), else fails with NOT_SUPPORTED. Mirrors src/matmul.c's streamed_geometry."""
    if path not in (_PATH_IDS["streamed"], _PATH_IDS["gemv"]):
        return True
    (m, k), n = a.shape, b.shape[1]
    gemv = path == _PATH_IDS["gemv"]
    if gemv and min(m, n) != 1:
        return False
    sak = a.stride(1) if k > 1 else 1
    swap = m < n or (m == n and sak != 1)
    sxr, sxk = (b.stride(1) if n > 1 else 1, b.stride(0) if k > 1 else 0) if swap else (a.stride(0) if m > 1 else 0, sak)
    xl = 1 if sxr == 1 else 2 if sxk == 1 else 0
    # some gemv tiles are built aligned only: X's pointer 16-byte aligned, R, K and its other
    # stride multiples of 16 bytes (ALIGN_ELEMS), v's pointer aligned too, and v's stride 1 (V1)
    x, r = (b, n) if swap else (a, m)
    v, sv = (a, sak) if swap else (b, b.stride(0) if k > 1 else 1)
    dt = next(name for name, t in _TORCH_DT.items() if t == a.dtype)
    al = manifest.ALIGN_ELEMS[dt]
    x_aligned = (xl != 0 and x.data_ptr() % 16 == 0 and r % al == 0 and k % al == 0
                 and (sxk if xl == 1 else sxr) % al == 0 and (not gemv or (v.data_ptr() % 16 == 0 and sv == 1)))
    kernel = manifest.MATMUL_GEMV if gemv else manifest.MATMUL_STREAMED
    return any(v.kernel is kernel and v.dtype == dt and v.params[0] == prec
               and v.params[1] in ((xl,) if gemv else (xl, 0)) and manifest.matmul_config(v)[3] == tuple(tile)
               and (not gemv or not v.aligned or x_aligned) and v.for_arch(_test_arch()) for v in _MATMUL_VARIANTS)


_TORCH_DT = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def _test_arch():
    """The arch whose code runs: the device's, or TRITIUM_FORCE_ARCH's."""
    cap = torch.cuda.get_device_capability()
    return int(os.environ.get("TRITIUM_FORCE_ARCH", "").removeprefix("sm_") or cap[0] * 10 + cap[1])


def _built_for_test_arch(archs):
    """Whether a config (archs () = every arch) is built for the arch whose code runs."""
    return not archs or _test_arch() in archs


def _config_arch_check(archs):
    if not _built_for_test_arch(archs):
        pytest.skip(f"config built for sm_{archs} only")


@pytest.mark.parametrize("cfg", _shipped_matmul_configs(), ids=lambda c: f"{_PATH_NAMES[c[0]]}-"
                         f"{c[1]}-p{c[2]}-" + "x".join(map(str, c[3])))
def test_matmul_every_config(cfg):
    """Each shipped config, forced, on ragged shapes and every layout, with K splits: the
    tuning table may pick any of them."""
    path, dt, prec, tile, archs = cfg
    _config_arch_check(archs)
    dtype = _TORCH_DT[dt]
    tol = MODE_TOL[(dtype, prec)]
    cbuf = ffi.new("int32_t[6]", list(tile))
    try:
        # the last three rows are aligned (16-byte rows: 8 elements, or 4 in fp32, K's tail
        # shorter than a 16-element group)
        for (m, n, k), split in (((129, 257, 65), 1), ((300, 17, 1031), 3), ((1, 200, 300), 2), ((515, 259, 1031), 1),
                                 ((1037, 1, 515), 3), ((1, 1, 300), 1), ((1, 272, 304), 2), ((272, 1, 304), 1),
                                 ((24, 40, 200), 2), ((20, 36, 68), 1)):
            a0, b0 = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
            ref = a0.double() @ b0.double()
            # a lone dot product of signed values may cancel to near zero: its error is
            # measured against the sum of the products' magnitudes instead
            scale = a0.double().abs() @ b0.double().abs() if m * n == 1 else None
            assert lib.tritium_matmul_force_config(path, cbuf, split) == 0, last_error()
            for (la, a), (lb, b) in zip(layouts(a0), reversed(list(layouts(b0)))):
                buf, flat = guarded(m * n, dtype)
                c = flat.view(n, m).t()
                s = matmul_raw(a, b, c, prec)
                what = f"{cfg} {m}x{n}x{k} split={split} a={la} b={lb}"
                if s == lib.TRITIUM_ERROR_NOT_SUPPORTED and not _forced_config_native(path, prec, tile, a, b):
                    continue
                assert s == 0, f"{what}: {last_error()}"
                assert not torch.isnan(c).any(), f"{what}: unwritten outputs"
                assert guards_intact(buf), f"{what}: wrote outside C"
                err = rel_err(c, ref) if scale is None else ((c.double() - ref).abs() / scale).max().item()
                assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.1e}"
            # forced onto a plan that needs workspace (the query answers for the forced
            # config), without one: a clear error
            if matmul_workspace(dtype, prec, m, n, k) > 0:
                c = torch.empty(m, n, dtype=dtype, device=DEV)
                s = matmul_raw(a0, b0, c, prec, "none")
                if not (s == lib.TRITIUM_ERROR_NOT_SUPPORTED and not _forced_config_native(path, prec, tile, a0, b0)):
                    assert s == lib.TRITIUM_ERROR_WORKSPACE_TOO_SMALL, last_error()
    finally:
        lib.tritium_matmul_force_config(0, ffi.NULL, 1)


@pytest.mark.parametrize("dt", ["f32", "f16", "bf16"])
def test_matmul_huge_c_strides(dt):
    """C's rows, or its columns, 2^27 + 5 elements apart, with every shipped config forced:
    offsets within a tile then overflow 32 bits, and the store takes its 64-bit addresses
    (_store_block). Every output is checked, and nothing else in the 2^29-element buffer
    may change."""
    dtype = _TORCH_DT[dt]
    far = (1 << 27) + 5
    m, n, k = 3, 5, 37
    buf = torch.full(((n - 1) * far + m + 2 * GUARD,), float("nan"), dtype=dtype, device=DEV)
    views = {"rows far apart": buf[GUARD:].as_strided((m, n), (far, 1)),
             "columns far apart": buf[GUARD:].as_strided((m, n), (1, far))}
    a, b = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
    ref = a.double() @ b.double()
    ran = 0
    try:
        for path, cdt, prec, tile, archs in _shipped_matmul_configs():
            if cdt != dt or not _built_for_test_arch(archs):
                continue
            tol = MODE_TOL[(dtype, prec)]
            cbuf = ffi.new("int32_t[6]", list(tile))
            for split in (1, 2):
                assert lib.tritium_matmul_force_config(path, cbuf, split) == 0, last_error()
                for name, c in views.items():
                    what = f"{_PATH_NAMES[path]} p{prec} {tile} split={split} {name}"
                    s = matmul_raw(a, b, c, prec)
                    if s == lib.TRITIUM_ERROR_NOT_SUPPORTED and not _forced_config_native(path, prec, tile, a, b):
                        continue
                    assert s == 0, f"{what}: {last_error()}"
                    assert not torch.isnan(c).any(), f"{what}: unwritten outputs"
                    assert int(torch.isnan(buf).sum()) == buf.numel() - m * n, f"{what}: wrote outside C"
                    err = rel_err(c, ref)
                    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.1e}"
                    c.fill_(float("nan"))
                    ran += 1
    finally:
        lib.tritium_matmul_force_config(0, ffi.NULL, 1)
    assert ran > 0


def _strided(x):
    """x's values in a view whose two strides are both > 1 (every other element of a
    wider buffer): the kernels' general-stride variants."""
    wide = torch.empty((x.shape[0], 2 * x.shape[1]), dtype=x.dtype, device=DEV)
    wide[:, ::2] = x
    return wide[:, ::2]


@pytest.mark.parametrize("cfg", [c for c in _shipped_matmul_configs() if c[1] == "f32"],
                         ids=lambda c: f"{_PATH_NAMES[c[0]]}-p{c[2]}-" + "x".join(map(str, c[3])))
def test_matmul_config_large_grid(cfg):
    """Each fp32 config on a grid of about a thousand programs (several resident per SM,
    several waves) and long K, with the operand read in place in each layout, every output
    checked on its own (a race that corrupts a few outputs hides in a norm): JIT builds of
    the streamed kernel raced at such sizes on sm_90 and never on small shapes
    (aot/manifest.py, MATMUL_STREAMED_LAYOUTS)."""
    path, _, prec, tile, archs = cfg
    _config_arch_check(archs)
    tol = 5e-6 if prec == 0 else 5e-4
    cbuf = ffi.new("int32_t[6]", list(tile))
    try:
        shapes = (((4064, 4096, 4096), 1), ((4096, 4064, 2048), 2))
        if path == _PATH_IDS["gemv"]:  # matrix-vector products of as many rows
            shapes = (((1, 16368, 4096), 1), ((16368, 1, 8192), 4), ((1, 16384, 8192), 8))
        for (m, n, k), split in shapes:
            # uniform [0, 1): every output is a sum of positive terms, so each is checked
            # against its own size
            a0 = torch.rand(m, k, device=DEV, generator=_gen)
            b0 = torch.rand(k, n, device=DEV, generator=_gen)
            ref = a0.double() @ b0.double()
            assert lib.tritium_matmul_force_config(path, cbuf, split) == 0, last_error()
            for name, a, b in (("row", a0, b0), ("col", a0.t().contiguous().t(), b0.t().contiguous().t()),
                               ("strided", _strided(a0), _strided(b0))):
                for rep in range(2):
                    c = torch.full((m, n), float("nan"), device=DEV)
                    s = matmul_raw(a, b, c, prec)
                    if s == lib.TRITIUM_ERROR_NOT_SUPPORTED and not _forced_config_native(path, prec, tile, a, b):
                        break
                    assert s == 0, last_error()
                    bad = ((c.double() - ref).abs() > tol * ref).logical_or(torch.isnan(c))
                    assert not bad.any(), (f"{cfg} {m}x{n}x{k} split={split} {name} run {rep}: {int(bad.sum())} "
                                           f"outputs off by more than {tol:.0e} of themselves")
    finally:
        lib.tritium_matmul_force_config(0, ffi.NULL, 1)


def _tf32_test_values(rows, cols):
    """fp32 values (CPU) of magnitudes 2^-60 to 2^60, both signs, half of them with the 13
    bits TF32 drops set to an exact tie or a neighbour of one."""
    g = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=_gen, device=DEV)))
    count = rows * cols
    bits = (g.integers(0, 2, count, dtype=np.uint64) << 31) | (g.integers(127 - 60, 127 + 60, count, dtype=np.uint64)
                                                              << 23) | g.integers(0, 2**23, count, dtype=np.uint64)
    low = np.array([0x1000, 0x0FFF, 0x1001, 0x1FFF, 0x0000], dtype=np.uint64)[g.integers(0, 5, count)]
    bits = np.where(g.random(count) < 0.5, (bits & ~np.uint64(0x1FFF)) | low, bits)
    return torch.from_numpy(bits.astype(np.uint32).view(np.float32).reshape(rows, cols).copy())


@pytest.mark.parametrize("path", sorted(_PATH_IDS.values()), ids=lambda p: _PATH_NAMES[p])
def test_matmul_high_rounds_to_nearest(path):
    """fp32 'high' on every path rounds each operand to the nearest TF32 value, ties away
    from zero, as tests/tf32_ref.py says, bit for bit: with E an identity (exact in any
    precision), A @ E and E @ B return round(A) and round(B). Both orientations, so that on
    the streamed path each operand is once the one rounded in registers and once the
    packed one."""
    # streamed: a 4-warp tile, built for every X layout on every arch
    tile = next(c[3] for c in _shipped_matmul_configs() if c[0] == path and c[1] == "f32" and c[2] == 1
                and (path != _PATH_IDS["streamed"] or c[3][4] == 4) and (not c[4] or _test_arch() in c[4]))
    cbuf = ffi.new("int32_t[6]", list(tile))
    try:
        assert lib.tritium_matmul_force_config(path, cbuf, 1) == 0, last_error()
        for rows, k, cols in ((300, 64, 40), (40, 64, 300)) if path != _PATH_IDS["gemv"] else ((300, 64, 1),):
            x = _tf32_test_values(rows, k)
            rounded = torch.from_numpy(tf32_round_bits(x.numpy().view(np.uint32)).view(np.float32)).to(DEV)
            x = x.to(DEV)
            e = torch.eye(k, cols, device=DEV)
            c = torch.full((rows, cols), float("nan"), device=DEV)
            assert matmul_raw(x, e, c, lib.TRITIUM_PRECISION_HIGH) == 0, last_error()
            # each output is one rounded value or a sum of zeros: exact in fp64
            assert torch.equal(c, (rounded.double() @ e.double()).float()), f"A side, {rows}x{k}x{cols}"
            c = torch.full((cols, rows), float("nan"), device=DEV)
            assert matmul_raw(e.t(), x.t(), c, lib.TRITIUM_PRECISION_HIGH) == 0, last_error()
            assert torch.equal(c, (e.t().double() @ rounded.t().double()).float()), f"B side, {cols}x{k}x{rows}"
    finally:
        lib.tritium_matmul_force_config(0, ffi.NULL, 1)


def test_matmul_workspace_sizes():
    """A workspace smaller than the query's is never an error: a path that fits is taken,
    with the same accuracy."""
    m, n, k = 1500, 1300, 700
    for dtype, prec, tol in MODES:
        a, b = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
        ref = a.double() @ b.double()
        need = matmul_workspace(dtype, prec, m, n, k)
        for ws in ("full", need // 2, 256, "none"):
            c = torch.full((m, n), float("nan"), dtype=dtype, device=DEV)
            assert matmul_raw(a, b, c, prec, ws) == 0, last_error()
            assert rel_err(c, ref) <= tol, f"{dtype} prec={prec} workspace={ws}"


def test_matmul_zero_sizes():
    for m, n, k in ((0, 5, 7), (5, 0, 7), (0, 0, 0)):
        c = tritium.matmul(randn(m, k), randn(k, n))
        assert c.shape == (m, n)
    c = tritium.matmul(randn(3, 0), randn(0, 4))
    assert torch.equal(c, torch.zeros(3, 4, device=DEV))


def test_matmul_python_api():
    a, b = randn(70, 90), randn(90, 50)
    ref = a.double() @ b.double()
    assert rel_err(tritium.matmul(a, b, precision="highest"), ref) < 2e-6
    assert rel_err(tritium.matmul(a.t().contiguous().t(), b.t().contiguous().t(), precision="high"), ref) < 1e-3
    assert rel_err(tritium.matmul(a[0], b), ref[0]) < 1e-3
    assert rel_err(tritium.matmul(a, b[:, 0]), ref[:, 0]) < 1e-3
    prev = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("highest")
        assert rel_err(tritium.matmul(a, b), ref) < 2e-6
    finally:
        torch.set_float32_matmul_precision(prev)
    # leading dimensions of a fold into rows, as torch.matmul does (a view, or a copy of a
    # transposed input), with b a matrix or a vector; gradients flow back through the fold
    x = randn(3, 5, 90)
    for aa, bb in ((x, b), (x, b[:, 7]), (randn(2, 90, 4).transpose(1, 2), b), (randn(2, 0, 90), b),
                   (randn(2, 3, 4, 90), b.t().contiguous().t()), (a[0], b[:, 0])):
        ref = aa.double() @ bb.double()
        got = tritium.matmul(aa, bb, precision="highest")
        assert got.shape == ref.shape, f"{tuple(aa.shape)} @ {tuple(bb.shape)}: {tuple(got.shape)}"
        if ref.numel():
            assert rel_err(got, ref) < 2e-6, f"{tuple(aa.shape)} @ {tuple(bb.shape)}"
    xl, bl = x.clone().requires_grad_(), b.clone().requires_grad_()
    xr, br = x.double().requires_grad_(), b.double().requires_grad_()
    up = randn(3, 5, 50)
    tritium.matmul(xl, bl, precision="highest").backward(up)
    (xr @ br).backward(up.double())
    assert rel_err(xl.grad, xr.grad) < 2e-6 and rel_err(bl.grad, br.grad) < 2e-6
    with pytest.raises(ValueError, match="inner sizes"):
        tritium.matmul(a, a)
    with pytest.raises(TypeError, match="b has dtype"):
        tritium.matmul(a, b.half())
    with pytest.raises(ValueError, match="precision"):
        tritium.matmul(a, b, precision="low")


def test_matmul_seed_shape():
    """KernelBench level 1 problem 8: M=8205, K=2949, N=5921 on uniform [0, 1) inputs."""
    m, k, n = 8205, 2949, 5921
    a = torch.rand(m, k, device=DEV, generator=_gen)
    b = torch.rand(k, n, device=DEV, generator=_gen)
    ref = a.double() @ b.double()
    c = torch.full((m, n), float("nan"), device=DEV)
    assert matmul_raw(a, b, c, lib.TRITIUM_PRECISION_HIGHEST) == 0, last_error()
    err_highest = rel_err(c, ref)
    c.fill_(float("nan"))
    assert matmul_raw(a, b, c, lib.TRITIUM_PRECISION_HIGH) == 0, last_error()
    err_high = rel_err(c, ref)
    print(f"seed shape: highest {err_highest:.2e}, high {err_high:.2e}")
    assert err_highest <= 2e-6
    assert err_high <= 5e-5


# ---- bad arguments: a status, a message, and nothing written -----------------------------

def test_bad_arguments_write_nothing():
    a, b = randn(32, 32), randn(32, 32)
    buf, flat = guarded(32 * 32, torch.float32)
    c = flat.view(32, 32)
    F32, HI = lib.TRITIUM_FLOAT32, lib.TRITIUM_PRECISION_HIGH
    cases = [
        ("bad dtype", lambda: lib.tritium_matmul(9, HI, 32, 32, 32, vp(a), 32, 1, vp(b), 32, 1, vp(c), 32, 1,
                                                 ffi.NULL, 0, stream()), lib.TRITIUM_ERROR_INVALID_ENUM),
        ("negative k", lambda: lib.tritium_matmul(F32, HI, 32, 32, -1, vp(a), 32, 1, vp(b), 32, 1, vp(c), 32, 1,
                                                  ffi.NULL, 0, stream()), lib.TRITIUM_ERROR_INVALID_SIZE),
        ("c aliases a", lambda: lib.tritium_matmul(F32, HI, 32, 32, 32, vp(c), 32, 1, vp(b), 32, 1, vp(c), 32, 1,
                                                   ffi.NULL, 0, stream()), lib.TRITIUM_ERROR_INVALID_VALUE),
        ("c overlaps itself", lambda: lib.tritium_matmul(F32, HI, 32, 32, 32, vp(a), 32, 1, vp(b), 32, 1, vp(c), 1,
                                                         1, ffi.NULL, 0, stream()), lib.TRITIUM_ERROR_INVALID_STRIDE),
        ("null b", lambda: lib.tritium_matmul(F32, HI, 32, 32, 32, vp(a), 32, 1, ffi.NULL, 32, 1, vp(c), 32, 1,
                                              ffi.NULL, 0, stream()), lib.TRITIUM_ERROR_NULL_POINTER),
        ("triplet p = 0", lambda: lib.tritium_triplet_margin_loss(F32, 32, 32, vp(a), 32, vp(b), 32, vp(a), 32,
                                                                  1.0, 0.0, 1e-6, 0, 0, vp(c), ffi.NULL, ffi.NULL, 0,
                                                                  stream()), lib.TRITIUM_ERROR_INVALID_VALUE),
        ("triplet no workspace", lambda: lib.tritium_triplet_margin_loss(F32, 32, 32, vp(a), 32, vp(b), 32, vp(a),
                                                                         32, 1.0, 2.0, 1e-6, 0, 1, vp(c), ffi.NULL, ffi.NULL,
                                                                         0, stream()),
         lib.TRITIUM_ERROR_WORKSPACE_TOO_SMALL),
        ("triplet swap = 2", lambda: lib.tritium_triplet_margin_loss(F32, 32, 32, vp(a), 32, vp(b), 32, vp(a), 32,
                                                                     1.0, 2.0, 1e-6, 2, 0, vp(c), ffi.NULL, ffi.NULL, 0,
                                                                     stream()), lib.TRITIUM_ERROR_INVALID_VALUE),
    ]
    for what, call, want in cases:
        s = call()
        torch.cuda.synchronize()
        assert s == want, f"{what}: status {s}, wanted {want} ({last_error()})"
        assert last_error(), f"{what}: no detail message"
        assert torch.isnan(buf).all(), f"{what}: a rejected call wrote to the output"


def test_python_errors_name_the_argument():
    a = randn(4, 8)
    with pytest.raises(ValueError, match="positive must be a CUDA tensor"):
        tritium.triplet_margin_loss(a, a.cpu(), a)
    with pytest.raises(TypeError, match="negative has dtype"):
        tritium.triplet_margin_loss(a, a, a.half())
    with pytest.raises(ValueError, match="margin"):
        tritium.triplet_margin_loss(a, a, a, margin=0)
    with pytest.raises(ValueError, match="reduction"):
        tritium.triplet_margin_loss(a, a, a, reduction="max")
    with pytest.raises(ValueError, match="p must be"):
        tritium.triplet_margin_loss(a, a, a, p=0)
    with pytest.raises(ValueError, match="same number of dimensions"):
        tritium.triplet_margin_loss(randn(2, 4, 8), a, a)
    with pytest.raises(ValueError, match="do not broadcast"):
        tritium.triplet_margin_loss(a, randn(3, 8), a)
    with pytest.raises(ValueError, match="batched products"):
        tritium.matmul(a, randn(2, 8, 4))
    with pytest.raises(ValueError, match="at least one dimension"):
        tritium.matmul(a, randn(8)[0])


def test_forced_image_is_reported():
    """`python -m tritium info` names the image kind; under TRITIUM_FORCE_* it is the sm_89 PTX."""
    path = os.pathsep.join([str(Path(__file__).resolve().parents[1] / "python"), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, TRITIUM_FORCE_ARCH="89", TRITIUM_FORCE_PTX="1", PYTHONPATH=path)
    out = subprocess.run([sys.executable, "-m", "tritium", "info"], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert "ptx compute_89" in out, out
    forced = os.environ.get("TRITIUM_FORCE_PTX") == "1"
    env = dict(os.environ, PYTHONPATH=env["PYTHONPATH"])
    out = subprocess.run([sys.executable, "-m", "tritium", "info"], env=env, capture_output=True, text=True,
                         check=True).stdout
    print(out)
    assert ("ptx compute_89" in out) == forced, out


_PDL_SCRIPT = r"""
import torch, tritium
torch.manual_seed(0)
a, p, n = (torch.randn(4096, 512, device="cuda", requires_grad=True) for _ in range(3))
outs = []
for swap in (False, True):
    loss = tritium.triplet_margin_loss(a, p, n, swap=swap)
    outs += [loss.detach(), *torch.autograd.grad(loss, (a, p, n))]
    outs.append(tritium.triplet_margin_loss(a, p, n, reduction="none", swap=swap).detach())
torch.save([o.cpu() for o in outs], OUT)
"""


def test_pdl_launch_changes_no_bit(tmp_path):
    """The triplet kernels' sm_90 images are launched with programmatic dependent launch,
    each one's first instruction waiting on the kernel before it. Launched plainly
    (TRITIUM_NO_PDL=1) they must give the same bits: a missing or misplaced wait would let
    a kernel read partials, saved rows or inputs before they are written."""
    path = os.pathsep.join([str(Path(__file__).resolve().parents[1] / "python"), os.environ.get("PYTHONPATH", "")])
    results = []
    for no_pdl in ("0", "1"):
        out = tmp_path / f"pdl{no_pdl}.pt"
        env = dict(os.environ, TRITIUM_NO_PDL=no_pdl, PYTHONPATH=path)
        subprocess.run([sys.executable, "-c", _PDL_SCRIPT.replace("OUT", repr(str(out)))], env=env, check=True)
        results.append(torch.load(out))
    for i, (x, y) in enumerate(zip(*results)):
        assert torch.isfinite(x).all(), f"output {i} not finite"
        assert torch.equal(x, y), f"output {i} differs between PDL and plain launches"
