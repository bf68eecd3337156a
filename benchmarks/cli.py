"""`warmline bench <suite>`: one entry point for every benchmark suite.

Each suite module has `add_arguments(parser)` and `run(args) -> dict`; this wrapper adds `--quick`
and `--json`, records the environment, and writes the JSON result and a Markdown report.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

SUITES = {
    "latency": ("benchmarks.latency", "end of user speech to first reply audio, per stage, under load"),
    "asr": ("benchmarks.asr", "WER and time, trimmed window vs 30 s pad"),
    "tts": ("benchmarks.tts", "time to first chunk, real-time factor, emotion prosody, intelligibility"),
    "dialogue": ("benchmarks.dialogue", "crisis recall, false alarms, format, reply emotion, per model"),
    "perception": ("benchmarks.perception", "paralinguistic accuracy and analysis time"),
    "duplex": ("benchmarks.duplex", "pause handling, backchannels, interruption, turn-taking"),
    "turn_end": ("benchmarks.turn_end", "end-of-turn rule on transcripts it was not tuned on: long waits, early answers"),
    "empathy": ("benchmarks.empathy", "same words, different emotions: do replies fit?"),
    "engine": ("benchmarks.llm_engine", "dialogue model in process vs llama-server: tokens/s at 1, 2, 4 streams, first token"),
    "safety": ("benchmarks.safety", "crisis screen on held-out parts (voice on/off, multi-turn); --speech: through the server"),
    "telephony": ("benchmarks.telephony", "phone path (Twilio, AudioSocket) beside wideband: latency, barge-in, WER, voice"),
    "soak": ("benchmarks.soak", "N callers for minutes through one server: sessions, turns, errors, p95 latency and memory over time"),
}


def add_bench_parser(sub) -> None:
    bench = sub.add_parser("bench", help="run a benchmark suite")
    suites = bench.add_subparsers(dest="suite", required=True)
    for name, (module, help_text) in SUITES.items():
        p = suites.add_parser(name, help=help_text, conflict_handler="resolve")
        p.add_argument("--quick", action="store_true", help="a few cases only (under two minutes)")
        p.add_argument("--json", dest="json_out", help="write the figures as JSON here")
        p.add_argument("--report", help="write a Markdown report here (default: beside the JSON)")
        try:  # a broken or missing suite must not break the other commands
            mod = importlib.import_module(module)
            mod.add_arguments(p)
        except Exception as exc:
            p.set_defaults(func=lambda a, m=module, e=exc: _missing(m, e))
            continue
        p.set_defaults(func=lambda a, m=mod, n=name: _run(n, m, a))


def _missing(module: str, exc: Exception) -> int:
    print(f"warmline bench: {module} is not available: {exc}", file=sys.stderr)
    return 2


def environment() -> dict:
    import os
    import platform

    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
           "cpu": _cpu_name(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    for pkg in ("numpy", "torch", "ctranslate2", "faster_whisper", "llama_cpp", "onnxruntime", "websockets"):
        try:
            env[f"{pkg}_version"] = importlib.import_module(pkg).__version__
        except Exception:
            pass
    return env


def _cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _run(name: str, module, args: argparse.Namespace) -> int:
    # a suite may define --json/--report itself (dest "json"); honour either spelling
    args.json_out = getattr(args, "json_out", None) or getattr(args, "json", None)
    args.report = getattr(args, "report", None)
    t0 = time.monotonic()
    result = module.run(args)
    result = {"suite": name, "quick": bool(args.quick), "seconds": round(time.monotonic() - t0, 1),
              "environment": environment(), **result}
    markdown = result.pop("report_markdown", None)
    if markdown and args.quick:
        title, _, rest = markdown.partition("\n")
        markdown = f"{title}\n\n**Quick slice** (`--quick`): a few cases only; run without it for the full figures.\n{rest}"
    text = json.dumps(result, indent=2, default=str)
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(text)
    report = args.report or (str(Path(args.json_out).with_suffix(".md")) if args.json_out else None)
    if report and markdown:
        Path(report).write_text(markdown)
    print(markdown or text)
    return 0
