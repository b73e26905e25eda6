"""The cffi binding: loads the extension, checks its version, maps statuses to exceptions."""
from . import __version__

try:
    from ._ffi import ffi, lib
except ImportError as e:  # pragma: no cover - depends on the build
    raise ImportError(
        "tritium's native library is not built: run `./dev setup` (or cmake) first "
        f"({e})") from e


class TritiumError(RuntimeError):
    """A tritium call failed; `status` is the tritium_status value, `detail` the library's message."""

    def __init__(self, message, status=None, detail=""):
        super().__init__(message)
        self.status = status
        self.detail = detail


class TritiumArgumentError(TritiumError, ValueError):
    """The library rejected an argument (status 100-199); nothing was launched."""


class TritiumDeviceError(TritiumError):
    """No driver, no device, or a driver failure (status 200-299)."""


class TritiumKernelError(TritiumError):
    """No kernel image for the device, an image failed to load, or a launch failed (300-499)."""


def _error_class(status):
    if 100 <= status < 200:
        return TritiumArgumentError
    if 200 <= status < 300:
        return TritiumDeviceError
    if 300 <= status < 500:
        return TritiumKernelError
    return TritiumError


def check(status, what):
    """Raise the exception for a failed status; `what` names the call."""
    if status != 0:
        detail = ffi.string(lib.tritium_last_error()).decode(errors="replace")
        name = ffi.string(lib.tritium_status_string(status)).decode()
        raise _error_class(status)(f"{what}: {name} ({status}): {detail}", status, detail)


def _check_version():
    binding = ffi.string(lib.tritium_binding_version).decode()
    library = ffi.string(lib.tritium_version_string()).decode()
    if not (binding == library == __version__):
        raise ImportError(
            f"tritium version mismatch: Python package {__version__}, cffi binding {binding}, "
            f"libtritium {library}; rebuild with `./dev setup`")


_check_version()
