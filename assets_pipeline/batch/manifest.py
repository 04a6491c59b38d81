"""Read and check a batch manifest: CSV (header row) or JSON lines, one product model per row.

Columns (JSON keys): ``path`` (or ``url``: a path relative to the manifest, a ``file:`` URL, or ``s3://BUCKET/KEY``
for a single-file model in a bucket), ``sku``,
``category``, ``name``, ``units`` (m|cm|mm|in|ft), ``up`` (y|z), ``lods`` (``50,25,10`` or ``0.5,0.25,0.1``;
``none``), ``texture_format`` (webp|keep|png|jpeg), ``texture_max_size`` (pixels), ``lod_textures`` (yes|no:
whether each LOD's textures are scaled down with its triangles; default yes), ``variants`` (``NAME=VALUE``
separated by ``;``), ``note``
and the try-on attributes ``tryon_kind``, ``tryon_shade``, ``tryon_finish``, ``tryon_intensity``, ``tryon_wing``,
``tryon_style``, ``tryon_toe_axis``, ``tryon_up_axis`` (JSON lines may also give ``tryon`` as an object).

Every row is checked before anything runs; each problem names its line and field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from ..catalog.models import Category
from ..errors import AssetError, InvalidAsset
from ..limits import Limits

MODEL_SUFFIXES = (".obj", ".stl", ".ply", ".gltf", ".glb")
UNITS = ("m", "cm", "mm", "in", "ft")
UPS = ("y", "z")
TEXTURE_FORMATS = ("webp", "keep", "png", "jpeg")
DEFAULT_LODS = (0.5, 0.25, 0.1)
TRYON_KEYS = ("kind", "shade", "finish", "intensity", "wing", "style", "toe_axis", "up_axis")
COLUMNS = ("path", "sku", "category", "name", "units", "up", "lods", "texture_format", "texture_max_size",
           "lod_textures", "variants", "note", *(f"tryon_{k}" for k in TRYON_KEYS))
YES, NO = ("yes", "true", "1", "on", "y"), ("no", "false", "0", "off", "n")
ALIASES = {"url": "path", "file": "path", "up_axis": "up", "textures": "texture_format"}
MAX_ROWS = 100_000
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a manifest, on a line (1 = the CSV header or first JSON line)."""

    line: int
    field: str | None
    message: str

    def render(self, manifest: str) -> str:
        """``manifest.csv:3: sku: ...``"""
        return ":".join([manifest, str(self.line), *([f" {self.field}"] if self.field else [])]) + f": {self.message}"


class ManifestError(InvalidAsset):
    """A manifest with problems; ``problems`` lists every one with its line."""

    code = "invalid_manifest"

    def __init__(self, path: Path, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0] if self.problems else Problem(0, None, "no problems")
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"line {first.line}: {first.field + ': ' if first.field else ''}{first.message}{more}",
                         path=path)

    def lines(self) -> list[str]:
        """Every problem as one line naming the manifest, the line and the field."""
        return [p.render(Path(self.path or "manifest").name) for p in self.problems]


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One checked row: everything a publish job needs, JSON-serializable through ``to_dict``."""

    line: int
    source: str
    """Absolute path of the model, or its ``s3://BUCKET/KEY`` URL."""
    sku: str
    category: str
    name: str | None = None
    units: str = "m"
    up: str = "y"
    lods: tuple[float, ...] = DEFAULT_LODS
    texture_format: str = "webp"
    texture_max_size: int | None = None
    lod_textures: bool = True
    variants: tuple[str, ...] = ()
    note: str | None = None
    tryon: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (the task message carries this)."""
        d = asdict(self)
        d["lods"], d["variants"] = list(self.lods), list(self.variants)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ManifestRow:
        """Inverse of ``to_dict``."""
        return cls(**{**d, "lods": tuple(d.get("lods", DEFAULT_LODS)), "variants": tuple(d.get("variants", ())),
                      "tryon": dict(d.get("tryon") or {})})


@dataclass(slots=True)
class Manifest:
    """The rows that passed and the problems of those that did not."""

    path: Path
    rows: list[ManifestRow]
    problems: list[Problem]
    bad_lines: list[int]
    bad_skus: dict[int, str] = field(default_factory=dict)
    """The SKU cell of each bad line, as written (for the batch's skipped rows)."""


def read_manifest(path: Path, limits: Limits | None = None) -> Manifest:
    """Parse and check every row of a CSV or JSON-lines manifest (nothing is raised for bad rows: see problems)."""
    path = Path(path)
    limits = limits or Limits()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidAsset(f"cannot read the manifest: {exc.strerror or exc}", path=path) from None
    if size > MAX_MANIFEST_BYTES:
        raise InvalidAsset(f"manifest is larger than {MAX_MANIFEST_BYTES // 2**20} MB", path=path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidAsset(f"not UTF-8 text (byte {exc.start})", path=path) from None
    except OSError as exc:
        raise InvalidAsset(f"cannot read the manifest: {exc.strerror or exc}", path=path) from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw, problems = _csv_rows(text)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        raw, problems = _jsonl_rows(text)
    else:
        raise InvalidAsset("manifest must be .csv or .jsonl (JSON lines)", path=path)
    if len(raw) > MAX_ROWS:
        raise InvalidAsset(f"{len(raw):,} rows is more than the limit of {MAX_ROWS:,}", path=path)
    if not raw and not problems:
        problems.append(Problem(1, None, "the manifest has no rows"))
    rows: list[ManifestRow] = []
    bad: list[int] = sorted({p.line for p in problems})
    bad_skus: dict[int, str] = {}
    pre_bad = set(bad)  # lines with problems found while parsing (unknown fields)
    first_line_of: dict[str, int] = {}
    base = path.resolve().parent
    for line, values in raw:
        row_problems: list[Problem] = []
        row = _check_row(line, values, base, limits, row_problems)
        if row is not None:
            earlier = first_line_of.get(row.sku.lower())
            if earlier is not None:
                row_problems.append(Problem(line, "sku", f"{row.sku!r} is also on line {earlier}"))
            else:
                first_line_of[row.sku.lower()] = line
        if row_problems or row is None or line in pre_bad:
            problems.extend(row_problems)
            bad.append(line)
            bad_skus[line] = str(values.get("sku", ""))[:64]
        else:
            rows.append(row)
    problems.sort(key=lambda p: p.line)
    return Manifest(path, rows, problems, sorted(set(bad)), bad_skus)


def _norm_key(key: str) -> str:
    k = key.strip().lower().replace("-", "_").replace(" ", "_")
    return ALIASES.get(k, k)


def _csv_rows(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    reader = csv.reader(io.StringIO(text))
    problems: list[Problem] = []
    try:
        header = next(reader)
    except StopIteration:
        return [], [Problem(1, None, "the manifest is empty")]
    except csv.Error as exc:
        return [], [Problem(1, None, f"not CSV ({exc})")]
    keys = [_norm_key(h) for h in header]
    for k, h in zip(keys, header, strict=True):
        if k not in COLUMNS:
            problems.append(Problem(1, h or "(empty)", f"unknown column (expected {', '.join(COLUMNS[:12])}, "
                                                       "tryon_*)"))
    for k in ("path", "sku", "category"):
        if k not in keys:
            problems.append(Problem(1, k, "required column is missing"))
    if len(set(keys)) != len(keys):
        problems.append(Problem(1, None, "a column is given twice"))
    if problems:
        return [], problems
    rows: list[tuple[int, dict[str, Any]]] = []
    start = reader.line_num + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(keys):
                problems.append(Problem(line, None, f"{len(cells)} cells, the header has {len(keys)}"))
                continue
            rows.append((line, {k: c.strip() for k, c in zip(keys, cells, strict=True) if c.strip() != ""}))
    except csv.Error as exc:
        problems.append(Problem(start, None, f"not CSV ({exc})"))
    return rows, problems


def _jsonl_rows(text: str) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[Problem] = []
    for i, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(Problem(i, None, f"not JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(i, None, "expected a JSON object"))
            continue
        values: dict[str, Any] = {}
        for key, value in obj.items():
            k = _norm_key(str(key))
            if k == "tryon" and isinstance(value, dict):
                for tk, tv in value.items():
                    values[f"tryon_{_norm_key(str(tk))}"] = tv
            elif k not in COLUMNS:
                problems.append(Problem(i, str(key), "unknown field"))
            elif value is not None and value != "":
                values[k] = value
        rows.append((i, values))
    return rows, problems


def _text(values: Mapping[str, Any], key: str, line: int, problems: list[Problem], *, limit: int = 1000) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        problems.append(Problem(line, key, "expected text"))
        return None
    text = str(value).strip()
    if len(text) > limit:
        problems.append(Problem(line, key, f"longer than {limit} characters"))
        return None
    return text or None


def _check_row(line: int, values: Mapping[str, Any], base: Path, limits: Limits,
               problems: list[Problem]) -> ManifestRow | None:
    from ..catalog.repository import parse_category
    from ..publish import check_sku, parse_variants

    def guard(fieldname: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except AssetError as exc:
            problems.append(Problem(line, fieldname, exc.problem))
            return None

    source = _source(line, _text(values, "path", line, problems), base, limits, problems)
    sku = _text(values, "sku", line, problems, limit=200)
    if sku is not None:
        sku = guard("sku", check_sku, sku)
    elif "sku" not in values:
        problems.append(Problem(line, "sku", "required"))
    category_text = _text(values, "category", line, problems)
    category: Category | None = None
    if category_text is not None:
        category = guard("category", parse_category, category_text.lower())
    elif "category" not in values:
        problems.append(Problem(line, "category", "required"))
    name = _text(values, "name", line, problems, limit=200)
    units = (_text(values, "units", line, problems) or "m").lower()
    if units not in UNITS:
        problems.append(Problem(line, "units", f"{units!r} is not one of {', '.join(UNITS)}"))
    up = (_text(values, "up", line, problems) or "y").lower().lstrip("+")
    if up not in UPS:
        problems.append(Problem(line, "up", f"{up!r} is not one of {', '.join(UPS)}"))
    lods = _lods(values.get("lods"), line, problems)
    texture_format = (_text(values, "texture_format", line, problems) or "webp").lower()
    if texture_format not in TEXTURE_FORMATS:
        problems.append(Problem(line, "texture_format", f"{texture_format!r} is not one of "
                                                        f"{', '.join(TEXTURE_FORMATS)}"))
    texture_max_size = _texture_max_size(values.get("texture_max_size"), line, problems)
    lod_textures = _yes_no(values.get("lod_textures"), "lod_textures", True, line, problems)
    variants = _variants(values.get("variants"), line, problems)
    if variants:
        guard("variants", parse_variants, variants, [])
    note = _text(values, "note", line, problems, limit=2000)
    tryon = {k: values[f"tryon_{k}"] for k in TRYON_KEYS if f"tryon_{k}" in values}
    if tryon:
        tryon = _tryon(tryon, line, category, problems)
    if problems or source is None or sku is None or category is None:
        return None
    return ManifestRow(line=line, source=str(source), sku=sku, category=category.value, name=name, units=units,
                       up=up, lods=lods, texture_format=texture_format, texture_max_size=texture_max_size,
                       lod_textures=lod_textures, variants=tuple(variants), note=note, tryon=tryon)


def _source(line: int, text: str | None, base: Path, limits: Limits, problems: list[Problem]) -> Path | str | None:
    if text is None:
        problems.append(Problem(line, "path", "required"))
        return None
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        from .sources import BUCKET_SUFFIXES, split

        try:
            split(text)
        except AssetError as exc:
            problems.append(Problem(line, "path", exc.problem))
            return None
        if Path(parsed.path).suffix.lower() not in BUCKET_SUFFIXES:
            problems.append(Problem(line, "path", f"{text!r}: only single-file models ({', '.join(BUCKET_SUFFIXES)}) "
                                                  "can be read from a bucket"))
            return None
        return text  # existence and size are checked against the bucket (submit.check_manifest)
    if parsed.scheme == "file":
        candidate = Path(unquote(parsed.path))
    elif len(parsed.scheme) > 1:  # one letter: a Windows drive
        problems.append(Problem(line, "path", f"URL scheme {parsed.scheme!r} is not supported (a path, file: or "
                                              "s3://BUCKET/KEY)"))
        return None
    else:
        candidate = Path(text).expanduser()
    source = candidate if candidate.is_absolute() else base / candidate
    if source.suffix.lower() not in MODEL_SUFFIXES:
        problems.append(Problem(line, "path", f"{text!r}: not a model file ({', '.join(MODEL_SUFFIXES)})"))
        return None
    try:
        st = source.stat()
    except OSError:
        problems.append(Problem(line, "path", f"{text!r}: no such file"))
        return None
    if not source.is_file():
        problems.append(Problem(line, "path", f"{text!r}: not a regular file"))
        return None
    if st.st_size == 0:
        problems.append(Problem(line, "path", f"{text!r}: file is empty"))
        return None
    if st.st_size > limits.max_file_bytes:
        problems.append(Problem(line, "path", f"{text!r}: {st.st_size:,} bytes exceeds the limit of "
                                              f"{limits.max_file_bytes:,}"))
        return None
    return source.resolve()


def _texture_max_size(value: Any, line: int, problems: list[Problem]) -> int | None:
    from ..categories import TEXTURE_MAX_SIZE_MIN

    if value is None:
        return None
    text = str(value).strip()
    if isinstance(value, bool | float) or not text.isdigit():
        problems.append(Problem(line, "texture_max_size", f"{value!r} is not a whole number of pixels"))
        return None
    size = int(text)
    if size < TEXTURE_MAX_SIZE_MIN:
        problems.append(Problem(line, "texture_max_size", f"{size} is less than {TEXTURE_MAX_SIZE_MIN}"))
        return None
    return size


def _yes_no(value: Any, key: str, default: bool, line: int, problems: list[Problem]) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES or text in NO:
        return text in YES
    problems.append(Problem(line, key, f"{value!r} is not yes or no"))
    return default


def _lods(value: Any, line: int, problems: list[Problem]) -> tuple[float, ...]:
    if value is None:
        return DEFAULT_LODS
    if isinstance(value, str):
        if value.strip().lower() in ("none", "-", "0"):
            return ()
        parts: list[Any] = [v for v in value.replace(";", ",").split(",") if v.strip()]
    elif isinstance(value, list):
        parts = value
    else:
        problems.append(Problem(line, "lods", "expected ratios like 50,25,10"))
        return DEFAULT_LODS
    out: list[float] = []
    for part in parts:
        try:
            v = float(part)
        except (TypeError, ValueError):
            problems.append(Problem(line, "lods", f"{part!r} is not a number"))
            return DEFAULT_LODS
        v = v / 100 if v > 1 else v
        if not 0 < v <= 1:
            problems.append(Problem(line, "lods", f"{part!r}: each LOD ratio must be in (0, 1] (or 1-100 %)"))
            return DEFAULT_LODS
        out.append(v)
    if len(out) > 8:
        problems.append(Problem(line, "lods", "at most 8 LODs"))
    return tuple(out)


def _variants(value: Any, line: int, problems: list[Problem]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    problems.append(Problem(line, "variants", "expected NAME=VALUE;NAME=VALUE or a list of strings"))
    return []


def _tryon(attrs: dict[str, Any], line: int, category: Category | None, problems: list[Problem]) -> dict[str, Any]:
    from ..catalog.tryon_attributes import tryon_check

    typed: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str) and key == "intensity":
            try:
                value = float(value)
            except ValueError:
                problems.append(Problem(line, f"tryon_{key}", f"{value!r} is not a number"))
                return {}
        elif isinstance(value, str) and key == "wing":
            if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                problems.append(Problem(line, f"tryon_{key}", f"{value!r} is not true or false"))
                return {}
            value = value.lower() in ("true", "yes", "1")
        typed[key] = value
    try:
        checked = tryon_check()(typed)
    except AssetError as exc:
        problems.append(Problem(line, (exc.field or "tryon").replace("tryon.", "tryon_"), exc.problem))
        return {}
    if category is not None and checked.category != category:
        problems.append(Problem(line, "tryon_kind", f"{typed.get('kind')!r} needs category {checked.category.value}, "
                                                    f"not {category.value}"))
        return {}
    return checked.attrs
