"""Read rates of ``tryon.codes.decode_codes`` (zxing-cpp and OpenCV) on real barcode and QR photos.

The photos are a held-out set, not in the repository: the test samples of the zxing-cpp project
(test/samples/{ean13,upca,code128,qrcode}-N with the expected text in NAME.txt beside each image, and
falsepositives-N: images without any code). Nothing was tuned on them. Run:

    .venv/bin/python tests/benchmarks/bench_codes.py /work/heldout/codes > docs/benchmarks-codes.md

A read is correct when the expected text is among the decoded texts (UPC-A compared as 12 digits); a false read
is any decoded text that is not expected (on a code image) or any decoded text at all (on a false-positive image).
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tryon.codes import available_decoders, decode_codes  # noqa: E402

GROUPS = {"ean13": "EAN-13", "upca": "UPC-A", "code128": "Code 128", "qrcode": "QR", "falsepositives": "no code"}
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


def samples(root: Path) -> list[tuple[str, Path, str | None]]:
    """(group, image, expected text or None for no-code images), sorted."""
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        group = folder.name.rsplit("-", 1)[0]
        if group not in GROUPS:
            continue
        for image in sorted(folder.iterdir()):
            if image.suffix.lower() not in SUFFIXES:
                continue
            if group == "falsepositives":
                out.append((group, image, None))
                continue
            txt = image.with_suffix(".txt")
            if txt.is_file():
                out.append((group, image, txt.read_bytes().decode("utf-8", errors="replace")))
    return out


def _same(expected: str, text: str, group: str) -> bool:
    if group in ("ean13", "upca") and expected.strip().isdigit() and text.isdigit():
        return expected.strip().zfill(14) == text.zfill(14)  # UPC-A as 12 or 13 digits
    return text == expected


def measure(root: Path) -> str:
    """The markdown table of read rates and false reads per decoder and symbology."""
    rows = samples(root)
    lines = [f"Held-out set: {len(rows)} images from the zxing-cpp test samples ({root.name}/); "
             f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs).", "",
             "| decoder | symbology | images | read | read rate | false reads | ms / image (median) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for decoder in available_decoders():
        stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        times: dict[str, list[float]] = defaultdict(list)
        for group, path, expected in rows:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                continue
            t0 = time.perf_counter()
            found = decode_codes(image, decoder=decoder)  # type: ignore[arg-type]
            times[group].append((time.perf_counter() - t0) * 1000)
            s = stats[group]
            s[0] += 1
            if expected is None:
                s[2] += len(found)
                continue
            s[1] += any(_same(expected, c.text, group) for c in found)
            s[2] += sum(not _same(expected, c.text, group) for c in found)
        for group, label in GROUPS.items():
            n, ok, false = stats[group]
            if not n:
                continue
            ms = sorted(times[group])[len(times[group]) // 2]
            rate = "-" if group == "falsepositives" else f"{100 * ok / n:.0f} %"
            lines.append(f"| {decoder} | {label} | {n} | {ok if group != 'falsepositives' else '-'} | {rate} | "
                         f"{false} | {ms:.1f} |")
    lines.append("")
    lines.append(f"Load average after: {os.getloadavg()[0]:.2f}.")
    return "\n".join(lines)


if __name__ == "__main__":
    print(measure(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/heldout/codes")))
