"""Chat-model backends behind one streaming interface (dialogue.base.ChatModel)."""
from __future__ import annotations

BACKENDS = ("llama", "openai", "transformers")
ENGINES = ("embedded", "server")  # where a llama backend's GGUF runs: this process, or a supervised llama-server
DEFAULT_MODEL = "qwen2.5-1.5b"  # the CPU default: see dialogue/README.md and benchmarks/RESULTS.md


def build_chat_model(backend: str = "llama", model: str | None = None, *, device: str = "auto",
                     endpoint: str | None = None, api_key: str | None = None, threads: int = 2,
                     engine: str = "embedded", slots: int = 4, **kwargs):
    """llama: a catalog name (default qwen2.5-1.5b) or a GGUF path, run in this process (engine="embedded")
    or by a supervised llama-server decoding `slots` conversations at once (engine="server"); openai: the
    served model's name plus endpoint=; transformers: a model folder or hub id."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {ENGINES}")
    if engine == "server" and backend != "llama":
        raise ValueError(f"engine='server' runs a GGUF in llama-server: it needs backend='llama', not {backend!r}")
    if backend == "llama":
        from server.models import resolve

        if engine == "server":
            from .llama_http import managed_chat_model
            return managed_chat_model(resolve(model or DEFAULT_MODEL), slots=slots, threads=threads, device=device,
                                      **kwargs)
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
