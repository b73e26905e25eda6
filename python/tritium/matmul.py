"""tritium.matmul: C = A @ B for 1-D and 2-D CUDA tensors, by libtritium's kernels."""
import torch

from . import _torch
from ._lib import ffi, lib, check

_PRECISIONS = {"highest": lib.TRITIUM_PRECISION_HIGHEST, "high": lib.TRITIUM_PRECISION_HIGH,
               # torch's 'medium' allows bf16 internally; TF32 (rounded) is at least that accurate
               "medium": lib.TRITIUM_PRECISION_HIGH}


def matmul(a, b, *, precision=None):
    """a @ b like torch.matmul for 1-D and 2-D inputs of float32, float16 or bfloat16.

    fp32 uses `precision` ('highest': fp32 accuracy; 'high'/'medium': TF32 with operands
    rounded to nearest), or torch.get_float32_matmul_precision() when None. Any strides
    (transposed views included) are read in place; the result is a new contiguous tensor.
    """
    _torch.check_tensor("a", a)
    _torch.check_tensor("b", b, a.device, a.dtype)
    if precision is None:
        precision = torch.get_float32_matmul_precision()
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be 'highest', 'high' or 'medium', got {precision!r}")
    if a.dim() not in (1, 2) or b.dim() not in (1, 2):
        raise ValueError(f"a and b must be 1-D or 2-D, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    a2 = a.unsqueeze(0) if a.dim() == 1 else a
    b2 = b.unsqueeze(1) if b.dim() == 1 else b
    m, k = a2.shape
    if b2.shape[0] != k:
        raise ValueError(f"a {tuple(a.shape)} and b {tuple(b.shape)} cannot be multiplied: inner sizes "
                         f"{k} and {b2.shape[0]} differ")
    n = b2.shape[1]
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
                                 _torch.ptr(a2), a2.stride(0), a2.stride(1),
                                 _torch.ptr(b2), b2.stride(0), b2.stride(1),
                                 _torch.ptr(c), c.stride(0), c.stride(1),
                                 ws, ws_bytes, _torch.stream_of(a.device)), "matmul")
    if a.dim() == 1:
        c = c.squeeze(0)
    if b.dim() == 1:
        c = c.squeeze(-1)
    return c
