"""The gradient check shared by the interpreter and GPU tests of the triplet backward."""
import torch

# fp32 compute noise, relative to the size of the terms that can cancel into an element
GRAD_ROW_TOL = 2e-6


def check_grads(got, ref, dtype, tol, names=("anchor", "positive", "negative")):
    """Each gradient element within `tol` (relative) of its fp64 reference, plus
    GRAD_ROW_TOL of the row's largest reference element over all the gradients given
    (a gradient element sums terms of that size, which may cancel to 0), plus one
    subnormal step (fp16 gradients can be that small). Every element must have been
    written (no NaN poison left); where the reference overflows the dtype, the same inf."""
    fi = torch.finfo(dtype)
    got = [g.reshape(1, -1) if g.dim() == 1 else g for g in got]  # a 1-D input is one row
    ref = [r.reshape(1, -1) if r.dim() == 1 else r for r in ref]
    rowmaxes = [r.abs().amax(dim=1) if r.numel() else r.new_zeros(r.shape[0]) for r in ref]
    if len({m.shape for m in rowmaxes}) == 1:  # rows line up (no broadcast input): share the row scale
        rowmaxes = [torch.stack(rowmaxes).amax(0)] * len(ref)
    for g, r, name, rowmax in zip(got, ref, names, rowmaxes):
        g64 = g.double()
        assert g.shape == r.shape, f"grad {name}: shape {tuple(g.shape)}, expected {tuple(r.shape)}"
        unwritten = torch.isnan(g64) & ~torch.isnan(r)
        assert not unwritten.any(), f"grad {name}: not written at {unwritten.nonzero()[:8].tolist()}"
        over = r.abs() > fi.max
        assert (g64[over] == r[over].to(dtype).double()).all(), f"grad {name}: overflow not rounded to inf"
        bound = tol * r.abs() + GRAD_ROW_TOL * rowmax[:, None] + fi.smallest_normal * fi.eps
        bad = ((g64 - r).abs() > bound) & ~over
        assert not bad.any(), (f"grad {name} at {bad.nonzero()[:8].tolist()}: got {g64[bad][:8].tolist()}, "
                               f"ref {r[bad][:8].tolist()}")
