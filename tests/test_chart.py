"""The review's trend chart (templates/chart.py, jobs/charts.chart_png): a valid PNG of a
sensible size, gaps where a report is missing, the period under review shaded, words in the
store's language, Chinese set in the CJK font (no glyph missing), data never read as markup."""

from __future__ import annotations

import io
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from matplotlib import font_manager
from matplotlib.colors import to_hex
from PIL import Image
from sqlalchemy import Engine

from bot.metrics.trend import trend
from bot.storage import read, write
from bot.stores import Store, add_store
from jobs.charts import chart, chart_png
from templates import chart as charts
from tests import facts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _period(n: int, **values: Any) -> dict[str, Any]:
    start = date(2026, 9, 21) + timedelta(weeks=n)
    base = {"period": f"2026-W{39 + n}", "start": start.isoformat(),
            "end": (start + timedelta(days=6)).isoformat(), "days": 7, "current": n == 7,
            "impressions": 1000 + 10 * n, "visitors": 100 + n, "inquiries": 10 + n,
            "inquiries_source": "inquiries", "traffic_days": 7, "inquiry_days": 7}
    return {**base, **values}


def _trend(store: str = "acme", **changes: dict[str, Any]) -> dict[str, Any]:
    """Eight weeks to W46 (2026-11-09..15); `changes` per period name ("W42": {...})."""
    periods = [_period(n, **changes.get(f"W{39 + n}", {})) for n in range(8)]
    return {"kind": "weekly", "store": store, "timezone": "Asia/Shanghai",
            "period": {"start": "2026-11-09", "end": "2026-11-15"}, "periods": periods}


MISSING = {"impressions": None, "visitors": None, "inquiries": None,
           "inquiries_source": None, "traffic_days": 0, "inquiry_days": 0}


def _glyph_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if "missing from font" in str(w.message)]


def _image(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.verify()  # a complete, uncorrupted PNG
    return Image.open(io.BytesIO(png))


def test_a_valid_png_of_a_sensible_size() -> None:
    picture = charts.draw(_trend(), "en")
    image = _image(picture.png)
    assert image.format == "PNG" and image.mode in ("RGBA", "RGB")
    assert 900 <= image.width <= 1600 and 600 <= image.height <= 1200
    assert 20_000 < len(picture.png) < 1_000_000  # a picture, not a blank, not a poster
    assert (picture.title, picture.filename) == (
        "Weekly trend 2026-11-09 – 2026-11-15", "weekly-trend-2026-11-09.png")


def test_gaps_for_missing_reports_and_the_period_under_review_shaded() -> None:
    data = _trend(W42=MISSING, W46={"traffic_days": 5},
                  W40={"inquiries_source": "traffic"})
    said = charts.words(data, "en")
    fig = charts.figure(data, said, "en")
    impressions, visitors, inquiries = fig.axes
    for axis in (impressions, visitors, inquiries):
        gaps = [t for t in axis.texts if t.get_text() == "no report"]
        assert [t.get_position()[0] for t in gaps] == [3]  # W42, in each panel
        band = axis.patches[0]  # the period under review (x 7), shaded in every panel
        assert (band.get_x(), band.get_width()) == (pytest.approx(6.5), pytest.approx(1.0))
        assert to_hex(band.get_facecolor()) == charts.CURRENT_BAND
    # No point is drawn for W42: the lines break there (no zero).
    drawn_x = {x for line in impressions.lines for x in line.get_xdata()
               if line.get_marker() == "o"}
    assert drawn_x == {0, 1, 2, 4, 5, 6, 7}
    bars = {round(b.get_x() + b.get_width() / 2): b for b in inquiries.patches[1:]}
    assert sorted(bars) == [0, 1, 2, 4, 5, 6, 7]
    assert [x for x, b in bars.items() if b.get_hatch()] == [1]  # W40: the report's count
    assert bars[4].get_height() == 14
    notes = [t.get_text() for t in fig.texts]
    assert "○ partial, the reports cover only some days: W46 5 of 7 days" in notes
    assert any(n.startswith("Inquiries: solid, valid ones") for n in notes)
    assert said["series"]["inquiries"] == "Inquiries"  # not "Valid": some are the report's
    assert inquiries.get_xticklabels()[0].get_text() == "W39\nSep 21"


def test_the_cjk_font_is_installed_and_found() -> None:
    assert charts.cjk_font() == "Noto Sans CJK SC"
    found = font_manager.findfont(font_manager.FontProperties(family="Noto Sans CJK SC"),
                                  fallback_to_default=False)
    assert "noto_cjk_sans_otc" in str(found)


def test_chinese_labels_render_with_no_missing_glyph(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _trend(store="深圳工厂", W42=MISSING)
    said = charts.words(data, "zh")
    assert said["title"] == "周趋势 · 深圳工厂"
    assert said["ticks"][0] == "第39周\n9月21日" and said["missing"] == "无报表"
    assert said["series"] == {"impressions": "曝光量", "visitors": "访客数",
                              "inquiries": "有效询盘"}
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        picture = charts.draw(data, "zh")
        english = charts.draw(data, "en")  # a Chinese store name in an English chart
    assert _glyph_warnings(record) == []
    _image(picture.png), _image(english.png)
    assert picture.title == "周趋势 2026-11-09 – 2026-11-15"

    # The check above can fail: without the CJK font, the same chart misses glyphs.
    monkeypatch.setitem(charts.FAMILIES, "zh", ["DejaVu Sans"])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        charts.draw(data, "zh")
    assert _glyph_warnings(record)


def test_data_is_never_read_as_markup() -> None:
    """A store name with `$…$` would be parsed as TeX (and a bad one raise); `&` stays `&`."""
    data = _trend(store=r"A&B $\notacommand{x}$ <b>")
    said = charts.words(data, "en")
    assert said["title"] == r"Weekly trend · A&B $\notacommand{x}$ <b>"
    _image(charts.draw(data, "en").png)


def test_a_store_without_data_draws_gaps_only() -> None:
    data = _trend(**{f"W{39 + n}": MISSING for n in range(8)})
    fig = charts.figure(data, charts.words(data, "en"), "en")
    assert all(sum(t.get_text() == "no report" for t in a.texts) == 8 for a in fig.axes)
    _image(charts.draw(data, "en").png)


def test_chart_png_from_the_database_in_the_stores_language(engine: Engine,
                                                            tmp_path: Path) -> None:
    store: Store = add_store(engine, "shop", "Asia/Shanghai", "zh")
    days = [date(2026, 10, 1) + timedelta(days=i) for i in range(61)]
    with write(engine) as conn:
        facts.put(conn, store, "traffic",
                  [{"date": d, "impressions": 500, "visitors": 20, "inquiries": 1}
                   for d in days], ingested_at=datetime(2026, 12, 1, 2))
    with read(engine) as conn:
        png = chart_png(conn, store, "monthly", date(2026, 11, 30))
        picture = chart(conn, store, "monthly", date(2026, 11, 30))
        expected = charts.draw(trend(conn, store, "monthly", date(2026, 11, 30)), "zh")
    assert png == picture.png == expected.png
    assert picture.title == "月趋势 2026-11-01 – 2026-11-30"
    path = tmp_path / picture.filename
    path.write_bytes(png)  # what `opsbot checklist monthly --chart PATH` will write
    assert _image(path.read_bytes()).width > 900
