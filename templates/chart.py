"""A review's trend chart as one PNG: what templates/ do for messages, for a picture.

`draw(trend, lang)` turns bot.metrics.trend.trend() into a PNG, with its title and file name
for Slack. Three panels over the same periods (impressions, visitors, inquiries), since
impressions run some 30 times the visitors: on one axis the visitors would lie flat. The
period under review is shaded; a period without data is a gap marked "no report" (never a
zero); a period the reports cover only in part is drawn hollow (dashed into it) and named in
a note with its days; inquiries taken from the traffic report's count are hatched. Words
come from chart.json.j2, in the store's language.

Headless: matplotlib's Agg canvas on a Figure of its own (no pyplot, no display). Chinese
needs a CJK font: Noto Sans CJK SC from the `noto-cjk-sans-otc` package (SIL OFL), added to
matplotlib's font manager on first use; DejaVu Sans (matplotlib's own) sets Latin text in
English, and each falls back on the other for the glyphs it lacks (a Chinese store name in an
English chart).
"""

from __future__ import annotations

import io
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from templates import render_words

CJK_FAMILY = "Noto Sans CJK SC"
LATIN_FAMILY = "DejaVu Sans"
FAMILIES = {"en": [LATIN_FAMILY, CJK_FAMILY], "zh": [CJK_FAMILY, LATIN_FAMILY]}

COLORS = {"impressions": "#2f6db5", "visitors": "#2e9d5b", "inquiries": "#e07b22"}
CURRENT_BAND = "#fff1c2"
MUTED = "#8a8a8a"
SIZE = (10.0, 7.6)  # inches; at DPI about 1100 x 840 px, legible in a Slack preview
DPI = 110

# matplotlib's text setup reads global state (the font manager, rcParams): one drawing at a time.
_lock = threading.Lock()


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """Register the CJK font with matplotlib (once per process); its family name."""
    import noto_cjk_sans_otc  # the font file only; imported here so importing this is cheap

    font_manager.fontManager.addfont(str(noto_cjk_sans_otc.FONT_PATH))
    try:  # every face of the collection is registered by name (matplotlib 3.11 and later)
        font_manager.findfont(font_manager.FontProperties(family=CJK_FAMILY),
                              fallback_to_default=False)
    except ValueError as exc:
        raise RuntimeError(f"matplotlib does not find {CJK_FAMILY} in "
                           f"{noto_cjk_sans_otc.FONT_PATH}: it needs matplotlib 3.11 or "
                           "later (pip install -e .)") from exc
    return CJK_FAMILY


@dataclass(frozen=True)
class Chart:
    png: bytes
    title: str  # the file's title in Slack
    filename: str


def words(trend: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    """The chart's words in `lang` (chart.json.j2): title, subtitle, panel names, period
    names, notes, and the file's title and name."""
    partial = [{"index": i, "known": _known(p)} for i, p in enumerate(trend["periods"])
               if _partial(p, "impressions") or _partial(p, "inquiries")]
    return render_words("chart.json.j2", trend=trend, partial=partial, lang=lang)


def draw(trend: dict[str, Any], lang: str = "en") -> Chart:
    """The chart of `trend` (bot.metrics.trend.trend()) with words in `lang` (en|zh)."""
    said = words(trend, lang)
    with _lock:
        drawn = figure(trend, said, lang)
        out = io.BytesIO()
        FigureCanvasAgg(drawn).print_png(out)
    return Chart(out.getvalue(), said["file_title"], said["filename"])


def _number(value: float, _position: Any = None) -> str:
    return f"{value:,.0f}"


def figure(trend: dict[str, Any], said: dict[str, Any], lang: str = "en") -> Figure:
    """The matplotlib Figure of the chart (draw() renders it; callers hold _lock)."""
    cjk_font()
    family = FAMILIES.get(lang, FAMILIES["en"])
    periods = trend["periods"]
    xs = list(range(len(periods)))
    current = next((i for i, p in enumerate(periods) if p["current"]), len(periods) - 1)
    text = {"fontfamily": family}
    notes = [said["partial"]] if said["partial"] else []
    if said["reported"]:
        notes.append(said["reported"])

    # A fixed layout: the title block on top, the notes at the bottom, the panels between.
    fig = Figure(figsize=SIZE, dpi=DPI)
    fig.subplots_adjust(left=0.085, right=0.975, top=0.855,
                           bottom=0.105 + 0.028 * len(notes), hspace=0.42)
    fig.text(0.012, 0.975, said["title"], fontsize=16, color="#1a1a1a", va="top",
                parse_math=False, **text)
    fig.text(0.012, 0.925, said["subtitle"], fontsize=9.5, color="#555555", va="top",
                parse_math=False, **text)
    for n, note in enumerate(reversed(notes)):
        fig.text(0.012, 0.018 + 0.028 * n, note, fontsize=8.5, color="#555555",
                    va="bottom", **text)

    panels = fig.subplots(3, 1, sharex=True)
    for axis, metric in zip(panels, ("impressions", "visitors", "inquiries"), strict=True):
        axis.axvspan(current - 0.5, current + 0.5, color=CURRENT_BAND, zorder=0)
        if metric == "inquiries":
            _bars(axis, xs, periods)
        else:
            _line(axis, xs, periods, metric)
        _missing(axis, xs, [p[metric] for p in periods], said["missing"], text)
        axis.set_title(said["series"][metric], loc="left", fontsize=11.5, color="#222222",
                       pad=4, **text)
        axis.yaxis.set_major_formatter(FuncFormatter(_number))
        axis.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True, min_n_ticks=3))
        axis.grid(axis="y", color="#e4e4e4", linewidth=0.8)
        axis.set_axisbelow(True)
        for side in ("top", "right"):
            axis.spines[side].set_visible(False)
        axis.tick_params(labelsize=9)
    top = panels[0]
    top.text(current + 0.5, 1.03, said["current"], transform=top.get_xaxis_transform(),
             ha="right", va="bottom", fontsize=9, color="#9a6b00", **text)
    bottom = panels[-1]
    bottom.set_xlim(-0.5, len(periods) - 0.5)
    bottom.set_xticks(xs, said["ticks"], fontsize=9, **text)
    return fig


def _known(period: dict[str, Any]) -> int:
    """The days of a period that its figures cover (the fewer of traffic and inquiries)."""
    days = [period["traffic_days"] if period["impressions"] is not None else None,
            period["inquiry_days"] if period["inquiries"] is not None else None]
    return min(d for d in days if d is not None)


def _partial(period: dict[str, Any], metric: str) -> bool:
    """Some days of the period, not all, are in the report the figure comes from."""
    known = period["inquiry_days"] if metric == "inquiries" else period["traffic_days"]
    return period[metric] is not None and known < period["days"]


def _line(axis: Any, xs: list[int], periods: list[dict[str, Any]], metric: str) -> None:
    color = COLORS[metric]
    ys = [math.nan if p[metric] is None else float(p[metric]) for p in periods]
    hollow = [_partial(p, metric) for p in periods]
    # Segments between whole periods solid, into or out of a partial one dashed; none across
    # a gap.
    for i in range(len(xs) - 1):
        if math.isnan(ys[i]) or math.isnan(ys[i + 1]):
            continue
        style = "--" if hollow[i] or hollow[i + 1] else "-"
        axis.plot(xs[i:i + 2], ys[i:i + 2], linestyle=style, color=color, linewidth=2.2,
                  zorder=2)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if math.isnan(y):
            continue
        axis.plot([x], [y], marker="o", markersize=7, color=color, markeredgewidth=2,
                  markerfacecolor="white" if hollow[i] else color, zorder=3)
        if periods[i]["current"]:
            # At the top of the shaded band: the y limits below keep every point under 80%
            # of the height, so the figure never sits on the line.
            axis.text(x, 0.92, _number(y), transform=axis.get_xaxis_transform(), ha="center",
                      va="center", fontsize=9.5, fontweight="bold", fontfamily=LATIN_FAMILY,
                      color=color)
    known = [y for y in ys if not math.isnan(y)]
    if known:
        # From zero unless the values sit far above it: the trend shows, the scale is honest.
        low, high = min(known), max(known)
        floor = 0 if low < 0.5 * high else low - 0.35 * (high - low or high * 0.1)
        axis.set_ylim(floor, high + 0.25 * (high - floor or 1))
    else:
        axis.set_ylim(0, 1)


def _bars(axis: Any, xs: list[int], periods: list[dict[str, Any]]) -> None:
    color = COLORS["inquiries"]
    highest = max((p["inquiries"] or 0 for p in periods), default=0)
    for x, period in zip(xs, periods, strict=True):
        value = period["inquiries"]
        if value is None:
            continue
        reported = period["inquiries_source"] == "traffic"
        hollow = _partial(period, "inquiries")
        axis.bar(x, value, width=0.6, color="white" if hollow else color,
                 edgecolor=color, linewidth=1.6, hatch="///" if reported else None,
                 alpha=0.55 if reported and not hollow else 1.0, zorder=2)
        axis.annotate(f"{value:,}", (x, value), xytext=(0, 3), textcoords="offset points",
                      ha="center", fontsize=9,
                      fontweight="bold" if period["current"] else "normal",
                      fontfamily=LATIN_FAMILY, color="#333333")
    axis.set_ylim(0, max(highest * 1.25, 1))


def _missing(axis: Any, xs: list[int], values: list[int | None], label: str,
             text: dict[str, Any]) -> None:
    """A period without data says so where its figure would be."""
    for x, value in zip(xs, values, strict=True):
        if value is None:
            axis.text(x, 0.5, label, transform=axis.get_xaxis_transform(), ha="center",
                      va="center", fontsize=8.5, color=MUTED, style="italic", **text)
