"""tritium.triplet_margin_loss / tritium.TripletMarginLoss: torch.nn.functional's
triplet_margin_loss, forward and backward, computed by libtritium's precompiled kernels.

The kernels are the custom ops `torch.ops.tritium.triplet_margin_loss` (returns the loss and
per-row values saved for the backward) and `torch.ops.tritium.triplet_margin_loss_backward`,
with fake implementations and registered autograd, so torch.compile(fullgraph=True), CUDA
graph capture and autograd all see them as single ops. The public function does the Python
side (argument checks, broadcasting, inputs of other than two dimensions) with ordinary torch operations."""
import math

import torch

from . import _torch
from ._lib import ffi, lib, check

_REDUCTIONS = {"none": lib.TRITIUM_REDUCTION_NONE, "mean": lib.TRITIUM_REDUCTION_MEAN,
               "sum": lib.TRITIUM_REDUCTION_SUM}


def _rows(t, rows, d):
    """t as a rows x d matrix whose rows are unit-stride: a 2-D input as it is (its row
    stride is passed through, 0 for a broadcast row), a 0-D or 1-D input as one row, an
    N-D one with its leading dimensions flattened into rows (a view where torch can make
    one, as torch.reshape)."""
    if t.dim() != 2:
        t = t.reshape(rows, d)
    if t.stride(1) != 1 and t.shape[1] > 1:
        t = t.contiguous()  # the kernel walks each row with unit stride
    return t


def _saved_width(p):
    """fp32 values per row in the forward's `saved` output (the C size query, for one row)."""
    size = ffi.new("size_t *")
    check(lib.tritium_triplet_margin_loss_saved_size(1, p, size), "triplet_margin_loss")
    return size[0] // 4


_torch.define("triplet_margin_loss(Tensor anchor, Tensor positive, Tensor negative, float margin, float p, "
              "float eps, bool swap, str reduction, bool save) -> (Tensor, Tensor)")


def _launch(a, pos, neg, margin, p, eps, swap, reduction, saved):
    """The loss of 2-D inputs, writing the per-row values the backward reads into `saved`
    when it is a tensor (None: nothing saved)."""
    n, d = a.shape
    red = _REDUCTIONS[reduction]
    device = a.device
    out = torch.empty((n,) if red == lib.TRITIUM_REDUCTION_NONE else (), dtype=a.dtype, device=device)
    size = ffi.new("size_t *")
    check(lib.tritium_triplet_margin_loss_workspace_size(n, d, red, size), "triplet_margin_loss")
    with _torch.on_device(device):
        ws, ws_bytes, _keep = _torch.workspace(size[0], device)
        check(lib.tritium_triplet_margin_loss(
            _torch.DTYPES[a.dtype], n, d, _torch.ptr(a), a.stride(0), _torch.ptr(pos), pos.stride(0),
            _torch.ptr(neg), neg.stride(0), margin, p, eps, 1 if swap else 0, red, _torch.ptr(out),
            ffi.NULL if saved is None else _torch.ptr(saved), ws, ws_bytes,
            _torch.stream_of(device)), "triplet_margin_loss")
    return out


@_torch.impl("triplet_margin_loss")
def _forward(a, pos, neg, margin, p, eps, swap, reduction, save):
    """The loss, and (when `save`) the per-row values the backward reads (else an empty tensor)."""
    saved = torch.empty((a.shape[0], _saved_width(p)) if save else (0,), dtype=torch.float32, device=a.device)
    return _launch(a, pos, neg, margin, p, eps, swap, reduction, saved if save else None), saved


@torch.library.register_fake("tritium::triplet_margin_loss")
def _forward_fake(a, pos, neg, margin, p, eps, swap, reduction, save):
    n = a.shape[0]
    out = a.new_empty((n,) if reduction == "none" else ())
    return out, a.new_empty((n, _saved_width(p)) if save else (0,), dtype=torch.float32)


_torch.define("triplet_margin_loss_backward(Tensor grad_out, Tensor anchor, Tensor positive, Tensor negative, "
              "Tensor saved, float p, float eps, bool swap, str reduction, bool[3] needs) "
              "-> (Tensor, Tensor, Tensor)")


def _grads_like(a, needs):
    """The three gradient outputs: (n, d) where needed, empty where not."""
    return [torch.empty_like(a, memory_format=torch.contiguous_format) if need else a.new_empty((0,))
            for need in needs]


@_torch.impl("triplet_margin_loss_backward")
def _backward(grad_out, a, pos, neg, saved, p, eps, swap, reduction, needs):
    """Gradients of a, pos, neg in one pass (an empty tensor for those not in `needs`)."""
    n, d = a.shape
    if saved.dim() != 2 or saved.shape[0] != n:
        raise ValueError("saved must be the forward's saved output (the forward ran with save=False)")
    if grad_out.dtype != a.dtype:
        grad_out = grad_out.to(a.dtype)
    grads = _grads_like(a, needs)
    gptr = [(_torch.ptr(g), d) if need else (ffi.NULL, 0) for g, need in zip(grads, needs)]
    with _torch.on_device(a.device):
        check(lib.tritium_triplet_margin_loss_backward(
            _torch.DTYPES[a.dtype], n, d, _torch.ptr(a), a.stride(0), _torch.ptr(pos), pos.stride(0),
            _torch.ptr(neg), neg.stride(0), p, eps, 1 if swap else 0, _REDUCTIONS[reduction],
            _torch.ptr(grad_out), grad_out.stride(0) if grad_out.dim() else 0, _torch.ptr(saved),
            gptr[0][0], gptr[0][1], gptr[1][0], gptr[1][1], gptr[2][0], gptr[2][1],
            _torch.stream_of(a.device)), "triplet_margin_loss backward")
    return tuple(grads)


@torch.library.register_fake("tritium::triplet_margin_loss_backward")
def _backward_fake(grad_out, a, pos, neg, saved, p, eps, swap, reduction, needs):
    return tuple(_grads_like(a, needs))


def _setup_context(ctx, inputs, output):
    a, pos, neg, _margin, p, eps, swap, reduction, _save = inputs
    ctx.save_for_backward(a, pos, neg, output[1])
    ctx.mark_non_differentiable(output[1])
    ctx.set_materialize_grads(False)  # no zeros for the saved output's (absent) gradient
    ctx.args = (p, eps, swap, reduction)


def _autograd_backward(ctx, grad_out, _grad_saved):
    a, pos, neg, saved = ctx.saved_tensors
    needs = list(ctx.needs_input_grad[:3])
    backward = _backward if _torch.eager(grad_out, a) else torch.ops.tritium.triplet_margin_loss_backward
    grads = backward(grad_out, a, pos, neg, saved, *ctx.args, needs)
    return tuple(g if need else None for g, need in zip(grads, needs)) + (None,) * 6


torch.library.register_autograd("tritium::triplet_margin_loss", _autograd_backward, setup_context=_setup_context)


class _Eager(torch.autograd.Function):
    """The op's autograd (same setup and backward) without the dispatcher, for eager calls."""

    @staticmethod
    def forward(ctx, *args):
        out = _forward(*args)
        _setup_context(ctx, args, out)
        return out

    backward = staticmethod(_autograd_backward)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """Same arguments and result as torch.nn.functional.triplet_margin_loss, with autograd.

    Inputs are CUDA tensors of float32, float16 or bfloat16 with the same number of
    dimensions, broadcast against each other as PyTorch does: (N, D), (D,), or (..., D),
    whose loss with reduction='none' has the leading shape (...) (0-D inputs are one
    value each, as in PyTorch); the loss is accumulated in fp32 and returned in
    the input dtype. 'mean' and 'sum' are deterministic, and so is the backward.
    """
    if size_average is not None or reduce is not None:
        reduction = torch.nn._reduction.legacy_get_string(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    _torch.check_tensor("anchor", anchor)
    _torch.check_tensor("positive", positive, anchor.device, anchor.dtype)
    _torch.check_tensor("negative", negative, anchor.device, anchor.dtype)
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if dims[1] != dims[0] or dims[2] != dims[0]:
        raise ValueError(f"anchor, positive and negative must have the same number of dimensions, got {dims}")
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
    # the loss is per vector along the last dimension: the leading ones are rows
    lead = a.shape[:-1]
    d = a.shape[-1] if a.dim() else 1
    rows = math.prod(lead)
    a, pos, neg = _rows(a, rows, d), _rows(pos, rows, d), _rows(neg, rows, d)
    save = torch.is_grad_enabled() and (a.requires_grad or pos.requires_grad or neg.requires_grad)
    args = (a, pos, neg, float(margin), p, float(eps), bool(swap), reduction, save)
    if not _torch.eager(a, pos, neg):
        out = torch.ops.tritium.triplet_margin_loss(*args)[0]
    elif save:
        out = _Eager.apply(*args)[0]
    else:  # no autograd, no op outputs to fill: the loss alone
        out = _launch(*args[:-1], None)
    return out.reshape(lead) if reduction == "none" else out


class TripletMarginLoss(torch.nn.TripletMarginLoss):
    """Drop-in for torch.nn.TripletMarginLoss (same constructor, attributes, state dict and
    call, and an instance of it), computed by tritium."""

    def forward(self, anchor, positive, negative):
        return triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                   swap=self.swap, reduction=self.reduction)
