"""Wavefront OBJ (+ MTL and textures) -> AssetDocument.

Written for the files artists really send: negative (relative) indices, polygons (concave ones are ear
clipped), per-vertex colors, several materials, ``mtllib`` names with spaces, Windows paths, texture
options. References past the end of the position list are an error; past the end of the texture
coordinate or normal lists, that attribute is dropped with a warning (normals are then generated or
left to the viewer).

The file is read in blocks of :data:`CHUNK_BYTES` that end at a line break, never as one text. A block whose
lines all have one shape (the same keyword, count of numbers and ``/`` pattern, as in the body of a scan
export: ``v x y z`` or ``f a/b/c ...`` lines only) is checked by shortening its runs of digits and spaces
(``bytes.translate`` and one numpy pass) and parsed by one call to numpy's C parser. Other blocks' lines
are classified with numpy (no Python object per line), the ``v``/``vt``/``vn`` numbers and ``f``
indices of the whole block are parsed by numpy's C parser in one call each, and the results go into
compact arrays (positions and texture coordinates float32, indices int32, normals float64 as before).
A block with anything unusual in it (line breaks other than LF/CRLF, non-ASCII bytes or NUL in a number
line, an index list whose ``/`` pattern varies, a value numpy's parser does not read exactly like Python's)
is parsed line by line as the earlier reader did, so both give the same document. Peak memory is the
output arrays plus a few blocks' worth: about 60 bytes per triangle above the interpreter's for a
positions-only scan export of 1M triangles (docs/benchmarks-assets.md).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..document import AssetDocument
from ..errors import InvalidAsset, LimitExceeded
from ..limits import Limits
from .mtl import MaterialBuilder, ObjMaterial, parse_mtl
from .polygons import MAX_POLYGON_CORNERS, triangulate
from .resources import ResourceResolver

logger = logging.getLogger(__name__)
_MTL_NAMES = re.compile(r"(.+?\.mtl)(?=\s|$)", re.IGNORECASE)
CHUNK_BYTES = 1024 * 1024
"""Bytes read and parsed at a time (each block is extended to the end of its last line)."""
_LONG_LINE = 4 * 1024 * 1024
_V, _VT, _VN, _F, _OTHER = 1, 2, 3, 4, 5
_KINDS = {_V: ("v", (3, 4, 6, 7)), _VT: ("vt", (2, 3)), _VN: ("vn", (3,))}
_SPACE = np.zeros(256, bool)
_SPACE[[9, 10, 13, 32]] = True
_CLASS = bytes(48 if b in b"0123456789+-.eE" else 32 if b == 9 else b for b in range(256))
"""``bytes.translate`` table for a block's shape: number bytes become ``0``, tabs spaces, other bytes stay."""
_BLANK = bytes(32 if b in b"vtnf/" else b for b in range(256))
_UNIFORM_LINE = re.compile(rb"(f|v|vt|vn)((?: 0(?:/0|/0/0|//0)?)+) ?\r?\n")
_KEYWORDS = {b"v": _V, b"vt": _VT, b"vn": _VN, b"f": _F}


def _corner_columns(vals: np.ndarray, no_texcoord: bool) -> np.ndarray:
    """Face corners as parsed (one row per corner: ``v``, ``v/vt``, ``v/vt/vn`` or ``v//vn`` numbers) ->
    (n, 3) int64 columns position, texcoord, normal, 0 where the corner names none."""
    corners = np.zeros((len(vals), 3), np.int64)
    if vals.shape[1] == 1:
        corners[:, 0] = vals[:, 0]
    elif no_texcoord:
        corners[:, 0], corners[:, 2] = vals[:, 0], vals[:, 1]
    else:
        corners[:, : vals.shape[1]] = vals
    return corners


def _floats_rows(lines: list[str], path: Path, what: str, sizes: tuple[int, ...]) -> tuple[np.ndarray, int | None]:
    """Numbers of ``lines`` (float64) and their common width when every line has the same width and it is one
    of ``sizes`` (None: trimmed to ``sizes[0]`` columns); InvalidAsset for short lines or non-numbers."""
    rows = [ln.split() for ln in lines]
    width = len(rows[0])
    try:
        if all(len(r) == width for r in rows) and width in sizes:
            return np.array(" ".join(lines).split(), dtype=np.float64).reshape(len(rows), width), width
        w = min(sizes[0], min(len(r) for r in rows))
        if w < sizes[0]:
            raise InvalidAsset(f"a {what} line has fewer than {sizes[0]} numbers", path=path, field=what)
        return np.array([r[:w] for r in rows], dtype=np.float64), None
    except ValueError:
        raise InvalidAsset(f"a {what} line holds a value that is not a number", path=path, field=what) from None


@dataclass
class _Block:
    """What one block of lines holds, before it is added to the totals."""

    floats: dict[int, list[tuple[np.ndarray, int | None]]] = field(default_factory=dict)
    columns: list[np.ndarray | None] | None = None
    """v, vt, vn index of every corner (int64, zero-based, -2 where absent, negative indices resolved); None for
    a column no corner of the block names."""
    counts: np.ndarray | None = None
    events: list[tuple[int, str, str]] = field(default_factory=list)
    """(faces before it in the block, keyword, rest of the line) of the other lines, in order."""


@dataclass
class _Column:
    """One corner column (v, vt or vn) over the whole file: int32 parts and what was seen."""

    parts: list[np.ndarray] = field(default_factory=list)
    present: bool = False
    absent: bool = False
    low: int = 0
    high: int = 0

    def add(self, values: np.ndarray | None, count: int, always: bool) -> None:
        """Record ``values`` of ``count`` corners (resolved, -2 = absent; None: all absent); they are kept while
        no corner lacks this column (the column is dropped otherwise) or ``always``."""
        if values is None:
            self.absent |= count > 0
            if not always:
                self.parts = []
            return
        lo, hi = (int(values.min()), int(values.max())) if len(values) else (0, 0)
        n_missing = int(np.count_nonzero(values == -2)) if lo <= -2 else 0
        self.absent |= n_missing > 0
        self.present |= n_missing < len(values)
        if len(values):
            self.low = min(self.low, lo)
            self.high = max(self.high, hi)
        if always or not self.absent:
            info = np.iinfo(np.int32)
            fits = info.min <= lo and hi <= info.max
            self.parts.append(values.astype(np.int32) if fits else np.clip(values, info.min, info.max).astype(np.int32))
        else:
            self.parts = []

    def array(self) -> np.ndarray:
        """The column's values as one int32 array (its parts are released)."""
        out = np.concatenate(self.parts) if len(self.parts) != 1 else self.parts[0]
        self.parts = []
        return out


class _Parser:
    """Accumulates an OBJ file block by block into compact arrays (see the module docstring)."""

    def __init__(self, path: Path, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self.totals = {_V: 0, _VT: 0, _VN: 0}
        self.floats: dict[int, list[tuple[np.ndarray, np.ndarray | None, int | None, bool]]] = {
            _V: [], _VT: [], _VN: []}
        self.columns = [_Column(), _Column(), _Column()]
        self.count_parts: list[np.ndarray] = []
        self.faces = 0
        self.corners = 0
        self.slot_changes: list[tuple[int, int]] = [(0, 0)]
        self.mat_names: list[str | None] = [None]
        self.mtllibs: list[str] = []
        self.name: str | None = None
        self.skipped = 0

    # --- reading ------------------------------------------------------------------------------------
    def blocks(self, read: Callable[[int], bytes]) -> Iterator[bytes]:
        """Blocks of about CHUNK_BYTES that end after a line break (the last one may not)."""
        carry: list[bytes] = []
        carried = 0
        checked = _LONG_LINE
        while True:
            block = read(CHUNK_BYTES)
            if not block:
                if carry:
                    yield b"".join(carry)
                return
            cut = block.rfind(b"\n")
            if cut < 0:
                carry.append(block)
                carried += len(block)
                if carried > checked:  # one huge line: refuse an f line with too many corners before parsing it
                    checked *= 2
                    self._check_long_line(b"".join(carry))
                continue
            head = b"".join([*carry, block[: cut + 1]]) if carry else block[: cut + 1]
            carry = [block[cut + 1:]] if cut + 1 < len(block) else []
            carried, checked = len(block) - cut - 1, _LONG_LINE
            yield head

    def _check_long_line(self, line: bytes) -> None:
        start = line.rfind(b"\n") + 1
        if line[start: start + 1] == b"f" and line[start + 1: start + 2] in (b" ", b"\t"):
            u = np.frombuffer(line, np.uint8, offset=start)
            word = ~_SPACE[u]
            corners = int(np.count_nonzero(word[1:] & ~word[:-1])) + int(word[0]) - 1
            if corners > MAX_POLYGON_CORNERS:
                raise LimitExceeded(f"face {self.faces + 1}: polygon corners", corners, MAX_POLYGON_CORNERS,
                                    path=self.path, field="f")

    def feed(self, chunk: bytes, first: bool) -> None:
        """Parse one block and add it to the totals."""
        if first and "\0" in chunk[:16384].decode("utf-8", errors="replace")[:4096]:
            raise InvalidAsset("not a text OBJ file (binary data)", path=self.path)
        block = self._fast(chunk)
        if block is None:
            block = self._slow(chunk)
        self._add(block)

    # --- one block ----------------------------------------------------------------------------------
    def _fast(self, chunk: bytes) -> _Block | None:
        """The block parsed with numpy, or None when it needs the line-by-line parser."""
        u = np.frombuffer(chunk, np.uint8)
        uniform = self._uniform(chunk)
        if uniform is not None:
            return uniform
        n = len(u)
        cr = np.flatnonzero(u == 13)
        nl = np.flatnonzero(u == 10)
        if np.count_nonzero(u < 32) != len(cr) + len(nl) + np.count_nonzero(u == 9):
            return None  # NUL, other control bytes, or line breaks of str.splitlines such as FF or VT
        if len(cr) and (u[np.minimum(cr + 1, n - 1)][cr + 1 < n] != 10).any():
            return None  # a CR alone is a line break for str.splitlines
        starts = np.concatenate([[0], nl + 1])
        ends = np.concatenate([nl, [n]])
        if starts[-1] == n:
            starts, ends = starts[:-1], ends[:-1]
        up = np.concatenate([u, np.full(3, 10, np.uint8)])
        c0, c1, c2 = up[starts], up[starts + 1], up[starts + 2]
        sep1 = (c1 == 32) | (c1 == 9)
        kind = np.zeros(len(starts), np.int8)
        is_v = c0 == 118
        kind[is_v & sep1] = _V
        kind[is_v & (c1 == 116)] = _VT
        kind[is_v & (c1 == 110)] = _VN
        kind[(c0 == 102) & sep1] = _F
        kind[~is_v & (c0 != 35) & (kind == 0) & (starts < ends)] = _OTHER
        numeric = (kind >= _V) & (kind <= _F)
        offset = np.where((kind == _VT) | (kind == _VN), 3, 2)
        body = np.minimum(starts + offset, ends)
        if (((kind == _VT) | (kind == _VN)) & (ends > starts + 2) & ~_SPACE[c2]).any():
            return None  # "vt0.5": the earlier reader cut the keyword by length; leave that to it
        high = np.flatnonzero(u >= 128)
        if len(high) and (b"\xc2\x85" in chunk or b"\xe2\x80\xa8" in chunk or b"\xe2\x80\xa9" in chunk):
            return None  # NEL, LS, PS: line breaks for str.splitlines
        if len(high) and numeric[np.searchsorted(starts, high, side="right") - 1].any():
            return None  # non-ASCII in a number line
        word_start = u > 32  # the only bytes below 33 left are space, tab, CR and LF
        word_start[1:] &= u[:-1] <= 32
        whole = np.count_nonzero(starts < ends)
        out = _Block()
        for k, (what, sizes) in _KINDS.items():
            sel = np.flatnonzero(kind == k)
            if not len(sel):
                continue
            widths = _segment_sums(word_start, body[sel], ends[sel])
            text = _bodies(u, starts[sel], body[sel], ends[sel], len(sel) == whole)
            values = _parse_numbers(text, np.float64, int(widths.sum()))
            if values is None:
                return None
            w0 = int(widths[0])
            if (widths == w0).all() and w0 in sizes:
                out.floats[k] = [(values.reshape(len(sel), w0), w0)]
            else:
                if int(widths.min()) < sizes[0]:
                    raise InvalidAsset(f"a {what} line has fewer than {sizes[0]} numbers", path=self.path,
                                       field=what)
                first = np.concatenate([[0], np.cumsum(widths)[:-1]])
                rows = first[:, None] + np.arange(sizes[0])
                out.floats[k] = [(values[rows], None)]
        faces = np.flatnonzero(kind == _F)
        if len(faces):
            text = _bodies(u, starts[faces], body[faces], ends[faces], len(faces) == whole)
            block = self._fast_faces(text, faces, body[faces], ends[faces], word_start, kind)
            if block is None:
                return None
            out.columns, out.counts = block
        others = np.flatnonzero(kind == _OTHER)
        for i, before in zip(others.tolist(), np.searchsorted(faces, others).tolist(), strict=True):
            parts = chunk[starts[i]: ends[i]].decode("utf-8", errors="replace").strip().split(None, 1)
            if parts:
                out.events.append((before, parts[0], parts[1] if len(parts) > 1 else ""))
        return out

    def _fast_faces(self, text: np.ndarray, faces: np.ndarray, body: np.ndarray, ends: np.ndarray,
                    word_start: np.ndarray, kind: np.ndarray) -> tuple[list[np.ndarray | None], np.ndarray] | None:
        counts = _segment_sums(word_start, body, ends)
        self._check_counts(counts)
        word = text > 32
        first = np.flatnonzero(word & ~np.concatenate([[False], word[:-1]]))
        last = np.flatnonzero(word & ~np.concatenate([word[1:], [False]])) + 1
        if not len(first):
            return None
        slash = text == 47
        per_slash = _segment_sums(slash, first, last)
        per_double = _segment_sums(slash[1:] & slash[:-1], first, last - 1)
        s, d = int(per_slash[0]), int(per_double[0])
        if (per_slash != s).any() or (per_double != d).any() or s > 2 or (d and s != 2):
            return None
        width = s + 1 - d
        text[slash] = 32
        if int((last - first).max()) > 18 and _longest_word(text) > 18:
            return None  # an index of 19 digits or more: the line-by-line parser says what is wrong
        values = _parse_numbers(text, np.int64, len(first) * width)
        if values is None:
            return None

        def before(k: int) -> np.ndarray:  # elements of kind k defined before each corner's face
            return np.repeat(np.cumsum(kind == k)[faces] + self.totals[k], counts)

        return _index_columns(values, width, bool(d), before), counts

    def _uniform(self, chunk: bytes) -> _Block | None:
        """The block parsed in one go when all its lines have the same shape: the same keyword (``v``, ``vt``,
        ``vn`` or ``f``), count of numbers and ``/`` pattern, only spaces or tabs between them, ending in LF or
        CRLF (a scan export's body); None otherwise (the general path then decides)."""
        if not chunk.endswith(b"\n"):
            return None
        cls = np.frombuffer(chunk.translate(_CLASS), np.uint8)
        runs = (cls == 48) | (cls == 32)
        runs[1:] &= cls[1:] == cls[:-1]
        runs[0] = False
        shape = cls[~runs].tobytes()  # each line with its runs of number bytes and of spaces shortened to one
        line = shape[: shape.find(b"\n") + 1]
        match = _UNIFORM_LINE.fullmatch(line)
        if match is None or len(shape) % len(line) or shape != line * (len(shape) // len(line)):
            return None
        kw, tokens = _KEYWORDS[match.group(1)], match.group(2)
        lines = len(shape) // len(line)
        count = tokens.count(b" ")
        text = chunk.translate(_BLANK)
        out = _Block()
        if kw != _F:
            if b"/" in tokens:
                return None
            what, sizes = _KINDS[kw]
            values = _parse_numbers(text, np.float64, lines * count)
            if values is None:
                return None
            rows = values.reshape(lines, count)
            if count in sizes:
                out.floats[kw] = [(rows, count)]
            elif count < sizes[0]:
                raise InvalidAsset(f"a {what} line has fewer than {sizes[0]} numbers", path=self.path, field=what)
            else:
                out.floats[kw] = [(np.ascontiguousarray(rows[:, : sizes[0]]), None)]
            return out
        counts = np.full(lines, count, np.int64)
        self._check_counts(counts)
        first = tokens.split()[0]
        double = b"//" in first
        width = first.count(b"/") + 1 - double
        values = _parse_numbers(text, np.int64, lines * count * width)
        if values is None or int(values.max()) == np.iinfo(np.int64).max:
            return None  # not integers, or one past int64 (numpy saturates): the line-by-line parser says which
        totals = self.totals
        out.columns = _index_columns(values, width, double, lambda k: np.int64(totals[k]))
        out.counts = counts
        return out

    def _check_counts(self, counts: np.ndarray) -> None:
        if counts.min() < 3:
            raise InvalidAsset("a face has fewer than 3 corners", path=self.path, field="f")
        big = np.flatnonzero(counts > MAX_POLYGON_CORNERS)
        if len(big):
            raise LimitExceeded(f"face {self.faces + int(big[0]) + 1}: polygon corners", int(counts[big[0]]),
                                MAX_POLYGON_CORNERS, path=self.path, field="f")

    def _slow(self, chunk: bytes) -> _Block:
        """The block parsed line by line, as the earlier reader parsed whole files."""
        lines: dict[int, list[str]] = {_V: [], _VT: [], _VN: []}
        faces: list[str] = []
        relative: dict[int, tuple[int, int, int]] = {}
        out = _Block()
        for line in chunk.decode("utf-8", errors="replace").splitlines():
            if not line or line[0] == "#":
                continue
            c0 = line[0]
            if c0 == "v":
                c1 = line[1:2]
                if c1 == " " or c1 == "\t":
                    lines[_V].append(line[2:])
                elif c1 == "t":
                    lines[_VT].append(line[3:])
                elif c1 == "n":
                    lines[_VN].append(line[3:])
                continue
            if c0 == "f" and line[1:2] in (" ", "\t"):
                if len(line) > 2 * MAX_POLYGON_CORNERS and len(line.split()) - 1 > MAX_POLYGON_CORNERS:
                    raise LimitExceeded(f"face {self.faces + len(faces) + 1}: polygon corners", len(line.split()) - 1,
                                        MAX_POLYGON_CORNERS, path=self.path, field="f")
                if "-" in line:
                    relative[len(faces)] = tuple(self.totals[k] + len(lines[k]) for k in (_V, _VT, _VN))  # type: ignore[assignment]
                faces.append(line[2:])
                continue
            parts = line.strip().split(None, 1)
            if parts:
                out.events.append((len(faces), parts[0], parts[1] if len(parts) > 1 else ""))
        for k, (what, sizes) in _KINDS.items():
            if lines[k]:
                out.floats[k] = [_floats_rows(lines[k], self.path, what, sizes)]
        if faces:
            corners, out.counts = _corners(faces, relative, self.path)
            out.columns = [corners[:, 0], corners[:, 1], corners[:, 2]]
            self._check_counts(out.counts)
        return out

    # --- totals -------------------------------------------------------------------------------------
    def _add(self, block: _Block) -> None:
        for k, parts in block.floats.items():
            what = _KINDS[k][0]
            for arr, width in parts:
                self.totals[k] += len(arr)
                if k == _V:
                    if not np.isfinite(arr[:, :3]).all():
                        raise InvalidAsset(f"{what} holds NaN or infinite values", path=self.path, field=what)
                    extra = arr[:, 3:]
                    colors = arr[:, 3:6].astype(np.float32) if arr.shape[1] >= 6 else None
                    self.floats[k].append((arr[:, :3].astype(np.float32), colors, width,
                                           bool(np.isfinite(extra).all())))
                elif k == _VT:
                    if not np.isfinite(arr[:, :2]).all():
                        raise InvalidAsset(f"{what} holds NaN or infinite values", path=self.path, field=what)
                    self.floats[k].append((arr[:, :2].astype(np.float32), None, width,
                                           bool(np.isfinite(arr[:, 2:]).all())))
                else:
                    if not np.isfinite(arr).all():
                        raise InvalidAsset(f"{what} holds NaN or infinite values", path=self.path, field=what)
                    self.floats[k].append((np.ascontiguousarray(arr[:, :3]), None, width, True))
        if self.totals[_V] > self.limits.max_elements:
            raise LimitExceeded("vertex count", self.totals[_V], self.limits.max_elements, path=self.path)
        for first, key, rest in block.events:
            if key == "usemtl":
                mname = rest.strip()
                if mname not in self.mat_names:
                    self.mat_names.append(mname)
                self.slot_changes.append((self.faces + first, self.mat_names.index(mname)))
            elif key == "mtllib":
                self.mtllibs.extend(m.strip() for m in _MTL_NAMES.findall(rest.strip()) or [rest.strip()])
            elif key == "o" and self.name is None:
                self.name = rest.strip() or None
            elif key in ("l", "p"):
                self.skipped += 1
        if block.columns is None or block.counts is None:
            return
        n_corners = len(block.columns[0]) if block.columns[0] is not None else 0
        self.faces += len(block.counts)
        self.corners += n_corners
        if self.corners > self.limits.max_elements:
            raise LimitExceeded("face corner count", self.corners, self.limits.max_elements, path=self.path)
        self.count_parts.append(block.counts.astype(np.int32))
        for c, column in enumerate(self.columns):
            column.add(block.columns[c], n_corners, always=c == 0)

    def float_array(self, k: int, colors: bool = False) -> np.ndarray | None:
        """All rows of one kind (v: positions, or their colors when ``colors``), by the earlier reader's rules:
        colors only when every v line has the same width of 6 or 7."""
        parts = self.floats[k]
        sizes = _KINDS[k][1]
        if not parts:
            return None if colors else np.zeros((0, sizes[0] if k != _VT else 2), np.float32 if k != _VN else
                                                np.float64)
        widths = {w for _, _, w, _ in parts}
        uniform = len(widths) == 1 and None not in widths
        width = widths.pop() if uniform else sizes[0]
        if width is not None and width > sizes[0] and not all(ok for *_, ok in parts):
            what = _KINDS[k][0]
            raise InvalidAsset(f"{what} holds NaN or infinite values", path=self.path, field=what)
        if colors:
            if width is None or width < 6:
                return None
            return np.concatenate([c for _, c, _, _ in parts if c is not None])
        out = np.concatenate([a for a, _, _, _ in parts]) if len(parts) > 1 else parts[0][0]
        return out


def _index_columns(values: np.ndarray, width: int, no_texcoord: bool,
                   before: Callable[[int], np.ndarray]) -> list[np.ndarray | None]:
    """Face indices as parsed (``width`` numbers a corner: ``v``, ``v/vt``, ``v/vt/vn`` or ``v//vn``) -> the v, vt
    and vn column (int64, zero-based, -2 for 0, negative ones counted back from ``before(kind)``: the elements of
    that kind defined before each corner's face), None for a column the corners do not name."""
    rows = values.reshape(-1, width)
    where = (0, None, 1) if no_texcoord else (0, 1 if width > 1 else None, 2 if width > 2 else None)
    out: list[np.ndarray | None] = []
    for k, j in zip((_V, _VT, _VN), where, strict=True):
        if j is None:
            out.append(None)
            continue
        raw = rows[:, j]
        col = raw - 1
        if len(raw) and int(raw.min()) <= 0:
            negative = raw < 0
            if negative.any():
                col = np.where(negative, before(k) + raw, col)
            col[raw == 0] = -2
        out.append(col)
    return out


def _segment_sums(flags: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """How many of ``flags[lo:hi]`` are set, for each segment (segments in order, not overlapping)."""
    at = np.flatnonzero(flags)
    return np.searchsorted(at, hi) - np.searchsorted(at, lo)


def _longest_word(text: np.ndarray) -> int:
    """Length of the longest run of non-whitespace bytes in ``text``."""
    word = text > 32
    first = np.flatnonzero(word & ~np.concatenate([[False], word[:-1]]))
    last = np.flatnonzero(word & ~np.concatenate([word[1:], [False]])) + 1
    return int((last - first).max(initial=0))


def _bodies(u: np.ndarray, starts: np.ndarray, body: np.ndarray, ends: np.ndarray, whole: bool) -> np.ndarray:
    """The text of the lines' bodies (keywords left out), separated by whitespace; ``whole``: these are all the
    block's non-empty lines, so the block is copied with the keywords blanked."""
    if not whole:
        return _spans(u, body, ends)
    text = u.copy()
    for k in range(int((body - starts).max(initial=0))):
        at = starts + k
        text[at[at < body]] = 32
    return text


def _spans(u: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The bytes of the ranges [start, end] (each with the byte after it: a separator), as one array."""
    mark = np.zeros(len(u) + 1, np.int8)
    mark[start] += 1
    mark[np.minimum(end + 1, len(u))] -= 1
    return u[np.cumsum(mark[:-1], dtype=np.int8).view(bool)]


def _parse_numbers(text: np.ndarray | bytes, dtype: type, expected: int) -> np.ndarray | None:
    """The whitespace-separated numbers of ``text``; None unless exactly ``expected`` were read."""
    if expected == 0:
        return np.zeros(0, dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # "could not be read to its end": text after the last number
        try:
            values = np.fromstring(text if isinstance(text, bytes) else text.tobytes(), dtype=dtype, sep=" ")
        except ValueError:
            return None
    return values if len(values) == expected and not caught else None


def read_obj(path: Path, data: bytes, limits: Limits) -> AssetDocument:
    """Read OBJ bytes (and its MTL files and textures) into an AssetDocument; InvalidAsset naming the line otherwise."""
    view = memoryview(data)
    pos = 0

    def read(size: int) -> bytes:
        nonlocal pos
        out = bytes(view[pos: pos + size])
        pos += size
        return out

    return _read(path, read, limits)


def read_obj_file(path: Path, limits: Limits) -> AssetDocument:
    """Read an OBJ file block by block (its text is never held whole) into an AssetDocument."""
    with path.open("rb") as f:
        return _read(path, f.read, limits)


def _read(path: Path, read: Callable[[int], bytes], limits: Limits) -> AssetDocument:
    parser = _Parser(path, limits)
    for i, chunk in enumerate(parser.blocks(read)):
        parser.feed(chunk, i == 0)
    if not parser.faces:
        raise InvalidAsset("no faces (f lines) found", path=path)
    doc = AssetDocument.empty()
    doc.source = str(path)
    if parser.skipped:
        doc.warn(f"{path.name}: {parser.skipped} line/point elements ignored (only faces are converted)")
    positions = parser.float_array(_V)
    colors = parser.float_array(_V, colors=True)
    uvs = parser.float_array(_VT)
    normals = parser.float_array(_VN)
    assert positions is not None and uvs is not None and normals is not None
    parser.floats = {}
    nv, nt, nn = len(positions), len(uvs), len(normals)
    cv, ct, cn = parser.columns
    if cv.low < 0 or cv.high >= nv:
        bad = cv.high + 1 if cv.high >= nv else cv.low + 1
        raise InvalidAsset(f"a face refers to vertex {bad}, but only {nv} vertices are defined", path=path,
                           field="f")
    has_t, has_n = ct.present, cn.present
    if has_t and (ct.absent or ct.low < 0 or ct.high >= nt):
        doc.warn(f"{path.name}: texture coordinates are missing or out of range for some faces; dropped")
        has_t = False
    if has_n and (cn.absent or cn.low < 0 or cn.high >= nn):
        doc.warn(f"{path.name}: normals are missing or out of range for some faces; dropped")
        has_n = False
    counts = np.concatenate(parser.count_parts) if len(parser.count_parts) != 1 else parser.count_parts[0]
    parser.count_parts = []
    vi = cv.array()
    ti = ct.array() if has_t else None
    ni = cn.array() if has_n else None
    uniq, inverse = _unique_corners(vi, ti, ni, (nv, nt, nn))
    del vi, ti, ni
    pos = positions[uniq[0]]
    del positions
    tris = _triangles(counts, inverse, pos)
    del inverse
    resolver = ResourceResolver(path, limits)
    builder = MaterialBuilder(resolver, doc.warn)
    materials = _load_materials(parser.mtllibs, resolver, doc, path)
    attrs: dict[str, Any] = {"POSITION": doc.add_accessor(pos)}
    if uniq[1] is not None:
        uv = uvs[uniq[1]]
        uv[:, 1] = 1.0 - uv[:, 1]
        attrs["TEXCOORD_0"] = doc.add_accessor(uv)
    del uvs
    if uniq[2] is not None:
        nrm = normals[uniq[2]]
        length = np.linalg.norm(nrm, axis=1, keepdims=True)
        nrm = np.where(length > 1e-12, nrm / np.maximum(length, 1e-12), [0.0, 0.0, 1.0])
        attrs["NORMAL"] = doc.add_accessor(nrm.astype(np.float32))
    del normals
    if colors is not None:
        attrs["COLOR_0"] = doc.add_accessor(np.clip(colors[uniq[0]], 0, 1))
    gl_materials: list[dict[str, Any]] = []
    primitives = []
    for slot, slot_tris in _by_slot(parser.slot_changes, counts, tris):
        mname = parser.mat_names[slot]
        prim: dict[str, Any] = {"attributes": dict(attrs),
                                "indices": doc.add_accessor(slot_tris.reshape(-1).astype(np.uint32))}
        if mname is not None:
            m = materials.get(mname)
            if m is None:
                doc.warn(f"{path.name}: material {mname!r} is not defined in any MTL file; default used")
                m = ObjMaterial(mname)
            gl_materials.append(builder.material(m))
            prim["material"] = len(gl_materials) - 1
        primitives.append(prim)
    if gl_materials:
        doc.gltf["materials"] = gl_materials
    if builder.textures:
        doc.gltf["textures"] = builder.textures
        from ..document import Image

        doc.images = [Image(d, mime, n) for d, mime, n in builder.images]
    mesh_name = parser.name or path.stem
    doc.gltf["meshes"] = [{"name": mesh_name, "primitives": primitives}]
    doc.gltf["nodes"] = [{"name": mesh_name, "mesh": 0}]
    doc.gltf["scenes"][0]["nodes"] = [0]
    return doc


def _unique_corners(vi: np.ndarray, ti: np.ndarray | None, ni: np.ndarray | None,
                    sizes: tuple[int, int, int]) -> tuple[list[np.ndarray | None], np.ndarray]:
    """The distinct (v, vt, vn) corners, sorted as ``np.unique`` sorts their combined key, as one array per
    column (None for an absent column), and each corner's index among them (int32)."""
    cols = [c for c in (ti, ni) if c is not None]
    if all(np.array_equal(c, vi) for c in cols):
        # positions only, or scan exports that write f 1/1/1: which vertices are used, in O(n)
        used = np.zeros(sizes[0], bool)
        used[vi] = True
        uniq_v = np.flatnonzero(used)
        rank = np.cumsum(used, dtype=np.int32) - 1
        del used
        inverse = rank[vi]
        return [uniq_v, uniq_v if ti is not None else None, uniq_v if ni is not None else None], inverse
    present = [(c, max(s, 1)) for c, s in zip((vi, ti, ni), sizes, strict=True) if c is not None]
    if float(np.prod([s for _, s in present], dtype=np.float64)) < 2.0**62:
        key = np.zeros(len(vi), np.int64)
        for c, size in present:
            key *= size
            key += c
        uniq_key, inverse = np.unique(key, return_inverse=True)
        del key
        decoded: list[np.ndarray] = []
        for _, size in reversed(present):
            decoded.append(uniq_key % size)
            uniq_key //= size
        decoded.reverse()
    else:
        uniq_rows, inverse = np.unique(np.stack([c for c, _ in present], axis=1), axis=0, return_inverse=True)
        decoded = [uniq_rows[:, j] for j in range(len(present))]
    it = iter(decoded)
    out = [next(it), next(it) if ti is not None else None, next(it) if ni is not None else None]
    return out, inverse.reshape(-1).astype(np.int32)


def _by_slot(changes: list[tuple[int, int]], counts: np.ndarray,
             tris: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(material slot, its triangles) for every slot that has triangles, in slot order."""
    n_faces = len(counts)
    starts = [min(first, n_faces) for first, _ in changes]
    ends = [*starts[1:], n_faces]
    used = {slot for (_, slot), s, e in zip(changes, starts, ends, strict=True) if e > s}
    if len(used) == 1:
        yield used.pop(), tris
        return
    slots = np.zeros(n_faces, np.int32)
    for (_, slot), s, e in zip(changes, starts, ends, strict=True):
        slots[s:e] = slot
    tri_slots = np.repeat(slots, counts - 2)
    for slot in sorted(used):
        yield slot, tris[tri_slots == slot]


def _load_materials(names: list[str], resolver: ResourceResolver, doc: AssetDocument,
                    path: Path) -> dict[str, ObjMaterial]:
    out: dict[str, ObjMaterial] = {}
    for n in names:
        try:
            data = resolver.read_relative(n, "mtllib", lenient=True)
        except InvalidAsset as exc:
            doc.warn(f"{path.name}: material library {n!r} skipped ({exc.problem})")
            continue
        out.update(parse_mtl(data.decode("utf-8", errors="replace")))
    return out


def _corners(faces: list[str], relative: dict[int, tuple[int, int, int]], path: Path) -> tuple[np.ndarray,
                                                                                               np.ndarray]:
    """(corners (k, 3) int64 zero-based v/vt/vn, -2 = absent) and the corner count of each face."""
    joined = re.sub(r"[ \t]+", " ", "\n".join(faces))
    lines = re.sub(r" ?\n ?", "\n", joined).strip(" ").split("\n")
    counts = np.fromiter((ln.count(" ") + 1 if ln else 0 for ln in lines), np.int64, len(lines))
    if counts.min() < 3:
        raise InvalidAsset("a face has fewer than 3 corners", path=path, field="f")
    tokens_text = " ".join(lines)
    first = tokens_text[: tokens_text.find(" ")]
    n_tokens = int(counts.sum())
    slashes = first.count("/")
    double = "//" in first
    uniform = (tokens_text.count("/") == slashes * n_tokens
               and tokens_text.count("//") == (n_tokens if double else 0))
    try:
        if uniform:
            flat = np.array(tokens_text.replace("//", "/").replace("/", " ").split(), dtype=np.int64)
            width = slashes + 1 - (1 if double else 0)
            corners = _corner_columns(flat.reshape(n_tokens, width), double)
        else:
            corners = np.zeros((n_tokens, 3), np.int64)
            for k, t in enumerate(tokens_text.split()):
                for j, part in enumerate(t.split("/")[:3]):
                    if part:
                        corners[k, j] = int(part)
    except ValueError:
        raise InvalidAsset("a face index is not an integer", path=path, field="f") from None
    absent = corners == 0
    out = corners - 1
    if relative:  # negative indices count back from the elements defined before their face
        totals = np.zeros((len(faces), 3), np.int64)
        for face, counts_then in relative.items():
            totals[face] = counts_then
        per_corner = np.repeat(totals, counts, axis=0)
        out = np.where(corners > 0, corners - 1, per_corner + corners)
    out[absent] = -2
    return out, counts


def _triangles(counts: np.ndarray, inverse: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Triangles of every face: triangles as they are, quads split along the diagonal that keeps both
    halves facing the same way (so concave quads come out right), larger polygons one by one."""
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    if (counts == 3).all():
        return inverse.reshape(-1, 3)
    first = np.concatenate([[0], np.cumsum(counts - 2)[:-1]])
    out = np.empty((int((counts - 2).sum()), 3), inverse.dtype)
    tri = counts == 3
    out[first[tri]] = inverse[starts[tri, None] + np.arange(3)]
    quad = counts == 4
    if quad.any():
        q = inverse[starts[quad, None] + np.arange(4)]
        p = positions[q].astype(np.float64)
        n1 = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        n2 = np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0])
        alt = (n1 * n2).sum(axis=1) < 0
        a = np.where(alt[:, None], q[:, [0, 1, 3]], q[:, [0, 1, 2]])
        b = np.where(alt[:, None], q[:, [1, 2, 3]], q[:, [0, 2, 3]])
        out[first[quad]] = a
        out[first[quad] + 1] = b
    for s, c, k in zip(starts[counts > 4].tolist(), counts[counts > 4].tolist(), first[counts > 4].tolist(),
                       strict=True):
        poly = inverse[s: s + c]
        for j, (a_, b_, d_) in enumerate(triangulate(poly.tolist(), positions)):
            out[k + j] = (poly[a_], poly[b_], poly[d_])
    return out
