"""`warmline reply --in TURNS.jsonl --out OUT.jsonl`: text turns through the dialogue engine, no audio.

Each input line: {"text": ..., "voice": label | paralinguistic dict (optional), "history": [{"role",
"content"}, ...] (optional)}. Each output line keeps the input and adds assessment, reply,
reply_emotion, escalation (null or {category, level, severity, reason, resources}), timings and format_valid;
a line that cannot be read gets "error" instead and the run goes on (exit status 2).
"""
from __future__ import annotations

import argparse
import json
import sys

from .backends import BACKENDS, DEFAULT_MODEL, build_chat_model
from .conversation import Conversation
from .engine import Assessment, DialogueEngine, Escalation, ReplyDone
from .format import MODES
from .safety import LOCALES, RiskScorer, SafetyPolicy
from .safety.scorer import DEFAULT_SCORER, NAMED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--in", dest="inp", required=True, help="input JSONL (one turn per line); - for stdin")
    parser.add_argument("--out", required=True, help="output JSONL; - for stdout")
    add_engine_arguments(parser)


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default="llama")
    parser.add_argument("--model", default=None, help=f"catalog name, GGUF path, folder or served name (default {DEFAULT_MODEL})")
    parser.add_argument("--endpoint", default=None, help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--grammar-field", default=None,
                        help="openai backend: request field that takes a GBNF grammar ('grammar' for llama.cpp servers)")
    parser.add_argument("--mode", choices=MODES, default="tags")
    parser.add_argument("--locale", default="en-US", help=f"crisis resources: {', '.join(sorted(LOCALES))}")
    parser.add_argument("--safety-scorer", default=DEFAULT_SCORER,
                        help=f"the crisis screen's learned member, as the server loads it: {', '.join(NAMED)}, a "
                             f"sentence-transformers folder, or off (the patterns alone); default {DEFAULT_SCORER}")
    parser.add_argument("--safety-sensitivity", choices=["quiet", "balanced", "sensitive"], default=None,
                        help="the scorer's operating point (default: its heads' own, balanced)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--no-openers", dest="openers", action="store_false",
                        help="let the model say a reply's first words too (the server opens with a short acknowledgement)")


def build_engine(args) -> DialogueEngine:
    extra = {"grammar_field": args.grammar_field} if args.backend == "openai" else {}
    model = build_chat_model(args.backend, args.model, device=args.device, endpoint=args.endpoint,
                             api_key=args.api_key, threads=args.threads, **extra)
    scorer = None if args.safety_scorer == "off" else RiskScorer.named(
        args.safety_scorer, device=args.device, sensitivity=args.safety_sensitivity)
    engine = DialogueEngine(model, mode=args.mode, safety=SafetyPolicy(locale=args.locale, scorer=scorer),
                            temperature=args.temperature, openers=getattr(args, "openers", True))
    engine.warm()
    return engine


def reply_one(engine: DialogueEngine, case: dict) -> dict:
    """Run one input line; returns the output line (input fields kept)."""
    text = case.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("each line needs a non-empty string 'text'")
    conv = Conversation.from_history(case.get("history") or [])
    conv.add_user(text, voice=case.get("voice"))
    out = dict(case, assessment=None, reply="", reply_emotion=None, escalation=None)
    for part in engine.respond(conv):
        if isinstance(part, Escalation):
            out["escalation"] = part.as_dict()
        elif isinstance(part, Assessment):
            out["assessment"] = part.fields
            out["assessment_text"] = part.text
        elif isinstance(part, ReplyDone):
            out.update(reply=part.text, reply_emotion=part.emotion, timings=part.timings,
                       format_valid=part.format_valid, dropped=part.dropped)
    return out


def run(args) -> int:
    engine = build_engine(args)
    failures = 0
    src = sys.stdin if args.inp == "-" else open(args.inp, encoding="utf-8")
    dst = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")
    try:
        for n, line in enumerate(src, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
                if not isinstance(case, dict):
                    raise ValueError("each line must be a JSON object")
                out = reply_one(engine, case)
            except (ValueError, TypeError) as exc:
                failures += 1
                out = {"line": n, "input": line.strip(), "error": str(exc)}
                print(f"line {n}: {exc}", file=sys.stderr)
            dst.write(json.dumps(out, ensure_ascii=False) + "\n")
            dst.flush()
    finally:
        if src is not sys.stdin:
            src.close()
        if dst is not sys.stdout:
            dst.close()
        close = getattr(engine.model, "close", None)
        if close:
            close()
    return 2 if failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="warmline reply", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
