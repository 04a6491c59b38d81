"""``python -m tryon``: virtual try-on of makeup and shoes on images and videos."""

from __future__ import annotations

from tryon.cli import main

if __name__ == "__main__":
    main()
