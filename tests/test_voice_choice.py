"""Choosing the agent's voice per session (issue 20), against a real server with both voices loaded."""
from __future__ import annotations

import asyncio
import base64

import numpy as np
import pytest

from benchmarks.caller import Caller
from benchmarks.duplex import interruption_scenario
from benchmarks.speech_cuts import clip
from tts.pitch import track_f0

pytestmark = pytest.mark.slow

DEFAULT, SECOND = "piper-joe", "hibari-heart"


def reply_audio(caller: Caller, response_id: str) -> np.ndarray:
    pcm = b"".join(base64.b64decode(e["delta"]) for e in caller.of_type("response.output_audio.delta")
                   if e["response_id"] == response_id)
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768


def median_pitch(audio: np.ndarray, rate: int = 24000) -> float:
    f0, _ = track_f0(audio, rate)
    return float(np.median(f0[f0 > 0]))


async def typed_reply(caller: Caller, text: str) -> dict:
    n = len(caller.events)
    await caller.send({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
    await caller.send({"type": "response.create"})
    return await caller.wait_for_reply(timeout=120, after_index=n)


def test_a_voice_chosen_mid_reply_speaks_from_the_next_reply(ws_url):
    async def scenario():
        async with Caller(ws_url) as caller:
            created = caller.of_type("session.created")[0]["session"]["audio"]["output"]["voice"]
            n = len(caller.events)
            await caller.send({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "I had a long day, can you tell me something calming?"}]}})
            await caller.send({"type": "response.create"})
            await caller.wait_for("response.output_audio.delta", timeout=120, after_index=n)
            await caller.send({"type": "session.update", "session": {"audio": {"output": {"voice": SECOND}}}})
            updated = await caller.wait_for("session.updated", after_index=n)
            first = await caller.wait_for_reply(timeout=120, after_index=n)
            second = await typed_reply(caller, "Thank you. What should I do tonight?")
            return created, updated, first, second, caller

    created, updated, first, second, caller = asyncio.run(scenario())
    assert created == DEFAULT
    assert updated["session"]["audio"]["output"]["voice"] == SECOND
    assert first["response"]["status"] == second["response"]["status"] == "completed"
    before, after = (reply_audio(caller, r["response"]["id"]) for r in (first, second))
    assert before.size and after.size
    # the reply under way kept Piper joe (a low male voice); the next is hibari heart (a female voice an octave up)
    assert median_pitch(before) < 150 < median_pitch(after), (median_pitch(before), median_pitch(after))


def test_an_unknown_voice_is_an_error_and_the_session_keeps_its_voice(ws_url):
    async def scenario():
        async with Caller(ws_url, session={"audio": {"output": {"voice": SECOND}}}) as caller:
            chosen = caller.of_type("session.updated")[-1]["session"]["audio"]["output"]["voice"]
            n = len(caller.events)
            await caller.send({"type": "session.update", "session": {"voice": "alloy", "instructions": "Be brief."}})
            error = await caller.wait_for("error", after_index=n)
            await caller.send({"type": "session.update", "session": {"instructions": "Be kind."}})
            after = await caller.wait_for("session.updated", after_index=n)
            reply = await typed_reply(caller, "Hello there.")
            return chosen, error, after, reply, caller

    chosen, error, after, reply, caller = asyncio.run(scenario())
    assert chosen == SECOND
    assert error["error"]["code"] == "invalid_voice"
    assert "alloy" in error["error"]["message"] and DEFAULT in error["error"]["message"] and SECOND in error["error"]["message"]
    assert after["session"]["audio"]["output"]["voice"] == SECOND
    assert after["session"]["instructions"] == "Be kind."  # the failed update changed nothing, the next one applied
    assert reply["response"]["status"] == "completed"
    assert median_pitch(reply_audio(caller, reply["response"]["id"])) > 150


@pytest.mark.parametrize("voice", [DEFAULT, SECOND])
def test_both_voices_stop_within_one_chunk_on_barge_in(ws_url, librivox, voice):
    speech = [clip(p) for p, _ in librivox]
    r = asyncio.run(interruption_scenario(ws_url, speech[1], speech[4],
                                          session={"audio": {"output": {"voice": voice}}}))
    assert r["first_status"] == "cancelled", r
    assert r["deltas_after_speech_started"] <= 1, r  # at most the chunk already on its way
    assert r["history_cut"] and r["history_matches_heard"], r


def test_the_browser_page_offers_the_voices_and_remembers_the_choice(warmline_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from tests.browser import Browser, fake_mic_wav, unavailable_reason

    if unavailable_reason():
        pytest.skip(unavailable_reason())

    def voice_of(snap):
        return snap["session"]["audio"]["output"]["voice"] if snap and snap.get("session") else None

    with Browser(fake_mic_wav(tmp_path / "mic.wav", [30.0])) as browser:
        browser.open(warmline_server + "/")
        browser.click("toggle")
        browser.wait_for(lambda s: voice_of(s) == DEFAULT, timeout=30, what="the session in the default voice")
        picker = Select(browser.driver.find_element(By.ID, "voice"))
        assert [o.get_attribute("value") for o in picker.options] == [DEFAULT, SECOND]
        picker.select_by_value(SECOND)
        browser.wait_for(lambda s: voice_of(s) == SECOND, timeout=30, what="the session to take the chosen voice")
        browser.click("toggle")  # stop, then start again: the page asks for the remembered voice at once
        browser.wait_for(lambda s: not s["connected"], timeout=10, what="the page to hang up")
        browser.click("toggle")
        snap = browser.wait_for(lambda s: s["connected"] and s["eventsSeen"].get("session.created", 0) >= 2
                                and s["eventsSeen"].get("session.updated", 0) >= 3, timeout=30,
                                what="a new session, configured")  # counts run on across the page's sessions
        assert voice_of(snap) == SECOND
        assert Select(browser.driver.find_element(By.ID, "voice")).first_selected_option.get_attribute("value") == SECOND
