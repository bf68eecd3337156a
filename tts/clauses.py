"""Clause splitting: cut a reply into pieces a voice can start on early.

Policy "short first, natural after": the first clause of a reply is cut at the first comma-level
break once it has `first_min_words` words, so the voice starts speaking soon; later clauses are cut
at sentence ends, and at comma-level breaks only once they have `min_words` words, so prosody keeps
its phrasing. A single word is never a clause of its own ("Oh," waits for what follows). A clause
without punctuation is cut before a conjunction once it reaches the word limit.

`ClauseSplitter` takes text as a dialogue model streams it; a break is only decided when the
character after it has arrived ("3." may become "3.5", "Dr" may become "Dr.").
"""
from __future__ import annotations

import re

from .normalize import ABBREVIATIONS

_STRONG = re.compile(r"[.!?\u2026]+[\"')\]\u201d]*(?=\s)")
_WEAK = re.compile(r"(?:[,;:]|\s[\u2014\u2013-])[\"')\]\u201d]*(?=\s)")
_CONJUNCTIONS = {"and", "but", "so", "because", "or", "which", "when", "while", "if", "though", "although",
                 "since", "unless", "until", "that", "then"}
_ABBREV_WORDS = {a.rstrip(".").lower() for a in ABBREVIATIONS} | {"a.m", "p.m", "u.s", "mt", "fig"}


class ClauseSplitter:
    def __init__(self, *, first_min_words: int = 3, min_words: int = 6, first_max_words: int = 10,
                 max_words: int = 22) -> None:
        if not 1 <= first_min_words <= first_max_words or not 1 <= min_words <= max_words:
            raise ValueError("word limits must satisfy 1 <= min <= max")
        self.first_min_words, self.min_words = first_min_words, min_words
        self.first_max_words, self.max_words = first_max_words, max_words
        self._buf = ""
        self._emitted = 0

    def push(self, piece: str) -> list[str]:
        """Add streamed text; return the clauses now complete (often none)."""
        if not isinstance(piece, str):
            raise TypeError(f"ClauseSplitter.push takes str, got {type(piece).__name__}")
        self._buf += piece
        out = []
        while (cut := self._find_cut()) is not None:
            clause, self._buf = self._buf[:cut].strip(), self._buf[cut:].lstrip()
            if clause:
                out.append(clause)
                self._emitted += 1
        return out

    def flush(self) -> list[str]:
        """End of the reply: return what is left and start afresh for the next reply."""
        rest = self._buf.strip()
        self._buf, self._emitted = "", 0
        return [rest] if rest else []

    def _find_cut(self) -> int | None:
        first = self._emitted == 0
        min_weak = self.first_min_words if first else self.min_words
        limit = self.first_max_words if first else self.max_words
        buf = self._buf
        for m in sorted([*_STRONG.finditer(buf), *_WEAK.finditer(buf)], key=lambda m: m.end()):
            words = _count_words(buf[:m.end()])
            if m.re is _STRONG:
                if words >= 2 and not _is_abbreviation(buf, m.start()):
                    return m.end()
            elif words >= min_weak:
                return m.end()
        return self._conjunction_cut(buf, limit, min_weak)

    @staticmethod
    def _conjunction_cut(buf: str, limit: int, min_words: int) -> int | None:
        complete = list(re.finditer(r"\S+(?=\s)", buf))  # words followed by whitespace: known to be whole
        if len(complete) < limit:
            return None
        for i in range(len(complete) - 1, min_words - 1, -1):
            if complete[i].group(0).lower() in _CONJUNCTIONS:
                return complete[i].start()
        if len(complete) >= 2 * limit:  # no place to breathe: cut anyway
            return complete[limit].start()
        return None


def _count_words(text: str) -> int:
    return len(re.findall(r"\w+(?:['\u2019]\w+)*", text))


def _is_abbreviation(buf: str, dot: int) -> bool:
    if buf[dot] != ".":
        return False
    word = re.search(r"([\w.]+)$", buf[:dot])
    if word is None:
        return False
    w = word.group(1).lower()
    return w in _ABBREV_WORDS or (len(w) == 1 and buf[dot - 1].isupper())  # "Dr.", "J. Smith"


def split_clauses(text: str, **limits: int) -> list[str]:
    """All clauses of a complete text, by the same policy as the streaming splitter."""
    splitter = ClauseSplitter(**limits)
    return splitter.push(text) + splitter.flush()
