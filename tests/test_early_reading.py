"""Reading a turn while it is spoken (server/early_reading.py): when it reads, what it hands the model, and that
it stops at the pause. The recogniser and the model are stand-ins that record their calls; the workers are real."""
from __future__ import annotations

import asyncio

import numpy as np

from asr.base import Transcript
from server.early_reading import TurnReader
from server.workers import ModelWorker

WORDS = "I have been feeling lonely since my friend moved away".split()


class Recogniser:
    """Hears one word per 0.5 s of audio."""

    def transcribe(self, audio, *, cancel=None):
        return Transcript(text=" ".join(WORDS[: int(len(audio) / 8000)]), language="en")


class Engine:
    def __init__(self):
        self.read: list[str] = []

    def prefill(self, conversation, words):
        self.read.append(words)
        return len(words.split())


def frames(seconds: float) -> list[np.ndarray]:
    return [np.zeros(512, np.float32)] * int(seconds * 16000 / 512)


def test_reads_the_words_every_step_while_spoken_and_stops_at_the_pause():
    async def scenario():
        engine = Engine()
        workers = {"asr": ModelWorker("asr"), "dialogue": ModelWorker("dialogue")}
        reader = TurnReader(recognizer=Recogniser(), engine=engine, workers=workers, conversation=lambda: None,
                            step_ms=700, max_speech_ms=4000)
        for seconds in (0.5, 0.8, 1.2, 1.6, 2.4):
            reader.offer(frames(seconds), seconds * 1000)
            await asyncio.sleep(0.05)  # let the read finish before the next frame arrives
        reads_while_speaking = list(engine.read)
        reader.stop()
        reader.offer(frames(3.5), 3500)  # the user paused: no read
        await asyncio.sleep(0.05)
        paused = list(engine.read)
        reader.resume()
        reader.offer(frames(3.5), 3500)
        await asyncio.sleep(0.05)
        reader.offer(frames(4.5), 4500)  # past max_speech_ms: the turn is long, no more reads
        await asyncio.sleep(0.05)
        return reads_while_speaking, paused, engine.read, reader.stats

    speaking, paused, read, stats = asyncio.run(scenario())
    assert speaking == ["I", "I have been", "I have been feeling"]  # at 0.8 s (0.7 s step), 1.6 s and 2.4 s of speech
    assert paused == speaking
    assert read[-1] == "I have been feeling lonely since" and len(read) == 4
    assert stats.reads == 4 and stats.prefilled_tokens == sum(len(w.split()) for w in read)
