"""What the tests that build and run C programs share: test_c_build.py (the build and install
trees) and test_packaging.py (the wheel)."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEADER = REPO / "include" / "tritium.h"
EXAMPLES = REPO / "examples" / "c"


def tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not on PATH")
    return path


def run(cmd, timeout=120, **kw):
    """Run a command, failing the test with its output when it fails."""
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    if p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {p.returncode}\n"
                    f"--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    return p


def header_version():
    """MAJOR.MINOR.PATCH as tritium.h defines them."""
    text = HEADER.read_text()
    return ".".join(re.search(rf"#define TRITIUM_VERSION_{k} (\d+)", text)[1] for k in ("MAJOR", "MINOR", "PATCH"))


def clean_env(**extra):
    """os.environ less what could point a build or a program at another tritium, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CMAKE_PREFIX_PATH", "tritium_DIR", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH",
                        "PYTHONPATH", "TRITIUM_BUILD_DIR")}
    env.update(extra)
    return env


def example_ok(p, what):
    """An example exits 0 with "OK" (GPU) or with a "no GPU:" line (no driver or device)."""
    assert p.returncode == 0, f"{what} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    lines = p.stdout.strip().splitlines()
    assert any(ln.startswith("no GPU:") for ln in lines) or lines[-1:] == ["OK"], f"{what}:\n{p.stdout}"
    return lines[-1]


def build_and_run_examples(bld, find_args, env):
    """Configure examples/c into `bld` (`find_args` tell CMake where tritium is), build it, run
    both programs; returns each one's output lines."""
    cmake = tool("cmake")
    run([cmake, "-S", EXAMPLES, "-B", bld, "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF",
         *find_args], env=env)
    run([cmake, "--build", bld, "-j2"], env=env)
    out = {}
    for exe in ("triplet_matmul", "matmul"):
        p = subprocess.run([bld / exe], capture_output=True, text=True, timeout=60, env=env)
        print(p.stdout)
        example_ok(p, exe)
        out[exe] = p.stdout.strip().splitlines()
    return out


def build_and_run_pkgconfig_example(exe, pkgconfig_dir, env):
    """examples/c/triplet_matmul.c built with `pkg-config --cflags --libs tritium` from
    `pkgconfig_dir` and run with the library's directory on LD_LIBRARY_PATH; returns its last line."""
    env_pc = dict(env, PKG_CONFIG_PATH=str(pkgconfig_dir))
    pkg_config = tool("pkg-config")
    assert run([pkg_config, "--modversion", "tritium"], env=env_pc).stdout.strip() == header_version()
    flags = run([pkg_config, "--cflags", "--libs", "tritium"], env=env_pc).stdout.split()
    libdir = run([pkg_config, "--variable=libdir", "tritium"], env=env_pc).stdout.strip()
    run([tool("gcc"), "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", EXAMPLES / "triplet_matmul.c",
         *flags, "-ldl", "-lm", "-o", exe], env=env_pc)
    p = subprocess.run([exe], capture_output=True, text=True, timeout=60, env=dict(env, LD_LIBRARY_PATH=libdir))
    print(p.stdout)
    return example_ok(p, f"{exe.name} (pkg-config)")
