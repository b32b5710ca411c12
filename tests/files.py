"""Builders of test report files, the way the back office and operators produce them.

A table is a list of rows (lists of cells) written as-is: title rows, the header, data rows
and a totals row are all just rows, so a test states exactly what the file holds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

Rows = Sequence[Sequence[object]]


def csv_text(rows: Rows, delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["" if c is None else c for c in row])
    return out.getvalue()


def write_csv(path: Path, rows: Rows, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    """CSV in `encoding` ("utf-8", "utf-8-sig" for a BOM, "gbk", "gb18030")."""
    path.write_bytes(csv_text(rows, delimiter).encode(encoding))
    return path


def write_xls(path: Path, rows: Rows, sheet: str = "Sheet1") -> Path:
    """A real BIFF8 .xls, as the back office's Data Manager downloads are."""
    return write_book(path, {sheet: rows}, "xls")


def write_xlsx(path: Path, rows: Rows, sheet: str = "Sheet1") -> Path:
    return write_book(path, {sheet: rows}, "xlsx")


def write_book(path: Path, sheets: dict[str, Rows], fmt: str | None = None) -> Path:
    """A workbook of several sheets (name -> rows), `.xls` or `.xlsx` (default: from the
    file's extension). Dates and times are written as Excel writes them: numbers of days
    with a date format."""
    fmt = fmt or path.suffix.lstrip(".").lower()
    if fmt == "xls":
        import xlwt

        book = xlwt.Workbook(encoding="utf-8")
        date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
        time_style = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
        for name, rows in sheets.items():
            ws = book.add_sheet(name)
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    if cell is None:
                        continue
                    if isinstance(cell, datetime):
                        ws.write(r, c, cell, time_style)
                    elif isinstance(cell, date):
                        ws.write(r, c, cell, date_style)
                    else:
                        ws.write(r, c, cell)
        book.save(str(path))
        return path
    from openpyxl import Workbook

    xlsx = Workbook()
    xlsx.remove(xlsx.active)
    for name, rows in sheets.items():
        ws = xlsx.create_sheet(name)
        for row in rows:
            ws.append(list(row))
    xlsx.save(str(path))
    return path


WRITERS = {
    "csv": write_csv,
    "xls": write_xls,
    "xlsx": write_xlsx,
}


def write(path: Path, rows: Rows, fmt: str | None = None, **options: object) -> Path:
    """Write `rows` in `fmt` (default: from the file's extension)."""
    fmt = fmt or path.suffix.lstrip(".").lower()
    if fmt == "tsv":
        return write_csv(path, rows, delimiter="\t", **options)  # type: ignore[arg-type]
    return WRITERS[fmt](path, rows, **options)  # type: ignore[operator]


def titles(n: int, period: str | None = "时间周期2026-11-01~2026-11-07") -> list[list[object]]:
    """`n` title rows like the back office's: report name, period, then blanks."""
    rows: list[list[object]] = []
    if n >= 1:
        rows.append(["数据管家-产品分析"])
    if n >= 2:
        rows.append([period] if period else ["导出时间说明"])
    while len(rows) < n:
        rows.append([])
    return rows[:n]


def _sample(zh: list[object], en: list[object], rows: list[list[object]], api: list[object],
            api_rows: list[list[object]]) -> dict[str, list[list[object]]]:
    """One kind's tables: the Chinese and English exports hold the same cells under their own
    headers; the API export writes them its own way (plain numbers, ISO moments)."""
    return {"zh": [zh, *rows], "en": [en, *rows], "api": [api, *api_rows]}


# Minimal realistic tables, one per kind, with Chinese and English headers. Each maps to the
# same facts, so a test can ingest either and check the same values.
SAMPLES: dict[str, dict[str, list[list[object]]]] = {
    "products": _sample(
        ["产品ID", "产品名称", "是否橱窗", "是否P4P", "搜索曝光次数", "搜索点击次数",
         "搜索点击率", "访问人数", "询盘个数", "产品负责人"],
        ["Product ID", "Product Name", "Showcase", "P4P", "Search Impressions",
         "Search Clicks", "Search CTR", "Visitors", "Inquiries", "Owner"],
        [["1600100001", "LED Strip 5050", "Y", "N", "1,234", "56", "4.54%", "40", "3", "王"],
         ["1600100002", "LED Panel", "N", "Y", "800", "8", "1.00%", "7", "0", "李"]],
        ["productId", "subject", "isShowcase", "isP4p", "exposure", "clicks",
         "ctr", "visitor", "inquiry", "owner"],
        [["1600100001", "LED Strip 5050", "Y", "N", "1234", "56", "0.0454", "40", "3", "王"],
         ["1600100002", "LED Panel", "N", "Y", "800", "8", "0.01", "7", "0", "李"]]),
    "keywords": _sample(
        ["词", "曝光量", "点击量", "点击率", "外贸直通车曝光", "关键词指数"],
        ["Keyword", "Impressions", "Clicks", "CTR", "P4P Impressions", "Keyword Index"],
        [["led strip", "5,000", "120", "2.40%", "300", "88"],
         ["tira led", "900", "9", "1.00%", "-", "12"]],
        ["keywords", "impression", "click", "ctr", "p4p_impressions", "search_index"],
        [["led strip", "5000", "120", "0.024", "300", "88"],
         ["tira led", "900", "9", "0.01", "", "12"]]),
    "p4p": _sample(
        ["日期", "计划名称", "关键词", "曝光量", "点击量", "点击率", "花费", "点击成本",
         "询盘量"],
        ["Date", "Campaign", "Keyword", "Impressions", "Clicks", "CTR", "Spend",
         "Avg. CPC", "Inquiries"],
        [["2026-11-03", "LED plan", "led strip", "1,000", "20", "2.00%", "￥1,234.50",
          "¥61.73", "1"],
         ["2026-11-04", "LED plan", "led strip", "500", "5", "1.00%", "--", "-", "0"]],
        ["stat_date", "campaign_name", "word", "impression", "click", "ctr", "cost",
         "avg_cpc", "inquiries"],
        [["2026-11-03", "LED plan", "led strip", "1000", "20", "0.02", "1234.5", "61.73", "1"],
         ["2026-11-04", "LED plan", "led strip", "500", "5", "0.01", "", "", "0"]]),
    "traffic": _sample(
        ["日期", "流量来源", "店铺访问人数", "搜索曝光次数", "搜索点击次数", "询盘个数",
         "及时回复率"],
        ["Date", "Traffic Source", "Store Visitors", "Search Impressions",
         "Search Clicks", "Inquiries", "Timely Reply Rate"],
        [["2026-11-03", "搜索", "120", "3,000", "90", "4", "95%"],
         ["2026-11-04", "搜索", "100", "2,500", "70", "2", "90%"]],
        ["stat_date", "source", "visitors", "impressions", "clicks", "inquiries",
         "reply_rate"],
        [["2026-11-03", "搜索", "120", "3000", "90", "4", "0.95"],
         ["2026-11-04", "搜索", "100", "2500", "70", "2", "0.9"]]),
    "inquiries": _sample(
        ["询盘ID", "客户名", "国家/地区", "公司名称", "邮箱", "询盘产品ID", "询盘标题",
         "创建时间", "最新回复时间", "业务员"],
        ["Inquiry ID", "Buyer Name", "Country/Region", "Company Name", "Email",
         "Product ID", "Subject", "Created Time", "Last Reply Time", "Owner"],
        [["Q1001", "John", "US", "Acme Inc", "-1", "1600100001", "Price?",
          "2026-11-03 14:05", "2026-11-03 16:00", "王"],
         ["Q1002", "Ana", "ES", "-1", "ana@x.es", "1600100002", "MOQ?",
          "2026/11/3 下午2:05:00", "-", "李"]],
        ["inquiryId", "buyer", "country", "company", "email", "product_id", "subject",
         "gmtCreate", "replied_at", "owner"],
        [["Q1001", "John", "US", "Acme Inc", "-1", "1600100001", "Price?",
          "2026-11-03T14:05:00+08:00", "2026-11-03T16:00:00+08:00", "王"],
         ["Q1002", "Ana", "ES", "-1", "ana@x.es", "1600100002", "MOQ?",
          "1793685900000", "", "李"]]),
    "customers": _sample(
        ["客户", "公司名称", "国家/地区", "业务员", "客户阶段", "跟进状态", "小记时间",
         "建档时间"],
        ["Customer", "Company", "Country", "Owner", "Stage", "Follow-up Status",
         "Last Follow-up", "Created Time"],
        [["John", "Acme Inc", "US", "王", "询盘客户", "跟进中", "2026-11-03 10:00",
          "2026-10-01 09:00"],
         ["Ana", "Luz SL", "ES", "李", "成交客户", "已成交", "-", "2026-09-01 09:00"]],
        ["customer", "company", "country", "owner", "stage", "follow_status",
         "last_contact_at", "created_at"],
        [["John", "Acme Inc", "US", "王", "询盘客户", "跟进中", "2026-11-03 10:00",
          "2026-10-01 09:00"],
         ["Ana", "Luz SL", "ES", "李", "成交客户", "已成交", "", "2026-09-01 09:00"]]),
    "orders": _sample(
        ["订单号", "买家", "金额", "币种", "订单状态", "下单时间", "交货期"],
        ["Order ID", "Buyer", "Amount", "Currency", "Status", "Order Date", "Ship By"],
        [["TA-1", "John", "US $1,200.50", "USD", "WAIT_SELLER_SEND_GOODS",
          "2026-11-03 14:05", "2026-11-20"],
         ["TA-2", "Ana", "$300", "USD", "TRADE_FINISHED", "2026-11-01 09:00", "-"]],
        ["trade_id", "buyer_name", "total_amount", "currency", "trade_status",
         "create_date", "shipping_date"],
        [["TA-1", "John", "1200.50", "USD", "WAIT_SELLER_SEND_GOODS",
          "2026-11-03T06:05:00Z", "2026-11-20"],
         ["TA-2", "Ana", "300", "USD", "TRADE_FINISHED", "2026-11-01T01:00:00Z", ""]]),
    "posts": _sample(
        ["帖子ID", "发布时间", "标题", "类型", "浏览量", "点赞数"],
        ["Post ID", "Publish Time", "Title", "Post Type", "Views", "Likes"],
        [["P1", "2026-11-03 10:00", "New LED strip", "图文", "1,500", "12"],
         ["P2", "2026-11-04 10:00", "Factory tour", "视频", "800", "-"]],
        ["postId", "published_at", "title", "post_type", "views", "likes"],
        [["P1", "2026-11-03T02:00:00Z", "New LED strip", "图文", "1500", "12"],
         ["P2", "2026-11-04T02:00:00Z", "Factory tour", "视频", "800", ""]]),
}

# What each sample must store (Asia/Shanghai store): key field -> {field: value}.
EXPECTED: dict[str, dict[str, dict[str, object]]] = {
    "products": {
        "1600100001": {"product_name": "LED Strip 5050", "is_showcase": True, "is_p4p": False,
                       "impressions": 1234, "clicks": 56, "ctr": 0.0454, "visitors": 40,
                       "inquiries": 3, "owner": "王"},
        "1600100002": {"is_showcase": False, "is_p4p": True, "impressions": 800, "ctr": 0.01},
    },
    "keywords": {
        "led strip": {"impressions": 5000, "clicks": 120, "ctr": 0.024, "p4p_impressions": 300,
                      "search_index": 88},
        "tira led": {"impressions": 900, "ctr": 0.01, "p4p_impressions": None},
    },
    "p4p": {
        "2026-11-03": {"plan": "LED plan", "keyword": "led strip", "impressions": 1000,
                       "clicks": 20, "ctr": 0.02, "spend": 1234.5, "cpc": 61.73,
                       "currency": "CNY"},
        "2026-11-04": {"impressions": 500, "spend": None, "cpc": None, "inquiries": 0},
    },
    "traffic": {
        "2026-11-03": {"source": "搜索", "visitors": 120, "impressions": 3000, "clicks": 90,
                       "inquiries": 4, "reply_rate": 0.95},
        "2026-11-04": {"visitors": 100, "reply_rate": 0.9},
    },
    "inquiries": {
        # 14:05 in Shanghai is 06:05 UTC; -1 means the buyer hid the field.
        "Q1001": {"buyer": "John", "country": "US", "company": "Acme Inc", "email": None,
                  "product_id": "1600100001", "created_at": datetime(2026, 11, 3, 6, 5),
                  "replied_at": datetime(2026, 11, 3, 8, 0), "owner": "王"},
        "Q1002": {"company": None, "email": "ana@x.es",
                  "created_at": datetime(2026, 11, 3, 6, 5), "replied_at": None},
    },
    "customers": {
        "Acme Inc": {"customer": "John", "country": "US", "stage": "询盘客户",
                     "last_contact_at": datetime(2026, 11, 3, 2, 0),
                     "created_at": datetime(2026, 10, 1, 1, 0)},
        "Luz SL": {"customer": "Ana", "last_contact_at": None},
    },
    "orders": {
        "TA-1": {"buyer": "John", "amount": 1200.5, "currency": "USD",
                 "status": "WAIT_SELLER_SEND_GOODS", "ordered_at": datetime(2026, 11, 3, 6, 5),
                 "ship_by": date(2026, 11, 20)},
        "TA-2": {"amount": 300.0, "ordered_at": datetime(2026, 11, 1, 1, 0), "ship_by": None},
    },
    "posts": {
        "P1": {"published_at": datetime(2026, 11, 3, 2, 0), "title": "New LED strip",
               "post_type": "图文", "views": 1500, "likes": 12},
        "P2": {"views": 800, "likes": None},
    },
}

# The field that tells sample rows apart (the EXPECTED keys above).
ROW_ID = {"products": "product_id", "keywords": "keyword", "p4p": "date", "traffic": "date",
          "inquiries": "inquiry_id", "customers": "company", "orders": "order_id",
          "posts": "post_id"}


def sample(kind: str, language: str = "zh", title_rows: int = 0) -> list[list[object]]:
    """The sample table of a kind, with `title_rows` back-office title rows above it."""
    body = [list(r) for r in SAMPLES[kind][language]]
    return [*titles(title_rows), *body] if title_rows else body


def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"


# ---- reading back what a drop stored ------------------------------------------------------


def stored(engine: object, kind: str, store_id: int | None = None) -> list[dict[str, object]]:
    """The facts of a kind as a user sees them: no ids, provenance or timestamps."""
    from sqlalchemy import select

    from bot.models import facts

    table = facts[kind]
    query = select(table).order_by(table.c.key)
    if store_id is not None:
        query = query.where(table.c.store_id == store_id)
    with engine.connect() as conn:  # type: ignore[attr-defined]
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        for column in ("id", "drop_id", "updated_at"):
            row.pop(column)
    return rows


def by(rows: list[dict[str, object]], field: str) -> dict[str, dict[str, object]]:
    """Stored rows by the text of one field (dates as ISO)."""
    out = {}
    for row in rows:
        value = row[field]
        out[value.isoformat() if isinstance(value, date) else str(value)] = row
    return out


def snapshot(engine: object) -> dict[str, list[tuple[object, ...]]]:
    """Every fact table and the quarantine, complete, for before/after comparisons."""
    from sqlalchemy import select

    from bot.models import facts, quarantine

    tables = [*facts.values(), quarantine]
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t)).all()) for t in tables}


def quarantined(engine: object, drop_id: int) -> list[tuple[int, str, dict[str, str]]]:
    from sqlalchemy import select

    from bot.models import quarantine

    with engine.connect() as conn:  # type: ignore[attr-defined]
        return [(q.row_number, q.reason, q.raw) for q in conn.execute(
            select(quarantine).where(quarantine.c.drop_id == drop_id)
            .order_by(quarantine.c.row_number))]


def drop_row(engine: object, drop_id: int) -> dict[str, object]:
    from sqlalchemy import select

    from bot.models import drops

    with engine.connect() as conn:  # type: ignore[attr-defined]
        return dict(conn.execute(select(drops).where(drops.c.id == drop_id)).mappings().one())
