"""The scorer's third member, a linear probe on a dialogue model's hidden state (dialogue/safety/probe.py): how it
joins the crisis logit, where it is skipped, how its head is fitted, and the state reader on the real GGUF."""
from pathlib import Path

import numpy as np
import pytest

from dialogue.safety.probe import Probe, fit_probe
from dialogue.safety.scorer import RiskScorer, SentenceEncoder, _sigmoid

TEXTS = ["I won't need him where I'm going.", "Lovely weather today.", "I sorted out the will, every last thing."]


class _Reader:
    """States chosen by the test, counting the texts read."""

    def __init__(self, states: dict[str, np.ndarray]):
        self.states, self.read = states, 0

    def state(self, text):
        self.read += 1
        return self.states[text]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from server.models import resolve

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve("minilm"))
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32)
    path = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return SentenceEncoder(str(path), threads=1, normalize=False)


def _heads(dim, rng, threshold):
    lin = lambda k=1: {"w": rng.normal(0, 1, (k, dim)).tolist(), "b": [0.0] * k}
    return {"heads": {"crisis": lin(), "concern": lin(), "imminent": lin(), "category": lin(5)},
            "thresholds": {"crisis": float(_sigmoid(threshold)), "concern": 0.5, "imminent": 0.5}}


def _block(**kw):
    # the probe's logit is the state's first number: w = e0, b = 0
    return {"model": "unused", "w": [1.0, 0.0], "b": 0.0, "weight": 0.5, "centre": 1.0, "floor": -4.0, "ceiling": 6.0, **kw}


def test_the_probe_adds_its_weighted_centred_logit(tiny):
    heads = _heads(tiny.dim, np.random.default_rng(0), threshold=0.0)
    own = {t: float((tiny.encode([t]) @ np.asarray(heads["heads"]["crisis"]["w"]).T)[0, 0]) for t in TEXTS}
    reader = _Reader({TEXTS[0]: np.array([3.0, 7.0], np.float32), TEXTS[1]: np.array([40.0, 0.0], np.float32)})
    def within(text):  # a threshold just above the text: within the probe's reach, so it is read
        return {**heads, "thresholds": {**heads["thresholds"], "crisis": float(_sigmoid(own[text] + 0.9))}}

    probed = lambda text: RiskScorer(tiny, {**within(text), "probe": _block()}, probe=Probe(reader, _block()))
    alone = RiskScorer(tiny, within(TEXTS[0]))

    assert probed(TEXTS[0]).score(TEXTS[0]).crisis == pytest.approx(float(_sigmoid(own[TEXTS[0]] + 0.5 * (3.0 - 1.0))), rel=1e-4)
    assert probed(TEXTS[0]).concern(TEXTS[0]).escalate and not alone.concern(TEXTS[0]).escalate
    # held at its ceiling (6): a state far outside what it was trained on cannot swing the verdict further
    assert probed(TEXTS[1]).score(TEXTS[1]).crisis == pytest.approx(float(_sigmoid(own[TEXTS[1]] + 0.5 * (6.0 - 1.0))), rel=1e-4)
    assert alone.score(TEXTS[0]).crisis == pytest.approx(float(_sigmoid(own[TEXTS[0]])), rel=1e-4)
    with pytest.raises(ValueError, match="probe"):
        RiskScorer(tiny, {**heads, "probe": _block()})
    with pytest.raises(ValueError, match="prompt"):
        Probe(reader, _block(prompt="Is this fine?"))


def test_the_probe_can_lower_a_crisis_logit_only_by_its_weighted_floor(tiny):
    heads = _heads(tiny.dim, np.random.default_rng(1), threshold=0.0)
    own = float((tiny.encode([TEXTS[2]]) @ np.asarray(heads["heads"]["crisis"]["w"]).T)[0, 0])
    heads["thresholds"]["crisis"] = float(_sigmoid(own + 1.0))  # within its reach either way
    reader = _Reader({TEXTS[2]: np.array([-100.0, 0.0], np.float32)})
    scorer = RiskScorer(tiny, {**heads, "probe": _block()}, probe=Probe(reader, _block()))
    assert scorer.score(TEXTS[2]).crisis == pytest.approx(float(_sigmoid(own + 0.5 * (-4.0 - 1.0))), rel=1e-4)


def test_the_probe_runs_only_where_it_could_change_a_verdict(tiny):
    heads = _heads(tiny.dim, np.random.default_rng(2), threshold=0.0)
    own = {t: float((tiny.encode([t]) @ np.asarray(heads["heads"]["crisis"]["w"]).T)[0, 0]) for t in TEXTS}
    states = {t: np.array([2.0, 0.0], np.float32) for t in TEXTS}
    block = _block()  # it adds at most 0.5 * (6 - 1) = 2.5 and takes away at most 0.5 * (1 + 4) = 2.5
    for t in TEXTS:
        reader = _Reader(states)
        far_above = {**heads, "thresholds": {**heads["thresholds"], "crisis": float(_sigmoid(own[t] + 3.0))}}
        scorer = RiskScorer(tiny, {**far_above, "probe": block}, probe=Probe(reader, block))
        assert scorer.concern(t).level != "elevated" and reader.read == 0  # even its ceiling cannot lift it
        far_below = {**heads, "thresholds": {**heads["thresholds"], "crisis": float(_sigmoid(own[t] - 3.0))}}
        scorer = RiskScorer(tiny, {**far_below, "probe": block}, probe=Probe(reader, block))
        assert scorer.concern(t).escalate and reader.read == 0  # even its floor cannot lower it under
        within = {**heads, "thresholds": {**heads["thresholds"], "crisis": float(_sigmoid(own[t] + 2.0))}}
        scorer = RiskScorer(tiny, {**within, "probe": block}, probe=Probe(reader, block))
        scorer.score(t)
        assert reader.read == 1


def test_the_partner_skip_counts_what_the_probe_could_add(tiny):
    rng = np.random.default_rng(3)
    heads = _heads(tiny.dim, rng, threshold=2.0)
    heads["partner"] = {"encoder": "unused", "tuned_layers": "x.npz", "heads": {"crisis": {"w": rng.normal(0, 1, (1, tiny.dim)).tolist(), "b": [0.0]}},
                        "weight": 0.5, "scale": 1.0, "shift": 0.0, "ceiling": 1.0}
    without = RiskScorer(tiny, heads, partner=tiny)
    block = _block()
    probed = RiskScorer(tiny, {**heads, "probe": block}, partner=tiny, probe=Probe(_Reader({}), block))
    # the blend could reach the threshold from 2.5 / (1 - 0.5) = 5 logits lower on MiniLM's scale
    assert probed.partner_moot_below == pytest.approx(without.partner_moot_below - 5.0)


def test_the_fitted_head_reads_raw_states_despite_one_huge_dimension():
    rng = np.random.default_rng(4)
    y = rng.random(400) < 0.3
    x = rng.normal(0, 1, (400, 8)).astype(np.float32)
    x[:, 0] = rng.normal(3000, 50, 400)  # a hidden state's outlier dimension, carrying nothing
    x[:, 3] += np.where(y, 1.5, -1.5)  # the signal, small beside it
    w, b = fit_probe(x, y)
    z = x @ w + b
    assert (z[y] > 0).mean() > 0.9 and (z[~y] < 0).mean() > 0.9
    assert abs(w[3]) > 10 * abs(w[0])


def _gguf():
    path = Path.home() / ".cache/warmline/models/qwen2.5-0.5b/qwen2.5-0.5b-instruct-q4_k_m.gguf"
    if not path.exists():
        pytest.skip("the Qwen2.5 0.5B GGUF is not assembled (`warmline models`)")
    return path


def test_the_state_reader_reads_the_real_model():
    from dialogue.safety.probe import StateReader

    reader = StateReader(str(_gguf()), device="cpu", threads=2)
    a, again, b = reader.state(TEXTS[0]), reader.state(TEXTS[0]), reader.state(TEXTS[1])
    assert a.shape == (896,) and np.isfinite(a).all()
    np.testing.assert_allclose(a, again, rtol=1e-4, atol=1e-4)
    assert np.linalg.norm(a - b) > 0.05 * np.linalg.norm(a)
    long = reader.state("and then " * 2000 + TEXTS[0])  # past the context: its latest words are read
    assert long.shape == (896,) and np.isfinite(long).all()
    with pytest.raises(ValueError, match="device"):
        StateReader(str(_gguf()), device="tpu")


def test_a_heads_file_names_a_scorer(tmp_path):
    """`--safety-scorer FILE.json`: a retrain, or heads with a probe, as the server would load them."""
    from dialogue.safety.scorer import HEADS
    from server.models import CATALOG, is_assembled

    if not is_assembled(CATALOG["minilm"]):
        pytest.skip("MiniLM is not assembled (`warmline models`)")
    import json
    heads = json.loads(HEADS.read_text())
    heads["thresholds"] = {**heads["thresholds"], "crisis": 0.5}  # a different operating point, to tell them apart
    (tmp_path / heads["tuned_layers"]).symlink_to(HEADS.with_name(heads["tuned_layers"]))
    (tmp_path / "retrain.json").write_text(json.dumps(heads))
    named = RiskScorer.named(str(tmp_path / "retrain.json"))
    assert named.thresholds["crisis"] == 0.5 and RiskScorer.named("minilm").thresholds["crisis"] != 0.5


def test_the_probe_learns_a_crisis_calls_turns_only_from_before_its_crisis():
    from dialogue.safety.cases import load
    from dialogue.safety.train_probe import SETS, lines_of

    calls = load(SETS / "longcall_j.jsonl")
    rows = lines_of("longcall_j")
    assert rows and all(not crisis and kind == "call_turn" for _, crisis, kind in rows)
    texts = {t for t, _, _ in rows}
    for call in calls:
        if call.level != "none":
            assert not any(t in texts for t in call.turns[call.crisis_from:] if t not in call.turns[:call.crisis_from])
    lines = lines_of("tune_a")
    assert any(crisis for _, crisis, _ in lines) and any(not crisis for _, crisis, _ in lines)
