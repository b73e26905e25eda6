"""Reliability (docs/reliability.md): the C API fuzzer, the stress and sanitizer programs, the
references those programs check results against, and the binding's version check.

    pytest -q tests/test_reliability.py                 # everything this machine can run
    pytest -q tests/test_reliability.py -k "not sanitizer"   # without the compute-sanitizer runs

CPU (CI): the fuzzer (host memory stands in for device memory, which the library must never
touch), the sanitizer program's plan checked to reach every compiled variant (dry runs for
sm_90, sm_89 and the sm_89 PTX on sm_90), the C fp64 references checked against PyTorch,
and the version check. GPU: the fuzzer on device memory, tests/c/stress.c's subcommands
(natively and through the sm_89 PTX, TRITIUM_FORCE_ARCH=89 TRITIUM_FORCE_PTX=1), the
dlclose program and tests/sanitize.sh. A program that exits 77 has no GPU (or no second
one, or no compute-sanitizer): the test skips with the program's own message.

Programs are in $TRITIUM_BUILD_DIR (default <repo>/build), built with the library.
"""
import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("TRITIUM_BUILD_DIR") or REPO / "build").resolve()
SKIP = 77
PTX89 = {"TRITIUM_FORCE_ARCH": "89", "TRITIUM_FORCE_PTX": "1"}
ENVS = {"native": {}, "sm89-ptx": PTX89}


def _exe(name):
    path = BUILD / name
    if not path.exists():
        pytest.skip(f"{path} is not built (build with CMake and TRITIUM_BUILD_TESTS=ON, or set TRITIUM_BUILD_DIR)")
    return path


def _run(args, env=None, timeout=600):
    """Runs a program; skips on exit 77 with its last line, fails with its output otherwise."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRITIUM_FORCE")}
    full_env.update(env or {})
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=full_env)
    if p.returncode == SKIP:
        lines = p.stdout.strip().splitlines()
        pytest.skip(lines[-1] if lines else "exit 77")
    assert p.returncode == 0, f"{' '.join(map(str, args))} exited {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
    print(p.stdout)
    return p.stdout


# ---- the fuzzer ---------------------------------------------------------------------------

FUZZ_SUMMARY = re.compile(r"^fuzz: (\d+) calls, (\d+) rejected \(by status:([^)]*)\), (\d+) accepted .*?"
                          r"(\d+) guard violations, (\d+) status mismatches, seed (\d+)$", re.M)


def _fuzz(seed, count):
    out = _run([_exe("tritium_fuzz_api"), "--seed", seed, "--count", count], timeout=300)
    m = FUZZ_SUMMARY.search(out)
    assert m, out
    calls, rejected, by_status, accepted, guard, mismatch, got_seed = m.groups()
    assert (int(guard), int(mismatch)) == (0, 0), out
    assert int(got_seed) == seed and int(calls) >= count
    # every argument status was produced, and both outcomes are frequent
    statuses = {int(s.split("=")[0]) for s in by_status.split()}
    assert set(range(100, 109)) <= statuses, by_status
    assert int(rejected) > count // 5 and int(accepted) > count // 5, out
    per_entry = dict(kv.split("=") for kv in re.search(r"^by entry point: (.*)$", out, re.M).group(1).split())
    assert all(int(n) > 0 for n in per_entry.values()), per_entry
    return out


def test_fuzz_api():
    """20000 vectors from a fixed seed (reproducible in CI)."""
    _fuzz(20240611, 20000)


def test_fuzz_api_fresh_seed():
    """A seed of this run: the message names it, for reproducing a failure."""
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seed {seed}")
    _fuzz(seed, 5000)


# ---- the GPU programs -------------------------------------------------------------------------

STRESS = [
    ("threads", []),                         # 16 threads racing the lazy load
    ("contexts", []),                        # cuCtxCreate'd contexts, churned; no current context
    ("devices", []),                         # two or more GPUs (skips with one)
    ("graphs", []),                          # capture after a warm-up, 100 replays
    ("graphs", ["--first"]),                 # the capture is the process's first launching call
    ("graphs", ["--first", "--mode", "relaxed"]),
    ("leaks", []),                           # 100,000 calls: device memory and RSS
]


@pytest.mark.parametrize("env", ENVS, ids=list(ENVS))
@pytest.mark.parametrize("cmd,args", STRESS, ids=[" ".join([c, *a]).replace(" --", "-").replace(" ", "-")
                                                   for c, a in STRESS])
def test_stress(cmd, args, env):
    out = _run([_exe("tritium_stress"), cmd, *args], env=ENVS[env])
    assert re.search(rf"^{cmd}: .*\b0 failures", out, re.M) or cmd == "leaks", out


def test_unload():
    """dlopen/dlclose libtritium with its images loaded, four times, then exit."""
    lib = BUILD / "libtritium.so"
    out = _run([_exe("tritium_unload_test"), lib, "--rounds", "4"])
    assert "unload: 4 rounds" in out and " ok;" in out


# ---- compute-sanitizer ------------------------------------------------------------------------

@pytest.mark.parametrize("arch,env", [(90, {}), (89, {}), (90, PTX89)], ids=["sm90", "sm89", "sm89-ptx-on-sm90"])
def test_sanitizer_plan_reaches_every_variant(arch, env):
    """The sanitizer program's calls, counted against the build's tables for such a device
    (no GPU: launches are counted, not made): every variant with an image there is reached."""
    out = _run([_exe("tritium_sanitize"), "--dry-run", arch], env=env)
    m = re.search(r"variants launched: (\d+)/(\d+)", out)
    assert m and m.group(1) == m.group(2) and int(m.group(2)) > 0, out


def test_sanitizer():
    """tests/sanitize.sh: every variant under memcheck, racecheck, initcheck and synccheck,
    natively and through the sm_89 PTX (GPU and compute-sanitizer; a few minutes)."""
    _exe("tritium_sanitize")
    _run(["bash", REPO / "tests" / "sanitize.sh", BUILD], timeout=3600)


# the verdict of tests/sanitize.sh, on CPU: a stand-in program and a stand-in compute-sanitizer
# printing each tool's summary as compute-sanitizer 2025 does (racecheck has no ERROR SUMMARY)
_FAKE_CS = """#!/bin/sh
tool=$2; for prog; do :; done   # --tool T [options] PROGRAM: the program is the last argument
echo "========= COMPUTE-SANITIZER"; "$prog"
if [ "$tool" = racecheck ]; then echo "========= RACECHECK SUMMARY: $RACE hazards displayed ($RACE_ERR errors, 0 warnings)"
else echo "========= ERROR SUMMARY: $ERRORS errors"; fi
"""


@pytest.mark.parametrize("race,race_err,errors,clean", [
    ("0", "0", "0", True), ("2", "0", "0", True),        # racecheck warnings are not errors
    ("1", "1", "0", False), ("0", "0", "3", False)])
def test_sanitize_script_verdict(tmp_path, race, race_err, errors, clean):
    build = tmp_path / "build"
    build.mkdir()
    prog = build / "tritium_sanitize"
    prog.write_text("#!/bin/sh\necho 'sanitize: 1 calls, 1 launches; variants launched: 1/1; 0 failures'\n")
    cs = tmp_path / "compute-sanitizer"
    cs.write_text(_FAKE_CS)
    prog.chmod(0o755), cs.chmod(0o755)
    env = dict(os.environ, COMPUTE_SANITIZER=str(cs), RACE=race, RACE_ERR=race_err, ERRORS=errors)
    r = subprocess.run(["bash", REPO / "tests" / "sanitize.sh", build], env=env, capture_output=True, text=True)
    assert r.returncode == (0 if clean else 1), r.stdout + r.stderr
    assert r.stdout.count(" rc=0 ") == 8 and r.stdout.rstrip().endswith("all clean" if clean else "FAILED"), r.stdout


# ---- the references the GPU programs check against, against PyTorch (CPU) ------------------

class CaseStruct(ctypes.Structure):
    """tests/c/test_support.h's test_case."""
    _fields_ = [("kind", ctypes.c_int), ("dtype", ctypes.c_int), ("n", ctypes.c_int64), ("d", ctypes.c_int64),
                ("pad", ctypes.c_int64),
                ("margin", ctypes.c_float), ("p", ctypes.c_float), ("eps", ctypes.c_float), ("swap", ctypes.c_int),
                ("reduction", ctypes.c_int), ("nosave", ctypes.c_int), ("precision", ctypes.c_int), ("m", ctypes.c_int64),
                ("nc", ctypes.c_int64), ("k", ctypes.c_int64), ("la", ctypes.c_int), ("lb", ctypes.c_int),
                ("lc", ctypes.c_int), ("workspace", ctypes.c_int), ("keep_outputs", ctypes.c_int),
                ("nbuf", ctypes.c_int), ("dev", ctypes.c_uint64 * 12), ("host", ctypes.c_void_p * 12),
                ("bytes", ctypes.c_size_t * 12), ("ws_bytes", ctypes.c_size_t), ("lda", ctypes.c_int64),
                ("ldb", ctypes.c_int64), ("ldc", ctypes.c_int64), ("sa", ctypes.c_int64 * 2),
                ("sb", ctypes.c_int64 * 2), ("sc", ctypes.c_int64 * 2)]


@pytest.fixture(scope="module")
def cases_lib(tmp_path_factory):
    """tests/c's case code as a shared library over libtritium, with host memory as device memory."""
    cc = shutil.which("gcc") or pytest.skip("gcc is not on PATH")
    if not (BUILD / "libtritium.so").exists():
        pytest.skip(f"libtritium.so is not built in {BUILD}")
    out = tmp_path_factory.mktemp("cases") / "libcases.so"
    src = REPO / "tests" / "c"
    subprocess.run([cc, "-std=c11", "-O1", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-I", REPO / "include",
                    "-I", src, src / "cases.c", src / "test_support.c", src / "cuda_min.c", "-o", out, "-L", BUILD,
                    "-ltritium", "-Wl,-rpath," + str(BUILD), "-ldl", "-lm"], check=True)
    lib = ctypes.CDLL(str(out))
    ctypes.c_int.in_dll(lib, "dev_fake").value = 1
    for name in ("case_random", "case_alloc", "case_free", "case_fill", "case_check", "case_describe"):
        getattr(lib, name).restype = None if name != "case_check" else ctypes.c_int
    return lib


def _tensor(c, i, count, dtype, torch):
    """Buffer i of the case (host memory) as a 1-D tensor sharing it."""
    if count == 0:
        return torch.empty(0, dtype=dtype)
    raw = (ctypes.c_char * (count * torch.tensor([], dtype=dtype).element_size())).from_address(c.dev[i])
    return torch.frombuffer(raw, dtype=dtype)


def _play_gpu_triplet(c, torch):
    """What tritium computes (fp32 math on the inputs as stored, outputs rounded to the
    dtype), written into the case's output buffers."""
    F = torch.nn.functional
    dt = [torch.float32, torch.float16, torch.bfloat16][c.dtype]
    n, d = c.n, c.d
    assert c.pad == 0, "case_random draws contiguous rows; their inputs are read here as such"
    a, p, ng = (_tensor(c, i, n * d, dt, torch).view(n, d).float().requires_grad_() for i in range(3))
    red = ["none", "mean", "sum"][c.reduction]
    loss = F.triplet_margin_loss(a, p, ng, margin=c.margin, p=c.p, eps=c.eps, swap=bool(c.swap), reduction=red)
    outs = n if red == "none" else 1
    gout = _tensor(c, 6, outs, dt, torch).float()
    loss.backward(gout.view(loss.shape))
    _tensor(c, 3, outs, dt, torch).copy_(loss.detach().reshape(-1).to(dt))
    for i, t in enumerate((a, p, ng)):
        _tensor(c, 7 + i, n * d, dt, torch).copy_(t.grad.reshape(-1).to(dt))


def _play_gpu_matmul(c, torch):
    dt = [torch.float32, torch.float16, torch.bfloat16][c.dtype]
    e = torch.tensor([], dtype=dt).element_size()
    A = _tensor(c, 0, c.bytes[0] // e, dt, torch).as_strided((c.m, c.k), tuple(c.sa))
    B = _tensor(c, 1, c.bytes[1] // e, dt, torch).as_strided((c.k, c.nc), tuple(c.sb))
    C = _tensor(c, 2, c.bytes[2] // e, dt, torch).as_strided((c.m, c.nc), tuple(c.sc))
    C.copy_((A.double() @ B.double()).to(dt))


@pytest.mark.parametrize("kind", ["triplet", "matmul"])
def test_c_references_agree_with_torch(cases_lib, kind):
    """The checks of the GPU programs (tests/c/cases.c) pass on PyTorch's results (fp32 math,
    outputs rounded to the dtype, as tritium computes them) for random cases of every kind
    the programs draw, and fail when one output element is off. So a failure on the GPU
    means tritium disagrees with PyTorch, not that the test's reference does."""
    torch = pytest.importorskip("torch")
    lib = cases_lib
    rng = ctypes.c_uint64(7)
    msg = ctypes.create_string_buffer(256)
    desc = ctypes.create_string_buffer(160)
    checked = 0
    for i in range(60):
        c = CaseStruct()
        lib.case_random(ctypes.byref(c), 0 if kind == "triplet" else 1, ctypes.byref(rng), ctypes.c_int64(64))
        lib.case_alloc(ctypes.byref(c))
        lib.case_fill(ctypes.byref(c), ctypes.byref(rng), None)
        lib.case_describe(ctypes.byref(c), desc, 160)
        (_play_gpu_triplet if kind == "triplet" else _play_gpu_matmul)(c, torch)
        bad = lib.case_check(ctypes.byref(c), None, msg, 256)
        assert bad == 0, f"{desc.value.decode()}: {msg.value.decode()}"
        # one element off by far more than the bound: the check must see it
        out = 3 if kind == "triplet" else 2
        dt = [torch.float32, torch.float16, torch.bfloat16][c.dtype]
        e = torch.tensor([], dtype=dt).element_size()
        t = _tensor(c, out, c.bytes[out] // e, dt, torch)
        if kind == "matmul":
            t = t.as_strided((c.m, c.nc), tuple(c.sc))[c.m // 2]
        t[0] = t[0].float() * 1.5 + 1000.0
        assert lib.case_check(ctypes.byref(c), None, msg, 256) == 1, desc.value.decode()
        lib.case_free(ctypes.byref(c))
        checked += 1
    assert checked == 60


# ---- the Python binding's version check (CPU) -------------------------------------------------

def _import_tritium(pythonpath, code="import tritium"):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    # the copy first; the caller's other entries stay (cffi may live there), not the repo's package
    ours = str((REPO / "python").resolve())
    rest = [e for e in os.environ.get("PYTHONPATH", "").split(os.pathsep) if e and str(Path(e).resolve()) != ours]
    env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), *rest])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def _package_copy(tmp_path):
    pkg = REPO / "python" / "tritium"
    if not list(pkg.glob("_ffi*.so")):
        pytest.skip("the cffi extension is not built into python/tritium")
    dst = tmp_path / "tritium"
    shutil.copytree(pkg, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_version_mismatch_library(tmp_path):
    """The real binding and package against a libtritium reporting another version: import
    fails, naming the three versions and the remedy."""
    cc = shutil.which("gcc") or pytest.skip("gcc is not on PATH")
    dst = _package_copy(tmp_path)
    # a stand-in libtritium.so.0: every function of the header (the extension binds them
    # all at load), tritium_version_string reporting 9.9.9
    names = re.findall(r"^TRITIUM_API\b[^;(]*?\b(tritium_\w+)\s*\(", (REPO / "include" / "tritium.h").read_text(),
                       re.M)
    assert "tritium_version_string" in names
    src = tmp_path / "fake.c"
    src.write_text("".join(f"int {n}(void) {{ return 900; }}\n" for n in names if n != "tritium_version_string") +
                   'const char *tritium_version_string(void) { return "9.9.9"; }\n')
    for old in dst.glob("libtritium.so*"):
        old.unlink()
    subprocess.run([cc, "-shared", "-fPIC", "-Wl,-soname,libtritium.so.0", src, "-o", dst / "libtritium.so.0"],
                   check=True)
    p = _import_tritium(tmp_path)
    assert p.returncode != 0
    tail = p.stderr.strip().splitlines()[-1]
    assert tail.startswith("ImportError: tritium version mismatch"), p.stderr
    for part in ("cffi binding 0.", "libtritium 9.9.9", "rebuild"):
        assert part in tail, tail
    # and the copy as built loads (the stand-in was what failed)
    shutil.copy2(next((REPO / "python" / "tritium").glob("libtritium.so.0")), dst / "libtritium.so.0")
    ok = _import_tritium(tmp_path, "import tritium, tritium._lib as l; print(l.ffi.string(l.lib.tritium_version_string()).decode())")
    assert ok.returncode == 0 and ok.stdout.strip() == tail.split("cffi binding ")[1].split(",")[0], ok.stderr


def test_version_mismatch_package(tmp_path):
    """A package version other than the binding's and the library's: the check, re-run with
    it, refuses with the same message (in a subprocess: reloading _lib would replace the
    exception classes of this process's tritium)."""
    _package_copy(tmp_path)
    code = ("import importlib, tritium\n"
            "tritium.__version__ = '0.0.0-other'\n"
            "try:\n"
            "    importlib.reload(tritium._lib)\n"
            "except ImportError as e:\n"
            "    print(e)\n"
            "else:\n"
            "    print('no error')\n")
    p = _import_tritium(tmp_path, code)
    assert p.returncode == 0, p.stderr
    msg = p.stdout.strip()
    assert msg.startswith("tritium version mismatch: Python package 0.0.0-other, cffi binding"), msg
    assert "rebuild with `./dev setup`" in msg
