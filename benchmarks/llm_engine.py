"""`warmline bench engine`: the dialogue model in this process vs behind a supervised llama-server.

For each engine: decoding speed with 1, 2, 4 streams at once (each stream a different conversation,
started together; total and per-stream streamed tokens per second, and when each stream's first token
came), and the time to the first token for a ~60-token prompt that shares nothing with what is cached.
Tokens are counted as the pieces the ChatModel streams (one per token here: no stop strings). The engines
run one after the other, never together.
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

from benchmarks.report import table

TOPICS = ["a lighthouse keeper", "a baker in a mountain village", "a girl who collects clocks",
          "a ship lost in fog", "an old dog learning to swim", "a garden on the moon", "a painter who lost her colours",
          "a train that never stops"]
# ~60 tokens once the chat template wraps it; a leading number makes every trial's prompt new to the cache.
COLD_PROMPT = ("({n}) I have had a really long week. My manager keeps moving deadlines, my sister is not talking "
               "to me after an argument about our parents, and I have barely slept. How do I get through tomorrow?")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="qwen2.5-1.5b", help="catalog name or GGUF path (default qwen2.5-1.5b)")
    p.add_argument("--engines", default="embedded,server", help="comma list of embedded, server")
    p.add_argument("--streams", default="1,2,4", help="concurrent streams to measure (comma list)")
    p.add_argument("--tokens", type=int, default=64, help="tokens each stream decodes")
    p.add_argument("--trials", type=int, default=5, help="first-token trials per engine")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads (both engines)")


def run(args) -> dict:
    from server.models import resolve

    streams = [int(s) for s in str(args.streams).split(",")]
    if args.quick:
        streams, args.tokens, args.trials = [s for s in streams if s <= 2] or streams[:1], 24, 2
    path = resolve(args.model)
    results = {"model": args.model, "threads": args.threads, "tokens_per_stream": args.tokens, "engines": {}}
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        model = _load(engine, path, threads=args.threads, slots=max(streams))
        try:
            model.warm([{"role": "user", "content": "Hello."}])
            results["engines"][engine] = {"first_token_ms": _first_token(model, args.trials),
                                          "decode": [_decode(model, n, args.tokens) for n in streams]}
        finally:
            model.close()
    results["report_markdown"] = markdown(results)
    return results


def _load(engine: str, path: str, *, threads: int, slots: int):
    from dialogue.backends.llama import LlamaChatModel
    from dialogue.backends.llama_http import managed_chat_model

    if engine == "embedded":
        return LlamaChatModel(path, threads=threads)
    if engine == "server":
        return managed_chat_model(path, slots=slots, threads=threads, ctx_per_slot=2048)
    raise ValueError(f"unknown engine {engine!r}: embedded or server")


def _first_token(model, trials: int) -> dict:
    times = []
    for n in range(trials):
        messages = [{"role": "user", "content": COLD_PROMPT.format(n=f"{time.time_ns() % 10**9}")}]
        t0 = time.perf_counter()
        stream = model.stream(messages, max_tokens=8, temperature=0.0)
        next(stream)
        times.append((time.perf_counter() - t0) * 1000)
        stream.close()
    return {"p50": round(statistics.median(times)), "min": round(min(times)), "max": round(max(times)), "n": trials}


def _decode(model, streams: int, tokens: int) -> dict:
    """`streams` conversations started together; each decodes `tokens` tokens."""
    firsts, counts, ends = [None] * streams, [0] * streams, [0.0] * streams
    go = threading.Barrier(streams + 1)

    def one(i: int) -> None:
        messages = [{"role": "user", "content": f"Tell me a long story about {TOPICS[i % len(TOPICS)]}."}]
        go.wait()
        for _ in model.stream(messages, max_tokens=tokens, temperature=0.0):
            counts[i] += 1
            if firsts[i] is None:
                firsts[i] = time.perf_counter()
        ends[i] = time.perf_counter()

    workers = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    for w in workers:
        w.start()
    go.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    wall = max(ends) - t0
    per_stream = [c / (e - f) for c, f, e in zip(counts, firsts, ends) if f is not None and e > f]
    return {"streams": streams, "tokens": sum(counts), "seconds": round(wall, 2),
            "tokens_per_s": round(sum(counts) / wall, 1),
            "per_stream_tokens_per_s": round(statistics.mean(per_stream), 1) if per_stream else None,
            "first_token_ms_p50": round(statistics.median((f - t0) * 1000 for f in firsts if f)),
            "first_token_ms_max": round(max((f - t0) * 1000 for f in firsts if f))}


def markdown(results: dict) -> str:
    rows = []
    for engine, r in results["engines"].items():
        for d in r["decode"]:
            rows.append([engine, d["streams"], d["tokens"], d["seconds"], d["tokens_per_s"],
                         d["per_stream_tokens_per_s"], d["first_token_ms_p50"], d["first_token_ms_max"]])
    firsts = [[engine, r["first_token_ms"]["p50"], r["first_token_ms"]["min"], r["first_token_ms"]["max"],
               r["first_token_ms"]["n"]] for engine, r in results["engines"].items()]
    return "\n".join([
        f"# Dialogue engine: in process vs llama-server ({results['model']}, {results['threads']} threads)", "",
        f"Streams started together, {results['tokens_per_stream']} tokens each, greedy.", "",
        table(["engine", "streams", "tokens", "wall s", "total tok/s", "per-stream tok/s", "first token ms p50",
               "first token ms max"], rows), "",
        "First token for a ~60-token prompt sharing nothing with the cache, one stream:", "",
        table(["engine", "ms p50", "min", "max", "trials"], firsts), ""])
