"""Reading an image's declared size: the right size, with only that format's Pillow plugin imported."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from assets_pipeline.errors import LimitExceeded
from assets_pipeline.io.images import check_image
from assets_pipeline.limits import Limits

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from assets_pipeline.errors import LimitExceeded
from assets_pipeline.io.images import check_image
from assets_pipeline.limits import Limits
mime = check_image(open(sys.argv[1], "rb").read(), Limits(), path=sys.argv[1], field="image")
print(json.dumps([mime, sorted(m for m in sys.modules if m.startswith("PIL.") and m.endswith("ImagePlugin"))]))
"""


@pytest.mark.parametrize("fmt,mime,plugin", [("PNG", "image/png", "PIL.PngImagePlugin"),
                                             ("JPEG", "image/jpeg", "PIL.JpegImagePlugin"),
                                             ("GIF", "image/gif", "PIL.GifImagePlugin"),
                                             ("BMP", "image/bmp", "PIL.BmpImagePlugin"),
                                             ("WEBP", "image/webp", "PIL.WebPImagePlugin")])
def test_declared_size_imports_only_its_plugin(tmp_path: Path, fmt: str, mime: str, plugin: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (7, 5), (200, 30, 30)).save(buf, fmt)
    path = tmp_path / f"i.{fmt.lower()}"
    path.write_bytes(buf.getvalue())
    got = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, cwd=ROOT)
    found, plugins = json.loads(got.stdout)
    assert found == mime
    assert plugin in plugins
    assert "PIL.XVThumbImagePlugin" not in plugins and "PIL.SgiImagePlugin" not in plugins  # not every plugin
    with pytest.raises(LimitExceeded, match=r"7x5"):
        check_image(buf.getvalue(), Limits(max_image_pixels=34), path=path, field="image")
