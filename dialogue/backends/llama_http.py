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
import socket
import threading
from typing import Callable, Iterator
from urllib.parse import urlsplit

from .llama_slots import SlotAffinity, landmarks
from .openai_compat import yes_share


class LlamaServerChatModel:
    supports_grammar = True
    supports_header_grammar = True
    supports_reply_start = True  # stream(reply_start=) continues a reply whose first words are given
    keeps_prefix_cache = True  # each slot keeps its prompt's KV between requests

    def __init__(self, endpoint: str | Callable[[], str], *, name: str = "llama-server", slots: int = 1,
                 timeout: float = 120.0, owner=None, affinity: bool = True) -> None:
        """`endpoint`: the server's base URL, or a callable returning it (a supervised server's
        `wait_ready`, which waits out a restart). `owner` is closed with this model. `affinity`: send each
        conversation to the slot that holds it (`llama_slots`); off, the server picks."""
        self._endpoint = endpoint if callable(endpoint) else (lambda: endpoint)
        self.name, self.concurrency, self.timeout, self._owner = name, slots, timeout, owner
        self._slots = SlotAffinity(slots) if affinity else None
        self.last_timings: dict = {}  # the server's figures for the last finished stream (prompt_n, cache_n, ...)

    def stream(self, messages: list[dict], *, max_tokens: int = 200, temperature: float = 0.7,
               stop: list[str] | None = None, cancel: threading.Event | None = None,
               grammar: str | None = None, header_grammar: str | None = None,
               reply_start: str | None = None) -> Iterator[str]:
        """`grammar` constrains the whole output; `header_grammar` only its opening, after which the reply
        continues unconstrained from the same cached prompt (a grammar is checked against the whole
        vocabulary at every step), and `stop` applies to the rest."""
        prompt = self.format(messages)
        marks = landmarks(prompt, messages)
        if not header_grammar:
            yield from self._complete(prompt, marks, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                      grammar=grammar, cancel=cancel)
            return
        header, used = "", [0]
        for piece in self._complete(prompt, marks, max_tokens=max_tokens, temperature=temperature,
                                    grammar=header_grammar, cancel=cancel, counted=used):
            header += piece
            yield piece
        if (cancel is not None and cancel.is_set()) or not header:
            return
        if reply_start:  # the reply's first words, said already: the model continues after them
            header = header.rstrip("\n") + "\n" + reply_start.strip()
        yield from self._complete(prompt + header, marks, max_tokens=max(1, max_tokens - used[0]),
                                  temperature=temperature, stop=stop, cancel=cancel)

    def warm(self, messages: list[dict]) -> None:
        """Evaluate the prompt into a slot's cache (the reply to it is one token, thrown away)."""
        answer = self._once(messages, {"n_predict": 1, "temperature": 0.0})
        if len(messages) == 1 and self.concurrency > 1:
            # The system prompt alone (start-up): a one-token request on another slot makes the server copy
            # the idle warm slot into its RAM cache (it saves idle slots when a task starts), from where a
            # new conversation's empty slot is filled instead of reading the system prompt again.
            other = (answer.get("id_slot", 0) + 1) % self.concurrency
            self._request("/completion", {"prompt": "\n", "n_predict": 1, "id_slot": other, "cache_prompt": True})

    def prefill(self, messages: list[dict]) -> int:
        """Evaluate into a slot's cache the prompt `messages` make, up to the end of the last message's text
        (a person's words while they still speak), generating nothing. Returns the tokens evaluated."""
        last = messages[-1].get("content") if messages else None
        answer = self._once(messages, {"n_predict": 0}, cut_after=last) if last else {}
        return int(answer.get("timings", {}).get("prompt_n", 0))

    def yes_probability(self, messages: list[dict]) -> float:
        """P(yes) / (P(yes) + P(no)) for the first answer token, from the server's top-40 log-probabilities
        (neither word among them: 0.5, no opinion). Shares the reply's cached prefix."""
        answer = self._once(messages, {"n_predict": 1, "temperature": 0.0, "n_probs": 40})
        first = (answer.get("completion_probabilities") or [{}])[0]
        return yes_share((alt["token"], math.exp(alt["logprob"])) for alt in first.get("top_logprobs", []))

    def format(self, messages: list[dict]) -> str:
        """The prompt text the GGUF's chat template makes of `messages`, ready for the answer."""
        return self._request("/apply-template", {"messages": messages, "add_generation_prompt": True})["prompt"]

    def close(self) -> None:
        if self._owner is not None:
            self._owner.close()

    def _once(self, messages: list[dict], body: dict, *, cut_after: str | None = None) -> dict:
        """One unstreamed /completion of the prompt `messages` make (cut after `cut_after`'s last
        occurrence when given), on the conversation's slot; {} if `cut_after` is not in the prompt."""
        prompt = self.format(messages)
        if cut_after is not None:
            end = prompt.rfind(cut_after)
            if end < 0:
                return {}
            prompt = prompt[:end + len(cut_after)]
        chosen = self._choose(prompt, landmarks(prompt, messages))
        answer: dict = {}
        try:
            answer = self._request("/completion", {"prompt": prompt, "cache_prompt": True, "id_slot": chosen, **body})
            return answer
        finally:
            self._release(chosen, answer.get("id_slot"), prompt)

    def _complete(self, prompt: str, marks: tuple[int, int], *, max_tokens: int, temperature: float,
                  stop: list[str] | None = None, grammar: str | None = None, cancel: threading.Event | None = None,
                  counted: list[int] | None = None) -> Iterator[str]:
        chosen = self._choose(prompt, marks)
        body = {"prompt": prompt, "n_predict": max_tokens, "temperature": temperature, "stop": stop or [],
                "stream": True, "cache_prompt": True, "id_slot": chosen}
        if grammar:
            body["grammar"] = grammar
        served, text, finished = None, prompt, threading.Event()
        try:
            conn, response = self._open("/completion", body)
            if cancel is not None:
                threading.Thread(target=_hang_up_on, args=(cancel, finished, conn), daemon=True).start()
            try:
                for event in _events(response):
                    if cancel is not None and cancel.is_set():
                        break
                    if counted is not None:
                        counted[0] += 1
                    if event.get("content"):
                        text += event["content"]
                        yield event["content"]
                    if event.get("stop"):
                        self.last_timings, served = event.get("timings", {}), event.get("id_slot")
                        break
            except (OSError, http.client.HTTPException):
                if cancel is None or not cancel.is_set():
                    raise  # a hang-up of ours is no error; the server going away is
            finally:
                finished.set()
                conn.close()  # mid-stream: the server sees the closed socket at its next token, frees the slot
        finally:
            self._release(chosen, served, text)

    def _choose(self, prompt: str, marks: tuple[int, int]) -> int:
        return self._slots.choose(prompt, shared=marks[0], identity=marks[1]) if self._slots is not None else -1

    def _release(self, chosen: int, served: int | None, text: str) -> None:
        if self._slots is not None:
            self._slots.release(chosen, served_by=served if served is not None else (chosen if chosen >= 0 else None),
                                text=text)

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


def _hang_up_on(cancel: threading.Event, finished: threading.Event, conn: http.client.HTTPConnection) -> None:
    """Drop the connection as soon as `cancel` is set, also while the server is still reading the prompt and
    sends nothing the stream could check the flag on."""
    while not finished.is_set():
        if cancel.wait(0.05):
            try:
                if not finished.is_set() and conn.sock is not None:
                    conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return


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
                       ctx_per_slot: int = 4096, affinity: bool = True) -> LlamaServerChatModel:
    """Start a supervised llama-server on `model_path` and return a chat model that closes it. `affinity`
    False leaves the slot choice to llama-server's own rule (for comparison: `warmline bench engine`)."""
    from .llama_server import LlamaServer

    server = LlamaServer(model_path=model_path, slots=slots, threads=threads, device=device,
                         ctx_per_slot=ctx_per_slot, prompt_similarity=0.0 if affinity else 0.1).start()
    return LlamaServerChatModel(server.wait_ready, name=f"llama-server:{model_path.rsplit('/', 1)[-1]}",
                                slots=slots, owner=server, affinity=affinity)
