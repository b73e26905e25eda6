"""tritium.triplet_margin_loss / tritium.TripletMarginLoss: torch.nn.functional's
triplet_margin_loss, forward and backward, computed by libtritium's precompiled kernels."""
import math

import torch

from . import _torch
from ._lib import ffi, lib, check

_REDUCTIONS = {"none": lib.TRITIUM_REDUCTION_NONE, "mean": lib.TRITIUM_REDUCTION_MEAN,
               "sum": lib.TRITIUM_REDUCTION_SUM}
_NONE = lib.TRITIUM_REDUCTION_NONE


def _rows(t):
    """A 2-D input whose rows are unit-stride (1-D inputs are one row)."""
    if t.dim() == 1:
        t = t.unsqueeze(0)
    if t.stride(1) != 1 and t.shape[1] > 1:
        t = t.contiguous()  # the kernel walks each row with unit stride
    return t


def _forward(a, pos, neg, margin, p, eps, swap, red, want_saved):
    """Launch the forward; returns (loss, saved or None)."""
    n, d = a.shape
    device = a.device
    out = torch.empty(() if red != _NONE else (n,), dtype=a.dtype, device=device)
    saved = None
    size = ffi.new("size_t *")
    if want_saved:
        check(lib.tritium_triplet_margin_loss_saved_size(n, p, size), "triplet_margin_loss")
        saved = torch.empty(size[0] // 4, dtype=torch.float32, device=device)
    check(lib.tritium_triplet_margin_loss_workspace_size(n, d, red, size), "triplet_margin_loss")
    with _torch.on_device(device):
        ws, ws_bytes, _keep = _torch.workspace(size[0], device)
        check(lib.tritium_triplet_margin_loss(
            _torch.DTYPES[a.dtype], n, d, _torch.ptr(a), a.stride(0), _torch.ptr(pos), pos.stride(0),
            _torch.ptr(neg), neg.stride(0), margin, p, eps, swap, red, _torch.ptr(out),
            _torch.ptr(saved) if saved is not None else ffi.NULL, ws, ws_bytes,
            _torch.stream_of(device)), "triplet_margin_loss")
    return out, saved


def _backward(a, pos, neg, saved, grad_out, p, eps, swap, red, needs):
    """Launch the backward; returns the gradients of a, pos, neg (None where not needed)."""
    n, d = a.shape
    if grad_out.dtype != a.dtype:
        grad_out = grad_out.to(a.dtype)
    grads = [torch.empty((n, d), dtype=a.dtype, device=a.device) if need else None for need in needs]
    gptr = [(_torch.ptr(g), d) if g is not None else (ffi.NULL, 0) for g in grads]
    with _torch.on_device(a.device):
        check(lib.tritium_triplet_margin_loss_backward(
            _torch.DTYPES[a.dtype], n, d, _torch.ptr(a), a.stride(0), _torch.ptr(pos), pos.stride(0),
            _torch.ptr(neg), neg.stride(0), p, eps, swap, red,
            _torch.ptr(grad_out), grad_out.stride(0) if grad_out.dim() else 0, _torch.ptr(saved),
            gptr[0][0], gptr[0][1], gptr[1][0], gptr[1][1], gptr[2][0], gptr[2][1],
            _torch.stream_of(a.device)), "triplet_margin_loss backward")
    return grads


class _TripletMarginLoss(torch.autograd.Function):
    """autograd node: the forward saves per-row values, the backward reads a, p, n once."""

    @staticmethod
    def forward(ctx, a, pos, neg, margin, p, eps, swap, red):
        out, saved = _forward(a, pos, neg, margin, p, eps, swap, red, True)
        ctx.save_for_backward(a, pos, neg, saved)
        ctx.args = (p, eps, swap, red)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        a, pos, neg, saved = ctx.saved_tensors
        ga, gp, gn = _backward(a, pos, neg, saved, grad_out, *ctx.args, ctx.needs_input_grad[:3])
        return ga, gp, gn, None, None, None, None, None


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """Same arguments and result as torch.nn.functional.triplet_margin_loss, with autograd.

    Inputs are (N, D) or (D,) CUDA tensors of float32, float16 or bfloat16 (broadcast
    against each other like PyTorch does); the loss is accumulated in fp32 and returned in
    the input dtype. 'mean' and 'sum' are deterministic, and so is the backward.
    """
    if size_average is not None or reduce is not None:
        reduction = torch.nn._reduction.legacy_get_string(size_average, reduce)
    red = _REDUCTIONS.get(reduction)
    if red is None:
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    _torch.check_tensor("anchor", anchor)
    _torch.check_tensor("positive", positive, anchor.device, anchor.dtype)
    _torch.check_tensor("negative", negative, anchor.device, anchor.dtype)
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if dims[0] not in (1, 2) or dims[1] != dims[0] or dims[2] != dims[0]:
        raise ValueError(f"anchor, positive and negative must all be 1-D or all 2-D, got dims {dims}")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    p = float(p)
    if not p > 0:
        raise ValueError(f"p must be > 0 (p = inf allowed), got {p}")
    if not math.isfinite(eps):
        raise ValueError(f"eps must be finite, got {eps}")
    a, pos, neg = anchor, positive, negative
    if not (a.shape == pos.shape == neg.shape):
        try:
            a, pos, neg = torch.broadcast_tensors(a, pos, neg)
        except RuntimeError as e:
            raise ValueError(f"anchor {tuple(anchor.shape)}, positive {tuple(positive.shape)} and negative "
                             f"{tuple(negative.shape)} do not broadcast: {e}") from None
    one_d = a.dim() == 1
    a, pos, neg = _rows(a), _rows(pos), _rows(neg)
    args = (float(margin), p, float(eps), 1 if swap else 0, red)
    if torch.is_grad_enabled() and (a.requires_grad or pos.requires_grad or neg.requires_grad):
        out = _TripletMarginLoss.apply(a, pos, neg, *args)
    else:
        out = _forward(a, pos, neg, *args, False)[0]
    return out[0] if one_d and red == _NONE else out


class TripletMarginLoss(torch.nn.Module):
    """Drop-in for torch.nn.TripletMarginLoss, computed by tritium."""

    __constants__ = ["margin", "p", "eps", "swap", "reduction"]

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = torch.nn._reduction.legacy_get_string(size_average, reduce)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead")
        self.margin, self.p, self.eps, self.swap, self.reduction = margin, p, eps, swap, reduction

    def forward(self, anchor, positive, negative):
        return triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                   swap=self.swap, reduction=self.reduction)
