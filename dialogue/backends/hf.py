"""transformers in-process (GPU when present): any causal LM folder or hub id with a chat template."""
from __future__ import annotations

import threading
from typing import Iterator


class TransformersChatModel:
    supports_grammar = False

    def __init__(self, model: str, *, device: str = "auto", dtype: str = "auto", threads: int | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
        if device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device='cuda' but torch sees no CUDA device")
        self.device = "cuda" if device != "cpu" and torch.cuda.is_available() else "cpu"
        if threads and self.device == "cpu":
            torch.set_num_threads(threads)
        self.name = f"transformers:{model}"
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        torch_dtype = (torch.float16 if self.device == "cuda" else torch.float32) if dtype == "auto" else getattr(torch, dtype)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype).to(self.device).eval()
        self.generated_tokens = 0  # tokens produced by the last stream() call
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def stream(self, messages: list[dict], *, max_tokens: int = 200, temperature: float = 0.7,
               stop: list[str] | None = None, cancel: threading.Event | None = None,
               grammar: str | None = None) -> Iterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        halt = threading.Event()
        owner = self

        class _Halt(StoppingCriteria):  # checked after every token: cancellation within one token
            def __call__(self, input_ids, scores, **kwargs):
                owner.generated_tokens += 1
                return halt.is_set() or (cancel is not None and cancel.is_set())

        with self._lock:
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                     return_dict=True)
            ids = {k: v.to(self.device) for k, v in ids.items()}
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
            self.generated_tokens, self._error = 0, None
            worker = threading.Thread(target=self._generate, daemon=True, kwargs=dict(
                **ids, max_new_tokens=max_tokens, streamer=streamer,
                stopping_criteria=StoppingCriteriaList([_Halt()]),
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id, **sampling))
            worker.start()
            held = ""
            try:
                for text in streamer:
                    if cancel is not None and cancel.is_set():
                        break
                    held += text
                    cut = _first_stop(held, stop or [])
                    if cut is not None:
                        if held[:cut]:
                            yield held[:cut]
                        break
                    safe = len(held) - max((len(s) for s in stop or []), default=1) + 1
                    if safe > 0:
                        yield held[:safe]
                        held = held[safe:]
                else:
                    if held:
                        yield held
            finally:
                halt.set()  # generate() sees it at its next token and returns; the streamer queue never blocks it
                worker.join()
            if self._error is not None:
                raise RuntimeError(f"{self.name}: generation failed") from self._error

    def _generate(self, **kwargs) -> None:
        import torch

        try:
            with torch.inference_mode():
                self.model.generate(**kwargs)
        except BaseException as exc:  # handed to the consuming thread; the streamer must still end
            self._error = exc
            kwargs["streamer"].end()

    def yes_probability(self, messages: list[dict]) -> float:
        """P(yes) / (P(yes) + P(no)) for the first answer token: one forward pass over the prompt."""
        import torch

        with self._lock, torch.inference_mode():
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                     return_dict=True)
            logits = self.model(**{k: v.to(self.device) for k, v in ids.items()}).logits[0, -1].float()
        probs = torch.softmax(logits, -1)
        yes, no = (sorted({self.tokenizer.encode(w, add_special_tokens=False)[0] for w in words})
                   for words in (("yes", "Yes", " yes", " Yes"), ("no", "No", " no", " No")))
        p_yes, p_no = float(probs[yes].sum()), float(probs[no].sum())
        return p_yes / max(p_yes + p_no, 1e-30)

    def warm(self, messages: list[dict]) -> None:
        for _ in self.stream(messages, max_tokens=1, temperature=0.0):
            pass


def _first_stop(text: str, stops: list[str]) -> int | None:
    hits = [i for s in stops if s and (i := text.find(s)) >= 0]
    return min(hits) if hits else None
