"""Batch publishing throughput: one-by-one ``upload`` against ``batch`` on 1 and 2 Dramatiq workers (Redis broker,
PostgreSQL catalog, local store) and the embedded local mode; where the time of one publish goes.

Every run starts from an empty store and catalog, so every row really publishes (the last run re-submits the same
manifest to show what a re-run costs). Loads are sampled with ``os.getloadavg`` before and after each run.

Usage::

    .venv/bin/python tests/benchmarks/bench_batch.py [--rows 16] [--write docs/benchmarks-batch.md]

Needs Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (a database is created and dropped).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CORPUS = Path(os.environ.get("PHYGITAL_CORPUS", ROOT.parent / "shared" / "corpus")) / "models"
MODELS = [  # (path, units, up): small and medium models, as a retailer's folder would mix them
    (CORPUS / "chr_knight.glb", "m", "y"), (CORPUS / "pirate.obj", "m", "y"), (CORPUS / "spot.obj", "m", "y"),
    (CORPUS / "teapot.obj", "m", "y"), (CORPUS / "BoxTextured" / "BoxTextured.gltf", "m", "y"),
    (CORPUS / "ShapeCollection.glb", "m", "y"), (CORPUS / "suzanne.obj", "m", "y"),
    (CORPUS / "fandisk.obj", "m", "y"), (ROOT / "samples" / "models" / "display-stand.obj", "cm", "z"),
    (ROOT / "samples" / "catalog" / "models" / "stool.obj", "m", "z"),
    (ROOT / "samples" / "catalog" / "models" / "gift-box.obj", "cm", "y"), (CORPUS / "DenseSphere.glb", "m", "y"),
]
REDIS = "redis://127.0.0.1:6379/0"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def load() -> float:
    """1-minute load average."""
    return os.getloadavg()[0]


def manifest_rows(n: int) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        path, units, up = MODELS[i % len(MODELS)]
        rows.append({"path": str(path), "sku": f"BENCH-{i:03d}", "category": "furniture", "units": units, "up": up,
                     "lods": "50,25,10"})
    return rows


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


class Env:
    """A fresh store folder and PostgreSQL catalog, and the broker namespace, for one run."""

    def __init__(self, work: Path, label: str, broker: bool) -> None:
        import psycopg

        self.db = f"phyg_batch_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        self.root = work / label
        self.root.mkdir()
        self.namespace = f"phyg-bench-{uuid.uuid4().hex[:8]}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PHYGITAL_ASSETS_")}
        self.env.update({"PYTHONPATH": str(ROOT), "NO_COLOR": "1",
                         "PHYGITAL_ASSETS_STORE_PATH": str(self.root / "objects"),
                         "PHYGITAL_ASSETS_CATALOG_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.db}",
                         "PHYGITAL_ASSETS_BATCH_NAMESPACE": self.namespace})
        if broker:
            self.env["PHYGITAL_ASSETS_BATCH_BROKER_URL"] = REDIS
        self.workers: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assets_pipeline", *args], capture_output=True, text=True,
                              cwd=self.root, env=self.env, timeout=3600, check=False)

    def start_workers(self, n: int) -> None:
        for i in range(n):
            log = (self.root / f"worker{i}.log").open("wb")
            self.workers.append(subprocess.Popen([sys.executable, "-m", "assets_pipeline", "worker"], cwd=self.root,
                                                 env=self.env, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        for i in range(n):
            while b"worker ready" not in (self.root / f"worker{i}.log").read_bytes():
                if time.monotonic() > deadline:
                    raise RuntimeError("workers did not start")
                time.sleep(0.1)

    def close(self) -> None:
        import psycopg
        import redis

        for w in self.workers:
            w.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.wait(120)
            except subprocess.TimeoutExpired:
                w.kill()
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{self.namespace}:*"))
        if keys:
            client.delete(*keys)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')


def run_upload(work: Path, rows: list[dict[str, str]]) -> dict[str, object]:
    env = Env(work, "upload", broker=False)
    try:
        l0, t0, inner = load(), time.perf_counter(), 0.0
        for row in rows:
            r = env.cli("upload", row["path"], "--sku", row["sku"], "--category", row["category"], "--units",
                        row["units"], "--up", row["up"], "--lods", row["lods"], "--json")
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
            inner += json.loads(r.stdout)["seconds"]
        wall = time.perf_counter() - t0
        return {"run": "one by one: `upload` per model", "wall": wall, "load": (l0, load()),
                "note": f"publish itself {inner:.0f} s, process start-up and imports {wall - inner:.0f} s"}
    finally:
        env.close()


def run_batch(work: Path, manifest: Path, workers: int, *, local: bool = False,
              rerun: bool = False) -> dict[str, object]:
    label = f"local{workers}" if local else f"workers{workers}"
    env = Env(work, label, broker=not local)
    try:
        if not local:
            env.start_workers(workers)
        args = ["batch", str(manifest), "--json", "--quiet"] + (["--processes", str(workers)] if local else
                                                               ["--wait"])
        l0, t0 = load(), time.perf_counter()
        r = env.cli(*args)
        wall = time.perf_counter() - t0
        status = json.loads(r.stdout)
        if status["counts"].get("published") != status["total"]:
            raise RuntimeError(f"{label}: {status}")
        result: dict[str, object] = {"run": (f"`batch`, local mode, {workers} processes" if local else
                                             f"`batch --wait`, {workers} worker process{'es' if workers > 1 else ''}"),
                                     "wall": wall, "load": (l0, load()), "note": ""}
        if rerun:
            t1 = time.perf_counter()
            again = json.loads(env.cli(*args).stdout)
            result["rerun"] = (time.perf_counter() - t1, again["counts"])
        return result
    finally:
        env.close()


def breakdown(rows: list[dict[str, str]]) -> dict[str, float]:
    """Where one publish's time goes, over the distinct models published one after the other in-process (SQLite
    catalog, local store), from the publish's own progress hooks: everything before the first USDZ is reading and
    optimizing (with the LOD chain); the thumbnail step also writes LOD 0's USDZ; storing ends with the commit."""
    from assets_pipeline.catalog.models import Category
    from assets_pipeline.publish import PublishHooks, PublishOptions, PublishRequest, publish
    from assets_pipeline.service import AssetService
    from assets_pipeline.settings import AssetSettings

    def label(step: str) -> str:
        if step.startswith("USDZ"):
            return "USDZ (read each LOD, write)"
        if step in ("thumbnail", "store objects + catalog commit"):
            return step if step != "thumbnail" else "thumbnail (+ LOD 0 USDZ)"
        return "read + optimize + 3 LODs"

    spent: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        service = AssetService.open(AssetSettings(store_path=work / "objects",
                                                  catalog_url=f"sqlite:///{work}/c.sqlite"))
        try:
            for row in rows[:len(MODELS)]:
                mark = {"t": time.perf_counter(), "what": "optimize"}

                def step(what: str, done: int = 0, total: int = 0, mark: dict[str, object] = mark) -> None:
                    now = time.perf_counter()
                    key = label(str(mark["what"]))
                    spent[key] = spent.get(key, 0.0) + now - float(mark["t"])  # type: ignore[arg-type]
                    mark["t"], mark["what"] = now, what

                publish(PublishRequest(Path(row["path"]), row["sku"], Category.furniture), service.store,
                        service.catalog, limits=service.settings.limits(),
                        options=PublishOptions(lods=(0.5, 0.25, 0.1), units=row["units"], up=row["up"]),
                        hooks=PublishHooks(step=step, transfer_start=lambda _n, step=step: step(
                            "store objects + catalog commit")))
                step("end")
        finally:
            service.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--write", type=Path, default=None, help="Write the markdown page here.")
    args = parser.parse_args()
    rows = manifest_rows(args.rows)
    with tempfile.TemporaryDirectory(prefix="phyg-bench-batch-") as tmp:
        work = Path(tmp)
        manifest = write_manifest(work / "manifest.csv", rows)
        spent = breakdown(rows)
        results = [run_upload(work, rows), run_batch(work, manifest, 1), run_batch(work, manifest, 2, rerun=True),
                   run_batch(work, manifest, 2, local=True)]
    base = float(results[0]["wall"])  # type: ignore[arg-type]
    cpu = platform.processor() or platform.machine()
    lines = [
        "# Batch publishing benchmark",
        "",
        "Back to the [README](../README.md#batch-publishing). Produced by "
        "`.venv/bin/python tests/benchmarks/bench_batch.py --write docs/benchmarks-batch.md`.",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}; {len(rows)} models ({min(len(rows), len(MODELS))} distinct: small and "
        "medium corpus and sample models, each with LODs 50/25/10, a USDZ per LOD and a thumbnail: 9 objects); "
        "Redis broker, PostgreSQL catalog, local store; every run from an empty store and catalog.",
        "",
        "| run | wall s | models/min | vs one by one | load avg before -> after | notes |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        wall = float(r["wall"])  # type: ignore[arg-type]
        l0, l1 = r["load"]  # type: ignore[misc]
        note = str(r["note"])
        if "rerun" in r:
            rs, counts = r["rerun"]  # type: ignore[misc]
            note = f"re-run of the same manifest: {rs:.1f} s, {counts}"
        lines.append(f"| {r['run']} | {wall:.1f} | {len(rows) * 60 / wall:.1f} | {base / wall:.2f}x | "
                     f"{l0:.1f} -> {l1:.1f} | {note} |")
    total = sum(spent.values())
    distinct = min(len(rows), len(MODELS))
    lines += ["", f"Where one publish's time goes (in-process, the {distinct} distinct models one after the other, "
              f"{total:.1f} s in all, timed by the publish's own progress hooks):", "",
              "| step | s | share |", "|---|---:|---:|"]
    for k, v in spent.items():
        lines.append(f"| {k} | {v:.1f} | {v / total * 100:.0f} % |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
