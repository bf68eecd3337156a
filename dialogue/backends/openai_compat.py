"""Any OpenAI-compatible chat endpoint: vLLM, llama.cpp's server, Ollama, TGI. The way to scale the
dialogue model out on GPUs: the engine stays here, the tokens come over HTTP."""
from __future__ import annotations

import os
import threading
from typing import Iterable, Iterator


class OpenAIChatModel:
    def __init__(self, model: str, *, endpoint: str, api_key: str | None = None, timeout: float = 60.0,
                 grammar_field: str | None = None, extra_body: dict | None = None) -> None:
        """`grammar_field`: the request field the server reads a GBNF grammar from ("grammar" for
        llama.cpp servers); None sends no grammar and relies on the parser's fallback."""
        from openai import OpenAI

        if not endpoint:
            raise ValueError("the openai backend needs endpoint=, e.g. http://localhost:8000/v1")
        self.name = f"openai:{model}@{endpoint}"
        self.model = model
        self.supports_grammar = grammar_field is not None
        self._grammar_field = grammar_field
        self._extra = dict(extra_body or {})
        self._client = OpenAI(base_url=endpoint, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "sk-local",
                              timeout=timeout, max_retries=0)

    def stream(self, messages: list[dict], *, max_tokens: int = 200, temperature: float = 0.7,
               stop: list[str] | None = None, cancel: threading.Event | None = None,
               grammar: str | None = None) -> Iterator[str]:
        extra = dict(self._extra)
        if grammar and self._grammar_field:
            extra[self._grammar_field] = grammar
        response = self._client.chat.completions.create(
            model=self.model, messages=messages, stream=True, max_tokens=max_tokens, temperature=temperature,
            stop=(stop or [])[:4] or None, extra_body=extra or None)  # the API takes at most 4 stops
        try:
            for chunk in response:
                if cancel is not None and cancel.is_set():
                    break
                if chunk.choices and (piece := chunk.choices[0].delta.content):
                    yield piece
        finally:
            response.close()  # drops the connection; servers stop generating for a closed stream

    def yes_probability(self, messages: list[dict]) -> float:
        """P(yes) / (P(yes) + P(no)) from the first answer token's top log-probabilities (servers that
        return none, or neither word among the top 20, give 0.5: no opinion)."""
        import math

        response = self._client.chat.completions.create(model=self.model, messages=messages, max_tokens=1,
                                                        temperature=0.0, logprobs=True, top_logprobs=20,
                                                        extra_body=self._extra or None)
        content = (response.choices[0].logprobs.content or []) if response.choices[0].logprobs else []
        return yes_share((alt.token, math.exp(alt.logprob)) for alt in (content[0].top_logprobs if content else []))

    def warm(self, messages: list[dict]) -> None:
        for _ in self.stream(messages, max_tokens=1, temperature=0.0):
            pass


def yes_share(alternatives: Iterable[tuple[str, float]]) -> float:
    """P(yes) / (P(yes) + P(no)) from (token, probability) alternatives for an answer's first token;
    0.5 (no opinion) when neither word is among them."""
    mass = {"yes": 0.0, "no": 0.0}
    for token, p in alternatives:
        word = token.strip().lower()
        if word in mass:
            mass[word] += p
    total = mass["yes"] + mass["no"]
    return mass["yes"] / total if total > 0 else 0.5
