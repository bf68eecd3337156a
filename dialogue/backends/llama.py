"""llama.cpp in-process (the embedded default): a GGUF file, GPU offload when built with it."""
from __future__ import annotations

import threading
import logging
from functools import lru_cache
from typing import Iterator

log = logging.getLogger("warmline.llama")


def llama_device(device: str) -> str:
    """`auto|cpu|cuda` as this llama-cpp-python build can run it: cuda where it offloads to a GPU."""
    import llama_cpp

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    gpu = llama_cpp.llama_supports_gpu_offload()
    if device == "cuda" and not gpu:
        raise RuntimeError("device='cuda' but this llama-cpp-python build has no GPU offload")
    return "cuda" if gpu and device != "cpu" else "cpu"


class LlamaChatModel:
    supports_grammar = True
    keeps_prefix_cache = True  # llama.cpp reuses the longest common prefix of the previous evaluation

    def __init__(self, model_path: str, *, device: str = "auto", threads: int = 2, n_ctx: int = 4096,
                 seed: int = 0, chat_format: str | None = None, verbose: bool = False) -> None:
        import llama_cpp

        self.device = llama_device(device)
        self.name = f"llama:{model_path.rsplit('/', 1)[-1]}"
        self._llm = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                                    n_gpu_layers=-1 if self.device == "cuda" else 0, seed=seed,
                                    chat_format=chat_format, verbose=verbose)
        self._lock = threading.Lock()  # one generation at a time; llama.cpp contexts are not shareable
        self._template = None if chat_format else _template_of(self._llm)
        # A header grammar needs the prompt as text, to continue it unconstrained after the header.
        self.supports_header_grammar = self.supports_header_choices = self._template is not None
        self.supports_reply_start = self.supports_header_grammar  # stream(reply_start=) continues a given start

    @property
    def n_tokens(self) -> int:
        """Tokens currently in the context (prompt + generated): how far the model has computed."""
        return self._llm.n_tokens

    def stream(self, messages: list[dict], *, max_tokens: int = 200, temperature: float = 0.7,
               stop: list[str] | None = None, cancel: threading.Event | None = None,
               grammar: str | None = None, header_grammar: str | None = None,
               header_choices: list[tuple[str, ...]] | None = None, reply_start: str | None = None) -> Iterator[str]:
        """`grammar` constrains the whole output. `header_grammar` constrains only its opening; once that
        is complete the rest is generated freely, and `stop` applies to the rest; `reply_start` (not
        yielded: the caller has it) is put after the header for the model to continue. llama.cpp checks a
        grammar against the whole vocabulary (151k tokens for Qwen) at every step, which cost ~40 % of the
        decoding speed here, so a grammar that only has to fix a short header should stop there.
        `header_choices` fixes such a header faster still: a line of fields joined by "|", each field the
        option whose first token the model ranks highest, read from one forward pass per field."""
        with self._lock:
            if (header_grammar or header_choices) and self._template is not None:
                formatted = self._template(messages=messages)
                prompt, ends = formatted.prompt, {"stopping_criteria": formatted.stopping_criteria}
                self.last_prompt = self._cache_use(prompt)
                log.debug("reply prompt: %s (cache held %d)", self.last_prompt, self._llm.n_tokens)
                header = ""
                if header_choices:
                    header = self._choose_header(prompt, header_choices, cancel)
                    if header:
                        yield header
                else:
                    for piece in self._pieces(self._llm.create_completion(
                            prompt, stream=True, max_tokens=max_tokens, temperature=temperature,
                            grammar=_grammar(header_grammar), **ends), cancel):
                        header += piece
                        yield piece
                if (cancel is not None and cancel.is_set()) or not header:
                    return
                used = len(self._llm.tokenize(header.encode(), add_bos=False, special=False))
                if reply_start:
                    header = header.rstrip("\n") + "\n" + reply_start.strip()
                chunks = self._llm.create_completion(prompt + header, stream=True, temperature=temperature,
                                                     max_tokens=max(1, max_tokens - used),
                                                     stop=[*(stop or []), *formatted.stop], **ends)
            else:
                chunks = self._llm.create_chat_completion(
                    messages, stream=True, max_tokens=max_tokens, temperature=temperature, stop=stop or [],
                    grammar=_grammar(grammar) if grammar else None)
            yield from self._pieces(chunks, cancel)

    def _choose_header(self, prompt: str, choices: list[tuple[str, ...]], cancel: threading.Event | None) -> str:
        import numpy as np

        llm = self._llm
        self._read(llm.tokenize(prompt.encode(), special=True))
        header = ""
        for i, options in enumerate(choices):
            if cancel is not None and cancel.is_set():
                return ""
            logits = np.ctypeslib.as_array(llama_cpp_logits(llm), shape=(llm.n_vocab(),))
            first = {o: llm.tokenize(o.encode(), add_bos=False, special=False)[0] for o in options}
            pick = max(options, key=lambda o: logits[first[o]])
            if i == len(choices) - 1:
                return header + pick + "\n"
            header += pick + "|"
            llm.eval(llm.tokenize((pick + "|").encode(), add_bos=False, special=False))
        return header

    def _read(self, tokens: list[int]) -> None:
        """Evaluate `tokens`, reusing the cached prefix, so the logits after the last one are fresh."""
        llm = self._llm
        llm.n_tokens = min(self._cached(tokens), len(tokens) - 1)
        llm.eval(tokens[llm.n_tokens:])

    def _cache_use(self, prompt: str) -> dict:
        """How many of the prompt's tokens the cache already holds (read before, and not read again)."""
        tokens = self._llm.tokenize(prompt.encode(), special=True)
        return {"prompt_tokens": len(tokens), "prompt_cached_tokens": self._cached(tokens)}

    def _cached(self, tokens: list[int]) -> int:
        """How many of `tokens`, from the start, the context holds already."""
        held = self._llm._input_ids[:self._llm.n_tokens]
        return next((i for i, (a, b) in enumerate(zip(held, tokens)) if a != b), min(len(held), len(tokens)))

    @staticmethod
    def _pieces(chunks, cancel: threading.Event | None) -> Iterator[str]:
        try:
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    break
                choice = chunk["choices"][0]
                piece = choice["delta"].get("content") if "delta" in choice else choice.get("text")
                if piece:
                    yield piece
        finally:
            chunks.close()  # stops llama.cpp before it evaluates another token

    def warm(self, messages: list[dict]) -> None:
        for _ in self.stream(messages, max_tokens=1, temperature=0.0):
            pass

    def prefill(self, messages: list[dict]) -> int:
        """Evaluate into the cache the prompt `messages` make, up to the end of the last message's text, and
        generate nothing: a person's words so far, while they are still speaking, so that at the pause only
        the rest is left to read. Returns the tokens evaluated (0 if the cache already held them)."""
        if self._template is None or not messages or not messages[-1].get("content"):
            return 0
        last = messages[-1]["content"]
        prompt = self._template(messages=messages).prompt
        end = prompt.rfind(last)
        if end < 0:
            return 0
        # The last token is kept back: the next words may merge with it ("feel" -> "feeling").
        tokens = self._llm.tokenize(prompt[:end + len(last)].encode(), special=True)[:-1]
        with self._lock:
            llm = self._llm
            cached = self._cached(tokens)
            if cached >= len(tokens):
                return 0
            llm.n_tokens = cached  # eval drops the cache past this point before it extends it
            llm.eval(tokens[cached:])
            log.debug("prefill: %d cached, %d read, now %d", cached, len(tokens) - cached, llm.n_tokens)
            return len(tokens) - cached

    def yes_probability(self, messages: list[dict]) -> float:
        """P(yes) / (P(yes) + P(no)) for the first token of the answer to `messages` (a yes/no question).
        One prompt evaluation, no sampling; llama.cpp reuses the cached prefix the reply shares with it."""
        import numpy as np

        if self._template is None:
            raise RuntimeError(f"{self.name}: a yes/no question needs the model's chat template")
        seen: list = []

        def capture(_ids, scores):
            seen.append(np.array(scores, dtype=np.float64, copy=True))
            return scores

        with self._lock:
            prompt = self._template(messages=messages).prompt
            for _ in self._llm.create_completion(prompt, max_tokens=1, temperature=0.0, stream=True,
                                                 logits_processor=[capture]):
                pass
            yes, no = self._answer_tokens()
        logits = seen[0]
        top = logits.max()
        p_yes, p_no = (np.exp(logits[list(ids)] - top).sum() for ids in (yes, no))
        return float(p_yes / max(p_yes + p_no, 1e-30))

    def _answer_tokens(self) -> tuple[set[int], set[int]]:
        if not hasattr(self, "_yes_no"):
            self._yes_no = tuple({t for w in words for t in self._llm.tokenize(w.encode(), add_bos=False, special=False)[:1]}
                                 for words in (("yes", "Yes", " yes", " Yes", "YES"), ("no", "No", " no", " No", "NO")))
        return self._yes_no

    def close(self) -> None:
        self._llm.close()


def _template_of(llm):
    """The GGUF's own chat template as a formatter (what create_chat_completion uses), or None."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    model = llm._model
    eos, bos = llm.token_eos(), llm.token_bos()
    return Jinja2ChatFormatter(template=template, eos_token=model.token_get_text(eos) if eos != -1 else "",
                               bos_token=model.token_get_text(bos) if bos != -1 else "", stop_token_ids=[eos])


def llama_cpp_logits(llm):
    """The logits after the last token llama.cpp evaluated."""
    import llama_cpp

    return llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)


@lru_cache(maxsize=8)
def _grammar(text: str):
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)
