#!/usr/bin/env python3
"""Ahead-of-time compiler driver: manifest -> cubins/PTX -> generated C for libtritium.

Runs on any machine, GPU or not: every variant of aot/manifest.py is compiled with
triton.compile() against an explicit GPUTarget, in parallel, and cached by a hash of
(kernel source, variant, arch, triton version), so a rebuild after a one-line change
recompiles only what that change touches.

Outputs under --out:
  sm_<arch>/<variant>.cubin, sm_<arch>/<variant>.ptx (PTX for plain targets only)
  manifest.json            per image: kernel, arch, kind, config, registers, shared memory,
                           spills, file
  tritium_kernels.h/.c     the variant and image tables the C runtime dispatches on
  tritium_images.S         the images themselves, embedded with .incbin
"""
import argparse
import concurrent.futures as cf
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import manifest  # noqa: E402

TRITON_VERSION_REQUIRED = "3.6.0"


def _triton_bin(tool):
    import triton
    return Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / tool


def _kernel_path(kernel):
    return ROOT / "python" / Path(*kernel.module.split(".")).with_suffix(".py")


def _source_text(kernel):
    return _kernel_path(kernel).read_text()


def _kernel_module(kernel):
    """A kernel's module, loaded from its file: importing the `tritium` package would need
    the library this step is building."""
    name = "_tritium_aot_" + kernel.module.replace(".", "_")
    mod = sys.modules.get(name)
    if mod is None:
        spec = importlib.util.spec_from_file_location(name, _kernel_path(kernel))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return mod


def _load_kernel(kernel):
    """The @triton.jit function."""
    return getattr(_kernel_module(kernel), kernel.function)


def _buffer_widths():
    """The widths (floats per row) of the buffers the triplet kernels share with the C
    library, from the kernels' module: the library sizes them by these."""
    mod = _kernel_module(manifest.TRIPLET_FWD)
    return {f"TRIPLET_{name}": int(getattr(mod, name)) for name in ("SAVED_W", "SAVED_W_INF", "PARTIAL_W")}


def cache_key(variant, arch, triton_version):
    h = hashlib.sha256()
    # the constexpr values with the arch's PDL: a kernel's pdl flag changes its images
    # without changing its ident
    for part in (_source_text(variant.kernel), variant.ident, repr(variant.signature()),
                 repr(variant.constexprs(arch)), repr(variant.attrs()), str(arch), triton_version):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def _resource_usage(cubin_path):
    """Registers, stack and local (spill) bytes from cuobjdump's resource report."""
    out = subprocess.run([str(_triton_bin("cuobjdump")), "-res-usage", str(cubin_path)],
                         check=True, capture_output=True, text=True).stdout
    m = re.search(r"REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)", out)
    if not m:
        raise RuntimeError(f"no resource usage for {cubin_path}:\n{out}")
    reg, stack, _, local = map(int, m.groups())
    return {"registers": reg, "stack": stack, "spill_bytes": local}


def _compile_one(job):
    """Worker: compile one (variant, arch) into cache_dir/key/. Returns the meta dict."""
    variant, arch, key, cache_dir, _ = job  # PTX is always cached; the build picks what ships
    dest = Path(cache_dir) / key
    meta_path = dest / "meta.json"
    if meta_path.exists():
        return json.loads(meta_path.read_text())
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    fn = _load_kernel(variant.kernel)
    t0 = time.time()
    src = ASTSource(fn, variant.signature(), constexprs=variant.constexprs(arch), attrs=variant.attrs())
    k = triton.compile(src, target=GPUTarget("cuda", arch, 32),
                       options={"num_warps": variant.num_warps, "num_stages": variant.num_stages})
    md = k.metadata
    if md.global_scratch_size or md.profile_scratch_size:
        raise RuntimeError(f"{variant.ident} sm_{arch}: kernels needing global scratch are not supported")
    tmp = dest.with_suffix(".tmp%d" % os.getpid())
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "image.cubin").write_bytes(k.asm["cubin"])
    (tmp / "image.ptx").write_text(k.asm["ptx"])
    meta = {"name": md.name, "shared": md.shared, "num_warps": md.num_warps,
            "target": f"sm_{arch}{'a' if arch >= 90 else ''}", "compile_s": round(time.time() - t0, 3)}
    meta.update(_resource_usage(tmp / "image.cubin"))
    (tmp / "meta.json").write_text(json.dumps(meta))
    try:
        tmp.rename(dest)
    except OSError:  # another build filled it meanwhile
        pass
    return json.loads(meta_path.read_text())


def _c_ident(s):
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


def generate(out, archs, variants, results):
    """Write manifest.json, the C tables and the .incbin assembly."""
    images, entries = [], []
    asm = ["/* Generated by aot/build.py from aot/manifest.py: do not edit. */",
           '.section .note.GNU-stack,"",@progbits', '.section .rodata']
    for vi, v in enumerate(variants):
        first = len(images)
        for arch in (a for a in archs if v.for_arch(a)):
            meta, cubin, ptx = results[(vi, arch)]
            kinds = [("cubin", cubin)] + ([("ptx", ptx)] if ptx else [])
            for kind, path in kinds:
                sym = f"tritium_img_{len(images)}"
                size = path.stat().st_size
                asm += [f".balign 16", f".globl {sym}", f".hidden {sym}", f"{sym}:",
                        f'.incbin "{path.resolve()}"', ".byte 0"]
                images.append({"sym": sym, "arch": arch, "kind": kind, "size": size + (1 if kind == "ptx" else 0),
                               "shared": meta["shared"], "registers": meta["registers"], "pdl": v.pdl(arch),
                               "spill_bytes": meta["spill_bytes"], "stack": meta["stack"],
                               "file": str(path.relative_to(out)), "target": meta["target"] if kind == "cubin"
                               else f"compute_{arch}", "name": meta["name"]})
        entries.append({"variant": v, "first": first, "count": len(images) - first,
                        "name": images[first]["name"] if len(images) > first else ""})

    # manifest.json: one record per image, with its variant's description
    records = []
    for e in entries:
        v = e["variant"]
        for img in images[e["first"]:e["first"] + e["count"]]:
            records.append({"kernel": v.kernel.name, "variant": v.ident, "dtype": v.dtype, "aligned": v.aligned,
                            "config": dict(zip(v.kernel.params, v.params)), "num_warps": v.num_warps,
                            "num_stages": v.num_stages, "arch": f"sm_{img['arch']}", "kind": img["kind"],
                            "target": img["target"], "registers": img["registers"],
                            "shared_bytes": img["shared"], "spill_bytes": img["spill_bytes"],
                            "stack_bytes": img["stack"], "file": img["file"], "function": img["name"],
                            "pdl": img["pdl"]})
    import triton
    (out / "manifest.json").write_text(json.dumps(
        {"triton": triton.__version__, "archs": [f"sm_{a}" for a in archs], "images": records}, indent=1))
    # images of variants or archs no longer in the manifest must not linger beside it
    listed = {r["file"] for r in records}
    for stale in out.glob("sm_*/*"):
        if stale.suffix in (".cubin", ".ptx") and stale.relative_to(out).as_posix() not in listed:
            stale.unlink()

    # tritium_kernels.h: kernel ids and constexpr param slots
    h = ["/* Generated by aot/build.py from aot/manifest.py: do not edit. */",
         "#ifndef TRITIUM_KERNELS_H", "#define TRITIUM_KERNELS_H", ""]
    for i, k in enumerate(manifest.KERNELS):
        h.append(f"#define TRITIUM_K_{k.name.upper()} {i}")
        for j, p in enumerate(k.params):
            h.append(f"#define TRITIUM_P_{k.name.upper()}_{p} {j}")
    tuning = tuning_entries(archs, variants)
    h += [f"#define TRITIUM_K_COUNT {len(manifest.KERNELS)}",
          f"#define TRITIUM_MATMUL_TUNING_COUNT {max(1, len(tuning))}",
          f"#define TRITIUM_MATMUL_TUNING_USED {len(tuning)}",
          f"#define TRITIUM_MAX_PARAMS {max(len(k.params) for k in manifest.KERNELS)}",
          f"#define TRITIUM_VARIANT_COUNT {len(entries)}",
          f"#define TRITIUM_IMAGE_COUNT {len(images)}",
          f'#define TRITIUM_SHIPPED_ARCHS "{" ".join(f"sm_{a}" for a in archs)}"',
          *(f"#define TRITIUM_{name} {value}" for name, value in {**manifest.CONSTANTS, **_buffer_widths()}.items()),
          "", "#endif", ""]
    (out / "tritium_kernels.h").write_text("\n".join(h))

    # tritium_kernels.c: the tables
    kid = {k.name: i for i, k in enumerate(manifest.KERNELS)}
    c = ["/* Generated by aot/build.py from aot/manifest.py: do not edit. */",
         '#include "registry.h"', ""]
    c += [f"extern const unsigned char {img['sym']}[];" for img in images]
    c += ["", "const tritium_image tritium_images[TRITIUM_IMAGE_COUNT] = {"]
    for img in images:
        c.append(f"  {{{img['arch']}, {1 if img['kind'] == 'ptx' else 0}, {img['pdl']}, {img['shared']}u, "
                 f"{img['registers']}, {img['size']}u, {img['sym']}}},")
    c += ["};", "", "const tritium_variant tritium_variants[TRITIUM_VARIANT_COUNT] = {"]
    for e in entries:
        v = e["variant"]
        params = ", ".join(str(int(x)) for x in v.params) or "0"
        c.append(f"  {{{kid[v.kernel.name]}, {manifest.DTYPE_IDS[v.dtype]}, {int(v.aligned)}, "
                 f"{{{params}}}, {v.num_warps}, {v.num_stages}, {e['first']}, {e['count']}, \"{e['name']}\"}}, "
                 f"/* {v.ident} */")
    c += ["};", "", "const char *const tritium_kernel_names[TRITIUM_K_COUNT] = {"]
    c += [f'  "{k.name}",' for k in manifest.KERNELS]
    c += ["};", ""]
    # variants are grouped by kernel: each kernel's [first, first + count)
    firsts = [next((i for i, e in enumerate(entries) if e["variant"].kernel.name == k.name), 0)
              for k in manifest.KERNELS]
    counts = [sum(1 for e in entries if e["variant"].kernel.name == k.name) for k in manifest.KERNELS]
    c += ["const uint16_t tritium_kernel_first[TRITIUM_K_COUNT] = {" + ", ".join(map(str, firsts)) + "};",
          "const uint16_t tritium_kernel_count[TRITIUM_K_COUNT] = {" + ", ".join(map(str, counts)) + "};", ""]
    c += ["const tritium_matmul_tuning tritium_matmul_tunings[TRITIUM_MATMUL_TUNING_COUNT] = {"]
    for t in tuning:
        c.append("  {%d, %d, %d, %d, %d, %d, %d, %d, %d, %d, {%s}}," % (
            t["arch"], t["dtype"], t["precision"], t["path"], t["align"], t["x_layout"], t["m"], t["n"], t["k"],
            t["split"],
            ", ".join(map(str, t["variants"]))))
    if not tuning:
        c.append("  {0}")
    c += ["};", ""]
    (out / "tritium_kernels.c").write_text("\n".join(c))
    (out / "tritium_images.S").write_text("\n".join(asm) + "\n")
    return records


PRECISIONS = {"highest": 0, "high": 1}
MATMUL_PATHS = {"direct": 0, "packed": 1, "streamed": 2, "gemv": 3}  # tritium_matmul_tuning.path
TUNING_DIR = Path(__file__).resolve().parent / "tuning"


def tuning_entries(archs, variants, tuning_dir=TUNING_DIR):
    """The matmul tuning tables (aot/tuning/sm_<arch>.json) of the built archs, each entry
    resolved to variant indices, one per layout class (manifest.MATMUL_LAYOUTS: general
    strides, then A and B row- or column-major, unaligned and aligned, for the direct
    kernel; classes 0-2 are those of C for the packed one, and of the streamed or gemv one's
    X, whose XL the runtime picks; the packed, streamed and gemv entries repeat one variant
    in the slots they do not use)."""
    out = []
    for path in sorted(Path(tuning_dir).glob("sm_*.json")):
        table = json.loads(path.read_text())
        arch = int(table["arch"])
        if arch not in archs:
            continue
        for i, e in enumerate(table["entries"]):
            cfg = tuple(e["config"])  # (BLOCK_M, BLOCK_N, BLOCK_K, GROUP_M, num_warps, num_stages)
            dtype = e["dtype"]
            prec = PRECISIONS[e["precision"]] if dtype == "f32" else 0

            want = (e["path"], dtype, prec, cfg)
            vs = [-1] * len(manifest.MATMUL_LAYOUTS)
            for vi, v in enumerate(variants):
                if v.for_arch(arch) and manifest.matmul_config(v) == want:
                    vs[manifest.matmul_layout(v)] = vi
            if e["path"] in ("streamed", "gemv") and max(vs) >= 0:
                # the runtime reads only the config from these and resolves the variant by
                # the call's X layout (src/matmul.c, streamed_variant / gemv_variant); some
                # configs have no variant for some layouts (manifest.MATMUL_STREAMED_LAYOUTS,
                # MATMUL_GEMV_CONFIGS)
                vs = [max(vs) if x < 0 else x for x in vs]
            elif e["path"] == "packed":  # C's classes are 0-2; the rest are never read
                vs = vs[:3] + [vs[2]] * (len(vs) - 3)
            else:  # a direct layout not built for this arch: its unaligned variant, else general strides
                vs = [x if x >= 0 else vs[li - 1] if manifest.MATMUL_LAYOUTS[li][2] and vs[li - 1] >= 0 else vs[0]
                      for li, x in enumerate(vs)]
            if -1 in vs:
                raise SystemExit(f"aot/build.py: {path.name} entry {i}: no {e['path']} matmul variant for {dtype} "
                                 f"config {cfg} on sm_{arch}: the table names a config the manifest does not build")
            out.append({"arch": arch, "dtype": manifest.DTYPE_IDS[dtype], "precision": prec,
                        "path": MATMUL_PATHS[e["path"]], "align": int(e["align"]),
                        "x_layout": int(e.get("x_layout", 0)),
                        "m": int(e["m"]), "n": int(e["n"]), "k": int(e["k"]), "split": int(e["split"]),
                        "variants": tuple(vs)})
    return out


def print_table(records, archs):
    """One line per variant: its config and, per arch, registers/shared KB/spills."""
    by_variant = {}
    for r in records:
        if r["kind"] == "cubin":
            by_variant.setdefault(r["variant"], {})[r["arch"]] = r
    head = f"{'variant':<58}" + "".join(f"{a:>16}" for a in (f"sm_{x}" for x in archs))
    print(head)
    print(f"{'':<58}" + "".join(f"{'reg/smemKB/spill':>16}" for _ in archs))
    for ident, per in by_variant.items():
        cells = []
        for a in archs:
            r = per.get(f"sm_{a}")
            cells.append(f"{r['registers']:>4}/{r['shared_bytes'] / 1024:>5.1f}/{r['spill_bytes']:>3}" if r else "-")
        print(f"{ident:<58}" + "".join(f"{c:>16}" for c in cells))
    n_ptx = sum(1 for r in records if r["kind"] == "ptx")
    print(f"{len(by_variant)} variants x {len(archs)} archs: "
          f"{len(records) - n_ptx} cubins, {n_ptx} PTX images")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--archs", default=";".join(map(str, manifest.DEFAULT_ARCHS)),
                    help="semicolon- or comma-separated compute capabilities, e.g. '89;90'")
    ap.add_argument("--cache", type=Path, help="compile cache (default: OUT/cache)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--table", action="store_true", help="print the kernel table when done")
    args = ap.parse_args(argv)

    # Under TRITON_INTERPRET=1 (the interpreter tests set it, and a build may run beneath them)
    # @triton.jit makes functions that cannot be compiled; this process and its workers compile.
    os.environ.pop("TRITON_INTERPRET", None)
    import triton
    if triton.__version__ != TRITON_VERSION_REQUIRED:
        sys.exit(f"aot/build.py: triton {TRITON_VERSION_REQUIRED} required, found {triton.__version__}")
    archs = sorted({int(a.strip().removeprefix("sm_")) for a in re.split(r"[;,\s]+", args.archs) if a.strip()})
    if not archs:
        sys.exit("aot/build.py: no archs given")
    out = args.out.resolve()
    cache = (args.cache or out / "cache").resolve()
    cache.mkdir(parents=True, exist_ok=True)
    variants = manifest.variants()
    ptx_archs = manifest.ptx_archs(archs)
    jobs = [(vi, (v, a, cache_key(v, a, triton.__version__), str(cache), a in ptx_archs))
            for vi, v in enumerate(variants) for a in archs if v.for_arch(a)]
    todo = sum(1 for _, j in jobs if not (cache / j[2] / "meta.json").exists())
    t0 = time.time()
    print(f"aot: {len(variants)} variants x {len(archs)} archs = {len(jobs)} images, {todo} to compile, "
          f"{args.jobs} jobs", flush=True)
    results = {}
    done = 0
    with cf.ProcessPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = {ex.submit(_compile_one, j): (vi, j) for vi, j in jobs}
        for fut in cf.as_completed(futs):
            vi, (v, arch, key, _, want_ptx) = futs[fut]
            meta = fut.result()
            done += 1
            if todo and done % 50 == 0:
                print(f"aot: {done}/{len(jobs)} ({time.time() - t0:.0f} s)", flush=True)
            dst = out / f"sm_{arch}"
            dst.mkdir(parents=True, exist_ok=True)
            cubin = dst / f"{v.ident}.cubin"
            ptx = dst / f"{v.ident}.ptx" if want_ptx else None
            for src_name, path in (("image.cubin", cubin), ("image.ptx", ptx)):
                if path is not None:
                    data = (cache / key / src_name).read_bytes()
                    if not path.exists() or path.read_bytes() != data:
                        path.write_bytes(data)
            results[(vi, arch)] = (meta, cubin, ptx)
    records = generate(out, archs, variants, results)
    print(f"aot: done in {time.time() - t0:.1f} s -> {out}", flush=True)
    if args.table:
        print_table(records, archs)


if __name__ == "__main__":
    main()
