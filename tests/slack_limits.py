"""Assertions that a message we build would be accepted by Slack and is safe to post.

Why: Slack rejects oversized messages (``invalid_blocks``, ``msg_too_long``) only at runtime,
and text built from shop data can ping a whole channel (``<!channel>``) or forge links. Tests
call these on whatever the bot sends, e.g. ``assert_within_slack_limits(call.params)``.

``message`` is a ``chat.postMessage``-style dict: ``text`` (fallback) and optional ``blocks``
and ``attachments``; ``blocks`` may be a JSON string (form-encoded calls). All violations are
reported at once, each naming the block (``blocks[3] (section, block_id='sku')``) and limit.

Limits checked (per https://docs.slack.dev/reference/block-kit/blocks): <= 50 blocks; fallback
``text`` non-empty and <= 40,000 chars; block_id <= 255 and unique; section text 1..3000, <= 10
fields of <= 2000; header plain_text <= 150; context <= 10 elements; actions <= 25 elements;
button text <= 75, value <= 2000, url <= 3000; any action_id <= 255 and unique within a block;
select/overflow options (<= 100 / 2..5, text <= 75, value <= 150); placeholder <= 150; image
url <= 3000, alt_text/title <= 2000; markdown block <= 12,000. Not checked: rich_text
internals, modal-only blocks, legacy attachment counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tests.slack_mock import json_field

MAX_BLOCKS = 50
MAX_TEXT = 40_000
MAX_BLOCK_ID = 255
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_ACTION_ID = 255
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_PLACEHOLDER = 150
MAX_ALT_TEXT = 2000
MAX_MARKDOWN_BLOCK = 12_000

DANGEROUS_MENTIONS: tuple[str, ...] = ("<!channel>", "<!here>", "<!everyone>", "<@")

_TEXT_TYPES = {"mrkdwn", "plain_text"}
_CONTROL = re.compile(r"<([^<>|]*)(\|[^<>]*)?>")  # <target> or <target|label>


def _text_of(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return str(obj.get("text") or "")
    return "" if obj is None else str(obj)


def _too_long(where: str, what: str, value: Any, limit: int) -> list[str]:
    size = len(_text_of(value)) if not isinstance(value, str) else len(value)
    return [f"{where}: {what} is {size} chars (limit {limit})"] if size > limit else []


def _element_violations(where: str, el: Mapping[str, Any]) -> list[str]:
    kind = el.get("type", "?")
    out = _too_long(where, "action_id", el.get("action_id", ""), MAX_ACTION_ID)
    if kind == "button":
        out += _too_long(where, "button text", el.get("text"), MAX_BUTTON_TEXT)
        out += _too_long(where, "button value", el.get("value", ""), MAX_BUTTON_VALUE)
        out += _too_long(where, "button url", el.get("url", ""), MAX_URL)
    if "placeholder" in el:
        out += _too_long(where, "placeholder", el["placeholder"], MAX_PLACEHOLDER)
    options = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        options += group.get("options") or []
    if kind == "overflow" and not 2 <= len(options) <= 5:
        out.append(f"{where}: overflow has {len(options)} options (allowed 2..5)")
    elif len(options) > MAX_OPTIONS:
        out.append(f"{where}: {len(options)} options (limit {MAX_OPTIONS})")
    for j, option in enumerate(options):
        out += _too_long(f"{where} option[{j}]", "option text", option.get("text"), MAX_OPTION_TEXT)
        out += _too_long(
            f"{where} option[{j}]", "option value", option.get("value", ""), MAX_OPTION_VALUE
        )
    if kind == "image":
        out += _too_long(where, "image alt_text", el.get("alt_text", ""), MAX_ALT_TEXT)
        out += _too_long(where, "image_url", el.get("image_url", ""), MAX_URL)
    return out


def _elements_violations(where: str, elements: list[Any]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for j, el in enumerate(elements):
        if not isinstance(el, Mapping):
            out.append(f"{where} element[{j}]: not an object")
            continue
        out += _element_violations(f"{where} element[{j}] ({el.get('type', '?')})", el)
        action_id = el.get("action_id")
        if action_id in seen:
            out.append(f"{where}: duplicate action_id {action_id!r}")
        if action_id:
            seen.add(action_id)
    return out


def _block_violations(where: str, block: Mapping[str, Any]) -> list[str]:
    kind = block.get("type")
    out: list[str] = []
    if kind == "section":
        text, fields = block.get("text"), block.get("fields") or []
        if text is None and not fields:
            out.append(f"{where}: section needs text or fields")
        if text is not None and not _text_of(text):
            out.append(f"{where}: section text is empty (min 1 char)")
        out += _too_long(where, "section text", text, MAX_SECTION_TEXT)
        if len(fields) > MAX_SECTION_FIELDS:
            out.append(f"{where}: {len(fields)} section fields (limit {MAX_SECTION_FIELDS})")
        for j, f in enumerate(fields):
            out += _too_long(where, f"section field[{j}]", f, MAX_FIELD_TEXT)
        if isinstance(block.get("accessory"), Mapping):
            out += _element_violations(f"{where} accessory", block["accessory"])
    elif kind == "header":
        text = block.get("text")
        if not isinstance(text, Mapping) or text.get("type") != "plain_text":
            out.append(f"{where}: header text must be a plain_text object")
        out += _too_long(where, "header text", text, MAX_HEADER_TEXT)
    elif kind == "context":
        elements = block.get("elements") or []
        if len(elements) > MAX_CONTEXT_ELEMENTS:
            out.append(f"{where}: {len(elements)} context elements (limit {MAX_CONTEXT_ELEMENTS})")
        out += _elements_violations(where, elements)
    elif kind == "actions":
        elements = block.get("elements") or []
        if len(elements) > MAX_ACTIONS_ELEMENTS:
            out.append(f"{where}: {len(elements)} actions elements (limit {MAX_ACTIONS_ELEMENTS})")
        out += _elements_violations(where, elements)
    elif kind == "image":
        out += _element_violations(where, block)
        out += _too_long(where, "image title", block.get("title"), MAX_ALT_TEXT)
    elif kind == "markdown":
        out += _too_long(where, "markdown text", block.get("text", ""), MAX_MARKDOWN_BLOCK)
    elif not kind:
        out.append(f"{where}: block has no type")
    return out


def slack_limit_violations(message: Mapping[str, Any]) -> list[str]:
    """Every limit ``message`` breaks, as readable strings (empty list: OK)."""
    out: list[str] = []
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        out.append("text: fallback text is missing or empty (needed for notifications/a11y)")
    else:
        out += _too_long("text", "fallback text", text, MAX_TEXT)
    blocks = json_field(message.get("blocks")) or []
    if not isinstance(blocks, list):
        return [*out, f"blocks: expected a list, got {type(blocks).__name__}"]
    if len(blocks) > MAX_BLOCKS:
        out.append(f"blocks: {len(blocks)} blocks (limit {MAX_BLOCKS})")
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, Mapping):
            out.append(f"blocks[{i}]: not an object")
            continue
        block_id = block.get("block_id")
        where = f"blocks[{i}] ({block.get('type', '?')}"
        where += f", block_id={block_id!r})" if block_id else ")"
        if block_id is not None:
            out += _too_long(where, "block_id", str(block_id), MAX_BLOCK_ID)
            if block_id in seen_ids:
                out.append(f"{where}: duplicate block_id")
            seen_ids.add(block_id)
        out += _block_violations(where, block)
    return out


def assert_within_slack_limits(message: Mapping[str, Any]) -> None:
    """Fail with every violated limit if Slack would reject or truncate ``message``."""
    problems = slack_limit_violations(message)
    if problems:
        raise AssertionError("message breaks Slack limits:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------------- mentions / escaping
def iter_texts(message: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield ``(where, text)`` for every piece of text Slack renders (mrkdwn and plain)."""
    yield from _walk(message, "")


def _walk(obj: Any, path: str) -> Iterator[tuple[str, str]]:
    obj = json_field(obj)
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _walk(item, f"{path}[{i}]")
        return
    if not isinstance(obj, Mapping):
        return
    kind = obj.get("type")
    if kind in _TEXT_TYPES and isinstance(obj.get("text"), str):
        yield path or "text", obj["text"]
        return
    # rich_text elements mention by structure, not by syntax: render them as the syntax.
    if kind == "broadcast":
        yield path, f"<!{obj.get('range', '')}>"
    elif kind == "user":
        yield path, f"<@{obj.get('user_id', '')}>"
    elif kind == "usergroup":
        yield path, f"<!subteam^{obj.get('usergroup_id', '')}>"
    rendered = _rendered_string_keys(obj, path)
    for key, value in obj.items():
        sub = f"{path}.{key}" if path else key
        if isinstance(value, str):
            if key in rendered:
                yield sub, value
        else:
            yield from _walk(value, sub)


def _rendered_string_keys(obj: Mapping[str, Any], path: str) -> set[str]:
    """Plain-string keys Slack renders as mrkdwn: message/attachment text and fields."""
    if obj.get("type") == "text":  # a rich_text literal: never parsed for mentions
        return set()
    keys = {"text", "pretext", "fallback", "footer", "author_name"}
    if "attachments" in path:
        keys.add("title")
        if isinstance(obj.get("value"), str) and "title" in obj:  # attachment field
            keys.add("value")
    return keys


def assert_no_mentions(
    message: Mapping[str, Any],
    dangerous: Iterable[str] = DANGEROUS_MENTIONS,
    allow: Iterable[str] = (),
) -> None:
    """Fail if any text holds an active mention/link matching ``dangerous``.

    An entry ending in ``>`` matches that exact control sequence, also with a label
    (``<!here|@here>`` matches ``<!here>``); other entries are prefixes (``<@`` matches every
    user mention). ``allow`` lists sequences the caller meant to send, e.g. ``("<@U0OWNER>",)``.
    Add ``"<!subteam^"`` or ``"<#"`` to ``dangerous`` to also ban group pings/channel links.
    """
    dangerous, allowed = tuple(dangerous), set(allow)
    problems: list[str] = []
    for where, text in iter_texts(message):
        for match in _CONTROL.finditer(text):
            full, canonical = match.group(0), f"<{match.group(1)}>"
            if full in allowed or canonical in allowed:
                continue
            for d in dangerous:
                hit = canonical == d if d.endswith(">") else full.startswith(d)
                if hit:
                    problems.append(f"{where}: active mention {full!r} (matches {d!r})")
                    break
    if problems:
        raise AssertionError(
            "message contains mentions that were not allowed (escape data with "
            "slack_escape):\n  " + "\n  ".join(problems)
        )


def slack_escape(text: str) -> str:
    """Slack's escaping for data placed in text: ``&`` -> ``&amp;``, ``<`` / ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def assert_data_escaped(message: Mapping[str, Any], *untrusted: str) -> None:
    """Fail if a data value containing ``<``, ``>`` or ``&`` appears unescaped in any text.

    Feed the raw values the test injected (product names, buyer messages, file names).
    """
    risky = [u for u in untrusted if any(c in u for c in "<>&")]
    problems = [
        f"{where}: data {u!r} is not escaped (expected {slack_escape(u)!r})"
        for where, text in iter_texts(message)
        for u in risky
        if u in text
    ]
    if problems:
        raise AssertionError("unescaped data in message:\n  " + "\n  ".join(problems))
