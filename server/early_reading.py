"""Reading a turn while it is still spoken, so that at the pause the model has little left to read.

Every `step_ms` of new speech, the turn so far is transcribed again (LocalAgreement-2 partials,
`asr/streaming.py`) and its words are evaluated into the dialogue model's cache behind the
conversation so far, where the reply's prompt will have them. Each call runs only when its worker is
idle, since this merely saves time later and must never delay a reply. At the pause `stop()` ends it;
the reply's own recognition of the whole turn is what the history keeps.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from asr.base import SAMPLE_RATE
from asr.streaming import PartialTranscriber

log = logging.getLogger("warmline.early_reading")


@dataclass
class ReadingStats:
    reads: int = 0  # partial transcripts made
    prefilled_tokens: int = 0  # tokens the model read ahead of the pause
    words: str = ""  # the words it read last


class TurnReader:
    def __init__(self, *, recognizer, engine, workers: dict, conversation: Callable[[], object],
                 step_ms: float = 700, max_speech_ms: float = 20_000) -> None:
        """`max_speech_ms`: each read transcribes the whole turn again, so a long turn is read only this far; a
        read in flight when the user pauses would hold the worker the turn's own recognition needs."""
        self.engine, self.workers, self.conversation, self.step_ms = engine, workers, conversation, step_ms
        self.max_speech_ms = max_speech_ms
        self.stats = ReadingStats()
        self._partials = PartialTranscriber(recognizer, min_step_s=0)
        self._cancel = threading.Event()
        self._read_at_ms = 0.0
        self._task: asyncio.Task | None = None

    def offer(self, frames: list[np.ndarray], speech_ms: float) -> None:
        """The turn so far (`speech_ms` of it): start another read if one is due and none is running."""
        if self._cancel.is_set() or (self._task is not None and not self._task.done()):
            return
        if speech_ms - self._read_at_ms < self.step_ms or speech_ms > self.max_speech_ms:
            return
        self._read_at_ms = speech_ms
        self._task = asyncio.create_task(self._read(np.concatenate(frames)))

    def stop(self) -> None:
        """The user paused: a read in flight stops at its next step; no new one starts."""
        self._cancel.set()

    def resume(self) -> None:
        """The user went on after a pause: read on (the words read so far stay agreed)."""
        self._cancel = threading.Event()

    async def _read(self, audio: np.ndarray) -> None:
        heard: list = []
        cancel = self._cancel
        try:
            ran = await self.workers["asr"].run_when_idle(
                lambda: heard.append(self._partials.update(audio, cancel=cancel)))
            if not ran or not heard or not heard[0].text:
                return
            # Heard, even if the user has paused meanwhile: the model is free until the turn's own recognition is
            # done, and these words are the start of what it will read then.
            words = heard[0].text
            self.stats.reads += 1
            counted: list[int] = []
            await self.workers["dialogue"].run_when_idle(
                lambda: counted.append(self.engine.prefill(self.conversation(), words)))
            if counted:
                self.stats.prefilled_tokens += counted[0]
                self.stats.words = words
                log.debug("read %d tokens ahead (%.1f s of speech): %r", counted[0], len(audio) / SAMPLE_RATE, words)
        except Exception as exc:  # an optimisation: a failure here must not touch the turn
            if not cancel.is_set():
                log.warning("reading ahead failed: %s", exc)
