"""tritium: Triton GPU kernels compiled ahead of time, behind a C ABI, called through cffi.

    import tritium
    loss = tritium.triplet_margin_loss(anchor, positive, negative, margin=1.0)
    c = tritium.matmul(a, b)            # follows torch.get_float32_matmul_precision()
"""
__version__ = "0.1.0"

from ._lib import (TritiumArgumentError, TritiumDeviceError, TritiumError,  # noqa: E402
                   TritiumKernelError)
from .matmul import matmul  # noqa: E402
from .triplet import TripletMarginLoss, triplet_margin_loss  # noqa: E402

__all__ = ["matmul", "triplet_margin_loss", "TripletMarginLoss", "TritiumError",
           "TritiumArgumentError", "TritiumDeviceError", "TritiumKernelError", "__version__"]
