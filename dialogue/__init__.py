"""Deciding what to say and how: chat-model backends, the dual-thinking engine, crisis safety."""
