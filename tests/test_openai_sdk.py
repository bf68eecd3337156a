"""The official `openai` SDK's realtime client holds a spoken conversation with Warmline."""
from __future__ import annotations

import asyncio
import base64

import numpy as np
import pytest

from benchmarks.caller import load_clip
from benchmarks.metrics import wer
from server.audio import float_to_pcm16, resample

pytestmark = pytest.mark.slow
openai = pytest.importorskip("openai")


async def _converse(base_ws: str, speech16k: np.ndarray, *, beta: bool) -> dict:
    client = openai.AsyncOpenAI(api_key="sk-local", websocket_base_url=base_ws + "/v1")
    seen: dict[str, list] = {}
    connect = client.beta.realtime.connect if beta else client.realtime.connect
    async with connect(model="warmline") as conn:
        if beta:
            await conn.session.update(session={"input_audio_format": "pcm16", "output_audio_format": "pcm16",
                                               "turn_detection": {"type": "server_vad", "silence_duration_ms": 600}})
        else:
            await conn.session.update(session={"type": "realtime", "output_modalities": ["audio"], "audio": {
                "input": {"format": {"type": "audio/pcm", "rate": 24000},
                          "turn_detection": {"type": "server_vad", "silence_duration_ms": 600}},
                "output": {"format": {"type": "audio/pcm", "rate": 24000}}}})
        pcm = resample(np.concatenate([np.zeros(8000, np.float32), speech16k, np.zeros(24000, np.float32)]), 16000, 24000)

        async def talk():
            step = 24000 // 25  # 40 ms, at real-time pace
            for i in range(0, len(pcm), step):
                await conn.input_audio_buffer.append(audio=base64.b64encode(float_to_pcm16(pcm[i:i + step])).decode())
                await asyncio.sleep(0.04)

        sender = asyncio.create_task(talk())
        try:
            async with asyncio.timeout(180):
                async for event in conn:
                    seen.setdefault(event.type, []).append(event)
                    if event.type == "response.done":
                        break
        finally:
            sender.cancel()
    return seen


def test_sdk_ga_client_converses(warmline_server, librivox):
    path, reference = next((p, w) for p, w in librivox if p.name.endswith("0880.wav"))
    seen = asyncio.run(_converse(warmline_server.replace("http://", "ws://"), load_clip(path), beta=False))
    transcript = seen["conversation.item.input_audio_transcription.completed"][0].transcript
    assert wer(reference, transcript) <= 0.125, transcript  # one word: Whisper base sometimes hears "ill-sposed"
    deltas = seen["response.output_audio.delta"]
    assert sum(len(base64.b64decode(d.delta)) for d in deltas) > 24000  # over half a second of PCM16 24 kHz
    assert seen["response.done"][0].response.status == "completed"
    assert "input_audio_buffer.speech_started" in seen and "session.updated" in seen


def test_sdk_beta_client_gets_beta_names(warmline_server, librivox):
    path = next(p for p, _ in librivox if p.name.endswith("0880.wav"))
    seen = asyncio.run(_converse(warmline_server.replace("http://", "ws://"), load_clip(path), beta=True))
    assert "response.audio.delta" in seen and "response.output_audio.delta" not in seen
    assert seen["response.done"][0].response.status == "completed"


async def _manual_turn(base_ws: str, speech16k: np.ndarray) -> dict:
    """Push-to-talk the SDK way: turn detection off, the client commits, then asks for the reply."""
    client = openai.AsyncOpenAI(api_key="sk-local", websocket_base_url=base_ws + "/v1")
    seen: dict[str, list] = {}
    async with client.realtime.connect(model="warmline") as conn:
        await conn.session.update(session={"type": "realtime", "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 24000}, "turn_detection": None}}})
        pcm = resample(speech16k, 16000, 24000)
        for i in range(0, len(pcm), 24000):
            await conn.input_audio_buffer.append(audio=base64.b64encode(float_to_pcm16(pcm[i:i + 24000])).decode())
        await conn.input_audio_buffer.commit()
        await conn.response.create()
        async with asyncio.timeout(180):
            async for event in conn:
                seen.setdefault(event.type, []).append(event)
                if event.type == "response.done":
                    await conn.conversation.item.retrieve(item_id=event.response.output[0].id)
                if event.type == "conversation.item.retrieved":
                    break
    return seen


def test_sdk_push_to_talk_commit_then_response_create(warmline_server, librivox):
    path, reference = next((p, w) for p, w in librivox if p.name.endswith("0880.wav"))
    seen = asyncio.run(_manual_turn(warmline_server.replace("http://", "ws://"), load_clip(path)))
    transcript = seen["conversation.item.input_audio_transcription.completed"][0].transcript
    assert wer(reference, transcript) <= 0.125, transcript
    assert "input_audio_buffer.speech_started" not in seen  # the client, not the VAD, ended the turn
    done = seen["response.done"]
    assert len(done) == 1 and done[0].response.status == "completed", done
    kept = seen["conversation.item.retrieved"][0].item
    assert kept.role == "assistant" and kept.content[0].transcript == done[0].response.output[0].content[0].transcript
