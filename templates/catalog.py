"""`python -m templates.catalog`: extract every msgid from the code and the templates and
merge them into each language's catalog (`make messages`). New msgids arrive untranslated;
tests/test_catalog.py fails until a translator fills them in.

Python and templates are extracted with different keywords: in Python, `N_("…")` and
`Text("…")` carry msgids; in templates, `{% trans %}`, `_()` and `ngettext()` do."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from templates.i18n import LANGUAGES, SOURCE, catalog_path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_DIRS = ("bot", "handlers", "jobs", "templates", "cli")
PYTHON_KEYWORDS = {"N_": None, "Text": None}
TEMPLATE_OPTIONS = {"extensions": "jinja2.ext.i18n,jinja2.ext.do", "trim_blocks": "true",
                    "lstrip_blocks": "true"}


def extract() -> Catalog:
    """Every msgid in the code and the templates, with where it is used."""
    catalog = Catalog(project="opsbot", charset="utf-8")
    for folder in PYTHON_DIRS:
        for name, line, msg, comments, _ctx in extract_from_dir(
            ROOT / folder, [("**.py", "python")], keywords=PYTHON_KEYWORDS,
            comment_tags=("TRANSLATORS:",), strip_comment_tags=True,
        ):
            catalog.add(msg, locations=[(f"{folder}/{name}", line)], auto_comments=comments)
    for name, line, msg, comments, _ctx in extract_from_dir(
        ROOT / "templates", [("**.j2", "jinja2")],
        options_map={"**.j2": TEMPLATE_OPTIONS}, comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        catalog.add(msg, locations=[(f"templates/{name}", line)], auto_comments=comments)
    return catalog


def load(lang: str) -> Catalog:
    with catalog_path(lang).open("rb") as po:
        return read_po(po, locale=lang)


def update(lang: str, template: Catalog) -> tuple[int, int]:
    """Merge the extracted msgids into `lang`'s catalog; (msgids, untranslated)."""
    path = catalog_path(lang)
    if path.exists():
        catalog = load(lang)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale=lang, project="opsbot", charset="utf-8")
    catalog.update(template, no_fuzzy_matching=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=100, sort_output=True, ignore_obsolete=True,
                 include_lineno=False)
    untranslated = sum(1 for m in catalog if m.id and not _translated(m.string))
    return len([m for m in catalog if m.id]), untranslated


def _translated(string: object) -> bool:
    if isinstance(string, tuple | list):
        return all(string)
    return bool(string)


def main() -> int:
    template = extract()
    for lang in LANGUAGES:
        if lang == SOURCE:
            continue
        total, missing = update(lang, template)
        print(f"{lang}: {total} messages, {missing} untranslated ({catalog_path(lang)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
