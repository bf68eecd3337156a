"""Text side of speech synthesis: normalisation, clause splitting, the emotion table."""
import math

import pytest

from tts.base import EMOTIONS
from tts.clauses import ClauseSplitter, split_clauses
from tts.normalize import normalize, number_to_words, ordinal_to_words
from tts.profiles import DEFAULT_TABLE, ProfileTable


@pytest.mark.parametrize("text, spoken", [
    ("I'll call at 3:30 pm.", "I'll call at three thirty p m."),
    ("See you at 7am", "See you at seven a m"),
    ("It's 10:05", "It's ten oh five"),
    ("Meet at 9:00", "Meet at nine o'clock"),
    ("Dr. Smith paid $5.50", "doctor Smith paid five dollars and fifty cents"),
    ("It costs $1", "It costs one dollar"),
    ("about 25% of people", "about twenty-five percent of people"),
    ("the 21st of May", "the twenty-first of May"),
    ("1,234 steps", "one thousand two hundred thirty-four steps"),
    ("take 2.5 mg", "take two point five milligrams"),
    ("in 1999 and in 2005", "in nineteen ninety-nine and in two thousand five"),
    ("Call 988 or 911", "Call nine eight eight or nine one one"),
    ("call 1-800-273-8255", "call one, eight zero zero, two seven three, eight two five five"),
    ("3-5 days", "three to five days"),
    ("you & me", "you and me"),
    ("Mr. Jones lives on Main St.", "mister Jones lives on Main Street."),
    ("St. Paul", "saint Paul"),
    ("apples, pears, etc.", "apples, pears, et cetera."),
    ("-4 degrees", "minus four degrees"),
    ("I'm here \U0001F600", "I'm here"),
    ("", ""),
])
def test_normalize(text, spoken):
    assert normalize(text) == spoken


def test_number_words():
    assert number_to_words(0) == "zero"
    assert number_to_words(115) == "one hundred fifteen"
    assert number_to_words(2_000_019) == "two million nineteen"
    assert [ordinal_to_words(n) for n in (1, 2, 3, 12, 20, 42, 100)] == [
        "first", "second", "third", "twelfth", "twentieth", "forty-second", "one hundredth"]


def test_normalize_leaves_no_digits_in_ordinary_replies():
    text = "On May 3rd at 4:15 pm, 3 of my 12 friends paid $20.25, about 15% more than in 2019."
    assert not any(ch.isdigit() for ch in normalize(text))


REPLY = ("Oh, I see. That sounds really hard, and I am sorry you are going through it. "
         "Do you want to tell me more about what happened?")


def test_split_first_clause_is_short():
    clauses = split_clauses(REPLY)
    assert clauses[0] == "Oh, I see."
    assert " ".join(clauses) == REPLY
    assert len(clauses) == 3


def test_split_cuts_a_short_first_clause_at_a_comma():
    clauses = split_clauses("I hear you, that must be exhausting after such a long week of work.")
    assert clauses == ["I hear you,", "that must be exhausting after such a long week of work."]


def test_split_never_makes_one_word_clauses():
    for text in ["Yes. I understand.", "Oh, okay, I see what you mean.", "Well, yes, of course, that is fine."]:
        for clause in split_clauses(text):
            assert len(clause.split()) >= 2, (text, clause)


def test_split_respects_abbreviations_and_decimals():
    assert split_clauses("Dr. Smith said 3.5 mg is fine. Call him at 9 a.m. tomorrow.") == [
        "Dr. Smith said 3.5 mg is fine.", "Call him at 9 a.m. tomorrow."]


def test_split_long_run_on_cuts_before_a_conjunction():
    text = ("It sounds like you have been carrying this for a long time and nobody has really "
            "noticed how much it weighs on you every day")
    clauses = split_clauses(text)
    assert len(clauses) == 2 and clauses[1].startswith("and ")


def test_incremental_splitter_matches_batch_for_any_token_boundaries():
    expected = split_clauses(REPLY)
    for step in (1, 2, 3, 7):
        splitter = ClauseSplitter()
        got = []
        for i in range(0, len(REPLY), step):
            got += splitter.push(REPLY[i:i + step])
        got += splitter.flush()
        assert got == expected, step


def test_incremental_splitter_emits_first_clause_before_the_reply_ends():
    splitter = ClauseSplitter()
    emitted_at = None
    for i, token in enumerate(["Oh", ",", " I", " see", ".", " That", " sounds", " hard", "."]):
        if splitter.push(token) and emitted_at is None:
            emitted_at = i
    assert emitted_at == 5  # decided when the space after "see." arrives
    assert splitter.flush() == ["That sounds hard."]
    assert splitter.flush() == []  # flush resets


def test_splitter_rejects_bad_input():
    with pytest.raises(TypeError):
        ClauseSplitter().push(None)
    with pytest.raises(ValueError):
        ClauseSplitter(first_min_words=5, first_max_words=2)


def test_profiles_cover_every_emotion():
    table = ProfileTable.load()
    assert set(EMOTIONS) <= set(table.profiles)


def test_unknown_emotion_is_neutral_and_intensity_scales():
    table = ProfileTable.load()
    neutral = table.get("neutral")
    assert table.get("furious") == neutral
    assert table.get(None, None) == neutral
    assert table.get("cheerful", 0.0) == neutral
    half, full = table.get("cheerful", 0.5), table.get("cheerful", 1.0)
    assert half == table.profiles["cheerful"]
    assert math.isclose(full.pitch_semitones, 2 * half.pitch_semitones)
    assert math.isclose(full.rate, half.rate**2)
    assert table.get("cheerful", 7.0) == full  # clamped
    assert table.get("cheerful", float("nan")) == neutral
    assert table.get("cheerful", "loud") == half


def test_profile_table_rejects_unknown_keys(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text(DEFAULT_TABLE.read_text() + "\n[extra]\nrate = 1.0\npich = 2\n")
    with pytest.raises(ValueError, match="pich"):
        ProfileTable.load(bad)
    negative = tmp_path / "n.toml"
    negative.write_text(DEFAULT_TABLE.read_text().replace("rate = 1.12", "rate = -1"))
    with pytest.raises(ValueError, match="rate"):
        ProfileTable.load(negative)


@pytest.mark.parametrize("text, spoken", [
    ("Call at 9 a.m. tomorrow", "Call at nine a m tomorrow"),
    ("Call at 9 a.m. Then rest.", "Call at nine a m. Then rest."),
    ("It ends at 5 p.m.", "It ends at five p m."),
])
def test_meridiem_keeps_sentence_ends_only(text, spoken):
    assert normalize(text) == spoken
