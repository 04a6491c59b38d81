"""meshoptimizer 1.x's simplifier, run as the npm package's WebAssembly build under node.

The ``meshoptimizer`` Python package bundles the 0.22 C library; the 1.x simplifier (the one gltfpack 1.3
uses) keeps shapes markedly better. Measured with our symmetric Hausdorff metric at 50 % of the
triangles: DamagedHelmet 0.66 % of the diagonal with 0.22 vs 0.36 % with 1.3; stanford-bunny 0.060 %
vs 0.052 %. So the pipeline uses this backend when node and the npm package are installed (see
``assets_pipeline.nodetools``) and falls back to the bundled library (``codecs.meshopt.simplify``) otherwise, with
a warning in the log.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import struct
import subprocess
import threading
from pathlib import Path
from typing import IO

import numpy as np

from .. import nodetools
from ..errors import PipelineFailure
from ..limits import processors

logger = logging.getLogger(__name__)
FLAG_NAMES = {1: "LockBorder", 2: "Sparse", 4: "ErrorAbsolute", 8: "Prune", 32: "Permissive"}
PIPE_BYTES = 1 << 20
PROCESSES = 1
"""Node processes at most (one a processor): the jobs of one call (a model's primitives, the candidate orders) are
shared out between them; meshoptimizer is deterministic, so the answers are the same as from one process. One: on 2
processors a second one gained nothing measurable (BrainStem 1.02x, its fit calls balanced) and cost igea.ply 9 %
(its start and cold first call beside the measuring threads; 5 interleaved pairs each, 2026-12-05)."""


def available(tools: Path | None = None) -> bool:
    """True when node and the npm meshoptimizer are installed (in ``tools``, default the node tools folder)."""
    return nodetools.available("meshoptimizer", tools)


class _Worker:
    """One node process kept for every simplification of this Python process (starting node costs ~0.1 s, and
    an optimize simplifies dozens of times: a bisection on the model's error level per output, every
    primitive in one exchange); there is one a processor (``PROCESSES``)."""

    def __init__(self, tools: Path) -> None:
        self.tools = tools
        self.proc: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()

    def call(self, payload: bytes) -> bytes:
        with self.lock:
            try:
                proc = self._started()
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(struct.pack("<I", len(payload)) + payload)
                proc.stdin.flush()
                size = struct.unpack("<I", _read_exactly(proc.stdout, 4))[0]
                return _read_exactly(proc.stdout, size)
            except (OSError, EOFError, struct.error) as exc:
                detail = self._stop()
                raise PipelineFailure(f"simplifier failed: {detail or exc}", field="simplify") from None
            except BaseException:
                # interrupted half-way through an exchange (a batch job's time limit raises in this thread,
                # Ctrl-C): the pipe is out of step, so the next call must not read this call's answer
                self._stop()
                raise

    def start(self) -> None:
        """Start the node process now, if it is not running (the next call then finds it ready)."""
        with self.lock:
            self._started()

    def _started(self) -> subprocess.Popen[bytes]:
        if self.proc is None or self.proc.poll() is not None:
            # pipes of 1 MB (Linux's default limit for a process), not 64 kB: a 270k-triangle mesh is a 5 MB request
            self.proc = subprocess.Popen(nodetools.command("simplify.mjs"), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.tools,
                                         pipesize=PIPE_BYTES)
        return self.proc

    def _stop(self) -> str:
        proc, self.proc = self.proc, None
        if proc is None:
            return ""
        with contextlib.suppress(OSError):
            proc.kill()
        try:
            _, err = proc.communicate(timeout=5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return ""
        return _node_error(err.decode(errors="replace"))

    def close(self) -> None:
        with self.lock:
            proc, self.proc = self.proc, None
            if proc is not None and proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)


def _node_error(stderr: str) -> str:
    """The line of node's stderr that says what went wrong (``Error [CODE]: ...``), else its last 300 characters."""
    for line in stderr.splitlines():
        if line.startswith(("Error", "TypeError", "RangeError", "SyntaxError")):
            if "ERR_MODULE_NOT_FOUND" in line:
                return f"{line.strip()[:300]}: {nodetools.INSTALL_HINT}"
            return line.strip()[:300]
    return stderr.strip()[-300:]


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) != n:
        raise EOFError(f"node ended the answer after {0 if data is None else len(data)} of {n} bytes")
    return data


_WORKERS: dict[Path, list[_Worker]] = {}


def _workers(tools: Path) -> list[_Worker]:
    """The node processes for ``tools``: one a processor, at most ``PROCESSES`` (a call's jobs are shared out)."""
    return _WORKERS.setdefault(tools, [_Worker(tools) for _ in range(min(PROCESSES, processors()))])


def start(tools: Path | None = None) -> None:
    """Start the node processes in the background when node and the npm package are installed: their start-up
    (~0.15 s) then overlaps the work before the first simplification instead of delaying it."""
    tools = tools or nodetools.folder()
    if available(tools):
        with contextlib.suppress(OSError):  # the first call starts it again and reports the failure
            for worker in _workers(tools):
                worker.start()


@atexit.register
def _close_workers() -> None:
    for workers in _WORKERS.values():
        for worker in workers:
            worker.close()


Job = tuple[np.ndarray, np.ndarray, int, float, int, "np.ndarray | None", "np.ndarray | None"]
"""(indices, positions, target index count, target error, flags, attributes or None, attribute weights or None)."""


def simplify_many(jobs: list[Job], tools: Path | None = None) -> list[tuple[np.ndarray, float]]:
    """Simplify every job in one exchange with each node process (the jobs shared out by size, each process
    answering its share while the others answer theirs); returns (indices, error reached) per job, in order."""
    if not jobs:
        return []
    workers = _workers(tools or nodetools.folder())
    shares = share_out([int(np.size(job[0])) + 3 * len(job[1]) for job in jobs], len(workers))
    answers: list[list[tuple[np.ndarray, float]]] = [[] for _ in shares]
    failures: list[BaseException] = []

    def exchange(k: int) -> None:
        try:
            answers[k] = _exchange(workers[k], [jobs[i] for i in shares[k]])
        except BaseException as exc:  # raised below, once every exchange has ended (the pipes stay in step)
            failures.append(exc)

    threads = [threading.Thread(target=exchange, args=(k,), name="simplifier", daemon=True)
               for k in range(1, len(shares))]
    for thread in threads:
        thread.start()
    exchange(0)
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    out: list[tuple[np.ndarray, float]] = [(np.zeros(0, np.uint32), 0.0)] * len(jobs)
    for share, answer in zip(shares, answers, strict=True):
        for i, result in zip(share, answer, strict=True):
            out[i] = result
    return out


def share_out(sizes: list[int], ways: int) -> list[list[int]]:
    """The indices of ``sizes`` in at most ``ways`` groups of about equal total size (largest first, each to the
    group with the least so far; each group in increasing index order); one group when ``ways`` is 1 or there is
    one size."""
    if ways < 2 or len(sizes) < 2:
        return [list(range(len(sizes)))]
    groups: list[list[int]] = [[] for _ in range(min(ways, len(sizes)))]
    totals = [0] * len(groups)
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        k = totals.index(min(totals))
        groups[k].append(i)
        totals[k] += sizes[i]
    return [sorted(g) for g in groups]


def _exchange(worker: _Worker, jobs: list[Job]) -> list[tuple[np.ndarray, float]]:
    """Simplify ``jobs`` in one exchange with one node process."""
    specs, data = [], []
    for indices, positions, target_index_count, target_error, options, attributes, attribute_weights in jobs:
        idx = np.ascontiguousarray(indices, np.uint32).reshape(-1)
        pos = np.ascontiguousarray(positions, np.float32)
        weights: list[float] = []
        data += [idx.tobytes(), pos.tobytes()]
        if attributes is not None and attributes.shape[1] > 0 and attribute_weights is not None:
            weights = [float(w) for w in np.asarray(attribute_weights).reshape(-1)]
            data.append(np.ascontiguousarray(attributes, np.float32).tobytes())
        specs.append({"indexCount": int(idx.size), "vertexCount": int(pos.shape[0]),
                      "targetIndexCount": int(target_index_count), "targetError": float(target_error),
                      "flagNames": [n for bit, n in FLAG_NAMES.items() if options & bit], "attributeWeights": weights})
    req = json.dumps({"jobs": specs}).encode()
    answer = worker.call(struct.pack("<I", len(req)) + req + b"".join(data))
    out, off = [], 0
    for _ in jobs:
        if len(answer) < off + 8:
            raise PipelineFailure("simplifier failed: short answer", field="simplify")
        count, error = struct.unpack_from("<If", answer, off)
        out.append((np.frombuffer(answer, np.uint32, count=count, offset=off + 8).copy(), float(error)))
        off += 8 + 4 * count
    return out


def simplify(indices: np.ndarray, positions: np.ndarray, target_index_count: int, target_error: float,
             options: int = 0, attributes: np.ndarray | None = None, attribute_weights: np.ndarray | None = None,
             tools: Path | None = None) -> tuple[np.ndarray, float]:
    """Same contract as :func:`codecs.meshopt.simplify`: (indices, error reached; relative unless ``options``
    has ErrorAbsolute); with ``attributes`` (n, k) and their ``attribute_weights`` (k,), simplifyWithAttributes."""
    job: Job = (indices, positions, target_index_count, target_error, options, attributes, attribute_weights)
    return simplify_many([job], tools)[0]


def best_simplifier() -> object:
    """Return the node simplifier (meshoptimizer 1.3) when available, else the bundled 0.22 one, with a warning."""
    if available():
        return simplify
    from . import meshopt

    logger.warning("node tools not installed in %s: simplifying with the bundled meshoptimizer 0.22 (lower "
                   "quality); %s", nodetools.folder(), nodetools.INSTALL_HINT)
    return meshopt.simplify
