"""python -m scanning -> the CLI (fuse, mesh, synth)."""

from __future__ import annotations


def main() -> None:
    """Run the scanning CLI (``python -m scanning``) with Open3D limited to one OpenMP thread unless set."""
    import os

    # Open3D's OpenMP threads spin while waiting: on this 2-core machine under load, pose estimation took 41 s
    # with the default thread count and 13 s with one thread (Poisson: 11 s vs 1.8 s). Set before Open3D loads;
    # an explicit OMP_NUM_THREADS from the user wins.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from scanning.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
