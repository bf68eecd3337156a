"""Server configuration: defaults are the embedded (registry) model set on the CPU."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

from dialogue.safety.scorer import DEFAULT_SCORER


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 8765
    device: str = "auto"  # auto | cpu | cuda, for every model
    threads: int = 2  # per model; the models take turns on the cores rather than all at once
    api_key: str | None = None  # when set, clients must send it as a Bearer token

    vad_model: str = "silero-vad"
    vad_threshold: float = 0.5
    end_silence_ms: int = 700  # silence that ends a turn when the words give no hint
    min_speech_ms: int = 128  # speech this long starts a turn, or pauses the agent when it talks over it
    pause_ms: int = 160  # silence that counts as a pause; the turn ends later, see endpointing.py
    complete_silence_ms: int = 350  # silence that ends a turn whose words sound finished
    incomplete_silence_ms: int = 1600  # ... whose words trail off ("and", "because", "um")
    max_backchannel_ms: int = 900  # overlapping speech longer than this is an interruption
    playout_lead_ms: int = 300  # how far reply audio is sent ahead of playback
    backchannels: str = "auto"  # agent's "mm-hm" during long user turns: auto (off for G.711) | on | off
    openers: bool = True  # begin replies with a short acknowledgement rendered ahead of time (dialogue/openers.py)
    read_ahead: bool = True  # transcribe a turn while it is spoken and read its words into the model's cache

    asr_model: str = "whisper-base"  # catalog name, CTranslate2 folder, or faster-whisper size name
    asr_language: str | None = "en"

    analyser: bool = True  # paralinguistics on each user turn, where the package is present
    voice_heads: str | None = None  # folder of paralinguistic heads (python -m paralinguistics.train --out); None = shipped

    llm_backend: str = "llama"  # llama | openai | transformers
    llm_model: str = "qwen2.5-1.5b"  # catalog name, GGUF path, HF id, or the endpoint's model name
    llm_endpoint: str | None = None  # for llm_backend=openai
    llm_fallback: str | None = None  # an embedded GGUF (catalog name or path) that answers while the endpoint is down
    dialogue_mode: str = "tags"  # tags | free
    llm_threads: int = 2  # llama.cpp threads; under heavy load from other work, 1 can decode faster (they spin-wait)
    llm_engine: str = "embedded"  # llm_backend=llama: embedded (in this process) | server (a supervised llama-server)
    llm_slots: int = 4  # llm_engine=server: conversations decoded at once, each slot keeping its prompt cached
    locale: str = "en-US"  # crisis resources
    safety_scorer: str = DEFAULT_SCORER  # the crisis screen's learned member: catalog name, heads .json, sentence-transformers folder, or off
    safety_sensitivity: str = "balanced"  # quiet | balanced | sensitive: the scorer's share of ordinary call turns escalated
    safety_scorer_timeout_s: float = 10.0  # a scorer call that runs this long is given up: the patterns screen alone
    safety_model_check: float | None = None  # ask the dialogue model where the screen is unsure; P(yes) that escalates

    voice_backend: str = "piper"  # piper | espeak | coqui
    voice: str | None = None  # voice file or name; None = the backend's default

    # telephony (server/telephony/, README "Phone lines"): Twilio Media Streams at /telephony/twilio, AudioSocket on its port
    audiosocket_port: int | None = None  # listen for Asterisk AudioSocket calls here (None: off; 0: a free port)
    audiosocket_host: str | None = None  # None = host
    public_url: str | None = None  # https://host[:port] as Twilio reaches this server (signatures, the TwiML's stream URL)
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None  # verifies X-Twilio-Signature; with the SID and a number, transfers calls
    twilio_api_base: str = "https://api.twilio.com"
    handover_number: str | None = None  # Twilio calls are transferred here (<Dial>) on escalation or DTMF 0
    audiosocket_handover: bool = False  # AudioSocket calls end after the handover line, so the dialplan goes on to a human
    handover_webhook: str | None = None  # POST JSON here on every escalation and request for a human
    handover_line: str | None = None  # what the agent says before the transfer (None: server/telephony/handover.py's)
    ami: str | None = None  # host:port of an Asterisk manager to send a UserEvent to on handover
    ami_username: str | None = None
    ami_secret: str | None = None
    call_records: str | None = None  # folder for per-call records (None: none are kept)
    call_recording: bool = False  # with call_records: also keep the caller's audio

    # access (server/access.py): on any interface but loopback the server will not start without api_key
    allowed_origins: str | None = None  # comma-separated browser origins besides the server's own; "*" = any
    public_page: bool = False  # the bundled page mints its own short-lived tokens (a public line)
    token_seconds: int = 600  # lifetime of a minted token (it only has to open the WebSocket)

    # limits (README "Running it for others"); 0 turns a time limit off
    max_sessions: int = 16  # more get a `server_busy` error and close code 1013
    max_message_bytes: int = 4 << 20  # a larger WebSocket message closes the connection (1009)
    max_audio_bytes_per_append: int = 1 << 20
    audio_speed: float = 2.0  # a client may send audio at most this much faster than real time ...
    audio_burst_s: float = 90.0  # ... once this much audio beyond real time is spent (a whole clip sent at once)
    idle_timeout_s: float = 300.0  # a connection that sends nothing this long is closed
    max_session_s: float = 4 * 3600.0  # a conversation's longest life
    send_timeout_s: float = 20.0  # a client that reads nothing this long while we send is cut off
    max_history_turns: int = 400  # turns remembered per conversation (the model reads the last 16 messages)
    model_timeout_s: float = 30.0  # a model call that runs this long (a stream: gives nothing this long) is given up
    drain_s: float = 20.0  # on shutdown, replies in progress get this long to finish

    # privacy: nothing the caller says or sounds like is written anywhere unless asked for
    log_content: bool = False  # put transcripts in the log (debugging only)
    client_dir: str | None = None  # None = the client/ folder of this checkout or install
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        """WARMLINE_<FIELD> environment variables, then explicit overrides (e.g. parsed CLI flags)."""
        cfg = cls()
        for f in fields(cls):
            raw = os.environ.get(f"WARMLINE_{f.name.upper()}")
            if raw is not None and f.name != "extra":
                setattr(cfg, f.name, _coerce(raw, getattr(cfg, f.name)))
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        return cfg


def _coerce(raw: str, current):
    if isinstance(current, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    return raw or None
