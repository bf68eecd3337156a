"""The second embedded voice: hibari-tts "heart" (American female, distilled from Kokoro af_heart, 24 kHz ONNX).

hibari's network predicts a spectrum and an F0 curve per 12.5 ms frame and numpy turns them into a wave, so
pitch level and range are set on that F0 curve before the wave is made: the harmonics move, the spectral
envelope (the formants) stays, and no PSOLA pass is needed. Rate is the model's own `speed` input; a profile's
`variation` scales the aperiodic (breath) noise part of the spectrum, which hibari has in place of Piper's
noise scales.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .piper import providers_for
from .profiles import ProfileTable, Prosody
from .voice import ClauseVoice

PROFILES = Path(__file__).with_name("profiles_hibari.toml")
OFFLINE_VOICES = ("heart",)  # inside the wheel; hibari downloads its other voices on first use
CALIBRATION_TEXT = "Hello, I am here with you. Tell me what happened today, and we will take it one step at a time."
VOICED_HZ = 40.0  # hibari's own threshold: frames below it are unvoiced

_table: ProfileTable | None = None


def hibari_table() -> ProfileTable:
    global _table
    if _table is None:
        _table = ProfileTable.load(PROFILES)
    return _table


def shape_f0(f0: np.ndarray, ref_hz: float, semitones: float, range_factor: float) -> np.ndarray:
    """f0' = ref * (f0/ref)^range * 2^(st/12) on voiced frames; unvoiced frames stay as they are."""
    out = np.asarray(f0, np.float32).copy()
    voiced = out > VOICED_HZ
    out[voiced] = ref_hz * (out[voiced] / ref_hz) ** range_factor * 2 ** (semitones / 12)
    return out


class HibariVoice(ClauseVoice):
    """hibari with emotional prosody: rate via `speed`, pitch and range on the predicted F0, variation as breath
    noise, loudness and pauses as every voice gets them. One instance per process (~0.3 s to load); not re-entrant."""

    sample_rate = 24000
    f0_max_hz = 800.0  # a lively female voice passes the pitch tracker's usual 400 Hz ceiling (cheerful's peaks: ~480)

    def __init__(self, voice: str = "heart", *, device: str = "auto", threads: int = 1,
                 profiles: ProfileTable | None = None, chunk_ms: float = 100.0, seed: int | None = 0) -> None:
        super().__init__(profiles=profiles or hibari_table(), chunk_ms=chunk_ms)
        from hibari import Hibari
        from hibari import dsp
        from hibari.voices import VOICES, voice_path

        if voice not in VOICES:
            raise ValueError(f"unknown hibari voice {voice!r}; hibari has {', '.join(VOICES)}")
        try:
            model = voice_path(voice, download_missing=False)
        except FileNotFoundError:
            raise RuntimeError(f"hibari voice {voice!r} is not installed: hibari downloads it from Hugging Face on first "
                               f"use and this server works offline; only {', '.join(OFFLINE_VOICES)} ships in the "
                               "package") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # as for Piper: the cores are shared with ASR and the LLM
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.device = device
        self._session = ort.InferenceSession(model, sess_options=options, providers=providers_for(device))
        self._tts = Hibari.__new__(Hibari)  # its G2P and vocabulary, without a second onnxruntime session
        self._tts.voice, self._tts.model_path, self._tts.sess, self._tts._g2p = voice, model, self._session, None
        self._tts.vocab = _vocab()
        self._dsp = dsp
        self.sample_rate = int(dsp.SR)
        self.name = f"hibari:{voice}"
        self.seed = seed
        self._lock = threading.Lock()
        self.ref_hz = self._reference_pitch(CALIBRATION_TEXT)  # also loads the G2P now, not on the first reply
        self.renderer  # noqa: B018 - builds (and compiles) the renderer now, not on the first reply

    def _reference_pitch(self, text: str) -> float:
        """The voice's usual pitch (geometric mean of its voiced F0): the centre the range scales around."""
        f0 = self._frames(text, 1.0, None)[-1]
        voiced = f0[f0 > VOICED_HZ]
        return float(np.exp(np.mean(np.log(voiced))))

    def _frames(self, text: str, speed: float, cancel: threading.Event | None) -> list[np.ndarray] | None:
        with self._lock:
            phonemes = " ".join(self._tts.phonemize(text))
        ids = self._tts.ids(phonemes)
        if len(ids) < 3 or (cancel is not None and cancel.is_set()):
            return None
        out = self._session.run(None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([speed], np.float32)})
        return [o[0] for o in out]

    def raw_audio(self, text: str, *, speed: float = 1.0, semitones: float = 0.0, range_factor: float = 1.0,
                  breath: float = 1.0, cancel: threading.Event | None = None) -> np.ndarray | None:
        frames = self._frames(text, speed, cancel)
        if frames is None or (cancel is not None and cancel.is_set()):
            return None
        lh, th, ln, lr, phi, f0 = frames
        if abs(breath - 1) > 1e-3:
            ln = ln + np.float32(np.log(breath))  # the noise part's log magnitude
        rng = np.random.default_rng(self.seed)
        if abs(semitones) < 1e-3 and abs(range_factor - 1) < 1e-3:
            return self._dsp.synth(lh, th, ln, lr, phi, f0, rng)
        shaped = self._dsp.synth(lh, th, ln, lr, phi, shape_f0(f0, self.ref_hz, semitones, range_factor), rng)
        # Moving the harmonics under the envelope changes loudness; energy is the profile's job, so match it.
        plain = self._dsp.synth(lh, th, ln, lr, phi, f0, np.random.default_rng(self.seed))
        rms_plain, rms_shaped = float(np.sqrt(np.mean(plain**2))), float(np.sqrt(np.mean(shaped**2)))
        return shaped * np.float32(rms_plain / rms_shaped) if rms_shaped > 1e-9 else shaped

    def _own_pitch(self, prosody: Prosody) -> bool:
        return True

    def _raw(self, spoken: str, prosody: Prosody, cancel: threading.Event | None) -> np.ndarray | None:
        return self.raw_audio(spoken, speed=min(max(prosody.rate, 0.5), 2.0), semitones=prosody.pitch_semitones,
                              range_factor=prosody.pitch_range, breath=prosody.variation, cancel=cancel)


def _vocab() -> dict:
    import json

    from hibari.tts import ASSETS

    with open(Path(ASSETS) / "vocab.json", encoding="utf-8") as f:
        return json.load(f)
