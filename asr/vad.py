"""Voice activity: Silero VAD per 32 ms frame, and a segmenter that turns probabilities into speech edges.

`SileroVAD` holds the one onnxruntime session of a process (its `run` is thread-safe); each
conversation gets a cheap `VadStream` with its own recurrent state and audio context, so sessions
never disturb each other. `SpeechSegmenter` is model-free logic and is tested on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
FRAME = 512  # samples per Silero frame at 16 kHz (32 ms)
FRAME_MS = FRAME * 1000 // SAMPLE_RATE
CONTEXT = 64  # samples of the previous frame the model sees in front of each new one


def default_model_path() -> str:
    """The embedded Silero onnx: the `silero-vad` package's, else the copy faster-whisper carries."""
    try:
        from server.models import resolve

        return resolve("silero-vad")
    except Exception:  # server/ absent, or the package not installed
        import faster_whisper

        path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
        if not path.exists():
            raise FileNotFoundError("no Silero VAD model: install silero-vad or faster-whisper") from None
        return str(path)


class SileroVAD:
    """One Silero VAD model per process; `stream()` gives each conversation its own state."""

    def __init__(self, model_path: str | None = None, *, threads: int = 1, device: str = "auto") -> None:
        import onnxruntime as ort

        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        path = model_path or default_model_path()
        if not Path(path).is_file():
            raise FileNotFoundError(f"Silero VAD model not found: {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # A 512-sample frame is too small to gain from a GPU; "auto" stays on the CPU.
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(path, sess_options=opts, providers=providers)
        self.model_path = path

    def stream(self) -> "VadStream":
        return VadStream(self)

    def _run(self, window: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        prob, new_state = self.session.run(
            None, {"input": window[None, :], "state": state, "sr": np.array(SAMPLE_RATE, dtype=np.int64)})
        return float(prob[0, 0]), new_state


class VadStream:
    """Per-conversation VAD state: the model's recurrent state and the last 64 samples."""

    def __init__(self, vad: SileroVAD) -> None:
        self.vad = vad
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability of one frame of exactly 512 float32 samples at 16 kHz."""
        frame = np.asarray(frame)
        if frame.ndim != 1 or frame.shape[0] != FRAME:
            raise ValueError(f"a VAD frame is exactly {FRAME} mono samples at 16 kHz (32 ms), got shape {frame.shape}")
        if not np.issubdtype(frame.dtype, np.floating):
            raise ValueError(f"a VAD frame must hold float samples in [-1, 1], got dtype {frame.dtype}")
        frame = frame.astype(np.float32, copy=False)
        window = np.concatenate([self._context, frame])
        prob, self._state = self.vad._run(window, self._state)
        self._context = window[-CONTEXT:]
        return prob

    def feed(self, audio: np.ndarray) -> list[float]:
        """Any number of samples in; one probability per complete frame out. The remainder waits for more."""
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        buf = np.concatenate([self._pending, audio]) if self._pending.size else audio
        n = len(buf) // FRAME
        probs = [self.probability(buf[i * FRAME:(i + 1) * FRAME]) for i in range(n)]
        self._pending = buf[n * FRAME:].copy()
        return probs


@dataclass(frozen=True)
class SegmentEvent:
    kind: str  # "speech_start" | "speech_end"
    at_ms: float  # speech onset for a start, the moment speech stopped for an end
    decided_ms: float  # when the segmenter could tell (end of the frame that settled it)


class SpeechSegmenter:
    """Per-frame probabilities -> speech_start / speech_end, with hysteresis.

    Speech begins at a frame >= `threshold` and is confirmed once it has lasted `min_speech_ms`
    without a frame below `neg_threshold`. It ends after `end_silence_ms` in which no frame reached
    `threshold`, counted from the first frame below `neg_threshold` (as Silero's own timestamps do).
    """

    def __init__(self, *, threshold: float = 0.5, neg_threshold: float | None = 0.35, min_speech_ms: float = 250,
                 end_silence_ms: float = 500, frame_ms: float = FRAME_MS) -> None:
        neg = threshold - 0.15 if neg_threshold is None else neg_threshold
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
        if not 0.0 <= neg <= threshold:
            raise ValueError(f"neg_threshold must lie in [0, threshold], got {neg}")
        if min_speech_ms < 0 or end_silence_ms < 0 or frame_ms <= 0:
            raise ValueError("min_speech_ms and end_silence_ms must be >= 0 and frame_ms > 0")
        self.threshold, self.neg_threshold = threshold, neg
        self.min_speech_ms, self.end_silence_ms, self.frame_ms = min_speech_ms, end_silence_ms, frame_ms
        self.reset()

    def reset(self) -> None:
        self.in_speech = False
        self._onset: float | None = None  # candidate or confirmed speech onset
        self._silence_from: float | None = None

    def update(self, prob: float, t_ms: float) -> list[SegmentEvent]:
        """Feed one frame's probability; `t_ms` is the frame's start time in the stream."""
        end_ms = t_ms + self.frame_ms
        if not self.in_speech:
            if self._onset is None:
                if prob >= self.threshold:
                    self._onset = t_ms
            elif prob < self.neg_threshold:
                self._onset = None  # too short: a click or a cough, not speech
                return []
            if self._onset is not None and end_ms - self._onset >= self.min_speech_ms:
                self.in_speech = True
                return [SegmentEvent("speech_start", self._onset, end_ms)]
            return []
        if prob >= self.threshold:
            self._silence_from = None
        elif prob < self.neg_threshold and self._silence_from is None:
            self._silence_from = t_ms
        if self._silence_from is not None and end_ms - self._silence_from >= self.end_silence_ms:
            event = SegmentEvent("speech_end", self._silence_from, end_ms)
            self.reset()
            return [event]
        return []
