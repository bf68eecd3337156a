"""Headless Chromium with a wav file as its microphone, driven by selenium, for the browser tests."""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import soxr

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
FAKE_MIC_RATE = 48000  # Chromium's capture rate; a file at this rate is played without conversion


def librivox(clip: str) -> Path:
    """A LibriVox clip of pocketsphinx-testdata by its number, e.g. "0880"."""
    return LIBRIVOX / f"sense_and_sensibility_01_austen_64kb-{clip}.wav"


def unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return "Debian chromium and chromium-driver are not installed"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if not LIBRIVOX.is_dir():
        return "pocketsphinx-testdata (LibriVox clips) is not installed"
    return None


def fake_mic_wav(path: Path, parts: list[float | Path], rate: int = FAKE_MIC_RATE) -> Path:
    """Write a 16-bit mono wav from parts: a number is that many seconds of silence, a path a speech clip."""
    pieces = []
    for part in parts:
        if isinstance(part, (int, float)):
            pieces.append(np.zeros(int(round(part * rate)), dtype=np.float32))
            continue
        audio, clip_rate = sf.read(str(part), dtype="float32", always_2d=True)
        mono = audio.mean(axis=1)
        pieces.append(soxr.resample(mono, clip_rate, rate) if clip_rate != rate else mono)
    sf.write(str(path), np.concatenate(pieces), rate, subtype="PCM_16")
    return path


class Browser:
    """One headless Chromium whose microphone plays `fake_audio` (looped by Chromium)."""

    def __init__(self, fake_audio: Path, *, width: int = 1280, height: int = 900) -> None:
        self.fake_audio = Path(fake_audio)
        if not self.fake_audio.is_file():
            raise FileNotFoundError(f"fake microphone file not found: {self.fake_audio}")
        self.width, self.height = width, height
        self.driver = None
        self._profile: str | None = None

    def __enter__(self) -> "Browser":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._profile = tempfile.mkdtemp(prefix="warmline-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={self.fake_audio}",
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            "--disable-quic", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
            # Keep timers and audio running at full rate in a window nobody looks at.
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            f"--window-size={self.width},{self.height}", f"--user-data-dir={self._profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))

    def close(self) -> None:
        if self.driver is not None:
            try:
                self.driver.quit()
            finally:
                self.driver = None
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.wait_for(lambda s: True, timeout=10, what="the page script to load")

    def click(self, element_id: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.ID, element_id).click()

    def snapshot(self) -> dict | None:
        return self.driver.execute_script(
            "return window.warmline && window.warmline.snapshot ? window.warmline.snapshot() : null")

    def console(self) -> list[str]:
        try:
            return [f"{e.get('level')}: {e.get('message')}" for e in self.driver.get_log("browser")]
        except Exception:  # not every driver keeps a log
            return []

    def wait_for(self, predicate: Callable[[dict], bool], *, timeout: float, what: str,
                 interval: float = 0.1) -> dict:
        """Poll window.warmline until predicate(snapshot) holds; fail with the page's state if it never does."""
        deadline = time.monotonic() + timeout
        snap = None
        while time.monotonic() < deadline:
            snap = self.snapshot()
            if snap is not None and predicate(snap):
                return snap
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}.\n"
                             f"page state: {describe(snap)}\nconsole: {self.console()[-15:]}")

    def screenshot(self, path: Path) -> Path:
        self.driver.save_screenshot(str(path))
        return Path(path)


def describe(snap: dict | None) -> str:
    """A compact, readable dump of a snapshot for failure messages."""
    if snap is None:
        return "window.warmline is missing"
    keep = {k: snap.get(k) for k in ("state", "connected", "url", "eventsSeen", "eventsSent", "audioChunksReceived",
                                     "audioMsReceived", "playedMs", "playing", "queuedMs", "truncations",
                                     "errors", "transcript", "items", "micSettings", "bytesSent")}
    return json.dumps(keep, indent=1, default=str)[:6000]


def words(text: str) -> str:
    """Lower-case letters and single spaces only, for transcript matching ("Ill-disposed." -> "ill disposed")."""
    return " ".join("".join(c if c.isalpha() else " " for c in text.lower()).split())
