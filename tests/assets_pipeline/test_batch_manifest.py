"""Batch manifests: CSV and JSON lines, every row checked, every problem with its line and field; content addresses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assets_pipeline.batch.content import publish_key, source_files
from assets_pipeline.batch.manifest import DEFAULT_LODS, ManifestError, ManifestRow, read_manifest
from assets_pipeline.errors import InvalidAsset

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_manifest_is_clean() -> None:
    m = read_manifest(SAMPLES / "catalog" / "manifest.csv")
    assert not m.problems and [r.sku for r in m.rows] == ["STAND-01", "STAND-02", "GIFT-BOX-01", "STOOL-01"]
    stand, low, box, stool = m.rows
    assert stand.line == 2 and stand.units == "cm" and stand.up == "z" and stand.lods == (0.5, 0.25, 0.1)
    assert low.lods == (0.25,) and box.lods == () and box.variants == ("red=#b0102a", "gold=#d4af37")
    assert Path(stool.source) == (SAMPLES / "catalog" / "models" / "stool.obj").resolve()
    assert ManifestRow.from_dict(json.loads(json.dumps(stand.to_dict()))) == stand


def test_every_bad_row_is_listed_with_its_line_and_field(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "catalog" / "models" / "gift-box.obj", tmp_path / "box.obj")
    write(tmp_path / "empty.obj", "")
    write(tmp_path / "notes.txt", "hello")
    m = read_manifest(write(tmp_path / "m.csv", "\n".join([
        "path,sku,category,units,up,lods,texture_format,variants",
        "box.obj,OK-1,furniture,cm,z,50,,",             # 2 good
        "missing.obj,BAD-1,furniture,,,,,",             # 3 no such file
        "box.obj,bad sku,furniture,,,,,",               # 4 bad SKU
        "box.obj,BAD-3,spaceship,,,,,",                 # 5 category
        "box.obj,BAD-4,furniture,furlong,x,,,",         # 6 units and up
        "box.obj,BAD-5,furniture,,,150%,gif,",          # 7 lods and texture format
        "box.obj,OK-1,furniture,,,,,",                  # 8 duplicate SKU
        "empty.obj,BAD-7,furniture,,,,,",               # 9 empty file
        "notes.txt,BAD-8,furniture,,,,,",               # 10 not a model
        "box.obj,BAD-9,furniture,,,,,=red",             # 11 variant syntax
        "box.obj,BAD-10,furniture",                     # 12 cell count
        "http://example.com/a.glb,BAD-11,furniture,,,,,",  # 13 remote URL
        ",BAD-12,,,,,,",                                # 14 path and category missing
    ]) + "\n"))
    assert [r.line for r in m.rows] == [2]
    by_line: dict[int, list[str]] = {}
    for p in m.problems:
        by_line.setdefault(p.line, []).append(f"{p.field}: {p.message}")
    assert m.bad_lines == list(range(3, 15))
    assert "no such file" in by_line[3][0] and by_line[4][0].startswith("sku:")
    assert by_line[5][0].startswith("category:") and "spaceship" in by_line[5][0]
    assert [t.split(":")[0] for t in by_line[6]] == ["units", "up"]
    assert [t.split(":")[0] for t in by_line[7]] == ["lods", "texture_format"]
    assert "also on line 2" in by_line[8][0] and "empty" in by_line[9][0] and "not a model" in by_line[10][0]
    assert by_line[11][0].startswith("variants:") and "cells" in by_line[12][0] and "scheme" in by_line[13][0]
    assert sorted(t.split(":")[0] for t in by_line[14]) == ["category", "path"]
    err = ManifestError(m.path, m.problems)
    assert len(err.lines()) == len(m.problems) and err.lines()[0].startswith("m.csv:3: path: ")
    assert "more)" in str(err)


def test_header_problems_and_unknown_formats(tmp_path: Path) -> None:
    m = read_manifest(write(tmp_path / "m.csv", "path,sku,colour\nx.obj,A,furniture\n"))
    assert {(p.line, p.field) for p in m.problems} == {(1, "colour"), (1, "category")} and not m.rows
    assert read_manifest(write(tmp_path / "e.csv", "")).problems[0].message == "the manifest is empty"
    with pytest.raises(InvalidAsset, match=r"m\.xlsx: manifest must be \.csv or \.jsonl"):
        read_manifest(write(tmp_path / "m.xlsx", "x"))
    with pytest.raises(InvalidAsset, match="cannot read the manifest"):
        read_manifest(tmp_path / "nope.csv")


def test_json_lines_with_tryon_and_lists(tmp_path: Path) -> None:
    shutil.copy(SAMPLES / "catalog" / "models" / "gift-box.obj", tmp_path / "box.obj")
    lines = [
        {"path": "box.obj", "sku": "SHOE-1", "category": "shoes", "lods": [50, 25], "variants": ["black=#000000"],
         "tryon": {"kind": "shoes", "shade": "#101010", "toe_axis": "+z", "up_axis": "+y"}},
        {"url": f"file://{tmp_path / 'box.obj'}", "sku": "BOX-2", "category": "accessory", "lods": "none"},
        {"path": "box.obj", "sku": "LIP-1", "category": "furniture", "tryon_kind": "lipstick",
         "tryon_shade": "#B0102A"},
        {"path": "box.obj", "sku": "X", "category": "furniture", "colour": "red"},
        "not an object",
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\n{broken\n"
    m = read_manifest(write(tmp_path / "m.jsonl", text))
    shoe, box = m.rows
    assert shoe.lods == (0.5, 0.25) and shoe.variants == ("black=#000000",) and shoe.tryon["kind"] == "shoes"
    assert box.lods == () and box.source == str((tmp_path / "box.obj").resolve())
    problems = {(p.line, p.field) for p in m.problems}
    assert problems == {(3, "tryon_kind"), (4, "colour"), (5, None), (6, None)}
    assert ManifestRow(1, "x", "S", "furniture").lods == DEFAULT_LODS


def test_content_address_follows_the_files_and_options(tmp_path: Path, corpus: Path) -> None:
    shutil.copytree(corpus / "models" / "BoxTextured", tmp_path / "box")
    gltf = tmp_path / "box" / "BoxTextured.gltf"
    assert {p.name for p in source_files(gltf)} == {"BoxTextured.gltf", "BoxTextured0.bin", "CesiumLogoFlat.png"}
    stand = SAMPLES / "models" / "display-stand.obj"
    assert [p.name for p in source_files(stand)] == ["display-stand.obj", "display-stand.mtl"]
    row = ManifestRow(2, str(gltf), "BOX-1", "furniture")
    key = publish_key(row)
    assert key == publish_key(ManifestRow(9, str(gltf), "BOX-1", "furniture", name="another name"))
    assert key != publish_key(ManifestRow(2, str(gltf), "BOX-1", "furniture", units="cm"))
    assert key != publish_key(ManifestRow(2, str(gltf), "BOX-1", "furniture", lods=(0.5,)))
    png = tmp_path / "box" / "CesiumLogoFlat.png"
    png.write_bytes(png.read_bytes() + b"\0")  # a texture changed: a new address
    assert publish_key(row) != key
