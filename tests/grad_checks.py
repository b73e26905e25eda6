"""The gradient check shared by the interpreter and GPU tests of the triplet backward."""
import math

import torch

# fp32 compute noise, relative to the size of the terms that can cancel into an element
GRAD_ROW_TOL = 2e-6


def hinge_ambiguous_rows(a, p, n, margin, norm_p, eps, swap, rel=1e-5):
    """Rows whose hinge (or swap choice) the fp32 distances may decide unlike fp64: the
    fp64 margin + d_ap - d_neg (or d_an - d_pn) within `rel` of the distances' size. Both
    answers are right there; exact ties (identical rows) are not ambiguous."""
    pd = torch.nn.functional.pairwise_distance
    a, p, n = a.double(), p.double(), n.double()
    if a.shape[-1] == 0:
        return torch.zeros(a.shape[0], dtype=torch.bool, device=a.device)
    d_ap, d_an = pd(a, p, p=norm_p, eps=eps), pd(a, n, p=norm_p, eps=eps)
    d_neg, size = d_an, d_ap + d_an
    close = torch.zeros_like(d_ap, dtype=torch.bool)
    if swap:
        d_pn = pd(p, n, p=norm_p, eps=eps)
        close = ((d_an - d_pn).abs() <= rel * (d_an + d_pn)) & (d_an != d_pn)
        d_neg = torch.minimum(d_an, d_pn)
    return close | ((margin + d_ap - d_neg).abs() <= rel * size)


def check_grads(got, ref, dtype, tol, names=("anchor", "positive", "negative"), skip_rows=None):
    """Each gradient element within `tol` (relative) of its fp64 reference, plus
    GRAD_ROW_TOL of the row's largest reference element over all the gradients given
    (a gradient element sums terms of that size, which may cancel to 0), plus one
    subnormal step (fp16 gradients can be that small). Every element must have been
    written (no NaN poison left); where the reference overflows the dtype, the same inf
    (within `tol` of the overflow, inf or the largest finite value).
    Rows in `skip_rows` (see hinge_ambiguous_rows) are only checked for being written."""
    fi = torch.finfo(dtype)
    # rows are vectors along the last dimension: a 1-D input is one row, an N-D one's
    # leading dimensions are rows
    got, ref = ([t if t.dim() == 2 else t.reshape(math.prod(t.shape[:-1]), t.shape[-1] if t.dim() else 1)
                 for t in ts] for ts in (got, ref))
    rowmaxes = [r.abs().amax(dim=1) if r.numel() else r.new_zeros(r.shape[0]) for r in ref]
    if len({m.shape for m in rowmaxes}) == 1:  # rows line up (no broadcast input): share the row scale
        rowmaxes = [torch.stack(rowmaxes).amax(0)] * len(ref)
    for g, r, name, rowmax in zip(got, ref, names, rowmaxes):
        g64 = g.double()
        assert g.shape == r.shape, f"grad {name}: shape {tuple(g.shape)}, expected {tuple(r.shape)}"
        unwritten = torch.isnan(g64) & ~torch.isnan(r)
        assert not unwritten.any(), f"grad {name}: not written at {unwritten.nonzero()[:8].tolist()}"
        over = r.abs() > fi.max
        # within `tol` of the largest finite value, rounding error decides between it and
        # inf: either is right there, with the reference's sign
        edge = (r.abs() - fi.max).abs() <= tol * fi.max
        edge_ok = (torch.isinf(g64) | (g64.abs() == fi.max)) & (torch.sign(g64) == torch.sign(r))
        far = over & ~edge
        wrong = far & (g64 != r.to(dtype).double())
        assert not wrong.any(), (f"grad {name}: overflow not rounded to inf at {wrong.nonzero()[:8].tolist()}: got "
                                 f"{g64[wrong][:8].tolist()}, ref {r[wrong][:8].tolist()}")
        bound = tol * r.abs() + GRAD_ROW_TOL * rowmax[:, None] + fi.smallest_normal * fi.eps
        bad = ((g64 - r).abs() > bound) & ~far & ~(edge & edge_ok)
        if skip_rows is not None:
            bad &= ~skip_rows.reshape(-1, 1)
        assert not bad.any(), (f"grad {name} at {bad.nonzero()[:8].tolist()}: got {g64[bad][:8].tolist()}, "
                               f"ref {r[bad][:8].tolist()}")
