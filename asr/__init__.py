"""Hearing the words: voice activity (vad.py) and speech recognition (whisper.py) behind `Recognizer`."""
