"""Per-turn timestamps, in milliseconds since the session started (monotonic clock)."""
from __future__ import annotations

import time
from collections import deque


class Clock:
    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def now_ms(self) -> float:
        return (time.monotonic() - self._t0) * 1000.0


class AudioArrival:
    """Maps a position in the user's audio stream to the wall-clock time it arrived.

    VAD reports speech edges in audio time; latency is measured from when that audio reached us.
    """

    def __init__(self, keep: int = 2000) -> None:
        self._marks: deque[tuple[float, float]] = deque(maxlen=keep)  # (audio_end_ms, wall_ms)

    def add(self, audio_end_ms: float, wall_ms: float) -> None:
        self._marks.append((audio_end_ms, wall_ms))

    def wall_ms(self, audio_ms: float) -> float | None:
        for end, wall in self._marks:
            if end >= audio_ms:
                return wall
        return self._marks[-1][1] if self._marks else None


class TurnTimeline:
    MARKS = ("speech_start", "speech_end", "asr_start", "endpoint", "transcript", "analysis", "first_token", "first_clause",
             "first_model_clause", "audio_ready", "first_audio", "playback_confirmed", "response_done")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.marks: dict[str, float] = {}
        self.extra: dict[str, float] = {}

    def copy(self) -> "TurnTimeline":
        """A timeline for one attempt at answering this turn (speculative replies may be dropped)."""
        other = TurnTimeline(self.clock)
        other.marks = dict(self.marks)
        return other

    def mark(self, name: str, at_ms: float | None = None, *, first: bool = True) -> None:
        if first and name in self.marks:
            return
        self.marks[name] = round(self.clock.now_ms() if at_ms is None else at_ms, 1)

    def durations(self) -> dict[str, float]:
        m = self.marks

        def span(a: str, b: str) -> float | None:
            return round(m[b] - m[a], 1) if a in m and b in m else None

        out = {
            "endpoint_wait_ms": span("speech_end", "endpoint"),
            "asr_ms": span("asr_start", "transcript"),  # starts at the pause, before the endpoint
            "analysis_ms": span("transcript", "analysis"),
            "first_token_ms": span("analysis", "first_token") if "analysis" in m else span("transcript", "first_token"),
            # the model's own first clause: after an opener, the first clause came before the model's first token
            "first_clause_ms": span("first_token", "first_model_clause" if "first_model_clause" in m else "first_clause"),
            "tts_first_chunk_ms": span("first_clause", "audio_ready" if "audio_ready" in m else "first_audio"),
            "end_of_speech_to_first_audio_ms": span("speech_end", "first_audio"),
            # the model's own first clause, after an opener (dialogue/openers.py): when its words could start
            "end_of_speech_to_model_clause_ms": span("speech_end", "first_model_clause"),
            # negative: a speculative reply had its first audio ready before the turn was confirmed
            "audio_ready_after_endpoint_ms": span("endpoint", "audio_ready"),
        }
        out.update(self.extra)
        return {k: v for k, v in out.items() if v is not None}

    def to_dict(self) -> dict:
        return {"marks": dict(self.marks), "durations": self.durations()}
