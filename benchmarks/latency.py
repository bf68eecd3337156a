"""`warmline bench latency`: a simulated caller streams real recorded speech at real-time pace into a
running server; we measure, per turn, the end of the user's speech to the first reply audio byte (as the
caller saw it) and the server's own per-stage breakdown, a barge-in's stop time, and how latency grows
with concurrent sessions."""
from __future__ import annotations

import asyncio
import time

import numpy as np

from benchmarks.caller import Caller, load_clip
from benchmarks.data import librivox_clips
from benchmarks.report import percentiles, plot_path, table
from benchmarks.server_proc import running_server

STAGES = ("endpoint_wait_ms", "asr_ms", "analysis_ms", "first_token_ms", "first_clause_ms", "tts_first_chunk_ms")


def add_arguments(p) -> None:
    p.add_argument("--url", help="ws:// URL of a running server (default: start one on the embedded models)")
    p.add_argument("--concurrency", default="1,2,4,8", help="session counts to measure (default 1,2,4,8)")
    p.add_argument("--server-args", default="", help="extra `warmline serve` flags for the started server")


async def one_turn(url: str, speech: np.ndarray) -> dict:
    async with Caller(url) as caller:
        await caller.silence(0.5)
        speech_end = await caller.stream(speech)
        await caller.silence(0.3)
        send_silence = asyncio.create_task(caller.silence(6.0))  # keep the line open like a real mic
        try:
            done = await caller.wait_for_reply(timeout=180)
            rid = done["response"]["id"]
            timings = await caller.wait_for("warmline.turn.timings", timeout=30,
                                            where=lambda e: e.get("response_id") == rid)
        finally:
            send_silence.cancel()
        first_audio = caller.first_reply_audio_time()
        # Negative when the agent started before the caller finished (it took a pause inside the clip as the end).
        return {"first_audio_ms": None if first_audio is None else round((first_audio - speech_end) * 1000, 1),
                "status": done["response"]["status"], "server": timings["durations"],
                "transcript": (caller.of_type("conversation.item.input_audio_transcription.completed") or [{}])[0].get("transcript")}


async def conversation(url: str, speech: list[np.ndarray]) -> list[dict]:
    """One session, every clip in turn, each said a second after the reply to the one before has ended:
    later turns show what the conversation's history costs the dialogue model."""
    rows = []
    async with Caller(url) as caller:
        await caller.silence(0.5)
        for clip in speech:
            n = len(caller.events)
            speech_end = await caller.stream(clip)
            keep = asyncio.create_task(caller.silence(120))  # the line stays open like a real mic
            try:
                done = await caller.wait_for_reply(timeout=180, after_index=n)
                rid = done["response"]["id"]
                timings = await caller.wait_for("warmline.turn.timings", timeout=30, after_index=n,
                                                where=lambda e: e.get("response_id") == rid)
                await asyncio.sleep(1.0)
            finally:
                keep.cancel()
            first = next((t for t, e in caller.events if e.get("type") == "response.output_audio.delta"
                          and e.get("response_id") == rid), None)
            rows.append({"turn": len(rows) + 1, "status": done["response"]["status"], "server": timings["durations"],
                         "first_audio_ms": None if first is None else round((first - speech_end) * 1000, 1)})
    return rows


async def barge_in(url: str, question: np.ndarray, interruption: np.ndarray) -> dict:
    async with Caller(url) as caller:
        await caller.silence(0.5)
        await caller.stream(question)
        keep = asyncio.create_task(caller.silence(30))
        try:
            await caller.wait_for_reply_audio(timeout=180)
            await asyncio.sleep(0.5)
        finally:
            keep.cancel()
        onset, n = time.monotonic(), len(caller.events)
        talk = asyncio.create_task(caller.stream(interruption))
        started = await caller.wait_for("input_audio_buffer.speech_started", timeout=30, after_index=n)
        done = await caller.wait_for_reply(timeout=30)
        t_done = caller.time_of(done)
        talk.cancel()
        rid = done["response"]["id"]
        deltas_after = [t for t, e in caller.events if e.get("type") == "response.output_audio.delta" and t > onset
                        and e.get("response_id") == rid]
        last_audio = max(deltas_after) if deltas_after else onset
        # Playback stops when the audio stops flowing (the server pauses at once); the reply is cancelled,
        # and response.done sent, only once the overlap is judged a real interruption.
        return {"stop_ms": round((last_audio - onset) * 1000, 1), "cancelled_ms": round((t_done - onset) * 1000, 1),
                "status": done["response"]["status"], "speech_started_seen": bool(started)}


def run(args) -> dict:
    clips = librivox_clips()
    if not clips:
        return {"skipped": "pocketsphinx-testdata (LibriVox clips) is not installed", "report_markdown": "skipped"}
    speech = [load_clip(p) for p, _ in clips]
    levels = [int(x) for x in args.concurrency.split(",")]
    turns_per_level = 1 if args.quick else len(speech)
    barge_ins = 1 if args.quick else 3
    if args.quick:
        levels = [n for n in levels if n <= 2]
    if args.url:
        return asyncio.run(_measure(args.url, speech, levels, turns_per_level, barge_ins))
    with running_server(args.server_args.split()) as base:
        return asyncio.run(_measure(base.replace("http://", "ws://") + "/v1/realtime", speech, levels, turns_per_level,
                                    barge_ins))


async def _measure(url: str, speech: list[np.ndarray], levels: list[int], turns: int, barge_ins: int) -> dict:
    from tqdm import tqdm

    await one_turn(url, speech[1])  # warm-up, not counted
    results: dict = {"levels": {}}
    talk_turns = max(turns, 2)  # the conversation shows what a later turn costs, so it has at least two
    bar = tqdm(total=sum(levels) * turns + talk_turns + barge_ins, desc="latency", unit="turn")
    for n in levels:
        rows = []
        for i in range(turns):
            batch = await asyncio.gather(*(one_turn(url, speech[(i + k) % len(speech)]) for k in range(n)),
                                         return_exceptions=True)
            rows += [r if isinstance(r, dict) else {"error": f"{type(r).__name__}: {r}", "first_audio_ms": None,
                                                     "status": "error", "server": {}} for r in batch]
            bar.update(n)
        first = [r["first_audio_ms"] for r in rows if r["first_audio_ms"] is not None]
        level = {"sessions": n, "turns": len(rows), "first_audio_ms": percentiles(first),
                 "failed_turns": sum(r["status"] != "completed" for r in rows), **_how(rows)}
        for stage in STAGES + ("end_of_speech_to_first_audio_ms",):
            level[stage] = percentiles([r["server"][stage] for r in rows if stage in r["server"]])
        level["per_turn"] = rows
        results["levels"][str(n)] = level
    try:
        talk = await conversation(url, speech[:talk_turns])
    except Exception as exc:  # reported, not fatal
        talk = [{"error": f"{type(exc).__name__}: {exc}", "first_audio_ms": None, "server": {}}]
    later = [r for r in talk[1:] if r["first_audio_ms"] is not None]
    results["conversation"] = {
        "turns": talk, "first_turn_first_audio_ms": talk[0]["first_audio_ms"],
        "later_turns_first_audio_ms": percentiles([r["first_audio_ms"] for r in later]),
        "later_turns_first_token_ms": percentiles([r["server"].get("first_token_ms") for r in later]),
        "later_turns": _how(later),
        "failed_turns": sum(r.get("status") != "completed" for r in talk)}
    bar.update(talk_turns)
    stops = []
    for i in range(barge_ins):
        try:
            stops.append(await barge_in(url, speech[i % len(speech)], speech[(i + 2) % len(speech)]))
        except Exception as exc:  # one failed run is a row in the report, not the end of the suite
            stops.append({"error": f"{type(exc).__name__}: {exc}", "stop_ms": None})
        bar.update(1)
    bar.close()
    results["barge_in"] = {"stop_ms": percentiles([s["stop_ms"] for s in stops]),
                           "cancelled_ms": percentiles([s.get("cancelled_ms") for s in stops]), "runs": stops,
                           "failed_runs": sum("error" in s for s in stops)}
    results["report_markdown"] = _report(results)
    return results


def _how(rows: list[dict]) -> dict:
    """What the server says of these turns beyond its stages: when the model's own words came (after an
    opener), whether the speculative reply was ready when the turn was confirmed, and what read-ahead saved."""
    server = [r.get("server") or {} for r in rows]
    ready = [d["audio_ready_after_endpoint_ms"] for d in server if "audio_ready_after_endpoint_ms" in d]
    return {
        "model_clause_ms": percentiles([d.get("end_of_speech_to_model_clause_ms") for d in server]),
        "speculation": {"ready_at_endpoint": sum(v <= 0 for v in ready), "late": sum(v > 0 for v in ready),
                        "late_by_ms": percentiles([v for v in ready if v > 0]),
                        "dropped_before_the_used_one": sum(d.get("speculations_dropped", 0) for d in server)},
        "opener_prerendered": sum(d.get("first_clause_prerendered", 0) for d in server),
        "read_ahead_tokens": percentiles([d.get("read_ahead_tokens") for d in server]),
        "prompt_uncached_tokens": percentiles([d["prompt_tokens"] - d["prompt_cached_tokens"] for d in server
                                               if "prompt_tokens" in d and "prompt_cached_tokens" in d]),
    }


def _report(results: dict) -> str:
    rows = []
    for n, lv in results["levels"].items():
        rows.append([n, lv["turns"], lv["first_audio_ms"]["p50"], lv["first_audio_ms"]["p95"],
                     *(lv[s]["p50"] for s in STAGES)])
    md = ["# Latency", "", "End of user speech (last speech sample sent) to first reply audio received, as the "
          "caller saw it, with the server's own stage breakdown (p50, ms). The endpointing wait is the silence "
          "that ends a turn.", "",
          table(["sessions", "turns", "first audio p50", "p95", *STAGES], rows), "",
          "What the caller waits for beyond the first audio, and how the speculative reply fared (server figures):", "",
          table(["sessions", "model's first clause after speech end p50", "p95", "reply ready at the endpoint",
                 "late", "late by p50", "dropped speculations", "opener pre-rendered", "read-ahead tokens p50",
                 "prompt tokens left to read p50"],
                [[n, lv["model_clause_ms"]["p50"], lv["model_clause_ms"]["p95"], lv["speculation"]["ready_at_endpoint"],
                  lv["speculation"]["late"], lv["speculation"]["late_by_ms"]["p50"],
                  lv["speculation"]["dropped_before_the_used_one"], lv["opener_prerendered"],
                  lv["read_ahead_tokens"]["p50"], lv["prompt_uncached_tokens"]["p50"]]
                 for n, lv in results["levels"].items()]), "",
          _conversation_line(results["conversation"]), "",
          f"Barge-in: user speech onset to the last reply audio received: p50 {results['barge_in']['stop_ms']['p50']} ms, "
          f"p95 {results['barge_in']['stop_ms']['p95']} ms (includes the VAD's minimum speech duration); to the "
          f"cancelled response.done: p50 {results['barge_in']['cancelled_ms']['p50']} ms (the interruption decision)."]
    path = plot_path("latency")
    if path:
        _plot(results, path)
        md += ["", f"![latency by concurrency]({path.name})"]
    return "\n".join(md) + "\n"


def _conversation_line(c: dict) -> str:
    per_turn = ", ".join(f"{r['first_audio_ms']}" for r in c["turns"])
    return (f"One conversation ({len(c['turns'])} turns in one session, each a second after the previous reply "
            f"ended): first audio per turn {per_turn} ms; later turns p50 {c['later_turns_first_audio_ms']['p50']} ms, "
            f"p95 {c['later_turns_first_audio_ms']['p95']} ms; their first token after analysis p50 "
            f"{c['later_turns_first_token_ms']['p50']} ms; the model's own first clause p50 "
            f"{c['later_turns']['model_clause_ms']['p50']} ms after the end of speech.")


def _plot(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = list(results["levels"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    bottom = np.zeros(len(levels))
    for stage in STAGES:
        vals = np.array([results["levels"][n][stage]["p50"] or 0 for n in levels])
        axes[0].bar(levels, vals, bottom=bottom, label=stage.replace("_ms", ""))
        bottom += vals
    axes[0].set(title="server stages, p50", xlabel="concurrent sessions", ylabel="ms")
    axes[0].legend(fontsize=7)
    axes[1].boxplot([[r["first_audio_ms"] for r in results["levels"][n]["per_turn"] if r["first_audio_ms"]]
                     for n in levels], tick_labels=levels)
    axes[1].set(title="end of speech to first audio (caller)", xlabel="concurrent sessions", ylabel="ms")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
