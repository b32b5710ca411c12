"""Ingesting data drops (bot.ingest.drop), on SQLite and PostgreSQL: every kind from Chinese,
English and API headers; kind detection; title and totals rows; values as stored; exactly
once and all or nothing; the drop record."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.ingest import ahead, readers
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
    write_book,
    write_csv,
)

FORMAT_OF = {"zh": "xls", "en": "xlsx", "api": "csv"}  # each language in another format


@pytest.fixture(autouse=True, params=["parsed here", "parsed in a child"])
def _parsing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test twice: files parsed in this process, as small ones are, and in a forked
    child a block ahead of the writer, as large ones are (bot/ingest/ahead.py)."""
    if request.param == "parsed in a child":
        monkeypatch.setattr(ahead, "FORK_BYTES", 0)


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


def test_a_long_re_export_finds_every_fact_it_restates(engine: Engine, store: Store,
                                                       tmp_path: Path) -> None:
    # Facts are looked up by day and key in batches: many days of a few keywords, and one
    # day of more keywords than a batch holds, all found again, none inserted twice.
    def report(bump: int) -> list[list[object]]:
        rows: list[list[object]] = [["日期", "计划名称", "关键词", "曝光量"]]
        start = date(2026, 8, 1)
        for d in range(40):
            day = (start + timedelta(days=d)).isoformat()
            rows += [[day, "plan", f"word {w}", str(d * 10 + w + bump)] for w in range(3)]
        rows += [["2026-11-01", "plan", f"long tail {w}", str(w + bump)] for w in range(700)]
        return rows

    first = ingest_file(engine, store, write_csv(tmp_path / "a.csv", report(0)))
    again = ingest_file(engine, store, write_csv(tmp_path / "b.csv", report(1)))
    assert (first.inserted, first.updated) == (820, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 820, 0)
    facts = stored(engine, "p4p")
    assert len(facts) == 820
    assert sum(r["impressions"] for r in facts) == sum(
        int(r[3]) for r in report(1)[1:])


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


# ---- files as spreadsheet downloads and scripts write them ------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
@pytest.mark.parametrize("line_end", ["\r\n", "\n"])
def test_a_csv_without_a_final_line_end_keeps_its_last_row(
    engine: Engine, store: Store, tmp_path: Path, encoding: str, line_end: str
) -> None:
    text = csv_text(sample("orders", "zh")).replace("\r\n", line_end).removesuffix(line_end)
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode(encoding))
    result = ingest_file(engine, store, path)
    assert (result.status, result.rows, result.inserted, result.quarantined) == (
        "ingested", 2, 2, 0)
    assert by(stored(engine, "orders"), "order_id")["TA-2"]["status"] == "TRADE_FINISHED"


def test_a_csv_cut_off_inside_a_quoted_cell_quarantines_that_row(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    rows = [["询盘ID", "创建时间", "询盘标题"], ["Q1", "2026-11-03 10:00", "Price, and\nMOQ?"],
            ["Q2", "2026-11-03 11:00", "Samples, and\nlead time?"]]
    text = csv_text(rows)
    path = tmp_path / "inquiries.csv"
    path.write_bytes(text[: text.index("lead time")].encode())  # ends inside the quotes
    result = ingest_file(engine, store, path)
    assert (result.status, result.rows, result.inserted, result.quarantined) == (
        "ingested", 2, 1, 1)
    [(number, reason, raw)] = quarantined(engine, result.drop_id)
    assert number == 3 and "ends in the middle of this row" in reason and raw["询盘ID"] == "Q2"
    # The quoted cell that spans two lines is read whole.
    assert stored(engine, "inquiries")[0]["subject"] == "Price, and\nMOQ?"


def test_rows_wider_than_any_the_reader_saw_first_and_odd_bytes(
    engine: Engine, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3,000 rows (more than the sample the header and widths are taken from), one of them
    # with two cells more than the header, one with a control character, one bad value after
    # them: every row is read, row numbers hold across blocks and readers.
    monkeypatch.setattr(readers, "CHUNK_ROWS", 700)
    rows: list[list[object]] = [["日期", "计划名称", "关键词", "曝光量"]]
    rows += [["2026-11-01", "LED plan", f"led strip {i}", str(i)] for i in range(3000)]
    rows[2500] += ["extra", "cells"]
    rows[2600][2] = "led\x01strip"
    rows[2900][3] = "lots"
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", rows))
    assert (result.status, result.rows, result.inserted, result.quarantined) == (
        "ingested", 3000, 2999, 1)
    [(number, reason, _)] = quarantined(engine, result.drop_id)
    assert number == 2901 and "lots" in reason
    keywords = {r["keyword"]: r["impressions"] for r in stored(engine, "p4p")}
    assert keywords["led strip 2499"] == 2499 and keywords["led\x01strip"] == 2599
    assert keywords["led strip 2999"] == 2999


# ---- dates as exports write them --------------------------------------------------------------

NOV = {d: date(2026, 11, d) for d in range(1, 31)}


def p4p_dated(dates: list[object]) -> list[list[object]]:
    return [["日期", "计划名称", "关键词", "曝光量"]] + [
        [d, "LED plan", f"led {i}", "10"] for i, d in enumerate(dates)]


@pytest.mark.parametrize(("dates", "days"), [
    (["11/10/2026", "11/13/2026"], [10, 13]),  # 13 can only be a day: month first
    (["10/11/2026", "13/11/2026"], [10, 13]),  # day first
    (["10.11.2026", "13.11.2026"], [10, 13]),
    (["Nov 10, 2026", "November 13, 2026"], [10, 13]),
    (["10-Nov-2026", "13 Nov 2026"], [10, 13]),
    (["10-Nov-26", "13-Nov-26"], [10, 13]),  # Excel's d-mmm-yy
    (["20261110", "20261113"], [10, 13]),
    # Mixed forms in one column: the numeric ones read in the order the column shows.
    (["2026-11-10", "11/13/2026", "Nov 12, 2026", "20261111", "11/09/2026"], [10, 13, 12, 11, 9]),
    (["2026/11/10", "13/11/2026", "12-Nov-2026", "09/11/2026"], [10, 13, 12, 9]),
])
def test_dates_as_exports_write_them(engine: Engine, store: Store, tmp_path: Path,
                                     dates: list[str], days: list[int]) -> None:
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", p4p_dated(dates)))
    assert (result.status, result.inserted, result.quarantined) == ("ingested", len(days), 0)
    found = {r["keyword"]: r["date"] for r in stored(engine, "p4p")}
    assert [found[f"led {i}"] for i in range(len(days))] == [NOV[d] for d in days]


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_excel_serial_dates_in_workbook_cells(engine: Engine, store: Store, tmp_path: Path,
                                              fmt: str) -> None:
    # A date cell that lost its date format is a plain number of days since 1899-12-30.
    serials = [float((NOV[d] - date(1899, 12, 30)).days) for d in (10, 11)]
    result = ingest_file(engine, store, write(tmp_path / f"p4p.{fmt}", p4p_dated(serials)))
    assert (result.status, result.inserted) == ("ingested", 2)
    assert sorted(r["date"] for r in stored(engine, "p4p")) == [NOV[10], NOV[11]]


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_mixed_date_forms_in_one_workbook_column(engine: Engine, store: Store, tmp_path: Path,
                                                 fmt: str) -> None:
    # A serial that lost its format, a date cell, and text in two forms, in one column.
    serial = float((NOV[10] - date(1899, 12, 30)).days)
    dates = [serial, datetime(2026, 11, 11), "Nov 12, 2026", "13/11/2026", "20261114"]
    result = ingest_file(engine, store, write(tmp_path / f"p4p.{fmt}", p4p_dated(dates)))
    assert (result.status, result.inserted, result.quarantined) == ("ingested", 5, 0)
    found = {r["keyword"]: r["date"] for r in stored(engine, "p4p")}
    assert [found[f"led {i}"] for i in range(5)] == [NOV[d] for d in (10, 11, 12, 13, 14)]


@pytest.mark.parametrize(("dates", "message"), [
    (["11/10/2026", "10/11/2026", "11/12/2026"], "can be read month first or day first"),
    (["13/11/2026", "11/13/2026"], "month first in places (11/13/2026"),
    # the other forms tell nothing of the numeric ones' order: still not guessed
    (["Nov 12, 2026", "2026-11-13", "11/10/2026"], "can be read month first or day first"),
])
def test_numeric_dates_that_do_not_tell_their_order_reject_the_file(
    engine: Engine, store: Store, tmp_path: Path, dates: list[str], message: str
) -> None:
    before = snapshot(engine)
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", p4p_dated(dates)))
    assert result.status == "rejected"
    assert message in result.errors[0] and "ISO dates (2026-11-10)" in result.errors[0]
    assert snapshot(engine) == before


def test_the_order_of_numeric_dates_is_one_for_the_file(engine: Engine, store: Store,
                                                        tmp_path: Path) -> None:
    # The creation times alone could be either; the reply times say month first, and a
    # chunk boundary in between changes nothing.
    rows = [["询盘ID", "创建时间", "最新回复时间"],
            ["Q1", "11/10/2026 09:00", "11/10/2026 10:00"],
            ["Q2", "11/11/2026 09:00", "11/13/2026 10:00"]]
    result = ingest_file(engine, add_store(engine, "utc", "UTC"),
                         write_csv(tmp_path / "inquiries.csv", rows))
    assert (result.status, result.inserted) == ("ingested", 2)
    found = by(stored(engine, "inquiries"), "inquiry_id")
    assert found["Q1"]["created_at"] == datetime(2026, 11, 10, 9, 0)
    assert found["Q2"]["replied_at"] == datetime(2026, 11, 13, 10, 0)


def test_a_spreadsheet_time_a_hair_off_is_rounded_to_the_second(engine: Engine, tmp_path: Path
                                                                ) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["询盘ID", "创建时间"])
    # 2026-11-03 01:30:00 as Excel may store it: 3 ms short, shown as 01:30:00.
    sheet.append(["Q1", 46329 + (90 * 60 - 0.003) / 86400])
    sheet["B2"].number_format = "yyyy-mm-dd hh:mm:ss"
    book.save(tmp_path / "inquiries.xlsx")
    result = ingest_file(engine, add_store(engine, "utc", "UTC"), tmp_path / "inquiries.xlsx")
    assert result.status == "ingested"
    assert stored(engine, "inquiries")[0]["created_at"] == datetime(2026, 11, 3, 1, 30)


# ---- report periods in the title, in US or European form ----------------------------------------


@pytest.mark.parametrize("title", ["Date range: 11/01/2026 - 11/30/2026",  # 30: month first
                                   "Date range: 01/11/2026 - 30/11/2026",  # day first
                                   "Date range: Nov 1, 2026 - Nov 30, 2026"])
def test_a_report_period_in_us_or_european_form(engine: Engine, store: Store, tmp_path: Path,
                                                title: str) -> None:
    rows = [["Product report"], [title], *sample("products", "en")]
    result = ingest_file(engine, store, write(tmp_path / "Products.xlsx", rows))
    assert (result.status, result.period) == ("ingested", (NOV[1], NOV[30]))
    assert {r["period_end"] for r in stored(engine, "products")} == {NOV[30]}


def test_a_report_period_that_could_be_either_order_is_rejected(engine: Engine, store: Store,
                                                                tmp_path: Path) -> None:
    # Not the one day 2026-11-07, and not guessed: rejected, asking for ISO dates.
    rows = [["Product report"], ["Date range: 11/01/2026 - 11/07/2026"], *sample("products", "en")]
    before = snapshot(engine)
    result = ingest_file(engine, store, write(tmp_path / "Products.xlsx", rows))
    assert result.status == "rejected"
    assert "11/01/2026 in the title" in result.errors[0]
    assert "ISO dates" in result.errors[0]
    assert snapshot(engine) == before


@pytest.mark.parametrize(("title", "created", "replied"), [
    ("Date range: 11/01/2026 - 11/07/2026", "11/05/2026 14:05", "11/13/2026 09:00"),
    ("Date range: 01/11/2026 - 07/11/2026", "05/11/2026 14:05", "13/11/2026 09:00"),
])
def test_a_report_period_follows_the_order_of_the_rows(engine: Engine, tmp_path: Path,
                                                      title: str, created: str,
                                                      replied: str) -> None:
    rows = [[title], ["询盘ID", "创建时间", "最新回复时间"], ["Q1", created, replied]]
    result = ingest_file(engine, add_store(engine, "utc", "UTC"),
                         write_csv(tmp_path / "inquiries.csv", rows))
    assert (result.status, result.period) == ("ingested", (NOV[1], NOV[7]))
    assert stored(engine, "inquiries")[0]["created_at"] == datetime(2026, 11, 5, 14, 5)


# ---- rate units ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "ctrs"), [
    ("点击率", [0.5, 0.25]),  # no % in the header: decided per column, fractions
    ("点击率(%)", [0.005, 0.0025]),  # the header says percent
    ("CTR %", [0.005, 0.0025]),
])
def test_bare_rates_under_a_header_with_or_without_percent(
    engine: Engine, store: Store, tmp_path: Path, header: str, ctrs: list[float]
) -> None:
    rows = [["日期", "计划名称", "关键词", header],
            ["2026-11-01", "A", "led", "0.50"], ["2026-11-02", "A", "led", "0.25"]]
    result = ingest_file(engine, store, write_csv(tmp_path / "p4p.csv", rows))
    assert result.status == "ingested"
    assert [r["ctr"] for r in sorted(stored(engine, "p4p"), key=lambda r: r["date"])] == (
        pytest.approx(ctrs))


# ---- workbooks of several sheets --------------------------------------------------------------


def orders_book() -> dict[str, list[list[object]]]:
    header = ["订单号", "买家", "金额", "下单时间"]
    return {
        "说明": [["本报表由系统导出，请勿修改"]],
        "订单1": [["信保订单导出"], header, ["TA-1", "John", "US $1,200.50", "2026-11-03 14:05"],
                  ["TA-2", "Ana", "$300", "2026-11-01 09:00"]],
        "订单2": [header, ["TA-3", "Bo", "$50", "2026-11-04 10:00"],
                  ["TA-4", "Cy", "lots", "2026-11-04 11:00"]],
        "按买家汇总": [["买家", "金额"], ["John", "1200.50"]],
    }


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_every_sheet_with_the_first_data_sheets_header_is_read(
    engine: Engine, store: Store, tmp_path: Path, fmt: str
) -> None:
    result = ingest_file(engine, store, write_book(tmp_path / f"orders.{fmt}", orders_book()))
    assert (result.status, result.rows, result.inserted, result.quarantined) == (
        "ingested", 4, 3, 1)
    assert sorted(r["order_id"] for r in stored(engine, "orders")) == ["TA-1", "TA-2", "TA-3"]
    # Row numbers repeat from sheet to sheet: a quarantined row names its sheet.
    [(number, reason, raw)] = quarantined(engine, result.drop_id)
    assert (number, raw["订单号"]) == (3, "TA-4") and reason.startswith("sheet 订单2: 金额")
    assert result.to_json()["sheets"] == {
        "read": ["订单1", "订单2"],
        "skipped": [{"sheet": "说明", "reason": "no_header"},
                    {"sheet": "按买家汇总", "reason": "other_header"}]}


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["Sheets read: 订单1, 订单2.", "说明 (no header row)",
            "按买家汇总 (other columns than the first sheet)"]),
    ("zh", ["已读取工作表：订单1, 订单2。", "说明（没有表头行）",
            "按买家汇总（列与第一个工作表不同）"]),
])
def test_the_drop_result_says_which_sheets_were_read(engine: Engine, store: Store,
                                                    tmp_path: Path, lang: str,
                                                    words: list[str]) -> None:
    from handlers.uploads import _result_context
    from templates import render

    result = ingest_file(engine, store, write_book(tmp_path / "orders.xlsx", orders_book()))
    message = render("drop_result.json.j2", status=result.status, file=result.file,
                     store=store.name, reason=None, lang=lang, **_result_context(result))
    text = message["blocks"][0]["text"]["text"]
    for word in words:
        assert word in text
    single = ingest_file(engine, store, write(tmp_path / "orders-one.xlsx", sample("orders")))
    message = render("drop_result.json.j2", status=single.status, file=single.file,
                     store=store.name, reason=None, lang=lang, **_result_context(single))
    assert "Sheet" not in message["blocks"][0]["text"]["text"]  # one sheet: nothing to say
