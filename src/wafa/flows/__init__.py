"""Lifecycle flows: a trigger, filters re-checked before each send, steps, an exit, re-entry rules."""
