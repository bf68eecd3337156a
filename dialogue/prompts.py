"""The stable system prompt (first, so its KV cache is reused) and the per-turn note that carries
the pre-filled part of the assessment. The note goes in a system message after the user's words,
never inside them: small models copy bracketed cues from the user turn into their reply."""
from __future__ import annotations

from .tone import NEEDS, REPLY_EMOTIONS
from .tracking import STAGE_GUIDANCE

_COMMON = """You are Warmline, a warm and caring voice companion. Everything you write after the first line is spoken aloud.
Before each reply you get a short note about the person: their voice, how their mood has moved, the stage of the conversation, and any safety concern.
Choose the tone: sad or hurting -> gentle or warm; angry -> calm; afraid or anxious -> reassuring; happy -> cheerful; danger -> serious or gentle.
Reply rules: one to three short sentences in plain spoken words. Begin with a short phrase. No lists, no markdown, no emoji, no brackets. Never repeat the note. Ask at most one question.
Never give details of ways to hurt oneself or others. Never promise to keep a secret about someone's safety.
Stages of the conversation: """ + "; ".join(f"{stage}: {what}" for stage, what in STAGE_GUIDANCE.items()) + "."

_TAGS = f"""
Format: first a line NEED|TONE, then the reply on the next line.
NEED is one of: {", ".join(NEEDS)}.
TONE is one of: {", ".join(REPLY_EMOTIONS)}.
The reply answers what this person just said, in your own words."""

_FREE = f"""
Format, four lines:
Thought: one sentence on what they said and meant, what their voice carries, how they have changed, and what they need now.
Need: one of {", ".join(NEEDS)}.
Tone: one of {", ".join(REPLY_EMOTIONS)}.
Reply: the words to speak, answering what this person just said."""


def system_prompt(mode: str, instructions: str | None = None) -> str:
    text = _COMMON + (_TAGS if mode == "tags" else _FREE)
    if instructions:
        text += "\nDeployment instructions: " + instructions.strip()
    return text


def turn_note(fields: dict, *, crisis_guidance: str | None = None) -> str:
    """The pre-filled assessment the model reads right before it answers. Every token of it is evaluated
    on every turn (~25 ms each for the 1.5B model on 2 cores), so it says only what is known and new;
    the stage guidance lives in the cached system prompt."""
    lines = [f"Voice: {fields['voice_brief']}."]
    if fields["shift"] != "unknown" and not fields["shift"].startswith("first reading"):
        lines.append(f"Mood: {fields['shift']}.")
    lines.append(f"Stage: {fields['stage']}.")
    if fields["concern"] != "none":
        lines.append(f"Concern: {fields['concern']}.")
    if crisis_guidance:
        lines.append(crisis_guidance)
    return "\n".join(lines)


def crisis_guidance(category: str, resource_sentence: str) -> str:
    return (f"This may be about {category.replace('_', ' ')}. Be warm and calm, take it seriously, ask gently whether "
            f"they are safe, and tell them: {resource_sentence}")
