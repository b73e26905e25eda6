"""The benchmark's reporting, without a GPU: tables and the chart from a run's JSON
(`python -m tritium bench --from JSON --plot FILE.png`)."""
import json
import subprocess
import sys

import pytest

pytest.importorskip("torch")


def _run_json():
    """A small run's JSON, in the format bench writes (numbers made up, shapes real)."""
    rows = []
    for dtype in ("float32", "bfloat16"):
        for mode, k in (("fwd", 1), ("fwd+bwd", 2)):
            us = {"tritium_us": 10.0 * k, "eager_us": 30.0 * k, "compile_us": 12.0 * k}
            rows.append({"op": "triplet", "dtype": dtype, "shape": "4096x512", "n": 4096, "d": 512, "mode": mode,
                         "bytes": 1, "gbs": 1.0, "pct_ceiling": 50.0, "floor_us": 8.0 * k, "ratio_floor": 1.25,
                         "vs_eager": 3.0, "vs_compile": 1.2, "ok_compile": True, "ok_floor": False, **us})
    for mode in ("f32-high", "bf16"):
        rows.append({"op": "matmul", "mode": mode, "shape": "4096x4096x4096", "flops": 2 * 4096 ** 3,
                     "tritium_us": 300.0, "cublas_us": 280.0, "compile_us": 285.0, "tritium_tflops": 458.0,
                     "cublas_tflops": 490.8, "compile_tflops": 482.2, "ceiling_tflops": 600.0, "ratio": 0.93,
                     "vs_compile": 0.95, "err_tritium": 1e-4, "err_cublas": 3e-4})
    return {"device": "NVIDIA H200", "torch": "2.11", "triton": "3.6.0", "tritium": "0.1.0", "date": "2026-11-21",
            "read_ceiling_gbs": 4000.0, "launch_us": 2.0, "rows": rows,
            "python_wall_us": [{"op": "triplet", "shape": "256x128", "dtype": "float32", "mode": "fwd",
                                "tritium_us": 20.0, "compile_us": 38.0}]}


def test_fractions_are_of_the_ceiling():
    from tritium.bench import fractions
    data = fractions(_run_json()["rows"])
    labels, impls = data["triplet"]
    assert labels[0] == "float32 4096x512 fwd" and impls["tritium"][0] == pytest.approx(0.8)
    assert impls["eager"][1] == pytest.approx(16 / 60)
    labels, impls = data["matmul"]
    assert impls["tritium"][0] == pytest.approx(458 / 600) and set(impls) == {"tritium", "cuBLAS (torch eager)", "compile"}


def test_from_json_prints_tables_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    src = tmp_path / "run.json"
    src.write_text(json.dumps(_run_json()))
    png = tmp_path / "chart.png"
    p = subprocess.run([sys.executable, "-m", "tritium", "bench", "--from", str(src), "--plot", str(png)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "| float32 | 4096x512 | fwd |" in p.stdout and "| bf16 | 4096x4096x4096 |" in p.stdout
    assert "triplet 256x128 float32 fwd: tritium 20.0 us, compile 38.0 us" in p.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_triplet_ceiling_is_the_best_read_from_memory():
    """The read ceiling is torch's sum, or a faster rate seen on a row that reads more than the
    L2 holds; rows that could be served from the L2 do not raise it, and against the final
    ceiling no row reads faster than 100 %."""
    from tritium.bench import triplet_ceiling, triplet_derive
    l2 = 50 << 20
    big = {"op": "triplet", "mode": "fwd", "bytes": 3 << 30, "tritium_us": 700.0, "eager_us": 3000.0,
           "compile_us": 690.0}                      # compile: 4668 GB/s, above the sum's 4400
    small = {"op": "triplet", "mode": "fwd+bwd", "bytes": 40 << 20, "tritium_us": 5.0, "eager_us": 50.0,
             "compile_us": 6.0}                      # 8389 GB/s from L2: does not count
    ceiling = triplet_ceiling([big, small], 4400.0, l2)
    assert ceiling == pytest.approx((3 << 30) / 690.0 / 1e3)
    assert triplet_ceiling([small], 4400.0, l2) == 4400.0
    r = triplet_derive(dict(big), ceiling, 1.5)
    assert r["pct_ceiling"] == pytest.approx(100 * 690 / 700) and r["floor_us"] == pytest.approx(690.0)
    assert not r["ok_compile"] and r["ok_floor"] and r["vs_eager"] == pytest.approx(3000 / 700)
    r = triplet_derive(dict(small), ceiling, 1.5)    # floor: the larger of bytes / ceiling and 2 launches
    assert r["floor_us"] == pytest.approx(max((40 << 20) / ceiling / 1e3, 3.0)) and r["ok_compile"]


def test_traffic_reference_is_reported_where_present(tmp_path):
    """Rows that carry the traffic reference get its columns, its bars and a say in the read
    ceiling; rows of earlier runs, without it, report as before (the tests above)."""
    from tritium.bench import fractions, triplet_ceiling, triplet_derive, triplet_table
    run = _run_json()
    trip = [r for r in run["rows"] if r["op"] == "triplet"]
    for r in trip:
        r["traffic_us"] = 9.0 if r["mode"] == "fwd" else 18.0
    table = triplet_table(trip)
    assert "| traffic µs | traffic x floor |" in table and "| 9.00 | 1.12 |" in table
    labels, impls = fractions(trip)["triplet"]
    assert impls["traffic"][0] == pytest.approx(8 / 9)
    big = {"op": "triplet", "mode": "fwd", "bytes": 3 << 30, "tritium_us": 700.0, "eager_us": 3000.0,
           "compile_us": 690.0, "traffic_us": 680.0}
    assert triplet_ceiling([big], 4400.0, 50 << 20) == pytest.approx((3 << 30) / 680.0 / 1e3)
    assert triplet_derive(dict(big), 4400.0, 1.5)["traffic_floor"] == pytest.approx(680.0 / ((3 << 30) / 4400.0 / 1e3))
    src = tmp_path / "run.json"
    src.write_text(json.dumps(run))
    p = subprocess.run([sys.executable, "-m", "tritium", "bench", "--from", str(src)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and "traffic x floor" in p.stdout, p.stderr
