"""The crisis screen over a long call: ordinary turns, however heavy or idiomatic, must not add up to an
escalation, said plainly or in a flat voice; a crisis said late in the call still escalates when it is said.

The calls are written for these tests, not taken from the development set (which the bench scores).
"""
from __future__ import annotations

import json

import pytest

from benchmarks.safety import _long_calls
from dialogue.conversation import Conversation
from dialogue.safety import SafetyPolicy
from dialogue.safety.cases import VOICE_OF, load

ORDINARY_CALL = [
    "Okay so I finally finished the chapter I was telling you about, can I read you the last bit?",
    "The detective found the body by the canal at dawn, and nobody in the village would say a word.",
    "Sorry, my tea's gone cold. Anyway, I think the butler did it, he's far too calm.",
    "Work was awful today, honestly this commute is going to kill me one of these days.",
    "My manager wants the whole report redone by Friday. I could murder him, I swear.",
    "No, it's fine, I'll just stay late. I'm used to it.",
    "My mum rang, she's clearing out Grandad's shed and giving all his tools away to the neighbours.",
    "He died two years ago now. It still gets me sometimes, when I see his handwriting on things.",
    "We're scattering the last of his ashes at the lake in the spring, that's what he wanted.",
    "Oh and my phone is dead again, I'm on the laptop, so if I drop out that's why.",
    "I've been so tired lately, I just want to sleep for a week.",
    "I'm dying to go on holiday, we're looking at Portugal in June.",
    "I gave my old bike to my nephew, I never ride it since I got the car.",
    "Right, I'm done for tonight, I'm going to go and have a bath.",
    "Thanks for listening to me ramble. Goodbye for now, talk tomorrow.",
]

# The same kind of call, where a crisis is said only at the end.
LATE_CRISIS_CALL = ORDINARY_CALL[:10] + [
    "Honestly I've been sorting things out this week, making sure the cat has somewhere to go.",
    "I wrote letters to my sister and my mum, so they'll understand afterwards.",
    "I've got the pills saved up in the drawer and I'm going to take them tonight.",
]


@pytest.fixture(scope="module")
def policy():
    from dialogue.safety import RiskScorer
    from server.models import resolve

    return SafetyPolicy(scorer=RiskScorer.load(resolve("minilm")))


def _levels(policy, turns, voice=None):
    conv, levels = Conversation(), []
    for text in turns:
        conv.add_user(text, voice=VOICE_OF.get(voice) if voice else None)
        levels.append(policy.assess(conv).level)
        conv.add_assistant("I hear you. Tell me more.")
    return levels


@pytest.mark.parametrize("voice", [None, "flat", "sighing"])
def test_an_ordinary_long_call_never_escalates(policy, voice):
    levels = _levels(policy, ORDINARY_CALL, voice)
    alarms = [(t, lv) for t, lv in zip(ORDINARY_CALL, levels) if lv in ("elevated", "imminent")]
    assert not alarms, alarms


def test_the_same_ordinary_turns_repeated_do_not_add_up(policy):
    """A caller reading the same few lines over and over (the soak's LibriVox callers) is still ordinary."""
    turns = ORDINARY_CALL[1:3] * 6
    assert not {"elevated", "imminent"} & set(_levels(policy, turns, "flat"))


def test_a_crisis_said_late_in_a_long_call_escalates_when_it_is_said(policy):
    levels = _levels(policy, LATE_CRISIS_CALL)
    assert not {"elevated", "imminent"} & set(levels[:10]), levels
    assert levels[-1] == "imminent", levels


def test_a_case_file_names_where_a_long_call_turns(tmp_path):
    path = tmp_path / "calls.jsonl"
    line = {"id": "X-01", "turns": ["one", "two", "three"], "level": "elevated", "category": "suicide",
            "kind": "goodbye", "crisis_from": 2}
    path.write_text(json.dumps(line) + "\n")
    assert load(path)[0].crisis_from == 2
    path.write_text(json.dumps({**line, "crisis_from": 3}) + "\n")
    with pytest.raises(ValueError, match="crisis_from"):
        load(path)


def test_the_bench_counts_long_call_alarms_per_call_per_turn_and_against_the_turn_a_crisis_starts():
    row = lambda expected, alarms, crisis_from=None, asks=(): {"turns": 10, "expected": expected, "alarms": alarms,
                                                                "crisis_from": crisis_from, "asks": list(asks)}
    rows = [row("none", [], asks=[5]), row("none", [3, 4]), row("elevated", [7], 6), row("imminent", [2], 8),
            row("elevated", [], 5)]
    got = _long_calls(rows)
    assert got["ordinary_calls"] == 2 and got["ordinary_turns"] == 20
    assert got["ordinary_calls_escalated"] == 0.5 and got["escalations_per_100_ordinary_turns"] == 10.0
    assert got["direct_questions_per_100_ordinary_turns"] == 5.0
    assert got["crisis_calls"] == 3
    assert got["crisis_caught_in_time"] == pytest.approx(1 / 3, abs=1e-3)
    assert got["crisis_alarmed_early"] == pytest.approx(1 / 3, abs=1e-3)
    assert _long_calls([{**rows[0], "turns": 2}]) is None


def test_each_sensitivity_is_an_operating_point_of_the_same_scorer():
    from dialogue.safety import RiskScorer
    from dialogue.safety.scorer import Score
    from server.models import resolve

    path = resolve("minilm")
    default = RiskScorer.load(path)
    quiet, balanced, sensitive = (default.at(s) for s in ("quiet", "balanced", "sensitive"))
    assert quiet.thresholds["crisis"] > balanced.thresholds["crisis"] > sensitive.thresholds["crisis"]
    assert default.thresholds == balanced.thresholds  # the default
    assert RiskScorer.load(path, sensitivity="quiet").thresholds == quiet.thresholds
    between = Score(crisis=(quiet.thresholds["crisis"] + sensitive.thresholds["crisis"]) / 2, concern=0.99,
                    imminent=0.0, category="suicide", piece="...")
    assert sensitive.decide(between).escalate and not quiet.decide(between).escalate
    assert quiet.decide(between).level == "concern"  # what it does not escalate it still checks in on
    with pytest.raises(ValueError, match="loud"):
        RiskScorer.load(path, sensitivity="loud")
