"""Hearing how something is said: emotion, gender, age group, vocal events, speaking style."""
