"""Batch publishing end to end: Dramatiq workers on the real Redis, the catalog on PostgreSQL, a local store.

Workers are started as users start them (``python -m assets_pipeline worker``); a worker is SIGKILLed in the middle
of a publish; a private redis-server is restarted under running workers; bad rows and a failing model are checked.
The embedded local mode (no broker) and the job's idempotence are tested on SQLite.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from assets_pipeline.batch import BatchState, ManifestRow, run_job
from assets_pipeline.catalog.repository import Catalog
from assets_pipeline.service import AssetService
from assets_pipeline.settings import AssetSettings

from .batch_fixtures import (
    ROOT,
    SHARED_REDIS,
    SlowProxy,
    Workers,
    assert_store_matches_catalog,
    batch_env,
    run_cli,
    wait_until,
)

SAMPLE_MODELS = ROOT / "samples" / "catalog" / "models"
SMALL = ["BoxVertexColors.glb", "pirate.glb", "suzanne.obj", "chr_knight.glb", "BoxTextured/BoxTextured.gltf",
         "teapot.obj", "spot.obj", "ShapeCollection.glb", "DenseSphere.glb", "suzanne_ascii.stl",
         "teapot_binary.stl", "pirate.obj"]
FIELDS = ["path", "sku", "category", "name", "units", "up", "lods"]


def model_paths(corpus: Path) -> list[Path]:
    """Small corpus models and the sample models (fast to publish)."""
    return [corpus / "models" / m for m in SMALL] + [SAMPLE_MODELS / "gift-box.obj", SAMPLE_MODELS / "stool.obj",
                                                   ROOT / "samples" / "models" / "display-stand.obj"]


def write_manifest(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in FIELDS})
    return path


def corpus_rows(corpus: Path, n: int, prefix: str = "M", lods: str = "none") -> list[dict[str, object]]:
    models = model_paths(corpus)
    rows = []
    for i in range(n):
        model = models[i % len(models)]
        cm = model.name in ("gift-box.obj", "display-stand.obj")
        rows.append({"path": model, "sku": f"{prefix}-{i:03d}", "category": "furniture", "name": f"model {i}",
                     "units": "cm" if cm else "m", "up": "z" if model.name in ("stool.obj", "display-stand.obj")
                     else "y", "lods": lods})
    return rows


def versions_by_sku(catalog_url: str) -> dict[str, list[int]]:
    catalog = Catalog.open(catalog_url)
    try:
        products, _ = catalog.search(limit=1000)
        return {p.sku: [v.number for v in catalog.get(p.sku).versions] for p in products}
    finally:
        catalog.close()


def status_of(catalog_url: str, batch_id: str | None = None) -> dict[str, object]:
    catalog = Catalog.open(catalog_url)
    try:
        state = BatchState(catalog)
        return state.status(batch_id or state.latest()).to_dict()
    finally:
        catalog.close()


@pytest.mark.timeout(1800)  # 50 rows took 330 s at load 15-19 on 2 cores: the suite's 600 s is within reach
def test_twenty_models_on_two_workers_then_a_rerun_publishes_nothing(
        tmp_path: Path, corpus: Path, pg_database: str, redis_namespace: str, workers: Workers) -> None:
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"glTF\x02\x00\x00\x00" + os.urandom(64))  # passes the manifest check, fails to read
    rows = corpus_rows(corpus, 20)  # every model of model_paths once, five of them again under other SKUs
    rows.insert(17, {"path": broken, "sku": "BROKEN-1", "category": "furniture"})
    manifest = write_manifest(tmp_path / "catalog.csv", rows)
    env = batch_env(tmp_path, pg_database, SHARED_REDIS, redis_namespace)
    workers.env = env
    workers.start(2)

    r = run_cli(env, "batch", manifest, "--wait", "--json", cwd=tmp_path, timeout=1500)
    assert r.returncode == 1, (r.stdout, r.stderr, workers.output())  # one job failed
    status = json.loads(r.stdout)
    assert status["counts"] == {"published": 20, "failed": 1}, (status, workers.output())
    [failure] = status["failures"]
    assert failure["line"] == 19 and failure["sku"] == "BROKEN-1" and failure["attempts"] == 1  # bad input: no retry
    assert "broken.glb" in failure["reason"] and "\n" not in failure["reason"]
    assert status["models_per_minute"] > 0 and status["eta_seconds"] == 0
    r = run_cli(env, "batch", "dead", "--json", cwd=tmp_path)
    [dead] = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert dead["sku"] == "BROKEN-1" and dead["line"] == 19 and dead["error"] == failure["reason"], r.stderr
    listed = json.loads(run_cli(env, "list", "--json", "--limit", "1000", cwd=tmp_path).stdout)
    assert listed["total"] == 20 and {p["current_version"] for p in listed["items"]} == {1}
    assert_store_matches_catalog(tmp_path, pg_database)
    objects_before = sorted((tmp_path / "objects").rglob("*"))

    r = run_cli(env, "batch", manifest, "--wait", "--json", "--quiet", cwd=tmp_path)
    again = json.loads(r.stdout)
    assert again["counts"] == {"unchanged": 20, "failed": 1}, again
    assert sorted((tmp_path / "objects").rglob("*")) == objects_before
    assert set(map(tuple, versions_by_sku(pg_database).values())) == {(1,)}
    r = run_cli(env, "batch", "status", cwd=tmp_path)
    assert r.returncode == 0 and "20 unchanged, 1 failed" in r.stdout and "line 19 BROKEN-1" in r.stderr


def test_a_worker_killed_mid_publish_leaves_one_version_per_sku_and_no_orphans(
        tmp_path: Path, corpus: Path, pg_database: str, redis_namespace: str, workers: Workers) -> None:
    rows = corpus_rows(corpus, 8, prefix="K", lods="50,25")
    manifest = write_manifest(tmp_path / "catalog.csv", rows)
    env = batch_env(tmp_path, pg_database, SHARED_REDIS, redis_namespace)
    workers.env = env
    victim, survivor = workers.start(2)
    r = run_cli(env, "batch", manifest, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    batch_id = r.stdout.strip()
    catalog = Catalog.open(pg_database)
    state = BatchState(catalog)
    killed_line = None
    try:
        for _ in range(3):  # a job that finished between the poll and the signal does not count: a new victim
            line = _kill_while_storing(state, batch_id, victim)
            assert line is not None, workers.output()
            job = next(j for j in state.jobs(batch_id) if j.line == line)
            if job.state == "running":  # the victim is dead: it died in the middle of this publish
                killed_line = line
                break
            [victim] = workers.start(1)
        assert killed_line is not None, "every kill came too late"
        wait_until(lambda: state.status(batch_id).done, 300, "the batch after the kill")
        status = state.status(batch_id)
        assert set(status.counts) <= {"published", "unchanged"} and status.finished == 8, status.to_dict()
        killed = next(j for j in state.jobs(batch_id) if j.line == killed_line)
        assert killed.attempts >= 2 and not killed.worker.endswith(f":{victim.pid}"), (killed.attempts, killed.worker)
        assert killed.pending_keys == []
    finally:
        catalog.close()
    assert versions_by_sku(pg_database) == {row["sku"]: [1] for row in rows}
    assert_store_matches_catalog(tmp_path, pg_database)
    assert survivor.poll() is None


def _kill_while_storing(state: BatchState, batch_id: str, victim: object) -> int | None:
    """SIGKILL ``victim`` while one of its jobs is storing objects (some keys journaled, nothing committed yet), or,
    if that short moment was missed in two of its jobs, half a second into its next one; returns that job's line
    (None if the batch ended first)."""
    import subprocess

    assert isinstance(victim, subprocess.Popen)
    suffix = f":{victim.pid}"
    seen: dict[int, float] = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        jobs = state.jobs(batch_id)
        for job in jobs:
            if job.state != "running" or not (job.worker or "").endswith(suffix):
                continue
            since = time.monotonic() - seen.setdefault(job.line, time.monotonic())
            if job.pending_keys or (len(seen) > 2 and since > 0.5):
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                return job.line
        if all(j.state in ("published", "unchanged", "failed") for j in jobs):
            return None
        time.sleep(0.005)
    return None


def test_a_broker_restart_loses_nothing(tmp_path: Path, corpus: Path, pg_database: str, private_redis: object,
                                        workers: Workers) -> None:
    from .batch_fixtures import RedisServer

    assert isinstance(private_redis, RedisServer)
    rows = corpus_rows(corpus, 12, prefix="R")
    manifest = write_manifest(tmp_path / "catalog.csv", rows)
    env = batch_env(tmp_path, pg_database, private_redis.url, "phyg-restart")
    workers.env = env
    workers.start(2)
    r = run_cli(env, "batch", manifest, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    batch_id = r.stdout.strip()
    wait_until(lambda: status_of(pg_database, batch_id)["finished"] >= 2, 300, "two jobs")  # type: ignore[operator]
    private_redis.stop()
    time.sleep(2)
    assert status_of(pg_database, batch_id)["finished"] < 12  # jobs were still queued while the broker was away
    private_redis.start()
    r = run_cli(env, "batch", "status", batch_id, "--wait", "--json", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, (r.stderr, workers.output())
    status = json.loads(r.stdout)
    assert set(status["counts"]) <= {"published", "unchanged"} and status["finished"] == 12, status
    assert versions_by_sku(pg_database) == {row["sku"]: [1] for row in rows}
    assert_store_matches_catalog(tmp_path, pg_database)


def test_bad_rows_enqueue_nothing_unless_skipped(tmp_path: Path, corpus: Path, pg_database: str,
                                                 redis_namespace: str) -> None:
    import redis

    rows = corpus_rows(corpus, 4, prefix="B")
    rows[1]["sku"] = "not a sku"
    rows[3]["path"] = tmp_path / "missing.obj"
    manifest = write_manifest(tmp_path / "catalog.csv", rows)
    env = batch_env(tmp_path, pg_database, SHARED_REDIS, redis_namespace)
    r = run_cli(env, "batch", manifest, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert errors == ["error: catalog.csv:3: sku: 'not a sku' is not a valid SKU (letters, digits, '.', '_', '-'; "
                      "at most 64)", f"error: catalog.csv:5: path: '{tmp_path / 'missing.obj'}': no such file"]
    assert "nothing was enqueued" in r.stderr
    client = redis.Redis.from_url(SHARED_REDIS)
    queue = f"{redis_namespace}:publish"
    assert client.llen(queue) == 0
    r = run_cli(env, "batch", "status", cwd=tmp_path)
    assert r.returncode == 2 and "no batch has been submitted" in r.stderr

    r = run_cli(env, "batch", manifest, "--skip-bad", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("skipped:") == 2
    status = json.loads(r.stdout)
    assert status["counts"] == {"queued": 2, "skipped": 2} and client.llen(queue) == 2
    assert [(f["line"], f["sku"]) for f in status["failures"]] == [(3, "not a sku"), (5, "B-003")]


def test_local_mode_runs_the_same_jobs_in_processes(tmp_path: Path, corpus: Path) -> None:
    shutil.copy(SAMPLE_MODELS / "gift-box.obj", tmp_path / "box.obj")
    rows = [*corpus_rows(corpus, 3, prefix="L"), {"path": tmp_path / "box.obj", "sku": "L-BOX", "category": "accessory",
                                                  "units": "cm", "lods": "none"},
            {"path": tmp_path / "box.obj", "sku": "L-BAD", "category": "nonsense"}]
    manifest = write_manifest(tmp_path / "catalog.csv", rows)
    catalog_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    env = batch_env(tmp_path, catalog_url, None, "unused")
    r = run_cli(env, "batch", manifest, "--processes", "2", "--skip-bad", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert status["mode"] == "local" and status["counts"] == {"published": 4, "skipped": 1}, status
    assert status["failures"][0]["reason"].startswith("category: 'nonsense' is not one of")

    with (tmp_path / "box.obj").open("a") as fh:  # one model changed: only that row publishes
        fh.write("v 0 20 0\nf 5 6 9\n")
    r = run_cli(env, "batch", manifest, "--processes", "2", "--skip-bad", "--json", cwd=tmp_path)
    assert json.loads(r.stdout)["counts"] == {"published": 1, "unchanged": 3, "skipped": 1}, r.stdout
    assert versions_by_sku(catalog_url) == {"L-000": [1], "L-001": [1], "L-002": [1], "L-BOX": [1, 2]}
    assert_store_matches_catalog(tmp_path, catalog_url)

    slow = {**env, "PHYGITAL_ASSETS_BATCH_TIME_LIMIT_S": "1"}
    heavy = [{"path": corpus / "models" / name, "sku": f"T-{i}", "category": "furniture", "lods": "50,25,10"}
             for i, name in enumerate(("stanford-bunny.obj", "nefertiti.obj"))]  # seconds of simplifying each
    write_manifest(manifest, heavy)
    r = run_cli(slow, "batch", manifest, "--processes", "1", "--json", cwd=tmp_path)
    assert r.returncode == 1
    status = json.loads(r.stdout)
    assert status["counts"] == {"failed": 2} and all("time limit of 1 s exceeded" in f["reason"]
                                                     for f in status["failures"]), status
    assert_store_matches_catalog(tmp_path, catalog_url)


def test_a_job_delivered_twice_publishes_once(tmp_path: Path, corpus: Path) -> None:
    settings = AssetSettings(store="local", store_path=tmp_path / "objects",
                             catalog_url=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    service = AssetService.open(settings)
    try:
        row = ManifestRow(2, str(corpus / "models" / "pirate.glb"), "PIRATE-1", "apparel", lods=(),
                          tryon={})
        state = BatchState(service.catalog)
        state.create("b1", "m.csv", "local", [row])
        first = run_job(service, row, "b1")
        # the broker delivers it again (the worker died after the commit, before the acknowledgement)
        second = run_job(service, row, "b1")
        assert (first.state, first.version, second.state, second.version) == ("published", 1, "unchanged", 1)
        assert [v.number for v in service.catalog.get("PIRATE-1").versions] == [1]
        [job] = state.jobs("b1")
        assert job.attempts == 2 and job.pending_keys == [] and job.state == "unchanged"
        # a second publish racing the first one (same content address) gets the same version back
        from assets_pipeline.catalog.models import Category
        from assets_pipeline.catalog.repository import NewVersion

        version = service.catalog.version("PIRATE-1")
        again = service.catalog.add_version("PIRATE-1", None, Category.apparel, NewVersion(
            "pirate.glb", version.source_sha256, (1.0, 1.0, 1.0), [], publish_key=version.publish_key))
        assert again.number == 1
    finally:
        service.close()
    assert_store_matches_catalog(tmp_path, settings.catalog_database_url())


def test_transient_store_errors_are_retried_then_fail(tmp_path: Path, corpus: Path) -> None:
    """An unreachable S3 store: each attempt fails transiently, is retried with backoff, then fails for good."""
    from .catalog_fixtures import free_port

    rows = corpus_rows(corpus, 1, prefix="S")
    manifest = write_manifest(tmp_path / "catalog.csv", rows)
    catalog_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    env = batch_env(tmp_path, catalog_url, None, "unused", PHYGITAL_ASSETS_STORE="s3",
                    PHYGITAL_ASSETS_S3_BUCKET="nowhere", PHYGITAL_ASSETS_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
                    PHYGITAL_ASSETS_S3_ACCESS_KEY_ID="x", PHYGITAL_ASSETS_S3_SECRET_ACCESS_KEY="x",
                    PHYGITAL_ASSETS_S3_REGION="us-east-1", PHYGITAL_ASSETS_S3_MAX_ATTEMPTS="1",
                    PHYGITAL_ASSETS_BATCH_MAX_RETRIES="2", PHYGITAL_ASSETS_BATCH_MIN_BACKOFF_S="0.1")
    r = run_cli(env, "batch", manifest, "--processes", "1", "--json", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    [failure] = json.loads(r.stdout)["failures"]
    assert failure["attempts"] == 3 and "after 3 attempts" in failure["reason"], failure


def test_models_from_a_bucket(tmp_path: Path, corpus: Path, moto_url: str) -> None:
    """``s3://BUCKET/KEY`` rows: checked against the bucket with the manifest, fetched by the job, addressed by
    their bytes like files."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_url, aws_access_key_id="testing", aws_secret_access_key="testing",
                      region_name="us-east-1")
    bucket = f"src-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(corpus / "models" / "pirate.glb"), bucket, "catalog/pirate.glb")
    rows = [{"path": f"s3://{bucket}/catalog/pirate.glb", "sku": "S3-PIRATE", "category": "apparel", "lods": "none"},
            {"path": f"s3://{bucket}/catalog/missing.glb", "sku": "S3-MISSING", "category": "apparel"},
            {"path": f"s3://{bucket}/catalog/scene.gltf", "sku": "S3-GLTF", "category": "apparel"}]
    manifest = write_manifest(tmp_path / "catalog.csv", rows)
    catalog_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    env = batch_env(tmp_path, catalog_url, None, "unused", PHYGITAL_ASSETS_S3_ENDPOINT_URL=moto_url,
                    PHYGITAL_ASSETS_S3_ACCESS_KEY_ID="testing", PHYGITAL_ASSETS_S3_SECRET_ACCESS_KEY="testing",
                    PHYGITAL_ASSETS_S3_REGION="us-east-1")
    r = run_cli(env, "batch", manifest, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert f"catalog.csv:3: path: 's3://{bucket}/catalog/missing.glb': no such object" in r.stderr
    assert "catalog.csv:4: path:" in r.stderr and "single-file models" in r.stderr
    r = run_cli(env, "batch", manifest, "--skip-bad", "--processes", "1", "--json", cwd=tmp_path)
    assert json.loads(r.stdout)["counts"] == {"published": 1, "skipped": 2}, (r.stdout, r.stderr)
    r = run_cli(env, "batch", manifest, "--skip-bad", "--processes", "1", "--json", cwd=tmp_path)
    assert json.loads(r.stdout)["counts"] == {"unchanged": 1, "skipped": 2}, (r.stdout, r.stderr)
    shown = json.loads(run_cli(env, "show", "S3-PIRATE", "--json", cwd=tmp_path).stdout)
    assert [v["source"] for v in shown["versions"]] == ["pirate.glb"]
    assert_store_matches_catalog(tmp_path, catalog_url)


def test_an_unreachable_broker_is_one_line_and_leaves_no_batch(tmp_path: Path, corpus: Path) -> None:
    from .catalog_fixtures import free_port

    manifest = write_manifest(tmp_path / "catalog.csv", corpus_rows(corpus, 2, prefix="U"))
    catalog_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    env = batch_env(tmp_path, catalog_url, f"redis://127.0.0.1:{free_port()}/0", "unused")
    for args in (("batch", manifest), ("worker",)):
        r = run_cli(env, *args, cwd=tmp_path, timeout=120)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
        assert lines[0].startswith("error: PHYGITAL_ASSETS_BATCH_BROKER_URL: cannot reach the broker"), lines
    r = run_cli(env, "batch", "status", cwd=tmp_path)
    assert r.returncode == 2 and "no batch has been submitted" in r.stderr


def test_workers_retry_transient_errors_with_backoff_then_dead_letter(
        tmp_path: Path, corpus: Path, pg_database: str, redis_namespace: str, workers: Workers) -> None:
    """An unreachable S3 store under a worker: each attempt fails transiently and is retried after a backoff;
    when the retries are spent the job is failed, in the dead-letter set, with its reason."""
    from .catalog_fixtures import free_port

    manifest = write_manifest(tmp_path / "catalog.csv", corpus_rows(corpus, 1, prefix="W"))
    env = batch_env(tmp_path, pg_database, SHARED_REDIS, redis_namespace, PHYGITAL_ASSETS_STORE="s3",
                    PHYGITAL_ASSETS_S3_BUCKET="nowhere", PHYGITAL_ASSETS_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
                    PHYGITAL_ASSETS_S3_ACCESS_KEY_ID="x", PHYGITAL_ASSETS_S3_SECRET_ACCESS_KEY="x",
                    PHYGITAL_ASSETS_S3_REGION="us-east-1", PHYGITAL_ASSETS_S3_MAX_ATTEMPTS="1",
                    PHYGITAL_ASSETS_BATCH_MAX_RETRIES="2", PHYGITAL_ASSETS_BATCH_MIN_BACKOFF_S="0.5")
    workers.env = env
    workers.start(1)
    r = run_cli(env, "batch", manifest, "--wait", "--json", cwd=tmp_path)
    assert r.returncode == 1, (r.stderr, workers.output())
    [failure] = json.loads(r.stdout)["failures"]
    assert failure["attempts"] == 3 and "cannot reach the S3 endpoint" in failure["reason"], failure
    assert failure["reason"].endswith("(retries exhausted)")
    r = run_cli(env, "batch", "dead", cwd=tmp_path)
    assert r.returncode == 0 and "line 2 W-000: " in r.stdout and "retries exhausted" in r.stdout, r.stdout


def test_a_job_over_the_time_limit_is_stopped_and_not_retried(
        tmp_path: Path, corpus: Path, pg_database: str, redis_namespace: str, workers: Workers, moto_url: str) -> None:
    """A job still fetching its model from a bucket behind a slow link when its worker's time limit ends is stopped
    and not retried, and the worker lives on; the batch's other job is published.

    Nothing here races the clock: the quick job runs on a second worker with the default (15 minute) limit, and is
    held in its download by a proxy until the slow job is running on the first worker, so the first worker can
    never take it; the slow job's link (4 KB/s for a 3.7 MB model: 15 minutes) outlives its 3 s limit on any
    machine, and the test's waits are bounded generously."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_url, aws_access_key_id="testing", aws_secret_access_key="testing",
                      region_name="us-east-1")
    bucket = f"slow-{os.urandom(4).hex()}"
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(corpus / "models" / "DamagedHelmet.glb"), bucket, "DamagedHelmet.glb")
    s3.upload_file(str(corpus / "models" / "BoxVertexColors.glb"), bucket, "BoxVertexColors.glb")
    slow, gate = SlowProxy(moto_url, rate=4096), SlowProxy(moto_url, rate=4)  # the gate: 3 KB take 15 minutes
    limit = 3
    rows = [{"path": f"s3://{bucket}/BoxVertexColors.glb", "sku": "T-FAST", "category": "furniture", "lods": "none"},
            {"path": f"s3://{bucket}/DamagedHelmet.glb", "sku": "T-000", "category": "furniture", "lods": "none"}]
    manifest = write_manifest(tmp_path / "catalog.csv", rows)
    s3_env = {"PHYGITAL_ASSETS_S3_ACCESS_KEY_ID": "testing", "PHYGITAL_ASSETS_S3_SECRET_ACCESS_KEY": "testing",
              "PHYGITAL_ASSETS_S3_REGION": "us-east-1"}
    env = batch_env(tmp_path, pg_database, SHARED_REDIS, redis_namespace, PHYGITAL_ASSETS_S3_ENDPOINT_URL=moto_url,
                    **s3_env)
    catalog = Catalog.open(pg_database)
    state = BatchState(catalog)
    try:
        workers.env = {**env, "PHYGITAL_ASSETS_S3_ENDPOINT_URL": gate.url}  # default time limit
        [unlimited] = workers.start(1)
        r = run_cli(env, "batch", manifest, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        batch_id = r.stdout.strip()
        # the queue is first in, first out: the only worker takes the quick job (line 2) and waits at the gate
        _wait_running(state, batch_id, 2, unlimited, workers)
        workers.env = {**env, "PHYGITAL_ASSETS_S3_ENDPOINT_URL": slow.url,
                       "PHYGITAL_ASSETS_BATCH_TIME_LIMIT_S": str(limit)}
        [limited] = workers.start(1)
        _wait_running(state, batch_id, 3, limited, workers)  # the slow job is the limited worker's, and the last
        gate.release()
        r = run_cli(env, "batch", "status", batch_id, "--wait", "--json", cwd=tmp_path, timeout=300)
    finally:
        slow.close()
        gate.close()
        catalog.close()
    assert r.returncode == 0, (r.stderr, workers.output())
    status = json.loads(r.stdout)
    assert status["counts"] == {"failed": 1, "published": 1}, (status, workers.output())
    [failure] = status["failures"]
    assert failure["sku"] == "T-000" and failure["attempts"] == 1, failure
    assert failure["reason"] == f"time limit of {limit} s exceeded", failure
    assert limited.poll() is None and unlimited.poll() is None, workers.output()
    assert_store_matches_catalog(tmp_path, pg_database)


def _wait_running(state: BatchState, batch_id: str, line: int, worker: object, workers: Workers) -> None:
    """Wait (bounded) until the batch's job on ``line`` is running on ``worker``; fail if another worker has it."""
    import subprocess

    assert isinstance(worker, subprocess.Popen)

    def running() -> bool:
        job = next(j for j in state.jobs(batch_id) if j.line == line)
        if job.state == "queued":
            return False
        assert job.state == "running" and (job.worker or "").endswith(f":{worker.pid}"), (job, workers.output())
        return True

    wait_until(running, 120, f"line {line} running on worker {worker.pid}")


def test_batch_output_off_a_terminal_has_no_blank_lines(tmp_path: Path) -> None:
    # the local mode's progress bar, transient, left an empty line on stderr when stderr was not a terminal (a log,
    # a pipe): the bar is now hidden there, as every other command's is
    shutil.copy(SAMPLE_MODELS / "gift-box.obj", tmp_path / "box.obj")
    manifest = write_manifest(tmp_path / "catalog.csv", [{"path": tmp_path / "box.obj", "sku": "Q-BOX",
                                                          "category": "accessory", "units": "cm", "lods": "none"}])
    env = batch_env(tmp_path, f"sqlite:///{tmp_path / 'catalog.sqlite'}", None, "unused")
    r = run_cli(env, "batch", manifest, "--processes", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1/1 finished - 1 published" in r.stdout + r.stderr, (r.stdout, r.stderr)
    assert "" not in r.stderr.splitlines() and "" not in r.stdout.splitlines(), (r.stdout, r.stderr)
