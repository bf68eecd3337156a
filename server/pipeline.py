"""The models of one server process, loaded once and shared by every session, each behind its own worker."""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from server.config import Config
from server.models import resolve, voice_names
from server.workers import ModelWorker

log = logging.getLogger("warmline.pipeline")


class ModelLoadError(RuntimeError):
    pass


@dataclass
class Pipeline:
    config: Config
    vad: object
    recognizer: object
    analyser: object | None
    chat_model: object
    voice: object
    risk_scorer: object | None = None  # dialogue.safety.RiskScorer, shared by every session's safety policy
    workers: dict[str, ModelWorker] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)
    voices: dict = field(default_factory=dict)  # every voice a session may choose, by name; `voice` is the default's
    default_voice: str = ""
    _clips: dict = field(default_factory=dict)
    faults: Counter = field(default_factory=Counter)  # faults handled mid-turn, by kind (for /metrics)
    scorer_deadline: object | None = field(init=False, default=None)  # bounds the shared scorer's calls

    def __post_init__(self) -> None:
        if self.risk_scorer is not None and self.config.safety_scorer_timeout_s:
            from dialogue.safety import ScorerDeadline

            self.scorer_deadline = ScorerDeadline(self.config.safety_scorer_timeout_s)  # one, as the scorer is one

    @classmethod
    def load(cls, config: Config) -> "Pipeline":
        timings: dict[str, float] = {}

        def timed(stage: str, build):
            t0 = time.monotonic()
            try:
                obj = build()
            except Exception as exc:  # the message names the stage and the model that failed
                raise ModelLoadError(f"could not load the {stage} model: {exc}") from exc
            timings[stage] = round(time.monotonic() - t0, 2)
            log.info("loaded %s in %.1f s", stage, timings[stage])
            return obj

        from asr.vad import SileroVAD
        from asr.whisper import WhisperRecognizer
        from dialogue.backends import build_chat_model
        from tts import build_voice
        from tts.factory import voice_name

        vad = timed("vad", lambda: SileroVAD(resolve(config.vad_model)))
        recognizer = timed("asr", lambda: WhisperRecognizer(resolve(config.asr_model), device=config.device,
                                                            threads=config.threads, language=config.asr_language))
        analyser = None
        if config.analyser:
            try:
                from paralinguistics.analyser import VoiceAnalyser
            except Exception as exc:  # optional stage: the conversation works without it
                log.warning("paralinguistics unavailable (%s); turns go on without voice analysis", exc)
            else:
                model = getattr(recognizer, "encoder", None)  # shared when it is Whisper base's
                analyser = timed("paralinguistics", lambda: VoiceAnalyser(whisper_model=model, device=config.device,
                                                                           models_dir=config.voice_heads))
        remote = {"timeout": config.model_timeout_s} if config.llm_backend == "openai" else {}
        chat_model = timed("dialogue", lambda: build_chat_model(config.llm_backend, config.llm_model, device=config.device,
                                                                endpoint=config.llm_endpoint, threads=config.llm_threads,
                                                                engine=config.llm_engine, slots=config.llm_slots,
                                                                **remote))
        if config.llm_fallback:  # the embedded model answers while a remote endpoint is down
            from dialogue.backends.fallback import FallbackChatModel

            local = timed("dialogue fallback", lambda: build_chat_model("llama", config.llm_fallback,
                                                                        device=config.device, threads=config.llm_threads))
            chat_model = FallbackChatModel(chat_model, local)
        voice = timed("tts", lambda: build_voice(config.voice_backend, voice=config.voice, device=config.device))
        default_voice = voice_name(config.voice_backend, config.voice)
        voices = {default_voice: voice}
        for name in voice_names():  # the catalog's other voices, for sessions that choose one (hibari: ~0.6 s)
            if name not in voices:
                try:
                    voices[name] = timed(f"tts {name}", lambda n=name: build_voice(voice=n, device=config.device))
                except ModelLoadError as exc:  # the default voice still speaks; this one is not offered
                    log.warning("voice %s not offered: %s", name, exc)
        risk_scorer = None
        if (config.safety_scorer or "off") != "off":  # a screen that cannot load stops the start: it is safety
            from dialogue.safety import RiskScorer

            # the turn's reply waits for the screen, and the blend's second encoder is the slow part: it takes the
            # cores as the other models do (two threads: ~125 ms for a turn and its context, against ~210 on one)
            risk_scorer = timed("safety scorer", lambda: RiskScorer.named(
                config.safety_scorer, device=config.device, threads=config.threads, sensitivity=config.safety_sensitivity).warm())
        if config.safety_model_check is not None and not hasattr(chat_model, "yes_probability"):
            raise ModelLoadError(f"--safety-model-check: {getattr(chat_model, 'name', config.llm_backend)} cannot answer a "
                                 "yes/no question from its token probabilities")
        workers = {name: ModelWorker(name) for name in ("vad", "asr", "paralinguistics", "safety", "tts")}
        # A batching engine (llama-server) decodes several replies at once: one worker thread per slot.
        workers["dialogue"] = ModelWorker("dialogue", threads=getattr(chat_model, "concurrency", 1))
        return cls(config, vad, recognizer, analyser, chat_model, voice, risk_scorer, workers, timings, voices=voices,
                   default_voice=default_voice)

    def safety_policy(self) -> "object":
        from dialogue.safety import ModelRiskCheck, SafetyPolicy

        check = self.config.safety_model_check
        return SafetyPolicy(locale=self.config.locale, scorer=self.risk_scorer, faults=self.faults,
                            scorer_deadline=self.scorer_deadline,
                            model_check=ModelRiskCheck(self.chat_model, threshold=float(check)) if check is not None else None)

    def voice_named(self, name: str | None) -> object:
        """A voice by the name a session chose; the default voice for None or a name not offered."""
        return self.voices.get(self._voice_key(name), self.voice)

    def _voice_key(self, name: str | None) -> str:
        return name if name in self.voices else self.default_voice

    def warm_backchannels(self) -> None:
        """Synthesize every backchannel phrase now, in every voice, so the first one costs nothing mid-conversation."""
        from server.backchannel import PHRASES

        for name in self.voices or [None]:
            for tone, phrases in PHRASES.items():
                for phrase in phrases:
                    self._render(phrase, tone, name)

    def warm_openers(self, *, openers: bool = True) -> None:
        """Render every reply opener (`dialogue/openers.py`) and the first clause of each fixed crisis reply once,
        in every voice, so a reply's first words cost no synthesis."""
        from dialogue.engine import fixed_openings
        from dialogue.openers import all_openers

        from server.response import APOLOGY

        for name in self.voices or [None]:
            t0 = time.monotonic()
            for phrase, tone in {*(all_openers() if openers else []), *fixed_openings(self.safety_policy()), APOLOGY}:
                self._render(phrase, tone, name)
            self.load_seconds[f"openers {name or 'voice'}"] = round(time.monotonic() - t0, 2)

    def _render(self, phrase: str, tone: str, voice: str | None = None) -> tuple[object, int]:
        """Synthesize a phrase whole and keep it for the process's life, keyed by voice, phrase and tone
        (voice None: the default voice)."""
        import numpy as np

        speaker = self.voice_named(voice)
        chunks = list(speaker.synthesize(phrase, emotion=tone))
        key = (self._voice_key(voice), phrase, tone)
        self._clips[key] = (np.concatenate([c.samples for c in chunks]), speaker.sample_rate)
        return self._clips[key]

    def rendered(self, phrase: str, tone: str, voice: str | None = None) -> "object | None":
        """A phrase's audio in the voice's own rate, if it was rendered ahead of time."""
        clip = self._clips.get((self._voice_key(voice), phrase, tone))
        return clip[0] if clip is not None and clip[1] == self.voice_named(voice).sample_rate else None

    async def backchannel_clip(self, phrase: str, tone: str, voice: str | None = None) -> tuple[object, int] | None:
        """A short acknowledgement in the chosen voice, synthesized once per process and kept."""
        key = (self._voice_key(voice), phrase, tone)
        if key not in self._clips:
            try:
                return await self.workers["tts"].run(self._render, phrase, tone, voice)
            except Exception as exc:
                log.warning("could not synthesize backchannel %r: %s", phrase, exc)
                return None
        return self._clips[key]

    def close(self) -> None:
        for worker in self.workers.values():
            worker.shutdown()
        close = getattr(self.chat_model, "close", None)
        if close:
            close()
