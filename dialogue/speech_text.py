"""Spoken-style cleanup of reply text (clause splitting lives in tts.clauses)."""
from __future__ import annotations

import re

_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200D\u2B00-\u2BFF]")
_LIST_MARK = re.compile(r"(^|\n)\s*([-*•]|\d+[.)])\s+")
_MARKDOWN = re.compile(r"[*_`#>|~\[\]{}<>]")
_SPACES = re.compile(r"\s+")


def spoken(text: str) -> str:
    """Strip what cannot be spoken: markdown, list markers, emoji, brackets, line breaks."""
    text = _LIST_MARK.sub(r"\1", text)
    text = _EMOJI.sub("", text)
    text = _MARKDOWN.sub("", text)
    text = text.replace("(", ", ").replace(")", ", ")
    text = _SPACES.sub(" ", text).strip()
    return re.sub(r"\s+([,.!?;:])", r"\1", re.sub(r",\s*,", ",", text)).lstrip(" ,").rstrip()
