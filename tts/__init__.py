"""Speaking: voices behind `Voice`, text normalisation and clause splitting, emotional prosody."""
from .base import EMOTIONS, AudioChunk, Voice
from .clauses import ClauseSplitter, split_clauses
from .factory import BACKENDS, build_voice
from .normalize import normalize
from .profiles import ProfileTable, Prosody

__all__ = ["EMOTIONS", "AudioChunk", "Voice", "ClauseSplitter", "split_clauses", "BACKENDS", "build_voice",
           "normalize", "ProfileTable", "Prosody"]
