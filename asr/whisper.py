"""Whisper recognition on a trimmed window (see asr/encoder.py): one utterance in, one Transcript out.

The decoder runs greedily (or with a small beam) from the no-timestamps prompt, its output bounded by
the audio's duration. Two guards keep Whisper from inventing words:
- no speech: a turn whose no-speech probability exceeds 0.6 becomes "". On a trimmed window this
  alone separates silence, beeps and noise (0.69-0.99 measured) from real words (at most 0.28, even
  for one short word), so faster-whisper's "unless the tokens are confident" rescue, made for 30 s
  windows that are mostly silence, is not used: it let "you" through on pure silence.
- looping: a short turn on a short window makes the decoder repeat itself ("4 4 4 4", "-y-y-y-y").
  On 40 one-word phone prompts, an (audio + 3 s) window looped on 20 (tiny.en) and 10 (base); a
  window of at least 6 s on 10 and 0; 10 s on 2 and 0. So the window is never shorter than
  `min_window_s` (6 s), and an output that still repeats an n-gram three times running, is one
  phrase said twice ("6 6"), fills its length bound or compresses too well is decoded again from
  the full 30 s window (slow, about a second more on CPU, but it fixed every such case measured).
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
LOOP_COMPRESSION = 2.4
LOOP_REPEATS = 3  # an n-gram of up to LOOP_NGRAM tokens, this many times in a row
LOOP_NGRAM = 4


class Cancelled(RuntimeError):
    """The caller's cancel event was set; no transcript was produced."""


class ModelUnavailable(RuntimeError):
    """A hub model name that is not in the local cache and could not be downloaded."""


def load_whisper(model: str, *, device: str = "auto", compute_type: str = "auto", threads: int = 2,
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

    def __init__(self, model: str, *, device: str = "auto", compute_type: str = "auto", threads: int = 2,
                 language: str | None = "en", headroom_s: float = 3.0, min_window_s: float = 6.0,
                 beam_size: int = 1, download_root: str | None = None, local_files_only: bool = False,
                 encoder: str = "ctranslate2") -> None:
        """`encoder`: "ctranslate2" (default) keeps only the last layer; "torch" runs the encoder in torch
        from the model's own weights and keeps every layer for the paralinguistic heads (asr/whisper_encoder.py),
        so the encoder runs once per turn, but it is slower on a 2-core CPU (6 s window: 129 ms against 91 ms),
        enough to make the speculative transcript miss a 1.1 s pause's backchannel (tests/test_duplex.py).
        On a GPU, choose "torch"."""
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        if encoder not in ("torch", "ctranslate2"):
            raise ValueError(f"encoder must be 'torch' or 'ctranslate2', got {encoder!r}")
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if headroom_s < 0:
            raise ValueError(f"headroom_s must be >= 0, got {headroom_s}")
        self.model = load_whisper(model, device=device, compute_type=compute_type, threads=threads,
                                  download_root=download_root, local_files_only=local_files_only)
        self.encoder = None
        if encoder == "torch":
            from asr.whisper_encoder import TorchWhisperEncoder

            folder = model if os.path.isdir(model) else _downloaded(model, download_root)
            self.encoder = TorchWhisperEncoder.from_folder(folder, device=device, threads=threads)
        self.multilingual = self.model.model.is_multilingual
        if language is not None and language not in _LANGUAGE_CODES:
            raise ValueError(f"unknown language code {language!r}")
        if not self.multilingual and language not in (None, "en"):
            raise ValueError(f"{model} is an English-only model; language {language!r} is not available")
        self.language = language if self.multilingual else "en"
        self.headroom_s, self.min_window_s, self.beam_size = headroom_s, min_window_s, beam_size
        self.name = f"whisper:{Path(model).name}"
        self._tokenizers: dict[str | None, object] = {}

    def transcribe(self, audio: np.ndarray, *, cancel: threading.Event | None = None) -> Transcript:
        """Transcribe one utterance of 16 kHz float32 mono audio. Whisper hears 30 s at a time, so a longer turn
        is cut at its quietest moments into pieces that fit a window with headroom, and their words joined;
        the encoder states are the first piece's."""
        audio = _checked(audio)
        pieces = split_long(audio, max(MAX_S - self.headroom_s, MAX_S / 2))
        if len(pieces) == 1:
            return self._transcribe_one(audio, cancel)
        parts = [self._transcribe_one(piece, cancel) for piece in pieces]
        timings = {k: sum(p.timings.get(k, 0.0) for p in parts) for k in ("encode_s", "decode_s", "retry_s")}
        return Transcript(text=" ".join(p.text for p in parts if p.text), language=parts[0].language,
                          encoder_states=parts[0].encoder_states, timings={k: v for k, v in timings.items() if v})

    def _transcribe_one(self, audio: np.ndarray, cancel: threading.Event | None) -> Transcript:
        if len(audio) < MIN_AUDIO_S * SAMPLE_RATE:
            return Transcript(text="", language=self.language)
        _check(cancel)
        t0 = time.perf_counter()
        duration_s = len(audio) / SAMPLE_RATE
        enc = encode(self.encoder or self.model, audio, headroom_s=max(self.headroom_s, self.min_window_s - duration_s))
        t1 = time.perf_counter()
        _check(cancel)
        language = self.language or self._detect_language(enc.output)
        text, tokens, no_speech = self._decode(enc.output, language, duration_s)
        timings = {"encode_s": t1 - t0}
        if no_speech:
            text = ""
        elif self._looping(text, tokens, duration_s) and enc.window_s < MAX_S:
            _check(cancel)
            t_retry = time.perf_counter()
            full = encode(self.model, audio, headroom_s=MAX_S, want_states=False)
            text, tokens, _ = self._decode(full.output, language, duration_s)
            timings["retry_s"] = time.perf_counter() - t_retry
            text = _repeated_phrase(text) or text  # still looping on the full window: the phrase once
        timings["decode_s"] = time.perf_counter() - t1 - timings.get("retry_s", 0.0)
        return Transcript(text=text, language=language, encoder_states=enc.hidden[:, : enc.audio_frames],
                          timings=timings)

    def _tokenizer(self, language: str | None):
        from faster_whisper.tokenizer import Tokenizer

        if language not in self._tokenizers:
            self._tokenizers[language] = Tokenizer(self.model.hf_tokenizer, self.multilingual, task="transcribe",
                                                   language=language)
        return self._tokenizers[language]

    def _detect_language(self, encoder_output) -> str:
        best_token = self.model.model.detect_language(encoder_output)[0][0][0]  # "<|en|>"
        return best_token[2:-2]

    def _decode(self, encoder_output, language: str | None, duration_s: float) -> tuple[str, list[int], bool]:
        from faster_whisper.transcribe import get_suppressed_tokens

        tok = self._tokenizer(language)
        prompt = list(tok.sot_sequence) + [tok.no_timestamps]
        result = self.model.model.generate(
            encoder_output, [prompt], beam_size=self.beam_size, max_length=len(prompt) + _max_new_tokens(duration_s),
            return_no_speech_prob=True, suppress_blank=True, suppress_tokens=list(get_suppressed_tokens(tok, [-1])))[0]
        tokens = result.sequences_ids[0]
        return tok.decode(tokens).strip(), tokens, result.no_speech_prob > NO_SPEECH_PROB

    @staticmethod
    def _looping(text: str, tokens: list[int], duration_s: float) -> bool:
        return (len(tokens) >= _max_new_tokens(duration_s) or _compression_ratio(text) > LOOP_COMPRESSION
                or _repeats_ngram(tokens) or _repeated_phrase(text) is not None)


def _downloaded(model: str, download_root: str | None) -> str:
    from faster_whisper.utils import download_model

    return download_model(model, local_files_only=True, cache_dir=download_root)  # load_whisper fetched it


def split_long(audio: np.ndarray, max_s: float, *, search_s: float = 5.0, frame_s: float = 0.1) -> list[np.ndarray]:
    """Pieces of at most `max_s`, each cut at the quietest `frame_s` within the last `search_s` before its limit
    (between words, as a rule, so no word is split across two windows)."""
    limit, search, frame = int(max_s * SAMPLE_RATE), int(search_s * SAMPLE_RATE), int(frame_s * SAMPLE_RATE)
    pieces, start = [], 0
    while len(audio) - start > limit:
        lo = start + limit - search
        n = search // frame
        energy = np.square(audio[lo:lo + n * frame]).reshape(n, frame).mean(1)
        cut = lo + int(np.argmin(energy)) * frame + frame // 2
        pieces.append(audio[start:cut])
        start = cut
    pieces.append(audio[start:])
    return pieces


def _max_new_tokens(duration_s: float) -> int:
    return min(int(TOKENS_PER_S * duration_s) + TOKENS_SLACK, 440)


def _repeated_phrase(text: str) -> str | None:
    """ "6 6", "Hamal Hamal", "Kids are by the door. Kids are by the door. Kids are": an output that is
    one phrase said at least twice, the last time possibly cut short. Returns the phrase once."""
    raw = text.split()
    words = [re.sub(r"[^\w']", "", w.lower()) for w in raw]
    for n in range(1, len(words) // 2 + 1):
        if all(words[i] == words[i % n] for i in range(n, len(words))):
            return " ".join(raw[:n])
    return None


def _repeats_ngram(tokens: list[int]) -> bool:
    for n in range(1, LOOP_NGRAM + 1):
        for start in range(len(tokens) - n * LOOP_REPEATS + 1):
            gram = tokens[start:start + n]
            if all(tokens[start + k * n:start + (k + 1) * n] == gram for k in range(1, LOOP_REPEATS)):
                return True
    return False


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
