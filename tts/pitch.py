"""Formant-preserving pitch change for speech: YIN pitch tracking and TD-PSOLA.

TD-PSOLA cuts the voiced signal into two-period grains centred on its pitch pulses and lays them
down again closer together (higher pitch) or further apart (lower), without resampling a grain, so
the spectral envelope (the formants: who is speaking) stays where it was. Unvoiced sound passes
unchanged. Pitch level and pitch range are one mapping: f0' = ref * (f0 / ref) ** range * 2 ** (st / 12).
The overlap-add loop is numba; tracking is vectorised numpy FFTs. About 1-2 % of real time on one core.
"""
from __future__ import annotations

import numpy as np
from numba import njit

FMIN, FMAX = 60.0, 400.0


def track_f0(x: np.ndarray, sr: int, *, hop: int | None = None, threshold: float = 0.3,
             fmin: float = FMIN, fmax: float = FMAX) -> tuple[np.ndarray, int]:
    """YIN pitch per frame: (f0 in Hz with 0 for unvoiced frames, hop in samples)."""
    x = np.asarray(x, dtype=np.float64)
    hop = hop or int(sr * 0.01)
    tau_min, tau_max = int(sr / fmax), int(sr / fmin) + 1
    w = max(int(sr * 0.025), tau_max)
    need = w + tau_max
    if x.size < need:
        return np.zeros(0), hop
    n_frames = 1 + (x.size - need) // hop
    idx = np.arange(n_frames)[:, None] * hop
    frames = x[idx + np.arange(need)[None, :]]
    nfft = 1 << int(np.ceil(np.log2(need + w)))
    a = np.fft.rfft(frames[:, :w], nfft)
    b = np.fft.rfft(frames, nfft)
    r = np.fft.irfft(np.conj(a) * b, nfft)[:, : tau_max + 1]
    sq = np.concatenate([np.zeros((n_frames, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    e0 = sq[:, w][:, None]
    taus = np.arange(tau_max + 1)
    e_tau = sq[:, taus + w] - sq[:, taus]
    d = np.maximum(e0 + e_tau - 2 * r, 0.0)
    d[:, 0] = 0
    cum = np.cumsum(d[:, 1:], axis=1)
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)
    f0 = np.zeros(n_frames)
    seg = cmnd[:, tau_min:tau_max]
    below = seg < threshold
    loud = np.sqrt(e0[:, 0] / w) > max(1e-4, 0.02 * np.sqrt(np.max(e0) / w))
    for i in np.nonzero(below.any(axis=1) & loud)[0]:
        t = int(np.argmax(below[i]))
        while t + 1 < seg.shape[1] and seg[i, t + 1] < seg[i, t]:  # walk down to the local minimum
            t += 1
        t = _octave_down(seg[i], t, tau_min)
        tau = t + tau_min
        if 0 < t < seg.shape[1] - 1:  # parabolic interpolation
            y0, y1, y2 = seg[i, t - 1], seg[i, t], seg[i, t + 1]
            den = y0 - 2 * y1 + y2
            tau = tau + (0.5 * (y0 - y2) / den if den > 0 else 0.0)
        f0[i] = sr / tau
    return _median_voiced(f0), hop


def _octave_down(cmnd: np.ndarray, t: int, tau_min: int) -> int:
    """The first dip under the threshold can be half the true period (a strong second harmonic, common
    in low male voices): take the dip at twice the lag when it is clearly deeper."""
    lag = t + tau_min
    lo, hi = int(1.92 * lag) - tau_min, int(2.08 * lag) - tau_min + 1
    if hi > cmnd.size or lo <= t:
        return t
    t2 = lo + int(np.argmin(cmnd[lo:hi]))
    # A clean period leaves a near-zero dip (then twice the lag is only as deep, and is not taken).
    return t2 if cmnd[t] > 0.03 and cmnd[t2] < 0.75 * cmnd[t] else t


def f0_per_sample(f0: np.ndarray, hop: int, n: int, sr: int, fmin: float = FMIN) -> np.ndarray:
    """Spread frame pitches over samples; frame i of `track_f0` is centred near i*hop + its span / 2."""
    tau_max = int(sr / fmin) + 1
    centre = (max(int(sr * 0.025), tau_max) + tau_max) // 2
    start = max(0, centre - hop // 2)
    per_sample = np.repeat(f0, hop)[: max(0, n - start)]
    return np.pad(per_sample, (start, n - start - per_sample.size))


def _median_voiced(f0: np.ndarray, k: int = 2) -> np.ndarray:
    out = f0.copy()
    for i in np.nonzero(f0)[0]:
        win = f0[max(0, i - k): i + k + 1]
        out[i] = np.median(win[win > 0])
    return out


@njit(cache=True)
def _pitch_marks(x, f0_per_sample, sr, uv_period):  # pragma: no cover - numba
    n = x.size
    marks = np.empty(n // 20 + 2, np.int64)
    periods = np.empty(n // 20 + 2, np.int64)
    voiced = np.empty(n // 20 + 2, np.bool_)
    count = 0
    t = 0
    prev_voiced = False
    while t < n and count < marks.size:
        f0 = f0_per_sample[t]
        if f0 > 0:
            p = int(sr / f0)
            lo = t - p // 2 if not prev_voiced else t - p // 4
            hi = t + p // 2 if not prev_voiced else t + p // 4
            if count > 0:
                lo = max(lo, marks[count - 1] + 20)
            lo, hi = max(lo, 0), min(hi, n - 1)
            best = lo
            for j in range(lo, hi + 1):
                if x[j] > x[best]:
                    best = j
            if count > 0 and best <= marks[count - 1]:
                best = marks[count - 1] + max(1, p // 2)
            if best >= n:
                break
            marks[count], periods[count], voiced[count] = best, p, True
            count += 1
            t = best + p
            prev_voiced = True
        else:
            marks[count], periods[count], voiced[count] = t, uv_period, False
            count += 1
            t += uv_period
            prev_voiced = False
    # A grain spans the distance to its neighbours, so at factor 1 the output is the input.
    for i in range(count - 1):
        if voiced[i] and voiced[i + 1]:
            d = marks[i + 1] - marks[i]
            if periods[i] // 2 <= d <= 2 * periods[i]:
                periods[i] = d
    return marks[:count], periods[:count], voiced[:count]


@njit(cache=True)
def _overlap_add(x, marks, factors):  # pragma: no cover - numba
    # Grain k rises over the distance to mark k-1 and falls over the distance to mark k+1 (Hann halves),
    # so at factor 1 neighbouring halves sum to one and the output is the input.
    n = x.size
    y = np.zeros(n, np.float32)
    count = marks.size
    if count < 2:
        return x.astype(np.float32)
    ts = float(marks[0])
    k = 0
    while ts < n:
        while k + 1 < count and abs(marks[k + 1] - ts) <= abs(marks[k] - ts):
            k += 1
        right = marks[k + 1] - marks[k] if k + 1 < count else n - marks[k]
        left = marks[k] - marks[k - 1] if k > 0 else right
        m = marks[k]
        c = int(round(ts))
        for j in range(-left, right + 1):
            src, dst = m + j, c + j
            if 0 <= src < n and 0 <= dst < n:
                half = left if j < 0 else right
                y[dst] += (0.5 + 0.5 * np.cos(np.pi * j / max(half, 1))) * x[src]
        ts += max(1.0, right / factors[k])
    return y


class PsolaShifter:
    """Change pitch level (semitones) and range (x excursion around `ref_f0`) of one voice's speech."""

    def __init__(self, sample_rate: int, ref_f0: float | None = None) -> None:
        self.sample_rate = sample_rate
        self.ref_f0 = ref_f0
        _overlap_add(np.zeros(64, np.float32), np.arange(0, 64, 16), np.ones(4))  # compile now
        _pitch_marks(np.zeros(64, np.float32), np.zeros(64), float(sample_rate), 10)

    def calibrate(self, speech: np.ndarray) -> float:
        """Set the reference pitch (the voice's usual average) from a sample of its speech."""
        f0, _ = track_f0(speech, self.sample_rate)
        voiced = f0[f0 > 0]
        if voiced.size == 0:
            raise ValueError("no voiced speech in the calibration sample")
        self.ref_f0 = float(np.exp(np.mean(np.log(voiced))))
        return self.ref_f0

    def __call__(self, x: np.ndarray, *, semitones: float = 0.0, range_factor: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.size == 0 or (abs(semitones) < 1e-3 and abs(range_factor - 1) < 1e-3):
            return x
        f0, hop = track_f0(x, self.sample_rate)
        if not np.any(f0 > 0):
            return x
        ref = self.ref_f0 or float(np.exp(np.mean(np.log(f0[f0 > 0]))))
        per_sample = f0_per_sample(f0, hop, x.size, self.sample_rate)
        sign = 1.0 if x.max() >= -x.min() else -1.0  # pick pulses on the dominant polarity
        marks, periods, voiced = _pitch_marks(sign * x, per_sample, float(self.sample_rate),
                                              int(self.sample_rate * 0.005))
        f0_marks = self.sample_rate / periods.astype(np.float64)
        factors = np.where(voiced, 2 ** (semitones / 12) * (f0_marks / ref) ** (range_factor - 1), 1.0)
        y = _overlap_add(x, marks, np.clip(factors, 0.5, 2.0))
        rms_in, rms_out = float(np.sqrt(np.mean(x**2))), float(np.sqrt(np.mean(y**2)))
        return y * (rms_in / rms_out) if rms_out > 1e-9 else y
