"""One clip length for names, titles and file names that messages list: long enough to
recognise, short enough to scan. Plain data is clipped once, here, wherever it is made."""

from __future__ import annotations

CLIP = 80  # characters


def clip(text: str | None, limit: int = CLIP) -> str | None:
    """`text` cut to `limit` characters, the last one an ellipsis when cut."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"
