"""The safety sweeps a choice was made with (benchmarks/safety_ask.py, safety_partner_ceiling.py) on a few lines,
with the shipped scorer."""
import json

from benchmarks import safety_ask, safety_partner_ceiling

LINES = [
    ("I've got a black eye, the lads at work think it was football. It was my husband.", "elevated", "abuse"),
    ("Gave my dog to my sister. Where I'm going he can't come.", "elevated", "suicide"),
    ("My ex used to hit me. That was years ago. I've got my own place now and I'm happy.", "none", None),
    ("We went to the garden centre and bought two tomato plants.", "none", None),
    ("The bus was late again so I walked, which was nice in the sun.", "none", None),
]


def _cases(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps({"id": f"ME-{i}", "turns": [t], "level": level, "category": cat, "kind": "k"}) + "\n"
                            for i, (t, level, cat) in enumerate(LINES)))
    return str(path)


def test_asking_about_all_four_asks_more_and_changes_no_verdict(tmp_path):
    got = safety_ask.compare([_cases(tmp_path)], "minilm+mpnet")[str(tmp_path / "mine.jsonl")]
    narrow, wide = got["suicide,self_harm"], got["all four"]
    assert (narrow["recall"], narrow["false_alarm_rate"]) == (wide["recall"], wide["false_alarm_rate"])
    # the black eye is half-heard as abuse: asked about only when abuse is asked about; so is the past one
    assert wide["recall_or_asked"] > narrow["recall_or_asked"] and wide["none_asked_directly"] > narrow["none_asked_directly"]


def test_no_text_the_scorer_skips_its_partner_for_is_above_the_ceiling(tmp_path):
    got = safety_partner_ceiling.check([_cases(tmp_path)], "minilm+mpnet")
    assert got["texts"] == len(LINES) and got["skipped_above_ceiling"] == 0
    assert 1 <= got["skipped"] < len(LINES)  # the ordinary lines skip it, the crises do not
    assert got["partner_max"] < got["ceiling"]
