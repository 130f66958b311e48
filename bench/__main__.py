"""`python -m bench` (`make bench`): run every benchmark module; each prints its ratios.

A benchmark module is any bench/*.py with a `main(argv) -> int`. Flags given here go to every
module (e.g. `python -m bench --seconds 30`), so modules ignore flags they do not know. Exit
status: the worst of the modules' (1: a benchmark failed or lost events; 2: a target missed,
where a module reports that).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

NOT_BENCHMARKS = {"harness"}


def benchmark_modules() -> list[str]:
    here = [str(Path(__file__).resolve().parent)]
    return [f"bench.{m.name}" for m in pkgutil.iter_modules(here)
            if not m.name.startswith("_") and m.name not in NOT_BENCHMARKS]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    worst = 0
    for name in benchmark_modules():
        module = importlib.import_module(name)
        if not callable(getattr(module, "main", None)):
            continue
        print(f"== {name}", flush=True)
        worst = max(worst, module.main(argv) or 0)
    return worst


if __name__ == "__main__":
    sys.exit(main())
