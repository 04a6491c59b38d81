"""What a transform is: a named callable that edits one document in place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..document import AssetDocument


@dataclass(frozen=True, slots=True)
class Transform:
    """A named step applied to a document in place (``transform(doc)``)."""
    name: str
    apply: Callable[[AssetDocument], None]

    def __call__(self, doc: AssetDocument) -> None:
        self.apply(doc)


def attribute_key(prim: dict[str, object]) -> tuple[object, ...]:
    """Identity of a primitive's vertex data (attribute and target accessors): primitives with the same
    key share their vertices and must be edited together."""
    attrs = prim.get("attributes", {})
    targets = prim.get("targets", [])
    assert isinstance(attrs, dict) and isinstance(targets, list)
    return (tuple(sorted(attrs.items())), tuple(tuple(sorted(t.items())) for t in targets))


def remap_vertices(doc: AssetDocument, prim: dict[str, object], keep: object) -> None:
    """Replace every vertex stream of ``prim`` (attributes and morph targets) by ``array[keep]``."""
    import numpy as np

    attrs = prim["attributes"]
    assert isinstance(attrs, dict)
    targets = prim.get("targets", [])
    assert isinstance(targets, list)
    for mapping in [attrs, *targets]:
        for name, a in list(mapping.items()):
            acc = doc.accessors[a]
            doc.accessors.append(acc.copy_with(np.ascontiguousarray(acc.array[keep])))
            mapping[name] = len(doc.accessors) - 1
