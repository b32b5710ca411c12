"""Slack messages as terminal text, so `opsbot ask`, `checklist` and `demo` read like Slack."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")
_EMOJI = {
    ":warning:": "⚠", ":rotating_light:": "🚨", ":white_check_mark:": "✅", ":x:": "✗",
    ":repeat:": "↻", ":zzz:": "💤", ":eyes:": "👀", ":no_entry_sign:": "⛔",
    ":question:": "?", ":hourglass_flowing_sand:": "⏳",
}


def plain(mrkdwn: str) -> str:
    """mrkdwn for a terminal: links as `label (url)`, mentions as @U…, emphasis dropped,
    entities undone (`&amp;` last, so an escaped `&lt;` typed by a buyer stays `&lt;`)."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", mrkdwn)
    text = _MENTION.sub(r"@\1", text)
    text = _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))
    for code, symbol in _EMOJI.items():
        text = text.replace(code, symbol)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text(obj: Any) -> str:
    return plain(obj.get("text", "")) if isinstance(obj, dict) else ""


def _section(block: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    body = _text(block.get("text")).splitlines()
    accessory = block.get("accessory") or {}
    if accessory.get("type") == "checkboxes" and body:  # a checklist item: ☐ / ☑
        box = "☑ " if accessory.get("initial_options") else "☐ "
        lines += [box + body[0], *("   " + line for line in body[1:])]
    else:
        lines += body
    for field in block.get("fields") or []:
        label, _, value = _text(field).partition("\n")
        lines.append(f"  {label}: {value}" if value else f"  {label}")
    return lines


def _width(text: str) -> int:
    """Terminal columns: a CJK character (wide or full-width) takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def message_text(message: dict[str, Any]) -> str:
    """Headers, sections (with checkboxes), fields, context, dividers and buttons."""
    blocks = message.get("blocks") or []
    if not blocks:
        return plain(str(message.get("text") or ""))
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = _text(block.get("text"))
            lines += [title, "=" * min(_width(title), 72)]
        elif kind == "section":
            lines += _section(block)
        elif kind == "context":
            lines.append("  " + " ".join(_text(e) for e in block.get("elements") or []))
        elif kind == "divider":
            lines.append("")
        elif kind == "actions":
            # a button shows its text, a menu its placeholder
            lines.append("  " + "  ".join(f"[{_text(e.get('text') or e.get('placeholder'))}]"
                                          for e in block.get("elements") or []))
    return "\n".join(lines)
