"""Behind the model: what crisis guidelines say never to say (method details, promises of secrecy,
cold refusals), and clauses that are not the assistant speaking to the person."""
from __future__ import annotations

import re

_FORBIDDEN = (
    ("method detail", re.compile(
        r"\b(lethal|fatal|deadly) (dose|amount)|\bhow many (pills|tablets)|\b\d+\s*(mg|milligrams?|pills|tablets)\b|"
        r"\b(noose|hang(ing)? yourself|slit|wrists?|jump (off|from)|high enough to|painless(ly)?|most effective way|"
        r"carbon monoxide|exhaust fumes|overdose on|cut deeper|where to cut|quickest way)\b", re.I)),
    ("promise of secrecy", re.compile(
        r"\b(i|we)( promise| swear)? (won'?t|will not|will never|never) tell (anyone|anybody|a soul|your)|"
        r"\bkeep (this|it|that) (a )?secret|\b(stays|just) between (you and me|us)|\bno one (will|needs to|has to) know|"
        r"\bpromise (not to|i won'?t) tell", re.I)),
    ("cold refusal", re.compile(
        r"\b(i'?m sorry,? but )?i (can'?t|cannot|am unable to|won'?t) (help|assist|provide|discuss|continue)( you)?( with)? (that|this)|"
        r"\bas an ai\b|\bi'?m (just )?an ai\b|\bi am not able to help", re.I)),
)


def forbidden(text: str) -> str | None:
    """Why this piece of a reply must not be spoken, or None."""
    for why, pattern in _FORBIDDEN:
        if pattern.search(text):
            return why
    return None


_LEAK = re.compile(r"\bthe person('?s)? (voice|is|are|sounds|feels|seems)\b|\b(voice|mood shift|stage|safety concern|need|tone|note)\s*:|\bemotion (unknown|sad|angry|happy|fearful)\b|"
                   r"\b(events|gender|age|style) unknown\b|\b(need|tone) is one of\b|"
                   r"\b(listen|comfort|reassure|calm|encourage|celebrate|inform|plan|safety), (listen|comfort|reassure|calm|encourage|celebrate|inform|plan|safety)\b", re.I)
_WORD = re.compile(r"[a-z']+")


def off_script(clause: str, user_text: str) -> str | None:
    """Why a clause is not the assistant speaking to the person: it reads out the note or the format,
    or it repeats the person's own words back as if it were them (small models do both)."""
    if _LEAK.search(clause):
        return "leaked note"
    words = _WORD.findall(clause.lower())
    if len(words) >= 3:
        user = _WORD.findall(user_text.lower())
        grams = {tuple(user[i:i + 3]) for i in range(len(user) - 2)}
        hits = sum(tuple(words[i:i + 3]) in grams for i in range(len(words) - 2))
        if hits / (len(words) - 2) >= 0.6:
            return "echo of the person's words"
    return None
