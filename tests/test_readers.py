"""Reading dropped files (bot.ingest.readers): formats told by content, encodings, title rows above
the header, the report period, and files that are not reports at all."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bot.ingest.drop import ingest_file
from bot.ingest.parsing import DAY_FIRST, MONTH_FIRST, AmbiguousDate
from bot.ingest.readers import (
    NO_HEADER,
    OTHER_HEADER,
    Sheet,
    Unreadable,
    period_from_name,
    period_from_titles,
    read_sheet,
    title_numeric_dates,
)
from tests import files
from tests.files import sample, snapshot, write, write_book, write_csv, write_xls, write_xlsx

FORMATS = ["xls", "xlsx", "csv"]


def rows_of(sheet: Sheet) -> list[tuple[int, list[object]]]:
    """(row number, cells) of every row below the header."""
    return [row for block in sheet.blocks for row in block.rows()]


def first_cells(sheet: Sheet) -> list[tuple[int, str]]:
    """(row number, first cell) of every row below the header."""
    return [(n, str(cells[0]) if cells else "") for n, cells in rows_of(sheet)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("title_rows", [0, 3, 5])
def test_the_header_is_found_below_any_title_rows(tmp_path: Path, fmt: str,
                                                  title_rows: int) -> None:
    path = write(tmp_path / f"report.{fmt}", sample("products", "zh", title_rows))
    sheet = read_sheet(path)
    assert sheet.format == fmt
    assert sheet.header[:3] == ["产品ID", "产品名称", "是否橱窗"]
    assert sheet.header_row == title_rows + 1
    # Row numbers are those a user sees in Excel: 1-based, title rows counted.
    assert first_cells(sheet) == [(title_rows + 2, "1600100001"), (title_rows + 3, "1600100002")]
    if title_rows >= 2:
        assert period_from_titles(sheet.title_lines) == (date(2026, 11, 1), date(2026, 11, 7))


@pytest.mark.parametrize(("real", "named"), [
    ("xlsx", "report.xls"), ("xls", "report.xlsx"), ("csv", "report.xls"),
    ("xls", "report.csv"), ("xlsx", "report"),
])
def test_the_format_is_told_by_content_not_by_extension(tmp_path: Path, real: str,
                                                        named: str) -> None:
    path = write(tmp_path / named, sample("orders", "zh"), real)
    sheet = read_sheet(path)
    assert sheet.format == real
    assert [c for _, c in first_cells(sheet)] == ["TA-1", "TA-2"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    rows = sample("inquiries", "zh", 3)
    path = write_csv(tmp_path / "inquiries.csv", rows, encoding=encoding)
    sheet = read_sheet(path)
    assert sheet.header[0] == "询盘ID"  # no BOM glued to the first header
    assert sheet.header[2] == "国家/地区"
    assert period_from_titles(sheet.title_lines) == (date(2026, 11, 1), date(2026, 11, 7))
    data = [cells for _, cells in rows_of(sheet)]
    assert data[1][9] == "李"


def test_gb18030_characters_outside_gbk(tmp_path: Path) -> None:
    rows = [["词", "曝光量", "点击量"], ["𠮷野家 led", "1", "2"]]
    path = write_csv(tmp_path / "kw.csv", rows, encoding="gb18030")
    sheet = read_sheet(path)
    assert sheet.encoding == "gb18030"
    assert first_cells(sheet) == [(2, "𠮷野家 led")]


def test_tab_separated_with_thousands_separators_and_commas_in_cells(tmp_path: Path) -> None:
    rows = [["词", "曝光量", "点击量"],
            ["led strip, 12v, waterproof, ip65", "1,234,567", "1,200"],
            ["tira led", "900", "9"]]
    path = write(tmp_path / "keywords.tsv", rows, "tsv")
    sheet = read_sheet(path)
    assert sheet.header == ["词", "曝光量", "点击量"]
    data = [cells for _, cells in rows_of(sheet)]
    assert data[0] == ["led strip, 12v, waterproof, ip65", "1,234,567", "1,200"]


@pytest.mark.parametrize(("content", "message"), [
    (files.png_bytes(), "PNG image"),
    (files.pdf_bytes(), "PDF document"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(100), "JPEG image"),
    (b"", "empty"),
    (bytes(range(256)) * 8, "binary file"),
])
def test_things_that_are_not_reports_are_refused_politely(tmp_path: Path, content: bytes,
                                                          message: str) -> None:
    path = tmp_path / "Products-2026-11-15.xls"
    path.write_bytes(content)
    with pytest.raises(Unreadable, match=message):
        read_sheet(path)


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_a_cut_off_workbook_is_refused(tmp_path: Path, fmt: str) -> None:
    whole = write(tmp_path / f"whole.{fmt}", sample("orders", "zh")).read_bytes()
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(Unreadable, match="cut off or damaged"):
        read_sheet(cut)


def test_no_header_names_what_was_expected(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [["foo", "bar"], ["1", "2"]])
    with pytest.raises(Unreadable) as caught:
        read_sheet(path)
    assert "产品ID / Product ID" in str(caught.value)
    assert "订单号 / Order ID" in str(caught.value)
    with pytest.raises(Unreadable, match="a fan-post list, which needs 发布时间 / Published"):
        read_sheet(path, "posts")


@pytest.mark.parametrize(("titles", "period"), [
    (["数据管家-产品分析", "时间周期2026-11-01~2026-11-07"],
     (date(2026, 11, 1), date(2026, 11, 7))),
    (["统计时间：2026/11/01 至 2026/11/30"], (date(2026, 11, 1), date(2026, 11, 30))),
    (["2026年11月1日-2026年11月7日"], (date(2026, 11, 1), date(2026, 11, 7))),
    (["日期: 2026-11-15"], (date(2026, 11, 15), date(2026, 11, 15))),
    (["时间周期2026-11-07~2026-11-01"], (date(2026, 11, 1), date(2026, 11, 7))),
    (["数据管家-产品分析", ""], None),
])
def test_period_from_title_rows(titles: list[str], period: tuple[date, date] | None) -> None:
    assert period_from_titles(titles) == period


@pytest.mark.parametrize(("name", "day"), [
    ("Products-2026-11-15.xls", date(2026, 11, 15)),
    ("Products-2026-11-15 (1).xls", date(2026, 11, 15)),
    ("getKeywords-2026-11-15.xls", date(2026, 11, 15)),
    ("/some/folder/Products-20261115.xls", date(2026, 11, 15)),
    ("shop1234567-Products-2026-11-15.xls", date(2026, 11, 15)),  # other digits come first
    ("gb18030-2026-11-02.csv", date(2026, 11, 2)),
    ("Products.xls", None),
    ("Products-2026-13-45.xls", None),
])
def test_period_from_file_name(name: str, day: date | None) -> None:
    assert period_from_name(name) == ((day, day) if day else None)


# ---- the same, end to end: what the user is told, and that nothing was written -------------


@pytest.mark.parametrize(("content", "message"), [
    (files.png_bytes(), "PNG image, not a report"),
    (files.pdf_bytes(), "PDF document, not a report"),
    (b"", "the file is empty"),
])
def test_a_renamed_image_or_empty_file_is_rejected(engine, store, tmp_path: Path,
                                                   content: bytes, message: str) -> None:
    path = tmp_path / "Products-2026-11-15.xls"
    path.write_bytes(content)
    before = snapshot(engine)
    result = ingest_file(engine, store, path)
    assert result.status == "rejected"
    assert any(message in e for e in result.errors)
    assert snapshot(engine) == before
    assert files.drop_row(engine, result.drop_id)["status"] == "rejected"


def test_a_cut_off_xlsx_is_rejected_and_writes_nothing(engine, store, tmp_path: Path) -> None:
    whole = write_xlsx(tmp_path / "w.xlsx", sample("inquiries", "zh")).read_bytes()
    cut = tmp_path / "inquiries.xlsx"
    cut.write_bytes(whole[: len(whole) - 200])
    before = snapshot(engine)
    result = ingest_file(engine, store, cut)
    assert result.status == "rejected"
    assert "cut off or damaged" in result.errors[0]
    assert snapshot(engine) == before


def test_xls_written_by_xlwt_is_read_with_its_dates(tmp_path: Path) -> None:
    rows = [["订单号", "下单时间", "交货期"],
            ["TA-9", datetime(2026, 11, 3, 14, 5), date(2026, 11, 20)]]
    sheet = read_sheet(write_xls(tmp_path / "orders.xls", rows))
    data = [cells for _, cells in rows_of(sheet)]
    assert str(data[0][1]).startswith("2026-11-03 14:05")
    assert str(data[0][2]).startswith("2026-11-20")


@pytest.mark.parametrize(("name", "period"), [
    ("询盘列表_20261112-20261118.csv", (date(2026, 11, 12), date(2026, 11, 18))),
    ("orders 2026-11-01 to 2026-11-07.xlsx", (date(2026, 11, 1), date(2026, 11, 7))),
    ("inquiries_2026-11-18~2026-11-12.csv", (date(2026, 11, 12), date(2026, 11, 18))),
    ("粉丝通-内容数据_20261120.csv", (date(2026, 11, 20), date(2026, 11, 20))),
    # an ad report's plan date and export time are not a period
    ("LED plan 20261103 2026-11-04 10_22_33.xlsx", (date(2026, 11, 3), date(2026, 11, 3))),
])
def test_period_range_from_file_name(name: str, period: tuple[date, date]) -> None:
    assert period_from_name(name) == period


@pytest.mark.parametrize(("titles", "order", "period"), [
    (["Date range: 11/01/2026 - 11/07/2026"], MONTH_FIRST, (date(2026, 11, 1), date(2026, 11, 7))),
    (["Date range: 01/11/2026 - 07/11/2026"], DAY_FIRST, (date(2026, 11, 1), date(2026, 11, 7))),
    (["Date range: Nov 1, 2026 - Nov 7, 2026"], None, (date(2026, 11, 1), date(2026, 11, 7))),
    (["Period: 01-Nov-2026 ~ 07-Nov-2026."], None, (date(2026, 11, 1), date(2026, 11, 7))),
    (["Report date: 11/13/2026"], None, (date(2026, 11, 13), date(2026, 11, 13))),
])
def test_period_from_title_rows_in_other_forms(titles: list[str], order: str | None,
                                              period: tuple[date, date]) -> None:
    assert period_from_titles(titles, order) == period


def test_a_title_period_of_unknown_order_is_not_guessed() -> None:
    titles = ["Date range: 11/01/2026 - 11/07/2026"]
    assert title_numeric_dates(titles) == ["11/01/2026", "11/07/2026"]
    with pytest.raises(AmbiguousDate):
        period_from_titles(titles)


@pytest.mark.parametrize(("text", "cut_off", "counts"), [
    ("订单号,买家,金额\r\nTA-1,John,1\r\nTA-2,Ana,2", None, [3, 3]),  # a complete last row
    ("订单号,买家,金额\r\nTA-1,John,1\r\nTA-2,Ana", 1, [3, 2]),  # short of a cell: cut off
    ('订单号,买家,金额\r\nTA-1,John,1\r\nTA-2,"Ana', 1, [3, 2]),  # inside a quote: cut off
    ("订单号,买家,金额\r\nTA-1,John,1\r\nTA-2,Ana\r\n", None, [3, 2]),  # ended: a short row
    # An export that leaves trailing empty cells out: the last row is as wide as the others.
    ("订单号,买家,金额,备注\nTA-1,John,1\nTA-2,Ana,2", None, [3, 3]),
])
def test_a_csv_row_the_file_ends_in_the_middle_of(tmp_path: Path, text: str,
                                                  cut_off: int | None, counts: list[int]
                                                  ) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode("gbk"))
    [block] = list(read_sheet(path).blocks)
    assert block.cut_off == cut_off
    assert [cells[0] for _, cells in block.rows()] == ["TA-1", "TA-2"]
    assert list(block.counts) == counts


def test_a_csv_cut_inside_a_character_keeps_the_complete_part(tmp_path: Path) -> None:
    text = "订单号,买家,金额\r\nTA-1,John,1\r\nTA-2,王"
    for encoding in ("utf-8", "gbk"):
        path = tmp_path / f"orders-{encoding}.csv"
        path.write_bytes(text.encode(encoding)[:-1])  # half of 王
        sheet = read_sheet(path)
        [block] = list(sheet.blocks)
        assert sheet.encoding == ("utf-8-sig" if encoding == "utf-8" else "gb18030")
        assert (block.cut_off, block.cells(1)) == (1, ["TA-2", ""])


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_the_sheets_of_a_workbook(tmp_path: Path, fmt: str) -> None:
    header = ["订单号", "买家", "金额"]
    book = {"说明": [["导出说明"]], "一": [["信保订单"], header, ["TA-1", "John", 1]],
            "二": [header, ["TA-2", "Ana", 2], ["TA-3", "Bo", 3]],
            "三": [["订单号", "金额"], ["TA-4", 4]]}
    sheet = read_sheet(write_book(tmp_path / f"orders.{fmt}", book))
    assert (sheet.header, sheet.header_row, sheet.title_lines) == (header, 2, ["信保订单"])
    assert (sheet.sheets, sheet.skipped) == (["一", "二"], [("说明", NO_HEADER),
                                                          ("三", OTHER_HEADER)])
    assert [(block.sheet, n, cells[0]) for block in sheet.blocks for n, cells in block.rows()
            ] == [("一", 3, "TA-1"), ("二", 2, "TA-2"), ("二", 3, "TA-3")]
