#!/usr/bin/env python3
"""Benchmarks: tritium against torch eager, torch.compile and cuBLAS, in one process.

    python bench/bench.py [triplet|matmul|all] [--json FILE] [--quick]

Times are medians of CUDA-event timings over many runs after warm-up; inputs rotate
among several sets whose total is larger than L2, so repeated runs do not measure the
cache. Ceilings are measured in the same run: read bandwidth (torch's sum over 4 GiB) for
the memory-bound triplet loss; the library's own matrix rates are shown beside cuBLAS.
"""
import argparse
import json
import math
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import tritium  # noqa: E402

L2_BYTES = 64 << 20


def median_ms(fn, sets, reps=50, warmup=5):
    """Median of `reps` CUDA-event timings of fn(*sets[i % len(sets)])."""
    for i in range(warmup):
        fn(*sets[i % len(sets)])
    torch.cuda.synchronize()
    times = []
    for i in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        args = sets[i % len(sets)]
        s.record()
        fn(*args)
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    return statistics.median(times)


def input_sets(make, bytes_per_set):
    """Enough independent input sets that together they exceed L2 (at least 2)."""
    count = max(2, math.ceil(3 * L2_BYTES / max(bytes_per_set, 1)))
    return [make() for _ in range(min(count, 16))]


def read_ceiling_gbs():
    x = torch.empty(1 << 30, dtype=torch.float32, device="cuda").uniform_()
    ms = median_ms(lambda t: t.sum(), [(x,)], reps=20)
    return x.numel() * 4 / ms / 1e6


def bench_triplet(quick):
    ceiling = read_ceiling_gbs()
    launch_us = 1e3 * median_ms(lambda: torch.cuda._sleep(0), [()], reps=200)
    shapes = [(32, 128), (256, 128), (1024, 256), (4096, 512), (65536, 64), (128, 65536), (8, 1048576),
              (32768, 8192)]
    if quick:
        shapes = [(256, 128), (4096, 512), (32768, 8192)]
    compiled = torch.compile(F.triplet_margin_loss)
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        for n, d in shapes:
            nbytes = 3 * n * d * torch.tensor([], dtype=dtype).element_size()
            sets = input_sets(lambda: tuple(torch.randn(n, d, device="cuda", dtype=dtype) for _ in range(3)),
                              nbytes)
            res = {"op": "triplet", "dtype": str(dtype).split(".")[1], "shape": f"{n}x{d}", "bytes": nbytes}
            for name, fn in (("tritium", tritium.triplet_margin_loss), ("eager", F.triplet_margin_loss),
                             ("compile", compiled)):
                res[name + "_us"] = 1e3 * median_ms(fn, sets)
            res["gbs"] = nbytes / res["tritium_us"] / 1e3
            res["pct_ceiling"] = 100 * res["gbs"] / ceiling
            res["floor_us"] = max(nbytes / ceiling / 1e3, launch_us)
            rows.append(res)
            print(f"triplet {res['dtype']:>8} {res['shape']:>12}  tritium {res['tritium_us']:9.1f} us "
                  f"{res['gbs']:7.0f} GB/s {res['pct_ceiling']:5.1f}%  eager {res['eager_us']:9.1f}  "
                  f"compile {res['compile_us']:9.1f}  x{res['eager_us'] / res['tritium_us']:.2f} eager "
                  f"x{res['compile_us'] / res['tritium_us']:.2f} compile", flush=True)
    return {"read_ceiling_gbs": ceiling, "launch_us": launch_us, "rows": rows}


def bench_matmul(quick):
    shapes = [(8205, 2949, 5921), (4096, 4096, 4096), (8192, 8192, 8192), (5921, 2949, 8205), (1, 8192, 8192),
              (16, 8192, 8192), (128, 8192, 8192), (1024, 65536, 1024)]  # (M, K, N)
    if quick:
        shapes = shapes[:2]
    modes = [("f32-highest", torch.float32, "highest"), ("f32-high", torch.float32, "high"),
             ("bf16", torch.bfloat16, "highest")]
    rows = []
    prev = torch.get_float32_matmul_precision()
    try:
        for label, dtype, precision in modes:
            for m, k, n in shapes:
                flops = 2 * m * n * k
                nbytes = (m * k + k * n) * torch.tensor([], dtype=dtype).element_size()
                sets = input_sets(lambda: (torch.rand(m, k, device="cuda", dtype=dtype),
                                           torch.rand(k, n, device="cuda", dtype=dtype)), nbytes)
                torch.set_float32_matmul_precision(precision)
                t_us = 1e3 * median_ms(lambda a, b: tritium.matmul(a, b, precision=precision), sets, reps=20)
                c_us = 1e3 * median_ms(torch.matmul, sets, reps=20)
                a, b = sets[0]
                ref = a.double() @ b.double()
                err_t = ((tritium.matmul(a, b, precision=precision).double() - ref).norm() / ref.norm()).item()
                err_c = ((torch.matmul(a, b).double() - ref).norm() / ref.norm()).item()
                res = {"op": "matmul", "mode": label, "shape": f"{m}x{k}x{n}", "tritium_us": t_us,
                       "cublas_us": c_us, "tritium_tflops": flops / t_us / 1e6, "cublas_tflops": flops / c_us / 1e6,
                       "ratio": c_us / t_us, "err_tritium": err_t, "err_cublas": err_c}
                rows.append(res)
                print(f"matmul {label:>12} {res['shape']:>18}  tritium {res['tritium_tflops']:7.1f} TF/s  "
                      f"cuBLAS {res['cublas_tflops']:7.1f} TF/s  x{res['ratio']:.2f}  err {err_t:.1e} "
                      f"(cuBLAS {err_c:.1e})", flush=True)
                del sets, ref
                torch.cuda.empty_cache()
    finally:
        torch.set_float32_matmul_precision(prev)
    return {"rows": rows}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("op", nargs="?", default="all", choices=["triplet", "matmul", "all"])
    ap.add_argument("--json", type=Path)
    ap.add_argument("--quick", action="store_true", help="a few shapes only")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("bench: needs a CUDA GPU")
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "tritium": tritium.__version__}
    if args.op in ("triplet", "all"):
        out["triplet"] = bench_triplet(args.quick)
    if args.op in ("matmul", "all"):
        out["matmul"] = bench_matmul(args.quick)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
