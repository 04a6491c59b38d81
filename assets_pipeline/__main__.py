"""python -m assets_pipeline -> the CLI."""

from __future__ import annotations


def main() -> None:
    """Run the assets CLI (``python -m assets_pipeline``)."""
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
