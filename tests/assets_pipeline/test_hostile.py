"""Broken and hostile inputs: every one is refused with one AssetError naming the file, the field and the
problem; resources outside the asset's folder are never opened; the CLI exits 2 with a single stderr
line and leaves no file behind.

Hostile files are made in ``tmp_path`` from real corpus files (never written into the corpus).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assets_pipeline.errors import AssetError, InvalidAsset, LimitExceeded, UnsafeURI, UnsupportedFormat
from assets_pipeline.io.formats import read
from assets_pipeline.io.glb import pack_glb
from assets_pipeline.limits import Limits

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# --- helpers -------------------------------------------------------------------------------------------


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """(JSON, BIN chunk) of a well-formed GLB."""
    (jlen,) = struct.unpack_from("<I", data, 12)
    gltf = json.loads(data[20: 20 + jlen])
    binary = data[20 + jlen + 8:] if len(data) > 20 + jlen else b""
    return gltf, binary


def edit_glb(data: bytes, edit: Callable[[dict[str, Any]], None] | None = None,
             binary: bytes | None = None) -> bytes:
    gltf, bin_chunk = split_glb(data)
    gltf = copy.deepcopy(gltf)
    if edit:
        edit(gltf)
    return pack_glb(gltf, bin_chunk if binary is None else binary)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` RGB pixels, with one tiny (valid-CRC) IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b"")


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def refuse(path: Path, kind: type[AssetError], *words: str, limits: Limits | None = None,
           field: str | None = None) -> AssetError:
    """read(path) must raise ``kind``, naming the file, (the field) and every word of the problem."""
    with pytest.raises(AssetError) as info:
        read(path, limits) if limits else read(path)
    exc = info.value
    assert isinstance(exc, kind), f"{type(exc).__name__} instead of {kind.__name__}: {exc}"
    message = str(exc)
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith(path.name + ": "), message
    assert exc.path is not None and Path(exc.path).name == path.name
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    if field is not None:
        assert exc.field is not None and exc.field.startswith(field), f"field {exc.field!r}, expected {field!r}"
    return exc


# Every file the process opens while ``opened`` is recording (audit hooks cannot be removed: the hook
# stays installed and records only inside the fixture).
_OPENED: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _OPENED is not None and isinstance(args[0], str | bytes | os.PathLike):
        _OPENED.append(os.path.realpath(os.fsdecode(args[0])))


sys.addaudithook(_audit)


@pytest.fixture()
def opened() -> Iterator[list[str]]:
    global _OPENED
    _OPENED = []
    try:
        yield _OPENED
    finally:
        _OPENED = None


@pytest.fixture(scope="module")
def box_glb(corpus: Path) -> bytes:
    return (corpus / "models" / "BoxVertexColors.glb").read_bytes()


@pytest.fixture()
def box_textured(corpus: Path, tmp_path: Path) -> Path:
    """A private copy of BoxTextured (glTF + .bin + PNG) in ``tmp_path/asset``; returns the .gltf path."""
    folder = tmp_path / "asset"
    shutil.copytree(corpus / "models" / "BoxTextured", folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    return folder / "BoxTextured.gltf"


def edit_gltf(path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    gltf = json.loads(path.read_text())
    edit(gltf)
    path.write_text(json.dumps(gltf))
    return path


# --- container: GLB header, chunks, JSON -------------------------------------------------------------


def test_corpus_sources_read_cleanly(corpus: Path) -> None:
    """The files every hostile case below is made from are themselves accepted."""
    for name in ("BoxVertexColors.glb", "DenseSphere.glb", "pirate.glb", "BoxTextured/BoxTextured.gltf"):
        doc = read(corpus / "models" / name)
        assert doc.triangle_count() > 0


@pytest.mark.parametrize("cut", [1, 3, 4, 11, 12, 19, 20, 21, 100, 1000, -100, -1])
def test_truncated_glb(box_glb: bytes, tmp_path: Path, cut: int) -> None:
    path = write(tmp_path / "box.glb", box_glb[:cut])
    refuse(path, InvalidAsset, "truncated")


def test_truncated_glb_with_consistent_header(box_glb: bytes, tmp_path: Path) -> None:
    """Cut inside the BIN chunk and patch the header's total length: the chunk then runs past the end."""
    cut = bytearray(box_glb[:-200])
    struct.pack_into("<I", cut, 8, len(cut))
    refuse(write(tmp_path / "box.glb", bytes(cut)), InvalidAsset, "chunk", "past the end")


def test_bin_chunk_shorter_than_buffer(box_glb: bytes, tmp_path: Path) -> None:
    gltf, binary = split_glb(box_glb)
    path = write(tmp_path / "box.glb", pack_glb(gltf, binary[:-400]))
    refuse(path, InvalidAsset, "byteLength", field="buffers[0]")


@pytest.mark.parametrize("magic", [b"glTX", b"GLTF", b"\0\0\0\0", b"PK\3\4"])
def test_wrong_magic(box_glb: bytes, tmp_path: Path, magic: bytes) -> None:
    path = write(tmp_path / "box.glb", magic + box_glb[4:])
    refuse(path, InvalidAsset, "magic", field="header")


@pytest.mark.parametrize("version", [0, 1, 3, 0xFFFFFFFF])
def test_wrong_version(box_glb: bytes, tmp_path: Path, version: int) -> None:
    data = bytearray(box_glb)
    struct.pack_into("<I", data, 4, version)
    refuse(write(tmp_path / "box.glb", bytes(data)), UnsupportedFormat, f"version {version}", field="header")


def test_first_chunk_not_json(box_glb: bytes, tmp_path: Path) -> None:
    data = bytearray(box_glb)
    struct.pack_into("<I", data, 16, 0x004E4942)  # JSON chunk relabelled BIN
    refuse(write(tmp_path / "box.glb", bytes(data)), InvalidAsset, "not JSON")


def _replace_json(glb: bytes, raw: bytes) -> bytes:
    _, binary = split_glb(glb)
    raw += b" " * (-len(raw) % 4)
    body = struct.pack("<II", len(raw), 0x4E4F534A) + raw + struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


@pytest.mark.parametrize("raw", [
    b'{"asset": {"version": "2.0"}, "meshes": [',
    b'{"asset": {"version": "2.0"},}',
    b"\xff\xfe\x00garbage",
    b'{"asset": {"version": "2.0"}, "nodes": [{"translation": [NaN, 0, 0]}]}',
    b'{"asset": {"version": "2.0"}, "extras": Infinity}',
])
def test_invalid_json_in_glb(box_glb: bytes, tmp_path: Path, raw: bytes) -> None:
    refuse(write(tmp_path / "box.glb", _replace_json(box_glb, raw)), InvalidAsset, "invalid JSON")


@pytest.mark.parametrize("raw, kind, words", [
    (b"[1, 2, 3]", InvalidAsset, ("not an object",)),
    (b'{"asset": {"version": "1.0"}}', UnsupportedFormat, ("asset.version", "1.0")),
    (b'{"meshes": []}', UnsupportedFormat, ("asset.version", "missing")),
])
def test_json_not_gltf(tmp_path: Path, raw: bytes, kind: type[AssetError], words: tuple[str, ...]) -> None:
    refuse(write(tmp_path / "scene.gltf", raw), kind, *words)


def test_invalid_json_gltf(box_textured: Path) -> None:
    box_textured.write_text(box_textured.read_text()[:-40])
    refuse(box_textured, InvalidAsset, "invalid JSON")


@pytest.mark.parametrize("depth", [100, 5000, 200_000])
def test_json_nesting_too_deep(box_glb: bytes, tmp_path: Path, depth: int) -> None:
    def deep(g: dict[str, Any]) -> None:
        g["extras"] = "@"

    raw = json.dumps(split_glb(edit_glb(box_glb, deep))[0]).encode()
    raw = raw.replace(b'"@"', b"[" * depth + b"]" * depth)
    refuse(write(tmp_path / "box.glb", _replace_json(box_glb, raw)), LimitExceeded, "nesting depth")


def test_json_nesting_limit_is_configurable(box_glb: bytes, tmp_path: Path) -> None:
    path = write(tmp_path / "box.glb", box_glb)
    read(path)
    refuse(path, LimitExceeded, "nesting depth", limits=Limits(max_json_depth=3))


def test_json_byte_limit(box_glb: bytes, tmp_path: Path) -> None:
    refuse(write(tmp_path / "box.glb", box_glb), LimitExceeded, "JSON bytes", limits=Limits(max_json_bytes=500))


# --- structure: references, ranges, alignment ---------------------------------------------------------

Edit = Callable[[dict[str, Any]], None]
STRUCTURE_CASES: list[tuple[str, Edit, type[AssetError], tuple[str, ...], str | None]] = [
    ("position accessor out of range",
     lambda g: g["meshes"][0]["primitives"][0]["attributes"].__setitem__("POSITION", 99),
     InvalidAsset, ("accessors[99]", "out of range"), "accessors"),
    ("negative accessor index",
     lambda g: g["meshes"][0]["primitives"][0].__setitem__("indices", -1),
     InvalidAsset, ("accessors[-1]", "out of range"), "accessors"),
    ("accessor index is a string",
     lambda g: g["meshes"][0]["primitives"][0].__setitem__("indices", "0"),
     InvalidAsset, ("not an integer",), "meshes[0].primitives[0].indices"),
    ("material out of range",
     lambda g: g["meshes"][0]["primitives"][0].__setitem__("material", 7),
     InvalidAsset, ("materials[7]",), "materials"),
    ("node mesh out of range",
     lambda g: g["nodes"][-1].__setitem__("mesh", 3),
     InvalidAsset, ("meshes[3]",), "meshes"),
    ("scene node out of range",
     lambda g: g["scenes"][0]["nodes"].append(40),
     InvalidAsset, ("nodes[40]",), "nodes"),
    ("default scene out of range",
     lambda g: g.__setitem__("scene", 5),
     InvalidAsset, ("scenes[5]",), "scene"),
    ("accessor bufferView out of range",
     lambda g: g["accessors"][1].__setitem__("bufferView", 17),
     InvalidAsset, ("bufferViews[17]",), "accessors[1].bufferView"),
    ("bufferView buffer out of range",
     lambda g: g["bufferViews"][1].__setitem__("buffer", 2),
     InvalidAsset, ("buffers[2]",), "bufferViews[1].buffer"),
    ("bufferView past the end of the buffer",
     lambda g: g["bufferViews"][4].__setitem__("byteOffset", 2000),
     InvalidAsset, ("past the end", "buffers[0]"), "bufferViews[4]"),
    ("bufferView negative length",
     lambda g: g["bufferViews"][2].__setitem__("byteLength", -8),
     InvalidAsset, ("negative",), "bufferViews[2]"),
    ("accessor count overruns its view",
     lambda g: g["accessors"][1].__setitem__("count", 25),
     InvalidAsset, ("overrun", "bufferViews[1]"), "accessors[1]"),
    ("accessor offset overruns its view",
     lambda g: g["accessors"][2].__setitem__("byteOffset", 12),
     InvalidAsset, ("overrun",), "accessors[2]"),
    ("accessor byteOffset misaligned",
     lambda g: g["accessors"][1].__setitem__("byteOffset", 2),
     InvalidAsset, ("not aligned to 4",), "accessors[1].byteOffset"),
    ("index accessor byteOffset misaligned",
     lambda g: g["accessors"][0].__setitem__("byteOffset", 1),
     InvalidAsset, ("not aligned to 2",), "accessors[0].byteOffset"),
    ("huge accessor count",
     lambda g: g["accessors"][1].__setitem__("count", 10**12),
     LimitExceeded, ("accessor count",), "accessors[1].count"),
    ("unknown component type",
     lambda g: g["accessors"][1].__setitem__("componentType", 5130),
     InvalidAsset, ("component type",), "accessors[1].componentType"),
    ("negative byteStride",
     lambda g: g["bufferViews"][1].__setitem__("byteStride", -12),
     InvalidAsset, ("byteStride",), "bufferViews[1]"),
    ("byteStride not a multiple of 4",
     lambda g: g["bufferViews"][1].__setitem__("byteStride", 13),
     InvalidAsset, ("byteStride",), "bufferViews[1]"),
    ("byteStride smaller than the element",
     lambda g: g["bufferViews"][1].__setitem__("byteStride", 4),
     InvalidAsset, ("byteStride",), "accessors[1]"),
    ("float indices",
     lambda g: g["accessors"][0].update(componentType=5126, count=18),
     InvalidAsset, ("unsigned",), "meshes[0].primitives[0].indices"),
    ("VEC3 indices",
     lambda g: g["accessors"][0].update(type="VEC3", count=12),
     InvalidAsset, ("SCALAR",), "meshes[0].primitives[0].indices"),
    ("SCALAR positions",
     lambda g: g["accessors"][1].update(type="SCALAR", count=72),
     InvalidAsset, ("POSITION",), "meshes[0].primitives[0]"),
    ("attribute count differs",
     lambda g: g["accessors"][2].__setitem__("count", 23),
     InvalidAsset, ("23 elements",), "meshes[0].primitives[0]"),
    ("meshes is not a list",
     lambda g: g.__setitem__("meshes", 5),
     InvalidAsset, ("meshes",), "meshes"),
    ("primitive attributes is a list",
     lambda g: g["meshes"][0]["primitives"][0].__setitem__("attributes", [1, 2]),
     InvalidAsset, ("attributes",), "meshes[0].primitives[0].attributes"),
    ("primitive without attributes",
     lambda g: g["meshes"][0]["primitives"][0].__setitem__("attributes", {}),
     InvalidAsset, ("attributes",), "meshes[0].primitives[0].attributes"),
    ("node children not a list",
     lambda g: g["nodes"][0].__setitem__("children", 1),
     InvalidAsset, ("children",), "nodes[0].children"),
    ("node is its own child",
     lambda g: g["nodes"][0].__setitem__("children", [0]),
     InvalidAsset, ("cycle",), "nodes"),
    ("node translation holds a string",
     lambda g: g["nodes"][0].__setitem__("translation", [0, "x", 0]),
     InvalidAsset, ("translation",), "nodes[0].translation"),
    ("node matrix has 3 numbers",
     lambda g: g["nodes"][0].__setitem__("matrix", [1, 0, 0]),
     InvalidAsset, ("matrix",), "nodes[0].matrix"),
    ("unknown primitive mode",
     lambda g: g["meshes"][0]["primitives"][0].__setitem__("mode", 9),
     InvalidAsset, ("mode",), "meshes[0].primitives[0].mode"),
]


@pytest.mark.parametrize("name, edit, kind, words, field", STRUCTURE_CASES, ids=[c[0] for c in STRUCTURE_CASES])
def test_broken_structure(box_glb: bytes, tmp_path: Path, name: str, edit: Edit, kind: type[AssetError],
                          words: tuple[str, ...], field: str | None) -> None:
    path = write(tmp_path / "box.glb", edit_glb(box_glb, edit))
    refuse(path, kind, *words, field=field)


def test_node_with_two_parents(corpus: Path, tmp_path: Path) -> None:
    gltf = json.loads((corpus / "models" / "BoxTextured" / "BoxTextured.gltf").read_text())
    assert gltf["nodes"][0]["children"] == [1]
    gltf["nodes"].append({"children": [1]})
    gltf["scenes"][0]["nodes"].append(2)
    folder = tmp_path / "asset"
    shutil.copytree(corpus / "models" / "BoxTextured", folder)
    path = folder / "BoxTextured.gltf"
    path.chmod(0o644)
    path.write_text(json.dumps(gltf))
    refuse(path, InvalidAsset, "parent", field="nodes")


def _patch_view(glb: bytes, accessor: int, values: np.ndarray, at: int = 0) -> bytes:
    """Overwrite elements of an accessor (tightly packed, as in BoxVertexColors) inside the BIN chunk."""
    gltf, binary = split_glb(glb)
    acc = gltf["accessors"][accessor]
    view = gltf["bufferViews"][acc["bufferView"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0) + at * values.itemsize
    raw = bytearray(binary)
    raw[start: start + values.nbytes] = values.tobytes()
    return pack_glb(gltf, bytes(raw))


@pytest.mark.parametrize("index", [24, 100, 65535])
def test_indices_past_vertex_count(box_glb: bytes, tmp_path: Path, index: int) -> None:
    path = write(tmp_path / "box.glb", _patch_view(box_glb, 0, np.array([index], np.uint16), at=7))
    refuse(path, InvalidAsset, f"index {index}", "vertex count 24", field="meshes[0].primitives[0].indices")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_positions_glb(box_glb: bytes, tmp_path: Path, value: float) -> None:
    path = write(tmp_path / "box.glb", _patch_view(box_glb, 1, np.array([value], np.float32), at=5))
    refuse(path, InvalidAsset, "POSITION", "NaN or infinite", field="meshes[0].primitives[0]")


def test_sparse_indices_out_of_range(box_glb: bytes, tmp_path: Path) -> None:
    def sparse(g: dict[str, Any]) -> None:
        g["accessors"][1]["sparse"] = {"count": 1, "indices": {"bufferView": 0, "componentType": 5123},
                                       "values": {"bufferView": 1}}

    data = _patch_view(edit_glb(box_glb, sparse), 0, np.array([500], np.uint16))
    refuse(write(tmp_path / "box.glb", data), InvalidAsset, "index 500", field="accessors[1].sparse")


# --- OBJ ----------------------------------------------------------------------------------------------

def _obj_with(corpus: Path, tmp_path: Path, replace: tuple[str, str]) -> Path:
    text = (corpus / "obj_edge_cases" / "box-no-materials" / "box-no-materials.obj").read_text()
    assert replace[0] in text
    return write(tmp_path / "box.obj", text.replace(replace[0], replace[1], 1).encode())


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e999"])
def test_nan_positions_obj(corpus: Path, tmp_path: Path, bad: str) -> None:
    path = _obj_with(corpus, tmp_path, ("v 1.000000 1.000000 -4.000000", f"v 1.000000 {bad} -4.000000"))
    refuse(path, InvalidAsset, "NaN or infinite")


def test_obj_face_index_past_vertex_count(corpus: Path, tmp_path: Path) -> None:
    text = (corpus / "obj_edge_cases" / "box-no-materials" / "box-no-materials.obj").read_text()
    path = write(tmp_path / "box.obj", (text + "\nf 1 2 99\n").encode())
    with pytest.raises(AssetError) as info:
        doc = read(path)
        # accepted only if the broken face was dropped with a warning
        assert doc.warnings, "a face referring to vertex 99 of 8 was silently accepted"
        raise InvalidAsset("dropped with a warning", path=path)
    assert str(info.value).startswith("box.obj: ")


def test_obj_garbage(tmp_path: Path) -> None:
    path = write(tmp_path / "junk.obj", os.urandom(4096))
    with pytest.raises(AssetError) as info:
        read(path)
    assert str(info.value).startswith("junk.obj: ")


# --- textures -----------------------------------------------------------------------------------------

def test_texture_not_an_image(box_textured: Path) -> None:
    (box_textured.parent / "CesiumLogoFlat.png").write_bytes(b"this is not a picture\n" * 20)
    refuse(box_textured, InvalidAsset, "not an image", field="images[0]")


def test_texture_truncated_png(box_textured: Path) -> None:
    png = box_textured.parent / "CesiumLogoFlat.png"
    png.write_bytes(png.read_bytes()[:20])
    refuse(box_textured, InvalidAsset, "image", field="images[0]")


def test_texture_corrupt_pixels(box_textured: Path, tmp_path: Path) -> None:
    """A valid PNG header over garbage pixel data passes the header check, so the texture step meets it:
    the CLI must still report an input error naming the image, on one line, and write nothing."""
    png = box_textured.parent / "CesiumLogoFlat.png"
    data = bytearray(png.read_bytes())
    data[2000:12000] = np.random.default_rng(3).integers(0, 256, 10000, np.uint8).tobytes()  # inside IDAT
    png.write_bytes(bytes(data))
    out = tmp_path / "out"
    proc = subprocess.run([PYTHON, "-m", "assets_pipeline", "optimize", str(box_textured), "-o",
                           str(out / "box.glb")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr[-2000:]
    assert "BoxTextured.gltf" in lines[0] and "image" in lines[0] and "internal error" not in lines[0], lines
    assert not out.exists() or not list(out.iterdir())


def test_embedded_texture_not_an_image(box_textured: Path) -> None:
    payload = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    edit_gltf(box_textured, lambda g: g["images"][0].__setitem__("uri", f"data:image/png;base64,{payload}"))
    refuse(box_textured, InvalidAsset, "not an image", field="images[0]")


def test_malformed_data_uri(box_textured: Path) -> None:
    edit_gltf(box_textured, lambda g: g["buffers"][0].__setitem__("uri", "data:application/octet-stream;base64,@@@"))
    refuse(box_textured, InvalidAsset, "data URI", field="buffers[0].uri")


@pytest.mark.parametrize("size", [(100_000, 100_000), (9000, 9000), (1, 2**31 - 1)])
def test_image_declared_size_exhausts_memory(box_textured: Path, size: tuple[int, int]) -> None:
    (box_textured.parent / "CesiumLogoFlat.png").write_bytes(png_header(*size))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    exc = refuse(box_textured, LimitExceeded, "image pixels", f"{size[0]}x{size[1]}", field="images[0]")
    assert isinstance(exc, LimitExceeded) and exc.actual == size[0] * size[1]
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, f"peak memory grew by {grown_mb:.0f} MB"


def test_image_pixel_limit_is_configurable(box_textured: Path) -> None:
    read(box_textured)
    refuse(box_textured, LimitExceeded, "image pixels", limits=Limits(max_image_pixels=100 * 100))


def test_image_pixel_limit_decides_not_pillow(box_textured: Path) -> None:
    """Our limit decides, not Pillow's own (89 Mpx) decompression-bomb guard: 15000x15000 (225 Mpx) passes
    a 300 Mpx limit (only the header is read) and is refused, naming its size, under a 200 Mpx limit."""
    (box_textured.parent / "CesiumLogoFlat.png").write_bytes(png_header(15_000, 15_000))
    doc = read(box_textured, Limits(max_image_pixels=300_000_000))
    assert doc.images[0].mime_type == "image/png"
    refuse(box_textured, LimitExceeded, "15000x15000", limits=Limits(max_image_pixels=200_000_000))


# --- URIs that leave the asset's folder -----------------------------------------------------------------

UNSAFE_URIS = [
    "../secret.bin",
    "%2e%2e/secret.bin",
    "sub/../../secret.bin",
    "./../asset/../secret.bin",
    "/etc/passwd",
    "file:///etc/passwd",
    "FILE:/etc/passwd",
    "\\\\server\\share\\secret.bin",
    "C:\\secret.bin",
    "c:/secret.bin",
    "http://127.0.0.1:9/secret.bin",
]


def _secret_files(tmp_path: Path, box_textured: Path) -> list[str]:
    """Valid resources placed just outside the asset's folder: reading them would succeed."""
    bin_data = (box_textured.parent / "BoxTextured0.bin").read_bytes()
    write(tmp_path / "secret.bin", bin_data)
    write(tmp_path / "secret.png", (box_textured.parent / "CesiumLogoFlat.png").read_bytes())
    return [str((tmp_path / n).resolve()) for n in ("secret.bin", "secret.png")] + ["/etc/passwd"]


@pytest.mark.parametrize("uri", UNSAFE_URIS)
def test_buffer_uri_outside_folder(box_textured: Path, tmp_path: Path, opened: list[str], uri: str) -> None:
    secrets = _secret_files(tmp_path, box_textured)
    edit_gltf(box_textured, lambda g: g["buffers"][0].__setitem__("uri", uri))
    opened.clear()
    refuse(box_textured, UnsafeURI, "refusing", field="buffers[0].uri")
    assert not set(opened) & set(secrets), f"opened {set(opened) & set(secrets)}"


@pytest.mark.parametrize("uri", ["../secret.png", "/etc/passwd", "file:///etc/passwd"])
def test_image_uri_outside_folder(box_textured: Path, tmp_path: Path, opened: list[str], uri: str) -> None:
    secrets = _secret_files(tmp_path, box_textured)
    edit_gltf(box_textured, lambda g: g["images"][0].__setitem__("uri", uri))
    opened.clear()
    refuse(box_textured, UnsafeURI, "refusing", field="images[0].uri")
    assert not set(opened) & set(secrets)


def test_symlink_leaving_folder(box_textured: Path, tmp_path: Path, opened: list[str]) -> None:
    secrets = _secret_files(tmp_path, box_textured)
    (box_textured.parent / "link.bin").symlink_to(tmp_path / "secret.bin")
    edit_gltf(box_textured, lambda g: g["buffers"][0].__setitem__("uri", "link.bin"))
    opened.clear()
    refuse(box_textured, UnsafeURI, "outside", field="buffers[0].uri")
    assert not set(opened) & set(secrets)


def test_obj_mtllib_outside_folder_is_never_read(corpus: Path, tmp_path: Path, opened: list[str]) -> None:
    """OBJ material libraries are optional: one outside the folder is skipped with a warning, unread."""
    src = corpus / "obj_edge_cases" / "box-missing-texture"
    write(tmp_path / "secret.mtl", (src / "box-missing-texture.mtl").read_bytes())
    text = (src / "box-missing-texture.obj").read_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith("mtllib")]
    path = write(tmp_path / "asset" / "box.obj", "\n".join(["mtllib ../secret.mtl", *lines]).encode())
    opened.clear()
    doc = read(path)
    assert str((tmp_path / "secret.mtl").resolve()) not in opened
    assert any("secret.mtl" in w and "outside" in w for w in doc.warnings), doc.warnings


def test_mtl_texture_outside_folder_is_never_read(corpus: Path, tmp_path: Path, opened: list[str]) -> None:
    src = corpus / "obj_edge_cases" / "box-missing-texture"
    write(tmp_path / "secret.png", (corpus / "models" / "BoxTextured" / "CesiumLogoFlat.png").read_bytes())
    secrets = [str((tmp_path / "secret.png").resolve())]
    mtl = (src / "box-missing-texture.mtl").read_text()
    lines = [ln for ln in mtl.splitlines() if not ln.strip().startswith("map_")]
    folder = tmp_path / "asset"
    write(folder / "box-missing-texture.mtl", "\n".join([*lines, "map_Kd ../secret.png"]).encode())
    shutil.copy(src / "box-missing-texture.obj", folder / "box-missing-texture.obj")
    opened.clear()
    doc = read(folder / "box-missing-texture.obj")
    assert not set(opened) & set(secrets)
    assert not doc.images
    assert any("secret.png" in w for w in doc.warnings), doc.warnings


# --- size limit, empty, directory, suffix ------------------------------------------------------------

def test_file_over_size_limit(box_glb: bytes, tmp_path: Path, opened: list[str]) -> None:
    path = write(tmp_path / "box.glb", box_glb)
    opened.clear()
    exc = refuse(path, LimitExceeded, "file bytes", "2,880", limits=Limits(max_file_bytes=1000))
    assert isinstance(exc, LimitExceeded) and exc.limit == 1000
    assert str(path.resolve()) not in opened, "the file was read before its size was checked"


def test_external_resource_over_size_limit(box_textured: Path) -> None:
    edit_gltf(box_textured, lambda g: None)  # compact JSON, well under the limit
    refuse(box_textured, LimitExceeded, "file bytes", limits=Limits(max_file_bytes=5000), field="images[0].uri")


def test_buffer_byte_length_over_limit(box_textured: Path) -> None:
    edit_gltf(box_textured, lambda g: g["buffers"][0].__setitem__("byteLength", 10**12))
    refuse(box_textured, LimitExceeded, "byteLength", field="buffers[0]")


@pytest.mark.parametrize("name", ["empty.glb", "empty.gltf", "empty.obj", "empty.stl", "empty.ply"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    refuse(write(tmp_path / name, b""), InvalidAsset, "empty")


def test_directory_as_input(tmp_path: Path) -> None:
    (tmp_path / "model.glb").mkdir()
    refuse(tmp_path / "model.glb", InvalidAsset, "is a folder, not a file")


def test_missing_input(tmp_path: Path) -> None:
    refuse(tmp_path / "nothing.glb", InvalidAsset, "not found")


@pytest.mark.parametrize("name", ["model.fbx", "model.glb.zip", "model", "model.txt"])
def test_unknown_suffix(box_glb: bytes, tmp_path: Path, opened: list[str], name: str) -> None:
    path = write(tmp_path / name, box_glb)
    opened.clear()
    refuse(path, UnsupportedFormat, "unknown model type")
    assert str(path.resolve()) not in opened


def test_missing_external_buffer(box_textured: Path) -> None:
    (box_textured.parent / "BoxTextured0.bin").unlink()
    refuse(box_textured, InvalidAsset, "not found", field="buffers[0].uri")


# --- compressed streams -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pirate(corpus: Path) -> bytes:
    return (corpus / "models" / "pirate.glb").read_bytes()


def _meshopt_ext(g: dict[str, Any], view: int) -> dict[str, Any]:
    return g["bufferViews"][view]["extensions"]["EXT_meshopt_compression"]  # type: ignore[no-any-return]


def test_corrupt_meshopt_header(pirate: bytes, tmp_path: Path) -> None:
    gltf, binary = split_glb(pirate)
    raw = bytearray(binary)
    raw[_meshopt_ext(gltf, 0)["byteOffset"]] ^= 0xFF  # the vertex stream's header byte
    refuse(write(tmp_path / "pirate.glb", pack_glb(gltf, bytes(raw))), InvalidAsset, "malformed ATTRIBUTES",
           field="bufferViews[0].extensions.EXT_meshopt_compression")


@pytest.mark.parametrize("view", [0, 1, 2])
def test_corrupt_meshopt_body(pirate: bytes, tmp_path: Path, view: int) -> None:
    gltf, binary = split_glb(pirate)
    ext = _meshopt_ext(gltf, view)
    rng = np.random.default_rng(view)
    raw = bytearray(binary)
    start = ext["byteOffset"] + 1
    raw[start: start + ext["byteLength"] - 1] = rng.integers(0, 256, ext["byteLength"] - 1, np.uint8).tobytes()
    path = write(tmp_path / "pirate.glb", pack_glb(gltf, bytes(raw)))
    with pytest.raises(AssetError) as info:
        read(path)
    assert str(info.value).startswith("pirate.glb: ")


@pytest.mark.parametrize("edit, words", [
    (lambda g: _meshopt_ext(g, 0).__setitem__("byteLength", 100), ("malformed ATTRIBUTES",)),
    (lambda g: _meshopt_ext(g, 0).__setitem__("byteLength", 10**9), ("past the end",)),
    (lambda g: _meshopt_ext(g, 0).__setitem__("count", 10**9), ("does not fit",)),
    (lambda g: _meshopt_ext(g, 0).__setitem__("mode", "VERTICES"), ("mode",)),
    (lambda g: _meshopt_ext(g, 1).__setitem__("filter", "LZMA"), ("filter",)),
    (lambda g: _meshopt_ext(g, 2).__setitem__("byteStride", 3), ("byteStride",)),
    (lambda g: _meshopt_ext(g, 0).__setitem__("buffer", 1), ("buffer",)),
], ids=["short", "past-end", "huge-count", "mode", "filter", "index-stride", "fallback-buffer"])
def test_bad_meshopt_description(pirate: bytes, tmp_path: Path, edit: Edit, words: tuple[str, ...]) -> None:
    refuse(write(tmp_path / "pirate.glb", edit_glb(pirate, edit)), InvalidAsset, *words,
           field="bufferViews[")


@pytest.fixture(scope="module")
def dense_sphere(corpus: Path) -> bytes:
    return (corpus / "models" / "DenseSphere.glb").read_bytes()


def _draco_range(gltf: dict[str, Any]) -> tuple[int, int]:
    view = gltf["bufferViews"][gltf["meshes"][0]["primitives"][0]["extensions"]["KHR_draco_mesh_compression"][
        "bufferView"]]
    return view.get("byteOffset", 0), view["byteLength"]


@pytest.mark.parametrize("how", ["header", "body", "zeros", "short"])
def test_corrupt_draco(dense_sphere: bytes, tmp_path: Path, how: str) -> None:
    gltf, binary = split_glb(dense_sphere)
    start, length = _draco_range(gltf)
    raw = bytearray(binary)
    rng = np.random.default_rng(7)
    if how == "header":
        raw[start: start + 5] = b"NOTDR"
    elif how == "body":
        raw[start + 40: start + length] = rng.integers(0, 256, length - 40, np.uint8).tobytes()
    elif how == "zeros":
        raw[start: start + length] = bytes(length)
    else:  # the view claims only the first 64 bytes of the stream
        for v in gltf["bufferViews"]:
            if v.get("byteOffset", 0) == start:
                v["byteLength"] = 64
    path = write(tmp_path / "sphere.glb", pack_glb(gltf, bytes(raw)))
    refuse(path, InvalidAsset, "Draco", field="meshes[0].primitives[0].extensions.KHR_draco_mesh_compression")


def test_draco_attribute_id_missing(dense_sphere: bytes, tmp_path: Path) -> None:
    def edit(g: dict[str, Any]) -> None:
        g["meshes"][0]["primitives"][0]["extensions"]["KHR_draco_mesh_compression"]["attributes"]["POSITION"] = 9

    refuse(write(tmp_path / "sphere.glb", edit_glb(dense_sphere, edit)), InvalidAsset, "id 9")


def test_draco_count_mismatch(dense_sphere: bytes, tmp_path: Path) -> None:
    refuse(write(tmp_path / "sphere.glb", edit_glb(dense_sphere, lambda g: g["accessors"][1].__setitem__(
        "count", 15000))), InvalidAsset, "15000")


# --- the CLI: exit 2, one stderr line, nothing written ----------------------------------------------------

def _cli_cases(corpus: Path, tmp: Path) -> list[tuple[list[str], str, str]]:
    """(argv tail, input file name, words the error line must hold)."""
    box = (corpus / "models" / "BoxVertexColors.glb").read_bytes()
    folder = tmp / "asset"
    shutil.copytree(corpus / "models" / "BoxTextured", folder)
    for f in folder.iterdir():
        f.chmod(0o644)
    gltf = folder / "BoxTextured.gltf"
    escaped = folder / "escape.gltf"
    escaped.write_text(json.dumps({**json.loads(gltf.read_text()), "buffers": [{"uri": "../secret.bin",
                                                                                "byteLength": 840}]}))
    write(tmp / "secret.bin", (folder / "BoxTextured0.bin").read_bytes())
    bomb = folder / "bomb.gltf"
    bomb.write_text(gltf.read_text().replace("CesiumLogoFlat.png", "bomb.png"))
    write(folder / "bomb.png", png_header(100_000, 100_000))
    (tmp / "dir.glb").mkdir()
    obj = (corpus / "obj_edge_cases" / "box-no-materials" / "box-no-materials.obj").read_text()
    pirate = (corpus / "models" / "pirate.glb").read_bytes()
    gp, bp = split_glb(pirate)
    bad = bytearray(bp)
    bad[_meshopt_ext(gp, 0)["byteOffset"]] ^= 0xFF
    sphere = (corpus / "models" / "DenseSphere.glb").read_bytes()
    gs, bs = split_glb(sphere)
    s0, _ = _draco_range(gs)
    bad_sphere = bytearray(bs)
    bad_sphere[s0: s0 + 5] = b"NOTDR"
    files = {
        "cut.glb": box[:1500],
        "magic.glb": b"glTX" + box[4:],
        "json.glb": _replace_json(box, b'{"asset": {"version": "2.0"'),
        "range.glb": edit_glb(box, lambda g: g["accessors"][1].__setitem__("count", 25)),
        "indices.glb": _patch_view(box, 0, np.array([30000], np.uint16), at=3),
        "nan.glb": _patch_view(box, 1, np.array([np.nan], np.float32), at=1),
        "nan.obj": obj.replace("v -1.000000 -1.000000 -4.000000", "v nan -1 -4", 1).encode(),
        "meshopt.glb": pack_glb(gp, bytes(bad)),
        "draco.glb": pack_glb(gs, bytes(bad_sphere)),
        "empty.glb": b"",
        "model.fbx": box,
        "cycle.glb": edit_glb(box, lambda g: g["nodes"][0].__setitem__("children", [0])),
    }
    for name, data in files.items():
        write(tmp / name, data)
    cases: list[tuple[list[str], str, str]] = [([str(tmp / n)], n, w) for n, w in [
        ("cut.glb", "truncated"), ("magic.glb", "magic"), ("json.glb", "invalid JSON"),
        ("range.glb", "overrun"), ("indices.glb", "past the vertex count"), ("nan.glb", "NaN"),
        ("nan.obj", "NaN"), ("meshopt.glb", "malformed"), ("draco.glb", "Draco"), ("empty.glb", "empty"),
        ("dir.glb", "is a folder, not a file"), ("model.fbx", "unknown model type"), ("cycle.glb", "cycle"),
    ]]
    cases += [
        ([str(escaped)], "escape.gltf", "outside"),
        ([str(bomb)], "bomb.gltf", "100000x100000"),
        ([str(tmp / "big.glb"), "--max-file-mb", "0.001"], "big.glb", "exceeds the limit"),
    ]
    write(tmp / "big.glb", box)
    return cases


def test_cli_refuses_hostile_inputs(corpus: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    cases = _cli_cases(corpus, inputs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHYGITAL_")}
    env["COLUMNS"] = "60"  # a narrow terminal must not wrap the error line
    def run(case: tuple[list[str], str, str]) -> str | None:
        argv, name, words = case
        out_dir = tmp_path / f"out-{name}"
        out_dir.mkdir()
        proc = subprocess.run(
            [PYTHON, "-m", "assets_pipeline", "optimize", *argv, "-o", str(out_dir / "result.glb"),
             "--lods", "0.5", "--report", str(out_dir / "report.json")],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        lines = proc.stderr.strip().splitlines()
        problems = []
        if proc.returncode != 2:
            problems.append(f"exit {proc.returncode}")
        if len(lines) != 1:
            problems.append(f"{len(lines)} stderr lines")
        if "Traceback" in proc.stderr:
            problems.append("traceback")
        if lines and (name not in lines[0] or words.lower() not in lines[0].lower()):
            problems.append(f"line lacks {name!r} or {words!r}")
        if list(out_dir.iterdir()):
            problems.append(f"left {[p.name for p in out_dir.iterdir()]}")
        if proc.stdout.strip():
            problems.append("wrote to stdout")
        return f"{name}: {', '.join(problems)}: {proc.stderr.strip()[-300:]!r}" if problems else None

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(run, cases) if f]
    assert not failures, "\n".join(failures)


# --- STL and PLY --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def teapot_stl(corpus: Path) -> bytes:
    return (corpus / "models" / "teapot_binary.stl").read_bytes()


@pytest.fixture(scope="module")
def suzanne_stl(corpus: Path) -> bytes:
    return (corpus / "models" / "suzanne_ascii.stl").read_bytes()


def _first_vertex_line(text: bytes) -> tuple[int, int]:
    i = text.index(b"vertex")
    return i, text.index(b"\n", i)


@pytest.mark.parametrize("cut", [1, 9, 83, 84 + 50 * 10 + 7, -7, -50])
def test_stl_binary_truncated(teapot_stl: bytes, tmp_path: Path, cut: int) -> None:
    refuse(write(tmp_path / "teapot.stl", teapot_stl[:cut]), InvalidAsset, "truncated binary STL")


def test_stl_binary_count_over_limit(teapot_stl: bytes, tmp_path: Path) -> None:
    data = bytearray(teapot_stl)
    struct.pack_into("<I", data, 80, 0xFFFFFFFF)
    refuse(write(tmp_path / "teapot.stl", bytes(data)), LimitExceeded, "triangle count")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_stl_binary_nan(teapot_stl: bytes, tmp_path: Path, value: float) -> None:
    data = bytearray(teapot_stl)
    struct.pack_into("<f", data, 84 + 50 * 3 + 12 + 4, value)  # triangle 3, first corner, y
    refuse(write(tmp_path / "teapot.stl", bytes(data)), InvalidAsset, "NaN or infinite")


@pytest.mark.parametrize("line, words", [
    (b"vertex nan 0 0", ("NaN or infinite",)),
    (b"vertex 1e999 0 0", ("NaN or infinite",)),
    (b"vertex abc 0 0", ("not a number",)),
    (b"", ("whole number of triangles",)),
])
def test_stl_ascii_bad_vertex(suzanne_stl: bytes, tmp_path: Path, line: bytes, words: tuple[str, ...]) -> None:
    i, j = _first_vertex_line(suzanne_stl)
    data = suzanne_stl[:i] + line + suzanne_stl[j:] if line else suzanne_stl[:i] + suzanne_stl[j + 1:]
    refuse(write(tmp_path / "suzanne.stl", data), InvalidAsset, *words)


def test_stl_ascii_truncated(suzanne_stl: bytes, tmp_path: Path) -> None:
    """Cut after a whole facet: without 'endsolid' the file is incomplete, not a smaller model."""
    cut = suzanne_stl.rindex(b"endfacet", 0, len(suzanne_stl) // 2) + len(b"endfacet\n")
    refuse(write(tmp_path / "suzanne.stl", suzanne_stl[:cut]), InvalidAsset, "truncated")


@pytest.mark.parametrize("data", [b"solid x\n" + b"hello world\n" * 10, b"\x01\x02garbage"])
def test_stl_garbage(tmp_path: Path, data: bytes) -> None:
    refuse(write(tmp_path / "junk.stl", data), InvalidAsset)


@pytest.fixture(scope="module")
def igea(corpus: Path) -> bytes:
    return (corpus / "models" / "igea.ply").read_bytes()


ASCII_PLY = (b"ply\nformat ascii 1.0\ncomment made in the test\nelement vertex 4\nproperty float x\nproperty float y\n"
             b"property float z\nelement face 2\nproperty list uchar int vertex_indices\nend_header\n"
             b"0 0 0\n1 0 0\n0 1 0\n1 1 0\n3 0 1 2\n3 2 1 3\n")


def test_ply_ascii_reference_reads() -> None:
    """The hand-written PLY the cases below break is itself valid."""
    assert ASCII_PLY.count(b"\n") == 16


@pytest.mark.parametrize("old, new, kind, words", [
    (b"3 2 1 3", b"3 2 1 9", InvalidAsset, ("vertex 9",)),
    (b"3 2 1 3", b"3 2 -1 3", InvalidAsset, ("vertex -1",)),
    (b"1 0 0\n", b"nan 0 0\n", InvalidAsset, ("NaN or infinite",)),
    (b"1 0 0\n", b"1e999 0 0\n", InvalidAsset, ("NaN or infinite",)),
    (b"1 0 0\n", b"one 0 0\n", InvalidAsset, ("malformed",)),
    (b"3 2 1 3\n", b"", InvalidAsset, ("truncated",)),
    (b"3 2 1 3", b"300000000 2 1 3", InvalidAsset, ("truncated",)),
    (b"3 2 1 3", b"-3 2 1 3", InvalidAsset, ("face",)),
    (b"element vertex 4", b"element vertex 99999999999", LimitExceeded, ("count",)),
    (b"format ascii", b"format binary_middle_endian", UnsupportedFormat, ("format",)),
    (b"property float x", b"property float128 x", InvalidAsset, ("header",)),
    (b"property float x", b"property float q", InvalidAsset, ("x, y, z",)),
    (b"ply\n", b"plx\n", InvalidAsset, ("not a PLY",)),
], ids=["index", "negative", "nan", "inf", "word", "cut", "long-list", "negative-list", "count", "format",
        "type", "no-x", "magic"])
def test_ply_ascii_broken(tmp_path: Path, old: bytes, new: bytes, kind: type[AssetError],
                          words: tuple[str, ...]) -> None:
    read(write(tmp_path / "ok.ply", ASCII_PLY))
    assert old in ASCII_PLY
    refuse(write(tmp_path / "quad.ply", ASCII_PLY.replace(old, new, 1)), kind, *words)


@pytest.mark.parametrize("cut", [100, 150, 300, 2_000_000, -4])
def test_ply_binary_truncated(igea: bytes, tmp_path: Path, cut: int) -> None:
    refuse(write(tmp_path / "igea.ply", igea[:cut]), InvalidAsset)


@pytest.mark.parametrize("old, new", [
    (b"element vertex 134345", b"element vertex 1000"),  # the strips are then read from vertex bytes
    (b"element vertex 134345", b"element vertex 40000000"),
    (b"binary_little_endian", b"binary_big_endian"),
    (b"property list int int", b"property list uchar int"),
], ids=["fewer-vertices", "more-vertices", "big-endian", "uchar-counts"])
def test_ply_binary_header_lies(igea: bytes, tmp_path: Path, old: bytes, new: bytes) -> None:
    """A header that does not describe the data: refused with an AssetError, never a numpy crash."""
    assert old in igea[:400]
    path = write(tmp_path / "igea.ply", igea.replace(old, new, 1))
    with pytest.raises(AssetError) as info:
        read(path)
    assert str(info.value).startswith("igea.ply: ")


def test_cli_refuses_stl_and_ply(teapot_stl: bytes, igea: bytes, tmp_path: Path) -> None:
    cases = {"teapot.stl": teapot_stl[:-50], "igea.ply": igea.replace(b"element vertex 134345",
                                                                        b"element vertex 1000", 1)}
    for name, data in cases.items():
        path = write(tmp_path / "in" / name, data)
        out = tmp_path / f"out-{name}"
        proc = subprocess.run([PYTHON, "-m", "assets_pipeline", "optimize", str(path), "-o", str(out / "r.glb")],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2, (name, proc.stderr[-2000:])
        assert len(lines) == 1 and "Traceback" not in proc.stderr and name in lines[0], proc.stderr[-2000:]
        assert not out.exists() or not list(out.iterdir())
