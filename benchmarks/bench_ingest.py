"""Benchmark opsbot's ingest against the naive load (pandas.read_* then DataFrame.to_sql).

Run: .venv/bin/python benchmarks/bench_ingest.py [--rows N] [--xlsx-rows N] [--big-rows N]
     [--quick]

1. Generates a P4P report CSV (default 200,000 rows) and a P4P `.xlsx` (50,000 rows) in the
   back office's format (title rows, `¥1,234.50`, `1.23%`, a 汇总 row).
2. Loads each into a fresh SQLite file with opsbot (`ingest_file`: type parsing, quarantine,
   natural-key upserts, the drop record) and the naive way (`pandas.read_csv` /
   `pandas.read_excel`, then `to_sql`; no validation, every cell as pandas guessed it).
3. Ingests a 1,000,000-row CSV with opsbot for the memory target (< 1 GB peak).

Every load runs in a child process of its own, so timings and peak memory (ru_maxrss of that
process, interpreter and imports included) do not leak into one another.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script

MEMORY_TARGET_MB = 1024


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_opsbot(path: Path, db: Path) -> dict[str, float]:
    from bot.ingest.drop import ingest_file
    from bot.storage import make_engine, migrate
    from bot.stores import add_store

    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    store = add_store(engine, "bench")
    start = time.perf_counter()
    result = ingest_file(engine, store, path, source="bench")
    seconds = time.perf_counter() - start
    if result.status != "ingested" or result.quarantined:
        raise SystemExit(f"opsbot did not ingest {path.name} cleanly: {result.to_json()}")
    return {"rows": result.rows, "seconds": seconds, "peak_mb": _peak_mb()}


def child_naive(path: Path, db: Path, engine_name: str | None = None) -> dict[str, float]:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db}")
    start = time.perf_counter()
    if path.suffix == ".csv":
        frame = pd.read_csv(path, header=1)  # the person who looked at the file knows row 2
    else:
        frame = pd.read_excel(path, header=3, engine=engine_name)
    frame.to_sql("p4p", engine, index=False)
    seconds = time.perf_counter() - start
    return {"rows": len(frame), "seconds": seconds, "peak_mb": _peak_mb()}


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the CSV")
    parser.add_argument("--xlsx-rows", type=int, default=50_000, help="rows of the .xlsx")
    parser.add_argument("--big-rows", type=int, default=1_000_000,
                        help="rows of the CSV for the memory target (0: skip)")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, path, db, *rest = args.child
        run = child_opsbot if what == "opsbot" else child_naive
        print(json.dumps(run(Path(path), Path(db), *rest)))
        return 0
    if args.quick:
        args.rows, args.xlsx_rows, args.big_rows = 5_000, 2_000, 20_000

    from demo.generator import write_p4p_csv, write_p4p_xlsx

    with tempfile.TemporaryDirectory(prefix="opsbot-bench-") as tmp:
        folder = Path(tmp)
        files = []
        for name, rows, writer in (("p4p.csv", args.rows, write_p4p_csv),
                                   ("p4p.xlsx", args.xlsx_rows, write_p4p_xlsx)):
            start = time.perf_counter()
            files.append(writer(folder / name, rows, seed=11))
            print(f"generated {name}: {rows:,} rows in {time.perf_counter() - start:.1f}s",
                  file=sys.stderr)
        table = []
        ratios = []
        for n, path in enumerate(files):
            loads = [("opsbot", run_child("opsbot", str(path), str(folder / f"o{n}.db"))),
                     ("naive", run_child("naive", str(path), str(folder / f"n{n}.db")))]
            if path.suffix == ".xlsx":  # the fast engine a less naive user could pick
                loads.append(("naive calamine", run_child(
                    "naive", str(path), str(folder / f"c{n}.db"), "calamine")))
            for loader, m in loads:
                table.append((path.name, loader, m))
            ops, naive = loads[0][1], loads[1][1]
            ratios.append((path.name, (ops["rows"] / ops["seconds"])
                           / (naive["rows"] / naive["seconds"])))
            for loader, m in loads[2:]:
                ratios.append((f"{path.name} vs {loader}", (ops["rows"] / ops["seconds"])
                               / (m["rows"] / m["seconds"])))
        print(f"{'file':<10} {'loader':<15} {'rows':>10} {'seconds':>8} {'rows/s':>10} "
              f"{'peak MB':>8}")
        for name, loader, m in table:
            print(f"{name:<10} {loader:<15} {m['rows']:>10,} {m['seconds']:>8.2f} "
                  f"{m['rows'] / m['seconds']:>10,.0f} {m['peak_mb']:>8.0f}")
        for name, ratio in ratios:
            verdict = "ok" if ratio >= 1.0 else "BELOW TARGET"
            print(f"ratio opsbot/naive rows/s, {name}: {ratio:.2f} (target >= 1.0: {verdict})")
        if args.big_rows:
            big = write_p4p_csv(folder / "big.csv", args.big_rows, seed=13)
            m = run_child("opsbot", str(big), str(folder / "big.db"))
            verdict = "ok" if m["peak_mb"] < MEMORY_TARGET_MB else "ABOVE TARGET"
            print(f"memory: {m['rows']:,}-row CSV ingested by opsbot in {m['seconds']:.1f}s "
                  f"({m['rows'] / m['seconds']:,.0f} rows/s), peak {m['peak_mb']:.0f} MB "
                  f"(target < {MEMORY_TARGET_MB} MB: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
