"""The zero-dependency fallback: Debian's espeak-ng, with emotion as SSML <prosody>."""
from __future__ import annotations

import io
import shutil
import subprocess
import threading
from xml.sax.saxutils import escape

import numpy as np
import soundfile as sf

from .profiles import ProfileTable, Prosody
from .voice import ClauseVoice


def ssml(text: str, prosody: Prosody) -> str:
    """The SSML espeak-ng reads: rate, pitch level and pitch range as percentages of its defaults."""
    rate = round(100 * prosody.rate)
    pitch = round(100 * (2 ** (prosody.pitch_semitones / 12) - 1))
    range_ = round(100 * prosody.pitch_range)
    return (f'<speak><prosody rate="{rate}%" pitch="{pitch:+d}%" range="{range_}%">'
            f"{escape(text)}</prosody></speak>")


class EspeakVoice(ClauseVoice):
    """espeak-ng in a subprocess per clause (6-300x real time). Pitch and rate come from SSML;
    loudness and pauses are applied to its output like for every voice."""

    def __init__(self, voice: str = "en-us", *, executable: str | None = None, device: str = "auto",
                 profiles: ProfileTable | None = None, chunk_ms: float = 100.0) -> None:
        super().__init__(profiles=profiles, chunk_ms=chunk_ms)
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        self.executable = executable or shutil.which("espeak-ng") or shutil.which("espeak")
        if self.executable is None:
            raise FileNotFoundError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
        self.voice = voice
        self.name = f"espeak-ng:{voice}"
        probe = self._run("<speak>a</speak>", None)
        if probe is None:
            raise RuntimeError("espeak-ng produced no audio")
        self.sample_rate = probe[1]

    def _run(self, markup: str, cancel: threading.Event | None) -> tuple[np.ndarray, int] | None:
        proc = subprocess.Popen([self.executable, "-m", "-v", self.voice, "--stdout", markup],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        holder: dict = {}
        reader = threading.Thread(target=lambda: holder.update(zip(("out", "err"), proc.communicate())))
        reader.start()
        while reader.is_alive():
            reader.join(0.01)
            if cancel is not None and cancel.is_set():
                proc.kill()
                reader.join()
                return None
        if proc.returncode != 0 or not holder.get("out"):
            raise RuntimeError(f"espeak-ng failed ({proc.returncode}): {holder.get('err', b'').decode(errors='replace')}")
        audio, sr = sf.read(io.BytesIO(holder["out"]), dtype="float32")
        return audio.reshape(-1), sr

    def _own_pitch(self, prosody: Prosody) -> bool:
        return True

    def _raw(self, spoken: str, prosody: Prosody, cancel: threading.Event | None) -> np.ndarray | None:
        result = self._run(ssml(spoken, prosody), cancel)
        return None if result is None else result[0]
