"""Benchmarks: tritium against torch eager, torch.compile and cuBLAS, in one process.

    python -m tritium bench [triplet|matmul|all] [--json FILE] [--quick] [--plot FILE.png]
    python -m tritium bench --from bench-all.json --plot chart.png    (redraw, no GPU needed)
    python bench/bench.py   ...                                       (the same)

Method.

Device time of back-to-back calls (device_us). A call from Python costs microseconds
of host time (argument checks, cffi, the allocator, autograd), often more than a small
kernel runs on the GPU, so one call between two CUDA events would time the host. Each
timed batch is instead queued behind a torch.cuda._sleep kernel long enough (twice the
measured host time of a batch) that the CPU has enqueued every call before the GPU
reaches the first: the events then bracket GPU work only, run back to back as in a
training step where the CPU runs ahead. Per call = elapsed / calls; the median over
reps is reported. If the GPU was already past the sleep when the batch was queued, the
rep is discarded and the sleep lengthened. Host overhead is reported apart (wall_us:
perf_counter around many calls, then a synchronize).

L2 rotation (input_sets). Calls rotate through independent input sets whose total
exceeds 3x L2 (at most 256 sets and ~4 GiB), so each call reads its inputs from memory,
not from the cache the previous call left. The smallest shapes still fit in L2 with 256
sets; those rows are bound by launches anyway.

Ceilings, measured in the same run: read bandwidth and the device time of an empty
kernel launched back to back (launch_us). The read ceiling is torch's sum over a 4 GiB
fp32 tensor (read_sum_gbs), or, if higher, the best rate any implementation reached on a
row whose call reads more than the L2 holds: torch's reductions stop short of what the
memory gives (on an H200 its sum read 4.37-4.47 TB/s where Triton's plain read loops read
4.51-4.57 and the triplet rows at 32768 x 8192 up to 4.68), and a read faster than the
ceiling would only show the ceiling was low. Rows print against the sum as they run; the
tables and JSON use the final ceiling. A triplet row's floor is max(bytes / read
ceiling, launches * launch_us), with 1 launch for the forward and 2 for forward+backward
(autograd runs the backward as its own call); "x floor" = tritium time / floor.

Traffic reference (triplet, _traffic.py): per row, the fastest of a few Triton kernels that
only move the call's bytes (read a, p and n; for forward+backward also a second launch that
reads them and writes three outputs of their size), launched as the library launches its
triplet kernels and timed the same way. Its "x floor" shows how close to the floor a
kernel that computes nothing comes at that size. matmul
rows show the library's rates beside cuBLAS, with both results' relative errors against
fp64.

matmul's ceiling per mode (dtype and precision) is measured too: the best rate of cuBLAS
(torch.matmul) on an 8192^3 product of that mode, or any rate seen in the run if higher.
"eager" for matmul is torch.matmul, which is cuBLAS; "compile" is torch.compile of it.

Results print one line per row as they complete, with a [row/total] count, then markdown
tables; the JSON goes to --json FILE, else bench-<op>.json in the current directory.
--plot FILE.png draws a chart per op (fraction of the measured ceiling per shape for each
implementation; needs matplotlib); --from JSON redraws the tables and chart of an earlier
run without a GPU.
"""
import argparse
import importlib.metadata
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import tritium

MAX_SETS = 256           # input sets per row, at most
MAX_SET_BYTES = 4 << 30  # total bytes of a row's input sets, at most (unless 2 sets exceed it)
_CYCLES_PER_US = None    # torch.cuda._sleep's clock, measured once


def _events():
    return torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)


def _cycles_per_us():
    """torch.cuda._sleep cycles per µs, from one CUDA-event timing of _sleep(1_000_000)."""
    global _CYCLES_PER_US
    if _CYCLES_PER_US is None:
        torch.cuda._sleep(1000)  # first launch loads the kernel
        s, e = _events()
        s.record()
        torch.cuda._sleep(1_000_000)
        e.record()
        e.synchronize()
        _CYCLES_PER_US = 1_000_000 / (1e3 * s.elapsed_time(e))
    return _CYCLES_PER_US


def device_us(fn, sets, calls=None, reps=20, target_us=2000.0):
    """Median over reps of the device time per call of `calls` back-to-back calls, in µs.

    Call i runs fn(*sets[i % len(sets)]); i counts on across reps, so every set is used.
    calls=None picks enough calls for about target_us of GPU work (5 to 100). Each rep is
    queued behind a sleep kernel twice as long as the host takes to enqueue the batch.
    """
    reps = max(reps, 15)
    for _ in range(3):  # warm-up: compiles, autotunes, allocator pools
        for args in sets:
            fn(*args)
    torch.cuda.synchronize()

    # Calibration, once: host enqueue time and (at most) device time per call.
    probe = 5
    s, e = _events()
    t0 = time.perf_counter()
    s.record()
    for i in range(probe):
        fn(*sets[i % len(sets)])
    e.record()
    host_per_call = (time.perf_counter() - t0) * 1e6 / probe
    e.synchronize()
    dev_per_call = s.elapsed_time(e) * 1e3 / probe
    if calls is None:
        calls = min(100, max(5, math.ceil(target_us / max(dev_per_call, 1e-3))))
    sleep_us = min(2 * host_per_call * calls + 20, 1e6)

    times, k, retries = [], 0, 0
    start, end = _events()
    while len(times) < reps:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        torch.cuda._sleep(int(sleep_us * _cycles_per_us()))
        start.record()
        for _ in range(calls):
            fn(*sets[k % len(sets)])
            k += 1
        end.record()
        overtaken = start.query()  # the GPU already left the sleep: it may have waited on the CPU
        host_us = (time.perf_counter() - t0) * 1e6
        end.synchronize()
        if overtaken and retries < 3 and sleep_us < 1e6:
            # Sleep longer and redo the rep. (When the launch queue is full the CPU waits on
            # the GPU whatever the sleep; after 3 retries such reps are kept as they are.)
            sleep_us, retries = min(2 * max(host_us, sleep_us), 1e6), retries + 1
            continue
        times.append(start.elapsed_time(end) * 1e3 / calls)
    return statistics.median(times)


def wall_us(fn, args, calls=2000, repeats=7):
    """Python wall time per call, in µs: perf_counter around `calls` calls and a synchronize;
    median of `repeats`."""
    for _ in range(10):
        fn(*args)
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e6 / calls)
    return statistics.median(times)


def _l2_bytes():
    return getattr(torch.cuda.get_device_properties(torch.cuda.current_device()), "L2_cache_size", 0) or 64 << 20


def input_sets(make, bytes_per_set):
    """Enough independent input sets that together they exceed 3x L2: at least 2, at most
    MAX_SETS and MAX_SET_BYTES in all."""
    bytes_per_set = max(bytes_per_set, 1)
    count = min(math.ceil(3 * _l2_bytes() / bytes_per_set), MAX_SETS, MAX_SET_BYTES // bytes_per_set)
    return [make() for _ in range(max(2, count))]


def read_sum_gbs():
    """Read bandwidth in GB/s: torch's sum over a 4 GiB fp32 tensor, device time."""
    x = torch.empty(1 << 30, dtype=torch.float32, device="cuda").uniform_()
    us = device_us(lambda t: t.sum(), [(x,)], reps=15)
    del x
    torch.cuda.empty_cache()
    return (1 << 30) * 4 / us / 1e3


TRIPLET_IMPLS = ("tritium", "eager", "compile")
TRIPLET_FLOOR_BAR = 1.15  # a row is within its bar at no more than this many times its floor
TRAFFIC = "traffic"  # the reference that only moves the bytes (_traffic.py); runs before 2026-11-22 lack it


def _triplet_timed(rows):
    """The implementations, and the traffic reference where every row has it."""
    return TRIPLET_IMPLS + ((TRAFFIC,) if rows and all(TRAFFIC + "_us" in r for r in rows) else ())


def triplet_ceiling(rows, sum_gbs, l2_bytes):
    """The read ceiling of a triplet run, GB/s: torch's sum, or the best rate of any
    implementation on a row whose call reads more bytes than the L2 holds, if higher."""
    return max([sum_gbs] + [r["bytes"] / r[impl + "_us"] / 1e3 for r in rows if r["bytes"] > l2_bytes
                            for impl in _triplet_timed(rows)])


def triplet_derive(res, ceiling, launch_us):
    """A triplet row's rates, floor and ratios from its times, against `ceiling` (GB/s)."""
    t = res["tritium_us"]
    launches = 1 if res["mode"] == "fwd" else 2
    res["gbs"] = res["bytes"] / t / 1e3
    res["pct_ceiling"] = 100 * res["gbs"] / ceiling
    res["floor_us"] = max(res["bytes"] / ceiling / 1e3, launches * launch_us)
    res["ratio_floor"] = t / res["floor_us"]
    res["vs_eager"] = res["eager_us"] / t
    res["vs_compile"] = res["compile_us"] / t
    res["ok_compile"] = t <= res["compile_us"]
    res["ok_floor"] = res["ratio_floor"] <= TRIPLET_FLOOR_BAR
    if TRAFFIC + "_us" in res:  # what moving the bytes alone takes, against the same floor
        res["traffic_floor"] = res[TRAFFIC + "_us"] / res["floor_us"]
    return res


def _compiled():
    """A fresh torch.compile of F.triplet_margin_loss (static shapes; compiled at warm-up).
    Dynamo's caches are reset first, so the recompile limit never sends a shape to eager."""
    torch._dynamo.reset()
    return torch.compile(F.triplet_margin_loss, dynamic=False)


def _with_grad(f, g):
    """fn(a, p, n) for the forward+backward: loss = f(a, p, n), then its gradients with
    respect to a, p, n, seeded by g (a precomputed ones scalar: no fill kernel is timed)."""
    return lambda a, p, n: torch.autograd.grad(f(a, p, n), (a, p, n), grad_outputs=g)


def _fmt(x):
    return "-" if x is None else f"{x:.2f}" if x < 100 else f"{x:.1f}" if x < 10000 else f"{x:.0f}"


def bench_triplet(quick):
    from tritium import _traffic  # Triton, JIT: only where a run measures
    sum_gbs = read_sum_gbs()
    launch_us = device_us(lambda: torch.cuda._sleep(0), [()])
    print(f"read ceiling (torch sum) {sum_gbs:.0f} GB/s, launch {launch_us:.2f} us", flush=True)
    shapes = [(32, 128), (256, 128), (1024, 256), (4096, 512), (65536, 64), (128, 65536), (8, 1048576),
              (32768, 8192)]
    if quick:
        shapes = [(256, 128), (4096, 512), (32768, 8192)]
    rows = []
    total = 2 * 2 * len(shapes)
    for dtype in (torch.float32, torch.bfloat16):
        elem = torch.tensor([], dtype=dtype).element_size()
        g = torch.ones((), dtype=dtype, device="cuda")
        for n, d in shapes:
            sets = input_sets(lambda: tuple(torch.randn(n, d, device="cuda", dtype=dtype) for _ in range(3)),
                              3 * n * d * elem)
            grad_sets = [tuple(t.detach().requires_grad_() for t in s) for s in sets]  # same storage
            traffic = dict(zip(("fwd", "fwd+bwd"), _traffic.best_us(device_us, sets, n * d)))
            for mode in ("fwd", "fwd+bwd"):
                compiled = _compiled()
                impls = (("tritium", tritium.triplet_margin_loss), ("eager", F.triplet_margin_loss),
                         ("compile", compiled))
                nbytes = (3 if mode == "fwd" else 9) * n * d * elem
                res = {"op": "triplet", "dtype": str(dtype).split(".")[1], "shape": f"{n}x{d}", "n": n, "d": d,
                       "mode": mode, "bytes": nbytes, "traffic_us": traffic[mode]}
                for name, f in impls:
                    if mode == "fwd":
                        res[name + "_us"] = device_us(f, sets)
                    else:
                        res[name + "_us"] = device_us(_with_grad(f, g), grad_sets)
                t = res["tritium_us"]
                rows.append(triplet_derive(res, sum_gbs, launch_us))
                print(f"[{len(rows)}/{total}] triplet {res['dtype']:>8} {res['shape']:>12} {mode:>7}  tritium {t:9.2f} us "
                      f"{res['gbs']:6.0f} GB/s {res['pct_ceiling']:5.1f}%  floor {res['floor_us']:9.2f} "
                      f"x{res['ratio_floor']:<5.2f} eager {res['eager_us']:9.2f} x{res['vs_eager']:<5.2f} "
                      f"compile {res['compile_us']:9.2f} x{res['vs_compile']:<5.2f} "
                      f"traffic {res['traffic_us']:9.2f} x{res['traffic_floor']:<5.2f}of floor "
                      f"{'' if res['ok_compile'] else ' SLOWER-THAN-COMPILE'}"
                      f"{'' if res['ok_floor'] else ' ABOVE-FLOOR'}", flush=True)
            del sets, grad_sets
            torch.cuda.empty_cache()

    # Host overhead per call, where it dominates: a small forward, and forward+backward, from Python.
    a, p, n = (torch.randn(256, 128, device="cuda") for _ in range(3))
    leaves = tuple(t.clone().requires_grad_() for t in (a, p, n))
    g = torch.ones((), device="cuda")
    impls = (("tritium", tritium.triplet_margin_loss), ("compile", _compiled()), ("eager", F.triplet_margin_loss))
    wall = []
    for mode, args in (("fwd", (a, p, n)), ("fwd+bwd", leaves)):
        res = {"op": "triplet", "shape": "256x128", "dtype": "float32", "mode": mode}
        for name, f in impls:
            res[name + "_us"] = wall_us(f if mode == "fwd" else _with_grad(f, g), args)
        wall.append(res)
        print("python wall " + _wall_line(res), flush=True)
    ceiling = triplet_ceiling(rows, sum_gbs, _l2_bytes())
    for r in rows:
        triplet_derive(r, ceiling, launch_us)
    print(f"read ceiling {ceiling:.0f} GB/s (torch sum {sum_gbs:.0f}): the tables use it", flush=True)
    return {"read_ceiling_gbs": ceiling, "read_sum_gbs": sum_gbs, "launch_us": launch_us, "rows": rows,
            "python_wall_us": wall}


def _wall_line(w):
    return f"{w['op']} {w['shape']} {w['dtype']} {w['mode']}: " + \
        ", ".join(f"{k[:-3]} {v:.1f} us" for k, v in w.items() if k.endswith("_us"))


def triplet_table(rows):
    """The triplet rows as a markdown table."""
    traffic = TRAFFIC in _triplet_timed(rows)
    head = ["dtype", "shape", "mode", "tritium µs", "GB/s", "% ceiling", "floor µs", "x floor", "eager µs",
            "compile µs", "x eager", "x compile"] + (["traffic µs", "traffic x floor"] if traffic else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 3 else "---:" for i in range(len(head))) + "|"]
    for r in rows:
        cells = [r["dtype"], r["shape"], r["mode"], _fmt(r["tritium_us"]), f"{r['gbs']:.0f}",
                 f"{r['pct_ceiling']:.1f}", _fmt(r["floor_us"]), f"{r['ratio_floor']:.2f}", _fmt(r["eager_us"]),
                 _fmt(r["compile_us"]), f"{r['vs_eager']:.2f}", f"{r['vs_compile']:.2f}"]
        if traffic:
            cells += [_fmt(r[TRAFFIC + "_us"]), f"{r[TRAFFIC + '_us'] / r['floor_us']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _matmul_ceiling(dtype, precision):
    """cuBLAS's rate (TFLOP/s) on an 8192^3 product in this mode: the measured ceiling."""
    size = 8192
    sets = input_sets(lambda: (torch.rand(size, size, device="cuda", dtype=dtype),
                               torch.rand(size, size, device="cuda", dtype=dtype)), 2 * size * size * 4)[:2]
    us = device_us(torch.matmul, sets, reps=15)
    del sets
    torch.cuda.empty_cache()
    return 2 * size ** 3 / us / 1e6


def bench_matmul(quick):
    # (M, K, N, operands stored transposed): the seed shape, squares, the seed shape
    # transposed (both its dims and its operands' storage), skinny M, long K
    shapes = [(8205, 2949, 5921, False), (4096, 4096, 4096, False), (8192, 8192, 8192, False),
              (5921, 2949, 8205, True), (1, 8192, 8192, False), (16, 8192, 8192, False), (128, 8192, 8192, False),
              (1024, 65536, 1024, False)]
    if quick:
        shapes = shapes[:2]
    modes = [("f32-highest", torch.float32, "highest"), ("f32-high", torch.float32, "high"),
             ("bf16", torch.bfloat16, "highest")]
    rows = []
    prev = torch.get_float32_matmul_precision()
    total = len(modes) * len(shapes)
    try:
        for label, dtype, precision in modes:
            torch.set_float32_matmul_precision(precision)
            ceiling = _matmul_ceiling(dtype, precision)
            print(f"matmul {label}: ceiling (cuBLAS 8192^3) {ceiling:.1f} TF/s", flush=True)
            mode_rows = []
            for m, k, n, trans in shapes:
                flops = 2 * m * n * k
                nbytes = (m * k + k * n) * torch.tensor([], dtype=dtype).element_size()

                def operand(r, c):
                    if trans:  # column-major storage: a transposed view
                        return torch.rand(c, r, device="cuda", dtype=dtype).t()
                    return torch.rand(r, c, device="cuda", dtype=dtype)
                sets = input_sets(lambda: (operand(m, k), operand(k, n)), nbytes)
                torch._dynamo.reset()
                compiled = torch.compile(torch.matmul, dynamic=False)
                t_us = device_us(lambda a, b: tritium.matmul(a, b, precision=precision), sets)
                c_us = device_us(torch.matmul, sets)
                comp_us = device_us(compiled, sets)
                a, b = sets[0]
                ref = a.double() @ b.double()
                err_t = ((tritium.matmul(a, b, precision=precision).double() - ref).norm() / ref.norm()).item()
                err_c = ((torch.matmul(a, b).double() - ref).norm() / ref.norm()).item()
                res = {"op": "matmul", "mode": label, "shape": f"{m}x{k}x{n}" + ("T" if trans else ""),
                       "flops": flops, "tritium_us": t_us, "cublas_us": c_us, "compile_us": comp_us,
                       "tritium_tflops": flops / t_us / 1e6, "cublas_tflops": flops / c_us / 1e6,
                       "compile_tflops": flops / comp_us / 1e6,
                       "ratio": c_us / t_us, "vs_compile": comp_us / t_us, "err_tritium": err_t, "err_cublas": err_c}
                mode_rows.append(res)
                print(f"[{len(rows) + len(mode_rows)}/{total}] matmul {label:>12} {res['shape']:>18}  "
                      f"tritium {res['tritium_tflops']:7.1f} TF/s  cuBLAS {res['cublas_tflops']:7.1f} TF/s  "
                      f"x{res['ratio']:.2f}  compile {res['compile_tflops']:7.1f} TF/s  err {err_t:.1e} "
                      f"(cuBLAS {err_c:.1e})", flush=True)
                del sets, ref, compiled
                torch.cuda.empty_cache()
            best = max([ceiling] + [r[f + "_tflops"] for r in mode_rows for f in ("tritium", "cublas", "compile")])
            for r in mode_rows:
                r["ceiling_tflops"] = best
            rows += mode_rows
        a, b = torch.randn(256, 128, device="cuda"), torch.randn(128, 128, device="cuda")
        wall = {"op": "matmul", "shape": "256x128x128", "dtype": "float32", "mode": "highest"}
        torch.set_float32_matmul_precision("highest")
        torch._dynamo.reset()
        for name, f in (("tritium", tritium.matmul), ("compile", torch.compile(torch.matmul, dynamic=False)),
                        ("eager", torch.matmul)):
            wall[name + "_us"] = wall_us(f, (a, b))
        print("python wall " + _wall_line(wall), flush=True)
    finally:
        torch.set_float32_matmul_precision(prev)
    return {"rows": rows, "python_wall_us": [wall]}


def matmul_table(rows):
    """The matmul rows as a markdown table."""
    head = ["mode", "shape", "tritium TF/s", "cuBLAS TF/s", "compile TF/s", "ceiling TF/s", "x cuBLAS",
            "x compile", "err tritium", "err cuBLAS"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|"]
    for r in rows:
        cells = [r["mode"], r["shape"], f"{r['tritium_tflops']:.1f}", f"{r['cublas_tflops']:.1f}",
                 f"{r['compile_tflops']:.1f}", f"{r['ceiling_tflops']:.1f}", f"{r['ratio']:.2f}",
                 f"{r['vs_compile']:.2f}", f"{r['err_tritium']:.1e}", f"{r['err_cublas']:.1e}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fractions(rows):
    """Per op, the chart's data: {op: (row labels, {implementation: fractions of the ceiling})}.
    triplet: floor time / time (the floor is bandwidth- or launch-bound); matmul: rate / ceiling."""
    out = {}
    trip = [r for r in rows if r["op"] == "triplet"]
    if trip:
        labels = [f"{r['dtype']} {r['shape']} {r['mode']}" for r in trip]
        out["triplet"] = (labels, {impl: [r["floor_us"] / r[impl + "_us"] for r in trip]
                                   for impl in _triplet_timed(trip)})
    mm = [r for r in rows if r["op"] == "matmul"]
    if mm:
        labels = [f"{r['mode']} {r['shape']}" for r in mm]
        out["matmul"] = (labels, {name: [r[key + "_tflops"] / r["ceiling_tflops"] for r in mm]
                                  for name, key in (("tritium", "tritium"), ("cuBLAS (torch eager)", "cublas"),
                                                    ("compile", "compile"))})
    return out


def plot(result, path):
    """A horizontal grouped-bar chart per op, titled with the device, versions and date."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise SystemExit(f"bench --plot needs matplotlib ({e})") from None
    data = fractions(result["rows"])
    if not data:
        raise SystemExit("bench --plot: no rows to plot")
    heights = [max(3.0, 0.32 * len(labels) * len(impls) / 2.2 + 1.2) for labels, impls in data.values()]
    fig, axes = plt.subplots(len(data), 1, figsize=(10, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    notes = {"triplet": "floor time / time (floor: bytes at the measured read bandwidth, or launches; "
                        f"dotted: 1 / {TRIPLET_FLOOR_BAR})",
             "matmul": "TFLOP/s / measured ceiling (cuBLAS on 8192^3, or the best rate seen in that mode)"}
    for ax, (op, (labels, impls)) in zip(axes[:, 0], data.items()):
        width = 0.8 / len(impls)
        for i, (impl, vals) in enumerate(impls.items()):
            ys = [j + (i - (len(impls) - 1) / 2) * width for j in range(len(labels))]
            ax.barh(ys, vals, height=width, label=impl)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.axvline(1.0, color="gray", lw=0.8, ls="--")
        if op == "triplet":  # the bar: within 1.15x of the floor
            ax.axvline(1 / TRIPLET_FLOOR_BAR, color="gray", lw=0.8, ls=":")
        ax.set_xlabel(f"fraction of the measured ceiling: {notes[op]}", fontsize=8)
        ax.set_title(op, fontsize=10)
        ax.legend(fontsize=7, loc="best", framealpha=0.9)
    fig.suptitle(f"tritium {result.get('tritium')} on {result.get('device')}, {result.get('date', '')} "
                 f"(torch {result.get('torch')}, triton {result.get('triton')})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(result):
    """The markdown tables of a run."""
    for op, table in (("triplet", triplet_table), ("matmul", matmul_table)):
        rows = [r for r in result["rows"] if r["op"] == op]
        if rows:
            print()
            print(table(rows))
    if result.get("python_wall_us"):
        print("\nPython wall time per call (host overhead; the GPU work is microseconds):")
        for w in result["python_wall_us"]:
            print("  " + _wall_line(w))


def _version(*dists):
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return None


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    ap.add_argument("op", nargs="?", default="all", choices=["triplet", "matmul", "all"])
    ap.add_argument("--json", type=Path, help="where to write the results (default: bench-<op>.json)")
    ap.add_argument("--quick", action="store_true", help="a few shapes only")
    ap.add_argument("--plot", type=Path, metavar="FILE.png", help="also draw a chart per op (needs matplotlib)")
    ap.add_argument("--from", dest="source", type=Path, metavar="JSON",
                    help="print and plot an earlier run's JSON instead of running (no GPU needed)")
    args = ap.parse_args(argv)
    if args.plot:
        try:
            import matplotlib  # noqa: F401  (fail before minutes of benchmarks, not after)
        except ImportError as e:
            ap.error(f"--plot needs matplotlib ({e})")
    if args.source:
        out = json.loads(args.source.read_text())
    else:
        if not torch.cuda.is_available():
            raise SystemExit("bench: needs a CUDA GPU")
        out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
               "triton": _version("triton", "pytorch-triton"), "tritium": tritium.__version__,
               "date": time.strftime("%Y-%m-%d"), "rows": [], "python_wall_us": []}
        if args.op in ("triplet", "all"):
            res = bench_triplet(args.quick)
            out.update({k: res[k] for k in ("read_ceiling_gbs", "read_sum_gbs", "launch_us")})
            out["rows"] += res["rows"]
            out["python_wall_us"] += res["python_wall_us"]
        if args.op in ("matmul", "all"):
            res = bench_matmul(args.quick)
            out["rows"] += res["rows"]
            out["python_wall_us"] += res["python_wall_us"]
        path = args.json or Path(f"bench-{args.op}.json")
        path.write_text(json.dumps(out, indent=1))
        print(f"\nwrote {path}", flush=True)
    report(out)
    if args.plot:
        plot(out, args.plot)
        print(f"wrote {args.plot}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
