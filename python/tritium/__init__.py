"""tritium: Triton GPU kernels compiled ahead of time, behind a C ABI, called through cffi.

    import tritium
    loss = tritium.triplet_margin_loss(anchor, positive, negative, margin=1.0)
    c = tritium.matmul(a, b)            # follows torch.get_float32_matmul_precision()

PyTorch is optional (`pip install tritium[torch]`): the torch-facing functions are imported on
first use, so `import tritium` and `python -m tritium` work without it.
"""
from importlib import import_module as _import_module

__version__ = "0.1.0"

from ._lib import (TritiumArgumentError, TritiumDeviceError, TritiumError,  # noqa: E402
                   TritiumKernelError)

# public name -> the module defining it; these modules import torch
_TORCH_API = {"matmul": "._matmul", "triplet_margin_loss": "._triplet", "TripletMarginLoss": "._triplet"}

__all__ = ["matmul", "triplet_margin_loss", "TripletMarginLoss", "TritiumError",
           "TritiumArgumentError", "TritiumDeviceError", "TritiumKernelError", "__version__"]


def __getattr__(name):  # PEP 562: called only for names not (yet) bound here
    if name not in _TORCH_API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        modules = {m: _import_module(m, __name__) for m in dict.fromkeys(_TORCH_API.values())}
    except ModuleNotFoundError as e:
        if e.name != "torch":
            raise
        raise ImportError(f"tritium.{name} needs PyTorch, which is not installed: "
                          "pip install torch (or tritium[torch])", name="torch") from e
    # Bind them all at once. (The modules' names differ from the functions': importing a
    # submodule binds its name in this package, which for a module named `matmul` would
    # have made `tritium.matmul` that module for anyone who imported it first.)
    for n, m in _TORCH_API.items():
        globals()[n] = getattr(modules[m], n)
    return globals()[name]


def __dir__():
    return sorted(set(globals()) | set(_TORCH_API))
