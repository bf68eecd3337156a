"""The embedded voice: a Piper VITS model (ONNX) run with onnxruntime through piper-onnx."""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .profiles import ProfileTable, Prosody
from .voice import ClauseVoice

# Piper's sounding time changes by only ~60 % of a length_scale change (measured: 1/0.85 -> +8-11 %),
# so the profile's rate is applied with this exponent to land near the documented ratio.
RATE_EXPONENT = 1.6
CALIBRATION_TEXT = "Hello, I am here with you. Tell me what happened today, and we will take it one step at a time."


def providers_for(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise RuntimeError(f"device='cuda' but onnxruntime has no CUDA provider (has {available}); "
                               "install onnxruntime-gpu or use device='cpu'")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")


class PiperVoice(ClauseVoice):
    """Piper with emotional prosody: rate via length_scale, variation via the noise scales, pitch by
    TD-PSOLA, loudness and pauses after. One instance per process (~3 s to load); not re-entrant:
    calls are serialised, as the server's single TTS worker does anyway."""

    def __init__(self, model_path: str, *, config_path: str | None = None, device: str = "auto",
                 threads: int = 1, speaker: int | None = None, profiles: ProfileTable | None = None,
                 chunk_ms: float = 100.0, calibrate: bool = True) -> None:
        super().__init__(profiles=profiles, chunk_ms=chunk_ms)
        from phonemizer.backend import EspeakBackend
        from piper_onnx import Piper

        model = Path(model_path)
        config = Path(config_path) if config_path else model.with_name(model.name + ".json")
        for path in (model, config):
            if not path.is_file():
                raise FileNotFoundError(f"Piper voice file missing: {path}")
        options = ort.SessionOptions()
        # 2 cores are shared with ASR and the LLM: one thread measured as fast as two under load.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.device = device
        session = ort.InferenceSession(str(model), sess_options=options, providers=providers_for(device))
        self._piper = Piper.from_session(session, str(config))  # loads the config, points phonemizer at espeak-ng
        self.sample_rate = int(self._piper.sample_rate)
        self.name = f"piper:{model.stem}"
        cfg = self._piper.config
        self._inference = cfg.get("inference", {})
        self._id_map: dict[str, list[int]] = self._piper.phoneme_id_map
        self._speaker = speaker if speaker is not None else (0 if cfg.get("num_speakers", 1) > 1 else None)
        language = cfg.get("espeak", {}).get("voice", "en-us")
        logging.getLogger("phonemizer").setLevel(logging.ERROR)
        # Keeping punctuation and stress (as Piper's own phonemizer does) gives the model its phrasing cues.
        self._phonemizer = EspeakBackend(language, preserve_punctuation=True, with_stress=True)
        self._lock = threading.Lock()
        self.aborted_runs = 0  # inferences stopped midway by a cancel
        if calibrate:
            self.renderer.shifter.calibrate(self.raw_audio(CALIBRATION_TEXT))

    def phoneme_ids(self, text: str) -> list[int]:
        phonemes = self._phonemizer.phonemize([text], strip=True)[0]
        ids = list(self._id_map["^"])
        for ph in phonemes:
            if ph in self._id_map:
                ids += self._id_map[ph] + self._id_map["_"]
        return ids + self._id_map["$"]

    def raw_audio(self, text: str, *, length_scale: float | None = None, variation: float = 1.0,
                  cancel: threading.Event | None = None) -> np.ndarray | None:
        with self._lock:
            ids = self.phoneme_ids(text)
        scales = np.array([self._inference.get("noise_scale", 0.667) * variation,
                           length_scale or self._inference.get("length_scale", 1.0),
                           self._inference.get("noise_w", 0.8) * variation], dtype=np.float32)
        inputs = {"input": np.array([ids], dtype=np.int64), "input_lengths": np.array([len(ids)], dtype=np.int64),
                  "scales": scales}
        if "sid" in self._piper.sess_inputs_names:
            inputs["sid"] = np.array([self._speaker or 0], dtype=np.int64)
        out = self._run(inputs, cancel)
        return None if out is None else out.reshape(-1).astype(np.float32)

    def _run(self, inputs: dict, cancel: threading.Event | None) -> np.ndarray | None:
        if cancel is None:
            return self._piper.sess.run(None, inputs)[0]
        if cancel.is_set():
            return None
        options, finished = ort.RunOptions(), threading.Event()

        def watch() -> None:  # onnxruntime aborts a run whose RunOptions.terminate turns true
            while not finished.is_set():
                if cancel.wait(0.005):
                    options.terminate = True
                    return

        watcher = threading.Thread(target=watch, daemon=True, name="piper-cancel")
        watcher.start()
        try:
            return self._piper.sess.run(None, inputs, options)[0]
        except Exception:
            if cancel.is_set():
                self.aborted_runs += 1
                return None
            raise
        finally:
            finished.set()

    def _raw(self, spoken: str, prosody: Prosody, cancel: threading.Event | None) -> np.ndarray | None:
        base = self._inference.get("length_scale", 1.0)
        return self.raw_audio(spoken, length_scale=base / prosody.rate ** RATE_EXPONENT, variation=prosody.variation, cancel=cancel)
