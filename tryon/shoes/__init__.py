"""Shoe try-on: pose feet -> view choice and placement -> sprite composited under the leg."""
