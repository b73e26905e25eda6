"""Shim: `python bench/bench.py ARGS` is `python -m tritium bench ARGS` (python/tritium/bench.py)."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from tritium.bench import main  # noqa: E402
sys.exit(main())
