"""Errors raised by the asset pipeline.

Hierarchy::

    AssetError                    base: every problem the pipeline reports to a user
    ├── InvalidAsset              the input breaks its format's rules (bad header, JSON, ranges, NaN, ...)
    │   ├── UnsafeURI             a resource URI points outside the asset's folder or is absolute
    │   └── CsvRejected           a CSV import with bad lines (``lines``: one LineError per bad line)
    ├── UnsupportedFormat         a file type or feature that the pipeline cannot read
    ├── LimitExceeded             a configured limit (bytes, pixels, counts, depth) would be passed
    ├── MissingEncoder            an optional codec asked for is not installed
    ├── PipelineFailure           our own failure (a codec crashed, the output did not validate)
    ├── NotFound                  an unknown SKU, version or stored object
    ├── Conflict                  a request that contradicts the catalog (same SKU, another category)
    ├── Unauthorized              a missing, wrong or expired API token
    ├── Forbidden                 a valid token without the role the request needs
    └── StorageError              the object store is unreachable, refuses the credentials or corrupts data

Each error keeps structured fields (``path``, ``field``, ``problem``) and renders a single line
``<file>: <field>: <problem>`` so that every adapter (CLI, HTTP) can show it as it is.
"""

from __future__ import annotations

from pathlib import Path


class AssetError(Exception):
    """Base of every error the asset pipeline raises for a user to read."""

    code = "asset_error"
    user_error = True

    def __init__(self, problem: str, *, path: str | Path | None = None, field: str | None = None) -> None:
        self.problem = problem
        self.path = str(path) if path is not None else None
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.path and Path(self.path).name, self.field, self.problem) if p]
        return ": ".join(parts)

    def at(self, path: str | Path) -> AssetError:
        """Attach the file name if the error does not carry one yet, and return self."""
        if self.path is None:
            self.path = str(path)
            self.args = (str(self),)
        return self

    def to_dict(self) -> dict[str, str | None]:
        """Return the error as ``{code, message, path, field}``."""
        return {"code": self.code, "message": str(self), "path": self.path, "field": self.field}


class InvalidAsset(AssetError):
    """The input is not a valid model (or a value given is not valid)."""
    code = "invalid_asset"


class UnsafeURI(InvalidAsset):
    """The model refers to a file outside its folder, an absolute path or a URL."""
    code = "unsafe_uri"


class LineError:
    """One bad line of an imported file: its number (1 = the header), the column and the problem."""

    __slots__ = ("field", "line", "problem")

    def __init__(self, line: int, field: str | None, problem: str) -> None:
        self.line, self.field, self.problem = line, field, problem

    def __str__(self) -> str:
        return f"line {self.line}: " + (f"{self.field}: " if self.field else "") + self.problem

    def to_dict(self) -> dict[str, object]:
        """JSON form: line, field, message."""
        return {"line": self.line, "field": self.field, "message": self.problem}


class CsvRejected(InvalidAsset):
    """A CSV import refused as a whole; ``lines`` holds one error per bad line (nothing was written)."""

    code = "invalid_csv"

    def __init__(self, lines: list[LineError], *, path: str | Path | None = None) -> None:
        self.lines = lines
        more = f" (and {len(lines) - 1} more bad lines)" if len(lines) > 1 else ""
        super().__init__(f"{lines[0]}{more}; nothing was imported", path=path)

    def to_dict(self) -> dict[str, object]:  # type: ignore[override]
        """The usual error fields plus ``lines``."""
        return {**super().to_dict(), "lines": [e.to_dict() for e in self.lines]}


class UnsupportedFormat(AssetError):
    """The file's format is not one the pipeline reads."""
    code = "unsupported_format"


class LimitExceeded(AssetError):
    """A size limit was exceeded: names what, the actual value and the limit."""
    code = "limit_exceeded"

    def __init__(
        self, what: str, actual: float, limit: float, *, path: str | Path | None = None, field: str | None = None
    ) -> None:
        self.actual = actual
        self.limit = limit
        super().__init__(f"{what} {_number(actual)} exceeds the limit of {_number(limit)}", path=path, field=field)


def _number(value: float) -> str:
    """3773916 -> '3,773,916'; 0.5 -> '0.5' (limits are mostly byte and element counts)."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


class MissingEncoder(AssetError):
    """An encoder the chosen output needs is not installed."""
    code = "missing_encoder"


class PipelineFailure(AssetError):
    """An internal failure of a pipeline step (not the user's input)."""
    code = "pipeline_failure"
    user_error = False


class NotFound(AssetError):
    """No product, version or stored object by that name."""
    code = "not_found"


class Conflict(AssetError):
    """The change conflicts with the catalog's state (e.g. deleting the current version)."""
    code = "conflict"


class Unauthorized(AssetError):
    """The API token is missing, malformed, expired or wrongly signed."""
    code = "unauthorized"


class Forbidden(AssetError):
    """The API token's role may not do this."""
    code = "forbidden"


class StorageError(AssetError):
    """The asset store or the catalog database failed or is not reachable."""
    code = "storage_error"
