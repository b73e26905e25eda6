"""tritium.matmul: C = A @ B for CUDA tensors (A of any number of dimensions, B 1-D or 2-D),
by libtritium's kernels.

The kernel is the custom op `torch.ops.tritium.matmul(a, b, precision)` on 2-D tensors, with a
fake implementation and autograd (its gradients are tritium matmuls at the same precision)."""
import math

import torch

from . import _torch
from ._lib import ffi, lib, check

_PRECISIONS = {"highest": lib.TRITIUM_PRECISION_HIGHEST, "high": lib.TRITIUM_PRECISION_HIGH,
               # torch's 'medium' allows bf16 internally; TF32 (rounded) is at least that accurate
               "medium": lib.TRITIUM_PRECISION_HIGH}

_torch.define("matmul(Tensor a, Tensor b, str precision) -> Tensor")


@_torch.impl("matmul")
def _matmul(a, b, precision):
    m, k = a.shape
    n = b.shape[1]
    c = torch.empty((m, n), dtype=a.dtype, device=a.device)
    dtype, prec = _torch.DTYPES[a.dtype], _PRECISIONS[precision]
    need = ffi.new("size_t *")
    check(lib.tritium_matmul_workspace_size(dtype, prec, m, n, k, need), "matmul")
    with _torch.on_device(a.device):
        try:
            ws, ws_bytes, _keep = _torch.workspace(need[0], a.device)
        except torch.OutOfMemoryError:  # the library then takes a path that needs none
            ws, ws_bytes, _keep = _torch.workspace(0, a.device)
        check(lib.tritium_matmul(dtype, prec, m, n, k,
                                 _torch.ptr(a), a.stride(0), a.stride(1),
                                 _torch.ptr(b), b.stride(0), b.stride(1),
                                 _torch.ptr(c), c.stride(0), c.stride(1),
                                 ws, ws_bytes, _torch.stream_of(a.device)), "matmul")
    return c


@torch.library.register_fake("tritium::matmul")
def _matmul_fake(a, b, precision):
    return a.new_empty((a.shape[0], b.shape[1]))


def _setup_context(ctx, inputs, output):
    a, b, precision = inputs
    ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)
    ctx.precision = precision


def _autograd_backward(ctx, grad):
    a, b = ctx.saved_tensors
    grad_a = _mm(grad, b.t(), ctx.precision) if ctx.needs_input_grad[0] else None
    grad_b = _mm(a.t(), grad, ctx.precision) if ctx.needs_input_grad[1] else None
    return grad_a, grad_b, None


torch.library.register_autograd("tritium::matmul", _autograd_backward, setup_context=_setup_context)


class _Eager(torch.autograd.Function):
    """The op's autograd (same setup and backward) without the dispatcher, for eager calls."""

    @staticmethod
    def forward(ctx, a, b, precision):
        c = _matmul(a, b, precision)
        _setup_context(ctx, (a, b, precision), c)
        return c

    backward = staticmethod(_autograd_backward)


def _mm(a, b, precision):
    """torch.ops.tritium.matmul, or in eager mode the same without the dispatcher (the backward
    calls this too, so a backward with create_graph=True is differentiable in turn)."""
    if not _torch.eager(a, b):
        return torch.ops.tritium.matmul(a, b, precision)
    if torch.is_grad_enabled() and (a.requires_grad or b.requires_grad):
        return _Eager.apply(a, b, precision)
    return _matmul(a, b, precision)


@torch.compiler.assume_constant_result
def _default_precision():
    """torch's fp32 matmul precision; under torch.compile it is read when the graph is traced
    (Dynamo cannot put the call itself in a graph)."""
    return torch.get_float32_matmul_precision()


def matmul(a, b, *, precision=None):
    """a @ b like torch.matmul, for inputs of float32, float16 or bfloat16, with autograd.

    a is 1-D, 2-D or has leading batch dimensions, which are folded into the rows of one
    product as torch.matmul folds them (a (B, S, K) input times a (K, N) weight gives
    (B, S, N); a view where their strides allow one, else a copy, as torch.reshape);
    b is 1-D or 2-D (batched products, b with batch dimensions, raise a ValueError).

    fp32 uses `precision` ('highest': fp32 accuracy; 'high'/'medium': TF32 with operands
    rounded to nearest), or torch.get_float32_matmul_precision() when None. Any strides
    (transposed views included) are read in place; the result is a new contiguous tensor.
    """
    _torch.check_tensor("a", a)
    _torch.check_tensor("b", b, a.device, a.dtype)
    if precision is None:
        precision = _default_precision()
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be 'highest', 'high' or 'medium', got {precision!r}")
    if a.dim() < 1 or b.dim() < 1:
        raise ValueError(f"a and b must have at least one dimension, got shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if b.dim() > 2:
        raise ValueError(f"b must be 1-D or 2-D (batched products are not supported), got shape {tuple(b.shape)}")
    # a's leading dimensions are rows of one product, as torch.matmul folds them
    lead = a.shape[:-1]
    a2 = a if a.dim() == 2 else a.reshape(math.prod(lead), a.shape[-1])
    b2 = b.unsqueeze(1) if b.dim() == 1 else b
    if b2.shape[0] != a2.shape[1]:
        raise ValueError(f"a {tuple(a.shape)} and b {tuple(b.shape)} cannot be multiplied: inner sizes "
                         f"{a2.shape[1]} and {b2.shape[0]} differ")
    c = _mm(a2, b2, precision)
    return c if a.dim() == 2 and b.dim() == 2 else c.reshape(lead + b.shape[1:])
