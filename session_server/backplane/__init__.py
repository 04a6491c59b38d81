"""Backplanes order each room's changes and fan them out: in-memory (default) or Redis."""

from .base import Backplane, LeaseLost, Stored
from .memory import MemoryBackplane, MemoryStore

__all__ = ["Backplane", "LeaseLost", "MemoryBackplane", "MemoryStore", "Stored"]
