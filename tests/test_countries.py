"""Countries (bot/countries.py): whatever an export wrote (a code, an English or a Chinese
name), a filter finds it and a message names it in the store's language, from Babel's data."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bot.countries import code_of, country_name, spellings
from bot.stores import add_store
from handlers.commands.registry import run_command
from templates import _safe, environment
from tests.test_inquiries import NOW, add_inquiries, inquiry


@pytest.mark.parametrize("cell", ["US", "us", "United States", " united  states ", "美国", "USA"])
def test_every_spelling_of_a_country_is_that_country(cell: str) -> None:
    assert code_of(cell) == "US"
    assert (country_name(cell, "en"), country_name(cell, "zh")) == ("United States", "美国")


def test_names_come_from_the_locale_data_not_a_short_list() -> None:
    # Countries no hand-kept table of top markets had, in both languages.
    assert (country_name("IS", "en"), country_name("IS", "zh")) == ("Iceland", "冰岛")
    assert code_of("乌拉圭") == "UY" and country_name("乌拉圭", "en") == "Uruguay"
    assert code_of("Türkiye") == code_of("turkey") == code_of("土耳其") == "TR"


def test_what_names_no_country_is_left_alone() -> None:
    for cell in ("", "Mars", "<!channel>", None, 42, "ZZ", "Unknown Region", "EU", "UN"):
        assert code_of(cell) is None and country_name(cell, "zh") is None
    assert spellings("Mars") == ["mars"]


def test_the_traffic_reports_other_bucket_is_named_in_each_language() -> None:
    for cell in ("其他", "Other", " others "):
        assert code_of(cell) is None
        for lang, name in (("en", "other countries"), ("zh", "其他国家和地区")):
            assert environment(lang).from_string("{{ c | country }}").render(c=cell) == name


def test_a_filter_matches_every_spelling_of_its_country() -> None:
    for typed in ("germany", "DE", "德国", "Deutschland"):
        assert {"de", "germany", "德国", "deutschland"} <= set(spellings(typed))
    # SQLite's lower() leaves non-ASCII capitals as they are: that spelling is matched too.
    assert "Åland islands" in spellings("AX")


def test_a_name_with_an_ampersand_is_recognised_though_escaped() -> None:
    rendered = environment("zh").from_string("{{ c | country }}").render(
        c=_safe("Bosnia & Herzegovina"))
    assert rendered == "波斯尼亚和黑塞哥维那"


@pytest.mark.parametrize("lang, us", [("en", "United States"), ("zh", "美国")])
def test_answers_name_countries_in_the_stores_language(engine: Engine, lang: str,
                                                       us: str) -> None:
    store = add_store(engine, f"shop-{lang}", "Asia/Shanghai", lang)
    add_inquiries(engine, store, [
        inquiry("c1", "2026-11-19 09:00", country="US"),
        inquiry("c2", "2026-11-19 10:00", country="US"),
        inquiry("c3", "2026-11-19 11:00", country="美国"),  # another export's spelling
        inquiry("c4", "2026-11-19 12:00", country="Atlantis"),
        inquiry("c5", "2026-11-19 13:00", country="<!channel>"),
    ])
    result = run_command(engine, "/inquiries", "yesterday", store=store, now=NOW)
    rows = [b["text"]["text"] for b in result.message["blocks"] if "text" in b]
    lines = "\n".join(rows).split("\n")
    assert f"{us}  3" in lines  # US twice and 美国 once: one country
    assert "Atlantis  1" in lines  # no country we know: as written
    assert "&lt;!channel&gt;  1" in lines and "<!channel>" not in str(result.message)
    assert result.data is not None  # --json: under the spelling most of its inquiries have
    assert {r["country"]: r["valid"] for r in result.data["by_country"]} == {
        "US": 3, "Atlantis": 1, "<!channel>": 1}
