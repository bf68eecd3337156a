"""The assessment/reply format in its two modes, a GBNF grammar that enforces it where the backend
takes one, and a streaming parser with a safe fallback when the model breaks format anyway.

tags (default, fast): the model writes one short header line `NEED|TONE`, then the reply.
free (larger models): `Thought: ...`, `Need: ...`, `Tone: ...`, then `Reply: ...`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .tone import NEEDS, REPLY_EMOTIONS

MODES = ("tags", "free")

_ALT = lambda words: " | ".join(f'"{w}"' for w in words)  # noqa: E731
# The reply is one spoken paragraph: no newline, no markdown or bracket characters.
_REPLY_RULE = 'reply ::= [^\\n*#_`|<>\\[\\]{}()~]+'
GRAMMARS = {
    "tags": f'root ::= need "|" tone "\\n" reply\nneed ::= {_ALT(NEEDS)}\ntone ::= {_ALT(REPLY_EMOTIONS)}\n{_REPLY_RULE}\n',
    "free": (f'root ::= "Thought: " thought "\\nNeed: " need "\\nTone: " tone "\\nReply: " reply\n'
             f'thought ::= [^\\n]{{10,300}}\nneed ::= {_ALT(NEEDS)}\ntone ::= {_ALT(REPLY_EMOTIONS)}\n{_REPLY_RULE}\n'),
}

# The same formats with only the header fixed, for backends that can let the reply run free after it
# (llama.cpp: a grammar over the whole reply slows every token); the reply's characters are then left to
# `speech_text.spoken`, and a stop at the first line break keeps it one paragraph.
HEADER_GRAMMARS = {
    "tags": f'root ::= need "|" tone "\\n"\nneed ::= {_ALT(NEEDS)}\ntone ::= {_ALT(REPLY_EMOTIONS)}\n',
    "free": (f'root ::= "Thought: " thought "\\nNeed: " need "\\nTone: " tone "\\nReply: "\n'
             f'thought ::= [^\\n]{{10,300}}\nneed ::= {_ALT(NEEDS)}\ntone ::= {_ALT(REPLY_EMOTIONS)}\n'),
}

_TAGS_HEADER = re.compile(r"^\s*[\[(]?\s*(?:need\s*[:=]\s*)?([a-z]+)\s*[|/]\s*(?:tone\s*[:=]\s*)?([a-z]+)\s*[\])]?[ \t]*\n?", re.I)
_NEED_SET = frozenset(NEEDS)
_FREE_FIELD = re.compile(r"^\s*\**(thought|need|tone|reply)\**\s*:\s*(.*)$", re.I)
_LEAD_LABEL = re.compile(r"^\s*(assistant|warmline|reply|response)\s*:\s*", re.I)


@dataclass
class Parsed:
    """What the parser has understood so far."""
    header: dict = field(default_factory=dict)  # need, tone, thought (free mode)
    header_done: bool = False
    valid: bool = True  # False once a fallback was needed


class ReplyParser:
    """feed(piece) -> reply text released so far; `parsed.header_done` flips once the header is read."""

    def __init__(self, mode: str = "tags", *, max_header_chars: int | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self.max_header = max_header_chars or (40 if mode == "tags" else 500)
        self.parsed = Parsed()
        self._buf = ""

    def feed(self, piece: str) -> str:
        if self.parsed.header_done:
            return piece
        self._buf += piece
        return self._try_header(final=False)

    def finish(self) -> str:
        """End of generation: whatever is still held becomes reply text."""
        if self.parsed.header_done:
            return ""
        return self._try_header(final=True)

    def _try_header(self, *, final: bool) -> str:
        if self.mode == "tags":
            return self._tags(final)
        return self._free(final)

    def _tags(self, final: bool) -> str:
        if "\n" not in self._buf and len(self._buf) < self.max_header and not final:
            return ""
        m = _TAGS_HEADER.match(self._buf)
        if m:
            need, tone = m.group(1).lower(), m.group(2).lower()
            if need in _NEED_SET or tone in REPLY_EMOTIONS:
                self._set_header(need if need in _NEED_SET else None, tone if tone in REPLY_EMOTIONS else None)
                self.parsed.valid = need in _NEED_SET and tone in REPLY_EMOTIONS
                return self._release(self._buf[m.end():])
        return self._fallback(self._buf)

    def _free(self, final: bool) -> str:
        lines = self._buf.split("\n")
        complete, tail = lines[:-1], lines[-1]
        fields: dict = {}
        for i, line in enumerate(complete + [tail]):
            m = _FREE_FIELD.match(line)
            if m and m.group(1).lower() == "reply":
                self._set_header(fields.get("need"), fields.get("tone"), fields.get("thought"))
                self.parsed.valid = {"need", "tone", "thought"} <= fields.keys()
                idx = self._buf.find(line)
                return self._release(m.group(2) + self._buf[idx + len(line):])
            if m and i < len(complete):
                key, value = m.group(1).lower(), m.group(2).strip().lower()
                if key == "thought":
                    value = m.group(2).strip()
                elif key == "need" and value not in _NEED_SET:
                    value = None
                elif key == "tone" and value not in REPLY_EMOTIONS:
                    value = None
                if value:
                    fields[key] = value
        if final or len(self._buf) >= self.max_header:
            if fields and not final:
                return ""  # fields are arriving; a Reply: line is probably close
            return self._fallback(self._buf if not fields else "\n".join(
                l for l in lines if not _FREE_FIELD.match(l)), fields)
        return ""

    def _set_header(self, need, tone, thought=None) -> None:
        header = {"need": need, "tone": tone}
        if thought:
            header["thought"] = thought
        self.parsed.header = {k: v for k, v in header.items() if v}
        self.parsed.header_done = True

    def _release(self, text: str) -> str:
        self._buf = ""
        return _LEAD_LABEL.sub("", text.lstrip(), count=1)

    def _fallback(self, text: str, fields: dict | None = None) -> str:
        fields = fields or {}
        self._set_header(fields.get("need"), fields.get("tone"), fields.get("thought"))
        self.parsed.valid = False
        return self._release(text)
