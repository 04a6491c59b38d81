"""upload/list/show/rollback/delete/token/serve/init-store, run as a user runs them (subprocesses)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ..conftest import TIME_FACTOR
from .catalog_fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]


def env_for(root: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PHYGITAL_ASSETS_STORE_PATH": str(root / "objects"),
            "PHYGITAL_ASSETS_CATALOG_PATH": str(root / "catalog.sqlite"), **extra}


def cli(root: Path, *args: str | Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assets_pipeline", *map(str, args)], capture_output=True,
                          text=True, cwd=root, timeout=300 * TIME_FACTOR, check=False, env=env_for(root, **extra))


def one_error_line(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_help_lists_catalog_commands(tmp_path: Path) -> None:
    r = cli(tmp_path, "--help")
    assert r.returncode == 0
    for word in ("upload", "list", "show", "rollback", "delete", "serve", "token", "init-store"):
        assert word in r.stdout
    r = cli(tmp_path, "upload", "--help")
    assert r.returncode == 0 and "--variant" in r.stdout and "--category" in r.stdout


def test_upload_list_show_rollback_delete(tmp_path: Path, corpus: Path) -> None:
    model = corpus / "models" / "BoxVertexColors.glb"
    r = cli(tmp_path, "upload", model, "--sku", "BVC-1", "--category", "accessory", "--name", "Vertex box",
            "--variant", "red=#ff0000", "--lods", "0.5")
    assert r.returncode == 0, r.stderr
    assert "BVC-1 version 1" in r.stdout and "dimensions:" in r.stdout and "variants: red" in r.stdout
    assert "uploaded" in r.stdout and str(tmp_path / "objects") in r.stdout
    r = cli(tmp_path, "upload", model, "--sku", "BVC-1", "--category", "accessory", "--lods", "0.5", "--json")
    assert r.returncode == 0, r.stderr
    second = json.loads(r.stdout)
    assert second["version"] == 2 and all(not o["created"] for o in second["objects"])  # same bytes: nothing new
    listed = json.loads(cli(tmp_path, "list", "--json").stdout)
    assert listed["total"] == 1 and listed["items"][0]["current_version"] == 2
    assert "Vertex box" in cli(tmp_path, "list").stdout
    shown = json.loads(cli(tmp_path, "show", "BVC-1", "--json").stdout)
    assert [v["number"] for v in shown["versions"]] == [1, 2] and shown["versions"][0]["variants"] == ["red"]
    assert {a["format"] for a in shown["versions"][0]["assets"]} == {"glb", "usdz", "png"}
    for a in shown["versions"][0]["assets"]:
        data = (tmp_path / "objects" / a["key"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == a["sha256"] and len(data) == a["bytes"]
    r = cli(tmp_path, "rollback", "BVC-1", "1")
    assert r.returncode == 0 and "current version is now 1" in r.stdout
    assert json.loads(cli(tmp_path, "show", "BVC-1", "--json").stdout)["current_version"] == 1
    one_error_line(cli(tmp_path, "rollback", "BVC-1", "5"), "no version 5")
    distinct = {a["key"] for v in shown["versions"] for a in v["assets"]}  # LODs of a 12-triangle box are equal
    r = cli(tmp_path, "delete", "BVC-1", "--yes")
    assert r.returncode == 0 and f"removed {len(distinct)} object(s)" in r.stdout, r.stdout
    assert not [p for p in (tmp_path / "objects").rglob("*") if p.is_file()]
    one_error_line(cli(tmp_path, "show", "BVC-1"), "no product with SKU 'BVC-1'")


def test_bad_input_one_line_exit_2(tmp_path: Path, corpus: Path) -> None:
    model = corpus / "models" / "BoxVertexColors.glb"
    text = tmp_path / "readme.txt"
    text.write_text("hello")
    one_error_line(cli(tmp_path, "upload", text, "--sku", "A", "--category", "shoes"), "readme.txt")
    one_error_line(cli(tmp_path, "upload", model, "--sku", "A", "--category", "hats"), "category", "'hats'")
    one_error_line(cli(tmp_path, "upload", model, "--sku", "A", "--category", "shoes",
                       PHYGITAL_ASSETS_MAX_FILE_MB="0.001"), "BoxVertexColors.glb", "exceeds the limit")
    one_error_line(cli(tmp_path, "upload", tmp_path / "missing.glb", "--sku", "A", "--category", "shoes"),
                   "missing.glb")
    one_error_line(cli(tmp_path, "upload", model, "--sku", "A", "--category", "shoes",
                       PHYGITAL_ASSETS_STORE="s3", PHYGITAL_ASSETS_S3_BUCKET="b",
                       PHYGITAL_ASSETS_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
                       PHYGITAL_ASSETS_S3_MAX_ATTEMPTS="1", PHYGITAL_ASSETS_S3_ACCESS_KEY_ID="x",
                       PHYGITAL_ASSETS_S3_SECRET_ACCESS_KEY="y"), "cannot reach the S3 endpoint")
    one_error_line(cli(tmp_path, "list", PHYGITAL_ASSETS_STORE="ftp"), "PHYGITAL_ASSETS_STORE")
    one_error_line(cli(tmp_path, "list", PHYGITAL_ASSETS_CATALOG_URL=f"sqlite:///{text}/sub/catalog.sqlite"),
                   "cannot create the catalog folder", "readme.txt")
    assert json.loads(cli(tmp_path, "list", "--json").stdout)["total"] == 0  # nothing half-written
    assert cli(tmp_path, "upload", model, "--sku", "A", "--category", "shoes", "--lods", "0.5", "-q").returncode == 0
    one_error_line(cli(tmp_path, "upload", model, "--sku", "A", "--category", "makeup", "--lods", "0.5"),
                   "already exists as shoes, not makeup")
    one_error_line(cli(tmp_path, "token", "me"), "PHYGITAL_ASSETS_API_TOKEN_SECRET")


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_error_line(cli(tmp_path, "serve", "--port", str(port)), f"cannot listen on 127.0.0.1:{port}", "in use")


def test_serve_alone_with_token_upload(tmp_path: Path, corpus: Path) -> None:
    secret = {"PHYGITAL_ASSETS_API_TOKEN_SECRET": "s3cret"}
    tok = cli(tmp_path, "token", "artist-1", "--role", "artist", "--ttl", "600", **secret)
    assert tok.returncode == 0 and tok.stdout.startswith("v1.")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "assets_pipeline", "serve", "--port", str(port), "-q"],
                            cwd=tmp_path, env=env_for(tmp_path, **secret), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120 * TIME_FACTOR  # a start under heavy load takes tens of seconds
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
            time.sleep(0.2)
        assert httpx.get(base + "/docs").status_code == 200
        body = (corpus / "models" / "pirate.glb").read_bytes()
        resp = httpx.post(base + "/products/PIRATE/upload", params={"filename": "pirate.glb", "category": "apparel"},
                          content=body, headers={"Authorization": f"Bearer {tok.stdout.strip()}"}, timeout=120)
        assert resp.status_code == 201, resp.text
        manifest = httpx.get(base + "/products/PIRATE/manifest").json()
        glb = manifest["items"][0]["glb"]
        assert glb["url"].startswith(base)
        data = httpx.get(glb["url"]).content
        assert hashlib.sha256(data).hexdigest() == glb["sha256"]
    finally:
        proc.terminate()
        proc.wait(15)


def test_init_store_creates_the_bucket(tmp_path: Path, moto_url: str) -> None:
    s3 = {"PHYGITAL_ASSETS_STORE": "s3", "PHYGITAL_ASSETS_S3_BUCKET": "fresh-bucket-cli",
          "PHYGITAL_ASSETS_S3_ENDPOINT_URL": moto_url, "PHYGITAL_ASSETS_S3_ACCESS_KEY_ID": "testing",
          "PHYGITAL_ASSETS_S3_SECRET_ACCESS_KEY": "testing", "PHYGITAL_ASSETS_S3_REGION": "us-east-1"}
    r = cli(tmp_path, "init-store", **s3)
    assert r.returncode == 0 and "created" in r.stdout, r.stderr
    assert "bucket exists" in cli(tmp_path, "init-store", **s3).stdout


def test_list_and_show_print_whole_values_on_a_narrow_output(tmp_path: Path) -> None:
    """Piped output is 80 columns wide for rich: the tables grow wider instead of cutting SKUs and names."""
    sku = "DISPLAY-STAND-WALNUT-AND-BRUSHED-ALUMINIUM-2026"
    name = "Display stand in brushed aluminium with walnut shelves, for flagship stores"
    variant = "walnut-and-brushed-aluminium-with-brass-feet"
    r = cli(tmp_path, "upload", ROOT / "samples" / "models" / "display-stand.obj", "--sku", sku, "--category",
            "furniture", "--name", name, "--variant", f"{variant}=#aa7744", "--lods", "0.5", "-q")
    assert r.returncode == 0, r.stderr
    r = cli(tmp_path, "tryon", "LIPSTICK-" + "X" * 50, "--kind", "lipstick", "--shade", "#aa0000", "--name", name)
    assert r.returncode == 0, r.stderr
    for args in (("list",), ("show", sku)):
        r = cli(tmp_path, *args, COLUMNS="80")
        assert r.returncode == 0, r.stderr
        assert "…" not in r.stdout, r.stdout
        lines = r.stdout.splitlines()
        for value in (sku, name, *([variant, "display-stand.obj"] if args[0] == "show" else ["LIPSTICK-" + "X" * 50])):
            assert any(value in line for line in lines), (value, r.stdout)


def test_upload_takes_optimizes_texture_max_size(tmp_path: Path, corpus: Path) -> None:
    """upload --texture-max-size is optimize's option: the same help and the same refusal of 0."""
    box = corpus / "models" / "BoxTextured" / "BoxTextured.gltf"
    help_text = " ".join(cli(tmp_path, "upload", "--help").stdout.split())
    assert "--texture-max-size <int range>" in help_text and "Resize textures larger than this many pixels" in help_text
    r = cli(tmp_path, "upload", box, "--sku", "TEX-0", "--category", "accessory", "--texture-max-size", "0")
    assert r.returncode == 2 and "--texture-max-size" in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = cli(tmp_path, "upload", box, "--sku", "TEX-32", "--category", "accessory", "--lods", "0.5",
            "--texture-max-size", "32", "--json")
    assert r.returncode == 0, r.stderr
    small = next(o["bytes"] for o in json.loads(r.stdout)["objects"] if o["format"] == "glb" and o["lod"] == 0)
    r = cli(tmp_path, "upload", box, "--sku", "TEX-FULL", "--category", "accessory", "--lods", "0.5", "--json")
    full = next(o["bytes"] for o in json.loads(r.stdout)["objects"] if o["format"] == "glb" and o["lod"] == 0)
    assert small < full - 1000, (small, full)
