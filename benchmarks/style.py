"""Speaking-style accuracy on controlled changes of real recordings.

Nobody labels "this turn was 40% faster than the speaker's usual", but it can be made: take a speaker's
real recordings, build the running baseline the server keeps from a few of them, then play another of
their recordings changed in one known way and check what the analyser says against that baseline.

    change                how it is made                          expected
    unchanged             the clip itself                         every measure "usual", not whispering
    faster / slower       sox tempo 1.5 / 0.67 (pitch kept)       rate "faster" / "slower"
    louder / quieter      gain +10 dB / -10 dB                    loudness "louder" / "quieter"
    higher / lower        sox pitch +400 / -400 cents             pitch "higher" / "lower"
    whispered             the clip's spectral envelope on noise   whispering

The whispered version keeps the words' spectral envelope (cepstrally smoothed) and drops the voice's
harmonics by giving every frame random phase: what whispering does to speech, made from real speech.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BASELINE_TURNS = 3
CHANGES = {  # name: (measure in the relative picture or "whispering", expected word)
    "unchanged": (None, "usual"),
    "faster": ("rate_syl_s", "faster"), "slower": ("rate_syl_s", "slower"),
    "louder": ("loudness_dbfs", "louder"), "quieter": ("loudness_dbfs", "quieter"),
    "higher": ("pitch_st", "higher"), "lower": ("pitch_st", "lower"),
    "whispered": ("whispering", True),
}
SOX_EFFECTS = {"faster": ["tempo", "-s", "1.5"], "slower": ["tempo", "-s", "0.67"],
               "higher": ["pitch", "400"], "lower": ["pitch", "-400"]}
GAINS_DB = {"louder": 10.0, "quieter": -10.0}


@dataclass
class Speaker:
    name: str
    clips: list[np.ndarray]  # 16 kHz float32, real recordings of one person
    texts: list[str]  # their words (a reference, or what the recogniser heard): the rate is counted from them


def whispered(audio: np.ndarray, *, n_fft: int = 512, hop: int = 128, keep_quefrency: int = 30,
              seed: int = 0) -> np.ndarray:
    """The clip's spectral envelope over noise: the words' formants stay, the voicing goes."""
    rng = np.random.default_rng(seed)
    window = np.hanning(n_fft).astype(np.float32)
    pad = np.concatenate([np.zeros(n_fft, np.float32), audio.astype(np.float32), np.zeros(n_fft, np.float32)])
    out = np.zeros_like(pad)
    norm = np.zeros_like(pad)
    for start in range(0, len(pad) - n_fft, hop):
        frame = pad[start:start + n_fft] * window
        log_mag = np.log(np.abs(np.fft.rfft(frame)) + 1e-6)
        cep = np.fft.irfft(log_mag)
        cep[keep_quefrency:-keep_quefrency] = 0.0  # keep the envelope, drop the harmonics
        envelope = np.exp(np.fft.rfft(cep).real)
        phase = np.exp(2j * np.pi * rng.random(len(envelope)))
        out[start:start + n_fft] += np.fft.irfft(envelope * phase, n_fft).astype(np.float32) * window
        norm[start:start + n_fft] += window ** 2
    out = out / np.maximum(norm, 1e-3)
    out = out[n_fft:n_fft + len(audio)]
    peak_in, peak_out = np.max(np.abs(audio)) + 1e-9, np.max(np.abs(out)) + 1e-9
    return (out * (0.5 * peak_in / peak_out)).astype(np.float32)


def changed(audio: np.ndarray, change: str, workdir: Path) -> np.ndarray:
    if change == "unchanged":
        return audio
    if change in GAINS_DB:
        return np.clip(audio * 10 ** (GAINS_DB[change] / 20), -1.0, 1.0).astype(np.float32)
    if change == "whispered":
        return whispered(audio)
    return _sox(audio, SOX_EFFECTS[change], workdir)


def _sox(audio: np.ndarray, effect: list[str], workdir: Path) -> np.ndarray:
    import soundfile as sf

    src, dst = workdir / "in.wav", workdir / "out.wav"
    sf.write(src, audio, 16000, subtype="FLOAT")
    subprocess.run(["sox", str(src), str(dst), *effect], check=True, capture_output=True, timeout=60)
    out, _ = sf.read(dst, dtype="float32")
    return out


def verdict(change: str, style_dict: dict) -> tuple[bool, str]:
    """Whether the analyser's style for a changed clip says what the change was (and what it said)."""
    measure, expected = CHANGES[change]
    rel = style_dict.get("relative") or {}
    if change == "unchanged":
        words = {k: v["vs_usual"] for k, v in rel.items() if isinstance(v, dict) and k in
                 ("rate_syl_s", "loudness_dbfs", "pitch_st")}
        said = ",".join(f"{k}:{w}" for k, w in words.items() if w != "usual") or "usual"
        return said == "usual" and not style_dict.get("whispering"), said
    if measure == "whispering":
        return bool(style_dict.get("whispering")), f"whispering={bool(style_dict.get('whispering'))}"
    said = (rel.get(measure) or {}).get("vs_usual", "no baseline")
    return said == expected, said


def evaluate(speakers: list[Speaker], *, progress=None) -> dict:
    """Every test clip of every speaker, in every change, against a baseline of that speaker's other clips."""
    from paralinguistics.analyser import describe_style
    from paralinguistics.baseline import SpeakerBaseline
    from paralinguistics.features import signal_features

    def style_of(audio: np.ndarray, text: str, baseline):  # what the server's analyser reports, minus the heads
        return describe_style(signal_features(audio)[0], baseline, text)

    if shutil.which("sox") is None:
        return {"skipped": "sox is not installed (Debian package sox)"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="warmline-style-") as tmp:
        for spk in speakers:
            for i, clip in enumerate(spk.clips):
                others = [j for j in range(len(spk.clips)) if j != i][:BASELINE_TURNS + 2]
                for change in CHANGES:
                    baseline = SpeakerBaseline()
                    for j in others:
                        style_of(spk.clips[j], spk.texts[j], baseline)
                    style = style_of(changed(clip, change, Path(tmp)), spk.texts[i], baseline)
                    ok, said = verdict(change, style)
                    rows.append({"speaker": spk.name, "clip": i, "change": change, "correct": ok, "said": said})
                if progress:
                    progress.update(1)
    by_change = {c: round(float(np.mean([r["correct"] for r in rows if r["change"] == c])), 3)
                 for c in CHANGES if any(r["change"] == c for r in rows)}
    return {"accuracy_by_change": by_change, "accuracy": round(float(np.mean([r["correct"] for r in rows])), 3),
            "speakers": [s.name for s in speakers], "clips": sum(len(s.clips) for s in speakers), "rows": rows}


def real_speakers(limit_per_speaker: int = 8) -> list[Speaker]:
    """Single-speaker real recordings from Debian packages: the LibriVox reader (pocketsphinx-testdata)
    and the Asterisk prompt voice (asterisk-core-sounds-en-wav, 8 kHz)."""
    from benchmarks.asr import librivox

    speakers = []
    lv = librivox()[:limit_per_speaker]
    if len(lv) > BASELINE_TURNS:
        speakers.append(Speaker("librivox reader", [c.audio for c in lv], [c.text for c in lv]))
    prompts = _asterisk_sentences()[:limit_per_speaker]
    if len(prompts) > BASELINE_TURNS:
        hear = transcriber()
        speakers.append(Speaker("asterisk prompt voice", prompts, [hear(audio) for audio in prompts]))
    return speakers


def transcriber():
    """The server's recogniser (Whisper base, trimmed window): the words of clips that come without any."""
    from asr.whisper import WhisperRecognizer
    from server.models import resolve

    recognizer = WhisperRecognizer(resolve("whisper-base"))
    return lambda audio: recognizer.transcribe(audio).text


def _asterisk_sentences(folder: str = "/usr/share/asterisk/sounds/en", min_s: float = 2.0) -> list[np.ndarray]:
    """The longer Asterisk prompts (whole sentences), at 16 kHz: rate and pitch need more than a word."""
    import soundfile as sf

    from benchmarks.caller import load_clip

    return [load_clip(path, 16000) for path in sorted(Path(folder).glob("*.wav")) if sf.info(path).duration >= min_s]
