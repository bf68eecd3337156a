"""A chat model served by llama.cpp's `llama-server` (managed by `llama_server.LlamaServer`, or any URL).

It speaks the server's native API rather than the OpenAI one, because the header-grammar trick needs the
prompt as text: `/apply-template` renders the messages with the GGUF's own chat template, `/completion`
generates with `cache_prompt` (the slot keeps the prompt's KV, and the server gives a request the idle
slot whose cached prompt it shares most of, so each conversation finds its own history cached). Streams
are server-sent events, one per token; closing the connection stops the generation and frees the slot.
"""
from __future__ import annotations

import http.client
import json
import math
import threading
from typing import Callable, Iterator
from urllib.parse import urlsplit

from .openai_compat import yes_share


class LlamaServerChatModel:
    supports_grammar = True
    supports_header_grammar = True
    keeps_prefix_cache = True  # each slot keeps its prompt's KV between requests

    def __init__(self, endpoint: str | Callable[[], str], *, name: str = "llama-server", slots: int = 1,
                 timeout: float = 120.0, owner=None) -> None:
        """`endpoint`: the server's base URL, or a callable returning it (a supervised server's
        `wait_ready`, which waits out a restart). `owner` is closed with this model."""
        self._endpoint = endpoint if callable(endpoint) else (lambda: endpoint)
        self.name, self.concurrency, self.timeout, self._owner = name, slots, timeout, owner

    def stream(self, messages: list[dict], *, max_tokens: int = 200, temperature: float = 0.7,
               stop: list[str] | None = None, cancel: threading.Event | None = None,
               grammar: str | None = None, header_grammar: str | None = None) -> Iterator[str]:
        """`grammar` constrains the whole output; `header_grammar` only its opening, after which the reply
        continues unconstrained from the same cached prompt (a grammar is checked against the whole
        vocabulary at every step), and `stop` applies to the rest."""
        prompt = self.format(messages)
        if not header_grammar:
            yield from self._complete(prompt, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                      grammar=grammar, cancel=cancel)
            return
        header, used = "", [0]
        for piece in self._complete(prompt, max_tokens=max_tokens, temperature=temperature, grammar=header_grammar,
                                    cancel=cancel, counted=used):
            header += piece
            yield piece
        if (cancel is not None and cancel.is_set()) or not header:
            return
        yield from self._complete(prompt + header, max_tokens=max(1, max_tokens - used[0]), temperature=temperature,
                                  stop=stop, cancel=cancel)

    def warm(self, messages: list[dict]) -> None:
        """Evaluate the prompt into a slot's cache (the reply to it is one token, thrown away)."""
        self._request("/completion", {"prompt": self.format(messages), "n_predict": 1, "temperature": 0.0,
                                      "cache_prompt": True})

    def prefill(self, messages: list[dict]) -> int:
        """Evaluate into a slot's cache the prompt `messages` make, up to the end of the last message's text
        (a person's words while they still speak), generating nothing. Returns the tokens evaluated."""
        last = messages[-1].get("content") if messages else None
        prompt = self.format(messages) if last else ""
        end = prompt.rfind(last) if last else -1
        if end < 0:
            return 0
        answer = self._request("/completion", {"prompt": prompt[:end + len(last)], "n_predict": 0,
                                               "cache_prompt": True})
        return int(answer.get("timings", {}).get("prompt_n", 0))

    def yes_probability(self, messages: list[dict]) -> float:
        """P(yes) / (P(yes) + P(no)) for the first answer token, from the server's top-40 log-probabilities
        (neither word among them: 0.5, no opinion). Shares the reply's cached prefix."""
        answer = self._request("/completion", {"prompt": self.format(messages), "n_predict": 1, "temperature": 0.0,
                                               "n_probs": 40, "cache_prompt": True})
        first = (answer.get("completion_probabilities") or [{}])[0]
        return yes_share((alt["token"], math.exp(alt["logprob"])) for alt in first.get("top_logprobs", []))

    def format(self, messages: list[dict]) -> str:
        """The prompt text the GGUF's chat template makes of `messages`, ready for the answer."""
        return self._request("/apply-template", {"messages": messages, "add_generation_prompt": True})["prompt"]

    def close(self) -> None:
        if self._owner is not None:
            self._owner.close()

    def _complete(self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str] | None = None,
                  grammar: str | None = None, cancel: threading.Event | None = None,
                  counted: list[int] | None = None) -> Iterator[str]:
        body = {"prompt": prompt, "n_predict": max_tokens, "temperature": temperature, "stop": stop or [],
                "stream": True, "cache_prompt": True}
        if grammar:
            body["grammar"] = grammar
        conn, response = self._open("/completion", body)
        try:
            for event in _events(response):
                if cancel is not None and cancel.is_set():
                    break
                if counted is not None:
                    counted[0] += 1
                if event.get("content"):
                    yield event["content"]
                if event.get("stop"):
                    break
        finally:
            conn.close()  # mid-stream: the server sees the closed socket at its next token and frees the slot

    def _open(self, path: str, body: dict) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        url = urlsplit(self._endpoint())
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=self.timeout)
        try:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"{self.name}: {path} answered {response.status}: {response.read()[:500]!r}")
        except BaseException:
            conn.close()
            raise
        return conn, response

    def _request(self, path: str, body: dict) -> dict:
        conn, response = self._open(path, body)
        try:
            return json.loads(response.read())
        finally:
            conn.close()


def _events(response: http.client.HTTPResponse) -> Iterator[dict]:
    """The JSON payloads of a server-sent event stream (`data: {...}` lines); `error: {...}` raises."""
    while line := response.readline():
        line = line.strip()
        if line.startswith(b"data: "):
            if line == b"data: [DONE]":
                return
            yield json.loads(line[6:])
        elif line.startswith(b"error: "):
            raise RuntimeError(f"llama-server: {line[7:].decode(errors='replace')}")


def managed_chat_model(model_path: str, *, slots: int = 4, threads: int = 2, device: str = "auto",
                       ctx_per_slot: int = 4096) -> LlamaServerChatModel:
    """Start a supervised llama-server on `model_path` and return a chat model that closes it."""
    from .llama_server import LlamaServer

    server = LlamaServer(model_path=model_path, slots=slots, threads=threads, device=device,
                         ctx_per_slot=ctx_per_slot).start()
    return LlamaServerChatModel(server.wait_ready, name=f"llama-server:{model_path.rsplit('/', 1)[-1]}",
                                slots=slots, owner=server)
