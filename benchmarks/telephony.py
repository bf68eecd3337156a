"""`warmline bench telephony`: the phone path next to the wideband path, on the same real recordings.

- calls: a running server (started here with an AudioSocket listener) called the wideband way (Realtime
  WebSocket, PCM16 24 kHz), over Twilio Media Streams (8 kHz mu-law) and over AudioSocket (8 kHz linear), by the
  simulated callers of `benchmarks/phone.py`: the end of the caller's speech to the first reply audio, and a
  barge-in's stop (speech onset to `input_audio_buffer.speech_started` for the wideband client, to Twilio's
  `clear`, to the last AudioSocket frame of the cut reply);
- words: the server's recogniser (Whisper base, trimmed window) on the LibriVox clips and on the RAVDESS/TESS
  clips whose words are known, as recorded (16 kHz) and after an 8 kHz mu-law phone line (`codecs.phone_round_trip`);
- voice: the voice analyser's emotion (per corpus, balanced accuracy among the corpus's emotions) and gender on
  labelled clips, as recorded and over the phone line; beside them the heads' speaker-independent cross-validated
  figures (clean / telephone) from their training, since the live clips are ones the heads were trained on."""
from __future__ import annotations

import asyncio
import csv
import hashlib
import socket
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.caller import Caller, load_clip
from benchmarks.data import librivox_clips, paralinguistics_root
from benchmarks.phone import AudioSocketCaller, TwilioCaller
from benchmarks.report import percentiles, table
from server.telephony.codecs import phone_round_trip

PATHS = ("wideband", "twilio", "audiosocket")
INTERRUPT_AFTER_S = 0.5  # into the reply's audio, so that a short reply is still playing


def add_arguments(p) -> None:
    p.add_argument("--url", help="http:// URL of a running server (default: start one on the embedded models)")
    p.add_argument("--audiosocket", help="host:port of that server's AudioSocket listener (with --url)")
    p.add_argument("--server-args", default="", help="extra `warmline serve` flags for the started server")
    p.add_argument("--per-class", type=int, help="labelled clips per corpus and emotion for the voice part (default 16; "
                   "--quick 4)")
    p.add_argument("--skip-calls", action="store_true", help="only the offline parts (words, voice)")


# --- calls -----------------------------------------------------------------------------------------------

async def wideband_turn(url: str, speech: np.ndarray) -> dict:
    async with Caller(url) as caller:
        await caller.silence(0.5)
        end = await caller.stream(speech)
        keep = asyncio.create_task(caller.silence(60))  # the microphone stays open
        try:
            await caller.wait_for_reply_audio(timeout=180)
            await caller.wait_for_reply(timeout=180)
        finally:
            keep.cancel()
        return {"first_audio_ms": round((caller.first_reply_audio_time() - end) * 1000, 1)}


async def twilio_turn(url: str, speech: np.ndarray) -> dict:
    async with TwilioCaller(url) as caller:
        await caller.pause(0.5)
        end = await caller.say(speech)
        first = await caller.wait_for("media", after=end, timeout=180)
        await caller.wait_quiet("media", seconds=2.0, timeout=180)
        return {"first_audio_ms": round((first - end) * 1000, 1)}


async def audiosocket_turn(address: tuple[str, int], speech: np.ndarray) -> dict:
    async with AudioSocketCaller(*address) as caller:
        await caller.pause(0.5)
        end = await caller.say(speech)
        first = await caller.wait_for("audio", after=end, timeout=180)
        await caller.wait_quiet("audio", seconds=2.0, timeout=180)
        return {"first_audio_ms": round((first - end) * 1000, 1)}


async def wideband_barge_in(url: str, question: np.ndarray, interruption: np.ndarray) -> dict:
    async with Caller(url) as caller:
        await caller.silence(0.5)
        await caller.stream(question)
        keep = asyncio.create_task(caller.silence(60))
        try:
            await caller.wait_for_reply_audio(timeout=180)
            await asyncio.sleep(INTERRUPT_AFTER_S)
        finally:
            keep.cancel()
        onset, n = time.monotonic(), len(caller.events)
        talk = asyncio.create_task(caller.stream(interruption))
        started = await caller.wait_for("input_audio_buffer.speech_started", timeout=30, after_index=n)
        await talk
        return {"stop_ms": round((caller.time_of(started) - onset) * 1000, 1), "signal": "speech_started"}


async def twilio_barge_in(url: str, question: np.ndarray, interruption: np.ndarray) -> dict:
    async with TwilioCaller(url) as caller:
        await caller.pause(0.5)
        end = await caller.say(question)
        first = await caller.wait_for("media", after=end, timeout=180)
        await caller.wait_for("played", after=first + INTERRUPT_AFTER_S, timeout=60)
        onset = time.monotonic()
        talk = asyncio.create_task(caller.say(interruption))
        try:
            cleared = await caller.wait_for("clear", after=onset, timeout=30)
        except TimeoutError:
            played = [t for t, _ in caller.of_kind("played", after=onset)]
            if not played or played[0] > onset + 1.0:  # the reply had ended: there was nothing to interrupt
                return {"stop_ms": None, "signal": "clear", "no_overlap": True}
            raise
        finally:
            await talk
        return {"stop_ms": round((cleared - onset) * 1000, 1), "signal": "clear"}


async def audiosocket_barge_in(address: tuple[str, int], question: np.ndarray, interruption: np.ndarray) -> dict:
    async with AudioSocketCaller(*address) as caller:
        await caller.pause(0.5)
        end = await caller.say(question)
        await caller.wait_for("audio", after=end, timeout=180)
        await asyncio.sleep(INTERRUPT_AFTER_S)
        onset = time.monotonic()
        finished = await caller.say(interruption)
        times = [t for t, _ in caller.of_kind("audio") if t >= onset]
        if not times or times[0] > onset + 0.1:  # the reply had ended: there was nothing to interrupt
            return {"stop_ms": None, "signal": "last frame", "no_overlap": True}
        breaks = [a for a, b in zip(times, times[1:] + [finished]) if b - a > 0.3]
        return {"stop_ms": round((breaks[0] - onset) * 1000, 1), "signal": "last frame"}


async def measure_calls(base: str, audiosocket: tuple[str, int] | None, speech: list[np.ndarray], quick: bool,
                        progress=None) -> dict:
    ws = base.replace("http://", "ws://")
    turn = {"wideband": lambda s: wideband_turn(ws + "/v1/realtime", s),
            "twilio": lambda s: twilio_turn(ws + "/telephony/twilio", s),
            "audiosocket": lambda s: audiosocket_turn(audiosocket, s)}
    barge = {"wideband": lambda a, b: wideband_barge_in(ws + "/v1/realtime", a, b),
             "twilio": lambda a, b: twilio_barge_in(ws + "/telephony/twilio", a, b),
             "audiosocket": lambda a, b: audiosocket_barge_in(audiosocket, a, b)}
    paths = [p for p in PATHS if p != "audiosocket" or audiosocket]
    await turn["wideband"](speech[1])  # warm-up, not counted
    turns = speech[: 2 if quick else len(speech)]
    # questions whose replies run for a few seconds (the first LibriVox clip's can be over in a second)
    pairs = [(speech[q], speech[i]) for q, i in ((1, 4), (2, 0), (4, 3))[: 1 if quick else 3]]
    out: dict = {}
    for path in paths:
        rows, stops = [], []
        for clip in turns:  # the paths take turns clip by clip would mix their load; one path at a time is cleaner
            rows.append(await _guarded(turn[path](clip)))
            progress and progress.update(1)
        for question, interruption in pairs:
            stops.append(await _guarded(barge[path](question, interruption)))
            progress and progress.update(1)
        out[path] = {"first_audio_ms": percentiles([r.get("first_audio_ms") for r in rows]),
                     "barge_in_stop_ms": percentiles([s.get("stop_ms") for s in stops]),
                     "stop_signal": next((s["signal"] for s in stops if "signal" in s), None),
                     "barge_ins_without_overlap": sum(bool(s.get("no_overlap")) for s in stops),
                     "turns": rows, "barge_ins": stops,
                     "failed": sum("error" in r for r in rows + stops)}
    return out


async def _guarded(coro) -> dict:
    try:
        return await coro
    except Exception as exc:  # one failed call is a row in the report, not the end of the suite
        return {"error": f"{type(exc).__name__}: {exc}"}


# --- words ---------------------------------------------------------------------------------------------------

def word_errors(per_emotion: int, quick: bool, progress=None) -> dict:
    from asr.whisper import WhisperRecognizer
    from benchmarks.metrics import wer
    from benchmarks.perception import SHARED, emotional_scripts
    from paralinguistics.dataset import load_audio
    from server.models import resolve

    recognizer = WhisperRecognizer(resolve("whisper-base"), threads=2, language="en")
    sets = {"librivox_read_speech": [(load_clip(p), text) for p, text in librivox_clips()[: 2 if quick else None]]}
    for r in emotional_scripts(SHARED, per_emotion):
        sets.setdefault(f"{r['dataset']}_emotional_speech", []).append((load_audio(SHARED / r["path"]), r["script"]))
    out = {"model": "whisper-base (trimmed window, beam 1), as the server runs it"}
    for name, clips in sets.items():
        if not clips:
            continue
        scores = {"wideband_16k": [], "phone_8k_mulaw": []}
        for audio, text in clips:
            scores["wideband_16k"].append(wer(text, recognizer.transcribe(audio).text))
            scores["phone_8k_mulaw"].append(wer(text, recognizer.transcribe(phone_round_trip(audio)).text))
            progress and progress.update(1)
        out[name] = {"clips": len(clips), **{k: round(float(np.mean(v)), 4) for k, v in scores.items()}}
    return out


# --- voice ---------------------------------------------------------------------------------------------------

def labelled_clips(root: Path, per_class: int) -> list[dict]:
    """Emotion clips, `per_class` per (corpus, emotion), spread over speakers in a fixed order."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    with open(root / "manifest.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row.get("task") == "emotion":
                groups[(row["dataset"], row["label"])].append(row)
    picked = []
    for key in sorted(groups):
        rows = sorted(groups[key], key=lambda r: hashlib.sha1(r["path"].encode()).hexdigest())
        by_speaker: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            by_speaker[r["speaker"]].append(r)
        rounds = [r for i in range(max(map(len, by_speaker.values()))) for s in sorted(by_speaker)
                  for r in by_speaker[s][i:i + 1]]
        picked += rounds[:per_class]
    return picked


def voice_accuracy(root: Path, per_class: int, progress=None) -> dict:
    from benchmarks.perception import confusion, cv_figures
    from paralinguistics import labels as L
    from paralinguistics.analyser import VoiceAnalyser
    from paralinguistics.dataset import load_audio

    analyser = VoiceAnalyser(device="cpu")
    clips = labelled_clips(root, per_class)
    pairs: dict[str, dict[str, list]] = {"wideband_16k": defaultdict(list), "phone_8k_mulaw": defaultdict(list)}
    for row in clips:
        audio = load_audio(root / row["path"])
        for condition, x in (("wideband_16k", audio), ("phone_8k_mulaw", phone_round_trip(audio))):
            p = analyser.analyse(x)
            if p.unknown:
                continue
            if row["label"] in L.EMOTIONS:
                pairs[condition][f"emotion/{row['dataset']}"].append((row["label"], p.emotion.distribution))
            if row["gender"][:1] in ("F", "M"):
                pairs[condition]["gender"].append(("female" if row["gender"][:1] == "F" else "male", p.gender.label))
        progress and progress.update(1)
    out: dict = {"clips": len(clips), "per_class": per_class}
    for condition, blocks in pairs.items():
        out[condition] = {}
        for block, rows in sorted(blocks.items()):
            if block.startswith("emotion/"):
                present = sorted({t for t, _ in rows})
                rows = [(t, max(present, key=lambda k: d.get(k, 0.0))) for t, d in rows]
            out[condition][block] = confusion(rows)
    cv = cv_figures()
    out["cross_validated"] = {f"{task}/{block}": {c: cv[task].get(c, {}).get(block, {}).get("balanced_accuracy")
                                                  for c in ("clean", "tel")}
                              for task, block in (("emotion", "ravdess"), ("emotion", "tess"), ("emotion", "emodb"),
                                                  ("gender", "speech")) if task in cv}
    return out


# --- the suite -------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args) -> dict:
    from tqdm import tqdm

    from benchmarks.perception import SHARED, emotional_scripts
    from benchmarks.server_proc import running_server

    quick = bool(args.quick)
    clips = librivox_clips()
    if not clips:
        return {"skipped": "pocketsphinx-testdata (LibriVox clips) is not installed", "report_markdown": "skipped\n"}
    speech = [load_clip(p) for p, _ in clips]
    per_emotion = 1 if quick else 6
    per_class = args.per_class or (4 if quick else 16)
    root = paralinguistics_root()
    n_words = (2 if quick else len(clips)) + len(emotional_scripts(SHARED, per_emotion))
    n_voice = len(labelled_clips(root, per_class)) if root else 0
    n_calls = 0 if args.skip_calls else len(PATHS) * ((2 if quick else len(speech)) + (1 if quick else 3)) + 1
    bar = tqdm(total=n_words + n_voice + n_calls, desc="telephony", unit="step")
    result: dict = {"slice": "quick" if quick else "full", "words": word_errors(per_emotion, quick, bar)}
    result["voice"] = voice_accuracy(root, per_class, bar) if root else {
        "skipped": "the shared labelled speech (../shared/data/paralinguistics) is not here"}
    if not args.skip_calls:
        if args.url:
            address = None
            if args.audiosocket:
                host, _, port = args.audiosocket.rpartition(":")
                address = (host, int(port))
            result["calls"] = asyncio.run(measure_calls(args.url, address, speech, quick, bar))
        else:
            port = _free_port()
            with running_server(["--audiosocket-port", str(port), *args.server_args.split()]) as base:
                result["calls"] = asyncio.run(measure_calls(base, ("127.0.0.1", port), speech, quick, bar))
    bar.close()
    result["report_markdown"] = report(result)
    return result


def report(r: dict) -> str:
    md = ["# Telephony: the phone path beside the wideband path", "",
          f"Slice: {r['slice']}. Same real recordings on every path; the phone line is 8 kHz (mu-law for Twilio, "
          "16-bit linear for AudioSocket); the simulated callers are `benchmarks/phone.py`."]
    calls = r.get("calls")
    if calls:
        md += ["", "## Calls (a real server, real-time callers on this machine; no network delay)", "",
               table(["path", "turns", "first reply audio p50 ms", "p95", "barge-ins", "stop p50 ms", "max",
                      "stop signal", "failed"],
                     [[p, c["first_audio_ms"]["n"], c["first_audio_ms"]["p50"], c["first_audio_ms"]["p95"],
                       c["barge_in_stop_ms"]["n"], c["barge_in_stop_ms"]["p50"], c["barge_in_stop_ms"].get("max"),
                       c["stop_signal"], c["failed"]] for p, c in calls.items()]), "",
               "First reply audio: the end of the caller's speech (last frame sent) to the first reply audio received. "
               "Barge-in stop: the caller's speech onset to what stops the caller's playback: the wideband client stops "
               "at `input_audio_buffer.speech_started`, Twilio at our `clear`; on AudioSocket it is the last frame of "
               "the cut reply we wrote (Asterisk plays what it is sent at once). The caller interrupts half a second into the "
               "reply; a barge-in whose reply had already ended is not counted. Each clip ends in a little silence of its "
               "own, counted as speech here, as in `warmline bench latency`."]
    w = r["words"]
    rows = [[k, v["clips"], v["wideband_16k"], v["phone_8k_mulaw"]] for k, v in w.items() if isinstance(v, dict)]
    md += ["", "## Words: ASR word error rate", "", f"Recogniser: {w['model']}.", "",
           table(["set", "clips", "WER wideband 16 kHz", "WER phone 8 kHz mu-law"], rows)]
    v = r["voice"]
    if "skipped" in v:
        md += ["", f"## Voice analysis: skipped ({v['skipped']})"]
    else:
        blocks = sorted(set(v["wideband_16k"]) | set(v["phone_8k_mulaw"]))
        md += ["", "## Voice analysis: emotion and gender", "",
               f"{v['clips']} labelled clips ({v['per_class']} per corpus and emotion, spread over speakers); balanced "
               "accuracy (emotion among the corpus's own emotions). The shipped heads were trained on these clips "
               "(with telephone-band copies), so read the live figures for the drop from wideband to phone, and the "
               "cross-validated ones (speakers held out) for the level.", "",
               table(["block", "clips", "wideband 16 kHz", "phone 8 kHz mu-law"],
                     [[b, v["wideband_16k"].get(b, {}).get("n"), v["wideband_16k"].get(b, {}).get("balanced_accuracy"),
                       v["phone_8k_mulaw"].get(b, {}).get("balanced_accuracy")] for b in blocks]), "",
               "Speaker-independent cross-validation of the heads (paralinguistics/models/metrics.json):", "",
               table(["block", "clean", "telephone"], [[k, x["clean"], x["tel"]] for k, x in v["cross_validated"].items()])]
    return "\n".join(md) + "\n"
