"""A judge model scoring replies on EchoMind's conversation-level criteria (benchmarks.scoring), behind
any chat backend of dialogue.backends: an OpenAI-compatible endpoint, or the embedded GGUF model."""
from __future__ import annotations

from benchmarks.scoring import JUDGE_GRAMMAR, judge_messages, parse_judge


def add_judge_arguments(p) -> None:
    p.add_argument("--judge-endpoint", help="base URL of an OpenAI-compatible chat endpoint for the judge "
                   "(e.g. http://localhost:8000/v1); default: the embedded model, in this process")
    p.add_argument("--judge-model", help="the judge's model: the endpoint's model name, or a catalog name / GGUF "
                   "path for the embedded judge (default qwen2.5-1.5b, the largest embedded model)")
    p.add_argument("--judge-api-key", help="bearer token for the judge endpoint (default $OPENAI_API_KEY)")
    p.add_argument("--no-judge", action="store_true", help="skip the judge scores")


class Judge:
    """Scores one reply at a time. Deterministic (temperature 0); a grammar forces the JSON shape where the
    backend honours one, so a small model cannot wander off the format."""

    def __init__(self, chat_model, *, max_tokens: int = 60) -> None:
        self.model = chat_model
        self.name = getattr(chat_model, "name", type(chat_model).__name__)
        self.max_tokens = max_tokens

    @classmethod
    def from_args(cls, args) -> "Judge":
        from dialogue.backends import build_chat_model

        if args.judge_endpoint:
            return cls(build_chat_model("openai", args.judge_model or "default", endpoint=args.judge_endpoint,
                                        api_key=args.judge_api_key))
        return cls(build_chat_model("llama", args.judge_model or "qwen2.5-1.5b", threads=2))

    @property
    def embedded(self) -> bool:
        return self.name.startswith("llama:")

    def raw(self, user_text: str, vocal_cue: str, reply: str) -> str:
        grammar = JUDGE_GRAMMAR if getattr(self.model, "supports_grammar", False) else None
        return "".join(self.model.stream(judge_messages(user_text, vocal_cue, reply), max_tokens=self.max_tokens,
                                         temperature=0.0, grammar=grammar))

    def score(self, user_text: str, vocal_cue: str, reply: str) -> dict:
        text = self.raw(user_text, vocal_cue, reply)
        return {"scores": parse_judge(text), "raw": text}

    def close(self) -> None:
        close = getattr(self.model, "close", None)
        if close:
            close()
