"""The browser client in a real headless Chromium, talking to a real server, with a wav file as its microphone."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.browser import Browser, describe, fake_mic_wav, librivox, unavailable_reason, words

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(unavailable_reason() is not None, reason=unavailable_reason() or ""),
]

# Generous: a shared 2-core machine loads and answers slowly; polling returns as soon as the page is there.
TURN_TIMEOUT_S = 120


def _start(browser: Browser, url: str) -> dict:
    browser.open(url + "/")
    browser.click("toggle")
    return browser.wait_for(
        lambda s: s["connected"] and s["eventsSeen"].get("session.updated", 0) >= 1 and s["bytesSent"] > 0,
        timeout=30, what="the session to be configured and the microphone to stream")


def _user_text(snap: dict) -> str:
    return " ".join(words(e["text"]) for e in snap["transcript"] if e["role"] == "user")


def _keep_screenshot(browser: Browser, tmp_path: Path, name: str) -> None:
    browser.screenshot(tmp_path / name)
    target = os.environ.get("WARMLINE_SCREENSHOT_DIR")
    if target:
        browser.screenshot(Path(target) / name)


def test_browser_round_trip(warmline_server, tmp_path):
    wav = fake_mic_wav(tmp_path / "mic.wav", [1.0, librivox("0880"), 20.0])  # "he was not an ill disposed young man"
    with Browser(wav) as browser:
        snap = _start(browser, warmline_server)
        session = snap["session"]["audio"]
        assert session["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert session["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
        assert snap["micSettings"]["echoCancellation"] is True
        assert snap["micSettings"]["noiseSuppression"] is True
        assert snap["micSettings"]["autoGainControl"] is True

        snap = browser.wait_for(lambda s: "young man" in _user_text(s), timeout=TURN_TIMEOUT_S,
                                what="the user's words in the transcript")
        assert "he was not" in _user_text(snap)

        snap = browser.wait_for(
            lambda s: s["timings"] and s["playedMs"] > 0 and s["eventsSent"].get("warmline.playback", 0) >= 1,
            timeout=TURN_TIMEOUT_S, what="a spoken reply played and the turn's timings")
        reply = [e for e in snap["transcript"] if e["role"] == "assistant"]
        assert reply and words(reply[0]["text"]), describe(snap)
        assert snap["audioChunksReceived"] > 0
        item = snap["items"][reply[0]["item_id"]]
        assert item["started"] and 0 < item["playedMs"] <= item["receivedMs"]
        # The server stamped the page's playback report into the turn's timeline.
        assert "playback_confirmed" in snap["timings"][0]["marks"], snap["timings"][0]
        assert snap["state"] in {"listening", "speaking", "thinking", "user_speaking"}
        assert not [e for e in snap["errors"] if e["type"] == "server"], snap["errors"]
        _keep_screenshot(browser, tmp_path, "round_trip.png")


def _audible(truncation: dict) -> bool:
    return truncation["playing_before"] or truncation["queued_ms_before"] > 0


def _set_muted(browser: Browser, muted: bool) -> None:
    if browser.snapshot()["muted"] != muted:
        browser.click("mute")
    browser.wait_for(lambda s: s["muted"] == muted, timeout=5, what=f"muted={muted}")


def test_browser_barge_in(warmline_server, tmp_path):
    # A question, a pause, then talk without pause (Chromium loops the file). The reply's start depends on
    # the machine's load, so instead of a fixed pause before the talk-over, the page's Mute button (which
    # streams silence) holds the user back until the page is really playing the reply.
    wav = fake_mic_wav(tmp_path / "mic.wav",
                       [0.5, librivox("0880"), 2.5] + [librivox(c) for c in ("0890", "0930", "0920", "0870")])
    with Browser(wav) as browser:
        _start(browser, warmline_server)
        browser.wait_for(lambda s: s["eventsSeen"].get("input_audio_buffer.committed", 0) >= 1,
                         timeout=30, what="the server to end the user's first turn")
        snap = None
        for _ in range(4):  # a reply that ends before the talk-over starts gets another try
            _set_muted(browser, True)
            browser.wait_for(lambda s: s["playing"], timeout=TURN_TIMEOUT_S, what="the agent to start speaking")
            _set_muted(browser, False)
            try:
                snap = browser.wait_for(lambda s: any(map(_audible, s["truncations"])), timeout=15,
                                        what="a barge-in that stops playing audio and truncates the reply")
                break
            except AssertionError:
                continue
        assert snap is not None, describe(browser.snapshot())
        cut = next(filter(_audible, snap["truncations"]))
        # Stopped inside the speech_started handler: audio was playing or queued before, none after.
        assert cut["trigger_event_id"] in {s["event_id"] for s in snap["speechStarted"]}
        assert cut["playing_after"] is False and cut["queued_ms_after"] == 0, cut
        assert 0 <= cut["audio_end_ms"] <= cut["received_ms"], cut

        after = browser.wait_for(lambda s: s["eventsSeen"].get("conversation.item.truncated", 0) >= 1,
                                 timeout=30, what="the server to confirm the truncation")
        item = after["items"][cut["item_id"]]
        assert item["stopped"] and abs(item["playedMs"] - cut["audio_end_ms"]) <= 1, (item, cut)
        assert item["receivedMs"] == cut["received_ms"], "audio arriving after the cut must not be queued"
        # What was heard is less than the item's audio: some was still queued, or playing, or yet to come.
        full_ms = cut["received_ms"] + after["droppedMs"].get(cut["item_id"], 0)
        assert cut["audio_end_ms"] < full_ms, describe(after)
        entry = next(e for e in after["transcript"] if e["item_id"] == cut["item_id"])
        assert entry["cut"] is True
        time.sleep(0.5)
        assert browser.snapshot()["items"][cut["item_id"]]["playedMs"] == item["playedMs"], "playback resumed"
        _keep_screenshot(browser, tmp_path, "barge_in.png")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_browser_escalation_banner(warmline_server, tmp_path):
    said = tmp_path / "said.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(said),
                    "I want to end my life."], check=True)
    wav = fake_mic_wav(tmp_path / "mic.wav", [1.0, said, 30.0])
    with Browser(wav) as browser:
        _start(browser, warmline_server)
        snap = browser.wait_for(lambda s: s["escalations"], timeout=TURN_TIMEOUT_S, what="a crisis escalation")
        event = snap["escalations"][0]
        assert event["category"] and event["resources"] and event["level"] in ("elevated", "imminent") and event["reason"], event
        from selenium.webdriver.common.by import By

        banner = browser.driver.find_element(By.ID, "escalation")
        assert banner.is_displayed() and banner.get_attribute("role") == "alert"
        shown = banner.text
        first = event["resources"][0]
        assert (first["name"] if isinstance(first, dict) else str(first)) in shown, shown
        _keep_screenshot(browser, tmp_path, "escalation.png")


def test_the_page_gets_its_own_token_from_a_server_with_a_key(tmp_path):
    """--api-key with --public-page: the page fetches a short-lived token and passes it as a WebSocket subprotocol;
    the server would refuse the page's socket without it (tests/test_hardening.py checks the refusals)."""
    from benchmarks.server_proc import start_server, stop_server

    proc, url, _ = start_server(["--api-key", "browser-test-key", "--public-page", "--no-analyser"])
    try:
        wav = fake_mic_wav(tmp_path / "mic.wav", [1.0, librivox("0880"), 10.0])
        with Browser(wav) as browser:
            snap = _start(browser, url)
            assert snap["connected"] and not snap["errors"], describe(snap)
    finally:
        stop_server(proc)
