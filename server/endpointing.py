"""When has the user finished their turn?

Policy, "syntactic completeness": the silence that ends a turn depends on whether the words so far
sound finished. A sentence that ends on a word that cannot end an English sentence ("and",
"because", "the", "to", "my", a filler like "um") asks for patience; a finished question or
statement is answered quickly; without a transcript yet we wait the configured default. The
transcript comes from a recognition pass started as soon as the user pauses, so the decision costs
no extra time.
"""
from __future__ import annotations

import re

# Words after which an English utterance is almost never complete.
NON_FINAL = set("""
a an the this that these those my your his her its our their some any every no
and or but so because since although though while if unless until when whenever where whereas
to of in on at by for with from into onto about over under after before between through without
is am are was were be been being do does did have has had will would shall should can could may might must
i you he she we they it's i'm you're we're they're there's
um uh er erm uhm hmm like well also just really very
""".split())

_WORD = re.compile(r"[a-z']+")


def completeness(text: str | None) -> str:
    """'complete', 'incomplete' or 'unknown' for the words heard so far."""
    if not text or not text.strip():
        return "unknown"
    stripped = text.strip()
    words = _WORD.findall(stripped.lower())
    if not words:
        return "unknown"
    if stripped.endswith(("...", "…", ",", "-", "—")) or words[-1] in NON_FINAL:
        return "incomplete"
    if stripped.endswith(("?", "!", ".")):
        return "complete"
    return "unknown"


class Endpointer:
    def __init__(self, *, complete_ms: float = 350, unknown_ms: float = 700, incomplete_ms: float = 1600) -> None:
        self.complete_ms, self.unknown_ms, self.incomplete_ms = complete_ms, unknown_ms, incomplete_ms

    def required_silence_ms(self, transcript: str | None) -> float:
        return {"complete": self.complete_ms, "incomplete": self.incomplete_ms}.get(
            completeness(transcript), self.unknown_ms)
