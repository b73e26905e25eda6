"""python -m tritium tune: measure the shipped matmul configs on this GPU and write its
arch's tuning table (aot/tuning/sm_<arch>.json), from which the next build's runtime picks
a path (direct, packed, streamed or gemv), a tile config and a K split by shape, dtype,
precision and alignment.

    python -m tritium tune [--out FILE] [--quick] [--dtypes f32,bf16,f16] [--shapes MxNxK,... [--merge]]
    python -m tritium tune --derive 89 --from aot/tuning/sm_90.json [--out FILE]

For every shape of the set (squares from 128 to 8192, every 1.5x or 2x, the seed shape and other shapes
whose strides are not multiples of 16 bytes, shapes of 16 bytes but not 16 elements,
skinny M and N from 1 to 256, long K)
and every dtype/precision, each config the build ships for this device is timed (CUDA
events, median of back-to-back batches, the calls rotating over operand sets of 3x L2 in
all, as the bench reads them) on each path with K splits (the gemv path on
M = 1 and N = 1 only), and the table keeps the fastest, plus the fastest that needs no
workspace (the runtime's choice when the caller gives too little). A gemv entry's K
split is scaled at run time to the call's R, keeping the entry's number of programs
(src/matmul.c, gemv_split). Skinny shapes are
measured twice, with the large operand row- and column-major (an entry's x_layout). --shapes measures those
shapes instead; with --merge their entries replace the same shapes' in the existing table
(the other entries and notes stay). Rebuild to ship the table.

--derive writes the table of an arch that is not here (the RTX 4090's sm_89) from another
arch's measurements: each entry keeps its path and K split, and a config that the target
arch does not build (over its shared memory per block) is replaced by the nearest tile
shape of the same path that it does build. The reasoning is written into the table's notes.
"""
import argparse
import datetime
import json
import math
import statistics
import sys
from pathlib import Path

# (m, n, k): contiguous operands, so that shapes whose K or N is not a multiple of 16 bytes
# (the seed shape: the case vendor libraries are weak at) are measured with unaligned strides
SHAPES = [(128, 128, 128), (256, 256, 256), (512, 512, 512), (768, 768, 768), (1024, 1024, 1024),
          (1536, 1536, 1536), (2048, 2048, 2048), (3072, 3072, 3072), (4096, 4096, 4096), (8192, 8192, 8192),
          # mid-size products of a shorter K, or a wider N (transformer projections)
          (4096, 4096, 1024), (768, 3072, 768),
          (8205, 5921, 2949),
          # strides that are not multiples of 16 bytes in any dtype (the aligned variants'
          # promise), where the best path differs from the aligned shapes' (unaligned loads go
          # element by element)
          (301, 301, 301), (1023, 1023, 1023), (777, 1999, 3001), (2047, 2047, 2047), (4095, 4095, 4095),
          # multiples of 16 bytes but not of 16 elements (alignment class 1): the aligned
          # variants run, but rows straddle cache lines and packing may still pay
          (1000, 1000, 1000), (3000, 3000, 3000), (1000, 1000, 8000),
          (1, 8192, 8192), (16, 8192, 8192), (64, 8192, 8192), (128, 8192, 8192), (256, 8192, 8192),
          (8192, 16, 8192), (8192, 128, 8192), (1024, 1024, 65536), (256, 256, 16384), (2048, 2048, 512),
          # matrix-vector products: M = 1 reads B^T with its rows contiguous, N = 1 reads A along K
          (8192, 1, 8192), (1, 1024, 1024), (1024, 1, 1024), (1, 1, 65536), (1, 4096, 4096), (4096, 1, 8192)]
QUICK = [(4096, 4096, 4096), (8205, 5921, 2949), (16, 8192, 8192), (1024, 1024, 65536)]
FAMILIES = {"f32": (("f32", "high"), ("f32", "highest")), "bf16": (("bf16", "native"),), "f16": (("f16", "native"),)}
SPLITS = (1, 2, 4, 8, 16)
# the gemv path's: its programs are small (one tile of X per K step) and few K steps each
# is what a small product wants (a dot product of 65536: 64 programs of one step)
GEMV_SPLITS = SPLITS + (32, 64)
PATH_IDS = {"direct": 1, "packed": 2, "streamed": 3, "gemv": 4}  # tritium_matmul_force_config's path
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "aot" / "tuning"


def _manifest():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "aot"))
    import manifest
    return manifest


def _configs(arch):
    """(path, dtype, precision, config) of every matmul config aot/manifest.py builds for
    `arch` (manifest.matmul_config: precision 1 'high', 0 'highest'; 0 for fp16/bf16)."""
    manifest = _manifest()
    out = []
    for v in manifest.matmul_variants():
        key = manifest.matmul_config(v)
        if key is not None and v.for_arch(arch) and key not in out:
            out.append(key)
    return out


def _time_ms(fn, reps=7, min_ms=20.0):
    """Median over reps of the device time per call of back-to-back calls, in ms. Each batch
    is queued behind a sleep kernel longer than the host takes to enqueue it, so that small
    shapes are timed on the GPU, not by the host's call overhead (as bench.device_us does)."""
    import time
    import torch
    fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    fn()
    e.record()
    e.synchronize()
    calls = max(1, min(50, int(min_ms / max(s.elapsed_time(e), 1e-3))))
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    host_ms = (time.perf_counter() - t0) * 1e3
    from .bench import _cycles_per_us
    cycles_per_ms = 1e3 * _cycles_per_us()
    out = []
    for _ in range(reps):
        torch.cuda._sleep(int(min(2 * host_ms + 0.05, 100.0) * cycles_per_ms))
        s.record()
        for _ in range(calls):
            fn()
        e.record()
        e.synchronize()
        out.append(s.elapsed_time(e) / calls)
    return statistics.median(out)


SKINNY = 256  # M or N up to this (and the other larger): measured in both layouts of the large operand


def _x_layouts(m, n):
    """(x_layout, transposed) to measure a shape in: row-major operands (x_layout 0: any
    layout); for skinny shapes (M or N at most SKINNY, the other larger) both layouts of
    the large operand, each entry then serving calls whose X (the operand the streamed and
    gemv paths read in place) is laid out as measured (1: X's rows contiguous, 2: its K):
    skinny N reads X = A, skinny M X = B^T. Which path and tile is fastest there depends on
    that layout (fp32 'highest', M = 16: the FMA tile reading a column-major B took 4x as
    long as reading a row-major one)."""
    if m == n == 1:  # a dot product: X's K contiguous either way
        return [(2, False)]
    if m == n or min(m, n) > SKINNY:
        return [(0, False)]
    return [(2 if n < m else 1, False), (1 if n < m else 2, True)]


def alignment(dtype, m, n, k, transposed):
    """The alignment class of the operands _measure_shape's make() gives, as src/matmul.c
    classes a call (mm_problem.align): 2 where the sizes and strides the aligned variants
    name are multiples of 16 elements, 1 where they are multiples of 16 bytes only
    (manifest.ALIGN_ELEMS: the aligned variants run, on rows that straddle cache lines), 0
    otherwise. Those are K and N for row-major A, B and C, and M for a column-major A."""
    rows = k | n | (m if transposed and n < m else 0)
    return 2 if rows % 16 == 0 else 1 if rows % _manifest().ALIGN_ELEMS[dtype] == 0 else 0


def _measure_shape(m, n, k, dtype, prec, prec_name, x_layout, transposed, configs, sms, entries, log):
    """Times every config (with K splits) of one shape, layout and mode; appends its entries."""
    import torch
    from ._lib import ffi, lib
    from . import _torch
    from .bench import input_sets
    tdt = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
    align = alignment(dtype, m, n, k, transposed)

    def make():
        a = torch.rand(m, k, device="cuda", dtype=tdt[dtype])
        b = torch.rand(k, n, device="cuda", dtype=tdt[dtype])
        if transposed:  # the large operand column-major
            if n < m:
                a = torch.rand(k, m, device="cuda", dtype=tdt[dtype]).t()
            else:
                b = torch.rand(n, k, device="cuda", dtype=tdt[dtype]).t()
        return a, b
    # operands past L2, as the bench reads them: calls rotate over sets of 3x L2 in all
    sets = input_sets(make, (m * k + k * n) * torch.tensor([], dtype=tdt[dtype]).element_size())
    turn = [0]
    c = torch.empty(m, n, device="cuda", dtype=tdt[dtype])
    results = []
    for path, cdt, cprec, cfg in configs:
        if cdt != dtype or cprec != (prec if dtype == "f32" else 0):
            continue
        if path == "gemv" and min(m, n) != 1:
            continue
        # the output tiles: of C, or for the streamed and gemv paths of C seen as
        # R x S (R the large side: C^T when M is the skinny one)
        r, s_ = (max(m, n), min(m, n)) if path in ("streamed", "gemv") else (m, n)
        tiles = -(-r // cfg[0]) * -(-s_ // cfg[1])
        if path == "gemv":  # down to one K step per program
            splits = [s for s in GEMV_SPLITS if s == 1 or (tiles * s <= 16 * sms and k // s >= cfg[2])]
        else:
            splits = [s for s in SPLITS if s == 1 or (tiles * s <= 4 * sms and k // s >= 4 * cfg[2])]
        for split in splits:
            cbuf = ffi.new("int32_t[6]", list(cfg))
            lib.tritium_matmul_force_config(PATH_IDS[path], cbuf, split)
            try:
                need = ffi.new("size_t *")
                lib.tritium_matmul_workspace_size(_torch.DTYPES[tdt[dtype]], prec, m, n, k, need)
                ws, ws_bytes, keep = _torch.workspace(need[0], c.device)

                def call():
                    a, b = sets[turn[0] % len(sets)]
                    turn[0] += 1
                    return lib.tritium_matmul(_torch.DTYPES[tdt[dtype]], prec, m, n, k,
                                              _torch.ptr(a), a.stride(0), a.stride(1),
                                              _torch.ptr(b), b.stride(0), b.stride(1),
                                              _torch.ptr(c), c.stride(0), c.stride(1),
                                              ws, ws_bytes, _torch.stream_of(a.device))
                if call() != 0:
                    continue
                ms = _time_ms(call)
            finally:
                lib.tritium_matmul_force_config(0, ffi.NULL, 1)
            results.append((ms, path, cfg, split, need[0]))
    sets = c = None  # freed before the next shape
    torch.cuda.empty_cache()
    if not results:
        return
    results.sort()
    best = results[0]
    picks = [best] + ([next(r for r in results if r[4] == 0)] if best[4] else [])
    for ms, path, cfg, split, need in picks:
        entries.append({"dtype": dtype, "precision": prec_name, "m": m, "n": n, "k": k,
                        "align": align, "path": path, "config": list(cfg), "split": split,
                        "ms": round(ms, 4), "tflops": round(2 * m * n * k / ms / 1e9, 1),
                        "workspace": need, **({"x_layout": x_layout} if x_layout else {})})
    log(f"{dtype:>4} {prec_name:>7} {m}x{n}x{k}" + (f" X{'rk'[x_layout - 1]}" if x_layout else "") + ": " + "; ".join(
        f"{p[1]} {tuple(p[2])} split {p[3]}: {p[0]:.3f} ms" for p in picks)
        + f"  ({len(results)} candidates)")


def measure(shapes, dtypes, log=print):
    import torch
    from ._lib import lib
    major = torch.cuda.get_device_capability()
    arch = major[0] * 10 + major[1]
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    configs = _configs(arch)
    entries = []
    for fam in dtypes:
        for dtype, prec_name in FAMILIES[fam]:
            prec = lib.TRITIUM_PRECISION_HIGHEST if prec_name == "highest" else lib.TRITIUM_PRECISION_HIGH
            for m, n, k in shapes:
                for x_layout, transposed in _x_layouts(m, n):
                    _measure_shape(m, n, k, dtype, prec, prec_name, x_layout, transposed, configs, sms,
                                   entries, log)
    return arch, torch.cuda.get_device_name(), entries


def parse_shapes(text):
    """'MxNxK,...' -> [(m, n, k), ...]"""
    try:
        shapes = [tuple(int(x) for x in item.lower().split("x")) for item in text.split(",") if item.strip()]
    except ValueError:
        shapes = []
    if not shapes or any(len(s) != 3 or min(s) < 1 for s in shapes):
        print(f"tune: --shapes wants MxNxK,... with positive sizes, got {text!r}", file=sys.stderr)
        raise SystemExit(2)
    return shapes


def merge(table, entries, shapes, dtypes, device, date, command):
    """table with the entries of the measured shapes and dtype families replaced by `entries`
    (kept in the table's order: the replaced shapes' entries go where their first one was)."""
    fams = {dt for fam in dtypes for dt, _ in FAMILIES[fam]}
    hit = {(m, n, k) for m, n, k in shapes}

    def replaced(e):
        return e["dtype"] in fams and (e["m"], e["n"], e["k"]) in hit
    old = table["entries"]
    first = next((i for i, e in enumerate(old) if replaced(e)), len(old))
    kept = [e for e in old if not replaced(e)]
    at = sum(1 for e in old[:first] if not replaced(e))
    table = dict(table)
    table["entries"] = kept[:at] + entries + kept[at:]
    table["notes"] = list(table.get("notes", [])) + [
        f"{date}: {command} on {device}: {len(entries)} entries for {', '.join('x'.join(map(str, s)) for s in shapes)} "
        f"({', '.join(dtypes)}) measured (operands rotated past L2) and merged, the rest kept."]
    return table


def derive(src, arch):
    """src's entries with configs the target arch builds (see the module doc)."""
    built = {}
    for path, dtype, prec, cfg in _configs(arch):
        built.setdefault((path, dtype, prec), []).append(cfg)
    out = []
    for e in src["entries"]:
        prec = (1 if e["precision"] == "high" else 0) if e["dtype"] == "f32" else 0
        have = built.get((e["path"], e["dtype"], prec), [])
        cfg = tuple(e["config"])
        if cfg not in have:
            if not have:
                continue
            # the nearest tile shape (log2 distance in BLOCK_M and BLOCK_N), then the deepest K
            # step, then the smaller tile (less of it wasted past a skinny edge)
            cfg = min(have, key=lambda c: (abs(math.log2(c[0] / cfg[0])) + abs(math.log2(c[1] / cfg[1])), -c[2],
                                           c[0] * c[1]))
        d = {k: v for k, v in e.items() if k not in ("ms", "tflops")}
        d["config"] = list(cfg)
        if cfg != tuple(e["config"]):
            d["measured_config"] = list(e["config"])
        out.append(d)
    return out


SM89_NOTES = [
    "Derived, not measured: no RTX 4090 was available. Regenerate on one with `python -m tritium tune`.",
    "The 4090 (sm_89, Ada) has 99 KB of shared memory per block, 100 KB per SM, 128 SMs, 72 MB of L2 and "
    "mma.sync + cp.async tensor cores (no wgmma): the sm_90 tiles over 99 KB (128x256 and 256x128 at 3-4 "
    "stages) are not built for it, and each entry that named one takes the nearest tile shape of the same "
    "path that is (for the 128x256 tiles a 128x128 one: 64-96 KB, one block per SM by shared memory).",
    "Paths are kept: packing pays even more on Ada than on Hopper (measured elsewhere on the sm_80/sm_89 "
    "code path: padding the seed shape's operands gave 2.1x), and skinny shapes keep the paths that read "
    "the large operand once in place (direct, streamed), since they are bound by reading it (1008 GB/s). "
    "On Ada the streamed kernel's register operand feeds mma.sync, which takes its A operand from registers "
    "in any case.",
    "K splits are kept: the 4090's 128 SMs are close to the H200's 132, so the same number of programs "
    "fills it; its 72 MB L2 (vs 50 MB) only makes the split partials cheaper.",
    "The gemv entries (M = 1 or N = 1, per X layout) are kept as measured: those products are bound by "
    "reading the matrix once, their tiles use no shared memory beyond the final sum and fit the 4090's "
    "registers (tests/test_c_build.py), and which tile streams best depends on the layout and the "
    "number of programs, not on the tensor cores the two archs differ in.",
]


def dumps(table):
    """The table as JSON with one line per entry (diffs of a re-tune stay readable)."""
    head = json.dumps({k: v for k, v in table.items() if k != "entries"}, indent=1)[:-2]
    lines = ",\n  ".join(json.dumps(e) for e in table["entries"])
    return f'{head},\n "entries": [\n  {lines}\n ]\n}}\n'


def main(argv=None, prog=None):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--out", type=Path, help="the table to write (default aot/tuning/sm_<arch>.json)")
    ap.add_argument("--quick", action="store_true", help="four shapes only (a smoke run)")
    ap.add_argument("--dtypes", default="f32,bf16,f16", help="comma-separated subset of f32,bf16,f16 to measure")
    ap.add_argument("--shapes", help="comma-separated MxNxK shapes to measure instead of the set")
    ap.add_argument("--merge", action="store_true",
                    help="with --shapes: replace those shapes' entries in the existing table, keep the rest")
    ap.add_argument("--derive", type=int, metavar="ARCH", help="derive ARCH's table from --from, measure nothing")
    ap.add_argument("--from", dest="src", type=Path, help="the measured table --derive starts from")
    args = ap.parse_args(argv)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    if args.derive:
        if not args.src:
            ap.error("--derive needs --from")
        src = json.loads(args.src.read_text())
        table = {"arch": args.derive, "source": f"derived from {args.src.name} ({src.get('device', '?')})",
                 "date": now, "command": f"python -m tritium tune --derive {args.derive} --from {args.src}",
                 "notes": SM89_NOTES if args.derive == 89 else [], "entries": derive(src, args.derive)}
        out = args.out or DEFAULT_OUT / f"sm_{args.derive}.json"
    else:
        if args.merge and not args.shapes:
            ap.error("--merge needs --shapes")
        shapes = parse_shapes(args.shapes) if args.shapes else QUICK if args.quick else SHAPES
        dtypes = args.dtypes.split(",")
        if not set(dtypes) <= set(FAMILIES):
            ap.error(f"--dtypes: a subset of {','.join(FAMILIES)}, got {args.dtypes!r}")
        import torch
        import triton
        if not torch.cuda.is_available():
            print("tune: no CUDA device", file=sys.stderr)
            return 1
        arch, device, entries = measure(shapes, dtypes)
        out = args.out or DEFAULT_OUT / f"sm_{arch}.json"
        command = "python -m tritium tune" + (" --quick" if args.quick else "")
        if args.merge:
            table = merge(json.loads(out.read_text()), entries, shapes, dtypes, device, now,
                          f"{command} --dtypes {args.dtypes} --shapes {args.shapes} --merge")
        else:
            table = {"arch": arch, "source": "measured", "device": device, "date": now, "triton": triton.__version__,
                     "torch": torch.__version__, "command": command,
                     "notes": ["ms: median of CUDA-event timed batches on uniform [0, 1) inputs, the calls "
                               "rotating over operand sets of 3x L2 in all; per shape the fastest and, where that "
                               "needs workspace, the fastest that needs none."],
                     "entries": entries}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps(table))
    print(f"tune: {len(table['entries'])} entries -> {out}")
    return 0
