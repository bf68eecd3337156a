"""Chat-model backends behind one streaming interface (dialogue.base.ChatModel)."""
from __future__ import annotations

BACKENDS = ("llama", "openai", "transformers")
DEFAULT_MODEL = "qwen2.5-1.5b"  # the CPU default: see dialogue/README.md and benchmarks/RESULTS.md


def build_chat_model(backend: str = "llama", model: str | None = None, *, device: str = "auto",
                     endpoint: str | None = None, api_key: str | None = None, threads: int = 2, **kwargs):
    """llama: a catalog name (default qwen2.5-1.5b) or a GGUF path; openai: the served model's name
    plus endpoint=; transformers: a model folder or hub id."""
    if backend == "llama":
        from server.models import resolve

        from .llama import LlamaChatModel
        return LlamaChatModel(resolve(model or DEFAULT_MODEL), device=device, threads=threads, **kwargs)
    if backend == "openai":
        from .openai_compat import OpenAIChatModel
        return OpenAIChatModel(model or "default", endpoint=endpoint, api_key=api_key, **kwargs)
    if backend == "transformers":
        if not model:
            raise ValueError("the transformers backend needs model= (a folder or hub id)")
        from .hf import TransformersChatModel
        return TransformersChatModel(model, device=device, threads=threads, **kwargs)
    raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
