"""The label sets the heads speak."""
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
GENDERS = ("female", "male")
AGE_GROUPS = ("child", "teen", "adult", "elderly")
NO_EVENT = "none"  # ordinary speech: the events head's extra class
EVENTS = ("coughing", "crying", "laughing", "lip-popping", "lip-smacking", "moaning", "nose-blowing", "panting",
          "screaming", "sighing", "sneezing", "teeth-chattering", "teeth-grinding", "throat-clearing",
          "tongue-clicking", "yawning")

# Coarse circumplex coordinates (valence, arousal) in [-1, 1]; the profile reports the expectation.
CIRCUMPLEX = {
    "neutral": (0.0, 0.0), "calm": (0.3, -0.6), "happy": (0.8, 0.5), "sad": (-0.7, -0.5),
    "angry": (-0.6, 0.8), "fearful": (-0.7, 0.6), "disgust": (-0.6, 0.2), "surprised": (0.3, 0.8),
}

# Corpora whose speakers' ages are documented by the corpus rather than per clip.
CORPUS_ADULTS = {"ravdess": "professional actors aged 21-33", "emodb": "actors aged 21-35"}


def age_group(years: float) -> str:
    if years < 13:
        return "child"
    if years < 20:
        return "teen"
    if years < 60:
        return "adult"
    return "elderly"
