"""The matmul tuning tables (aot/tuning/sm_<arch>.json) and the tool that writes them:
CPU checks (the tables' choices are exercised on the GPU by test_gpu.py)."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "aot"))
sys.path.insert(0, str(ROOT / "python"))

import build  # noqa: E402  (aot/build.py)
import manifest  # noqa: E402

TABLES = sorted((ROOT / "aot" / "tuning").glob("sm_*.json"))


def _load(path):
    return json.loads(Path(path).read_text())


def test_tables_exist_for_sm90_and_sm89():
    assert {p.name for p in TABLES} >= {"sm_90.json", "sm_89.json"}
    assert _load(ROOT / "aot" / "tuning" / "sm_90.json")["source"] == "measured"


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_every_entry_resolves_to_shipped_variants(path):
    # what the build does with each table: any config the manifest does not build for the
    # table's arch stops the build; every layout class must have its variant
    arch = _load(path)["arch"]
    variants = manifest.variants()
    entries = [e for e in build.tuning_entries([arch], variants) if e["arch"] == arch]
    assert len(entries) == len(_load(path)["entries"])
    for e in entries:
        assert all(0 <= v < len(variants) and variants[v].for_arch(arch) for v in e["variants"])


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_tables_cover_every_dtype_and_precision(path):
    # each (dtype, precision) has entries, and every shape with a workspace choice also has
    # one that needs none (the choice for a caller with too little workspace)
    from tritium import tune
    entries = _load(path)["entries"]
    fams = {(e["dtype"], e["precision"]) for e in entries}
    assert fams >= {("f32", "high"), ("f32", "highest"), ("bf16", "native"), ("f16", "native")}
    shapes = {}
    for e in entries:
        shapes.setdefault((e["dtype"], e["precision"], e["m"], e["n"], e["k"], e.get("x_layout", 0)), []).append(e)
    for key, es in shapes.items():
        assert any(e["workspace"] == 0 and e["split"] == 1 and e["path"] in ("direct", "gemv") for e in es), \
            f"{key}: no workspace-free entry"
        # an X layout is measured only for skinny shapes (tune.SKINNY)
        assert key[5] == 0 or (key[2] != key[3] or key[2] == 1) and min(key[2], key[3]) <= tune.SKINNY, key
        assert all(e["path"] != "gemv" or min(e["m"], e["n"]) == 1 for e in es), key


def test_sm89_table_is_the_derivation_of_sm90():
    # sm_89.json is what `python -m tritium tune --derive 89 --from aot/tuning/sm_90.json`
    # writes: regenerating it gives the same entries, each a config built for sm_89 (whose
    # cubins test_c_build.py checks against the 4090's 99 KB of shared memory per block)
    from tritium import tune
    src = _load(ROOT / "aot" / "tuning" / "sm_90.json")
    derived = tune.derive(src, 89)
    assert derived == _load(ROOT / "aot" / "tuning" / "sm_89.json")["entries"]
    built = {(path, dt, tuple(cfg)) for path, dt, _, cfg in tune._configs(89)}
    for e in derived:
        assert (e["path"], e["dtype"], tuple(e["config"])) in built, e
    assert any("measured_config" in e for e in derived), "no sm_90-only config was replaced"


def test_unknown_config_stops_the_build(tmp_path):
    bad = _load(ROOT / "aot" / "tuning" / "sm_90.json")
    bad["entries"] = [dict(bad["entries"][0], config=[96, 96, 32, 8, 8, 3])]
    (tmp_path / "sm_90.json").write_text(json.dumps(bad))
    with pytest.raises(SystemExit, match="does not build"):
        build.tuning_entries([90], manifest.variants(), tmp_path)


def test_table_json_layout(tmp_path):
    # one entry per line, and the file parses back to the same table
    from tritium import tune
    table = _load(ROOT / "aot" / "tuning" / "sm_89.json")
    text = tune.dumps(table)
    assert json.loads(text) == table
    assert text.count("\n") >= len(table["entries"])


def _cli_env():
    """The environment of a `python -m tritium tune` subprocess with no visible device: the
    checkout's python/ first, then the caller's PYTHONPATH (where a machine may keep cffi)."""
    import os
    path = os.pathsep.join(p for p in (str(ROOT / "python"), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, CUDA_VISIBLE_DEVICES="")


def test_tune_cli_without_gpu_or_with_bad_arguments(tmp_path):
    # no device: a clear message and exit status 1, no table written; --derive needs --from
    import subprocess
    env = _cli_env()
    out = tmp_path / "t.json"
    r = subprocess.run([sys.executable, "-m", "tritium", "tune", "--out", str(out)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "no CUDA device" in r.stderr and not out.exists()
    r = subprocess.run([sys.executable, "-m", "tritium", "tune", "--derive", "89"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--from" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tritium", "tune", "--derive", "89", "--from",
                        str(ROOT / "aot" / "tuning" / "sm_90.json"), "--out", str(out)], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["entries"] == _load(ROOT / "aot" / "tuning" / "sm_89.json")["entries"]


def test_tune_merge_and_shapes():
    # --shapes parses MxNxK lists and rejects anything else; --merge replaces only the
    # measured shapes' entries of the measured dtype families, in place, and says so in the notes
    import subprocess
    from tritium import tune
    assert tune.parse_shapes("1x8192x8192,8192X1x8192") == [(1, 8192, 8192), (8192, 1, 8192)]
    for bad in ("", "1x2", "0x1x1", "axbxc", "1x1x1x1"):
        with pytest.raises(SystemExit):
            tune.parse_shapes(bad)
    table = {"notes": ["n"], "entries": [
        {"dtype": "f32", "m": 1, "n": 8, "k": 8, "v": "old"}, {"dtype": "bf16", "m": 1, "n": 8, "k": 8, "v": "keep"},
        {"dtype": "f32", "m": 2, "n": 2, "k": 2, "v": "keep"}, {"dtype": "f32", "m": 1, "n": 8, "k": 8, "v": "old2"}]}
    new = [{"dtype": "f32", "m": 1, "n": 8, "k": 8, "v": "new"}]
    out = tune.merge(table, new, [(1, 8, 8)], ["f32"], "dev", "date", "cmd")
    assert [e["v"] for e in out["entries"]] == ["new", "keep", "keep"]
    assert out["notes"][0] == "n" and "cmd" in out["notes"][1] and table["entries"][0]["v"] == "old"
    env = _cli_env()
    for args, msg in ((["--merge"], "--merge needs --shapes"), (["--shapes", "1x2"], "--shapes wants"),
                      (["--dtypes", "f64"], "--dtypes")):
        r = subprocess.run([sys.executable, "-m", "tritium", "tune", *args], env=env, capture_output=True, text=True)
        assert r.returncode == 2 and msg in r.stderr, (args, r.returncode, r.stderr)


def test_gemv_split_keeps_the_entrys_programs():
    """A gemv entry that splits K keeps its number of programs at a smaller R (src/matmul.c,
    gemv_split): the workspace query at half the entry's R answers at least the entry's own
    partials (split x R fp32), where its split unscaled would need half of that. The fp32
    'high' entries of M = 1 with X's rows contiguous split K; the other layouts' do not."""
    try:
        from tritium._lib import ffi, lib
    except ImportError as e:
        pytest.skip(f"the native library is not built ({e})")
    t = _load(ROOT / "aot" / "tuning" / "sm_90.json")
    # 1 x 4096 x 4096: the nearest entry to 1 x 2048 x 4096 (the next, 4096 x 1 x 8192, is twice
    # as far in R x K)
    e = next(e for e in t["entries"] if e["path"] == "gemv" and e["dtype"] == "f32" and e["precision"] == "high"
             and (e["m"], e["n"], e["k"]) == (1, 4096, 4096) and e.get("x_layout") == 1)
    assert e["split"] > 1, e
    out = ffi.new("size_t *")
    assert lib.tritium_matmul_workspace_size(lib.TRITIUM_FLOAT32, lib.TRITIUM_PRECISION_HIGH, 1, e["n"] // 2, e["k"],
                                             out) == 0
    assert out[0] >= e["split"] * e["n"] * 4, (e, out[0])


def test_unaligned_calls_take_entries_measured_unaligned():
    """A call whose strides are not multiples of 16 bytes prefers the entries measured on
    such shapes (src/matmul.c, ALIGN_MISMATCH): bf16 3001^3 is nearer 3072^3 (aligned: the
    direct path, no workspace) than 4095^3 (unaligned: packed), and the workspace query,
    which answers for unaligned layouts too, asks for the packed path's copies. With the
    old weight (0.25) it took the aligned entry and answered 0: 544 us where packing takes
    34 (H200, 777 x 1999 x 3001)."""
    try:
        from tritium._lib import ffi, lib
    except ImportError as e:
        pytest.skip(f"the native library is not built ({e})")
    entries = _load(ROOT / "aot" / "tuning" / "sm_90.json")["entries"]
    far = next(e for e in entries if (e["dtype"], e["m"], e["n"], e["k"]) == ("bf16", 4095, 4095, 4095))
    near = next(e for e in entries if (e["dtype"], e["m"], e["n"], e["k"]) == ("bf16", 3072, 3072, 3072))
    assert far["align"] == 0 and far["path"] == "packed" and near["align"] == 2 and near["workspace"] == 0
    out = ffi.new("size_t *")
    assert lib.tritium_matmul_workspace_size(lib.TRITIUM_BFLOAT16, lib.TRITIUM_PRECISION_HIGHEST, 3001, 3001, 3001,
                                             out) == 0
    assert out[0] >= 2 * 3001 * 3008 * 2, out[0]  # A and B, packed as rows of K padded to 64
