"""`a` or `an` before a word an error message names: messages build "a {what}" from a
quantity's name, and "a energy cannot be negative" read wrong (outside audit redteam8)."""

from __future__ import annotations

__all__ = ["with_article"]


def with_article(word: str) -> str:
    """`an energy`, `a duration`: by the word's first letter (the quantities and units
    fedsim names read as they are spelled)."""
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"
