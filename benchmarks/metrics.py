"""Small measures shared by the benchmarks: word error rate."""
from __future__ import annotations

import re


_NUMBERS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
            "8": "eight", "9": "nine", "10": "ten"}
_SPELLINGS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


def normalise(text: str) -> list[str]:
    """Lower case, no punctuation, hyphens split words, a few spellings unified ("Mr." = "mister", "4" = "four")."""
    text = re.sub(r"<[^>]*>|\([^)]*\)", " ", text.lower())  # transcript markup: <s>, (utterance-id)
    text = re.sub(r"[-_/]", " ", text)
    words = re.sub(r"[^a-z0-9' ]", " ", text).replace("'", "").split()
    return [_SPELLINGS.get(w, _NUMBERS.get(w, w)) for w in words]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference` after `normalise`; 0.0 when both are empty."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
