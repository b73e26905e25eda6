#!/usr/bin/env python3
"""Check each KernelBench drop-in against its problem's reference model, KernelBench-style
(same inputs, outputs within atol = rtol = 1e-2), and report the error of both against an
fp64 evaluation of the reference, and their device times (median of CUDA-event timings).

    python examples/kernelbench/check.py [--trials 5] [--no-time]

Exits 0 when every problem passes; prints "no GPU: ..." and exits 0 without a CUDA GPU.
"""
import argparse
import importlib
import statistics
import sys
from pathlib import Path

import torch

PROBLEMS = ["problem_99_triplet_margin_loss", "problem_8_matmul_irregular"]


def _fp64(model, inputs):
    with torch.no_grad():
        return model.double()(*(x.double() for x in inputs))


def _median_ms(fn, inputs, reps=20):
    fn(*inputs)
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(*inputs)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def check(name, trials=3, time=True):
    """Returns (passed, line) for one problem."""
    mod = importlib.import_module(name)
    init = mod.get_init_inputs()
    ref_model, new_model = mod.Model(*init).cuda(), mod.ModelNew(*init).cuda()
    worst_ref = worst_new = 0.0
    ok = True
    for _ in range(trials):
        inputs = mod.get_inputs()
        with torch.no_grad():
            ref, new = ref_model(*inputs), new_model(*inputs)
        ok &= ref.shape == new.shape and bool(torch.allclose(new, ref, atol=1e-2, rtol=1e-2))
        exact = _fp64(mod.Model(*init).cuda(), inputs)
        rel = lambda x: ((x.double() - exact.double()).norm() / exact.double().norm()).item()  # noqa: E731
        worst_ref, worst_new = max(worst_ref, rel(ref)), max(worst_new, rel(new))
        del inputs, ref, new, exact
    line = (f"{name}: {'PASS' if ok else 'FAIL'} over {trials} trials; relative error vs fp64: "
            f"ModelNew {worst_new:.2e}, Model {worst_ref:.2e}")
    if time:
        inputs = mod.get_inputs()
        with torch.no_grad():
            t_ref, t_new = _median_ms(ref_model, inputs), _median_ms(new_model, inputs)
        line += f"; device time: ModelNew {t_new:.3f} ms, Model {t_ref:.3f} ms ({t_ref / t_new:.2f}x)"
    return ok, line


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--no-time", action="store_true")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no GPU: torch.cuda.is_available() is False")
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    results = [check(name, args.trials, not args.no_time) for name in PROBLEMS]
    for _, line in results:
        print(line)
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
