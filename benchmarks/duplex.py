"""`warmline bench duplex`: Full-Duplex-Bench-style scenarios from real speech, against a running server.

- pause handling: the user stops mid-sentence for a while, then goes on. Did the agent take the turn
  in the pause? (turn-over rate, TOR; lower is better)
- backchannels: while the agent talks, the user says "yes" / "oh" or coughs, laughs, sighs. Did the agent
  stop? (rate of wrongly stopping; lower is better)
- interruption: while the agent talks, the user asks something else. How fast did the agent stop
  (user speech onset to `speech_started`, which makes a Realtime client drop its queued audio; and to the
  last reply audio received), and how fast did the new answer start?
- turn-taking: end of a finished utterance to the first reply audio.
- echo: the agent's own voice fed back into the microphone at speaker level. Did it interrupt itself?
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.caller import Caller, is_backchannel
from benchmarks.report import percentiles, plot_path, table
from benchmarks.speech_cuts import clip, last_word, speech_onset_s, split_mid_sentence


def add_arguments(p) -> None:
    p.add_argument("--url", help="ws:// URL of a running server (default: start one on the embedded models)")
    p.add_argument("--server-args", default="", help="extra `warmline serve` flags for the started server")
    p.add_argument("--seed", type=int, default=0)


# --- scenarios -------------------------------------------------------------------------------------------
async def _ask_and_wait_for_audio(caller: Caller, question: np.ndarray, timeout: float = 120) -> tuple[dict, float]:
    await caller.silence(0.4)
    await caller.stream(question)
    n = len(caller.events)
    keep = asyncio.create_task(caller.silence(timeout))
    try:
        delta = await caller.wait_for_reply_audio(timeout=timeout, after_index=n)
    finally:
        keep.cancel()
    return delta, time.monotonic()


async def _ask_until_talking_after(caller: Caller, question: np.ndarray, wait_s: float, tries: int = 3) -> int:
    """Ask until the reply is still going `wait_s` after its first audio (a short reply is over before the
    user's sound and leaves no overlap to judge); returns how many times it asked."""
    for asked in range(1, tries + 1):
        delta, _ = await _ask_and_wait_for_audio(caller, question)
        await asyncio.sleep(wait_s)
        if not any(e["response"]["id"] == delta["response_id"] for e in caller.of_type("response.done")):
            return asked
    raise RuntimeError(f"{tries} replies in a row ended within {wait_s} s of their first audio")


async def pause_scenario(url: str, first: np.ndarray, second: np.ndarray, pause_s: float, *,
                         silence_duration_ms: int | None = None) -> dict:
    """The user pauses `pause_s` mid-sentence. took_turn: the agent started a reply in the pause.
    `silence_duration_ms` asks the server for more patience (the session's turn_detection setting)."""
    patience = {"type": "server_vad", "silence_duration_ms": silence_duration_ms}
    session = {"audio": {"input": {"turn_detection": patience}}} if silence_duration_ms else None
    async with Caller(url, session=session) as caller:
        await caller.silence(0.4)
        await caller.stream(first)
        pause_start = time.monotonic()
        await caller.silence(pause_s)
        resumed = time.monotonic()
        await caller.stream(second)
        await caller.silence(0.3)
        keep = asyncio.create_task(caller.silence(20))
        try:
            done = await caller.wait_for_reply(timeout=120)
        finally:
            keep.cancel()
        backchannels = {e["response"]["id"]: t for t, e in caller.events if e.get("type") == "response.created"
                        and is_backchannel(e)}  # id -> when it started
        took_turn = any(pause_start <= t < resumed + 0.05 for t, e in caller.events
                        if e.get("type") in ("response.created", "response.output_audio.delta")
                        and (e.get("response") or {}).get("id", e.get("response_id")) not in backchannels)
        transcripts = [e["transcript"] for e in caller.of_type("conversation.item.input_audio_transcription.completed")]
        return {"took_turn": took_turn, "committed_turns": len(caller.of_type("input_audio_buffer.committed")),
                "transcripts": transcripts, "final_status": done["response"]["status"],
                "backchannels_in_pause": sum(pause_start <= t < resumed for t in backchannels.values()),
                "backchannels_elsewhere": sum(not pause_start <= t < resumed for t in backchannels.values())}


async def backchannel_scenario(url: str, question: np.ndarray, sound: np.ndarray, label: str) -> dict:
    """While the agent talks, the user makes a short sound. stopped: the reply was cut."""
    async with Caller(url) as caller:
        asked = await _ask_until_talking_after(caller, question, 0.8)
        n = len(caller.events)
        await caller.stream(sound)
        keep = asyncio.create_task(caller.silence(40))
        try:
            done = await caller.wait_for_reply(timeout=120, after_index=n)
        finally:
            keep.cancel()
        return {"label": label, "stopped": done["response"]["status"] != "completed", "asked": asked,
                "resumed": bool(caller.of_type("warmline.resumed")),
                "paused": bool([e for _, e in caller.events[n:] if e.get("type") == "input_audio_buffer.speech_started"])}


async def interruption_scenario(url: str, question: np.ndarray, interruption: np.ndarray, *,
                                session: dict | None = None) -> dict:
    async with Caller(url, session=session) as caller:
        # Interrupt early: the server sends audio at most 300 ms ahead, so a reply shorter than the wait
        # plus that lead is already complete on the server's side and cannot be cut.
        await _ask_until_talking_after(caller, question, 0.4)
        n = len(caller.events)
        t0 = time.monotonic()
        onset = t0 + speech_onset_s(interruption)
        talking = asyncio.create_task(caller.stream(interruption))
        started = await caller.wait_for("input_audio_buffer.speech_started", timeout=20, after_index=n)
        t_started = next(t for t, e in caller.events[n:] if e is started)
        first_done = await caller.wait_for_reply(timeout=30, after_index=n)
        speech_end = await talking
        keep = asyncio.create_task(caller.silence(30))
        try:
            second = await caller.wait_for_reply_audio(timeout=120, after_index=n,
                                                       where=lambda e: e["response_id"] != first_done["response"]["id"])
            # what the server's history kept of the interrupted reply (the next reply's model reads this)
            kept = await caller.retrieve(first_done["response"]["output"][0]["id"]) if first_done["response"]["output"] else {}
        finally:
            keep.cancel()
        t_second = next(t for t, e in caller.events if e is second)
        old_deltas = [t for t, e in caller.events[n:] if e.get("type") == "response.output_audio.delta"
                      and e["response_id"] == first_done["response"]["id"]]
        full_text = "".join(e["delta"] for e in caller.of_type("response.output_audio_transcript.delta")
                            if e["response_id"] == first_done["response"]["id"])
        heard = first_done["response"]["output"][0]["content"][0]["transcript"] if first_done["response"]["output"] else ""
        history = kept["item"]["content"][0]["transcript"] if kept.get("type") == "conversation.item.retrieved" else ""
        return {"stop_ms": round((t_started - onset) * 1000, 1),
                "audio_flow_stop_ms": round(((max(old_deltas) if old_deltas else t0) - onset) * 1000, 1),
                "response_ms": round((t_second - speech_end) * 1000, 1),
                "first_status": first_done["response"]["status"],
                # audio of the interrupted reply sent after the server said it heard the user (one in flight at most)
                "deltas_after_speech_started": sum(1 for e in caller.events[caller.index_of(started):]
                                                   if e[1].get("type") == "response.output_audio.delta"
                                                   and e[1]["response_id"] == first_done["response"]["id"]),
                # the interruption is one user turn: split at a breath, its first word would be answered alone
                "turns_committed_after": len([e for _, e in caller.events[n:] if e.get("type") == "input_audio_buffer.committed"]),
                "history_cut": len(history.split()) < len(full_text.split()), "heard_words": len(heard.split()),
                "history_words": len(history.split()), "history_matches_heard": history == heard,
                "generated_words": len(full_text.split())}


async def turn_taking_scenario(url: str, utterance: np.ndarray) -> dict:
    async with Caller(url) as caller:
        await caller.silence(0.4)
        end = await caller.stream(utterance)
        keep = asyncio.create_task(caller.silence(20))
        try:
            await caller.wait_for_reply_audio(timeout=120)
        finally:
            keep.cancel()
        return {"latency_ms": round((caller.first_reply_audio_time() - end) * 1000, 1)}


async def echo_scenario(url: str, question: np.ndarray, *, gain: float = 0.5, delay_ms: float = 150) -> dict:
    """Every reply sample comes back into the microphone `delay_ms` after it would be played, at `gain`."""
    import base64

    from server.audio import pcm16_to_float, resample

    async with Caller(url) as caller:
        await caller.silence(0.4)
        await caller.stream(question)
        queued = np.zeros(0, np.float32)  # reply audio received, not yet played (16 kHz)
        speaker = np.zeros(0, np.float32)  # what the loudspeaker played, one 40 ms tick at a time
        delay, tick = int(delay_ms * 16), 640
        deadline = time.monotonic() + 120
        n_seen, done, echoed = 0, None, 0
        # until the reply is done and, like a browser, until what it sent has been played (and echoed) out:
        # the reply's audio arrives faster than real time, so much of it is still queued at response.done
        while time.monotonic() < deadline and (done is None or len(queued)):
            for _, e in caller.events[n_seen:]:
                if e.get("type") == "response.output_audio.delta":
                    queued = np.concatenate([queued, resample(pcm16_to_float(base64.b64decode(e["delta"])),
                                                              caller.rate, 16000)])
                elif e.get("type") == "response.done" and not is_backchannel(e) and done is None:
                    done = e
            n_seen = len(caller.events)
            out = np.zeros(tick, np.float32)  # like a browser: play what is queued, silence when it runs dry
            take = min(tick, len(queued))
            out[:take], queued = queued[:take], queued[take:]
            echoed += take
            speaker = np.concatenate([speaker, out])
            start = len(speaker) - tick - delay
            mic = speaker[start: start + tick] * gain if start >= 0 else np.zeros(tick, np.float32)
            await caller.stream(mic.astype(np.float32))
        return {"status": done["response"]["status"] if done else "timeout",
                "self_interrupted": bool(done and done["response"]["status"] == "cancelled"),
                "echo_seconds": round(echoed / 16000, 2)}


# --- the suite --------------------------------------------------------------------------------------------
@dataclass
class Material:
    utterances: list[np.ndarray]
    splits: list[tuple[np.ndarray, np.ndarray]]
    backchannels: list[tuple[str, np.ndarray]]


def material(rng: random.Random) -> Material:
    from benchmarks.data import ASTERISK_SOUNDS, librivox_clips, paralinguistics_root

    utterances = [clip(p) for p, _ in librivox_clips()]
    prompts = ["please-try-call-later", "sorry-youre-having-problems", "something-terribly-wrong",
               "check-number-dial-again", "cannot-complete-as-dialed"]
    for name in prompts:
        f = ASTERISK_SOUNDS / f"{name}.wav"
        if f.exists():
            utterances.append(clip(f))
    splits = []
    for u in utterances:
        try:
            first, second, _ = split_mid_sentence(u)
            splits.append((first, second))
        except ValueError:
            pass
    backchannels: list[tuple[str, np.ndarray]] = []
    oh = ASTERISK_SOUNDS / "letters" / "o.wav"
    if oh.exists():
        backchannels.append(("oh", clip(oh)))
    root = paralinguistics_root()
    if root is not None:
        import csv

        rows = list(csv.DictReader(open(root / "manifest.csv")))
        for event in ("coughing", "laughing", "sighing", "throat-clearing"):
            picks = [r for r in rows if r["label"] == event and 0.3 < float(r["seconds"] or 0) < 1.2]
            for r in rng.sample(picks, min(2, len(picks))):
                backchannels.append((event, clip(root / r["path"])))
        for word in ("yes", "sure", "good", "nice"):
            picks = [r for r in rows if r["dataset"] == "tess" and f"_{word}_" in Path(r["path"]).name
                     and r["label"] in ("neutral", "happy")]
            for r in picks[:1]:
                try:
                    backchannels.append((word, last_word(clip(root / r["path"]))))
                except ValueError:
                    pass
    return Material(utterances, splits, backchannels)


def run(args) -> dict:
    from benchmarks.server_proc import running_server

    rng = random.Random(args.seed)
    mat = material(rng)
    if not mat.utterances:
        return {"skipped": "no real speech found (install pocketsphinx-testdata)", "report_markdown": "skipped"}
    if args.url:
        return asyncio.run(_suite(args.url, mat, args.quick, rng))
    with running_server(args.server_args.split()) as base:
        return asyncio.run(_suite(base.replace("http://", "ws://") + "/v1/realtime", mat, args.quick, rng))


async def _suite(url: str, mat: Material, quick: bool, rng: random.Random) -> dict:
    from tqdm import tqdm

    pauses = [0.8, 1.0, 1.2]
    plan: list[tuple[str, tuple]] = []
    for first, second in mat.splits:
        for p in pauses:
            plan.append(("pause", (first, second, p)))
    for i, (label, sound) in enumerate(mat.backchannels):
        plan.append(("backchannel", (mat.utterances[i % len(mat.utterances)], sound, label)))
    for i in range(min(10, len(mat.utterances))):
        plan.append(("interruption", (mat.utterances[i], mat.utterances[(i + 3) % len(mat.utterances)])))
    for u in mat.utterances[:5]:
        plan.append(("turn_taking", (u,)))
    for u in mat.utterances[:2]:
        plan.append(("echo", (u,)))
    if quick:
        seen: dict[str, int] = {}
        plan = [s for s in plan if seen.setdefault(s[0], 0) < 1 and not seen.update({s[0]: 1})]
    runners = {"pause": pause_scenario, "backchannel": backchannel_scenario, "interruption": interruption_scenario,
               "turn_taking": turn_taking_scenario, "echo": echo_scenario}
    out: dict[str, list] = {k: [] for k in runners}
    for kind, params in tqdm(plan, desc="duplex", unit="scenario"):
        try:
            out[kind].append(await runners[kind](url, *params))
        except Exception as exc:  # one failed scenario is reported, not fatal
            out[kind].append({"error": f"{type(exc).__name__}: {exc}"})
    ok = {k: [r for r in v if "error" not in r] for k, v in out.items()}
    res = {
        "scenarios": len(plan),
        "pause": {"n": len(ok["pause"]), "turn_over_rate": _rate(ok["pause"], "took_turn")},
        "backchannel": {"n": len(ok["backchannel"]), "wrong_stop_rate": _rate(ok["backchannel"], "stopped"),
                        "by_label": {r["label"]: r["stopped"] for r in ok["backchannel"]}},
        "interruption": {"n": len(ok["interruption"]),
                         "stop_ms": percentiles([r["stop_ms"] for r in ok["interruption"]]),
                         "audio_flow_stop_ms": percentiles([r["audio_flow_stop_ms"] for r in ok["interruption"]]),
                         "response_ms": percentiles([r["response_ms"] for r in ok["interruption"]]),
                         "history_cut_rate": _rate(ok["interruption"], "history_cut"),
                         "history_as_heard_rate": _rate(ok["interruption"], "history_matches_heard")},
        "turn_taking": {"n": len(ok["turn_taking"]),
                        "latency_ms": percentiles([r["latency_ms"] for r in ok["turn_taking"]])},
        "echo": {"n": len(ok["echo"]), "self_interruption_rate": _rate(ok["echo"], "self_interrupted")},
        "errors": sum(len(v) - len(ok[k]) for k, v in out.items()),
        "details": out,
    }
    try:
        res["report_markdown"] = _report(res)
    except Exception as exc:  # a plotting failure must not lose the figures
        res["report_markdown"] = f"report failed: {exc}"
    return res


def _rate(rows: list[dict], key: str) -> float | None:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 3) if rows else None


def _report(r: dict) -> str:
    i = r["interruption"]
    rows = [["pause handling", r["pause"]["n"], f"TOR {r['pause']['turn_over_rate']}", "Moshi 0.98, GPT-Realtime 0.01"],
            ["backchannel", r["backchannel"]["n"], f"wrong-stop rate {r['backchannel']['wrong_stop_rate']}", ""],
            ["interruption", i["n"], f"stop p50 {i['stop_ms']['p50']} ms (p95 {i['stop_ms']['p95']}); new answer "
             f"p50 {i['response_ms']['p50']} ms", "Moshi stops in ~260 ms"],
            ["turn-taking", r["turn_taking"]["n"], f"latency p50 {r['turn_taking']['latency_ms']['p50']} ms "
             f"(p95 {r['turn_taking']['latency_ms']['p95']})", "GPT-Realtime ~1.5 s"],
            ["echo", r["echo"]["n"], f"self-interruption rate {r['echo']['self_interruption_rate']}", ""]]
    md = ["# Full-duplex behaviour", "", f"{r['scenarios']} scenarios from real recordings ({r['errors']} errored).", "",
          table(["behaviour", "n", "measured", "published anchors"], rows)]
    path = plot_path("duplex")
    if path and i["n"]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        data = [[x["stop_ms"] for x in r["details"]["interruption"] if "stop_ms" in x],
                [x["response_ms"] for x in r["details"]["interruption"] if "response_ms" in x],
                [x["latency_ms"] for x in r["details"]["turn_taking"] if "latency_ms" in x]]
        ax.boxplot(data, tick_labels=["stop after\nuser onset", "new answer after\ninterruption", "turn-taking"])
        ax.set_ylabel("ms")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        md += ["", f"![duplex]({path.name})"]
    return "\n".join(md) + "\n"
