"""A photo's pose does not depend on what ran before it in the process (issue 12: the by-box graph moved later poses).

MediaPipe's Python solutions pass their graph config through Python's protobuf descriptor pool, which drops the
options of calculators whose ``*_pb2`` module nobody imported; those calculators then run on their defaults until
some code imports the module. The by-box graph's module imported the heatmap refinement's options, so every pose
solution built afterwards refined with kernel 7 instead of 9: landmarks moved by up to 6 px and a borderline fourth
person of ``person_standing_shoes.jpg`` came and went.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tryon.conftest import ROOT, load_rgb
from tryon import media
from tryon.providers.mediapipe import MediaPipeProvider

SEQUENCE = """
import sys
import cv2
import numpy as np
from tryon.providers.mediapipe import EDGE_PRESENCE, MediaPipeProvider, _RoiPose

def rgb(path):
    return np.ascontiguousarray(cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB))

def regular(frame):
    with MediaPipeProvider("image") as provider:
        solution = provider._pose_model(static=True).process(frame).pose_landmarks
        people = provider.people(frame)
    bare = np.array([(q.x, q.y, q.z, q.visibility) for q in solution.landmark], np.float64)
    return bare, people

b, a = rgb(sys.argv[1]), rgb(sys.argv[2])
bare1, people1 = regular(b)
by_box = _RoiPose(EDGE_PRESENCE)
by_box.process(cv2.resize(a, (256, 256)))
by_box.close()
bare2, people2 = regular(b)
print("bare", float(np.abs(bare1 - bare2).max()))
print("count", len(people1), len(people2))
for p, q in zip(people1, people2):
    print("points", float(np.abs(p.points - q.points).max()), float(np.abs(p.visibility - q.visibility).max()))
    print("feet", len(p.feet), len(q.feet))
    print("mask", float(np.abs(p.segmentation - q.segmentation).max()))
"""


def test_regular_by_box_regular_gives_identical_landmarks(corpus: Path) -> None:
    """In a fresh process: the pose of photo B (the bare pose solution and the provider's people), then the by-box
    graph on photo A, then B again in new providers: landmarks, visibilities, feet and masks are bit-identical."""
    images = corpus / "images"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", SEQUENCE, str(images / "person_crouching_feet.jpg"), str(images / "face_man_suit.jpg")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [line.split() for line in run.stdout.splitlines()]
    assert lines[0] == ["bare", "0.0"]  # main: 0.009 of the photo; its people moved by 5.6 px
    count = lines[1]
    assert count[1] == count[2] != "0"
    for line in lines[2:]:
        if line[0] == "feet":
            assert line[1] == line[2]
        else:
            assert all(float(v) == 0.0 for v in line[1:]), line


def test_no_graph_option_is_dropped(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every calculator option block in the graphs the provider builds (faces and people, image and video mode,
    silhouettes) is one Python's protobuf pool knows, so none silently falls back to its defaults."""
    from google.protobuf import descriptor_pool
    from mediapipe.python.solution_base import SolutionBase

    configs: list = []
    build = SolutionBase._initialize_graph_interface

    def keep(self: SolutionBase, *args: object, **kwargs: object) -> object:
        config = build(self, *args, **kwargs)
        configs.append(config)
        return config

    monkeypatch.setattr(SolutionBase, "_initialize_graph_interface", keep)
    photo = load_rgb(corpus / "images" / "person_standing_shoes.jpg")
    _, frame = next(iter(media.read_video(corpus / "images" / "street_walking_720p50.avi", limit=1)))
    for mode, image in (("image", photo), ("video", frame), ("video", photo)):
        with MediaPipeProvider(mode) as provider:  # type: ignore[arg-type]
            faces = provider.faces(image)
            provider.people(image)
            if faces:
                provider.silhouette(image, faces[0])
    assert len(configs) >= 6
    names = {n.calculator for c in configs for n in c.node}
    assert {"RefineLandmarksFromHeatmapCalculator", "SegmentationSmoothingCalculator"} <= names
    pool = descriptor_pool.Default()
    dropped = []
    for config in configs:
        for node in config.node:
            if node.options.SerializeToString() and not node.options.ListFields():
                dropped.append(node.calculator)
            for extra in node.node_options:
                try:
                    pool.FindMessageTypeByName(extra.type_url.split("/")[-1])
                except KeyError:
                    dropped.append(node.calculator)
    assert not dropped, sorted(set(dropped))
