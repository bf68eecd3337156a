"""`warmline bench engine`: the dialogue model in this process vs behind a supervised llama-server.

For each engine: decoding speed with 1, 2, 4 streams at once (each stream a different conversation,
started together; all streams' tokens per second from the first token of any to the last of all, each
stream's own rate, and when each stream's first token came), and the time to the first token for a
~60-token prompt that shares nothing with what is cached.
Tokens are counted as the pieces the ChatModel streams (one per token here: no stop strings). Both engines
are loaded at once and take turns, one measurement each, so load from other work falls on both alike.
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
    p.add_argument("--engines", default="embedded,server",
                   help="comma list of embedded, server, server-noaffinity (llama-server choosing slots itself)")
    p.add_argument("--streams", default="1,2,4", help="concurrent streams to measure (comma list)")
    p.add_argument("--tokens", type=int, default=64, help="tokens each stream decodes")
    p.add_argument("--trials", type=int, default=3, help="first-token trials per engine and round")
    p.add_argument("--rounds", type=int, default=3, help="times every measurement is repeated (the median is shown)")
    p.add_argument("--threads", type=int, default=2, help="llama.cpp threads (both engines)")
    p.add_argument("--conversations", type=int, default=6,
                   help="conversations taking turns in the cache test (more than the slots: the RAM cache at work)")
    p.add_argument("--turns", type=int, default=3, help="turns per conversation in the cache test")


def run(args) -> dict:
    from server.models import resolve

    streams = [int(s) for s in str(args.streams).split(",")]
    if args.quick:
        streams, args.tokens, args.trials, args.rounds = [s for s in streams if s <= 2] or streams[:1], 24, 2, 1
        args.conversations, args.turns = 3, 2
    path = resolve(args.model)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    results = {"model": args.model, "threads": args.threads, "tokens_per_stream": args.tokens, "rounds": args.rounds,
               "slots": max(streams), "conversations": args.conversations, "turns": args.turns,
               "load_average_before": _load_average(), "engines": {}}
    # Both engines stay loaded and take turns, measurement by measurement, so that other work on the box
    # (which changes by the minute on a shared machine) falls on both alike; an idle engine uses no CPU.
    models = {e: _load(e, path, threads=args.threads, slots=max(streams)) for e in engines}
    try:
        firsts: dict = {e: [] for e in engines}
        decodes: dict = {e: {n: [] for n in streams} for e in engines}
        for model in models.values():
            model.warm([{"role": "user", "content": "Hello."}])
        for _ in range(args.rounds):
            for _ in range(args.trials):
                for e, model in models.items():
                    firsts[e].append(_first_token(model))
            for n in streams:
                for e, model in models.items():
                    decodes[e][n].append(_decode(model, n, args.tokens))
        for e in engines:
            results["engines"][e] = {"first_token_ms": _spread(firsts[e]),
                                     "decode": [_median_run(decodes[e][n]) for n in streams]}
        for e, model in models.items():
            results["engines"][e]["conversations"] = _conversations(model, args.conversations, args.turns)
    finally:
        for model in models.values():
            model.close()
    results["load_average_after"] = _load_average()
    results["report_markdown"] = markdown(results)
    return results


def _load_average() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def _spread(times: list[float]) -> dict:
    return {"p50": round(statistics.median(times)), "min": round(min(times)), "max": round(max(times)),
            "n": len(times)}


def _median_run(runs: list[dict]) -> dict:
    """The run with the median total tokens/s, with every run's figure beside it."""
    ranked = sorted(runs, key=lambda r: r["tokens_per_s"])
    return {**ranked[len(ranked) // 2], "tokens_per_s_each": [r["tokens_per_s"] for r in runs]}


def _load(engine: str, path: str, *, threads: int, slots: int):
    from dialogue.backends.llama import LlamaChatModel
    from dialogue.backends.llama_http import managed_chat_model

    if engine == "embedded":
        return LlamaChatModel(path, threads=threads)
    if engine in ("server", "server-noaffinity"):  # the latter: llama-server's own slot choice, to compare
        return managed_chat_model(path, slots=slots, threads=threads, ctx_per_slot=2048,
                                  affinity=engine == "server")
    raise ValueError(f"unknown engine {engine!r}: embedded, server or server-noaffinity")


def _first_token(model) -> float:
    """Milliseconds to the first streamed piece of a prompt no cache holds any of."""
    messages = [{"role": "user", "content": COLD_PROMPT.format(n=time.time_ns() % 10**9)}]
    t0 = time.perf_counter()
    stream = model.stream(messages, max_tokens=8, temperature=0.0)
    next(stream)
    elapsed = (time.perf_counter() - t0) * 1000
    stream.close()
    return elapsed


def _conversations(model, conversations: int, turns: int) -> dict:
    """Conversations answered in turn, round robin (each turn's prompt is its whole history): how many prompt
    tokens each turn had to evaluate, i.e. what the engine's caches did not hold, and its first-token time."""
    from dialogue.prompts import system_prompt

    system = {"role": "system", "content": system_prompt("tags")}
    histories: list[list[dict]] = [[] for _ in range(conversations)]
    evaluated, prompt_sizes, firsts = [], [], []
    for turn in range(turns):
        for k, history in enumerate(histories):
            history.append({"role": "user", "content": f"Turn {turn}: I keep thinking about {TOPICS[k % len(TOPICS)]}."})
            messages = [system, *history]
            before = _cached_prefix(model, messages)
            t0 = time.perf_counter()
            pieces = []
            for piece in model.stream(messages, max_tokens=12, temperature=0.0):
                if not pieces:
                    firsts.append((time.perf_counter() - t0) * 1000)
                pieces.append(piece)
            history.append({"role": "assistant", "content": "".join(pieces).strip() or "I hear you."})
            if turn == 0:
                continue  # a first turn shares only the system prompt with anything cached
            if before is None:  # llama-server reports it
                evaluated.append(model.last_timings.get("prompt_n", 0))
                prompt_sizes.append(model.last_timings.get("prompt_n", 0) + model.last_timings.get("cache_n", 0))
            else:
                evaluated.append(before[1] - before[0])
                prompt_sizes.append(before[1])
    return {"conversations": conversations, "turns": turns,
            "later_turns_prompt_tokens_p50": statistics.median(prompt_sizes),
            "later_turns_evaluated_tokens_p50": statistics.median(evaluated),
            "later_turns_evaluated_share": round(sum(evaluated) / max(1, sum(prompt_sizes)), 3),
            "first_token_ms": _spread(firsts)}


def _cached_prefix(model, messages: list[dict]) -> tuple[int, int] | None:
    """In process: (tokens of the prompt llama.cpp already holds, prompt tokens); None for llama-server."""
    llm = getattr(model, "_llm", None)
    template = getattr(model, "_template", None)
    if llm is None or template is None:
        return None
    tokens = llm.tokenize(template(messages=messages).prompt.encode(), special=True)
    held = 0
    for a, b in zip(llm._input_ids[:llm.n_tokens], tokens):
        if a != b:
            break
        held += 1
    return held, len(tokens)


def _decode(model, streams: int, tokens: int) -> dict:
    """`streams` conversations started together; each decodes `tokens` tokens."""
    firsts, counts, ends = [None] * streams, [0] * streams, [0.0] * streams
    nonce = time.time_ns() % 10**6 * 10
    go = threading.Barrier(streams + 1)

    def one(i: int) -> None:
        start = nonce + 1000 * i  # a long, certain answer, different per stream, that no cache holds
        messages = [{"role": "user", "content": f"Count from {start} upwards, one number per line, no words."}]
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
    decoding = max(ends) - min(f for f in firsts if f)  # first token of any stream to the last of all
    per_stream = [c / (e - f) for c, f, e in zip(counts, firsts, ends) if f is not None and e > f]
    return {"streams": streams, "tokens": sum(counts), "seconds": round(wall, 2),
            "tokens_per_s": round(sum(counts) / decoding, 1),
            "per_stream_tokens_per_s": round(statistics.mean(per_stream), 1) if per_stream else None,
            "first_token_ms_p50": round(statistics.median((f - t0) * 1000 for f in firsts if f)),
            "first_token_ms_max": round(max((f - t0) * 1000 for f in firsts if f))}


def markdown(results: dict) -> str:
    rows = []
    for engine, r in results["engines"].items():
        for d in r["decode"]:
            rows.append([engine, d["streams"], d["tokens"], d["seconds"], d["tokens_per_s"],
                         d["per_stream_tokens_per_s"], d["first_token_ms_p50"], d["first_token_ms_max"],
                         " / ".join(map(str, d["tokens_per_s_each"]))])
    firsts = [[engine, r["first_token_ms"]["p50"], r["first_token_ms"]["min"], r["first_token_ms"]["max"],
               r["first_token_ms"]["n"]] for engine, r in results["engines"].items()]
    convs = [[engine, c["later_turns_prompt_tokens_p50"], c["later_turns_evaluated_tokens_p50"],
              c["later_turns_evaluated_share"], c["first_token_ms"]["p50"]]
             for engine, r in results["engines"].items() if (c := r.get("conversations"))]
    return "\n".join([
        f"# Dialogue engine: in process vs llama-server ({results['model']}, {results['threads']} threads)", "",
        f"Streams started together, {results['tokens_per_stream']} tokens each, greedy; the engines take turns, "
        f"{results['rounds']} rounds, the median round shown (every round's total tok/s in the last column). "
        f"Load average {results['load_average_before']} before, {results['load_average_after']} after.", "",
        table(["engine", "streams", "tokens", "wall s", "decode tok/s, all streams", "per-stream tok/s", "first token ms p50",
               "first token ms max", "each round tok/s"], rows), "",
        "First token for a ~60-token prompt sharing nothing with the cache, one stream:", "",
        table(["engine", "ms p50", "min", "max", "trials"], firsts), "",
        f"{results['conversations']} conversations answered in turn, {results['turns']} turns each, whole history "
        f"as the prompt (server: {results['slots']} slots): prompt tokens each later turn had to evaluate", "",
        table(["engine", "prompt tokens p50", "evaluated p50", "evaluated share", "first token ms p50 (all turns)"],
              convs), ""])
