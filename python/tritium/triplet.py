"""tritium.triplet_margin_loss / tritium.TripletMarginLoss: torch.nn.functional's
triplet_margin_loss, computed by libtritium's precompiled kernels."""
import math

import torch

from . import _torch
from ._lib import ffi, lib, check

_REDUCTIONS = {"none": lib.TRITIUM_REDUCTION_NONE, "mean": lib.TRITIUM_REDUCTION_MEAN,
               "sum": lib.TRITIUM_REDUCTION_SUM}


def _rows(t):
    """(rows, row stride) of a 1-D or 2-D input whose last dim is unit-stride."""
    if t.dim() == 1:
        t = t.unsqueeze(0)
    if t.stride(1) != 1 and t.shape[1] > 1:
        t = t.contiguous()  # the kernel walks each row with unit stride
    return t, t.stride(0)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """Same arguments and result as torch.nn.functional.triplet_margin_loss.

    Inputs are (N, D) or (D,) CUDA tensors of float32, float16 or bfloat16 (broadcast
    against each other like PyTorch does); the loss is accumulated in fp32 and returned in
    the input dtype. 'mean' and 'sum' are deterministic.
    """
    if size_average is not None or reduce is not None:
        reduction = torch.nn._reduction.legacy_get_string(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    _torch.check_tensor("anchor", anchor)
    _torch.check_tensor("positive", positive, anchor.device, anchor.dtype)
    _torch.check_tensor("negative", negative, anchor.device, anchor.dtype)
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if dims[0] not in (1, 2) or len(set(dims)) != 1:
        raise ValueError(f"anchor, positive and negative must all be 1-D or all 2-D, got dims {dims}")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    p = float(p)
    if not p > 0:
        raise ValueError(f"p must be > 0 (p = inf allowed), got {p}")
    if not math.isfinite(eps):
        raise ValueError(f"eps must be finite, got {eps}")
    try:
        a, pos, neg = torch.broadcast_tensors(anchor, positive, negative)
    except RuntimeError as e:
        raise ValueError(f"anchor {tuple(anchor.shape)}, positive {tuple(positive.shape)} and negative "
                         f"{tuple(negative.shape)} do not broadcast: {e}") from None
    one_d = a.dim() == 1
    (a, sa), (pos, sp), (neg, sn) = _rows(a), _rows(pos), _rows(neg)
    n, d = a.shape
    red = _REDUCTIONS[reduction]
    device = a.device
    out = torch.empty(() if (red != lib.TRITIUM_REDUCTION_NONE or one_d) else (n,), dtype=a.dtype, device=device)
    need = ffi.new("size_t *")
    check(lib.tritium_triplet_margin_loss_workspace_size(n, d, red, need), "triplet_margin_loss")
    with _torch.on_device(device):
        ws, ws_bytes, _keep = _torch.workspace(need[0], device)
        check(lib.tritium_triplet_margin_loss(
            _torch.DTYPES[a.dtype], n, d, _torch.ptr(a), sa, _torch.ptr(pos), sp, _torch.ptr(neg), sn,
            float(margin), p, float(eps), 1 if swap else 0, red,
            _torch.ptr(out), ws, ws_bytes, _torch.stream_of(device)), "triplet_margin_loss")
    return out


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
