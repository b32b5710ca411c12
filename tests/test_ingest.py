"""Ingesting data drops (bot.ingest.drop), on SQLite and PostgreSQL: every kind from Chinese,
English and API headers; kind detection; title and totals rows; values as stored; exactly
once and all or nothing; the drop record."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.ingest import readers
from bot.ingest.drop import DropResult, _Writer, ingest_file
from bot.ingest.kinds import KIND_BY_NAME
from bot.periods import utcnow
from bot.stores import Store, add_store
from tests.files import (
    EXPECTED,
    ROW_ID,
    SAMPLES,
    by,
    csv_text,
    drop_row,
    quarantined,
    sample,
    snapshot,
    stored,
    titles,
    write,
    write_csv,
)

FORMAT_OF = {"zh": "xls", "en": "xlsx", "api": "csv"}  # each language in another format


def assert_facts(rows: list[dict[str, object]], kind: str) -> None:
    found = by(rows, ROW_ID[kind])
    assert set(found) == set(EXPECTED[kind])
    for row_id, expected in EXPECTED[kind].items():
        for field, value in expected.items():
            if isinstance(value, float):
                assert found[row_id][field] == pytest.approx(value), (row_id, field)
            else:
                assert found[row_id][field] == value, (row_id, field)


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_every_kind_ingests_from_its_headers(engine: Engine, tmp_path: Path, kind: str) -> None:
    for language, fmt in FORMAT_OF.items():  # each language into a store of its own
        store = add_store(engine, f"shop-{language}")
        path = write(tmp_path / f"export-{language}-2026-11-07.{fmt}", sample(kind, language))
        result = ingest_file(engine, store, path)  # no --kind: told by the columns
        assert (result.status, result.kind, result.errors) == ("ingested", kind, []), language
        assert (result.rows, result.inserted, result.quarantined) == (2, 2, 0)
        rows = stored(engine, kind, store.id)
        assert_facts(rows, kind)
        if KIND_BY_NAME[kind].periodic:
            assert result.period == (date(2026, 11, 7), date(2026, 11, 7))
            assert {(r["period_start"], r["period_end"]) for r in rows} == {
                (date(2026, 11, 7), date(2026, 11, 7))}


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_chinese_english_and_api_exports_are_the_same_facts(engine: Engine, store: Store,
                                                           tmp_path: Path, kind: str) -> None:
    counts = []
    for language in ("zh", "en", "api"):
        path = write(tmp_path / f"{language}-2026-11-07.csv", sample(kind, language))
        result = ingest_file(engine, store, path)
        counts.append((result.inserted, result.updated, result.unchanged))
    # The English and API files restate the Chinese one: nothing new, nothing changed.
    assert counts == [(2, 0, 0), (0, 0, 2), (0, 0, 2)]
    assert len(stored(engine, kind)) == 2


# ---- telling the kind -----------------------------------------------------------------------

AMBIGUOUS = [["Date", "Impressions", "Clicks"], ["2026-11-03", "100", "5"]]


def test_ambiguous_columns_are_rejected_asking_for_kind(engine: Engine, store: Store,
                                                        tmp_path: Path) -> None:
    before = snapshot(engine)
    result = ingest_file(engine, store, write_csv(tmp_path / "report.csv", AMBIGUOUS))
    assert result.status == "rejected"
    assert "p4p" in result.errors[0] and "traffic" in result.errors[0]
    assert "--kind" in result.errors[0]
    assert snapshot(engine) == before


def test_kind_override(engine: Engine, store: Store, tmp_path: Path) -> None:
    result = ingest_file(engine, store, write_csv(tmp_path / "report.csv", AMBIGUOUS),
                         kind="traffic")
    assert (result.status, result.kind, result.inserted) == ("ingested", "traffic", 1)
    assert stored(engine, "traffic")[0]["impressions"] == 100
    assert stored(engine, "p4p") == []


def test_the_file_name_breaks_a_tie(engine: Engine, store: Store, tmp_path: Path) -> None:
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p-plan.csv", AMBIGUOUS))
    assert (result.status, result.kind) == ("ingested", "p4p")


def test_unknown_columns_are_rejected_naming_what_was_expected(engine: Engine, store: Store,
                                                               tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [["名字", "数量"], ["a", "1"]])
    result = ingest_file(engine, store, path)
    assert result.status == "rejected"
    assert "产品ID / Product ID" in result.errors[0]
    assert "询盘ID / Inquiry ID" in result.errors[0]


def test_missing_key_columns_reject_the_whole_file(engine: Engine, store: Store,
                                                   tmp_path: Path) -> None:
    # An inquiry list without its creation time: not an inquiries report.
    rows = [["询盘ID", "客户名", "询盘标题"], ["Q1", "John", "Price?"], ["Q2", "Ana", "MOQ"]]
    before = snapshot(engine)
    result = ingest_file(engine, store, write_csv(tmp_path / "inquiries.csv", rows),
                         kind="inquiries")
    assert result.status == "rejected"
    assert "创建时间 / Created" in result.errors[0]
    assert snapshot(engine) == before
    # The wrong --kind for a file names the columns that kind needs.
    result = ingest_file(engine, store, write_csv(tmp_path / "k.csv", sample("keywords")),
                         kind="products")
    assert result.status == "rejected"
    assert "产品ID / Product ID" in result.errors[0]
    assert snapshot(engine) == before


# ---- layout: title rows, periods, totals, cut-off files ---------------------------------------


# Every format x title-row combination is read in test_readers; here each end to end once.
@pytest.mark.parametrize(("fmt", "title_rows"), [("xls", 5), ("xlsx", 3), ("csv", 0),
                                                 ("csv", 5)])
def test_title_rows_and_row_numbers(engine: Engine, store: Store, tmp_path: Path, fmt: str,
                                    title_rows: int) -> None:
    rows = sample("products", "zh", title_rows)
    rows[-1][4] = "lots"  # the second data row's impressions
    result = ingest_file(engine, store, write(tmp_path / f"Products-2026-11-15.{fmt}", rows))
    assert (result.status, result.rows, result.inserted, result.quarantined) == (
        "ingested", 2, 1, 1)
    # Rows as the user sees them: header below the titles, the bad row two below it.
    [(number, reason, raw)] = quarantined(engine, result.drop_id)
    assert number == title_rows + 3
    assert "搜索曝光次数" in reason and "lots" in reason
    assert raw["产品ID"] == "1600100002"
    # The period: from the title row when there is one, else from the file name.
    expected = ((date(2026, 11, 1), date(2026, 11, 7)) if title_rows >= 2
                else (date(2026, 11, 15), date(2026, 11, 15)))
    assert result.period == expected
    assert stored(engine, "products")[0]["period_start"] == expected[0]


def test_period_from_a_repeated_download_name(engine: Engine, store: Store,
                                              tmp_path: Path) -> None:
    first = ingest_file(engine, store, write(tmp_path / "Products-2026-11-15.xls",
                                             sample("products", "en")))
    rows = sample("products", "en")
    rows[1][4] = "2,000"  # impressions were refreshed
    again = ingest_file(engine, store, write(tmp_path / "Products-2026-11-15 (1).xls", rows))
    assert first.period == again.period == (date(2026, 11, 15), date(2026, 11, 15))
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 1)
    assert by(stored(engine, "products"), "product_id")["1600100001"]["impressions"] == 2000


@pytest.mark.parametrize("kind", ["products", "keywords"])
def test_a_periodic_kind_without_a_period_is_rejected(engine: Engine, store: Store,
                                                      tmp_path: Path, kind: str) -> None:
    result = ingest_file(engine, store, write(tmp_path / "export.xls", sample(kind)))
    assert result.status == "rejected"
    assert "period" in result.errors[0] and "时间周期" in result.errors[0]
    assert stored(engine, kind) == []


@pytest.mark.parametrize(("word", "fmt"), [("汇总", "xlsx"), ("合计", "xls"), ("Total", "csv"),
                                           ("总计", "xls")])
def test_totals_rows_are_dropped_not_counted_not_quarantined(engine: Engine, store: Store,
                                                             tmp_path: Path, fmt: str,
                                                             word: str) -> None:
    rows = [*titles(3), *sample("p4p", "zh"), [word, "", "", "1,500", "25", "1.67%", "1,234.50"]]
    result = ingest_file(engine, store, write(tmp_path / f"LED plan 20261103.{fmt}", rows))
    assert (result.status, result.rows, result.inserted, result.quarantined) == (
        "ingested", 2, 2, 0)
    assert sum(r["impressions"] for r in stored(engine, "p4p")) == 1500
    assert quarantined(engine, result.drop_id) == []


def test_a_cut_off_csv_quarantines_the_partial_row(engine: Engine, store: Store,
                                                   tmp_path: Path) -> None:
    text = csv_text(sample("orders", "en")).rstrip("\r\n")
    path = tmp_path / "orders.csv"
    path.write_bytes(text[:-10].encode())  # ends inside the last row, no newline
    result = ingest_file(engine, store, path)
    assert (result.status, result.rows, result.inserted, result.quarantined) == (
        "ingested", 2, 1, 1)
    [(number, reason, raw)] = quarantined(engine, result.drop_id)
    assert number == 3 and "cut off" in reason and raw["Order ID"] == "TA-2"
    assert [r["order_id"] for r in stored(engine, "orders")] == ["TA-1"]


def test_a_row_shorter_than_the_header_is_quarantined(engine: Engine, store: Store,
                                                      tmp_path: Path) -> None:
    rows = [*sample("orders", "en"), ["TA-3", "Bo"]]
    result = ingest_file(engine, store, write_csv(tmp_path / "orders.csv", rows))
    assert (result.rows, result.inserted, result.quarantined) == (3, 2, 1)
    assert quarantined(engine, result.drop_id)[0][0] == 4


# ---- values as stored -------------------------------------------------------------------------


@pytest.mark.parametrize(("timezone", "created"), [
    ("Asia/Shanghai", datetime(2026, 11, 3, 6, 5)),
    ("America/New_York", datetime(2026, 11, 3, 19, 5)),
])
def test_local_times_are_stored_as_utc_with_the_stores_timezone(
    engine: Engine, tmp_path: Path, timezone: str, created: datetime
) -> None:
    store = add_store(engine, "shop", timezone)
    rows = [["询盘ID", "创建时间", "最新回复时间"],
            ["Q1", "2026-11-03 14:05", "2026/11/3 下午4:05:00"],
            ["Q2", "2026-11-03T14:05:00+08:00", "1793685900000"],
            ["Q3", "1793685900", "-"]]
    result = ingest_file(engine, store, write_csv(tmp_path / "inquiries.csv", rows))
    assert result.status == "ingested"
    found = by(stored(engine, "inquiries"), "inquiry_id")
    assert found["Q1"]["created_at"] == created
    assert found["Q1"]["replied_at"] == created + timedelta(hours=2)
    # An offset or an epoch says its own zone: the same moment in every store.
    utc = datetime(2026, 11, 3, 6, 5)
    assert found["Q2"]["created_at"] == found["Q2"]["replied_at"] == utc
    assert (found["Q3"]["created_at"], found["Q3"]["replied_at"]) == (utc, None)


def test_the_period_of_a_dated_kind_is_the_stores_local_days(engine: Engine, tmp_path: Path
                                                             ) -> None:
    store = add_store(engine, "ny", "America/New_York")
    rows = [["询盘ID", "创建时间"], ["Q1", "2026-11-03T02:00:00Z"], ["Q2", "2026-11-05T12:00Z"]]
    result = ingest_file(engine, store, write_csv(tmp_path / "inquiries.csv", rows))
    # 02:00 UTC on Nov 3 is the evening of Nov 2 in New York.
    assert result.period == (date(2026, 11, 2), date(2026, 11, 5))


def test_values_in_a_p4p_report(engine: Engine, store: Store, tmp_path: Path) -> None:
    rows = [["日期", "计划名称", "关键词", "曝光量", "花费", "出价", "排名", "点击率"],
            ["2026-11-01", "A", "led", "1,234", "￥1,234.50", "US $1.20", "-1", "3.25"],
            ["2026-11-02", "A", "led", "-", "¥12", "--", "--", "0.0325"],
            ["2026-11-03", "A", "led", "", "12.5", "$0.80", "3", "-"]]
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", rows))
    assert (result.status, result.inserted) == ("ingested", 3)
    day = by(stored(engine, "p4p"), "date")
    assert day["2026-11-01"]["impressions"] == 1234
    assert day["2026-11-01"]["spend"] == pytest.approx(1234.5)
    assert day["2026-11-01"]["bid"] == pytest.approx(1.2)
    assert day["2026-11-01"]["position"] == -1  # "others", a real rank value, kept
    assert day["2026-11-02"]["impressions"] is None
    assert day["2026-11-02"]["bid"] is None and day["2026-11-02"]["position"] is None
    assert day["2026-11-03"]["impressions"] is None
    # One column, one unit: 3.25 says the column is in percent, so 0.0325 is 0.0325%.
    assert day["2026-11-01"]["ctr"] == pytest.approx(0.0325)
    assert day["2026-11-02"]["ctr"] == pytest.approx(0.000325)
    assert day["2026-11-03"]["ctr"] is None
    assert {r["currency"] for r in day.values()} == {"CNY"}  # ad spend is CNY


def test_a_fraction_rate_column_stays_a_fraction(engine: Engine, store: Store,
                                                 tmp_path: Path) -> None:
    rows = [["日期", "计划名称", "关键词", "点击率"],
            ["2026-11-01", "A", "led", "0.0325"], ["2026-11-02", "A", "led", "1"]]
    ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", rows))
    day = by(stored(engine, "p4p"), "date")
    assert day["2026-11-01"]["ctr"] == pytest.approx(0.0325)
    assert day["2026-11-02"]["ctr"] == pytest.approx(1.0)


def test_the_rate_unit_is_decided_over_the_whole_column_not_per_chunk(
    engine: Engine, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "CHUNK_ROWS", 2)
    ctrs = ["0.5", "0.25", "0.75", "3.25", "2", "0.5"]  # only the 2nd chunk shows percent
    rows = [["日期", "计划名称", "关键词", "点击率"]] + [
        [f"2026-11-0{i + 1}", "A", "led", v] for i, v in enumerate(ctrs)]
    for fmt in ("csv", "xlsx"):
        engine_rows = ingest_file(engine, store, write(tmp_path / f"p4p.{fmt}", rows))
        assert engine_rows.status == "ingested"
        stored_ctrs = [r["ctr"] for r in sorted(stored(engine, "p4p"), key=lambda r: r["date"])]
        assert stored_ctrs == pytest.approx([float(v) / 100 for v in ctrs])


def test_flags_and_hidden_buyer_fields(engine: Engine, store: Store, tmp_path: Path) -> None:
    rows = [["询盘ID", "创建时间", "客户名", "邮箱", "公司名称", "垃圾询盘"],
            ["Q1", "2026-11-03 10:00", "-1", "-1", "Acme", "是"],
            ["Q2", "2026-11-03 11:00", "Ana", "a@x.es", "-1", "否"],
            ["Q3", "2026-11-03 12:00", "Bo", "", "", "Y"]]
    ingest_file(engine, store, write_csv(tmp_path / "inquiries.csv", rows))
    found = by(stored(engine, "inquiries"), "inquiry_id")
    assert (found["Q1"]["buyer"], found["Q1"]["email"], found["Q1"]["is_spam"]) == (
        None, None, True)
    assert (found["Q2"]["company"], found["Q2"]["is_spam"]) == (None, False)
    assert found["Q3"]["is_spam"] is True


# ---- exactly once, all or nothing ---------------------------------------------------------------


def p4p_rows(days: dict[int, int]) -> list[list[object]]:
    """A P4P report: November day -> impressions."""
    return [["日期", "计划名称", "关键词", "曝光量"]] + [
        [f"2026-11-{d:02d}", "LED plan", "led strip", f"{n:,}"] for d, n in sorted(days.items())]


def test_the_same_file_twice_is_a_duplicate_and_changes_nothing(engine: Engine, store: Store,
                                                                tmp_path: Path) -> None:
    path = write(tmp_path / "Products-2026-11-15.xls", sample("products", "zh", 5))
    first = ingest_file(engine, store, path)
    after_first = snapshot(engine)
    again = ingest_file(engine, store, path)
    renamed = path.with_name("copy.xls")
    renamed.write_bytes(path.read_bytes())
    copy = ingest_file(engine, store, renamed)  # same content, another name
    assert first.status == "ingested"
    for result in (again, copy):
        assert result.status == "duplicate"
        assert (result.kind, result.period) == ("products", first.period)
        assert (result.inserted, result.updated, result.quarantined) == (0, 0, 0)
        assert f"drop {first.drop_id}" in result.errors[0]
        assert drop_row(engine, result.drop_id)["status"] == "duplicate"
    assert snapshot(engine) == after_first


def test_the_same_file_in_another_store_is_not_a_duplicate(engine: Engine, store: Store,
                                                           tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", sample("orders"))
    other = add_store(engine, "other")
    assert ingest_file(engine, store, path).status == "ingested"
    assert ingest_file(engine, other, path).status == "ingested"
    assert len(stored(engine, "orders", store.id)) == len(stored(engine, "orders", other.id)) == 2


def test_a_re_export_with_overlapping_dates_never_double_counts(engine: Engine, store: Store,
                                                                tmp_path: Path) -> None:
    first = ingest_file(engine, store, write_csv(
        tmp_path / "p4p-1.csv", p4p_rows({1: 100, 2: 200, 3: 300, 4: 400, 5: 500})))
    # Re-exported later: days 3-4 were revised by the back office, 6-7 are new.
    truth = {1: 100, 2: 200, 3: 330, 4: 440, 5: 500, 6: 600, 7: 700}
    second = ingest_file(engine, store, write_csv(
        tmp_path / "p4p-2.csv", p4p_rows({d: truth[d] for d in range(3, 8)})))
    assert (first.inserted, first.updated, first.unchanged) == (5, 0, 0)
    assert (second.rows, second.inserted, second.updated, second.unchanged) == (5, 2, 2, 1)
    assert second.period == (date(2026, 11, 3), date(2026, 11, 7))
    facts = stored(engine, "p4p")
    assert len(facts) == 7
    assert sum(r["impressions"] for r in facts) == sum(truth.values())
    assert {r["date"].day: r["impressions"] for r in facts} == truth


def test_a_repeated_key_within_a_file_is_quarantined(engine: Engine, store: Store,
                                                     tmp_path: Path) -> None:
    rows = [*p4p_rows({1: 100, 2: 200}), ["2026-11-01", "LED plan", "led strip", "999"]]
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", rows))
    assert (result.rows, result.inserted, result.quarantined) == (3, 2, 1)
    [(number, reason, _)] = quarantined(engine, result.drop_id)
    assert number == 4 and "row 2" in reason
    assert sum(r["impressions"] for r in stored(engine, "p4p")) == 300


def test_a_file_where_every_row_is_bad_is_rejected_and_writes_nothing(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    rows = [["日期", "计划名称", "关键词", "曝光量"],
            ["2026-11-01", "A", "led", "many"], ["yesterday", "A", "led", "1"]]
    before = snapshot(engine)
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", rows))
    assert result.status == "rejected"
    assert "row 2" in result.errors[0] and "row 3" in result.errors[0]
    assert snapshot(engine) == before  # no facts, no quarantine rows
    record = drop_row(engine, result.drop_id)
    assert (record["status"], record["kind"], record["inserted"]) == ("rejected", "p4p", 0)


def test_a_failure_while_writing_leaves_nothing_and_is_recorded(
    engine: Engine, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "CHUNK_ROWS", 2)
    real_write = _Writer.write
    calls = []

    def failing_write(self: _Writer, rows: list) -> list:
        calls.append(len(rows))
        if len(calls) > 1:
            raise OSError("disk I/O error")
        return real_write(self, rows)

    monkeypatch.setattr(_Writer, "write", failing_write)
    rows = p4p_rows({d: d * 10 for d in range(1, 8)})
    rows[2][3] = "bad"  # a quarantined row in the first chunk, to be rolled back too
    path = write_csv(tmp_path / "p4p.csv", rows)
    before = snapshot(engine)
    result = ingest_file(engine, store, path)
    assert len(calls) == 2  # the first chunk was written before the failure
    assert result.status == "rejected"
    assert "disk I/O error" in result.errors[0]
    assert snapshot(engine) == before
    assert drop_row(engine, result.drop_id)["status"] == "rejected"
    # Once the disk is fixed the same file goes in: a rejection is not an ingestion.
    monkeypatch.setattr(_Writer, "write", real_write)
    again = ingest_file(engine, store, path)
    assert (again.status, again.inserted, again.quarantined) == ("ingested", 6, 1)


def test_the_same_file_from_two_threads_is_ingested_once(engine: Engine, store: Store,
                                                         tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p4p.csv", p4p_rows({d: d for d in range(1, 29)}))
    results: list[DropResult] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        results.append(ingest_file(engine, store, path))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == ["duplicate", "ingested"]
    assert len(stored(engine, "p4p")) == 28
    assert sum(r["impressions"] for r in stored(engine, "p4p")) == sum(range(1, 29))


def test_overlapping_files_from_two_threads_never_double_count(engine: Engine, store: Store,
                                                               tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", p4p_rows({d: 10 for d in range(1, 21)}))
    b = write_csv(tmp_path / "b.csv", p4p_rows({d: 10 for d in range(11, 29)}))
    results: list[DropResult] = []
    start = threading.Barrier(2)

    def run(path: Path) -> None:
        start.wait()
        results.append(ingest_file(engine, store, path))

    threads = [threading.Thread(target=run, args=(p,)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == ["ingested", "ingested"], [r.errors for r in results]
    assert sum(r.inserted for r in results) == 28
    assert sum(r.unchanged for r in results) == 10
    assert sum(r["impressions"] for r in stored(engine, "p4p")) == 280


# ---- the drop record ---------------------------------------------------------------------------


def test_every_drop_is_recorded(engine: Engine, store: Store, tmp_path: Path) -> None:
    before = utcnow()
    rows = sample("products", "zh", 3)
    rows.append(["1600100003", "Bad", "Y", "N", "x"])
    result = ingest_file(engine, store, write(tmp_path / "Products-2026-11-15.xls", rows),
                         source="slack", source_ref="F123")
    record = drop_row(engine, result.drop_id)
    assert record["file_name"] == "Products-2026-11-15.xls"
    assert (record["kind"], record["status"], record["store_id"]) == (
        "products", "ingested", store.id)
    assert (record["period_start"], record["period_end"]) == (date(2026, 11, 1),
                                                              date(2026, 11, 7))
    assert (record["rows"], record["inserted"], record["updated"], record["unchanged"],
            record["quarantined"]) == (3, 2, 0, 0, 1)
    assert (record["source"], record["source_ref"]) == ("slack", "F123")
    assert before - timedelta(seconds=1) <= record["created_at"] <= utcnow()
    assert result.to_json()["drop_id"] == result.drop_id


def test_values_beyond_what_a_column_holds_are_quarantined(engine: Engine, store: Store,
                                                           tmp_path: Path) -> None:
    rows = [["日期", "计划名称", "关键词", "曝光量", "花费", "点击率"],
            ["2026-11-01", "A", "led", "9" * 30, "1", "1%"],  # beyond BIGINT
            ["2026-11-02", "A", "led", "1", "¥1e15", "1%"],  # beyond NUMERIC(18, 4)
            ["2026-11-03", "A", "led", "1", "1", "1e400%"],  # not a finite number
            ["2026-11-04", "A", "led", "1", "1", "1%"],
            ["2026-11-05", "A", "led", "7", "2.5", "1%"]]
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", rows))
    assert (result.status, result.rows, result.inserted, result.quarantined) == (
        "ingested", 5, 2, 3)
    assert [q[0] for q in quarantined(engine, result.drop_id)] == [2, 3, 4]
    assert sorted(r["date"].day for r in stored(engine, "p4p")) == [4, 5]


def test_long_keys_and_file_names_fit(engine: Engine, store: Store, tmp_path: Path) -> None:
    long_keyword = "led strip " * 80  # 800 characters: longer than the key column holds
    rows = [["词", "曝光量", "点击量"], [long_keyword, "1", "2"], [long_keyword + "x", "3", "4"]]
    name = "k" * 200 + "-2026-11-15.csv"
    result = ingest_file(engine, store, write_csv(tmp_path / name, rows))
    assert (result.status, result.inserted) == ("ingested", 2)
    assert sorted(len(r["keyword"]) for r in stored(engine, "keywords")) == [799, 801]  # trimmed
    rows[2][1] = "5"
    again = ingest_file(engine, store, write_csv(tmp_path / "again-2026-11-15.csv", rows))
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 1)
