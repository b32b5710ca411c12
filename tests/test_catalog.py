"""The message catalogs: every msgid in the code and the templates has a Chinese translation
with the same placeholders, so a Chinese store never reads English."""

from __future__ import annotations

import re

import pytest

from templates.catalog import extract, load
from templates.i18n import Text, gettext, ngettext

PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


@pytest.fixture(scope="module")
def zh():
    return load("zh")


def _forms(value: object) -> list[str]:
    return list(value) if isinstance(value, tuple | list) else [str(value)]


def test_every_msgid_has_a_chinese_translation(zh) -> None:
    missing = []
    for message in extract():
        if not message.id:
            continue
        found = zh.get(message.id)
        if found is None or not all(_forms(found.string)) or found.fuzzy:
            missing.append(message.id)
    assert not missing, "untranslated (run `make messages` and translate):\n" + "\n".join(
        map(str, missing))


def test_translations_keep_the_placeholders(zh) -> None:
    for message in zh:
        if not message.id or not message.string:
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(_forms(message.id))))
        for form in _forms(message.string):
            assert set(PLACEHOLDER.findall(form)) == wanted, (message.id, form)


def test_text_is_worded_at_the_edge_in_the_asker_language() -> None:
    error = Text("unknown command `%(command)s`: use %(known)s", command="/x", known="/y")
    assert error.render("en") == "unknown command `/x`: use /y"
    assert error.render("zh") == "未知命令 `/x`：可用 /y"
    assert gettext("fr", "Usage") == "Usage"  # an unknown language falls back to English
    assert ngettext("en", "%(num)s day", "%(num)s days", 2) == "2 days"
