"""python -m tritium info: the driver, each visible GPU, its arch and the image tritium would load.
python -m tritium bench [triplet|matmul|all] [--json FILE] [--quick]: benchmarks (tritium/bench.py).
python -m tritium tune [--quick] [--out FILE] | --derive ARCH --from TABLE: matmul tuning tables (tritium/tune.py).
python -m tritium --includedir | --libdir | --cmakedir: where the installed headers, library and
CMake package are, e.g. cmake -Dtritium_DIR=$(python -m tritium --cmakedir)."""
import argparse
import os
import sys
from pathlib import Path


def info():
    from ._lib import ffi, lib
    import tritium
    print(f"tritium {tritium.__version__} (libtritium {ffi.string(lib.tritium_version_string()).decode()})")
    print(f"shipped archs: {ffi.string(lib.tritium_shipped_archs()).decode()}")
    count = ffi.new("int *")
    s = lib.tritium_device_count(count)
    if s != 0:
        print(f"driver: {ffi.string(lib.tritium_status_string(s)).decode()}: "
              f"{ffi.string(lib.tritium_last_error()).decode()}")
        return 0
    print(f"driver: loaded, {count[0]} device(s)")
    major, minor = ffi.new("int *"), ffi.new("int *")
    name, image = ffi.new("char[256]"), ffi.new("char[1024]")
    for i in range(count[0]):
        s = lib.tritium_device_info(i, major, minor, name, 256, image, 1024)
        detail = ffi.string(image).decode() if s == 0 else ffi.string(lib.tritium_last_error()).decode()
        print(f"  device {i}: {ffi.string(name).decode()}, sm_{major[0]}{minor[0]}")
        for part in detail.split("; "):
            print(f"    {part}")
    return 0


# what each directory must hold to be the one asked for
_DIR_MARKERS = {"include": "tritium.h", "lib": "libtritium.so", "cmake": "tritiumConfig.cmake"}


def _dirs():
    """The include, lib and CMake package directories of this tritium.

    Installed from a wheel, they are inside the package (CMake's install tree is put there).
    In a source checkout (python/tritium), they are the repository's include/ and the build
    directory, $TRITIUM_BUILD_DIR or build/, whose CMake package names the files built there.
    """
    pkg = Path(__file__).resolve().parent
    if (pkg / "include" / "tritium.h").is_file():
        return {"include": pkg / "include", "lib": pkg / "lib", "cmake": pkg / "lib" / "cmake" / "tritium"}
    repo = pkg.parents[1]
    build = Path(os.environ.get("TRITIUM_BUILD_DIR") or repo / "build").resolve()
    return {"include": repo / "include", "lib": build, "cmake": build}


def print_dir(kind):
    d = _dirs()[kind]
    if not (d / _DIR_MARKERS[kind]).is_file():
        print(f"python -m tritium: no {_DIR_MARKERS[kind]} in {d}: this tritium is neither installed "
              "from a wheel nor a built source checkout (build it, or set TRITIUM_BUILD_DIR)", file=sys.stderr)
        return 2
    print(d)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tritium")
    where = ap.add_mutually_exclusive_group()
    for kind, what in (("include", "tritium.h and tritium.hpp"), ("lib", "libtritium.so"),
                       ("cmake", "the CMake package (tritium_DIR)")):
        where.add_argument(f"--{kind}dir", dest="where", action="store_const", const=kind,
                           help=f"print the directory of {what}")
    sub = ap.add_subparsers(dest="cmd")
    sub.add_parser("info", help="driver, GPUs, and which kernel image each would use")
    # bench's arguments (its -h included) are left unparsed here and handed to tritium.bench.main
    sub.add_parser("bench", add_help=False, help="benchmarks against torch eager, torch.compile and cuBLAS "
                   "(python -m tritium bench -h)")
    sub.add_parser("tune", add_help=False, help="measure the matmul configs and write this arch's tuning table "
                   "(python -m tritium tune -h)")
    args, rest = ap.parse_known_args(argv)
    if args.where:
        if args.cmd or rest:
            ap.error("--includedir, --libdir and --cmakedir take no command or argument")
        return print_dir(args.where)
    if args.cmd is None:
        ap.error("a command (info, bench, tune) or --includedir, --libdir, --cmakedir is required")
    if args.cmd == "bench":
        from . import bench
        return bench.main(rest, prog=f"{ap.prog} bench")
    if args.cmd == "tune":
        from . import tune
        return tune.main(rest, prog=f"{ap.prog} tune")
    if rest:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.cmd == "info":
        return info()
    return 1


if __name__ == "__main__":
    sys.exit(main())
