"""When has the user finished their turn?

Policy, "syntactic completeness": the silence that ends a turn depends on whether the words so far
sound finished. A sentence that ends on a word that cannot end an English sentence ("and",
"because", "the", "my", a filler like "um") asks for patience, and so does one that ends on a word
that can end a sentence only where something points back to it ("talk to", "the problem is"); a
finished question or statement is answered quickly; without a transcript yet we wait the configured
default. Tuned on benchmarks/turn_end_sets/part_a.jsonl only (part_b is held out: see its README). The
transcript comes from a recognition pass started as soon as the user pauses, so the decision costs
no extra time.
"""
from __future__ import annotations

import re

# Words after which an English utterance is almost never complete, whatever punctuation the recogniser adds.
OPEN = set("""
a an the my your our their its
and or but because since although unless whereas if
i he she we they even
um uh er erm uhm
""".split())
# Words that end an unfinished sentence as often as a finished one: a preposition, an auxiliary, a subject.
# After a final "." or "!" they end the turn only where, among the last few words, something lets them stand
# last: a wh-word, a comparison, or a word a preposition can point back to ("someone to talk to", "that's
# what I was afraid of"); after "?" where the question opens with a wh-word. Without final punctuation,
# or otherwise, the words are taken as unfinished.
MAYBE_OPEN = set("""
this that these those his some any every no
so to of in on at by for with from into onto about over under after before between through without
it's i'm you're we're they're there's
like well also just really very when while then
""".split())
# An auxiliary or a form of "be" ends a sentence only right after its subject ("than he was", "who I am",
# "the best I can"), and then only where something points back, as above.
AUXILIARIES = set("""
is am are was were be been being do does did have has had will would shall should can could may might must
""".split())
_SUBJECT_THEN_AUX = re.compile(r"\b(i|you|he|she|it|we|they|things|everyone|everybody|people)\s+\S+\W*$", re.I)
_POINTS_BACK = re.compile(
    r"\b(what|who|whom|whose|where|which|how|than|as much as|that's|something|nothing|anything|everything|someone|"
    r"somebody|nobody|no one|anyone|anybody|everyone|somewhere|nowhere|anywhere|the (best|most|least|only|one|kind|"
    r"sort|person|place|town)|hope|think|guess|said|like that|not really)\b", re.I)
_WH_START = re.compile(r"^\W*(who|whom|what|what's|where|which|how|why|when)\b", re.I)
# "What I really want is." / "I think the problem is.": the thing it announces is not said yet.
_ANNOUNCES = re.compile(r"\b(problem|thing|point|question|reason|issue|truth|part|fact|do|want|need|mean|say|said)\s+"
                        r"(is|was)\W*$", re.I)
# "to" ends a sentence as a preposition after these ("someone to talk to"); otherwise it opens an infinitive.
_TO_AS_PREPOSITION = re.compile(r"\b(talk|talking|speak|speaking|listen|listening|belong|belongs|used|refer|referring|"
                                r"reply|replying|relate|look forward|get)\s+to\W*$", re.I)
_AND_PRONOUN = re.compile(r"\b(and|or|with)\s+(me|him|her|them|us|you|it)\W*$", re.I)
# A turn that is only a discourse marker ("So.", "Actually.", "I mean.") announces what comes next.
_ONLY_MARKERS = re.compile(r"^\W*((so|well|actually|anyway|okay so|i mean|you see|the thing is|basically)\W*)+$", re.I)
_LOOK_BACK = 6  # words before the last one in which something may point back to it

_WORD = re.compile(r"[a-z']+")


def completeness(text: str | None) -> str:
    """'complete', 'incomplete' or 'unknown' for the words heard so far."""
    if not text or not text.strip():
        return "unknown"
    stripped = text.strip()
    words = _WORD.findall(stripped.lower())
    if not words:
        return "unknown"
    last = words[-1]
    if stripped.endswith(("...", "…", ",", "-", "—")) or last in OPEN:
        return "incomplete"
    if _ONLY_MARKERS.search(stripped) or _AND_PRONOUN.search(stripped):
        return "incomplete"
    if not stripped.endswith(("?", "!", ".")):
        return "incomplete" if last in MAYBE_OPEN | AUXILIARIES else "unknown"
    if last in AUXILIARIES and not _SUBJECT_THEN_AUX.search(stripped):
        return "incomplete"
    if last not in MAYBE_OPEN | AUXILIARIES:
        return "complete"
    if _ANNOUNCES.search(stripped) or (last == "to" and not _TO_AS_PREPOSITION.search(stripped)):
        return "incomplete"
    # Probably finished: answered after the middle wait, so a speaker who does go on has time to.
    if stripped.endswith("?"):
        return "unknown" if _WH_START.search(stripped) else "incomplete"
    return "unknown" if _POINTS_BACK.search(" ".join(words[-_LOOK_BACK - 1:-1])) else "incomplete"


class Endpointer:
    def __init__(self, *, complete_ms: float = 350, unknown_ms: float = 700, incomplete_ms: float = 1600) -> None:
        self.complete_ms, self.unknown_ms, self.incomplete_ms = complete_ms, unknown_ms, incomplete_ms

    def required_silence_ms(self, transcript: str | None) -> float:
        return {"complete": self.complete_ms, "incomplete": self.incomplete_ms}.get(
            completeness(transcript), self.unknown_ms)
