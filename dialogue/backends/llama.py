"""llama.cpp in-process (the embedded default): a GGUF file, GPU offload when built with it."""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import Iterator


class LlamaChatModel:
    supports_grammar = True

    def __init__(self, model_path: str, *, device: str = "auto", threads: int = 2, n_ctx: int = 4096,
                 seed: int = 0, chat_format: str | None = None, verbose: bool = False) -> None:
        import llama_cpp

        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
        gpu = llama_cpp.llama_supports_gpu_offload()
        if device == "cuda" and not gpu:
            raise RuntimeError("device='cuda' but this llama-cpp-python build has no GPU offload")
        self.device = "cuda" if gpu and device != "cpu" else "cpu"
        self.name = f"llama:{model_path.rsplit('/', 1)[-1]}"
        self._llm = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                    n_gpu_layers=-1 if self.device == "cuda" else 0, seed=seed,
                                    chat_format=chat_format, verbose=verbose)
        self._lock = threading.Lock()  # one generation at a time; llama.cpp contexts are not shareable

    @property
    def n_tokens(self) -> int:
        """Tokens currently in the context (prompt + generated): how far the model has computed."""
        return self._llm.n_tokens

    def stream(self, messages: list[dict], *, max_tokens: int = 200, temperature: float = 0.7,
               stop: list[str] | None = None, cancel: threading.Event | None = None,
               grammar: str | None = None) -> Iterator[str]:
        with self._lock:
            chunks = self._llm.create_chat_completion(
                messages, stream=True, max_tokens=max_tokens, temperature=temperature, stop=stop or [],
                grammar=_grammar(grammar) if grammar else None)
            try:
                for chunk in chunks:
                    if cancel is not None and cancel.is_set():
                        break
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            finally:
                chunks.close()  # stops llama.cpp before it evaluates another token

    def warm(self, messages: list[dict]) -> None:
        for _ in self.stream(messages, max_tokens=1, temperature=0.0):
            pass

    def close(self) -> None:
        self._llm.close()


@lru_cache(maxsize=8)
def _grammar(text: str):
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)
