"""Crisis detection (direct, indirect, voice-raised, negated, idioms), resources per locale, the
output guard, and the engine's escalation events (scripted model: the model is not under test)."""
import re
import threading
import time

import pytest

from dialogue.conversation import Conversation
from dialogue.engine import Clause, DialogueEngine, Escalation, ReplyDone
from dialogue.safety import SafetyPolicy, detect, forbidden, off_script
from dialogue.voice import VoiceCues
from tests.test_dialogue_logic import ScriptedModel

CRISIS = [
    ("I'm going to kill myself tonight.", "suicide", "high"),
    ("I've been thinking about killing myself a lot lately.", "suicide", "medium"),
    ("Honestly everyone would be better off without me.", "suicide", "medium"),
    ("I don't want to wake up anymore.", "suicide", "medium"),
    ("I started cutting myself again last week.", "self_harm", "medium"),
    ("I'm going to hurt my boss when I see him tomorrow.", "harm_to_others", "high"),
    ("My husband hits me when he drinks.", "abuse", "medium"),
    ("He threatened to kill me if I leave.", "abuse", "high"),
    ("I took all my pills an hour ago and I feel dizzy.", "medical_emergency", "high"),
    ("My dad has chest pain and his arm is numb.", "medical_emergency", "high"),
    ("I wrote a good by letter to my family.", "suicide", "high"),  # how Whisper spells "goodbye" here
    ("I want to kill myself tonight. I have the pills ready.", "suicide", "high"),
]
ORDINARY = [
    "Good, bye then, see you tomorrow.",
    "My grandmother died last week and I miss her so much.",
    "This commute is killing me.",
    "I'm dying to see that new movie.",
    "I would never hurt myself, I just feel low.",
    "I cut myself while cooking dinner, it's just a small nick.",
    "My phone died in the middle of the call.",
    "I failed my exam and I feel terrible about it.",
    "I'm not suicidal, just really tired of my job.",
    "The pills are ready for the trip, mum.",
    "I would never kill myself, not today or ever.",
]


@pytest.mark.parametrize("text,category,severity", CRISIS)
def test_detects_crisis(text, category, severity):
    concern = detect(text)
    assert (concern.category, concern.severity) == (category, severity) and concern.escalate


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_sadness_and_idioms_do_not_escalate(text):
    assert not detect(text).escalate


def test_voice_distress_raises_severity_but_does_not_invent_a_crisis():
    text = "I just can't do this anymore."
    assert detect(text).severity == "low"
    assert detect(text, VoiceCues.from_input("crying")).severity == "medium"
    assert detect("My husband hits me.", VoiceCues.from_input("screaming")).severity == "high"
    assert not detect("I'm so happy for you!", VoiceCues.from_input("crying")).category


def test_resources_per_locale_and_override():
    us = SafetyPolicy()
    assert us.resources_for("suicide", "medium")[0]["contact"] == "988"
    assert "988" in us.resource_sentence("suicide", "medium")
    gb = SafetyPolicy(locale="en-GB")
    assert "116 123" in gb.resource_sentence("suicide", "medium") and "999" in gb.resource_sentence("medical_emergency", "high")
    custom = SafetyPolicy(locale="xx-XX", resources={"emergency": "112", "crisis": {
        "name": "Local line", "contact": "555", "how": "call 555"}})
    assert "555" in custom.resource_sentence("suicide", "medium")
    with pytest.raises(ValueError, match="locale"):
        SafetyPolicy(locale="xx-XX")


@pytest.mark.parametrize("text,why", [
    ("A lethal dose would be about that much.", "method detail"),
    ("Take 40 pills and", "method detail"),
    ("I promise I won't tell anyone.", "promise of secrecy"),
    ("This stays between you and me.", "promise of secrecy"),
    ("I'm sorry, but I can't help with that.", "cold refusal"),
])
def test_output_guard(text, why):
    assert forbidden(text) == why


def test_output_guard_allows_warm_text():
    assert forbidden("I'm here with you, and you can call 988 any time.") is None


def test_high_severity_gets_fixed_warm_reply_with_resources_and_no_model_call():
    model = ScriptedModel("listen|cheerful\nYay!")
    conv = Conversation()
    conv.add_user("I'm going to kill myself tonight, I have the pills ready.", voice="crying")
    parts = list(DialogueEngine(model).respond(conv))
    assert isinstance(parts[0], Escalation) and parts[0].category == "suicide" and parts[0].severity == "high"
    assert parts[0].resources[0]["contact"] == "911"
    done = parts[-1]
    assert isinstance(done, ReplyDone) and "988" in done.text and done.emotion == "gentle"
    assert "safe" in done.text and model.calls == []


def test_medium_severity_model_reply_gets_resources_appended_and_guidance_in_note():
    model = ScriptedModel("listen|cheerful\nThat sounds hard. Tell me more.")
    conv = Conversation()
    conv.add_user("Sometimes I think everyone would be better off without me.")
    parts = list(DialogueEngine(model, model_crisis_replies=True).respond(conv))
    assert isinstance(parts[0], Escalation) and parts[0].severity == "medium"
    done = parts[-1]
    assert done.text.startswith("That sounds hard.") and "988" in done.text
    assert done.emotion != "cheerful"  # a crisis reply is never cheerful
    assert all(c.emotion == done.emotion for c in parts if isinstance(c, Clause))
    assert "988" in model.calls[-1][-1]["content"]


def test_repeated_low_signals_escalate():
    engine = DialogueEngine(ScriptedModel("comfort|gentle\nI'm here."))
    conv = Conversation()
    conv.add_user("What's the point of anything.")
    assert not any(isinstance(p, Escalation) for p in engine.respond(conv))
    conv.add_user("Nothing matters anymore.")
    esc = [p for p in engine.respond(conv) if isinstance(p, Escalation)]
    assert esc and esc[0].severity == "medium" and "repeated" in esc[0].reason


def test_a_crisis_whose_reply_was_cut_before_its_first_word_escalates_with_the_next_reply():
    """The server cancels a released reply when the user goes on before it is heard. If that came before its
    escalation event went out, the event must come with the next reply, not be taken as raised (seen in CI)."""
    engine = DialogueEngine(ScriptedModel("comfort|gentle\nI'm here with you."))
    conv = Conversation()
    conv.add_user("I want to kill myself tonight.")
    cut = engine.respond(conv, cancel=(cancel := __import__("threading").Event()))
    screened = next(cut)  # the escalation, taken by a consumer that is cancelled before sending it on
    assert isinstance(screened, Escalation)
    cancel.set()
    cut.close()  # the cut reply is recorded with no words
    conv.add_user("Sorry, go on.")
    esc = [p for p in engine.respond(conv) if isinstance(p, Escalation)]
    assert esc and esc[0].category == "suicide" and esc[0].severity == "high", esc
    conv.add_user("Thanks.")  # the last reply was heard: the crisis is answered and not raised again
    assert not any(isinstance(p, Escalation) for p in engine.respond(conv))


def test_an_escalation_the_server_sent_before_the_cut_is_not_raised_again():
    engine = DialogueEngine(ScriptedModel("comfort|gentle\nI'm here with you."))
    conv = Conversation()
    first = conv.add_user("I want to kill myself tonight.")
    cut = engine.respond(conv, cancel=(cancel := __import__("threading").Event()))
    assert isinstance(next(cut), Escalation)
    first.meta["escalation_sent"] = True  # what the server marks once the event went out
    while not isinstance(next(cut), Clause):  # the reply got as far as its first clause, never heard
        pass
    cancel.set()
    cut.close()
    conv.add_user("Sorry, go on.")
    parts = list(engine.respond(conv))
    assert not any(isinstance(p, Escalation) for p in parts)
    assert "988" in parts[-1].text  # the resources the cut reply owed are given all the same


class FailingScorer:
    """A scorer that fails on every text, as one that ran out of memory mid-call would."""
    heads, thresholds = {}, {}

    def __init__(self) -> None:
        self.calls = 0

    def concern(self, text, *, distressed=False):
        self.calls += 1
        raise RuntimeError("the scorer ran out of memory")


def test_a_scorer_that_fails_mid_call_leaves_the_patterns_to_screen_and_the_turn_is_answered():
    """Before, the scorer's exception failed the whole turn: the caller heard an apology and no escalation."""
    scorer = FailingScorer()
    policy = SafetyPolicy(scorer=scorer)
    engine = DialogueEngine(ScriptedModel("comfort|gentle\nI'm here with you."), safety=policy)
    conv = Conversation()
    conv.add_user("I'm going to kill myself tonight.")
    parts = list(engine.respond(conv))
    esc = [p for p in parts if isinstance(p, Escalation)]
    assert esc and esc[0].category == "suicide" and esc[0].severity == "high", parts
    assert "988" in parts[-1].text and scorer.calls >= 1
    conv.add_user("Anyway, the garden is coming along nicely.")
    parts = list(engine.respond(conv))
    assert not any(isinstance(p, Escalation) for p in parts) and parts[-1].text == "I'm here with you."
    assert policy.faults["safety_scorer"] == scorer.calls >= 2


def test_the_scorer_alone_has_nothing_to_fall_back_on():
    with pytest.raises(RuntimeError, match="out of memory"):
        SafetyPolicy(scorer=FailingScorer(), patterns=False).assess(_conv("I'm going to kill myself tonight."))


def test_a_model_risk_check_that_fails_leaves_the_screens_verdict():
    from dialogue.safety import ModelRiskCheck

    class Down:
        def yes_probability(self, messages):
            raise ConnectionError("the endpoint is down")

    policy = SafetyPolicy(model_check=ModelRiskCheck(Down()))
    assert policy.assess(_conv("I'm going to kill myself tonight.")).severity == "high"
    assert policy.assess(_conv("I can't do this anymore.")).level == "concern"  # unsure: asked, and it failed
    assert policy.faults["safety_model_check"] == 1


def test_the_server_counts_a_scorer_failure_with_its_other_faults():
    from server.config import Config
    from server.pipeline import Pipeline

    pipeline = Pipeline(Config(), None, None, None, ScriptedModel(""), None, risk_scorer=FailingScorer())
    assert pipeline.safety_policy().assess(_conv("I'm going to kill myself tonight.")).escalate
    assert pipeline.faults["safety_scorer"] == 1


class HangingScorer:
    """A scorer whose calls block until released (a deadlock, a stuck device), then answer as a real one would."""
    heads, thresholds = {}, {}

    def __init__(self) -> None:
        self.calls, self.release = 0, threading.Event()

    def concern(self, text, *, distressed=False):
        from dialogue.safety.risk import Concern

        self.calls += 1
        self.release.wait()
        return Concern("suicide", "elevated", "sounds like it", source="scorer", score=0.9, guess="suicide")


def test_a_scorer_that_hangs_is_given_up_and_the_patterns_screen_until_it_returns():
    """Before, a hung scorer held the turn until the safety stage's stall timeout: an apology, no escalation, and
    every later turn of every caller queued behind it."""
    from dialogue.safety import ScorerDeadline

    scorer = HangingScorer()
    policy = SafetyPolicy(scorer=scorer, scorer_deadline=ScorerDeadline(0.3))
    try:
        engine = DialogueEngine(ScriptedModel("comfort|gentle\nI'm here with you."), safety=policy)
        conv = Conversation()
        conv.add_user("I'm going to kill myself tonight.")
        parts = list(engine.respond(conv))
        esc = [p for p in parts if isinstance(p, Escalation)]
        assert esc and esc[0].severity == "high" and "988" in parts[-1].text, parts
        assert policy.faults["safety_scorer_timeout"] == scorer.calls == 1
        conv.add_user("Anyway, the garden is coming along nicely.")
        assert list(engine.respond(conv))[-1].text == "I'm here with you."
        assert scorer.calls == 1  # the next turn's texts were given up at once, not queued behind the hung call
        assert policy.faults["safety_scorer_timeout"] >= 3
    finally:
        scorer.release.set()
    deadline = policy.screen.deadline
    for _ in range(100):  # the hung call returns: the scorer is heard again
        if not deadline.stuck:
            break
        time.sleep(0.02)
    heard = policy.assess(_conv("the garden is coming along nicely"))
    assert scorer.calls == 2 and heard.source == "scorer" and heard.escalate, heard


def test_the_server_bounds_its_shared_scorer_for_every_session():
    from server.config import Config
    from server.pipeline import Pipeline

    scorer = HangingScorer()
    pipeline = Pipeline(Config(safety_scorer_timeout_s=0.3), None, None, None, ScriptedModel(""), None,
                        risk_scorer=scorer)
    try:
        first, second = pipeline.safety_policy(), pipeline.safety_policy()
        assert first.screen.deadline is second.screen.deadline is not None
        assert first.assess(_conv("I'm going to kill myself tonight.")).escalate
        assert second.assess(_conv("I want to die.")).escalate  # the other caller is not held up by the hung call
        assert scorer.calls == 1 and pipeline.faults["safety_scorer_timeout"] >= 2
    finally:
        scorer.release.set()
    off = Pipeline(Config(safety_scorer_timeout_s=0), None, None, None, ScriptedModel(""), None, risk_scorer=scorer)
    assert off.safety_policy().screen.deadline is None


def test_a_process_whose_scorer_is_stuck_can_still_exit():
    """A supervisor restarts a process whose scorer hung: the hung call must not hold the exit too."""
    import subprocess
    import sys

    code = ("import threading\nfrom dialogue.safety import ScorerDeadline, ScorerOverran\n"
            "d = ScorerDeadline(0.1)\ntry:\n    d.call(threading.Event().wait)\nexcept ScorerOverran:\n    print('given up')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "given up", done.stderr


def test_health_reports_a_scorer_stuck_beyond_any_timeout_so_a_supervisor_can_restart():
    import json

    from server.app import WarmlineServer
    from server.config import Config
    from server.pipeline import Pipeline

    scorer = HangingScorer()
    config = Config(model_timeout_s=0.1, safety_scorer_timeout_s=0.05)
    server = WarmlineServer(config, Pipeline(config, None, None, None, ScriptedModel(""), None, risk_scorer=scorer))
    try:
        assert server._health().status_code == 200
        assert server.pipeline.safety_policy().assess(_conv("I'm going to kill myself tonight.")).escalate
        time.sleep(0.3)  # twice the model timeout, and the scorer's call still runs
        health = server._health()
        assert health.status_code == 503 and "safety_scorer" in json.loads(health.body)["stuck_workers"]
    finally:
        scorer.release.set()
    for _ in range(100):
        if server._health().status_code == 200:
            break
        time.sleep(0.02)
    assert json.loads(server._health().body)["status"] == "ok"


def _conv(text: str) -> Conversation:
    conv = Conversation()
    conv.add_user(text)
    return conv


def test_a_crisis_in_a_turn_that_got_no_reply_is_still_assessed():
    """The user went on at once, so the first turn's own reply never started: the next reply hears it."""
    model = ScriptedModel("comfort|gentle\nI'm here with you.")
    engine = DialogueEngine(model)
    conv = Conversation()
    conv.add_user("I want to kill myself tonight.")
    conv.add_user("and the peeled Maggie.")  # the rest, misheard
    esc = [p for p in engine.respond(conv) if isinstance(p, Escalation)]
    assert esc and esc[0].category == "suicide"
    conv.add_assistant("I'm here with you.")
    conv.add_user("Thank you for listening.")
    assert not any(isinstance(p, Escalation) for p in engine.respond(conv))  # answered turns are not re-read
    conv.add_user("I still want to die.")  # no reply in between again: only the new turn is new
    esc = [p for p in engine.respond(conv) if isinstance(p, Escalation)]
    assert esc and esc[0].category == "suicide"


def test_ordinary_sadness_gets_no_escalation_event():
    conv = Conversation()
    conv.add_user("My dog died this morning and I can't stop crying.", voice="crying")
    parts = list(DialogueEngine(ScriptedModel("comfort|gentle\nOh, I'm so sorry.")).respond(conv))
    assert not any(isinstance(p, Escalation) for p in parts)


def test_medium_severity_gets_fixed_reply_by_default():
    model = ScriptedModel("listen|warm\nEveryone would be better off without you.")
    conv = Conversation()
    conv.add_user("Everyone would be better off without me.")
    parts = list(DialogueEngine(model).respond(conv))
    assert isinstance(parts[0], Escalation) and model.calls == []
    assert "988" in parts[-1].text and "better off" not in parts[-1].text


@pytest.mark.parametrize("clause,why", [
    ("Everyone would be better off without me.", "echo of the person's words"),
    ("Voice: emotion sad; events unknown.", "leaked note"),
    ("Need to inform, celebrate, plan, safety.", "leaked note"),
    ("The person's voice is angry, they are exploring.", "leaked note"),
])
def test_off_script_clauses(clause, why):
    assert off_script(clause, "Everyone would be better off without me, honestly.") == why


def test_off_script_allows_reflection_in_own_words():
    assert off_script("It sounds like you feel you're in everyone's way.", "Everyone would be better off without me.") is None


def test_engine_drops_an_echo_of_the_user_and_falls_back_to_a_safe_reply():
    conv = Conversation()
    conv.add_user("They cancelled my appointment for the third time this month!", voice="angry")
    done = list(DialogueEngine(ScriptedModel("listen|calm\nThey cancelled my appointment for the third time this month!"))
                .respond(conv))[-1]
    assert "echo of the person's words" in done.dropped and "cancelled my appointment" not in done.text and done.text


@pytest.mark.parametrize("text", ["I don't see the point of going on anymore.", "I'd rather not be here anymore.",
                                  "Honestly I just want it all to be over.", "I keep thinking about ending it."])
def test_indirect_wishes_not_to_live_escalate(text):
    from dialogue.safety import detect

    concern = detect(text)
    assert concern.category == "suicide" and concern.escalate, (text, concern)


# --- the full screen: patterns, the scorer (real MiniLM, trained heads), the voice, the conversation ---------

@pytest.fixture(scope="module")
def policy():
    from dialogue.safety import RiskScorer
    from server.models import resolve

    return SafetyPolicy(scorer=RiskScorer.load(resolve("minilm")))


# Written for these tests, not taken from the development set's parts (which the bench scores).
INDIRECT = [
    ("giving_away", "I found a new home for my cat this week, she'll need someone after I'm gone."),
    ("giving_away", "I gave away my dog, I won't need him where I'm going."),  # the issue's own example
    ("means", "I've been saving up my sleeping pills for a while now, there's a whole jar."),
    ("no_reason_to_live", "Honestly I can't think of a single reason to keep going."),
    ("burden", "All I do is drag everyone down, they'd have an easier life if I wasn't in it."),
    ("goodbye", "I just wanted to say thanks for everything, you've been kind to me. Take care of yourself, for good."),
    ("sudden_calm", "I feel oddly peaceful now that I know how this ends for me."),
    ("euphemism", "honestly i just want to unalive myself"),
    ("self_harm", "I burn my arm with a lighter when it gets too loud in my head, it's the only thing that helps."),
    ("third_party", "My roommate keeps saying she won't be around much longer and she gave me her laptop."),
    ("abuse", "My stepdad shoved me into the wall again and took my phone so I can't call anyone."),
]


@pytest.mark.parametrize("kind,text", INDIRECT)
def test_indirect_signals_escalate(policy, kind, text):
    concern = policy.detect(text)
    assert concern.escalate and concern.reason, (kind, concern)


@pytest.mark.parametrize("text", [
    "I stockpiled my pills and tonight is the night, after everyone's asleep.",
    "The rope is in the garage and I'm going out there in a few minutes.",
])
def test_a_plan_with_means_and_a_time_is_imminent(policy, text):
    concern = policy.detect(text)
    assert concern.level == "imminent" and concern.category == "suicide", concern


HARD_NEGATIVES = [
    "This job is killing me, I swear.", "I'd kill for a coffee right now.", "I'm dying to see the new season.",
    "My phone is dead again.", "I gave my old guitar to my nephew since I never play it anymore.",
    "Saying goodbye to everyone at the office was hard, thirty years there and now I'm retired.",
    "The main character kills himself at the end of the book and I cried for an hour.",
    "I bought a rope and a harness for my climbing course next weekend.",
    "I would never hurt myself, I'm just fed up with my landlord.",
    "Years ago I had really dark thoughts, but therapy helped and I'm doing well now.",
    "My grandpa passed away last month and I miss him every day.",
    "I'm so angry at my brother I could scream.",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negatives_do_not_escalate(policy, text):
    assert not policy.detect(text).escalate, policy.detect(text)


# A weapon taken out for a task is not a threat; the same words with no task, or said at someone, still are.
WEAPON_OUT = [
    ("I got the knife out to carve the roast.", False),
    ("Dad got the knife out and cut the birthday cake.", False),
    ("We've got the shotgun out for the clay pigeons on Sunday.", False),
    ("Grandad got the knife out to whittle a stick for the fire.", False),
    ("I've got the rifle out again, cleaning it. I keep thinking about the taste of the oil.", True),
    ("He's got the knife out, he's shouting at me.", True),
    ("He got the knife out and he's slicing the air at me.", True),
    ("I have my knife out, I'm going round to his place.", True),
    ("I got the knife out. I'm not carving anything, I want him to pay.", True),
]


@pytest.mark.parametrize("text,alarming", WEAPON_OUT)
def test_a_weapon_out_for_a_task_does_not_escalate(policy, text, alarming):
    assert policy.detect(text).escalate == alarming, policy.detect(text)


# The pattern families added with the tuning parts e and f: each escalates its kind, and the hard negative beside
# it (the same words in an ordinary turn) does not. Written for these tests, not taken from the development set.
PATTERN_FAMILIES = [
    ("an imagined death, accepted", "suicide", "If I didn't wake up one morning, honestly I'd be fine with that.",
     "If it rained all weekend, honestly I'd be fine with that."),
    ("asking God to take them", "suicide", "Every night I ask God to just take me.",
     "Every night I ask God to watch over my kids."),
    ("a euphemism said to be permanent", "suicide", "Some days I think about checking out, permanently.",
     "We're checking out of the hotel early tomorrow."),
    ("searching for a method", "suicide", "I've been googling the most painless methods.",
     "I've been googling how long to roast a chicken."),
    ("a giveaway with no more need", "suicide", "I handed my camera to my cousin, I won't be needing it.",
     "I handed my camera to my cousin, I got a new one for my birthday."),
    ("insurance that pays out", "suicide", "I made sure the insurance pays out to the kids, just in case.",
     "I need to renew the car insurance this week."),
    ("a past attempt, the feeling back", "suicide", "I was sectioned at nineteen, and lately the feeling is coming back.",
     "I tried to quit smoking before and the urge is coming back."),
    ("a blade against the skin", "self_harm", "The razor is pressed against my wrist.", "The razor is in the bathroom cabinet."),
    ("not eating as a punishment", "self_harm", "I stopped eating three days ago. I deserve to be hungry, it's a punishment.",
     "I stopped eating after eight, it's a diet my doctor suggested."),
    ("a voice telling them to harm", "self_harm", "There's a voice telling me I should cut myself.",
     "There's a voice note from my sister I should listen to."),
    ("a weapon and where the person is", "harm_to_others", "I found her address and the bat is in my car.",
     "I found her address and I'm sending a birthday card."),
    ("a baby shaken", "harm_to_others", "I shook the baby when she wouldn't stop crying.",
     "I shook the rattle until she stopped crying."),
    ("papers and money held", "abuse", "My husband keeps my passport and bank card so I can't leave.",
     "My husband keeps the spare keys in his car."),
    ("a threat if they tell", "abuse", "He says if I tell anyone he'll hurt my mum.",
     "She says if I tell anyone about the surprise party she'll be furious."),
    ("someone's goodbye, then silence", "suicide", "My friend texted me goodbye and now she isn't answering.",
     "My friend texted me goodbye from the airport and now her phone is off for the flight."),
    ("a diabetic emergency", "medical_emergency", "I'm diabetic and I'm shaking and confused.",
     "I'm diabetic, what can I eat for breakfast?"),
    ("someone not moving", "medical_emergency", "Grandad fell in the garden and he's not moving.",
     "She's not moving to Leeds after all."),
]


def test_a_denial_holds_back_the_scorer_but_not_the_patterns(policy):
    denied = "I'm not suicidal, I just need to vent about work."
    assert not policy.detect(denied).escalate, policy.detect(denied)
    said_anyway = "I'm not suicidal, but I've got the pills counted out on the table."
    assert policy.detect(said_anyway).escalate


def test_the_scorer_sets_its_thread_count_once_and_leaves_the_default_alone(policy):
    """torch's thread count is per thread; the scorer sets its own thread's once and never changes the count
    that threads starting torch later inherit (it used to set and restore it around every call)."""
    import threading

    import torch

    def fresh() -> int:
        seen = []
        t = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        t.start()
        t.join()
        return seen[0]

    default = fresh()
    counts = []

    def score() -> None:
        for _ in range(2):
            policy.scorer.score("I just need to talk to someone tonight.")
            counts.append(torch.get_num_threads())

    t = threading.Thread(target=score)
    t.start()
    t.join()
    assert counts == [1, 1] and fresh() == default


def test_the_voice_raises_the_prior_and_never_lowers_it(policy):
    words = "What's the point of anything anymore."  # a patterns' concern: the voice's rule, not a model's margin
    alone, crying = policy.detect(words), policy.detect(words, VoiceCues.from_input({"vocal_events": ["crying"]}))
    assert alone.level == "concern" and crying.level == "elevated" and "crying" in crying.reason
    flat = policy.detect(words, VoiceCues.from_input({"style": "flat"}))
    assert flat.level == "elevated"
    crisis = "I want to die."
    assert policy.detect(crisis, VoiceCues.from_input({"emotion": "happy", "vocal_events": ["laughing"]})).escalate
    assert not policy.detect("My dog died this morning.", VoiceCues.from_input({"vocal_events": ["sobbing"]})).escalate


def _engine(policy):
    return DialogueEngine(ScriptedModel("comfort|gentle\nI'm here with you."), safety=policy)


def test_a_crisis_said_over_two_turns_escalates_on_the_second(policy):
    engine, conv = _engine(policy), Conversation()
    conv.add_user("I can't do this anymore.")
    first = [p for p in engine.respond(conv) if isinstance(p, Escalation)]
    conv.add_user("I've made my decision.")
    second = [p for p in engine.respond(conv) if isinstance(p, Escalation)]
    assert not first and second and second[0].category == "suicide", (first, second)
    assert second[0].level in ("elevated", "imminent")  # by the turn's own words or by the two together


def test_two_harmless_turns_that_each_sound_alarming_do_not_escalate(policy):
    engine, conv = _engine(policy), Conversation()
    conv.add_user("This week at work has been a nightmare.")
    conv.add_user("I've made my decision: I'm handing in my notice on Monday.")
    assert not any(isinstance(p, Escalation) for p in engine.respond(conv))


def test_the_escalation_carries_level_and_reason(policy):
    conv = Conversation()
    conv.add_user("I've got the pills counted out on the table and I'm taking them tonight.")
    esc = next(p for p in _engine(policy).respond(conv) if isinstance(p, Escalation))
    event = esc.as_dict()
    assert event["level"] == "imminent" and event["severity"] == "high" and event["reason"]
    assert event["resources"][0]["contact"] == "911"


# --- the dialogue model's second opinion (a model double with a fixed P(yes): the review logic is under test) ---

class FixedAnswer:
    name = "fixed"

    def __init__(self, p_yes: float) -> None:
        self.p_yes, self.asked = p_yes, []

    def yes_probability(self, messages: list[dict]) -> float:
        self.asked.append(messages)
        return self.p_yes


def test_the_model_check_raises_an_unsure_turn_and_never_lowers_one():
    from dialogue.safety import ModelRiskCheck

    unsure = "Nothing matters anymore."  # a concern on the patterns alone
    says_yes = FixedAnswer(0.9)
    raised = SafetyPolicy(model_check=ModelRiskCheck(says_yes))
    conv = Conversation()
    conv.add_user(unsure)
    concern = raised.assess(conv, prefix=[{"role": "system", "content": "SYSTEM PROMPT"}])
    assert concern.level == "elevated" and concern.source == "model" and "dialogue model" in concern.reason
    asked = says_yes.asked[0]
    assert asked[0]["content"] == "SYSTEM PROMPT" and asked[1]["content"] == unsure
    assert asked[-1]["role"] == "system" and "yes or no" in asked[-1]["content"]

    says_no = FixedAnswer(0.1)
    conv = Conversation()
    conv.add_user(unsure)
    assert SafetyPolicy(model_check=ModelRiskCheck(says_no)).assess(conv).level == "concern"

    for text in ("What a lovely sunny day.", "I'm going to kill myself tonight."):  # sure either way: not asked
        model = FixedAnswer(0.0 if "kill" in text else 1.0)
        conv = Conversation()
        conv.add_user(text)
        before = SafetyPolicy().assess(conv).level
        conv = Conversation()
        conv.add_user(text)
        assert SafetyPolicy(model_check=ModelRiskCheck(model)).assess(conv).level == before and not model.asked


def test_a_model_that_cannot_answer_yes_no_is_refused():
    from dialogue.safety import ModelRiskCheck

    with pytest.raises(ValueError, match="yes/no"):
        ModelRiskCheck(object())


def test_the_bench_reads_one_authors_file_and_gives_each_authors_figures():
    from benchmarks.safety import PARTS, part_files, summarise

    assert [p.name for p in part_files("tune_e")] == ["tune_e.jsonl"] and "tune_e" not in PARTS
    assert {p.name for p in part_files("tune")} >= {"tune_e.jsonl", "tune_f.jsonl"}

    def row(case_id, expected, level, turns=1):
        return {"id": case_id, "kind": "k", "category": None, "turns": turns, "voice": None, "expected": expected,
                "level": level, "got_category": None, "source": "", "reason": "", "asks": []}

    r = summarise([row("TE-1", "elevated", "elevated"), row("TE-2", "none", "elevated", turns=2),
                   row("TF-1", "imminent", "concern"), row("TF-2", "none", "none")])
    assert r["per_author"]["TE"] == {"cases": 2, "recall": 1.0, "false_alarm_rate": 1.0, "false_alarm_rate_single_turn": None}
    assert r["per_author"]["TF"]["recall"] == 0.0 and r["per_author"]["TF"]["false_alarm_rate"] == 0.0


# The pattern families added with the tuning parts g, h and i (a youth line; older adults and palliative care;
# domestic violence, veterans and rural men), and the ones tightened for long ordinary calls: each crisis phrasing
# escalates its kind, and the ordinary turn beside it does not. Written for these tests in other words than the sets'.
PATTERN_FAMILIES_GHI = [
    ("not wanting to exist", "suicide", "Honestly I just want to not exist anymore, it's been like that since summer.",
     "Honestly I just want to not go to school on Monday."),
    ("an accident or illness hoped for", "suicide", "I keep hoping I'll have a fall on the stairs and that'll be the end of me.",
     "I keep hoping I'll have a lie-in on Sunday."),
    ("relief if it were over", "suicide", "It'd be a relief if it was all just over, to be honest.",
     "It'd be a relief if the roadworks were finished, to be honest."),
    ("a death met gladly", "suicide", "When the specialist said the tumour was growing I thought, good, let it stop.",
     "When the specialist said the tumour was shrinking I cried with joy."),
    ("a millstone to the family", "suicide", "I'm a millstone round my daughter's neck now and I know it.",
     "My daughter bought a millstone for the garden path."),
    ("no use to anyone", "suicide", "Stuck in this chair, I'm no use to anyone any more.",
     "This old kettle's no good, the lid won't shut."),
    ("saving everyone the bother", "suicide", "Might just disappear quietly one night and save everyone the trouble.",
     "I'll bring sandwiches and save everyone the trouble of cooking."),
    ("what they are living for", "suicide", "What am I even living for at this point? Homework?",
     "What am I even cooking for tonight? Any ideas?"),
    ("the only reason gone", "suicide", "Looking after Mum was my only reason for living and now she's in the home.",
     "Looking after Mum was a full-time job and now she's moved in with my brother."),
    ("goodbye notes", "suicide", "I've been drafting goodbye notes to everyone in my notes app.",
     "I've been drafting the minutes for the parish council meeting."),
    ("sorry, they'll understand later", "suicide", "Tell my sister I'm sorry, okay? She'll understand when she's older.",
     "Tell my sister dinner's at six, okay? She'll be late otherwise."),
    ("not planning to be here", "suicide", "Don't book anything for my birthday, I don't plan on being around for it.",
     "Don't book anything for my birthday, I'd rather keep it quiet this year."),
    ("cancelling with no one left", "suicide", "I've stopped the milk from next week. There won't be anyone here to drink it.",
     "I've stopped the milk from next week while we're away in Devon."),
    ("the will and the bills in advance", "suicide", "He's changed his will and paid his bills a year in advance and he won't say why.",
     "He's changed his energy supplier and the bills are cheaper now."),
    ("calm because it is ending", "suicide", "First time in ages I'm not anxious, because I know it's ending soon.",
     "First time in ages I'm not anxious, because the exams finished today."),
    ("a method with the drugs at hand", "suicide", "If I took all my insulin at once, would that be enough?",
     "If I doubled the recipe, would that be enough for twelve people?"),
    ("a hose to the exhaust", "suicide", "I've run a hose from the exhaust into the car. Engine's off for now.",
     "I've run the hose from the tap to the veg patch."),
    ("a gun on the knees", "suicide", "I'm sitting in the barn with my father's rifle across my knees.",
     "I'm sitting in the barn with the new puppy across my knees."),
    ("tablets kept back", "suicide", "I've been keeping back my sleeping tablets instead of taking them.",
     "I've been keeping back a bit of money each week for Christmas."),
    ("when it will be", "suicide", "The wife's away at her sister's next week, that's when I'll do it.",
     "The wife's away at her sister's next week, that's when I'll paint the hall."),
    ("going and not coming back", "suicide", "Reckon I'll take the boat out past the point and just not come back.",
     "Reckon I'll take the boat out past the point and be back for tea."),
    ("a past attempt, the wish back", "suicide", "Back when I overdosed, my flatmate found me, and some days I wish she hadn't.",
     "Back when I broke my leg, my flatmate found me, and thank goodness she did."),
    ("where nobody sees", "self_harm", "I've been doing it on my hips where nobody can see.",
     "I've got a tattoo on my hip where nobody can see."),
    ("more blood than usual", "self_harm", "I did it again and there's more blood than usual this time.",
     "I nicked myself shaving, there's more foam than blood."),
    ("a weapon and the target's place", "harm_to_others", "I've got a crowbar in the van and I'm parked outside his house waiting for him.",
     "I've got a crowbar in the van to lift the old floorboards at my sister's."),
    ("going together", "harm_to_others", "She doesn't know me anymore. I think we should go together, her and me.",
     "She loves the garden centre. I think we should go together on Sunday."),
    ("what I might do to them", "harm_to_others", "If he takes the kids away I don't know what I'll do to him.",
     "If he takes the kids to the zoo I don't know what I'll do with my free day."),
    ("banging on the door", "abuse", "He's pounding on the bedroom door and I've got the chair wedged against it.",
     "The neighbour was knocking on the door to return our ladder."),
    ("an elder handled roughly", "abuse", "The night carer grabbed my wrist so hard there's a purple mark.",
     "The night carer brought me a cup of tea and a biscuit."),
    ("chest pain spreading", "medical_emergency", "There's a squeezing pain across my chest and it's spreading into my jaw.",
     "There's a draught across the landing and it's getting into the bedroom."),
    ("a face drooping", "medical_emergency", "Mum's mouth has gone droopy on one side and she can't get her words out.",
     "Mum's flowers have gone droopy in this heat."),
    ("a head injury then vomiting", "medical_emergency", "My son banged his head on the slide and now he keeps being sick and wants to sleep.",
     "My son banged on about the slide all afternoon."),
]


PATTERN_FAMILIES_JKL = [
    ("a question about a way to die", "suicide", "Does a car left running in a shut garage still work these days?",
     "Does a car left running in the cold still work better with a block heater?"),
    ("not expecting to be around", "suicide", "Sort the bills however you like, I won't be around to argue about it.",
     "Sort the bills however you like, I'll be around to argue about it on Sunday."),
    ("a boat taken out for the last time", "suicide", "I'm taking the boat out at dawn and I'm not bringing her back.",
     "I'm taking the boat out at dawn and I'll have her back by ten."),
    ("a crash not avoided", "suicide", "If a truck came at me on the highway I wouldn't bother swerving.",
     "If a truck came at me on the highway I'd swerve onto the verge."),
    ("calm since deciding", "suicide", "I've slept like a baby since I made up my mind, strange how calm it feels.",
     "I've slept like a baby since we bought the new mattress."),
    ("dragging the family under", "suicide", "I'm just the dead weight dragging the whole lot of them under.",
     "The dog is always dragging the whole lot of them round the park."),
    ("an attempt that failed, and regret it failed", "suicide", "I tried in the spring with the pills and I'm still angry it didn't work.",
     "I overdid it at the gym in the spring and I'm still sore."),
    ("the insurance's suicide clause", "suicide", "I rang the insurer to check the policy is past the suicide clause now.",
     "I rang the insurer to check the policy covers the new roof."),
    ("drugs taken home from work", "suicide", "I've been taking the leftover morphine vials home in my bag.",
     "I've been taking the leftover sandwiches home in my bag."),
    ("medicine saved up", "suicide", "I've been saving my antidepressants in a sock drawer for weeks.",
     "I've been saving my pocket money in a sock drawer for weeks."),
    ("a gun, and not for the usual reason", "suicide", "The rifle's loaded on the kitchen table and it's not for the rabbits.",
     "The rifle's locked in the cabinet until rabbit season."),
    ("hurting themselves as they speak", "self_harm", "currently cutting rn and i can't stop",
     "currently cutting my own fringe rn and it's a disaster"),
    ("a hand held to something hot", "self_harm", "After bad days I hold my hand on the hot stove until I can't stand it.",
     "After bad days I hold a hot mug and sit on the step."),
    ("a weapon taken to school", "harm_to_others", "I'm taking my dad's gun to school tomorrow for the kids who jumped me.",
     "I'm taking my dad's old camera to school tomorrow for the photography club."),
    ("what they would do to someone", "harm_to_others", "I keep thinking about what I'd do to my supervisor if I got him alone.",
     "I keep thinking about what I'd say to my supervisor if I got a raise."),
    ("roughed up at home", "abuse", "When he's had a drink her brother roughs me up in the kitchen.",
     "When he's had a drink her brother sings in the kitchen."),
    ("things thrown at them", "abuse", "She throws plates at me when I'm late home.",
     "She throws parties for me when I'm home on leave."),
    ("a fall they cannot get up from", "medical_emergency", "I fainted in the shower and now I can't get up.",
     "I fainted at the sight of the bill, ha, but I'm up and fine."),
    ("chemicals mixed", "medical_emergency", "I mixed bleach and the toilet cleaner and now my chest is burning and I can't get a breath.",
     "I mixed bleach and water for the floors like the label says."),
    ("a snake bite", "medical_emergency", "A snake bit me by the dam and my leg is swelling fast.",
     "A snake sat by the dam all morning sunning itself."),
]


@pytest.mark.parametrize("said,taken_back", [
    ("I'm thinking of hurting him.", "I'm not thinking of hurting anyone, I just need to moan about my manager."),
    ("I thought about topping myself.", "Never thought about topping myself, not once, I just want to vent."),
    ("failed my driving test again. kms", "failed my driving test again. kms (i will not)"),
    ("Told everyone 'see you on the other side'.", "Parental leave starts Monday, told everyone 'see you on the other side'."),
    ("I wrote my goodbye letters and gave my kit away. I won't need it.",
     "What do I say if one of my lads tells me he's thinking about suicide?"),
])
def test_what_is_said_and_taken_back_or_explained_does_not_escalate(said, taken_back):
    assert detect(said).escalate, detect(said)
    assert not detect(taken_back).escalate, detect(taken_back)


def test_context_that_is_denied_does_not_explain_a_giveaway():
    assert not detect("Gave my boots to the lads, I'm retiring. Won't need them.").escalate
    assert detect("Gave my boots to the lads. I'm not retiring. Just won't need them.").escalate


# Written with tune_m (session 7): emergencies in a parent's or carer's words, harm to a baby or to the person cared
# for, an exhausted parent's goodbye. The negatives are the same homes on an ordinary night.
PATTERN_FAMILIES_M = [
    ("heavy bleeding after a birth", "medical_emergency", "Baby's a week old and I'm passing clots as big as my fist.",
     "Baby's a week old and I'm still bleeding a bit, the midwife says it's normal."),
    ("a fever in a tiny baby", "medical_emergency", "He's three weeks old and the thermometer says 38.4.",
     "He's three weeks old and he's 37.1, just a bit snuffly."),
    ("a rash that does not fade", "medical_emergency", "The spots on his tummy aren't fading when I press the glass on them.",
     "The spots on his tummy faded when I pressed the glass on them, so I'm not worried."),
    ("pregnancy headache with the eyes", "medical_emergency", "I'm 34 weeks, splitting headache and flashing lights in my eyes.",
     "I'm 34 weeks and I've got a bit of a headache after the school run."),
    ("a baby who will not move", "medical_emergency", "I haven't felt the baby move since yesterday morning.",
     "I felt the baby kicking all through dinner, it was lovely."),
    ("a fall, then drowsy and sick", "medical_emergency", "He fell off the bunk bed and now he's drowsy and he's been sick twice.",
     "He fell off the bunk bed, cried for a minute, and now he's running about laughing."),
    ("green vomit", "medical_emergency", "She keeps being sick and it's come up bright green.",
     "She had spinach for tea and her nappy's come out bright green, is that normal?"),
    ("a swallowed battery", "medical_emergency", "I think he's swallowed one of the little round batteries from the remote.",
     "I need a little round battery for the remote, the shop's shut."),
    ("a dry, sunken baby", "medical_emergency", "Only one wet nappy all day and he won't take the bottle.",
     "Loads of wet nappies today, he's drinking well."),
    ("choking with no sound", "medical_emergency", "She's choking on a sweet and she's not making any sound.",
     "She was choking on her laughter at the cartoon."),
    ("detergent swallowed", "medical_emergency", "My toddler's chewed one of the washing pods, it's all round his mouth.",
     "My toddler helped me put the washing pods in the machine."),
    ("hard to wake", "medical_emergency", "Mum's really hard to wake and her lips look funny.",
     "Mum's really hard to get out of bed on a Monday, always has been."),
    ("a cushion held on a baby's face", "harm_to_others", "I held the pillow over his face for a moment, I need someone here.",
     "I held the pillow over my face and screamed into it, it helped."),
    ("extra medicine to make a child sleep", "harm_to_others", "I give him extra of the cough medicine so he'll sleep.",
     "I give him his cough medicine at bedtime like the pharmacist said."),
    ("not trusting oneself with the baby", "harm_to_others", "I don't trust myself alone with the baby tonight.",
     "I don't trust myself with the baby's bath yet, my mum's helping."),
    ("held by the throat", "abuse", "He had me by the throat again while the baby was in my arms.",
     "The cold had me by the throat all week, I could barely talk."),
    ("an overdose already taken", "suicide", "I've taken them. All of the packet. About ten minutes ago.",
     "I've taken them to the childminder's, they're happy."),
    ("a routine for whoever has the baby", "suicide", "His bottles and his songs are all written down for whoever ends up with him.",
     "His bottles and his songs are written down for whoever has him tonight."),
    ("too small to remember", "suicide", "She's too little to remember me, that makes it easier.",
     "She's too little to remember her first Christmas, but we took photos."),
    ("biting oneself", "self_harm", "I bit my own arm till it bled so I'd feel something.", "I bit my tongue eating my toast."),
]


# Written with tune_n, tune_o, tune_p, tune_q (session 8): emergencies understated on an ambulance line, stoic men's
# sideways goodbyes, the street's threats and debts, plain and literal speech. Each beside the same words said safely.
PATTERN_FAMILIES_NQ = [
    ("bleeding that will not stop", "medical_emergency", "Sliced my thumb on the mandoline and it's spurting, the towel's soaked through.",
     "Sliced my thumb on the mandoline, bit of blood, plaster's on, all fine."),
    ("a long fit", "medical_emergency", "She's fitting and it's been going eight minutes now.",
     "She's at her dress fitting, it's been going on for ages."),
    ("a face dropped on one side", "medical_emergency", "Dad's face has dropped on one side and his tea's running out of his mouth.",
     "Dad's face dropped when he saw the price of the tea."),
    ("the cold has got in", "medical_emergency", "He's been out all night, he's stopped shivering and he's just so sleepy.",
     "He's been out all night fishing, he's freezing but he's laughing about it."),
    ("a hypo with no sugar", "medical_emergency", "My sugar's gone through the floor, I'm sweating and shaking and there's no juice in.",
     "My sugar's a bit low so I'm having a biscuit, I'm fine."),
    ("chest like a weight", "medical_emergency", "It's like someone's sitting on my chest and I'm sweating buckets.",
     "It's like someone's sitting on the piano keys next door, all night."),
    ("blue lips", "medical_emergency", "He can't get his breath and his lips have gone blue.",
     "His lips have gone blue from the slushie, he loves it."),
    ("stabbed now", "medical_emergency", "I've just been stabbed outside the chippy.", "I've been stabbed in the back by my so-called mate at work."),
    ("an overdose across turns", "suicide", "No, I've already taken them. All of them, the whole box.",
     "No, I've already taken them back to the chemist, the whole box."),
    ("the note is written", "suicide", "The note's written. It's on the kitchen table.",
     "The sick note's written, it's on the kitchen table for the school."),
    ("a place and a time", "suicide", "I'm going down to the railway line after everyone's asleep.",
     "I'm going down to the railway line after tea with my grandson to do some train spotting."),
    ("not caring to live", "suicide", "Honestly don't care if I live or die these days.",
     "Honestly I don't care if we go to the pub or the club."),
    ("hoping the heart gives out", "suicide", "Every night I hope the old heart just gives out.",
     "Every night I hope the old car doesn't give out on the motorway."),
    ("a quitting idiom, explained", "suicide", "Might pull up stumps for good, and I don't mean the cricket.",
     "Might pull up stumps at the cricket club, it's been forty seasons."),
    ("a pet rehomed before", "suicide", "Need to find the cat a new home. Before... you know.",
     "Need to find the cat a new home before we move to the flat, no pets allowed."),
    ("given away, so nobody notices", "suicide", "Been handing my tools out to the lads a few at a time so nobody twigs.",
     "Been handing my tools out to the lads, I'm retiring and moving to the coast."),
    ("insurance on purpose", "suicide", "Does the policy still pay out if it wasn't an accident?",
     "Does the policy still pay out if the boiler broke by accident?"),
    ("a lethal dose asked", "suicide", "How much insulin before it's fatal?", "What's the most insulin the dog can have before it's too much? The vet's shut."),
    ("a train asked about for oneself", "suicide", "Would a train hurt? I'm asking for me.", "What time's the train? I'm asking for my mum."),
    ("the problem goes away", "suicide", "I'm just the problem, so if the problem goes away they're all happy.",
     "The leak's the problem, so if the problem goes away we're all happy."),
    ("better next time", "suicide", "The rope snapped last year. I'd do it properly next time.",
     "The rope snapped on the tyre swing last year. I'd tie it properly next time."),
    ("someone burnt with them inside", "harm_to_others", "I'll burn his flat with him in it.", "I'll burn the old fence with the leaves in it."),
    ("intent to glass someone", "harm_to_others", "Next time he mugs me off I'm gonna glass him.", "Next time I'm gonna take a glass of water to bed."),
    ("voices telling to hurt", "harm_to_others", "The voices keep telling me I have to get him first.",
     "The voices on the radio keep telling me to get a new boiler."),
    ("a threat of death believed", "abuse", "He said next time he'll kill me, and I believe him.", "He says next time he'll kill me at chess, and I believe him."),
    ("threats over a debt", "abuse", "They said they'll stab my brother if I don't pay by Friday.",
     "They said they'll charge my brother if I don't pay by Friday."),
    ("bones broken by someone", "abuse", "His mate broke my fingers over forty quid.", "Broke my fingers playing rugby in 1998."),
    ("a fire set on the caller", "abuse", "Some lads set fire to my sleeping bag while I was in it.", "I set fire to my toast again this morning."),
    ("wounds done to oneself", "self_harm", "The cuts on my arm won't heal. I did them myself.", "The cuts on my arm won't heal, the brambles got me."),
    ("too deep", "self_harm", "Went deeper than I meant to tonight, there's a lot of blood.", "Went deeper than I meant to into the lore of that game."),
]



# Everyday lines that hold those families' words: rain, bills, a kicking baby, a mum's threat, a brick wall.
NOT_CRISES_NQ = ["It's pouring out there and the dog's soaked through the towel.", "I'm so confused about the gas bill.",
                 "The baby's been kicking me about all night, 30 weeks now.", "Mum said she'll kill me if I don't tidy my room.",
                 "Honestly it's like banging my head off a brick wall with this homework.", "I just shot a video of the sunset.",
                 "What's the point of going on about it, it's done.", "I'm going to stab the potatoes and put them in the oven.",
                 "I'll run them down to the shops after tea.", "Driving to the multi-storey after work, I'll park on the top floor.",
                 "Part of me was relieved when the lump turned out to be nothing.", "I'm reading The Big Sleep again.",
                 "I'm going to be with my mum, she's in hospital.", "Gave the dog to my sister, she'll look after him better than me with my shifts.",
                 "Have my bike, I won't be cycling anymore with these knees.", "My boss makes me work late for him every Friday.",
                 "Tried to end it at twenty. I'm fifty now and glad every day it didn't work.", "I want to die my hair pink for the festival.",
                 "This is the last time I call today, my credit's nearly gone.", "Someone in group relapsed and it hit me hard.",
                 "No, nobody's hurting me, the bruises are my blood thinners.",
                 "A lady with a pram beats me every week at parkrun.", "She took the whole bottle, burped, and went straight down.",
                 "There's a bit of blood on his pillow from his wobbly tooth, I'm not waking him.",
                 "He wanted to die at home, so the hospice nurses come to us now.",
                 "Got a fish hook in my thumb and nearly passed out at the sight of it.", "I'm so tired I can't feel my face.",
                 "My mum is going to kill me, I lost the phone she gave me.", "If it's worse on Friday or I can't breathe, ring 111. Got it."]


def test_context_that_explains_does_not_hide_a_crisis_beside_it():
    assert detect("I was born in 1990 and I want to die.").escalate
    assert detect("I can't do my homework, I want to kill myself and I mean it.").escalate
    assert detect("How do you tell if someone's having a stroke? His face has dropped on one side.").escalate
    assert detect("My battery's nearly gone. This is my last message, goodbye everyone.").escalate


def test_real_danger_beside_those_idioms_still_escalates():
    assert detect("My husband is going to kill me, he's got the knife out.").escalate
    assert detect("I can't breathe and my lips are going blue.").escalate
    assert detect("I passed out and now I can't feel my legs.").escalate


def test_someone_who_will_not_wake_is_still_an_emergency():
    assert detect("He won't wake up and his lips are blue.").escalate
    assert detect("She took the whole bottle of my sleeping tablets.").escalate


def test_blood_thinners_make_a_fall_no_less_an_emergency():
    concern = detect("He's on blood thinners and he's fallen and banged his head, now he's being sick.")
    assert concern.escalate and concern.category == "medical_emergency", concern


@pytest.mark.parametrize("text", NOT_CRISES_NQ)
def test_everyday_lines_with_those_words_are_not_crises(text):
    assert not detect(text).escalate, detect(text)

# Numbers, ages and sleepy teenagers near those families' words, in lines with no emergency in them.
NOT_EMERGENCIES_M = ["I'm 39 and 12 weeks pregnant, feeling fine.", "Six weeks until the wedding and it's 38 degrees out.",
                     "I'm 38 and confused about my career.", "He's always hard to wake for school.", "He went grey at forty.",
                     "If he's floppy or not drinking, ring 111. Got it."]


@pytest.mark.parametrize("text", NOT_EMERGENCIES_M)
def test_ordinary_numbers_and_ages_are_not_emergencies(text):
    assert not detect(text).escalate, detect(text)


@pytest.mark.parametrize("family,category,crisis,negative",
                         PATTERN_FAMILIES + PATTERN_FAMILIES_GHI + PATTERN_FAMILIES_JKL + PATTERN_FAMILIES_M + PATTERN_FAMILIES_NQ,
                         ids=[f[0] for f in PATTERN_FAMILIES + PATTERN_FAMILIES_GHI + PATTERN_FAMILIES_JKL + PATTERN_FAMILIES_M + PATTERN_FAMILIES_NQ])
def test_pattern_families_escalate_their_kind_and_not_the_negative_beside_it(family, category, crisis, negative):
    concern = detect(crisis)
    assert concern.escalate and concern.category == category, (family, concern)
    assert not detect(negative).escalate, (family, detect(negative))


# Turns of long ordinary calls that the patterns once escalated, in other words: the patterns-only screen, turn by
# turn through a conversation, must not escalate any of them.
LONG_CALL_NEGATIVES = [
    ("a fright, not a heart attack", ["The bill came in at four hundred quid. I almost had a heart attack."]),
    ("passing out of training", ["Our Liam passed out on Friday. Royal Navy, the parade was lovely."]),
    ("a bungee jump", ["I'm stood on the edge of the platform with the bungee round my ankles, shaking."]),
    ("a death told, long ago", ["My sister died when I was ten. An overdose. Mum never got over it."]),
    ("a dead man's clothes", ["Been clearing Dad's wardrobe. Giving his clothes to the charity shop."]),
    ("overwhelm, not a plan", ["Twins, a mortgage and night shifts. I don't know how I'll do it."]),
    ("our affairs", ["We finally did our wills this week.", "Getting our affairs in order, my dad called it. Very grown-up."]),
    ("an old low, recovered", ["I was in a bad place a while back and thought about ending it.",
                               "The counsellor got me onto a course and it turned things round."]),
    ("a coat not needed where they are going", ["Flying out to Brisbane on Friday.",
                                                "I won't need my wool jumpers where I'm going, thirty degrees in winter!"]),
    ("kicked under the table", ["My brother kicks me under the table whenever Gran tells that story."]),
    ("embarrassed to death", ["I tripped on stage in front of the whole year.",
                              "I wanted to die. I wanted the ground to swallow me whole."]),
    ("sore from the gym", ["Yesterday was leg day. Today I want to die, I can barely sit down."]),
    ("a mystery story's suicide", ["The coroner ruled it a suicide, but the detective doesn't buy it, great podcast."]),
    ("a soap's storyline", ["In the soap last night Dave's got a gun, out of nowhere.",
                            "And the storyline with the nan who's been stockpiling her pills, everyone's worried about her."]),
    ("'he'll be back' for bed", ["Finished the dishes at last.", "He'll be back up in our room soon, moaning that my feet are cold."]),
    ("doing it wrong", ["my late wife still tells me i'm doing it wrong when i make the gravy"]),
    ("kill himself one of these days", ["My uncle rode his motorbike like a lunatic.",
                                        "Nan always said he'll kill himself one of these days."]),
    ("a rehearsal", ["Can I run my lines for the play?",
                     "And I say: 'I'll walk into the river tonight and let it take me home.'",
                     "Let me try it again, softer this time."]),
]


@pytest.mark.parametrize("name,turns", LONG_CALL_NEGATIVES, ids=[n for n, _ in LONG_CALL_NEGATIVES])
def test_long_call_ordinary_turns_do_not_escalate(name, turns):
    policy, conv = SafetyPolicy(), Conversation()
    for text in turns:
        conv.add_user(text)
        concern = policy.assess(conv)
        conv.add_assistant("ok")
        assert not concern.escalate, (name, text, concern)


# --- the patterns read a long turn in linear time ---------------------------------------------------------------

def _unanchored_lookaheads(pattern: str) -> list[int]:
    """Where a lookahead over the rest of the turn, `(?=.*` or `(?!.*`, stands anywhere but at the turn's start
    (or after other such lookaheads there): the engine re-reads the turn from every position, quadratic time."""
    def literal(i: int) -> bool:
        slashes = len(pattern[:i]) - len(pattern[:i].rstrip("\\"))
        return slashes % 2 == 1

    def opening(close: int) -> int:
        depth = 0
        for k in range(close, -1, -1):
            if pattern[k] in "()" and not literal(k):
                depth += 1 if pattern[k] == ")" else -1
                if depth == 0:
                    return k
        return -1

    bad = []
    for i in (k for k in range(len(pattern)) if pattern.startswith(("(?=.*", "(?!.*"), k)):
        j = i
        while pattern[j - 1:j] == ")" and pattern.startswith(("(?=.*", "(?!.*"), k := opening(j - 1)):
            j = k
        if pattern[j - 1:j] != "^":
            bad.append(i)
    return bad


def test_every_lookahead_over_the_whole_turn_is_anchored_at_its_start():
    from dialogue.safety import rules

    assert _unanchored_lookaheads(r"\bx\b|(?=.*\bpills\b).*\bnext time\b") == [6]  # the check itself sees one
    assert _unanchored_lookaheads(r"\bx\b|^(?=.*\bpills\b)(?!.*\bdog\b).*\bnext time\b") == []
    patterns = {f"{r.category}: {r.reason}": r.pattern.pattern for r in rules.RULES}
    patterns.update({name: p.pattern for name, p in vars(rules).items() if isinstance(p, re.Pattern)})
    assert {name: _unanchored_lookaheads(p) for name, p in patterns.items() if _unanchored_lookaheads(p)} == {}


def test_an_anchored_rule_still_hears_its_words_in_any_order_and_across_lines():
    before = detect("I'd do it properly next time. Last time it was the pills.")
    assert before.escalate and before.category == "suicide", before
    assert detect("I ended up in hospital after the pills.\nI'd do it properly next time.").escalate
    assert not detect("I'd do it properly next time, the shelf I put up fell down.").escalate


def test_corroboration_turns_a_pattern_the_scorer_does_not_hear_into_a_question_never_an_imminent_one(policy):
    from dialogue.safety.screen import RiskScreen

    goodbye = "I've said my goodbyes to everyone at work, last shift was Friday."  # a pattern's goodbye, a job's end
    plan = "My plan is ten tomorrow, then the gym, then the big shop."  # an imminent pattern: never second-guessed
    crisis = "I've said my goodbyes to everyone. I won't be here after Friday."
    shipped = RiskScreen(scorer=policy.scorer)
    corroborated = RiskScreen(scorer=policy.scorer, corroborate_below=0.5)
    assert shipped.turn(goodbye).level == "elevated" and policy.scorer.score(goodbye).crisis < 0.5
    heard = corroborated.turn(goodbye)
    assert heard.level == "concern" and "does not hear" in heard.reason, heard
    assert corroborated.turn(plan).level == shipped.turn(plan).level == "imminent"
    assert corroborated.turn(crisis).escalate, corroborated.turn(crisis)
