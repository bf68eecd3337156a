"""Backends with real models: llama.cpp on the registry GGUF, the OpenAI-compatible backend against
llama-cpp-python's own server over real HTTP, and transformers on a tiny model built here."""
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from dialogue.conversation import Conversation
from dialogue.engine import Assessment, Clause, DialogueEngine, ReplyDone
from dialogue.format import GRAMMARS, HEADER_GRAMMARS, ReplyParser
from dialogue.tone import NEEDS, REPLY_EMOTIONS

MESSAGES = [{"role": "system", "content": "You are a kind assistant. Answer in one short sentence."},
            {"role": "user", "content": "Say something nice about rainy days."}]


def _gguf():
    from server.models import ModelMissing, resolve
    try:
        return resolve("qwen2.5-0.5b")
    except ModelMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def llama():
    pytest.importorskip("llama_cpp")
    from dialogue.backends import build_chat_model
    model = build_chat_model("llama", _gguf(), threads=2)
    yield model
    model.close()


@pytest.mark.slow
def test_llama_streams_pieces(llama):
    pieces = list(llama.stream(MESSAGES, max_tokens=12, temperature=0.0))
    assert len(pieces) > 1 and "".join(pieces).strip()


@pytest.mark.slow
def test_llama_cancel_stops_within_one_token(llama):
    cancel = threading.Event()
    gen = llama.stream(MESSAGES, max_tokens=64, temperature=0.0, cancel=cancel)
    for _ in range(3):
        next(gen)
    cancel.set()
    at_cancel = llama.n_tokens
    rest = list(gen)
    assert rest == [] and llama.n_tokens <= at_cancel + 1


@pytest.mark.slow
def test_llama_closing_the_iterator_stops_generation_and_frees_the_model(llama):
    gen = llama.stream(MESSAGES, max_tokens=64, temperature=0.0)
    next(gen)
    at_close = llama.n_tokens
    gen.close()
    assert llama.n_tokens <= at_close + 1
    assert list(llama.stream(MESSAGES, max_tokens=3, temperature=0.0))  # the lock was released


@pytest.mark.slow
def test_llama_grammar_keeps_the_tags_format(llama):
    msgs = [{"role": "system", "content": "Answer anything."}, {"role": "user", "content": "Write me a poem in a list."}]
    parser = ReplyParser("tags")
    reply = "".join(parser.feed(p) for p in llama.stream(msgs, max_tokens=30, temperature=0.9,
                                                         grammar=GRAMMARS["tags"])) + parser.finish()
    assert parser.parsed.valid and reply and "\n" not in reply and "*" not in reply


@pytest.mark.slow
def test_llama_header_grammar_fixes_the_header_then_lets_the_reply_run(llama):
    msgs = [{"role": "system", "content": "Answer anything."}, {"role": "user", "content": "Write me a poem in a list."}]
    assert llama.supports_header_grammar
    out = "".join(llama.stream(msgs, max_tokens=30, temperature=0.9, header_grammar=HEADER_GRAMMARS["tags"],
                               stop=["\n"]))
    header, _, reply = out.partition("\n")
    need, _, tone = header.partition("|")
    assert need in NEEDS and tone in REPLY_EMOTIONS, out
    assert reply.strip() and "\n" not in reply  # unconstrained, and the stop applies after the header


@pytest.mark.slow
def test_llama_cancel_during_the_free_reply_stops_within_one_token(llama):
    cancel = threading.Event()
    gen = llama.stream(MESSAGES, max_tokens=64, temperature=0.0, cancel=cancel, header_grammar=HEADER_GRAMMARS["tags"])
    got = ""
    while "\n" not in got:  # through the header
        got += next(gen)
    next(gen)
    cancel.set()
    at_cancel = llama.n_tokens
    assert list(gen) == [] and llama.n_tokens <= at_cancel + 1


@pytest.mark.slow
def test_engine_end_to_end_on_the_real_model(llama):
    engine = DialogueEngine(llama)
    engine.warm()
    conv = Conversation()
    conv.add_user("I finally finished my first marathon today!", voice="happy", item_id="u1")
    parts = list(engine.respond(conv, item_id="a1"))
    assert isinstance(parts[0], Assessment) and parts[0].fields["format_valid"]
    assert parts[0].fields["reply_emotion"] in ("warm", "gentle", "calm", "reassuring", "cheerful", "serious", "neutral")
    clauses = [p for p in parts if isinstance(p, Clause)]
    done = parts[-1]
    assert isinstance(done, ReplyDone) and clauses and done.text == " ".join(c.text for c in clauses)
    assert "|" not in done.text and conv.find("a1").text == done.text
    assert done.timings["first_token_s"] <= done.timings["first_clause_s"] <= done.timings["total_s"]


@pytest.mark.slow
def test_prepared_history_is_the_prefix_the_next_turn_reuses(llama):
    engine = DialogueEngine(llama)
    conv = Conversation()
    conv.add_user("My sister is visiting this weekend.", item_id="u1")
    list(engine.respond(conv, item_id="a1"))
    assert engine.prepare(conv)
    cached = list(llama._llm.input_ids[:llama.n_tokens])
    system = {"role": "system", "content": engine.system_prompt}
    history = llama._template(messages=[system, *conv.messages()]).prompt
    assert history.endswith("<|im_start|>assistant\n")  # Qwen's template, as the engine's prompt has it
    history = history[: -len("<|im_start|>assistant\n")]
    conv.add_user("I am nervous about it.", item_id="u2")
    following = llama._template(messages=[system, *conv.messages(), {"role": "system", "content": "Stage: exploring."}])
    tokens = lambda text: llama._llm.tokenize(text.encode(), add_bos=False, special=True)  # noqa: E731
    nxt = tokens(following.prompt)
    shared = next((i for i, (a, b) in enumerate(zip(cached, nxt)) if a != b), min(len(cached), len(nxt)))
    assert shared >= len(tokens(history))  # the next turn starts evaluating after the whole history


@pytest.mark.slow
def test_words_read_while_spoken_are_the_prefix_the_reply_reuses(llama):
    """Read ahead: the partial words of a turn still being spoken are in the cache where the reply's prompt
    has them, so at the pause the model starts reading after them; the reply itself is unchanged by it."""
    engine = DialogueEngine(llama)
    conv = Conversation()
    conv.add_user("Hi there.", item_id="u1")
    conv.add_assistant("Hello! How are you today?", item_id="a1")
    partial = "I have been feeling really lonely since my best friend moved"
    first = engine.prefill(conv, partial)
    assert first > 0
    assert engine.prefill(conv, partial) == 0  # read already: nothing to do again
    assert 0 < engine.prefill(conv, partial + " away to Canada") < first  # only the new words
    cached = list(llama._llm.input_ids[:llama.n_tokens])
    conv.add_user(partial + " away to Canada last month.", item_id="u2")
    system = {"role": "system", "content": engine.system_prompt}
    prompt = llama._template(messages=[system, *conv.messages(), {"role": "system", "content": "Stage: exploring."}])
    tokens = llama._llm.tokenize(prompt.prompt.encode(), special=True)
    shared = next((i for i, (a, b) in enumerate(zip(cached, tokens)) if a != b), min(len(cached), len(tokens)))
    before_words = llama._llm.tokenize(prompt.prompt[:prompt.prompt.rfind(partial)].encode(), special=True)
    assert shared == len(cached) and shared > len(before_words) + 8  # the words read early are all reused
    parts = list(engine.respond(conv, item_id="a2"))
    assert isinstance(parts[-1], ReplyDone) and parts[-1].text


@pytest.mark.slow
def test_an_opener_is_said_first_and_the_model_continues_after_it(llama):
    from dialogue.openers import all_openers

    engine = DialogueEngine(llama, openers=True)
    assert engine.openers
    conv = Conversation()
    conv.add_user("Work has been so stressful and my manager keeps yelling at me.", item_id="u1")
    parts = list(engine.respond(conv, item_id="a1"))
    clauses = [p for p in parts if isinstance(p, Clause)]
    done = parts[-1]
    assert (clauses[0].text, clauses[0].emotion) in all_openers()
    assert len(clauses) >= 2 and done.text.startswith(clauses[0].text)
    assert len(done.text.split()) > len(clauses[0].text.split()) + 2  # the model went on after it
    assert not clauses[1].text.startswith(clauses[0].text)  # ... and did not say it again
    assert done.timings["first_clause_s"] <= done.timings["first_model_clause_s"]
    assert conv.find("a1").text == done.text


# --- OpenAI-compatible endpoint: llama-cpp-python's server, started here -------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] extras are not installed")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("server") / "server.log", "w+")  # a PIPE nobody reads fills up and blocks it
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", _gguf(), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--model_alias", "qwen"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail("llama_cpp.server exited: " + log.read()[-2000:])
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not come up in 120 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _asked(question: str) -> list[dict]:
    return [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": f"{question} Answer yes or no."}]


@pytest.mark.slow
def test_llama_yes_probability_reads_the_answer_from_the_first_token():
    """The safety layer's second opinion: P(yes) for a yes/no question, from one prompt evaluation, on the
    default dialogue model (the 0.5B Coder answers such questions near chance, whatever the reading)."""
    pytest.importorskip("llama_cpp")
    from dialogue.backends import build_chat_model
    from server.models import ModelMissing, resolve

    try:
        model = build_chat_model("llama", resolve("qwen2.5-1.5b"), threads=2)
    except ModelMissing as exc:
        pytest.skip(str(exc))
    try:
        yes = model.yes_probability(_asked("Do fish live in water?"))
        no = model.yes_probability(_asked("Do fish live on the moon?"))
    finally:
        model.close()
    assert yes > 0.9 and no < 0.1, (yes, no)


@pytest.mark.slow
def test_openai_backend_yes_probability_agrees_with_the_in_process_reading(endpoint, llama):
    """The endpoint serves the same GGUF: its top log-probabilities give the same P(yes) as llama.cpp's logits."""
    from dialogue.backends import build_chat_model
    model = build_chat_model("openai", "qwen", endpoint=endpoint)
    told = [{"role": "user", "content": "Reply with the single word yes and nothing else."}]
    over_http, in_process = model.yes_probability(told), llama.yes_probability(told)
    assert over_http > 0.8 and abs(over_http - in_process) < 0.05, (over_http, in_process)


@pytest.mark.slow
def test_openai_backend_streams_with_grammar_over_http(endpoint):
    from dialogue.backends import build_chat_model
    model = build_chat_model("openai", "qwen", endpoint=endpoint, grammar_field="grammar")
    engine = DialogueEngine(model)
    conv = Conversation()
    conv.add_user("My exam is tomorrow and I'm terrified.", voice="fearful")
    parts = list(engine.respond(conv))
    assert isinstance(parts[0], Assessment) and parts[0].fields["format_valid"]
    assert isinstance(parts[-1], ReplyDone) and parts[-1].text and parts[-1].timings["tokens"] > 1


@pytest.mark.slow
def test_openai_backend_cancel_closes_the_stream_and_server_stays_usable(endpoint):
    from dialogue.backends import build_chat_model
    model = build_chat_model("openai", "qwen", endpoint=endpoint)
    cancel = threading.Event()
    gen = model.stream(MESSAGES, max_tokens=200, temperature=0.0, cancel=cancel)
    next(gen)
    cancel.set()
    assert list(gen) == []
    assert "".join(model.stream(MESSAGES, max_tokens=5, temperature=0.0))


def test_openai_backend_without_endpoint_is_a_clear_error():
    from dialogue.backends import build_chat_model
    with pytest.raises(ValueError, match="endpoint"):
        build_chat_model("openai", "x")
    with pytest.raises(ValueError, match="unknown backend"):
        build_chat_model("vllm")


# --- transformers: a tiny random Qwen2 built from a config ------------------------------------------

@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    folder = tmp_path_factory.mktemp("tiny-qwen")
    # A byte-level BPE like Qwen's own (transformers rebuilds a Qwen2 tokenizer from vocab and merges).
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [m["content"] for m in MESSAGES] * 20 + ["hello there, how are you feeling today?"] * 20
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.chat_template = ("{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
                          "{% if add_generation_prompt %}assistant {% endif %}")
    fast.save_pretrained(folder)
    config = Qwen2Config(vocab_size=tok.get_vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         eos_token_id=None, pad_token_id=0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_hf(tiny_folder):
    from dialogue.backends import build_chat_model
    return build_chat_model("transformers", str(tiny_folder), device="cpu", threads=1)


def test_transformers_streams(tiny_hf):
    pieces = list(tiny_hf.stream(MESSAGES, max_tokens=12, temperature=0.0))
    assert pieces and tiny_hf.generated_tokens == 12


def test_transformers_cancel_stops_within_one_token(tiny_hf):
    cancel = threading.Event()
    gen = tiny_hf.stream(MESSAGES, max_tokens=200, temperature=1.0, cancel=cancel)
    next(gen)
    cancel.set()
    at_cancel = tiny_hf.generated_tokens
    assert list(gen) == []
    assert tiny_hf.generated_tokens <= at_cancel + 1 < 200


def test_transformers_stop_strings_cut_the_text(tiny_hf):
    text = "".join(tiny_hf.stream(MESSAGES, max_tokens=30, temperature=0.0))  # greedy: the same text each time
    assert len(text) >= 6
    stop = text[len(text) // 2:len(text) // 2 + 3]
    cut = "".join(tiny_hf.stream(MESSAGES, max_tokens=30, temperature=0.0, stop=[stop]))
    assert cut == text[:text.find(stop)]


def test_transformers_yes_probability_is_a_probability(tiny_hf):
    p = tiny_hf.yes_probability(_asked("Do fish live in water?"))  # a random tiny model: no direction to expect, only the reading
    assert 0.0 < p < 1.0


def test_transformers_drives_the_engine(tiny_hf):
    conv = Conversation()
    conv.add_user("hello you", voice="sad")
    parts = list(DialogueEngine(tiny_hf, max_tokens=20).respond(conv))
    assert isinstance(parts[0], Assessment) and isinstance(parts[-1], ReplyDone)
    assert parts[-1].emotion == "gentle"  # gibberish breaks format: tone falls back to suit "sad"


def test_reply_cli_keeps_input_adds_fields_and_reports_bad_lines(tiny_folder, tmp_path):
    import argparse

    from dialogue import reply_cli
    inp, out = tmp_path / "turns.jsonl", tmp_path / "out.jsonl"
    inp.write_text("\n".join([
        json.dumps({"text": "hello you", "voice": "sad", "id": 1}),
        json.dumps({"text": "I'm going to kill myself tonight.", "history": [
            {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}),
        json.dumps({"voice": "sad"}),
        "not json",
    ]) + "\n")
    parser = argparse.ArgumentParser()
    reply_cli.add_arguments(parser)
    args = parser.parse_args(["--in", str(inp), "--out", str(out), "--backend", "transformers",
                              "--model", str(tiny_folder), "--device", "cpu", "--threads", "1"])
    assert reply_cli.run(args) == 2  # two unreadable lines
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 4
    first, crisis = lines[0], lines[1]
    assert first["id"] == 1 and first["voice"] == "sad" and first["reply"] and first["reply_emotion"] == "gentle"
    assert first["escalation"] is None and first["assessment"]["voice"]["emotion"] == "sad"
    assert crisis["escalation"]["category"] == "suicide" and crisis["escalation"]["severity"] == "high"
    assert "988" in crisis["reply"]
    assert "text" in lines[2]["error"] and lines[3]["error"]


def test_reply_cli_screens_with_the_servers_scorer_unless_told_off(tiny_folder, tmp_path):
    """`warmline reply` is how a new user tries the screen: it loads the scorer the server loads, so a line only the
    scorer hears (no pattern matches it) escalates there too; `--safety-scorer off` leaves the patterns alone."""
    import argparse

    from dialogue import reply_cli
    from dialogue.safety import detect

    line = "Everyone would honestly be better off if I just wasn't here anymore."
    assert detect(line).level == "none"  # the patterns alone miss it
    inp = tmp_path / "turns.jsonl"
    inp.write_text(json.dumps({"text": line}) + "\n")
    got = {}
    for scorer in ("default", "off"):
        parser = argparse.ArgumentParser()
        reply_cli.add_arguments(parser)
        out = tmp_path / f"{scorer}.jsonl"
        argv = ["--in", str(inp), "--out", str(out), "--backend", "transformers", "--model", str(tiny_folder),
                "--device", "cpu", "--threads", "1"] + ([] if scorer == "default" else ["--safety-scorer", "off"])
        assert reply_cli.run(parser.parse_args(argv)) == 0
        got[scorer] = json.loads(out.read_text())["escalation"]
    assert got["default"]["category"] == "suicide" and "988" in " ".join(map(str, got["default"].values()))
    assert got["off"] is None
