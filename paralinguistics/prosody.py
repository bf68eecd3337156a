"""Frame-level DSP straight from the signal: energy, pitch, voicing, syllable rate, tremor.

Plain numpy, vectorised over frames (a 5 s turn takes a few ms). Pitch is a normalised
autocorrelation tracker that takes the shortest lag close to the best peak, which avoids most
octave-down errors; it is a measurement for style and features, not a reference pitch tracker.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

SR = 16000
HOP = 160  # 10 ms
WIN = 640  # 40 ms: two periods of 50 Hz
F0_MIN, F0_MAX = 60.0, 500.0
VOICING = 0.5  # NACF peak above which a frame is voiced


def frames(x: np.ndarray, win: int = WIN, hop: int = HOP) -> np.ndarray:
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    n = 1 + (len(x) - win) // hop
    return np.lib.stride_tricks.as_strided(x, (n, win), (x.strides[0] * hop, x.strides[0]), writeable=False)


def _semitones(f0: np.ndarray) -> np.ndarray:
    return 12 * np.log2(f0 / 100.0)


@dataclass
class Track:
    energy_db: np.ndarray  # per 10 ms frame, dBFS
    f0: np.ndarray  # Hz, 0 where unvoiced
    nacf: np.ndarray  # voicing strength 0..1
    speech: np.ndarray  # bool: frame carries sound well above the turn's floor
    hf_ratio: np.ndarray  # energy share above 2.5 kHz (whisper and fricatives are high)


def track(x: np.ndarray) -> Track:
    fr = frames(np.asarray(x, np.float32)).astype(np.float64)
    fr = fr - fr.mean(axis=1, keepdims=True)
    energy = np.mean(fr ** 2, axis=1)
    energy_db = 10 * np.log10(energy + 1e-10)
    n_fft = 1024  # >= WIN + longest lag, so the autocorrelation does not wrap
    win = fr * np.hanning(WIN)
    spec = np.fft.rfft(win, n_fft)
    power = np.abs(spec) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / SR)
    hf_ratio = power[:, freqs >= 2500].sum(1) / (power.sum(1) + 1e-12)
    # autocorrelation of the unwindowed frame, normalised by the energies of the overlapping parts
    ac = np.fft.irfft(np.abs(np.fft.rfft(fr, n_fft)) ** 2, n_fft)[:, :WIN]
    cs = np.concatenate([np.zeros((len(fr), 1)), np.cumsum(fr ** 2, axis=1)], axis=1)
    lo, hi = int(SR / F0_MAX), int(SR / F0_MIN)
    lags = np.arange(lo, hi + 1)
    e1 = cs[:, WIN - lags]  # energy of x[0:W-tau]
    e2 = cs[:, WIN:WIN + 1] - cs[:, lags]  # energy of x[tau:W]
    nacf = ac[:, lags] / np.sqrt(e1 * e2 + 1e-12)
    best = nacf.max(axis=1)
    # shortest lag whose peak is within 10% of the best one
    ok = nacf >= 0.9 * best[:, None]
    idx = np.argmax(ok, axis=1)
    # climb to the local maximum from there
    for _ in range(8):
        nxt = np.minimum(idx + 1, len(lags) - 1)
        up = nacf[np.arange(len(idx)), nxt] > nacf[np.arange(len(idx)), idx]
        if not up.any():
            break
        idx = np.where(up, nxt, idx)
    rows = np.arange(len(idx))
    a = nacf[rows, np.maximum(idx - 1, 0)]
    b = nacf[rows, idx]
    c = nacf[rows, np.minimum(idx + 1, len(lags) - 1)]
    denom = a - 2 * b + c
    shift = np.divide(0.5 * (a - c), denom, out=np.zeros_like(denom), where=np.abs(denom) > 1e-9).clip(-1, 1)
    lag = lags[idx] + shift
    floor = np.percentile(energy_db, 10)
    peak = np.percentile(energy_db, 97)
    speech = (energy_db > max(floor + 12.0, peak - 35.0)) & (energy_db > -65)
    voiced = (b > VOICING) & speech
    f0 = np.where(voiced, SR / lag, 0.0)
    f0 = _median3(f0)
    return Track(energy_db=energy_db, f0=f0, nacf=np.clip(b, 0, 1), speech=speech, hf_ratio=hf_ratio)


def _median3(f0: np.ndarray) -> np.ndarray:
    """Median over 3 frames among voiced frames (removes single-frame octave jumps)."""
    if len(f0) < 3:
        return f0
    s = np.stack([np.roll(f0, 1), f0, np.roll(f0, -1)])
    s[0, 0] = f0[0]
    s[2, -1] = f0[-1]
    med = np.median(s, axis=0)
    return np.where(f0 > 0, np.where(med > 0, med, f0), 0.0)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def syllable_peaks(t: Track, dip_db: float = 1.5, voiced_only: bool = True) -> int:
    """Count syllable nuclei: energy peaks inside voiced (or, for whisper, sounding) stretches, each >= `dip_db`
    above the dips around it. On read speech here it finds 90-100% of the dictionary syllables."""
    env = np.convolve(t.energy_db, np.ones(3) / 3, mode="same")
    count = 0
    for s, e in _runs(t.f0 > 0 if voiced_only else t.speech):
        if e - s < 3:
            continue
        found, valley, peak = 0, env[s], None
        for v in env[s:e]:
            if peak is None:
                valley = min(valley, v)
                if v - valley >= dip_db:
                    peak = v
            elif v > peak:
                peak = v
            elif peak - v >= dip_db:
                found, valley, peak = found + 1, v, None
        found += peak is not None  # the stretch's end closes its last nucleus
        count += max(found, 1)  # a voiced stretch holds at least one
    return count


@dataclass
class Style:
    """Speaking style of one turn, measured from the signal (absolute units)."""
    speech_s: float  # seconds with sound above the turn's floor
    rate_syl_s: float  # syllable nuclei per second of speech
    loudness_dbfs: float  # median level of speech frames
    pitch_hz: float  # median F0 of voiced frames (0 when none)
    pitch_range_st: float  # 10th-90th percentile span of F0, semitones
    voiced_ratio: float  # voiced share of speech frames (low: whispered or unvoiced)
    hf_ratio: float  # energy share above 2.5 kHz in speech frames
    tremor_st: float  # 3-12 Hz wobble of F0 in long voiced stretches, semitones rms
    jitter: float  # mean relative period change between neighbouring voiced frames
    steady_voiced_ratio: float = 0.0  # share of speech frames in steady-pitch voiced runs (whisper: ~0)

    def to_dict(self) -> dict:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def style(t: Track) -> Style:
    sp = t.speech
    n_speech = int(sp.sum())
    speech_s = n_speech * HOP / SR
    voiced = t.f0 > 0
    f0v = t.f0[voiced]
    if len(f0v):
        st = _semitones(f0v)
        pitch = float(np.median(f0v))
        prange = float(np.percentile(st, 90) - np.percentile(st, 10))
    else:
        pitch, prange = 0.0, 0.0
    voiced_ratio = float(voiced.sum() / max(n_speech, 1))
    rate = syllable_peaks(t, voiced_only=voiced_ratio > 0.25) / speech_s if speech_s > 0.1 else 0.0
    return Style(
        speech_s=speech_s,
        rate_syl_s=rate,
        loudness_dbfs=float(np.median(t.energy_db[sp])) if n_speech else -100.0,
        pitch_hz=pitch,
        pitch_range_st=prange,
        voiced_ratio=voiced_ratio,
        hf_ratio=float(np.median(t.hf_ratio[sp])) if n_speech else 0.0,
        tremor_st=_tremor(t.f0),
        jitter=_jitter(t.f0),
        steady_voiced_ratio=float(_steady(t.f0).sum() / max(n_speech, 1)),
    )


def _steady(f0: np.ndarray, max_jump_st: float = 1.0, min_frames: int = 5) -> np.ndarray:
    """Voiced frames inside runs of >= min_frames whose pitch moves less than max_jump_st per frame.
    A voice holds its pitch from frame to frame; the autocorrelation peaks that band-limited noise
    (a whisper over the telephone) throws up jump about, so they fall out here."""
    steady = np.zeros(len(f0), bool)
    if len(f0) < 2:
        return steady
    st = np.where(f0 > 0, 12 * np.log2(np.maximum(f0, 1e-6) / 100.0), np.nan)
    link = np.abs(np.diff(st)) < max_jump_st  # False where either side is unvoiced (nan)
    for start, end in _runs(link):  # a run of k links joins k + 1 frames
        if end - start + 1 >= min_frames:
            steady[start:end + 1] = True
    return steady


def text_syllables(text: str) -> int:
    """Syllables in a transcript, by vowel groups (a silent final e or -ed dropped; digits as spoken).
    Counting the recogniser's words does not depend on how fast they were said, which energy
    peaks do: stretched vowels break into extra peaks, so slowed speech reads too fast."""
    count = 0
    for word in re.findall(r"[a-z']+|\d", text.lower()):
        if word.isdigit():
            count += 2 if word in "07" else 1  # ze-ro, se-ven
            continue
        groups = len(re.findall(r"[aeiouy]+", word))
        silent = (word.endswith("e") and not word.endswith(("le", "ee", "ye"))) or (
            word.endswith("ed") and not word.endswith(("ted", "ded")))
        count += max(groups - (silent and groups > 1), 1)
    return count


def _tremor(f0: np.ndarray) -> float:
    """RMS of F0 (semitones) minus its 150 ms moving average, over voiced stretches of >= 250 ms."""
    parts = []
    for s, e in _runs(f0 > 0):
        if e - s < 25:
            continue
        st = _semitones(f0[s:e])
        smooth = np.convolve(st, np.ones(15) / 15, mode="valid")
        resid = st[7:7 + len(smooth)] - smooth
        # drop octave errors, they are not tremor
        parts.append(resid[np.abs(resid) < 3])
    if not parts:
        return 0.0
    r = np.concatenate(parts)
    return float(np.sqrt(np.mean(r ** 2))) if len(r) else 0.0


def _jitter(f0: np.ndarray) -> float:
    both = (f0[1:] > 0) & (f0[:-1] > 0)
    if both.sum() < 5:
        return 0.0
    rel = np.abs(np.diff(1 / np.maximum(f0, 1e-6)))[both] * f0[1:][both]
    rel = rel[rel < 0.2]  # octave jumps are not jitter
    return float(np.mean(rel)) if len(rel) else 0.0


FEATURE_NAMES = [
    "log_pitch", "pitch_range_st", "pitch_std_st", "voiced_ratio", "energy_std_db", "energy_range_db",
    "rate_syl_s", "hf_ratio", "tremor_st", "jitter", "nacf_mean", "pitch_slope_st_s", "pause_ratio",
]


def features(t: Track, s: Style) -> np.ndarray:
    """Gain-independent prosodic features for the heads (absolute loudness left out on purpose)."""
    voiced = t.f0 > 0
    st = _semitones(t.f0[voiced]) if voiced.any() else np.zeros(1)
    sp = t.speech
    e = t.energy_db[sp] if sp.any() else np.zeros(1)
    if voiced.sum() >= 3:
        tt = np.flatnonzero(voiced) * HOP / SR
        slope = float(np.polyfit(tt, st, 1)[0])
    else:
        slope = 0.0
    first, last = (np.flatnonzero(sp)[[0, -1]] if sp.any() else (0, 0))
    span = max(last - first + 1, 1)
    pause = 1.0 - sp[first:last + 1].sum() / span
    return np.array([
        np.log(max(s.pitch_hz, 50.0)), s.pitch_range_st, float(np.std(st)), s.voiced_ratio,
        float(np.std(e)), float(np.percentile(e, 95) - np.percentile(e, 5)), s.rate_syl_s, s.hf_ratio,
        s.tremor_st, s.jitter, float(np.mean(t.nacf[sp])) if sp.any() else 0.0, float(np.clip(slope, -40, 40)),
        float(pause),
    ], dtype=np.float32)
