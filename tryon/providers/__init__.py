"""Landmark providers: adapters from a landmark model to :mod:`tryon.landmarks` types."""
