"""The data commands of the `opsbot` CLI (cli/data.py), as a user or a script runs them:
`ingest`, `store add/list`, `drops`, `drops show`, `kinds`; their JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from tests.cli_helpers import Run
from tests.files import sample, write, write_book, write_csv

DROP_KEYS = {"file": str, "status": str, "kind": (str, type(None)), "store": str, "rows": int,
             "inserted": int, "updated": int, "unchanged": int, "quarantined": int,
             "period": (dict, type(None)), "errors": list, "sheets": (dict, type(None)),
             "over_limit": (dict, type(None))}


def run_json(cli: Run, *args: object) -> tuple[int, dict]:
    code, out, err = cli(*args, "--json")
    assert "Traceback" not in err
    return code, json.loads(out)


def check_drop(drop: dict) -> None:
    missing = set(DROP_KEYS) - set(drop)
    assert not missing, f"missing keys {missing}"
    assert set(drop) <= set(DROP_KEYS) | {"drop_id"}
    for key, types in DROP_KEYS.items():
        assert isinstance(drop[key], types), (key, drop[key])
    assert drop["status"] in ("ingested", "duplicate", "rejected")
    if drop["period"] is not None:
        assert set(drop["period"]) == {"start", "end"}
    if drop["sheets"] is not None:  # a workbook's: the sheets read, and those not read
        assert set(drop["sheets"]) == {"read", "skipped"}
    assert all(isinstance(e, str) for e in drop["errors"])


def test_ingest_json_contract(cli: Run, tmp_path: Path) -> None:
    path = write(tmp_path / "Products-2026-11-15.xls", sample("products", "zh", 5))
    code, data = run_json(cli, "ingest", path)
    assert code == 0
    assert list(data) == ["drops"]
    [drop] = data["drops"]
    check_drop(drop)
    assert (drop["file"], drop["status"], drop["kind"], drop["store"]) == (
        "Products-2026-11-15.xls", "ingested", "products", "default")
    assert (drop["rows"], drop["inserted"], drop["updated"], drop["unchanged"],
            drop["quarantined"]) == (2, 2, 0, 0, 0)
    assert drop["period"] == {"start": "2026-11-01", "end": "2026-11-07"}
    assert drop["errors"] == []

    code, data = run_json(cli, "ingest", path)  # again: a duplicate is not a failure
    assert code == 0
    check_drop(data["drops"][0])
    assert data["drops"][0]["status"] == "duplicate"
    assert data["drops"][0]["period"] == {"start": "2026-11-01", "end": "2026-11-07"}


def test_exit_1_when_any_file_is_rejected(cli: Run, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "orders.csv", sample("orders"))
    image = tmp_path / "Products-2026-11-15.xls"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    code, data = run_json(cli, "ingest", good, image)
    assert code == 1
    for drop in data["drops"]:
        check_drop(drop)
    assert [d["status"] for d in data["drops"]] == ["ingested", "rejected"]
    assert data["drops"][0]["period"] == {"start": "2026-11-01", "end": "2026-11-03"}
    assert data["drops"][1]["period"] is None
    assert "PNG image" in data["drops"][1]["errors"][0]


def test_a_missing_path_is_one_clear_line_and_nothing_is_ingested(cli: Run,
                                                                  tmp_path: Path) -> None:
    good = write_csv(tmp_path / "orders.csv", sample("orders"))
    missing = tmp_path / "missing.csv"
    code, out, err = cli("ingest", good, missing)
    assert (code, out) == (2, "")
    assert err == f"opsbot: no such file or folder: {missing}\n"
    code, out, err = cli("ingest", missing, "--json")
    assert code == 2 and json.loads(out) == {"error": f"no such file or folder: {missing}"}
    _, data = run_json(cli, "drops")
    assert data["drops"] == []  # the good file was not ingested either


def test_an_empty_folder_is_one_clear_line(cli: Run, tmp_path: Path) -> None:
    empty = tmp_path / "exports"
    empty.mkdir()
    (empty / ".DS_Store").write_bytes(b"x")  # hidden files are never ingested
    code, out, err = cli("ingest", empty)
    assert (code, out) == (2, "")
    assert err == f"opsbot: no files found in {empty}\n"


def test_ingest_a_folder_and_the_human_output(cli: Run, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    write_csv(folder / "orders.csv", sample("orders"))
    write(folder / "getKeywords-2026-11-15.xls", sample("keywords", "zh"))
    code, out, err = cli("ingest", folder)
    assert code == 0 and err == ""
    assert "orders.csv: orders" in out and "getKeywords-2026-11-15.xls: keywords" in out


def test_ingest_says_which_workbook_sheets_were_read(cli: Run, tmp_path: Path) -> None:
    header = ["订单号", "买家", "金额"]
    book = write_book(tmp_path / "orders.xlsx", {
        "说明": [["导出说明"]], "一": [header, ["TA-1", "John", "1"]],
        "二": [header, ["TA-2", "Ana", "2"]], "按买家": [["买家", "金额"], ["John", "1"]]})
    code, out, _ = cli("ingest", book)
    assert code == 0
    assert "sheets read: 一, 二; not read: 说明 (no header row), 按买家 (other columns)" in out


def test_kind_option(cli: Run, tmp_path: Path) -> None:
    rows = [["Date", "Impressions", "Clicks"], ["2026-11-03", "100", "5"]]
    path = write_csv(tmp_path / "report.csv", rows)
    code, data = run_json(cli, "ingest", path)
    assert code == 1 and "--kind" in data["drops"][0]["errors"][0]
    code, data = run_json(cli, "ingest", path, "--kind", "traffic")
    assert code == 0
    assert (data["drops"][0]["status"], data["drops"][0]["kind"]) == ("ingested", "traffic")


def test_an_unknown_kind_is_a_usage_error(cli: Run, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "orders.csv", sample("orders"))
    with pytest.raises(SystemExit) as exit_:
        main(["ingest", str(path), "--kind", "widgets"])
    assert exit_.value.code == 2
    assert "invalid choice: 'widgets'" in capsys.readouterr().err


def test_store_add_and_list(cli: Run) -> None:
    code, data = run_json(cli, "store", "add", "acme", "--timezone", "America/New_York",
                          "--language", "zh")
    assert code == 0
    assert (data["store"]["name"], data["store"]["timezone"], data["store"]["language"]) == (
        "acme", "America/New_York", "zh")
    run_json(cli, "store", "add", "beta")
    code, data = run_json(cli, "store", "list")
    assert code == 0
    assert [(s["name"], s["timezone"], s["language"]) for s in data["stores"]] == [
        ("acme", "America/New_York", "zh"), ("beta", "Asia/Shanghai", "en")]
    code, out, _ = cli("store", "list")
    assert out.splitlines() == ["acme\tAmerica/New_York\tzh", "beta\tAsia/Shanghai\ten"]


def test_a_bad_timezone_is_one_clear_line(cli: Run) -> None:
    code, out, err = cli("store", "add", "acme", "--timezone", "Mars/Olympus")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "Mars/Olympus" in err and "Asia/Shanghai" in err
    code, data = run_json(cli, "store", "list")
    assert data["stores"] == []


@pytest.mark.parametrize(("pair", "says"), [
    ("checklist_time=25:00", "00:00 to 23:59"),
    ("alert_level=5", "above 0 and below 1"),
    ("lost_days=-5", "whole number of at least 1"),
    ("workdays_only=maybe", "yes or no"),
    ("catch_up_hours=24", "from 0 to 23"),
    ("posts_per_day=20", "cannot be more than posts_max_per_day"),
    ("colour=red", "unknown setting"),
    ("hesitant_days=90", "hesitant_days (90) must be less than lost_days (90): a customer is "
                         "hesitant between hesitant_days and lost_days without contact, so "
                         "nobody could ever be hesitant"),
    ("lost_days=7", "hesitant_days (7) must be less than lost_days (7)"),
    ("zombie_days=100", "zombie_days (100) must be less than lost_days (90)"),
])
def test_store_set_refuses_a_bad_value_in_one_line(cli: Run, pair: str, says: str) -> None:
    cli("store", "add", "acme")
    code, out, err = cli("store", "set", "acme", "unreplied_hours=12", pair)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and says in err and "Traceback" not in err
    _, data = run_json(cli, "store", "list")
    assert data["stores"][0]["settings"]["unreplied_hours"] == 24  # nothing stored


@pytest.mark.parametrize(("text", "value"), [
    ("yes", True), ("1", True), ("true", True), ("no", False), ("0", False), ("否", False)])
def test_store_set_stores_booleans_as_booleans(cli: Run, text: str, value: bool) -> None:
    cli("store", "add", "acme")
    code, data = run_json(cli, "store", "set", "acme", f"workdays_only={text}")
    assert code == 0 and data["store"]["settings"]["workdays_only"] is value


def test_store_set_types_every_value(cli: Run) -> None:
    cli("store", "add", "acme")
    code, data = run_json(cli, "store", "set", "acme", "checklist_time=7:30",
                          "lost_days=60", "alert_level=0.05", "p4p_daily_budget=1,200",
                          "key_keywords=led strip, solar light", "posts_max_per_day=30",
                          "posts_per_day=20")
    assert code == 0
    settings = data["store"]["settings"]
    assert (settings["checklist_time"], settings["lost_days"], settings["alert_level"],
            settings["p4p_daily_budget"], settings["key_keywords"], settings["posts_per_day"]
            ) == ("07:30", 60, 0.05, 1200, ["led strip", "solar light"], 20)
    code, data = run_json(cli, "store", "set", "acme", "p4p_daily_budget=none")
    assert code == 0 and data["store"]["settings"]["p4p_daily_budget"] is None


def test_a_store_name_twice_is_an_error(cli: Run) -> None:
    cli("store", "add", "acme")
    code, _, err = cli("store", "add", "acme")
    assert code == 2 and "already exists" in err and err.count("\n") == 1


def test_without_store_the_only_store_is_used(cli: Run, tmp_path: Path) -> None:
    cli("store", "add", "acme", "--timezone", "America/New_York")
    path = write_csv(tmp_path / "inquiries.csv", [["询盘ID", "创建时间"],
                                                  ["Q1", "2026-11-03 22:00"]])
    code, data = run_json(cli, "ingest", path)
    assert code == 0
    assert data["drops"][0]["store"] == "acme"
    # 22:00 in New York on Nov 3 is Nov 4 in UTC; the period is in the store's days.
    assert data["drops"][0]["period"] == {"start": "2026-11-03", "end": "2026-11-03"}
    code, data = run_json(cli, "store", "list")
    assert [s["name"] for s in data["stores"]] == ["acme"]  # no `default` was made


def test_several_stores_and_no_store_option_is_a_clear_error(cli: Run,
                                                             tmp_path: Path) -> None:
    cli("store", "add", "acme")
    cli("store", "add", "beta")
    path = write_csv(tmp_path / "orders.csv", sample("orders"))
    code, _out, err = cli("ingest", path)
    assert code == 2
    assert "acme" in err and "beta" in err and "--store" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    code, data = run_json(cli, "ingest", path, "--store", "beta")
    assert code == 0 and data["drops"][0]["store"] == "beta"
    code, _, err = cli("ingest", path, "--store", "gamma")
    assert code == 2 and "no store named 'gamma'" in err


def test_drops_and_drops_show(cli: Run, tmp_path: Path) -> None:
    rows = sample("p4p", "zh", 3)
    rows[4][3] = "lots"  # the first data row's impressions: row 5 in Excel
    path = write(tmp_path / "LED plan 20261103.xlsx", rows)
    code, data = run_json(cli, "ingest", path)
    drop_id = data["drops"][0]["drop_id"]
    assert data["drops"][0]["quarantined"] == 1
    run_json(cli, "ingest", path)  # a duplicate, recorded too

    code, data = run_json(cli, "drops")
    assert code == 0
    assert [(d["file"], d["status"]) for d in data["drops"]] == [
        ("LED plan 20261103.xlsx", "duplicate"), ("LED plan 20261103.xlsx", "ingested")]
    first = data["drops"][1]
    assert (first["id"], first["kind"], first["store"], first["rows"], first["inserted"],
            first["quarantined"]) == (drop_id, "p4p", "default", 2, 1, 1)
    assert first["period"] == {"start": "2026-11-04", "end": "2026-11-04"}
    assert first["created_at"].endswith("Z")

    code, data = run_json(cli, "drops", "show", drop_id)
    assert code == 0
    assert data["drop"]["id"] == drop_id
    [bad] = data["quarantine"]
    assert bad["row"] == 5
    assert "曝光量" in bad["reason"] and "lots" in bad["reason"]
    assert bad["raw"]["曝光量"] == "lots" and bad["raw"]["日期"] == "2026-11-03"

    code, out, _ = cli("drops", "show", drop_id)
    assert "row 5:" in out

    code, _, err = cli("drops", "show", 999)
    assert code == 2 and "no drop with id 999" in err


def test_drops_of_one_store(cli: Run, tmp_path: Path) -> None:
    cli("store", "add", "acme")
    cli("store", "add", "beta")
    cli("ingest", write_csv(tmp_path / "o.csv", sample("orders")), "--store", "acme")
    cli("ingest", write_csv(tmp_path / "p.csv", sample("posts")), "--store", "beta")
    _, data = run_json(cli, "drops", "--store", "beta")
    assert [(d["file"], d["store"]) for d in data["drops"]] == [("p.csv", "beta")]


def test_kinds(cli: Run) -> None:
    code, data = run_json(cli, "kinds")
    assert code == 0
    kinds = {k["name"]: k for k in data["kinds"]}
    assert set(kinds) == {"products", "keywords", "p4p", "traffic", "inquiries", "customers",
                          "orders", "posts"}
    product_id = next(f for f in kinds["products"]["fields"] if f["name"] == "product_id")
    assert product_id["required"] and "产品ID" in product_id["aliases"]


@pytest.mark.parametrize("channel", ["#general", "general", "c0123abc", "C-1", "X0123456789"])
def test_store_bind_refuses_a_channel_name(cli: Run, channel: str) -> None:
    """Slack names channels by ID: a #name would be stored and never match an event."""
    cli("store", "add", "acme")
    code, out, err = cli("store", "bind", "acme", "--channel", channel)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{channel!r} is not a Slack channel ID (like C0123456789)" in err
    assert "copy the Channel ID" in err
    _, data = run_json(cli, "store", "list")
    assert data["stores"][0]["channels"] == []


def test_store_set_checks_the_stalled_thresholds_together(cli: Run) -> None:
    """hesitant_days=10 with lost_days=5 would leave nobody hesitant: refused, nothing
    stored; both changed together in the right order is fine."""
    cli("store", "add", "s")
    code, out, err = cli("store", "set", "s", "hesitant_days=10", "lost_days=5")
    assert (code, out) == (2, "")
    assert err == ("opsbot: hesitant_days (10) must be less than lost_days (5): a customer is "
                   "hesitant between hesitant_days and lost_days without contact, so nobody "
                   "could ever be hesitant\n")
    code, data = run_json(cli, "store", "set", "s", "hesitant_days=10", "lost_days=30",
                          "zombie_days=3")
    assert code == 0
    settings = data["store"]["settings"]
    assert (settings["zombie_days"], settings["hesitant_days"], settings["lost_days"]) == (
        3, 10, 30)
    code, _, err = cli("store", "set", "s", "lost_days=3")
    assert code == 2 and "hesitant_days (10) must be less than lost_days (3)" in err


def test_store_set_unreplied_max_days(cli: Run) -> None:
    """unreplied_max_days defaults to 30; a window that ends before unreplied_hours begins
    would list nothing: refused."""
    cli("store", "add", "s")
    _, data = run_json(cli, "store", "list")
    assert data["stores"][0]["settings"]["unreplied_max_days"] == 30
    code, data = run_json(cli, "store", "set", "s", "unreplied_max_days=14")
    assert code == 0 and data["store"]["settings"]["unreplied_max_days"] == 14
    code, out, err = cli("store", "set", "s", "unreplied_hours=72", "unreplied_max_days=2")
    assert (code, out) == (2, "")
    assert err.startswith("opsbot: unreplied_hours (72) must be less than unreplied_max_days "
                          "(2) × 24: ")
    code, _, err = cli("store", "set", "s", "unreplied_max_days=0")
    assert code == 2 and "unreplied_max_days must be a whole number of at least 1" in err


def test_store_bind_does_not_move_a_channel_silently(cli: Run) -> None:
    """A channel answers for one store: binding it to another is refused unless --move is
    given, and a move says where the channel came from."""
    cli("store", "add", "acme")
    cli("store", "add", "globex")
    assert cli("store", "bind", "acme", "--channel", "C1")[0] == 0
    code, out, err = cli("store", "bind", "globex", "--channel", "C1")
    assert (code, out) == (2, "")
    assert err == ("opsbot: channel C1 answers for store acme: add --move to move it to "
                   "store globex\n")
    _, data = run_json(cli, "store", "list")
    assert {s["name"]: s["channels"] for s in data["stores"]} == {"acme": ["C1"], "globex": []}
    # binding it again to the store it answers for is no move
    code, data = run_json(cli, "store", "bind", "acme", "--channel", "C1")
    assert code == 0 and data["moved_from"] is None
    code, out, _ = cli("store", "bind", "globex", "--channel", "C1", "--move")
    assert (code, out) == (0, "channel C1 now answers for store globex (moved from store "
                              "acme)\n")
    _, data = run_json(cli, "store", "list")
    assert {s["name"]: s["channels"] for s in data["stores"]} == {"acme": [], "globex": ["C1"]}
    code, data = run_json(cli, "store", "bind", "acme", "--channel", "C1", "--move")
    assert (code, data["moved_from"], data["store"]["name"]) == (0, "globex", "acme")


def test_store_bind_drops_surrounding_spaces(cli: Run) -> None:
    """A channel ID pasted with spaces around it is the ID; a #name is still refused."""
    cli("store", "add", "shop")
    code, out, _ = cli("store", "bind", "shop", "--channel", " C0123456789 ")
    assert (code, out) == (0, "channel C0123456789 now answers for store shop\n")
    _, data = run_json(cli, "store", "list")
    assert data["stores"][0]["channels"] == ["C0123456789"]
    code, out, err = cli("store", "bind", "shop", "--channel", " #general ")
    assert code == 2 and "'#general' is not a Slack channel ID" in err
    assert "copy the Channel ID" in err


def test_store_bind_takes_channel_ids(cli: Run) -> None:
    cli("store", "add", "acme")
    for channel in ("C0123456789", "G01ABCDEF", "D0DM"):
        code, out, _ = cli("store", "bind", "acme", "--channel", channel)
        assert code == 0 and out == f"channel {channel} now answers for store acme\n"
    _, data = run_json(cli, "store", "list")
    assert data["stores"][0]["channels"] == ["C0123456789", "G01ABCDEF", "D0DM"]


@pytest.mark.parametrize(("zone", "suggested"), [
    ("EST", "America/New_York"), ("US/Eastern", "America/New_York"),
    ("Etc/GMT+5", "America/New_York or Asia/Shanghai"), ("PRC", "Asia/Shanghai"),
    ("GMT", "Europe/London or UTC")])
def test_a_timezone_must_be_a_region(cli: Run, zone: str, suggested: str) -> None:
    """EST is a fixed offset: a New York store would be an hour off all summer."""
    code, out, err = cli("store", "add", "acme", "--timezone", zone)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"timezone {zone!r} is" in err and "not a region" in err
    assert f"such as {suggested}, or UTC" in err
    cli("store", "add", "acme")
    code, _, err = cli("store", "set", "acme", "--timezone", zone)
    assert code == 2 and "not a region" in err
    _, data = run_json(cli, "store", "list")
    assert data["stores"][0]["timezone"] == "Asia/Shanghai"
    for region in ("UTC", "America/Argentina/Buenos_Aires", "Europe/London"):
        code, data = run_json(cli, "store", "set", "acme", "--timezone", region)
        assert code == 0 and data["store"]["timezone"] == region
