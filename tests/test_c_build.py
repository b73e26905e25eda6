"""Checks of the built C library, its install tree and its shipped images (CPU only).

Runs everywhere, CI included: nothing here needs a GPU or a CUDA toolkit (cuobjdump comes
with the triton package). The build directory is $TRITIUM_BUILD_DIR, default <repo>/build,
configured and built as:

    cmake -S . -B build -DPython3_EXECUTABLE=<python with triton 3.6.0> -DTRITIUM_ARCHS="89;90"
    cmake --build build -j

Every test skips, saying why, when libtritium.so is not built there.

    pytest -q tests/test_c_build.py              # all
    pytest -q tests/test_c_build.py -m "not slow" # without the install + examples build
    pytest -q -s tests/test_c_build.py -k occupancy  # prints the sm_89 occupancy table
"""
import collections
import importlib.util
import json
import math
import os
import re
import struct
import sys
from pathlib import Path

import pytest

from cbuild import HEADER, REPO, build_and_run_examples, build_and_run_pkgconfig_example, clean_env, run, tool

BUILD = Path(os.environ.get("TRITIUM_BUILD_DIR") or REPO / "build").resolve()
SHARED_LIB = BUILD / "libtritium.so"
STATIC_LIB = BUILD / "libtritium.a"
AOT = BUILD / "aot"

pytestmark = pytest.mark.skipif(
    not SHARED_LIB.exists(),
    reason=f"libtritium.so is not built in {BUILD} (build it with CMake, or set TRITIUM_BUILD_DIR)")


def _header_functions():
    """The names of the functions tritium.h declares (every TRITIUM_API declaration)."""
    text = HEADER.read_text()
    names = re.findall(r"^TRITIUM_API\b[^;(]*?\b(tritium_\w+)\s*\(", text, re.M)
    assert len(names) == text.count("\nTRITIUM_API "), "a TRITIUM_API declaration was not parsed"
    assert len(names) == len(set(names))
    return names


# ---- a. the header compiles alone, strictly, as C and C++ --------------------------------

def test_header_declares_the_api():
    names = set(_header_functions())
    for expected in ("tritium_version", "tritium_status_string", "tritium_last_error",
                     "tritium_device_count", "tritium_device_info",
                     "tritium_triplet_margin_loss_workspace_size", "tritium_triplet_margin_loss",
                     "tritium_matmul_workspace_size", "tritium_matmul"):
        assert expected in names
    assert not re.search(r"#\s*include\s*[<\"]cuda", HEADER.read_text()), "tritium.h includes a CUDA header"


@pytest.mark.parametrize("compiler,std", [("gcc", "c99"), ("g++", "c++11"), ("g++", "c++17")])
def test_header_compiles_standalone(tmp_path, compiler, std):
    cc = tool(compiler)
    names = _header_functions()
    # Casting to void (*)(void) is the one function-pointer cast -Wcast-function-type accepts.
    src = "\n".join([
        '#include "tritium.h"',
        '#include "tritium.h" /* the include guard holds */',
        "typedef void (*any_fn)(void);",
        "static const any_fn api[] = {",
        *[f"    (any_fn){n}," for n in names],
        "};",
        "int main(void) {",
        "    tritium_status s = TRITIUM_SUCCESS;",
        "    tritium_dtype t = TRITIUM_BFLOAT16;",
        "    tritium_reduction r = TRITIUM_REDUCTION_MEAN;",
        "    tritium_precision p = TRITIUM_PRECISION_HIGH;",
        "    struct CUstream_st *stream = 0;",
        "    unsigned v = TRITIUM_VERSION_NUMBER;",
        "    (void)stream;",
        "    return (int)(sizeof api / sizeof api[0]) + (int)s + (int)t + (int)r + (int)p +",
        "           (int)(v != tritium_version()) + (TRITIUM_VERSION_STRING[0] == '0');",
        "}",
        ""])
    tu = tmp_path / ("tu.c" if compiler == "gcc" else "tu.cpp")
    tu.write_text(src)
    flags = ["-std=" + std, "-Wall", "-Wextra", "-Werror", "-pedantic"]
    if compiler == "gcc":
        flags.append("-Wstrict-prototypes")
    # only include/ on the include path; -H lists every header the TU pulled in
    p = run([cc, *flags, "-H", "-I", REPO / "include", tu, "-o", tmp_path / "tu",
             "-L", BUILD, "-ltritium", "-Wl,-rpath," + str(BUILD)])
    included = [ln.lstrip(". ") for ln in p.stderr.splitlines() if ln.startswith(".")]
    assert any(h.endswith("tritium.h") for h in included)
    assert not [h for h in included if "cuda" in Path(h).name.lower()], included
    # and it linked against libtritium.so, so every declared function is defined there


# ---- b. what the libraries export ------------------------------------------------------------

def _nm_names(args):
    out = run([tool("nm"), *args]).stdout
    names = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.endswith(":"):
            names.append(parts[-1])
    return names


def test_shared_library_exports_only_the_api():
    names = _nm_names(["-D", "--defined-only", SHARED_LIB])
    assert names, "nm found no dynamic symbols"
    assert [n for n in names if not n.startswith("tritium_")] == []
    # exactly the header's functions: nothing internal leaks, nothing declared is missing
    assert sorted(names) == sorted(_header_functions())


def test_shared_library_soname_and_dependencies():
    out = run([tool("readelf"), "-d", SHARED_LIB]).stdout
    soname = re.findall(r"\(SONAME\)\s+Library soname: \[(.*)\]", out)
    assert soname == ["libtritium.so.0"]
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", out)
    # the driver is dlopen'ed at run time, never linked
    assert not [n for n in needed if "cuda" in n], needed
    assert os.readlink(BUILD / "libtritium.so") == "libtritium.so.0"


def test_static_library_external_symbols_are_prefixed():
    if not STATIC_LIB.exists():
        pytest.skip(f"{STATIC_LIB} is not built")
    names = _nm_names(["-g", "--defined-only", STATIC_LIB])
    assert set(_header_functions()) <= set(names)
    assert [n for n in names if not n.startswith("tritium_")] == []


# ---- c. the C test program, linked both ways ----------------------------------------------------

@pytest.mark.parametrize("program", ["tritium_c_api_test", "tritium_c_api_test_static"])
def test_c_api_test_program(program):
    exe = BUILD / program
    if not exe.exists():
        pytest.skip(f"{exe} is not built (TRITIUM_BUILD_TESTS=OFF?)")
    p = run([exe], timeout=60)
    lines = p.stdout.strip().splitlines()
    assert lines and lines[-1] == "PASSED", p.stdout
    assert "FAIL" not in p.stdout


# ---- c2. the C++ header: inline over the C ABI, strict C++14 and C++20 ---------------------------

@pytest.mark.parametrize("std", ["c++14", "c++20"])
def test_cpp_header_program(tmp_path, std):
    exe = tmp_path / "cpp_api_test"
    p = run([tool("g++"), "-std=" + std, "-Wall", "-Wextra", "-Werror", "-pedantic", "-H", "-I", REPO / "include",
             REPO / "tests" / "c" / "cpp_api_test.cpp", "-o", exe, "-L", BUILD, "-ltritium",
             "-Wl,-rpath," + str(BUILD)])
    included = [ln.lstrip(". ") for ln in p.stderr.splitlines() if ln.startswith(".")]
    assert any(h.endswith("tritium.hpp") for h in included)
    assert not [h for h in included if "cuda" in Path(h).name.lower()], included
    p = run([exe], timeout=60)
    lines = p.stdout.strip().splitlines()
    assert lines and lines[-1] == "PASSED", p.stdout
    # header-only: the program defines none of the C API's symbols itself, it calls the library's
    own = [n for n in _nm_names(["--defined-only", exe]) if n.startswith("tritium_")]
    assert own == [], own
    assert set(_header_functions()) >= {n for n in _nm_names(["--undefined-only", exe]) if n.startswith("tritium_")}


# ---- d. the shipped images: each is what the manifest says it is --------------------------------

EM_CUDA = 190
ELFOSABI_CUDA = (0x33, 0x41)  # 0x41 from the Blackwell ptxas (ELF ABI version 8), e.g. sm_120a


def cubin_arch(data):
    """'sm_89' / 'sm_90a' from a cubin's ELF header.

    e_flags of a CUDA ELF: with EI_ABIVERSION 7 (CUDA 12's ptxas, what triton 3.6 ships)
    the SM number is the low byte (EF_CUDA_SM) and the 'a' (architecture-specific) flag is
    bit 11 (EF_CUDA_ACCELERATORS_V1, 0x800); with ABI version 8 (CUDA 13) the SM moves to
    bits 8..15 and 'a' to bit 3 (0x8). Checked against cuobjdump's listing below.
    """
    assert data[:4] == b"\x7fELF", "not an ELF file"
    assert data[4] == 2, "not a 64-bit ELF"
    assert data[7] in ELFOSABI_CUDA, f"EI_OSABI {data[7]:#x}, not CUDA"
    (e_machine,) = struct.unpack_from("<H", data, 18)
    assert e_machine == EM_CUDA, f"e_machine {e_machine}, not EM_CUDA"
    (flags,) = struct.unpack_from("<I", data, 48)
    if data[8] < 8:
        sm, accel = flags & 0xFF, flags & 0x800
    else:
        sm, accel = (flags >> 8) & 0xFF, flags & 0x8
    return f"sm_{sm}{'a' if accel else ''}"


def _manifest():
    path = AOT / "manifest.json"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    return json.loads(path.read_text())


def _cuobjdump():
    spec = importlib.util.find_spec("triton")
    if spec is None or spec.origin is None:
        return None
    exe = Path(spec.origin).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    return exe if exe.exists() else None


def _res_usage(cuobjdump, path):
    out = run([cuobjdump, "-res-usage", path]).stdout
    m = re.search(r"REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)", out)
    assert m, out
    return dict(zip(("registers", "stack", "static_shared", "local"), map(int, m.groups())))


def test_manifest_matches_the_files():
    man = _manifest()
    images = man["images"]
    assert images
    on_disk = {p.relative_to(AOT).as_posix() for p in AOT.glob("sm_*/*") if p.suffix in (".cubin", ".ptx")}
    assert {r["file"] for r in images} == on_disk
    for r in images:
        assert r["kind"] in ("cubin", "ptx"), r
        assert r["file"].startswith(r["arch"] + "/"), r
        assert r["arch"] in man["archs"], r
    # every arch the build claims has a cubin of every variant the manifest builds for it
    sys.path.insert(0, str(REPO / "aot"))
    import manifest
    for arch in man["archs"]:
        a = int(arch.removeprefix("sm_"))
        want = {v.ident for v in manifest.variants() if v.for_arch(a)}
        assert {r["variant"] for r in images if r["arch"] == arch and r["kind"] == "cubin"} == want, arch


def test_aligned_variants_promise_their_class():
    """What an aligned variant tells the compiler (Triton's divisibility): its class of
    `aligned` bytes. Pointers aligned to it, the caller's sizes and strides multiples of it
    (16 bytes: 4 fp32 or 8 fp16/bf16 elements, what src/matmul.c checks through
    tritium_align_elems; the triplet kernels' 8- and 4-byte classes, src/triplet.c's
    narrow_class), and what the library sizes itself (workspace rows) multiples of 16
    elements. A promise of 16 elements would keep 8-element bf16 rows (1000, 3000) off the
    vector loads; one weaker than the runtime's check would be wrong code."""
    sys.path.insert(0, str(REPO / "aot"))
    import manifest
    elem = {"f32": 4, "f16": 2, "bf16": 2}
    assert {dt: 16 // size for dt, size in elem.items()} == manifest.ALIGN_ELEMS
    seen = set()
    for v in manifest.variants():
        types = dict(v.kernel.args)
        names = [n for n, _ in v.kernel.args]
        for (i,), attrs in v.attrs().items():
            (key, div), = attrs
            name = names[i]
            assert key == "tt.divisibility"
            if name in v.kernel.always_aligned:
                assert div == 16, (v.ident, name, div)
            elif types[name].startswith("*"):
                assert div == v.aligned, (v.ident, name, div)
            else:
                assert v.aligned and div * elem[v.dtype] == v.aligned, (v.ident, name, div)
                seen.add((v.kernel.name, v.dtype, v.aligned))
        if not v.aligned:
            assert all(names[i] in v.kernel.always_aligned for (i,) in v.attrs()), v.ident
    # every kernel with caller-side promises makes them in every dtype, at 16 bytes; the
    # triplet kernels also at each narrower class a vector of the dtype fits (8 bytes, and
    # for 16-bit types 4)
    kernels = {k.name for k in manifest.KERNELS if k.aligned_args}
    want = {(k, dt, 16) for k in kernels - {"triplet_fwd_lanes"} for dt in elem
            if k != "matmul_streamed" or dt == "f32"}  # the lanes forward: narrower rows only
    want |= {(k, dt, c) for k in ("triplet_fwd", "triplet_fwd_lanes", "triplet_bwd", "triplet_single") for dt in elem
             for c in (4, 8) if c > elem[dt]}
    assert seen == want
    assert {v.aligned for v in manifest.variants()} == {0, 4, 8, 16}


def test_lanes_forward_layout():
    """The lanes forward (src/triplet.c, pick_lanes) is fast only in the layout its doc
    describes: each thread one VEC-element vector, the lanes of a warp over LANES along a
    row and 32 / LANES rows, the NV vectors of a lane in its registers. Triton derives that
    layout from the tile's axis order; a Triton that spread the lanes otherwise would still
    compute the right values, only slowly. Compiled here for sm_89 as the build does (the
    bf16 variants of p = 2, each class and config)."""
    pytest.importorskip("triton")
    # in a process of its own: the interpreter tests set TRITON_INTERPRET=1 in this one
    script = r"""
import json, re, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
sys.path.insert(0, sys.argv[1])
import build, manifest
out = []
for v in manifest.variants():
    values = dict(zip(v.kernel.params, v.params))
    if v.kernel is not manifest.TRIPLET_FWD_LANES or v.dtype != "bf16" or values["P_MODE"] != 2:
        continue
    src = ASTSource(build._load_kernel(v.kernel), v.signature(), constexprs=v.constexprs(89), attrs=v.attrs())
    k = triton.compile(src, target=GPUTarget("cuda", 89, 32), options={"num_warps": v.num_warps, "num_stages": 1})
    out.append((v.ident, values["LANES"], values["VEC"], v.num_warps, re.findall(r"#blocked\d* = .*", k.asm["ttgir"]),
                v.aligned))
print(json.dumps(out))
"""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    res = run([sys.executable, "-c", script, str(REPO / "aot")], env=env, timeout=600)
    checked = json.loads(res.stdout.strip().splitlines()[-1])
    per_class = collections.Counter()
    for ident, lanes, vec, warps, layouts, aligned in checked:
        want = (f"sizePerThread = [1, 1, 1, {vec}], threadsPerWarp = [{lanes}, {32 // lanes}, 1, 1], "
                f"warpsPerCTA = [1, {warps}, 1, 1]")
        assert any(want in line for line in layouts), (ident, layouts)
        per_class[aligned] += 1
    # every class narrower than 16 bytes (16-byte rows keep the row tiles), several configs each
    sys.path.insert(0, str(REPO / "aot"))
    import manifest
    assert set(per_class) == {c for c in manifest.TRIPLET_ALIGN_CLASSES["bf16"] if c < 16}, per_class
    assert min(per_class.values()) >= 2, per_class


def test_cubins_have_the_arch_they_claim():
    man = _manifest()
    cuobjdump = _cuobjdump()
    checked = 0
    for r in man["images"]:
        path = AOT / r["file"]
        if r["kind"] == "cubin":
            got = cubin_arch(path.read_bytes())
            assert got == r["target"], f"{r['file']}: ELF says {got}, manifest {r['target']}"
            assert re.fullmatch(r["arch"] + "a?", got), f"{r['file']}: {got} is not {r['arch']}"
            if cuobjdump:
                # an independent reading: cuobjdump names the ELF <stem>.<arch>.cubin
                out = run([cuobjdump, "-lelf", path]).stdout
                assert re.search(rf"\.{re.escape(r['target'])}\.cubin\s*$", out, re.M), out
                use = _res_usage(cuobjdump, path)
                assert (use["registers"], use["stack"], use["local"]) == \
                    (r["registers"], r["stack_bytes"], r["spill_bytes"]), f"{r['file']}: {use} vs manifest"
        else:
            m = re.search(r"^\.target\s+(sm_\w+)", path.read_text(), re.M)
            assert m, f"{r['file']} has no .target line"
            assert r["target"] == "compute_" + m.group(1)[3:], f"{r['file']}: .target {m.group(1)} vs {r['target']}"
            assert re.fullmatch(r["arch"] + "a?", m.group(1)), f"{r['file']}: .target {m.group(1)}"
        checked += 1
    assert checked == len(man["images"])
    if cuobjdump is None:
        pytest.skip("arch read from ELF headers only: triton's cuobjdump is not installed")


# RTX 4090 (AD102, compute capability 8.9), as the CUDA occupancy calculator models it.
SM89 = dict(threads=1536, warps=48, regs=65536, reg_unit=256, reg_partitions=4, max_regs_per_thread=255,
            smem=100 * 1024, smem_per_block=99 * 1024, smem_reserved_per_block=1024, smem_unit=128, blocks=24)


def occupancy_sm89(num_warps, registers, shared_bytes):
    """Resident blocks per SM of a kernel on the 4090, and what limits it."""
    c = SM89
    threads = num_warps * 32
    regs_per_warp = math.ceil(registers * 32 / c["reg_unit"]) * c["reg_unit"]
    # registers come from 4 partitions of 16K: whole warps per partition
    warps_by_regs = (c["regs"] // c["reg_partitions"] // regs_per_warp) * c["reg_partitions"]
    smem_block = math.ceil((shared_bytes + c["smem_reserved_per_block"]) / c["smem_unit"]) * c["smem_unit"]
    limits = {
        "blocks": c["blocks"],
        "threads": c["threads"] // threads,
        "regs": warps_by_regs // num_warps,
        "smem": c["smem"] // smem_block,
    }
    blocks = min(limits.values())
    return blocks, min(limits, key=limits.get), blocks * num_warps / c["warps"]


def test_sm89_resources_and_occupancy():
    man = _manifest()
    rows = [r for r in man["images"] if r["arch"] == "sm_89" and r["kind"] == "cubin"]
    if not rows:
        pytest.skip("this build ships no sm_89 cubin (TRITIUM_ARCHS has no 89)")
    cuobjdump = _cuobjdump()
    table, bad = [], []
    for r in rows:
        shared = r["shared_bytes"]
        if cuobjdump:  # the manifest records Triton's dynamic shared memory; add any static
            shared += _res_usage(cuobjdump, AOT / r["file"])["static_shared"]
        problems = []
        if shared > SM89["smem_per_block"]:
            problems.append(f"shared {shared} > 99 KB")
        if r["spill_bytes"] or r["stack_bytes"]:
            problems.append(f"spill {r['spill_bytes']} stack {r['stack_bytes']}")
        if r["registers"] > SM89["max_regs_per_thread"]:
            problems.append(f"{r['registers']} registers")
        blocks, limiter, occ = occupancy_sm89(r["num_warps"], r["registers"], shared)
        if blocks < 1:
            problems.append("no block fits on an SM")
        if problems:
            bad.append(f"{r['variant']}: {', '.join(problems)}")
        table.append((r["variant"], r["num_warps"], r["registers"], shared, blocks, limiter, occ))

    w = max(len(t[0]) for t in table)
    print(f"\nsm_89 occupancy on the RTX 4090 ({len(table)} cubins; 48 warps/SM, 64K regs, 100 KB smem)")
    print(f"{'variant':<{w}} {'warps':>5} {'regs':>4} {'smem B':>7} {'blk/SM':>6} {'limit':>7} {'occ':>5}")
    for v, nw, regs, sh, blocks, limiter, occ in table:
        print(f"{v:<{w}} {nw:>5} {regs:>4} {sh:>7} {blocks:>6} {limiter:>7} {occ:>5.0%}")
    assert not bad, "sm_89 cubins that do not fit the 4090:\n" + "\n".join(bad)


_GLOBAL_MEMORY_OPS = re.compile(r"^\s*(?:@!?U?P\w+\s+)?(LDG|STG|LDGSTS|ATOMG|RED|UTMALDG|UBLKCP)\b")


def test_pdl_images_wait_before_touching_memory():
    """Images launched with programmatic dependent launch (the manifest's `pdl`: the triplet,
    matmul gemv and matmul reduce kernels on sm_90 and up) must wait for the previous kernel (griddepcontrol.wait: SASS
    ACQBULK) before any global memory access, or they would read inputs still being
    written; the others must carry no such code. Every kernel starts with the same call, so
    one cubin per (kernel, arch, pdl) is disassembled."""
    man = _manifest()
    cuobjdump = _cuobjdump()
    if cuobjdump is None:
        pytest.skip("no cuobjdump in this Triton")
    seen, bad = set(), []
    for r in man["images"]:
        if r["kind"] != "cubin" or (r["kernel"], r["arch"], r["pdl"]) in seen:
            continue
        seen.add((r["kernel"], r["arch"], r["pdl"]))
        sass = run([cuobjdump, "-sass", AOT / r["file"]]).stdout
        ops = [ln.split(";")[0].split("*/", 1)[-1].strip() for ln in sass.splitlines()
               if re.match(r"\s*/\*[0-9a-f]{4}\*/", ln)]
        first_wait = next((i for i, op in enumerate(ops) if op.startswith("ACQBULK")), None)
        first_mem = next((i for i, op in enumerate(ops) if _GLOBAL_MEMORY_OPS.match(op)), len(ops))
        if r["pdl"]:
            if first_wait is None or first_wait > first_mem:
                bad.append(f"{r['arch']} {r['variant']}: no wait before its first global access")
        elif first_wait is not None:
            bad.append(f"{r['arch']} {r['variant']}: griddepcontrol in an image launched without PDL")
    if not any(r["pdl"] for r in man["images"]):
        pytest.skip("this build ships no image with PDL (no sm_90+ arch)")
    assert not bad, "\n".join(bad)


def test_occupancy_model():
    # hand-checked against the CUDA occupancy calculator (cc 8.9)
    assert occupancy_sm89(8, 255, 65536)[:2] == (1, "regs")     # 8 warps x 8192 regs fill the file
    assert occupancy_sm89(4, 255, 256)[:2] == (2, "regs")
    assert occupancy_sm89(4, 28, 16)[:2] == (12, "threads")     # 1536 / 128 threads
    assert occupancy_sm89(1, 16, 0)[:2] == (24, "blocks")
    assert occupancy_sm89(4, 32, 48 * 1024)[:2] == (2, "smem")  # 49 KB each with the 1 KB reserve
    assert occupancy_sm89(4, 32, 99 * 1024)[0] == 1             # 99 KB + 1 KB reserve = 100 KB per SM
    assert occupancy_sm89(4, 32, 99 * 1024 + 1)[0] == 0


# ---- e. the install tree, and the examples built against it ------------------------------------

@pytest.mark.slow
def test_install_and_examples(tmp_path):
    cmake = tool("cmake")
    prefix = tmp_path / "prefix"
    run([cmake, "--install", BUILD, "--prefix", prefix])

    assert (prefix / "include" / "tritium.h").read_text() == HEADER.read_text()
    assert (prefix / "include" / "tritium.hpp").read_text() == (REPO / "include" / "tritium.hpp").read_text()
    lib = prefix / "lib"
    assert (lib / "libtritium.so").is_symlink() and (lib / "libtritium.so.0").is_symlink()
    assert len(list(lib.glob("libtritium.so.0.*"))) == 1
    assert (lib / "libtritium.a").is_file()
    for f in ("tritiumConfig.cmake", "tritiumConfigVersion.cmake", "tritiumTargets.cmake"):
        assert (lib / "cmake" / "tritium" / f).is_file(), f
    assert (lib / "pkgconfig" / "tritium.pc").is_file()
    share = prefix / "share" / "tritium"
    man = json.loads((share / "manifest.json").read_text())
    assert man == json.loads((AOT / "manifest.json").read_text())
    for r in man["images"]:
        assert (share / r["file"]).is_file(), r["file"]
    assert sorted(p.name for p in share.glob("sm_*")) == sorted(man["archs"])

    # CMake: find_package(tritium 0.1) through CMAKE_PREFIX_PATH, nothing else
    bld = tmp_path / "examples-build"
    env = clean_env()
    outputs = build_and_run_examples(bld, [f"-DCMAKE_PREFIX_PATH={prefix}"], env)
    cache = (bld / "CMakeCache.txt").read_text()
    assert f"tritium_DIR:PATH={prefix}/lib/cmake/tritium" in cache

    # pkg-config, with the prefix given at install time (tritium.pc is relocatable); the same
    # outcome as the CMake build, from the same library
    last = build_and_run_pkgconfig_example(tmp_path / "triplet_matmul_pc", lib / "pkgconfig", env)
    assert last == outputs["triplet_matmul"][-1]
