"""Benchmark opsbot's ingest against the naive load (pandas.read_* then DataFrame.to_sql).

Run: .venv/bin/python benchmarks/bench_ingest.py [--rows N] [--xlsx-rows N] [--big-rows N]
     [--runs N] [--quick]

1. Generates a P4P report CSV (default 200,000 rows) and a P4P `.xlsx` (50,000 rows) in the
   back office's format (title rows, `¥1,234.50`, `1.23%`, a 汇总 row).
2. Times whole processes, side by side and in turns, `--runs` times each (medians shown):
   `opsbot ingest FILE` into a fresh SQLite file (type parsing, quarantine, natural-key
   upserts, the drop record, the schema created on first use) against a process that
   imports pandas and loads the file the naive way (`pandas.read_csv` / `read_excel`, then
   `to_sql`; no validation, every cell as pandas guessed it). Target for the CSV: opsbot in
   at most 0.8x the naive time.
3. The floor: raw `sqlite3.executemany` of the same rows, parsed beforehand, into the same
   fact table (with its keys and indexes), and committed. Only the insert is timed.
4. Ingests a 1,000,000-row CSV with `opsbot ingest` for the memory target (< 1 GB peak).

Each measured process runs under a wrapper process of its own, which reports the child's
wall time and peak memory (ru_maxrss: interpreter and imports included), so that nothing
leaks from one measurement into another. Each loader runs once untimed first (bytecode
compiled, the file in the page cache, as on a machine in use). On a shared machine the
timings are noisy: the runs alternate so that both loaders see the same load, and medians
are compared.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a plain script

RATIO_TARGET = 0.8
MEMORY_TARGET_MB = 1024

NAIVE = """
import sys
import pandas as pd
from sqlalchemy import create_engine

path, db, engine_name = sys.argv[1], sys.argv[2], sys.argv[3] or None
engine = create_engine(f"sqlite:///{db}")
if path.endswith(".csv"):
    frame = pd.read_csv(path, header=1)  # the person who looked at the file knows row 2
else:
    frame = pd.read_excel(path, header=3, engine=engine_name)
frame.to_sql("p4p", engine, index=False)
print(len(frame))
"""


def measured(command: list[str]) -> dict[str, object]:
    """Run `command` under a wrapper that reports its wall time and peak memory."""
    out = subprocess.run([sys.executable, __file__, "--wrap", json.dumps(command)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def wrap(command: list[str]) -> int:
    # As installed: modules compiled once to bytecode, not on every run.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{command} failed ({done.returncode}): {done.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "stdout": done.stdout}))
    return 0


def scratch(run: Callable[[Path, Path], dict[str, object]], path: Path, db: Path
            ) -> dict[str, object]:
    """One measured load into `db`, deleted afterwards with its journal: otherwise the disk
    is still writing one run's database back while the next run syncs its own."""
    try:
        return run(path, db)
    finally:
        for file in db.parent.glob(f"{db.name}*"):
            file.unlink()


def opsbot_run(path: Path, db: Path) -> dict[str, object]:
    m = measured([sys.executable, "-m", "cli.main", "--database", f"sqlite:///{db}",
                  "ingest", str(path), "--json"])
    [drop] = json.loads(str(m["stdout"]))["drops"]
    if drop["status"] != "ingested" or drop["quarantined"]:
        raise SystemExit(f"opsbot did not ingest {path.name} cleanly: {drop}")
    return {**m, "rows": drop["rows"]}


def naive_run(path: Path, db: Path, engine: str = "") -> dict[str, object]:
    m = measured([sys.executable, "-c", NAIVE, str(path), str(db), engine])
    return {**m, "rows": int(str(m["stdout"]).split()[-1])}


def floor_run(path: Path, db: Path) -> dict[str, object]:
    """The floor, in a process of its own: its stdout is the timed insert's figures."""
    out = subprocess.run([sys.executable, __file__, "--floor", str(path), str(db)], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor(path: Path, db: Path) -> int:
    """Parse the P4P CSV into the fact table's rows (untimed), then time their insert."""
    import sqlite3
    from datetime import UTC, date, datetime

    from bot.ingest.drop import ingest_file
    from bot.storage import make_engine, migrate
    from bot.stores import add_store

    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    store = add_store(engine, "floor")
    # A one-row drop of the same kind gives the schema, a store and a drop to point at.
    with path.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh))
    header, body = lines[1], [row for row in lines[2:] if row and row[0] != "汇总"]
    one = path.with_name("one-row.csv")
    with one.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, body[0]])
    drop_id = ingest_file(engine, store, one).drop_id
    engine.dispose()

    def number(text: str) -> float | None:
        text = text.replace("¥", "").replace(",", "").rstrip("%")
        return None if text in ("", "-", "--") else float(text)

    columns = ["date", "plan", "keyword", "bid", "quality_stars", "position", "impressions",
               "clicks", "ctr", "spend", "cpc", "inquiries", "daily_budget", "currency"]
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    rows = []
    for i, r in enumerate(body[1:]):
        values = [date.fromisoformat(r[0]).isoformat(), r[1], r[2], number(r[3]), int(r[4]),
                  int(r[5]), int(r[6]), int(r[7]), number(r[8]), number(r[9]), number(r[10]),
                  None if r[11] == "-" else int(r[11]), number(r[12]), "CNY"]
        rows.append((f"0:{i}", store.id, drop_id, now, *values))
    names = ["key", "store_id", "drop_id", "updated_at", *columns]
    sql = (f"INSERT INTO p4p ({', '.join(names)}) "
           f"VALUES ({', '.join('?' * len(names))})")
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    start = time.perf_counter()
    conn.executemany(sql, rows)
    conn.commit()
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": len(rows), "seconds": seconds}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the CSV")
    parser.add_argument("--xlsx-rows", type=int, default=50_000,
                        help="rows of the .xlsx (0: skip it)")
    parser.add_argument("--big-rows", type=int, default=1_000_000,
                        help="rows of the CSV for the memory target (0: skip)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each loader (medians)")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--wrap", help=argparse.SUPPRESS)
    parser.add_argument("--floor", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.wrap:
        return wrap(json.loads(args.wrap))
    if args.floor:
        return floor(Path(args.floor[0]), Path(args.floor[1]))
    if args.quick:
        args.rows, args.xlsx_rows, args.big_rows, args.runs = 5_000, 2_000, 20_000, 1

    from demo.generator import write_p4p_csv, write_p4p_xlsx

    with tempfile.TemporaryDirectory(prefix="opsbot-bench-") as tmp:
        folder = Path(tmp)
        files = []
        for name, rows, writer in (("p4p.csv", args.rows, write_p4p_csv),
                                   ("p4p.xlsx", args.xlsx_rows, write_p4p_xlsx)):
            if not rows:  # --xlsx-rows 0: the CSV alone
                continue
            start = time.perf_counter()
            files.append(writer(folder / name, rows, seed=11))
            print(f"generated {name}: {rows:,} rows in {time.perf_counter() - start:.1f}s",
                  file=sys.stderr)
        db = iter(folder / f"{n}.db" for n in range(10**6))
        table: list[tuple[str, str, dict[str, float]]] = []
        ratios = []
        for path in files:
            loaders = {"opsbot": lambda p=path: scratch(opsbot_run, p, next(db)),
                       "naive": lambda p=path: scratch(naive_run, p, next(db))}
            if path.suffix == ".xlsx":  # the fast engine a less naive user could pick
                loaders["naive calamine"] = lambda p=path: scratch(
                    lambda f, d: naive_run(f, d, "calamine"), p, next(db))
            runs: dict[str, list[dict[str, object]]] = {name: [] for name in loaders}
            for load in loaders.values():  # warm-up, untimed: bytecode, the file in the cache
                load()
            for turn in range(args.runs):
                order = list(loaders) if turn % 2 == 0 else list(reversed(loaders))
                for name in order:  # in turns, so that every loader sees the same load
                    runs[name].append(loaders[name]())
            medians = {name: {"rows": float(rs[0]["rows"]),  # type: ignore[arg-type]
                              "seconds": statistics.median(float(r["seconds"]) for r in rs),
                              "peak_mb": max(float(r["peak_mb"]) for r in rs)}
                       for name, rs in runs.items()}
            for name, m in medians.items():
                table.append((path.name, name, m))
            for name in list(medians)[1:]:
                ratios.append((path.name, name,
                               medians["opsbot"]["seconds"] / medians[name]["seconds"]))
        base = floor_run(files[0], folder / "floor.db")
        table.append((files[0].name, "floor", {"rows": base["rows"], "seconds": base["seconds"],
                                               "peak_mb": float("nan")}))
        print(f"whole processes, median of {args.runs} run(s) each, in turns "
              "(a shared machine is noisy: compare medians, rerun when in doubt)")
        print(f"{'file':<10} {'loader':<15} {'rows':>10} {'seconds':>8} {'rows/s':>10} "
              f"{'peak MB':>8}")
        for name, loader, m in table:
            print(f"{name:<10} {loader:<15} {m['rows']:>10,.0f} {m['seconds']:>8.2f} "
                  f"{m['rows'] / m['seconds']:>10,.0f} {m['peak_mb']:>8.0f}")
        print("floor: raw sqlite3.executemany of the parsed rows into the same table, "
              "insert and commit only")
        for name, other, ratio in ratios:
            if name.endswith(".csv"):
                verdict = "ok" if ratio <= RATIO_TARGET else "ABOVE TARGET"
                print(f"ratio opsbot/{other} process time, {name}: {ratio:.2f} "
                      f"(target <= {RATIO_TARGET}: {verdict})")
            else:
                print(f"ratio opsbot/{other} process time, {name}: {ratio:.2f}")
        if args.big_rows:
            big = write_p4p_csv(folder / "big.csv", args.big_rows, seed=13)
            m = scratch(opsbot_run, big, next(db))
            verdict = "ok" if float(m["peak_mb"]) < MEMORY_TARGET_MB else "ABOVE TARGET"
            print(f"memory: {m['rows']:,} rows ingested by `opsbot ingest` in "
                  f"{m['seconds']:.1f}s ({float(m['rows']) / float(m['seconds']):,.0f} rows/s), "
                  f"peak {m['peak_mb']:.0f} MB (target < {MEMORY_TARGET_MB} MB: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
