"""The check both voices' tests make: each profile moves the measured prosody the way its table says."""
from __future__ import annotations

import numpy as np


def assert_moves_as_documented(profiles, measured: dict, *, pitch_range: bool = True) -> None:
    """`measured`: emotion -> tts.measure.prosody_features of a rendering; `pitch_range`: check the range too
    (Piper's PSOLA range is not checked: its test never asserted it)."""
    neutral = measured["neutral"]
    for emotion, m in measured.items():
        if emotion == "neutral":
            continue
        p = profiles.profiles[emotion]
        if abs(p.pitch_semitones) >= 1:
            moved = 12 * np.log2(m["f0_median_hz"] / neutral["f0_median_hz"])
            assert np.sign(moved) == np.sign(p.pitch_semitones) and abs(moved) > 0.3, (emotion, moved)
        if pitch_range and abs(p.pitch_range - 1) >= 0.2:
            ratio = m["f0_range_st"] / neutral["f0_range_st"]
            assert np.sign(ratio - 1) == np.sign(p.pitch_range - 1), (emotion, ratio)
        if abs(p.rate - 1) >= 0.05:
            ratio = neutral["speech_s"] / m["speech_s"]
            assert np.sign(ratio - 1) == np.sign(p.rate - 1), (emotion, ratio)
        if abs(p.energy_db) >= 1.5:
            moved = m["rms_db"] - neutral["rms_db"]
            assert np.sign(moved) == np.sign(p.energy_db) and abs(moved) > 0.5, (emotion, moved)
