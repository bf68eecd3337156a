"""The managed llama.cpp server engine, for real: the llama-server binary scripts/build-llama-server builds,
the registry GGUF, HTTP on loopback. Skipped (with the reason) where the binary is not built."""
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from dialogue.conversation import Conversation
from dialogue.engine import Assessment, DialogueEngine, ReplyDone
from dialogue.format import HEADER_GRAMMARS
from dialogue.tone import NEEDS, REPLY_EMOTIONS

pytestmark = pytest.mark.slow
MESSAGES = [{"role": "system", "content": "You are a kind assistant. Answer in one short sentence."},
            {"role": "user", "content": "Say something nice about rainy days."}]
STORY = [{"role": "system", "content": "You are a storyteller."},
         {"role": "user", "content": "Tell me a very long story about a lighthouse keeper."}]


def _binary() -> str:
    from dialogue.backends.llama_server import LlamaServerMissing, find_binary
    try:
        return find_binary()
    except LlamaServerMissing as exc:
        pytest.skip(str(exc))


def _gguf() -> str:
    from server.models import ModelMissing, resolve
    try:
        return resolve("qwen2.5-0.5b")
    except ModelMissing as exc:
        pytest.skip(str(exc))


def _start(slots: int):
    from dialogue.backends.llama_http import LlamaServerChatModel
    from dialogue.backends.llama_server import LlamaServer
    server = LlamaServer(model_path=_gguf(), binary=_binary(), slots=slots, ctx_per_slot=1024, threads=2,
                         device="cpu").start()
    return server, LlamaServerChatModel(server.wait_ready, slots=slots, owner=server)


@pytest.fixture(scope="module")
def engine():
    server, model = _start(slots=2)
    yield server, model
    model.close()


def _slots(server) -> list[dict]:
    with urllib.request.urlopen(server.url + "/slots", timeout=10) as response:
        return json.load(response)


def _predicted(server) -> int:
    """Tokens the server has generated since it started (its Prometheus counter)."""
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("llamacpp:tokens_predicted_total"):
                return int(float(line.split()[-1]))
    raise AssertionError("no tokens_predicted_total in /metrics")


def _until(condition, what: str, *, wait: float = 60.0):
    """Poll for a state the server reaches on its own (not a timing assertion: the limit only ends a hang)."""
    deadline = time.monotonic() + wait
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never saw {what}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]


def test_the_managed_engine_answers_a_streamed_completion(engine):
    server, model = engine
    pieces = list(model.stream(MESSAGES, max_tokens=12, temperature=0.0))
    assert len(pieces) > 1 and "".join(pieces).strip()
    assert server.pid and _alive(server.pid)


def test_header_grammar_fixes_the_header_then_the_reply_runs_free(engine):
    _, model = engine
    msgs = [{"role": "system", "content": "Answer anything."}, {"role": "user", "content": "Write me a poem in a list."}]
    out = "".join(model.stream(msgs, max_tokens=30, temperature=0.9, header_grammar=HEADER_GRAMMARS["tags"],
                               stop=["\n"]))
    header, _, reply = out.partition("\n")
    need, _, tone = header.partition("|")
    assert need in NEEDS and tone in REPLY_EMOTIONS, out
    assert reply.strip() and "\n" not in reply


def test_the_dialogue_engine_runs_on_the_server_with_a_valid_format(engine):
    _, model = engine
    conv = Conversation()
    conv.add_user("I finally finished my first marathon today!", voice="happy", item_id="u1")
    parts = list(DialogueEngine(model).respond(conv, item_id="a1"))
    assert isinstance(parts[0], Assessment) and parts[0].fields["format_valid"]
    assert isinstance(parts[-1], ReplyDone) and parts[-1].text


def test_on_the_server_a_reply_continues_after_its_opener(engine):
    from dialogue.engine import Clause
    from dialogue.openers import all_openers

    _, model = engine
    conv = Conversation()
    conv.add_user("My car broke down on the way to work and I was so late.", item_id="u1")
    parts = list(DialogueEngine(model, openers=True).respond(conv, item_id="a1"))
    clauses = [p for p in parts if isinstance(p, Clause)]
    assert clauses[0].opener and (clauses[0].text, clauses[0].emotion) in all_openers()
    assert len(clauses) >= 2 and not clauses[1].opener  # the model went on after the opener
    assert parts[-1].text.startswith(clauses[0].text) and conv.find("a1").text == parts[-1].text


def test_a_cancelled_stream_frees_its_slot(engine):
    server, model = engine
    cancel = threading.Event()
    before = _predicted(server)
    stream = model.stream(STORY, max_tokens=400, temperature=0.0, cancel=cancel)
    seen = [next(stream) for _ in range(3)]
    cancel.set()
    assert list(stream) == [] and all(seen)
    _until(lambda: not any(s["is_processing"] for s in _slots(server)), "every slot idle after the cancel")
    # The server notices the closed stream when it sends its next token: a few tokens on an idle box; on one
    # oversubscribed by other jobs (seen in CI: 44) the hang-up reaches it later. Uncancelled, it would write 400.
    assert _predicted(server) - before <= len(seen) + 100


def test_a_stream_cancelled_before_its_first_token_frees_its_slot(engine):
    """A barge-in while the server still reads the prompt: the connection is dropped at once, and the server,
    which cannot stop inside a prompt batch, stops within the token it is on once the prompt is read (the
    first token comes from the prompt's own logits, the second is the one decode step in flight)."""
    server, model = engine
    cancel = threading.Event()
    cancel.set()
    before = _predicted(server)
    long_story = [{"role": "user", "content": "Tell me a story. " * 150}]
    assert list(model.stream(long_story, max_tokens=400, temperature=0.0, cancel=cancel)) == []
    _until(lambda: not any(s["is_processing"] for s in _slots(server)), "every slot idle after the cancel")
    assert _predicted(server) - before <= 2


def test_closing_the_iterator_frees_the_slot_too(engine):
    server, model = engine
    stream = model.stream(STORY, max_tokens=400, temperature=0.0)
    next(stream)
    stream.close()
    _until(lambda: not any(s["is_processing"] for s in _slots(server)), "every slot idle after close()")


def test_two_concurrent_streams_on_two_slots_both_complete(engine):
    server, model = engine
    asks = [STORY, [{"role": "user", "content": "Describe the sea at night in detail."}]]
    texts: list[str] = ["", ""]
    busy: list[int] = []

    def run(i: int) -> None:
        for piece in model.stream(asks[i], max_tokens=40, temperature=0.0):
            texts[i] += piece
            if i == 0 and len(texts[0]) > 20 and not busy:
                busy.append(sum(s["is_processing"] for s in _slots(server)))

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(t.strip() for t in texts)
    assert busy and busy[0] == 2  # both slots were decoding at once


def test_each_conversation_finds_its_own_history_cached(engine):
    """Two conversations taking turns on two slots, both opening with the same system prompt: each later turn
    finds its own whole earlier prompt in the cache (llama-server's own slot choice gave both the same slot,
    and each turn read everything after the system prompt again)."""
    _, model = engine
    system = {"role": "system", "content": "You are a kind listener. Answer in one short sentence. " * 8}
    chats = [[system, {"role": "user", "content": "My cat has been ill all week."}],
             [system, {"role": "user", "content": "I started a new job on Monday."}]]
    first_prompt = []
    for chat in chats:
        chat.append({"role": "assistant", "content": "".join(model.stream(chat, max_tokens=8, temperature=0.0))})
        first_prompt.append(model.last_timings["prompt_n"] + model.last_timings["cache_n"])
    for chat, earlier in zip(chats, first_prompt):
        chat.append({"role": "user", "content": "What should I do?"})
        list(model.stream(chat, max_tokens=4, temperature=0.0))
        assert model.last_timings["cache_n"] >= earlier, (model.last_timings, earlier)


def test_yes_probability_reads_the_first_token(engine):
    _, model = engine
    told = [{"role": "user", "content": "Reply with the single word yes and nothing else."}]
    assert model.yes_probability(told) > 0.8


def test_the_engine_restarts_after_its_process_is_killed(engine):
    server, model = engine
    before, restarts = server.pid, server.restarts
    os.kill(before, signal.SIGKILL)
    _until(lambda: server.restarts > restarts, "the supervisor restart the server")
    assert "".join(model.stream(MESSAGES, max_tokens=5, temperature=0.0)).strip()  # waits until it is back
    assert server.pid not in (None, before) and _alive(server.pid)


def test_the_engine_stops_with_its_supervisor():
    server, model = _start(slots=1)
    pid = server.pid
    assert "".join(model.stream(MESSAGES, max_tokens=3, temperature=0.0))
    model.close()
    assert not _alive(pid)
    with pytest.raises(RuntimeError, match="closed"):
        list(model.stream(MESSAGES, max_tokens=3))


def test_a_missing_binary_names_the_build_script(tmp_path, monkeypatch):
    from dialogue.backends.llama_server import LlamaServerMissing, find_binary
    monkeypatch.delenv("WARMLINE_LLAMA_SERVER", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an empty cache: nothing built there
    with pytest.raises(LlamaServerMissing, match="scripts/build-llama-server"):
        find_binary()


def test_warmline_serve_starts_and_stops_its_engine():
    """`warmline serve --llm-engine server` starts llama-server as its child and takes it down when it stops."""
    from benchmarks.server_proc import start_server, stop_server
    _binary()
    proc, _url, log_path = start_server(["--llm-engine", "server", "--llm-slots", "2", "--llm-model", _gguf()])
    try:
        children = _children(proc.pid)
        engines = [pid for pid in children if "llama-server" in _cmdline(pid)]
        assert engines, f"no llama-server among {children}"
    finally:
        stop_server(proc)
    assert proc.returncode in (0, -15), log_path.read_text()[-2000:]
    _until(lambda: not any(_alive(pid) for pid in engines), "llama-server gone after warmline serve stopped")


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_the_server_engine_needs_the_llama_backend():
    from dialogue.backends import build_chat_model
    with pytest.raises(ValueError, match="backend='llama'"):
        build_chat_model("openai", "x", endpoint="http://127.0.0.1:9/v1", engine="server")
    with pytest.raises(ValueError, match="unknown engine"):
        build_chat_model("llama", "x", engine="cloud")
