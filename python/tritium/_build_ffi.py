#!/usr/bin/env python3
"""Build tritium's cffi extension (API mode) against include/tritium.h.

The cdef is derived from the header itself (declarations between the extern "C" braces,
preprocessor lines dropped, enum values left to the compiler), and the extension is
compiled against the real header, so any drift between them fails the build.
By default the shared library is copied beside the extension, which finds it through
$ORIGIN; a wheel instead installs it in lib/ and builds with --rpath '$ORIGIN/lib' --no-copy.

cffi's generated C defines Py_LIMITED_API (no minimum version: the stable ABI) unless the
Python is a debug or free-threaded build, so the module is named _ffi.abi3.so, which every
CPython 3 imports; the wheel is tagged cp39-abi3 accordingly.
"""
import argparse
import re
import shutil
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADER = ROOT / "include" / "tritium.h"


def cdef_from_header(text):
    body = text.split('extern "C" {', 1)[1].rsplit("#ifdef __cplusplus", 1)[0]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    lines = [l for l in body.splitlines() if not l.lstrip().startswith("#")]
    body = "\n".join(lines).replace("TRITIUM_API ", "")
    body = re.sub(r"=\s*-?\d+", "= ...", body)  # enum values: from the compiler
    return body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, type=Path, help="path of the built libtritium.so")
    ap.add_argument("--out", required=True, type=Path, help="the tritium package directory")
    ap.add_argument("--tmp", required=True, type=Path)
    ap.add_argument("--rpath", default="$ORIGIN", help="where the extension looks for libtritium")
    ap.add_argument("--no-copy", action="store_true", help="do not copy libtritium beside the extension")
    args = ap.parse_args()
    import cffi

    lib = args.lib.resolve()
    soname = None
    for cand in lib.parent.glob("libtritium.so.*"):
        if cand.name.count(".") == 2:  # libtritium.so.<major>
            soname = cand.name
    soname = soname or lib.name
    ffi = cffi.FFI()
    ffi.cdef(cdef_from_header(HEADER.read_text()))
    version = re.search(r'#define TRITIUM_VERSION_STRING "([^"]+)"', HEADER.read_text()).group(1)
    ffi.set_source(
        "tritium._ffi",
        '#include "tritium.h"\n'
        f'static const char tritium_binding_version[] = "{version}";\n',
        include_dirs=[str(HEADER.parent)],
        extra_link_args=[str(lib.parent / soname), "-Wl,-rpath," + args.rpath],
    )
    ffi.cdef("static const char tritium_binding_version[];")
    args.tmp.mkdir(parents=True, exist_ok=True)
    # the conditions under which _cffi_include.h defines Py_LIMITED_API
    abi3 = not hasattr(sys, "gettotalrefcount") and not sysconfig.get_config_var("Py_GIL_DISABLED")
    built = Path(ffi.compile(tmpdir=str(args.tmp), verbose=False, target="_ffi.abi3.so" if abi3 else "*"))
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("_ffi*.so"):
        old.unlink()
    shutil.copy2(built, args.out / built.name)
    for old in args.out.glob("libtritium.so*"):
        old.unlink()
    if not args.no_copy:
        shutil.copy2(lib, args.out / soname)
    print(f"cffi extension {built.name}{'' if args.no_copy else ' + ' + soname} -> {args.out}")


if __name__ == "__main__":
    sys.exit(main())
