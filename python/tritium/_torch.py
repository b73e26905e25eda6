"""What the torch-facing wrappers share: the `tritium` custom-op library, dtype mapping,
checks that name the argument, the current stream, and workspace allocation."""
import torch

from ._lib import ffi, lib

# torch.ops.tritium.*: each op's schema is defined and its CUDA kernel registered next to its
# wrapper (_triplet.py, _matmul.py), with a fake implementation and autograd.
LIBRARY = torch.library.Library("tritium", "DEF")


def define(schema):
    LIBRARY.define(schema)


def impl(name):
    """Decorator: `fn` is the CUDA implementation of torch.ops.tritium.<name>."""
    def register(fn):
        LIBRARY.impl(name, fn, "CUDA")
        return fn
    return register


def eager(*tensors):
    """True when a wrapper may call a kernel's implementation directly rather than through its
    torch.ops entry: plain tensors, and nothing tracing, transforming or intercepting calls
    (torch.compile, make_fx and export, fake tensors, torch.func, dispatch or function modes).
    The dispatcher's op and autograd layers cost tens of µs of host time per call, more than
    a small kernel runs; everything that traces still sees the ops."""
    for t in tensors:
        if type(t) not in _PLAIN:
            return False
    return (not torch.compiler.is_compiling() and torch._C._len_torch_dispatch_stack() == 0
            and torch._C._len_torch_function_stack() == 0 and not torch._C._are_functorch_transforms_active())


_PLAIN = (torch.Tensor, torch.nn.Parameter)

DTYPES = {torch.float32: lib.TRITIUM_FLOAT32, torch.float16: lib.TRITIUM_FLOAT16,
          torch.bfloat16: lib.TRITIUM_BFLOAT16}


def check_tensor(name, t, device=None, dtype=None):
    """A CUDA tensor of a supported dtype (matching `device`/`dtype` when given)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cuda":
        raise ValueError(f"{name} must be a CUDA tensor, got device {t.device}")
    if t.dtype not in DTYPES:
        raise TypeError(f"{name} has dtype {t.dtype}; tritium supports float32, float16 and bfloat16")
    if device is not None and t.device != device:
        raise ValueError(f"{name} is on {t.device}, expected {device} like the first input")
    if dtype is not None and t.dtype != dtype:
        raise TypeError(f"{name} has dtype {t.dtype}, expected {dtype} like the first input")


def stream_of(device):
    """The current torch stream of `device` (a CUDA device with its index, as a tensor's
    .device has), as the C API's stream argument. The raw handle, as Triton's launcher
    takes it: torch.cuda.current_stream(device).cuda_stream builds a Stream object each
    call, 3.5 us of host time (H200 host) where this takes 0.2."""
    return ffi.cast("struct CUstream_st *", torch._C._cuda_getCurrentRawStream(device.index))


def ptr(t):
    return ffi.cast("void *", t.data_ptr())


def workspace(nbytes, device):
    """(pointer, size, tensor keeping it alive) for a workspace of `nbytes` bytes."""
    if nbytes == 0:
        return ffi.NULL, 0, None
    buf = torch.empty(nbytes, dtype=torch.uint8, device=device)
    return ptr(buf), nbytes, buf


class on_device:
    """Make `device` current for a call (the C API takes the stream's context; torch's
    default stream is the legacy one, which means the current context)."""

    def __init__(self, device):
        self.device = device
        self.prev = None

    def __enter__(self):
        current = torch._C._cuda_getDevice()  # torch.cuda.current_device() without its lazy-init check
        if current != self.device.index:
            self.prev = current
            torch.cuda.set_device(self.device)
        return self

    def __exit__(self, *exc):
        if self.prev is not None:
            torch.cuda.set_device(self.prev)
        return False
