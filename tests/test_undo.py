"""Undoing a drop (bot/ingest/undo.py, `opsbot drops delete`, `opsbot ingest --kind` on the
same bytes), on SQLite and PostgreSQL: what the drop inserted goes, what it overwrote comes
back exactly, a later drop on the same facts blocks it with a reason, coverage follows, and
all of it in one transaction."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.alerts.incidents import mark_evaluated, needs_evaluation
from bot.ingest.drop import DropResult, _Writer, ingest_file
from bot.ingest.undo import Refused, undo_drop
from bot.metrics.freshness import newest_days
from bot.models import drops, undo
from bot.storage import read, write
from bot.stores import Store
from tests.cli_helpers import Run
from tests.files import drop_row, sample, snapshot, stored, write_csv

NOW = datetime(2026, 11, 10, 2, 0)


def p4p(path: Path, days: dict[int, int], spend: dict[int, str] | None = None) -> Path:
    """A P4P report: November day -> impressions (and a spend column when given)."""
    header = ["日期", "计划名称", "关键词", "曝光量"] + (["花费"] if spend else [])
    rows = [[f"2026-11-{d:02d}", "LED plan", "led strip", str(n)]
            + ([spend[d]] if spend else []) for d, n in sorted(days.items())]
    return write_csv(path, [header, *rows])


# A report that fits P4P and traffic alike: filed as one, it can be refiled as the other.
MISFILED = [["Date", "Impressions", "Clicks"], ["2026-11-03", "100", "5"],
            ["2026-11-04", "80", "4"]]


def status_of(engine: Engine, drop_id: int | None) -> str:
    return str(drop_row(engine, drop_id)["status"])


def undo_rows(engine: Engine, kind: str) -> int:
    with read(engine) as conn:
        return len(conn.execute(select(undo[kind])).all())


# ---- what an undo removes and restores ------------------------------------------------------


def test_undo_removes_the_facts_a_drop_inserted(engine: Engine, store: Store,
                                                tmp_path: Path) -> None:
    before = snapshot(engine)
    first = ingest_file(engine, store, p4p(tmp_path / "a.csv", {1: 10, 2: 20}))
    with write(engine) as conn:
        done = undo_drop(conn, first.drop_id)
    assert (done.removed, done.restored, done.duplicates) == (2, 0, 0)
    assert snapshot(engine) == before | {"quarantine": snapshot(engine)["quarantine"]}
    assert stored(engine, "p4p") == []
    record = drop_row(engine, first.drop_id)
    assert record["status"] == "deleted" and record["deleted_at"] is not None


def test_undo_restores_exactly_what_a_drop_overwrote(engine: Engine, store: Store,
                                                     tmp_path: Path) -> None:
    # The first report has no spend column; the second revises days 3-4, restates day 5,
    # adds spend (a column the first did not carry) and days 6-7.
    ingest_file(engine, store, p4p(tmp_path / "a.csv", {1: 100, 2: 200, 3: 300, 4: 400, 5: 500}))
    after_first = snapshot(engine)
    second = ingest_file(engine, store, p4p(
        tmp_path / "b.csv", {3: 330, 4: 440, 5: 500, 6: 600, 7: 700},
        spend={3: "1.5", 4: "2", 5: "", 6: "3", 7: "4"}))
    assert (second.inserted, second.updated, second.unchanged) == (2, 2, 1)
    assert sum(r["impressions"] for r in stored(engine, "p4p")) == 100 + 200 + 330 + 440 + 1800
    with write(engine) as conn:
        done = undo_drop(conn, second.drop_id)
    assert (done.removed, done.restored) == (2, 2)
    # Every fact as the first drop left it: values, spend, provenance and time.
    assert snapshot(engine) == after_first
    assert undo_rows(engine, "p4p") == 0


def test_a_first_load_keeps_no_before_images(engine: Engine, store: Store,
                                             tmp_path: Path) -> None:
    ingest_file(engine, store, p4p(tmp_path / "a.csv", {d: d for d in range(1, 29)}))
    assert undo_rows(engine, "p4p") == 0


# ---- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("later", [{3: 999}, {3: 300}], ids=["changed", "restated"])
def test_an_undo_is_refused_while_a_later_drop_holds_the_same_facts(
    engine: Engine, store: Store, tmp_path: Path, later: dict[int, int]
) -> None:
    first = ingest_file(engine, store, p4p(tmp_path / "a.csv", {1: 100, 2: 200, 3: 300}))
    second = ingest_file(engine, store, p4p(tmp_path / "b.csv", later))
    before = snapshot(engine)
    with pytest.raises(Refused) as refused, write(engine) as conn:
        undo_drop(conn, first.drop_id)
    assert f"later drop {second.drop_id} (b.csv)" in str(refused.value)
    assert f"opsbot drops delete {second.drop_id}" in str(refused.value)
    assert snapshot(engine) == before
    assert status_of(engine, first.drop_id) == "ingested"
    # Latest first, both go, and the facts with them.
    with write(engine) as conn:
        undo_drop(conn, second.drop_id)
    with write(engine) as conn:
        undo_drop(conn, first.drop_id)
    assert stored(engine, "p4p") == []


def test_a_rejected_or_deleted_drop_is_not_undone_again(engine: Engine, store: Store,
                                                        tmp_path: Path) -> None:
    rejected = ingest_file(engine, store, write_csv(tmp_path / "x.csv", [["a"], ["1"]]))
    good = ingest_file(engine, store, p4p(tmp_path / "a.csv", {1: 1}))
    with write(engine) as conn:
        undo_drop(conn, good.drop_id)
    for drop_id, says in ((rejected.drop_id, "was rejected"), (good.drop_id, "already deleted"),
                          (999, "no drop with id 999")):
        with pytest.raises(Refused, match=says), write(engine) as conn:
            undo_drop(conn, drop_id)


# ---- coverage and alerts follow --------------------------------------------------------------


def test_a_deleted_list_and_its_duplicates_no_longer_cover_their_period(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "询盘列表_20261101-20261107.csv", [
        ["询盘ID", "创建时间", "客户名"], ["Q1", "2026-11-03 10:00", "John"]])
    first = ingest_file(engine, store, path)
    again = tmp_path / "询盘列表_20261101-20261108.csv"  # the same bytes, a later period
    again.write_bytes(path.read_bytes())
    duplicate = ingest_file(engine, store, again)
    assert duplicate.status == "duplicate"
    with read(engine) as conn:
        assert newest_days(conn, store, ("inquiries",)) == {"inquiries": date(2026, 11, 8)}
    with write(engine) as conn:
        mark_evaluated(conn, store, NOW)
    with read(engine) as conn:
        assert not needs_evaluation(conn, store, NOW)
    with write(engine) as conn:
        done = undo_drop(conn, first.drop_id)
    assert done.duplicates == 1
    assert status_of(engine, duplicate.drop_id) == "deleted"
    with read(engine) as conn:
        assert newest_days(conn, store, ("inquiries",)) == {"inquiries": None}
        assert needs_evaluation(conn, store, NOW)  # the alerts look again
    # The same bytes can come in again.
    assert ingest_file(engine, store, path).status == "ingested"


# ---- re-ingesting the same bytes as another kind ------------------------------------------------


def test_a_corrected_kind_refiles_the_same_bytes_in_one_go(engine: Engine, store: Store,
                                                           tmp_path: Path) -> None:
    path = write_csv(tmp_path / "report.csv", MISFILED)
    before = snapshot(engine)
    misfiled = ingest_file(engine, store, path, kind="traffic")
    assert (misfiled.status, len(stored(engine, "traffic"))) == ("ingested", 2)
    refiled = ingest_file(engine, store, path, kind="p4p")
    assert (refiled.status, refiled.kind, refiled.inserted) == ("ingested", "p4p", 2)
    assert refiled.errors == [
        f"replaces drop {misfiled.drop_id}, ingested as a daily shop overview: "
        "2 facts removed, 0 restored"]
    assert stored(engine, "traffic") == []
    assert {r["date"]: r["impressions"] for r in stored(engine, "p4p")} == {
        date(2026, 11, 3): 100, date(2026, 11, 4): 80}
    assert status_of(engine, misfiled.drop_id) == "deleted"
    # The same bytes again, with the same kind or none: a duplicate of the refiled drop.
    for kind in ("p4p", None):
        again = ingest_file(engine, store, path, kind=kind)
        assert (again.status, again.duplicate_of) == ("duplicate", refiled.drop_id)
    # And back: refiled as traffic, the P4P facts go.
    back = ingest_file(engine, store, path, kind="traffic")
    assert (back.status, back.kind) == ("ingested", "traffic")
    assert stored(engine, "p4p") == []
    with write(engine) as conn:
        undo_drop(conn, back.drop_id)
    assert snapshot(engine) == before


def test_a_corrected_kind_that_does_not_fit_leaves_the_first_drop_alone(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "report.csv", MISFILED)
    misfiled = ingest_file(engine, store, path, kind="traffic")
    before = snapshot(engine)
    wrong = ingest_file(engine, store, path, kind="orders")
    assert wrong.status == "rejected"
    assert "a Trade Assurance order list, which needs 订单号 / Order ID" in wrong.errors[0]
    assert snapshot(engine) == before
    assert status_of(engine, misfiled.drop_id) == "ingested"


def test_a_corrected_kind_is_refused_while_a_later_drop_holds_the_facts(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "report.csv", MISFILED)
    misfiled = ingest_file(engine, store, path, kind="traffic")
    later = ingest_file(engine, store, write_csv(tmp_path / "traffic.csv", [
        ["日期", "流量来源", "店铺访问人数", "搜索曝光次数"], ["2026-11-03", "", "50", "120"]]))
    assert later.updated == 1
    before = snapshot(engine)
    result = ingest_file(engine, store, path, kind="p4p")
    assert result.status == "rejected"
    assert f"drop {misfiled.drop_id}" in result.errors[0]
    assert f"later drop {later.drop_id} (traffic.csv)" in result.errors[0]
    assert snapshot(engine) == before
    assert status_of(engine, misfiled.drop_id) == "ingested"


def test_two_processes_refiling_the_same_bytes_refile_them_once(engine: Engine, store: Store,
                                                                tmp_path: Path) -> None:
    path = write_csv(tmp_path / "report.csv", MISFILED)
    ingest_file(engine, store, path, kind="traffic")
    results: list[DropResult] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        results.append(ingest_file(engine, store, path, kind="p4p"))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == ["duplicate", "ingested"], [
        r.errors for r in results]
    assert len(stored(engine, "p4p")) == 2 and stored(engine, "traffic") == []
    with read(engine) as conn:
        live = conn.execute(select(drops.c.kind).where(drops.c.status == "ingested")).all()
    assert [k for (k,) in live] == ["p4p"]


def test_a_fact_changed_under_a_writer_is_not_overwritten_blindly(
    engine: Engine, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if another process updated the fact between this drop's read and its write: the
    # update finds another writer than the one it read, and the file is tried again.
    ingest_file(engine, store, p4p(tmp_path / "a.csv", {1: 100}))
    real = _Writer._existing
    calls: list[int] = []

    def stale(self: _Writer, *args: Any) -> dict[str, Any]:
        found = real(self, *args)
        calls.append(len(found))
        if len(calls) == 1:
            found = {k: {**v, "drop_id": -1} for k, v in found.items()}
        return found

    monkeypatch.setattr(_Writer, "_existing", stale)
    second = ingest_file(engine, store, p4p(tmp_path / "b.csv", {1: 150}))
    assert len(calls) == 2
    assert (second.status, second.updated) == ("ingested", 1)
    with write(engine) as conn:
        undo_drop(conn, second.drop_id)
    assert [r["impressions"] for r in stored(engine, "p4p")] == [100]


# ---- the command line ---------------------------------------------------------------------------


def run_json(cli: Run, *args: object) -> tuple[int, dict[str, Any]]:
    code, out, err = cli(*args, "--json")
    assert "Traceback" not in err
    return code, json.loads(out)


def test_drops_delete(cli: Run, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", sample("orders"))
    _, data = run_json(cli, "ingest", path)
    drop_id = data["drops"][0]["drop_id"]
    code, data = run_json(cli, "drops", "delete", drop_id)
    assert code == 0
    assert data["deleted"] == {"drop_id": drop_id, "kind": "orders", "file": "orders.csv",
                               "removed": 2, "restored": 0, "duplicates": 0}
    assert data["drop"]["status"] == "deleted"
    _, listed = run_json(cli, "drops")
    assert [(d["id"], d["status"]) for d in listed["drops"]] == [(drop_id, "deleted")]
    # Again: refused in one line, exit 1.
    code, out, err = cli("drops", "delete", drop_id)
    assert code == 1 and out == ""
    assert err.strip() == f"opsbot: drop {drop_id} was already deleted"
    code, data = run_json(cli, "drops", "delete", drop_id)
    assert (code, data) == (1, {"error": f"drop {drop_id} was already deleted"})
    # The human line.
    _, data = run_json(cli, "ingest", path)
    code, out, _ = cli("drops", "delete", data["drops"][0]["drop_id"])
    assert code == 0
    assert out.strip() == (f"deleted drop {data['drops'][0]['drop_id']} (orders.csv, a Trade "
                           "Assurance order list): 2 facts removed, 0 restored")


def test_drops_delete_usage(cli: Run) -> None:
    code, _, err = cli("drops", "delete")
    assert code == 2 and "usage: opsbot drops delete ID" in err
    code, _, err = cli("drops", "delete", 999)
    assert code == 1 and "no drop with id 999" in err


def test_drops_delete_in_another_store_is_refused(cli: Run, tmp_path: Path) -> None:
    cli("store", "add", "acme")
    cli("store", "add", "beta")
    _, data = run_json(cli, "ingest", write_csv(tmp_path / "o.csv", sample("orders")),
                       "--store", "acme")
    drop_id = data["drops"][0]["drop_id"]
    code, _, err = cli("drops", "delete", drop_id, "--store", "beta")
    assert code == 1 and f"no drop with id {drop_id} in this store" in err
    assert run_json(cli, "drops", "show", drop_id)[1]["drop"]["status"] == "ingested"


def test_drops_limit(cli: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(3):
        cli("ingest", write_csv(tmp_path / f"o{n}.csv", [*sample("orders"), [f"TA-x{n}"]]))
    _, data = run_json(cli, "drops", "--limit", 0)  # 0: all of them
    assert [d["file"] for d in data["drops"]] == ["o2.csv", "o1.csv", "o0.csv"]
    _, data = run_json(cli, "drops", "--limit", 2)
    assert [d["file"] for d in data["drops"]] == ["o2.csv", "o1.csv"]
    with pytest.raises(SystemExit) as usage:
        cli("drops", "--limit", "-1")
    assert usage.value.code == 2
    assert "argument --limit: expected a count, 0 for all, got '-1'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli("drops", "--help")
    assert "0 shows all" in " ".join(capsys.readouterr().out.split())

