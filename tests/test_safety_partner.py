"""The scorer's second encoder: trained from cached states, saved as its tuned layers, blended at scoring time.
On a tiny MPNet the test builds (the real tokenizer, random weights)."""
import numpy as np
import pytest

from dialogue.safety import partner
from dialogue.safety.cases import Case
from dialogue.safety.scorer import RiskScorer, SentenceEncoder, _sigmoid

TEXTS = ["I won't need him where I'm going.", "Lovely weather today.",
         "I gave my dog away last week and I have sorted out the will, all of it, every last thing."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import torch
    from transformers import AutoTokenizer, MPNetConfig, MPNetModel

    from server.models import resolve

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve("mpnet"))
    config = MPNetConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=514)
    path = tmp_path_factory.mktemp("tiny-mpnet")
    MPNetModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def test_the_cached_top_layer_computes_what_the_whole_encoder_computes(tiny):
    top = partner.CachedTop(tiny, (1,))
    import torch

    with torch.inference_mode():
        cached = top.pooled(top.inputs(TEXTS)).numpy()
        whole = SentenceEncoder(tiny, threads=1, normalize=False).pooled(TEXTS).numpy()
    assert cached.shape == whole.shape == (3, 32)
    np.testing.assert_allclose(cached, whole, atol=2e-2)  # the cache is fp16


def test_only_the_top_layers_can_be_tuned(tiny):
    with pytest.raises(ValueError, match="top ones"):
        partner.CachedTop(tiny, (0,))


def test_a_tuned_partner_round_trips_through_its_saved_layers(tiny, tmp_path):
    cases = [Case(f"TX-{i:03d}", (t,), level, None, "k") for i, (t, level) in
             enumerate([(TEXTS[0], "elevated"), (TEXTS[1], "none"), (TEXTS[2], "imminent"), ("Nice cake.", "none")])]
    top = partner.CachedTop(tiny, (1,))
    before = {n: p.detach().clone() for n, p in top.model.named_parameters()}
    states = top.inputs([c.turns[0] for c in cases])
    heads = partner.finetune(top, states, cases, epochs=3, lr=1e-2)
    tuned = top.tuned()
    assert tuned and all(".layer.1." in n for n in tuned)
    assert any(not np.allclose(tuned[n].astype(np.float32), before[n].numpy(), atol=1e-3) for n in tuned)
    np.savez(tmp_path / "partner.npz", **tuned)
    reloaded = SentenceEncoder(tiny, threads=1, normalize=False, tuned=tmp_path / "partner.npz")
    w, b = np.asarray(heads["crisis"]["w"]), np.asarray(heads["crisis"]["b"])
    np.testing.assert_allclose(reloaded.encode(TEXTS) @ w.T[:, 0] + b[0],
                               partner.crisis_logits(top, heads, top.inputs(TEXTS)), atol=5e-2)


def test_blend_params_put_the_partner_on_the_main_scale():
    rng = np.random.default_rng(0)
    main, other = rng.normal(-3, 2, 500), rng.normal(1, 0.5, 500)
    ordinary = np.ones(500, bool)
    params = partner.blend_params(main, other, ordinary, weight=0.5)
    mapped = params["scale"] * other + params["shift"]
    assert mapped.mean() == pytest.approx(main.mean()) and mapped.std() == pytest.approx(main.std())
    np.testing.assert_allclose(partner.blended(main, other, {**params, "weight": 0.0}), main)


def _heads(dim, weight, rng):
    lin = lambda k=1: {"w": rng.normal(0, 1, (k, dim)).tolist(), "b": [0.0] * k}
    return {"heads": {"crisis": lin(), "concern": lin(), "imminent": lin(), "category": lin(5)},
            "thresholds": {"crisis": 0.9, "concern": 0.5, "imminent": 0.5},
            "partner": {"encoder": "unused", "tuned_layers": "x.npz", "heads": {"crisis": lin()},
                        "weight": weight, "scale": 1.0, "shift": 0.0}}


def test_the_scorer_blends_its_partner_crisis_logit(tiny):
    rng = np.random.default_rng(1)
    enc = SentenceEncoder(tiny, threads=1, normalize=False)
    heads = _heads(enc.dim, 0.5, rng)
    text = TEXTS[0]
    emb = enc.encode([text])
    own = float((emb @ np.asarray(heads["heads"]["crisis"]["w"]).T)[0, 0])
    other = float((emb @ np.asarray(heads["partner"]["heads"]["crisis"]["w"]).T)[0, 0])
    assert abs(own - other) > 1e-3
    for weight in (0.0, 0.5, 1.0):
        scorer = RiskScorer(enc, {**heads, "partner": {**heads["partner"], "weight": weight}}, partner=enc)
        assert scorer.score(text).crisis == pytest.approx(float(_sigmoid((1 - weight) * own + weight * other)), rel=1e-4)
    alone = RiskScorer(enc, {k: v for k, v in heads.items() if k != "partner"})
    assert alone.score(text).crisis == pytest.approx(float(_sigmoid(own)), rel=1e-4)
    with pytest.raises(ValueError, match="second encoder"):
        RiskScorer(enc, heads)


class _Counting:
    """The partner encoder, counting the texts it is asked to encode."""

    def __init__(self, encoder):
        self.encoder, self.texts = encoder, 0

    def encode(self, texts):
        self.texts += len(texts)
        return self.encoder.encode(texts)


def test_the_partner_runs_only_where_its_ceiling_could_change_a_verdict(tiny):
    rng = np.random.default_rng(2)
    enc = SentenceEncoder(tiny, threads=1, normalize=False)
    heads = _heads(enc.dim, 0.5, rng)
    own = {t: float((enc.encode([t]) @ np.asarray(heads["heads"]["crisis"]["w"]).T)[0, 0]) for t in TEXTS}
    other = {t: float((enc.encode([t]) @ np.asarray(heads["partner"]["heads"]["crisis"]["w"]).T)[0, 0]) for t in TEXTS}
    low, high = min(own, key=own.get), max(own, key=own.get)
    assert own[high] - own[low] > 0.1
    ceiling = max(other.values()) + 0.5
    # the threshold sits between what the two texts could reach with the partner at its ceiling
    mid = 0.5 * (own[low] + own[high]) / 2 + 0.5 * ceiling  # the blend, half each, of their midpoint and the ceiling
    heads["thresholds"]["crisis"] = float(_sigmoid(mid))
    full = RiskScorer(enc, heads, partner=enc)
    counting = _Counting(enc)
    cascade = RiskScorer(enc, {**heads, "partner": {**heads["partner"], "ceiling": ceiling}}, partner=counting)
    assert full.partner_moot_below is None and own[low] < cascade.partner_moot_below < own[high]

    skipped = cascade.score(low)
    assert counting.texts == 0  # moot: even at its ceiling the partner could not lift the blend to the threshold
    assert skipped.crisis >= full.score(low).crisis  # the bound stands in, so the score errs high, never low
    assert cascade.concern(low).level == full.concern(low).level
    assert cascade.score(high).crisis == pytest.approx(full.score(high).crisis, rel=1e-5) and counting.texts == 1
    counting.texts = 0
    assert cascade.warm() is cascade and counting.texts == 1  # a server warms both encoders before the first turn
    voiced = {**heads, "voice_bias": 10.0, "partner": {**heads["partner"], "ceiling": ceiling}}
    assert RiskScorer(enc, voiced, partner=enc).partner_moot_below < cascade.partner_moot_below - 9  # the voice's lift counts


def test_the_shipped_scorers_by_name():
    from dialogue.safety import SafetyPolicy

    default, blend = RiskScorer.named("minilm"), RiskScorer.named("minilm+mpnet")
    assert default.partner is None and blend.partner is not None
    line = "Gave my dog to my sister. Where I'm going he can't come."
    assert blend.score(line).crisis != default.score(line).crisis  # the partner is heard
    policy = SafetyPolicy(scorer=blend)
    assert policy.detect(line).escalate
    for ordinary in ("I gave my dog to my sister while I'm in hospital for the op.", "This job is killing me.",
                     "My phone is dead again."):
        assert not policy.detect(ordinary).escalate, ordinary


def test_the_minilm_recipe_tunes_only_its_top_layers():
    import torch

    from dialogue.safety import train
    from server.models import resolve

    cases = [Case(f"TX-{i:03d}", (t,), level, None, "k") for i, (t, level) in
             enumerate([("I want to die tonight.", "imminent"), ("Lovely day.", "none"), ("I feel hopeless.", "concern"),
                        ("Nice cake.", "none")] * 4)]
    fresh = SentenceEncoder(resolve("minilm"), threads=1, normalize=False)
    encoder, heads = train.finetune(resolve("minilm"), cases, top_layers=(5,), epochs=1, lr=1e-3)
    assert not encoder.model.training and len(heads["crisis"]["w"][0]) == encoder.dim
    before = dict(fresh.model.named_parameters())
    changed = {n for n, p in encoder.model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(".layer.5." in n for n in changed)


def test_calibrated_thresholds_hold_each_share_on_the_final_models_own_scores():
    from dialogue.safety.train import SENSITIVITY, calibrated

    rng = np.random.default_rng(0)
    p = rng.uniform(0.9, 1.0, 2000)  # a surer final model: its ordinary turns score higher than the folds' did
    floor = {name: {"crisis": 0.5, "concern": 0.5, "voice_raise": 0.5, "imminent": 0.5, "oof": {}} for name in SENSITIVITY}
    points = calibrated(floor, p, p, p)
    for name, ceiling in SENSITIVITY.items():
        assert (p >= points[name]["crisis"]).mean() <= ceiling
        assert points[name]["crisis"] > 0.5 and points[name]["imminent"] == 0.5
    assert points["quiet"]["crisis"] > points["balanced"]["crisis"] > points["sensitive"]["crisis"]
    high = {name: {**t, "crisis": 0.9999} for name, t in floor.items()}  # the hard-negative floor still holds
    assert calibrated(high, p, p, p)["balanced"]["crisis"] == 0.9999
