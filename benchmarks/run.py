"""`make bench`: run every benchmark in this folder, one after the other.

Each benchmark prints its own figures and the ratio against a baseline measured in the same
run; this runner only sequences them and reports which failed to run. Pass `--quick` for a
smoke run with small sizes; name benchmarks to run only those (`run.py ingest --quick`: only
bench_ingest). Other options go to every benchmark run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    scripts = {s.stem.removeprefix("bench_"): s for s in sorted(HERE.glob("bench_*.py"))}
    names = [a for a in sys.argv[1:] if a in scripts]
    extra = [a for a in sys.argv[1:] if a not in scripts]
    failed = []
    for script in [scripts[n] for n in names] or list(scripts.values()):
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *extra])
        print(f"--- {script.stem}: {time.perf_counter() - started:.1f} s, exit {code}", flush=True)
        if code:
            failed.append(script.stem)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
