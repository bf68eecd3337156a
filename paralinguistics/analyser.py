"""How a user turn was said: one analyser over the shared Whisper encoder states and the raw signal.

    analyser = VoiceAnalyser()                       # loads the heads; Whisper base only if ever needed
    profile = analyser.analyse(audio16k, encoder_states=transcript.encoder_states, baseline=b)
    profile.to_dict()

When the recogniser already ran Whisper base on the turn with its torch encoder, its hidden states
(7, frames, 512: the input embedding and each of the six layers) are reused and the analysis costs only
the prosody DSP, the speaker embedding the gender head reads (`speaker.py`) and the heads; otherwise (no
states, the last layer only, or another model's shape such as tiny.en's) the analyser runs its own
trimmed Whisper base encoder pass. With a conversation's baseline, gender is read over the turns and, once
settled, no longer (nor its speaker embedding) unless a turn's pitch says it may be another voice.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import labels as L
from .audio import condition
from .baseline import SpeakerBaseline
from .features import frame_stats, halve, pool_layers, signal_features
from .heads import ensemble_predict, load
from .prosody import text_syllables

MODELS_DIR = Path(__file__).parent / "models"
STATE_DIM = 512  # Whisper base
HIDDEN_STATES = 7  # its input embedding and six layers
GENDER_MIN_CONFIDENCE = 0.75
AGE_MIN_CONFIDENCE = 0.6
EVENT_MIN_CONFIDENCE = 0.5
WHISPER_MAX_VOICED = 0.25  # whispered speech has sound but almost no steadily voiced frames
TREMBLING_MIN_ST = 0.8  # F0 wobble, semitones rms: read speech 0.3-0.5 here, a +-1.5 st 6 Hz vibrato 0.9-1.1
MIN_SPEECH_S = 0.2


@dataclass
class Prediction:
    label: str
    confidence: float
    distribution: dict[str, float] | None = None

    def to_dict(self) -> dict:
        d = {"label": self.label, "confidence": round(self.confidence, 4)}
        if self.distribution is not None:
            d["distribution"] = {k: round(v, 4) for k, v in self.distribution.items()}
        return d


@dataclass
class VoiceProfile:
    emotion: Prediction = field(default_factory=lambda: Prediction("unknown", 0.0, {}))
    valence: float = 0.0
    arousal: float = 0.0
    gender: Prediction = field(default_factory=lambda: Prediction("unknown", 0.0))
    gender_turns: int = 1  # how many of the speaker's turns the gender was read over (with a baseline)
    gender_settled: bool = False  # not read on this turn: the conversation had settled it (baseline.py)
    age_group: Prediction = field(default_factory=lambda: Prediction("unknown", 0.0))
    events: list[Prediction] = field(default_factory=list)
    style: dict = field(default_factory=dict)
    unknown: bool = True
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "emotion": self.emotion.to_dict(), "valence": round(self.valence, 3), "arousal": round(self.arousal, 3),
            "gender": {**self.gender.to_dict(), "turns": self.gender_turns, "settled": self.gender_settled},
            "age_group": self.age_group.to_dict(),
            "events": [e.to_dict() for e in self.events], "style": self.style, "unknown": self.unknown,
            "reason": self.reason, "warnings": self.warnings,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


class VoiceAnalyser:
    """Emotion, gender, age group, vocal events and speaking style of one turn. Thread-safe."""

    def __init__(self, *, whisper_model=None, device: str = "auto", models_dir: str | Path | None = None,
                 cpu_threads: int = 0):
        from asr.whisper_encoder import resolve_device

        self.device = resolve_device(device)  # the encoder pass is the only thing here a GPU would speed up
        self.heads, self.meta = load(models_dir or MODELS_DIR)
        # a name/path, or an already loaded asr.whisper_encoder.TorchWhisperEncoder (the recogniser's, if it is
        # Whisper base's)
        self._whisper_spec = whisper_model
        self._whisper = whisper_model if _is_base_encoder(whisper_model) else None
        if self._whisper is not None or not isinstance(whisper_model, (str, Path)):
            self._whisper_spec = None
        self._cpu_threads = cpu_threads
        self._load_lock = threading.Lock()
        self._depth = _deepest_layer(self.heads.values())
        self._voice = None  # speaker.VoiceEncoder, loaded on the first turn a head needs it
        self._voice_error: str | None = None

    def _speaker_embedding(self, audio: np.ndarray, warnings: list[str]) -> np.ndarray | None:
        """The turn's speaker embedding, or None (with a warning) when the speaker encoder cannot load."""
        with self._load_lock:
            if self._voice is None and self._voice_error is None:
                try:
                    from .speaker import VoiceEncoder

                    self._voice = VoiceEncoder(device=self.device)
                except Exception as e:  # a missing package must cost the gender head, not the analysis
                    self._voice_error = f"speaker encoder unavailable ({e}); heads that read it are skipped"
        if self._voice is None:
            warnings.append(self._voice_error)
            return None
        return self._voice.embed(audio)

    # -- the shared encoder, only loaded when a turn arrives without usable states
    def _encoder(self):
        with self._load_lock:
            if self._whisper is None:
                from asr.whisper_encoder import TorchWhisperEncoder
                from server.models import resolve

                self._whisper = TorchWhisperEncoder.from_folder(resolve(self._whisper_spec or "whisper-base"),
                                                                device=self.device, threads=self._cpu_threads)
                if not _is_base_encoder(self._whisper):
                    raise ValueError(f"{self._whisper_spec}: the heads need Whisper base's encoder "
                                     f"({HIDDEN_STATES - 1} layers of {STATE_DIM})")
            return self._whisper

    def encoder_states(self, audio16k: np.ndarray) -> np.ndarray:
        """The hidden states the heads read, from a trimmed Whisper base encoder pass over the audio:
        (depth + 1, frames, 512), the pass stopping at the deepest layer a head pools (7 rows for all)."""
        from asr.encoder import encode

        enc = encode(self._encoder(), audio16k, depth=self._depth)
        return enc.hidden[:, : enc.audio_frames]

    def new_baseline(self) -> SpeakerBaseline:
        return SpeakerBaseline()

    def analyse(self, audio16k, *, encoder_states: np.ndarray | None = None,
                baseline: SpeakerBaseline | None = None, transcript: str | None = None) -> VoiceProfile:
        """`transcript`: the recogniser's words for this audio; the speaking rate is then counted from
        them (syllables per second of sound) rather than from energy peaks. It may be a callable that waits for
        them, when the recogniser runs beside this analysis: it is called once the heads have read the voice and
        before anything is learned from this turn; None from it (the turn had no words) learns nothing."""
        t0 = time.perf_counter()
        audio, warnings, reason = condition(audio16k)
        timings: dict[str, float] = {}
        if reason is not None:
            return VoiceProfile(reason=reason, warnings=warnings, timings_ms={"total": _ms(t0)})
        t = time.perf_counter()
        style, pros = signal_features(audio)
        timings["prosody"] = _ms(t)
        if style.speech_s < MIN_SPEECH_S:
            return VoiceProfile(reason=f"no speech found ({style.speech_s:.2f} s of sound)", warnings=warnings,
                                timings_ms={**timings, "total": _ms(t0)})
        states = None if encoder_states is None else np.asarray(encoder_states, dtype=np.float32)
        if states is not None and states.ndim == 3 and states.shape[0] == 1:
            states = None  # the encoder's output only (CTranslate2's encoder): the heads read middle layers
        if states is not None and (states.ndim != 3 or states.shape[0] != HIDDEN_STATES
                                   or states.shape[2] != STATE_DIM or states.shape[1] == 0):
            warnings.append(f"encoder states of shape {states.shape} are not Whisper base's every layer "
                            f"({HIDDEN_STATES}, frames, {STATE_DIM}); encoding again")
            states = None
        t = time.perf_counter()
        if states is None:
            states = self.encoder_states(audio)
            timings["encoder"] = _ms(t)
        settled = baseline.settled_gender(style) if baseline is not None else None
        heads = [h for h in self.heads.values() if not (settled and h.task == "gender")]
        speaker = None
        if any(h.speaker for h in heads):
            t = time.perf_counter()
            speaker = self._speaker_embedding(audio, warnings)
            timings["speaker"] = _ms(t)
        t = time.perf_counter()
        pooled: dict[tuple, np.ndarray] = {}
        frames = halve(states[-1]) if any(h.attention or h.frame_stats for h in heads) else None
        stats = frame_stats(frames) if any(h.frame_stats for h in heads) else None
        logits: dict[str, list[np.ndarray]] = {}
        kind_only: dict[str, list[bool]] = {}
        for h in heads:
            if h.speaker and speaker is None:
                continue
            if h.layers not in pooled:
                pooled[h.layers] = pool_layers(states, h.layers)
            logits.setdefault(h.task, []).append(h.logits(pooled[h.layers], pros, frames, speaker, stats))
            kind_only.setdefault(h.task, []).append(h.kind_only)
        probs = ensemble_predict(logits, kind_only)
        timings["heads"] = _ms(t)
        if callable(transcript):
            transcript = transcript()
            if transcript is None:
                return VoiceProfile(reason="the turn had no words", warnings=warnings,
                                    timings_ms={**timings, "total": _ms(t0)})
        profile = VoiceProfile(unknown=False, warnings=warnings)
        if settled:
            probs["gender"] = np.array(settled[0])
            profile.gender_turns, profile.gender_settled = settled[1], True
        elif baseline is not None and "gender" in probs:  # a voice's gender is read over the whole conversation
            pooled_gender, profile.gender_turns = baseline.gender_over_turns(probs["gender"])
            probs["gender"] = np.array(pooled_gender)
        self._fill(profile, probs)
        profile.style = describe_style(style, baseline, transcript)
        timings["total"] = _ms(t0)
        profile.timings_ms = timings
        return profile

    def _fill(self, p: VoiceProfile, probs: dict[str, np.ndarray]) -> None:
        if "emotion" in probs:
            dist = dict(zip(L.EMOTIONS, map(float, probs["emotion"])))
            best = max(dist, key=dist.get)
            p.emotion = Prediction(best, dist[best], dist)
            p.valence = float(sum(dist[e] * L.CIRCUMPLEX[e][0] for e in dist))
            p.arousal = float(sum(dist[e] * L.CIRCUMPLEX[e][1] for e in dist))
        if "gender" in probs:
            g = probs["gender"]
            i = int(np.argmax(g))
            conf = float(g[i])
            p.gender = Prediction(L.GENDERS[i] if conf >= GENDER_MIN_CONFIDENCE else "unknown", conf)
        if "age" in probs:
            a = probs["age"]
            i = int(np.argmax(a))
            conf = float(a[i])
            p.age_group = Prediction(L.AGE_GROUPS[i] if conf >= AGE_MIN_CONFIDENCE else "unknown", conf,
                                     dict(zip(L.AGE_GROUPS, map(float, a))))
        if "events" in probs:
            names = next(h.labels for h in self.heads.values() if h.task == "events")
            ev = probs["events"]
            p.events = sorted((Prediction(n, float(c)) for n, c in zip(names, ev)
                               if n != L.NO_EVENT and c >= EVENT_MIN_CONFIDENCE), key=lambda e: -e.confidence)


def describe_style(s, baseline: SpeakerBaseline | None = None, transcript: str | None = None) -> dict:
    """The style a turn reports: the measures, whispering and trembling, the rate counted from the
    transcript when there is one, and the change against the speaker's baseline (which learns from it)."""
    syllables = text_syllables(transcript) if transcript else 0
    if syllables and s.speech_s > 0:
        s = replace(s, rate_syl_s=syllables / s.speech_s)
    d = s.to_dict()
    d["rate_from"] = "transcript" if syllables else "signal"
    d["whispering"] = whispering(s)
    d["trembling"] = bool(s.tremor_st >= TREMBLING_MIN_ST and s.voiced_ratio > WHISPER_MAX_VOICED)
    d["relative"] = baseline.compare_and_update(s) if baseline is not None else None
    return d


def whispering(s) -> bool:
    return bool(s.speech_s > 0 and s.steady_voiced_ratio <= WHISPER_MAX_VOICED)


def _deepest_layer(heads) -> int | None:
    """How many encoder layers the heads need run; None for all (a head reads the output layer: pooled, attended
    to or through its frame statistics)."""
    layers = [i for h in heads for i in h.layers]
    if (not layers or any(h.attention or h.frame_stats for h in heads) or min(layers) < 0
            or max(layers) >= HIDDEN_STATES - 1):
        return None
    return max(layers)


def _is_base_encoder(model) -> bool:
    return (getattr(model, "dim", None) == STATE_DIM and getattr(model, "layers", None) == HIDDEN_STATES - 1
            and hasattr(model, "hidden_states"))


def _ms(t: float) -> float:
    return (time.perf_counter() - t) * 1000
