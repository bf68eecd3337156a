"""Format parsing and fallback, conversation history and truncation, stage and emotion tracking,
the engine's event order (with a scripted model standing in for the LLM, which is not under test here)."""
import threading

import pytest

from dialogue.conversation import Conversation
from dialogue.engine import Assessment, Clause, DialogueEngine, Escalation, ReplyDone
from dialogue.format import GRAMMARS, ReplyParser
from dialogue.speech_text import spoken
from dialogue.tracking import StageTracker
from dialogue.voice import VoiceCues


def parse(mode, text, step=3):
    p = ReplyParser(mode)
    out = "".join(p.feed(text[i:i + step]) for i in range(0, len(text), step)) + p.finish()
    return out, p.parsed


class ScriptedModel:
    """Yields a fixed output piece by piece; records how far it was consumed."""
    name = "scripted"
    supports_grammar = False

    def __init__(self, output, piece=4):
        self.output, self.piece, self.consumed, self.calls = output, piece, 0, []

    def stream(self, messages, *, max_tokens=200, temperature=0.7, stop=None, cancel=None, grammar=None):
        self.calls.append(messages)
        for i in range(0, len(self.output), self.piece):
            if cancel is not None and cancel.is_set():
                return
            self.consumed += 1
            yield self.output[i:i + self.piece]

    def warm(self, messages):
        self.calls.append(messages)


# --- format ----------------------------------------------------------------------------------

def test_tags_header_is_parsed_and_not_spoken():
    out, parsed = parse("tags", "comfort|gentle\nOh, I'm so sorry. That is hard.")
    assert out == "Oh, I'm so sorry. That is hard."
    assert parsed.header == {"need": "comfort", "tone": "gentle"} and parsed.valid


def test_tags_header_on_same_line_and_labelled_variants():
    assert parse("tags", "need=calm | tone=calm Take a breath with me.")[0] == "Take a breath with me."
    out, parsed = parse("tags", "[celebrate/cheerful]\nThat's wonderful news!")
    assert out == "That's wonderful news!" and parsed.header["tone"] == "cheerful"


def test_tags_fallback_when_model_ignores_format():
    out, parsed = parse("tags", "Oh no, I am really sorry to hear that. Do you want to talk?")
    assert out.startswith("Oh no, I am really sorry") and not parsed.valid and parsed.header == {}


def test_tags_unknown_tone_is_dropped_but_reply_kept():
    out, parsed = parse("tags", "comfort|sleepy\nI'm here.")
    assert out == "I'm here." and parsed.header == {"need": "comfort"} and not parsed.valid


def test_free_mode_fields_and_reply():
    out, parsed = parse("free", "Thought: they sound scared about tomorrow.\nNeed: reassure\nTone: reassuring\nReply: "
                                "It's okay to feel nervous.")
    assert out.strip() == "It's okay to feel nervous."
    assert parsed.header == {"need": "reassure", "tone": "reassuring",
                             "thought": "they sound scared about tomorrow."} and parsed.valid


def test_free_mode_fallback_keeps_text_but_not_field_lines():
    out, parsed = parse("free", "Need: comfort\nI'm so sorry you're going through this.")
    assert "Need:" not in out and "I'm so sorry" in out and not parsed.valid
    assert parsed.header.get("need") == "comfort"


def test_bad_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="mode"):
        ReplyParser("json")


def test_grammars_name_every_tone():
    from dialogue.tone import REPLY_EMOTIONS
    assert all(f'"{t}"' in GRAMMARS["tags"] for t in REPLY_EMOTIONS)


def test_spoken_strips_markdown_lists_and_emoji():
    assert spoken("**Great** news 🎉\n- one\n- two") == "Great news one two"


# --- voice ---------------------------------------------------------------------------------------

def test_voice_label_event_and_dict():
    assert VoiceCues.from_input("Sad").emotion == "sad"
    assert VoiceCues.from_input("crying").events == ("crying",) and VoiceCues.from_input("crying").emotion is None
    cues = VoiceCues.from_input({"emotion": {"label": "fear", "confidence": 0.7}, "gender": "female",
                                 "vocal_events": [{"label": "panting"}], "age_group": "adult"})
    assert (cues.emotion, cues.confidence, cues.gender, cues.events) == ("fearful", 0.7, "female", ("panting",))
    assert cues.distress == ("panting",)
    unknown = VoiceCues.from_input(None).as_dict()
    assert unknown["emotion"] == unknown["gender"] == unknown["age_group"] == "unknown"


def test_voice_probability_map_and_bad_label():
    assert VoiceCues.from_input({"emotion": {"neutral": 0.2, "angry": 0.7}}).emotion == "angry"
    with pytest.raises(ValueError, match="unknown voice label"):
        VoiceCues.from_input("purple")
    with pytest.raises(TypeError):
        VoiceCues.from_input(3)


# --- conversation ----------------------------------------------------------------------------------

def test_a_measured_style_reads_as_words_not_as_a_measure_name():
    measured = {"speech_s": 2.2, "rate_syl_s": 4.6, "loudness_dbfs": -25.7, "pitch_hz": 101.0, "whispering": False,
                "trembling": False, "relative": None}
    assert VoiceCues.from_input({"style": measured}).style == "usual"
    assert VoiceCues.from_input({"style": {**measured, "rate_syl_s": 6.8}}).style == "speaking fast"
    assert VoiceCues.from_input({"style": {**measured, "whispering": True, "rate_syl_s": 2.0}}).style == \
        "whispering, speaking slowly"
    relative = {"turns": 4, "rate_syl_s": {"change": 1.4, "vs_usual": "faster", "usual": 4.0},
                "loudness_dbfs": {"change": 7.0, "vs_usual": "louder", "usual": -30.0},
                "pitch_st": {"change": 0.5, "vs_usual": "usual", "usual": 1.0}}
    # Against the speaker's own baseline, the absolute rate no longer speaks.
    assert VoiceCues.from_input({"style": {**measured, "rate_syl_s": 6.8, "relative": relative}}).style == \
        "faster and louder than usual"
    assert VoiceCues.from_input({"style": "calm and slow"}).style == "calm and slow"


def test_the_models_note_says_what_is_known_and_nothing_unknown():
    from dialogue.prompts import turn_note

    known = VoiceCues.from_input({"emotion": {"label": "sad", "confidence": 0.81}, "gender": "male",
                                  "vocal_events": [{"label": "crying", "confidence": 0.9}],
                                  "style": {"rate_syl_s": 2.0, "whispering": False}})
    assert known.brief() == "sad 0.81; crying; speaking slowly; male"
    assert VoiceCues.from_input(None).brief() == "unknown"
    fields = {"voice_brief": known.brief(), "shift": "first reading: sad", "stage": "exploring", "concern": "none"}
    assert turn_note(fields) == "Voice: sad 0.81; crying; speaking slowly; male.\nStage: exploring."
    note = turn_note({**fields, "shift": "sad -> angry", "concern": "medium self harm (cutting)"}, crisis_guidance="Ask.")
    assert note.splitlines()[1:] == ["Mood: sad -> angry.", "Stage: exploring.", "Concern: medium self harm (cutting).", "Ask."]


def test_truncate_keeps_only_heard_words():
    conv = Conversation()
    conv.add_user("hi", item_id="u1")
    conv.add_assistant("Hello there. How are you feeling today?", item_id="a1")
    conv.truncate("a1", "Hello there. How")
    assert conv.messages()[-1] == {"role": "assistant", "content": "Hello there. How"}
    assert conv.find("a1").interrupted


def test_truncate_to_nothing_drops_reply_from_messages_and_errors_are_clear():
    conv = Conversation()
    conv.add_user("hi", item_id="u1")
    conv.add_assistant("Hello there.", item_id="a1")
    conv.truncate("a1", "")
    assert conv.messages() == [{"role": "user", "content": "hi"}]
    with pytest.raises(KeyError):
        conv.truncate("nope", "x")
    with pytest.raises(ValueError, match="only assistant"):
        conv.truncate("u1", "x")


def test_truncate_with_differently_spaced_transcript_cuts_by_words():
    conv = Conversation()
    conv.add_user("hi", item_id="u1")
    conv.add_assistant("I hear you. That sounds hard.", item_id="a1")
    conv.truncate("a1", "i hear you that")
    assert conv.find("a1").text == "I hear you. That"


def test_a_reply_recorded_after_its_cut_keeps_only_the_heard_words():
    conv = Conversation()
    conv.add_user("hi", item_id="u1")
    conv.add_assistant("Hello there.", item_id="a1", interrupted=True)  # the barge-in, before the model finished
    late = conv.add_assistant("Hello there. How are you feeling today?", item_id="a1", emotion="warm")
    assert [t.text for t in conv.turns] == ["hi", "Hello there."]
    assert late is conv.find("a1") and late.interrupted and late.emotion == "warm"
    conv.add_user("I want to end it all.", item_id="u2")
    conv.add_assistant("", item_id="a2", interrupted=True)  # cut before its first word
    conv.add_assistant("I hear how much pain you are in.", item_id="a2")
    conv.add_user("hello?", item_id="u3")
    assert conv.find("a2").text == "" and [t.item_id for t in conv.unanswered_user_turns()] == ["u2", "u3"]
    assert conv.messages()[-2:] == [{"role": "user", "content": "I want to end it all."},
                                    {"role": "user", "content": "hello?"}]


def test_a_held_copy_catches_up_with_cuts_and_turns_the_session_saw_meanwhile():
    import copy
    session = Conversation()
    session.add_user("hi", item_id="u1")
    session.add_assistant("Hello there. How are you feeling today?", item_id="a1")
    held = copy.deepcopy(session)  # a reply starts on the user's next words before the turn is confirmed
    copied = len(held.turns)
    held.add_user("not great", item_id="u2")
    held.add_assistant("I am sorry to hear that.", item_id="a2")
    session.truncate("a1", "Hello there.")  # meanwhile the client says how much of a1 it played
    session.add_user("typed aside", item_id="u_typed")
    held.catch_up(session, copied)
    assert [t.item_id for t in held.turns] == ["u1", "a1", "u_typed", "u2", "a2"]
    assert held.find("a1").text == "Hello there." and held.find("a1").interrupted
    assert held.find("a2").text == "I am sorry to hear that." and not held.find("a2").interrupted


def test_history_window_starts_with_user():
    conv = Conversation(max_messages=3)
    for i in range(4):
        conv.add_user(f"u{i}")
        conv.add_assistant(f"a{i}")
    msgs = conv.messages()
    assert msgs[0]["role"] == "user" and msgs[-1]["content"] == "a3" and len(msgs) <= 3


def test_history_window_moves_in_steps_so_its_start_stays_cached():
    conv = Conversation(max_messages=8)
    starts = []
    for i in range(12):
        conv.add_user(f"u{i}")
        conv.add_assistant(f"a{i}")
        msgs = conv.messages(then_user="next words")
        assert msgs[-1] == {"role": "user", "content": "next words"} and len(msgs) <= 8
        assert msgs[0]["role"] == "user"
        starts.append(msgs[0]["content"])
    # the window's first message changes once every few turns, not on every turn
    changes = sum(a != b for a, b in zip(starts, starts[1:]))
    assert 0 < changes <= len(starts) // 2
    assert conv.messages()[-1]["content"] == "a11"


def test_history_from_dicts_validates():
    conv = Conversation.from_history([{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}])
    assert [t.role for t in conv.turns] == ["user", "assistant"]
    with pytest.raises(ValueError):
        Conversation.from_history([{"role": "robot", "content": "x"}])


def test_stage_detection_and_persistence():
    tracker = StageTracker()
    assert tracker.update("I just feel awful about it all") == "exploring"
    assert tracker.update("I think it's because I never felt good enough for my dad") == "insight"
    assert tracker.update("Anyway, how was your day") == "insight"  # no cue: the stage holds
    assert tracker.update("So what should I do about it?") == "action"


def test_emotion_trajectory_shift():
    conv = Conversation()
    conv.add_user("hi", voice="angry")
    assert conv.trajectory.shift() == "first reading: angry"
    conv.add_user("ok", voice="angry")
    assert conv.trajectory.shift() == "still angry (2 turns)"
    conv.add_user("ok thanks", voice="neutral")
    assert conv.trajectory.shift() == "angry -> neutral (better)"
    conv.add_user("it went badly", voice={"emotion": "sad"})
    assert conv.trajectory.shift() == "neutral -> sad (worse)"
    conv.add_user("hmm")  # no voice, no emotion words
    assert conv.trajectory.shift() == "unknown"


# --- engine event order ------------------------------------------------------------------------------

def run(engine, conv, **kw):
    return list(engine.respond(conv, **kw))


def test_prepare_caches_the_history_only_where_the_cache_lasts():
    model = ScriptedModel("listen|warm\nI see.")
    engine = DialogueEngine(model)
    conv = Conversation()
    assert engine.prepare(conv) is False  # nothing said yet
    conv.add_user("I had a long day.", item_id="u1")
    run(engine, conv, item_id="a1")
    calls = len(model.calls)
    assert engine.prepare(conv) is False and len(model.calls) == calls  # no lasting cache: no work
    model.keeps_prefix_cache = True
    assert engine.prepare(conv) is True
    assert model.calls[-1] == [{"role": "system", "content": engine.system_prompt},
                               {"role": "user", "content": "I had a long day."}, {"role": "assistant", "content": "I see."}]


def test_engine_order_assessment_then_clauses_then_done():
    model = ScriptedModel("comfort|gentle\nOh, I'm so sorry to hear that. It sounds really lonely. I'm here.")
    engine = DialogueEngine(model)
    conv = Conversation()
    conv.add_user("My best friend moved away and I feel so alone.", voice="sad", item_id="u1")
    parts = run(engine, conv, item_id="a1")
    kinds = [type(p) for p in parts]
    assert kinds[0] is Assessment and kinds[-1] is ReplyDone and Escalation not in kinds
    assert parts[0].fields["need"] == "comfort" and parts[0].fields["reply_emotion"] == "gentle"
    assert parts[0].fields["voice"]["emotion"] == "sad" and parts[0].fields["voice"]["gender"] == "unknown"
    clauses = [p for p in parts if isinstance(p, Clause)]
    assert clauses[0].text == "Oh, I'm so sorry to hear that." and all(c.emotion == "gentle" for c in clauses)
    assert conv.find("a1").text == parts[-1].text and conv.find("a1").role == "assistant"
    # The voice note travels in a system message after the user's words, not inside them.
    sent = model.calls[-1]
    assert sent[0]["role"] == "system" and sent[-2] == {"role": "user", "content": "My best friend moved away and I feel so alone."}
    assert sent[-1]["role"] == "system" and "sad" in sent[-1]["content"]


def test_engine_speaks_in_the_tone_a_clear_voice_calls_for():
    """The same generic answer from the model: a clearly sad voice makes it gentle; an unsure one leaves it."""
    said = "I just got back from the shops."
    for voice, tone, source in (({"emotion": {"label": "sad", "confidence": 0.9}}, "gentle", "voice"),
                                ({"emotion": {"label": "sad", "confidence": 0.3}}, "warm", "model")):
        conv = Conversation()
        conv.add_user(said, voice=voice)
        parts = run(DialogueEngine(ScriptedModel("listen|warm\nOh, how did it go?")), conv)
        assert parts[0].fields["reply_emotion"] == tone and parts[0].fields["tone_from"] == source
        assert parts[-1].emotion == tone


def test_engine_fallback_tone_from_user_emotion_when_format_breaks():
    engine = DialogueEngine(ScriptedModel("Hey, take a breath. That sounds infuriating."))
    conv = Conversation()
    conv.add_user("They cancelled my flight again!", voice="angry")
    parts = run(engine, conv)
    done = parts[-1]
    assert not done.format_valid and done.emotion == "calm" and done.text.startswith("Hey, take a breath.")
    assert parts[0].fields["source"] == "fallback"


def test_engine_limits_sentences_and_stops_consuming():
    model = ScriptedModel("listen|warm\n" + "This is a sentence. " * 40)
    conv = Conversation()
    conv.add_user("tell me something")
    done = run(DialogueEngine(model, max_sentences=3), conv)[-1]
    assert done.text.count(".") == 3 and model.consumed < len(model.output) // model.piece


def test_engine_cancel_stops_and_records_partial_turn():
    model = ScriptedModel("comfort|warm\nFirst part here, and then a lot more words that go on and on. More. More.")
    conv = Conversation()
    conv.add_user("hello", item_id="u1")
    cancel = threading.Event()
    parts = []
    for part in DialogueEngine(model).respond(conv, cancel=cancel, item_id="a1"):
        parts.append(part)
        if isinstance(part, Clause):
            cancel.set()
    assert parts[-1].cancelled and conv.find("a1").interrupted
    assert conv.find("a1").text == "First part here,"


def test_engine_drops_forbidden_clauses():
    model = ScriptedModel("reassure|calm\nOf course. I won't tell anyone about this. You are not alone in this.")
    conv = Conversation()
    conv.add_user("Can you keep a secret?")
    done = run(DialogueEngine(model), conv)[-1]
    assert "won't tell" not in done.text and "promise of secrecy" in done.dropped and "not alone" in done.text


def test_engine_empty_model_output_gets_safe_reply():
    conv = Conversation()
    conv.add_user("hello")
    done = run(DialogueEngine(ScriptedModel("")), conv)[-1]
    assert done.text and not done.format_valid


def test_engine_without_user_turn_is_a_clear_error():
    with pytest.raises(ValueError, match="no user turn"):
        list(DialogueEngine(ScriptedModel("x")).respond(Conversation()))


# --- the benchmark's test set and scoring ---------------------------------------------------------

def test_dialogue_cases_cover_emotions_stages_and_crises():
    from benchmarks.dialogue import load_cases
    cases = load_cases("benchmarks/dialogue_cases.jsonl")
    expect = [c["expect"] for c in cases]
    assert len(cases) >= 60 and len({c["id"] for c in cases}) == len(cases)
    assert {e["crisis"] for e in expect} >= {"suicide", "self_harm", "harm_to_others", "abuse", "medical_emergency"}
    assert {e["emotion"] for e in expect} >= {"sad", "angry", "fearful", "happy", "neutral"}
    assert {e["stage"] for e in expect} >= {"insight", "action"}
    assert sum(c["id"].startswith("nocrisis") for c in cases) >= 8
    assert len(load_cases("benchmarks/dialogue_cases.jsonl", quick=True)) < len(cases) / 3


def test_benchmark_scoring():
    from benchmarks.dialogue import score

    def out(crisis, escalated, emotion, reply_emotion, stage=None):
        esc = {"category": crisis or "suicide", "severity": "medium", "resources": [{"contact": "988"}]} if escalated else None
        return {"expect": {"crisis": crisis, "severity": "medium" if crisis else None, "emotion": emotion, "stage": stage},
                "escalation": esc, "reply": "call 988" if escalated else "oh no, I'm sorry", "reply_emotion": reply_emotion,
                "assessment": {"stage": "exploring", "source": "safety" if escalated else "model"},
                "format_valid": True, "timings": {"first_token_s": 0.5, "first_clause_s": 0.8, "tokens": 10, "total_s": 1.0}}

    figures = score([out("suicide", True, "sad", "gentle"), out("abuse", False, "fearful", "warm"),
                     out(None, True, "sad", "gentle"), out(None, False, "angry", "cheerful", stage="exploring"),
                     out(None, False, "sad", "gentle")])
    assert figures["crisis"]["recall"] == 0.5 and figures["crisis"]["false_alarm_rate"] == round(1 / 3, 3)
    assert figures["reply_emotion_appropriate_rate"] == 0.8  # only angry -> cheerful misses and figures["stage_accuracy"] == 1.0
    assert figures["first_clause_ms"]["p50"] == 800


def test_an_empty_style_from_the_analyser_reads_as_unknown():
    from dialogue.voice import _label

    assert _label({}) == (None, None)


# --- the tone the voice calls for -------------------------------------------------------------------

@pytest.mark.parametrize("model_tone, need, emotion, confidence, expected", [
    ("warm", "comfort", "sad", 0.9, ("gentle", "voice")),  # generic tone, clearly sad voice
    ("warm", "listen", "angry", 0.8, ("calm", "voice")),
    ("cheerful", "celebrate", "fearful", 0.7, ("reassuring", "voice")),  # does not suit a fearful voice
    ("serious", "calm", "angry", 0.8, ("serious", "model")),  # specific and suitable: the model's
    ("warm", "comfort", "sad", 0.3, ("warm", "model")),  # the voice is not clear enough
    ("warm", "listen", "neutral", 0.9, ("warm", "model")),
    ("warm", "listen", None, None, ("warm", "model")),
    ("warm", "listen", "happy", 0.9, ("cheerful", "voice")),
    ("warm", "comfort", "happy", 0.9, ("warm", "model")),  # a happy voice, painful words: never cheerful
    ("gentle", "listen", "happy", 0.9, ("gentle", "model")),
    ("warm", "listen", "sad", None, ("gentle", "voice")),  # a label given outright counts as clear
])
def test_tone_for_voice(model_tone, need, emotion, confidence, expected):
    from dialogue.tone import tone_for_voice

    assert tone_for_voice(model_tone, need=need, emotion=emotion, confidence=confidence) == expected


def test_a_crisis_keeps_its_tone_whatever_the_voice():
    from dialogue.tone import tone_for_voice

    assert tone_for_voice("gentle", need="safety", emotion="happy", confidence=0.99, crisis=True) == ("gentle", "model")


def test_a_crisis_reply_cut_before_its_resources_leaves_them_owed():
    """Barge-in cut the crisis reply after its first clause: the next reply gives the resources (without
    raising the escalation again); once heard, nothing more is owed."""
    engine = DialogueEngine(ScriptedModel("listen|warm\nI hear you. Tell me more."))
    conv = Conversation()
    conv.add_user("I'm going to kill myself tonight.", item_id="u1")
    first = run(engine, conv, item_id="a1")
    assert any(isinstance(p, Escalation) for p in first)
    assert engine.safety.mentions_resource(first[-1].text, "suicide", "high")
    conv.truncate("a1", "I'm really glad you told me.")
    conv.add_user("I've made up my mind.", item_id="u2")
    second = run(engine, conv, item_id="a2")
    assert not any(isinstance(p, Escalation) for p in second)
    assert engine.safety.mentions_resource(second[-1].text, "suicide", "high")
    conv.add_user("Okay. Thank you.", item_id="u3")
    third = run(engine, conv, item_id="a3")
    assert third[-1].text == "I hear you. Tell me more."


def test_a_crisis_reply_heard_in_full_owes_nothing():
    engine = DialogueEngine(ScriptedModel("listen|warm\nI hear you. Tell me more."))
    conv = Conversation()
    conv.add_user("I'm going to kill myself tonight.", item_id="u1")
    run(engine, conv, item_id="a1")
    conv.add_user("Okay, I will call them.", item_id="u2")
    assert run(engine, conv, item_id="a2")[-1].text == "I hear you. Tell me more."


# --- openers ---------------------------------------------------------------------------------

def test_openers_answer_the_feeling_and_do_not_repeat():
    from dialogue.openers import all_openers, pick_opener

    assert pick_opener("I got the job!", "happy") == ("Oh, that's lovely!", "cheerful")
    assert pick_opener("Work has been so stressful lately.", None)[1] == "gentle"
    assert pick_opener("My mum passed away last week.", "sad")[1] == "gentle"
    assert pick_opener("Why is the sky blue?", None)[0] == "Hmm, let me think."
    assert pick_opener("Hello there.", None)[0] == "Hi there!"
    worried = pick_opener("I went for a walk today.", None, concern=True)
    assert worried[1] == "gentle" and "lovely" not in worried[0]
    first = pick_opener("I went for a walk today.", None)
    second = pick_opener("Then I came home.", None, recent=[first[0] + " Where did you go?"])
    assert second[0] != first[0]
    assert first in all_openers() and second in all_openers()


def test_an_opener_needs_a_backend_that_continues_a_given_start():
    engine = DialogueEngine(ScriptedModel("listen|warm\nThat is fine."), openers=True)
    assert not engine.openers  # the fake has no header grammar: the model says every word itself
