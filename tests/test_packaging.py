"""The Python package as pip builds it (CPU only): one version everywhere, the stable-ABI
extension, and the wheel of `pip install .` (scikit-build-core over CMakeLists.txt) installed
into a fresh venv without torch, with examples/c built against it through --cmakedir.

The slow tests build one wheel for sm_89 only (`pip wheel . --no-build-isolation` with this
interpreter, which needs scikit-build-core, triton 3.6.0 and cffi) and take cffi's wheels
from pip's cache or the index; without them they skip, saying why.

    pytest -q tests/test_packaging.py               # all (about a minute)
    pytest -q tests/test_packaging.py -m "not slow" # without building the wheel
"""
import email
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cbuild import (HEADER, REPO, build_and_run_examples, build_and_run_pkgconfig_example, clean_env,
                    header_version, run, tool)

PACKAGE = REPO / "python" / "tritium"


# ---- fast: the version, the source build's extension ------------------------------------------

def test_one_version(monkeypatch):
    """The header's MAJOR.MINOR.PATCH is the version: of its own string, of the Python package,
    and of the wheel's metadata (which pyproject.toml takes from the header)."""
    version = header_version()
    assert re.search(r'#define TRITIUM_VERSION_STRING "([^"]+)"', HEADER.read_text())[1] == version
    assert re.search(r'^__version__ = "([^"]+)"', (PACKAGE / "__init__.py").read_text(), re.M)[1] == version
    tomllib = pytest.importorskip("tomllib")
    provider = pytest.importorskip("scikit_build_core.metadata.regex")
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["scikit-build"]["metadata"]["version"]
    assert settings.pop("provider") == provider.__name__
    monkeypatch.chdir(REPO)  # scikit-build-core reads `input` from the project root
    assert provider.dynamic_metadata("version", settings) == version


def test_extension_uses_only_the_stable_abi():
    ext = PACKAGE / "_ffi.abi3.so"
    if not ext.exists():
        pytest.skip(f"{ext} is not built")
    assert [p.name for p in PACKAGE.glob("_ffi*.so")] == [ext.name], "a stale extension would shadow it"
    try:  # CPython's own list of the stable ABI's symbols
        from test.test_stable_abi_ctypes import SYMBOL_NAMES
    except ImportError:
        pytest.skip("this Python has no test.test_stable_abi_ctypes")
    out = run([tool("nm"), "-D", "--undefined-only", ext]).stdout
    python_symbols = {ln.split()[-1] for ln in out.splitlines() if ln.split()[-1].startswith(("Py", "_Py"))}
    assert python_symbols, out
    assert python_symbols <= set(SYMBOL_NAMES), python_symbols - set(SYMBOL_NAMES)


# ---- slow: the wheel -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    for module in ("scikit_build_core", "triton", "cffi"):
        pytest.importorskip(module, reason=f"building the wheel without isolation needs {module} here")
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", REPO, "--no-build-isolation", "--no-deps", "--no-cache-dir",
         "-w", out, "-C", "cmake.define.TRITIUM_ARCHS=89"], timeout=1200, env=clean_env())
    (whl,) = out.glob("*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A new venv (no torch) with the wheel installed; returns its python."""
    root = tmp_path_factory.mktemp("venv")
    wheels = root / "wheels"
    p = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", wheels,
                        "cffi>=1.16"], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        pytest.skip(f"cannot get cffi's wheels from pip's cache or the index:\n{p.stderr}")
    shutil.copy(wheel, wheels)
    run([sys.executable, "-m", "venv", root / "env"], timeout=300)
    python = root / "env" / "bin" / "python"
    # --isolated --no-index: this directory is all pip may use (no configured find-links or
    # index), so the install fails if the wheel asks for anything but cffi
    run([python, "-m", "pip", "--isolated", "install", "-q", "--no-index", "--find-links", wheels, "tritium"],
        timeout=300)
    return python


def _in_venv(python, *args, cwd, check=True):
    """python -m/-c ARGS in the venv, away from the checkout's python/ (no PYTHONPATH, cwd elsewhere)."""
    cmd = [python, *args]
    if check:
        return run(cmd, cwd=cwd, env=clean_env())
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env=clean_env())


@pytest.mark.slow
def test_wheel_contents(wheel):
    version = header_version()
    assert re.fullmatch(rf"tritium-{re.escape(version)}-cp39-abi3-linux_\w+\.whl", wheel.name), wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = email.message_from_bytes(z.read(f"tritium-{version}.dist-info/METADATA"))
        manifest = json.loads(z.read("tritium/share/tritium/manifest.json"))
        linker_script = z.read("tritium/lib/libtritium.so")
    cmake = "tritium/lib/cmake/tritium/"
    assert {"tritium/__init__.py", "tritium/__main__.py", "tritium/_lib.py", "tritium/_ffi.abi3.so",
            "tritium/include/tritium.h", "tritium/include/tritium.hpp",
            "tritium/lib/libtritium.so.0", "tritium/lib/libtritium.so", "tritium/lib/pkgconfig/tritium.pc",
            cmake + "tritiumConfig.cmake", cmake + "tritiumConfigVersion.cmake", cmake + "tritiumTargets.cmake",
            "tritium/share/tritium/manifest.json"} <= names
    # the one extension (none a source build left in python/tritium), and the library once:
    # a wheel has no symlinks, so libtritium.so is a linker script naming libtritium.so.0
    assert [n for n in names if "/_ffi" in n or "_build_ffi" in n] == ["tritium/_ffi.abi3.so"]
    assert sorted(n for n in names if "libtritium" in n) == ["tritium/lib/libtritium.so", "tritium/lib/libtritium.so.0"]
    assert linker_script == b"INPUT(libtritium.so.0)\n"
    # the shipped images, for the archs asked for
    assert manifest["archs"] == ["sm_89"]
    assert {n for n in names if n.startswith("tritium/share/tritium/sm_")} == \
        {"tritium/share/tritium/" + r["file"] for r in manifest["images"]}
    # metadata: the header's version; cffi alone at run time, torch only as the extra
    assert meta["Version"] == version
    requires = meta.get_all("Requires-Dist")
    assert [r for r in requires if "extra ==" not in r] == ["cffi>=1.16"]
    assert [r for r in requires if r.startswith("torch")] == ['torch>=2.4; extra == "torch"']


@pytest.mark.slow
def test_wheel_installs_and_runs_without_torch(venv, tmp_path):
    assert "No module named 'torch'" in _in_venv(venv, "-c", "import torch", cwd=tmp_path, check=False).stderr
    package = Path(_in_venv(venv, "-c", "import tritium; print(tritium.__file__)", cwd=tmp_path).stdout.strip()).parent
    assert package.parent.name == "site-packages", package
    versions = _in_venv(venv, "-c", "import importlib.metadata as m, tritium; print(m.version('tritium'), "
                        "tritium.__version__)", cwd=tmp_path).stdout.split()
    assert versions == [header_version()] * 2

    # info: the library loads; here without a driver or GPU it says so and exits 0
    p = _in_venv(venv, "-m", "tritium", "info", cwd=tmp_path)
    lines = p.stdout.splitlines()
    assert lines[0] == f"tritium {header_version()} (libtritium {header_version()})", p.stdout
    assert lines[1] == "shipped archs: sm_89"
    assert lines[2].startswith("driver: "), p.stdout
    assert p.stderr == ""

    for flag, rel, marker in (("--includedir", "include", "tritium.hpp"), ("--libdir", "lib", "libtritium.so.0"),
                              ("--cmakedir", "lib/cmake/tritium", "tritiumConfig.cmake")):
        d = Path(_in_venv(venv, "-m", "tritium", flag, cwd=tmp_path).stdout.strip())
        assert d == package / rel and (d / marker).is_file(), (flag, d)

    # the torch API is there by name, and says what it needs
    p = _in_venv(venv, "-c", "import tritium; tritium.matmul", cwd=tmp_path, check=False)
    assert p.returncode == 1
    assert "ImportError: tritium.matmul needs PyTorch, which is not installed" in p.stderr, p.stderr
    p = _in_venv(venv, "-c", "from tritium import TripletMarginLoss", cwd=tmp_path, check=False)
    assert "ImportError: tritium.TripletMarginLoss needs PyTorch" in p.stderr, p.stderr


@pytest.mark.slow
def test_examples_against_the_wheel(venv, tmp_path):
    """examples/c built with -Dtritium_DIR=$(python -m tritium --cmakedir), and through the
    wheel's pkg-config file: both run the wheel's library."""
    env = clean_env()
    cmakedir = _in_venv(venv, "-m", "tritium", "--cmakedir", cwd=tmp_path).stdout.strip()
    outputs = build_and_run_examples(tmp_path / "build", [f"-Dtritium_DIR={cmakedir}"], env)
    for lines in outputs.values():  # the wheel's library: sm_89 images only
        assert lines[0].endswith("images for: sm_89"), lines
    libdir = Path(_in_venv(venv, "-m", "tritium", "--libdir", cwd=tmp_path).stdout.strip())
    last = build_and_run_pkgconfig_example(tmp_path / "triplet_matmul_pc", libdir / "pkgconfig", env)
    assert last == outputs["triplet_matmul"][-1]


def test_source_checkout_dirs():
    """In a source checkout --includedir is include/, --libdir and --cmakedir the build directory."""
    build = Path(os.environ.get("TRITIUM_BUILD_DIR") or REPO / "build")
    if not (PACKAGE / "_ffi.abi3.so").exists() or not (build / "tritiumTargets.cmake").exists():
        pytest.skip("the source checkout is not built")
    env = clean_env(PYTHONPATH=str(REPO / "python"), TRITIUM_BUILD_DIR=str(build))
    for flag, want in (("--includedir", REPO / "include"), ("--libdir", build), ("--cmakedir", build)):
        assert run([sys.executable, "-m", "tritium", flag], env=env).stdout.strip() == str(want.resolve())
    p = subprocess.run([sys.executable, "-m", "tritium", "--cmakedir"], capture_output=True, text=True,
                       env=dict(env, TRITIUM_BUILD_DIR=str(REPO / "no-such-build")))
    assert p.returncode == 2 and p.stdout == "" and "no tritiumConfig.cmake in" in p.stderr, p
