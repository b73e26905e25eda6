"""python -m tritium info: the driver, each visible GPU, its arch and the image tritium would load.
python -m tritium bench [triplet|matmul|all] [--json FILE] [--quick]: benchmarks (tritium/bench.py).
python -m tritium tune [--quick] [--out FILE] | --derive ARCH --from TABLE: matmul tuning tables (tritium/tune.py)."""
import argparse
import sys


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


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tritium")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="driver, GPUs, and which kernel image each would use")
    # bench's arguments (its -h included) are left unparsed here and handed to tritium.bench.main
    sub.add_parser("bench", add_help=False, help="benchmarks against torch eager, torch.compile and cuBLAS "
                   "(python -m tritium bench -h)")
    sub.add_parser("tune", add_help=False, help="measure the matmul configs and write this arch's tuning table "
                   "(python -m tritium tune -h)")
    args, rest = ap.parse_known_args(argv)
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
