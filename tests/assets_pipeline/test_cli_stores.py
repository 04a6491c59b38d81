"""``phygital-assets stores ...`` run as a user runs it (subprocesses of this checkout), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ROOT, TIME_FACTOR

SAMPLES = ROOT / "samples" / "fitting"


def stores(root: Path, url: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(ROOT),
           "PHYGITAL_ASSETS_CATALOG_URL": url, "PHYGITAL_ASSETS_STORE_PATH": str(root / "objects")}
    return subprocess.run([sys.executable, "-m", "assets_pipeline", "stores", *map(str, args)], capture_output=True,
                          text=True, cwd=root, timeout=120 * TIME_FACTOR, check=False, env=env)


def test_seed_show_and_recommend(tmp_path: Path, catalog_url: str) -> None:
    r = stores(tmp_path, catalog_url, "import", SAMPLES / "stores.csv")
    assert r.returncode == 0 and "stores.csv: 2 line(s), 2 created" in r.stdout, r.stderr
    r = stores(tmp_path, catalog_url, "stock", "import", SAMPLES / "stock.csv", "--store", "paris-01", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["products_created"] == 8
    assert stores(tmp_path, catalog_url, "tags", "import", SAMPLES / "tags.csv").returncode == 0
    listed = json.loads(stores(tmp_path, catalog_url, "list", "--json").stdout)
    assert [(s["id"], s["rooms"], s["pieces"]) for s in listed] == [("lyon-02", ["A", "B", "C"], 0),
                                                                    ("paris-01", ["1", "2", "3", "4"], 55)]
    r = stores(tmp_path, catalog_url, "show", "paris-01", "--sku", "JEA-300")
    assert r.returncode == 0 and "stock: 4 of 4 row(s)" in r.stdout and "69.00 EUR" in r.stdout
    r = stores(tmp_path, catalog_url, "recommend", "paris-01", "TSH-100", "--size", "m", "--colour", "white", "--json")
    recs = json.loads(r.stdout)
    assert [m["sku"] for m in recs["matches"]] == ["BAG-700", "JEA-300", "SNK-500"]
    r = stores(tmp_path, catalog_url, "tags", "resolve", "3034257BF0000280000003E9")
    assert r.returncode == 0 and "JEA-300 32 denim" in r.stdout and "store paris-01" in r.stdout
    r = stores(tmp_path, catalog_url, "tags", "resolve", "not-a-tag")
    assert r.returncode == 1 and "not-a-tag: unknown" in r.stdout
    r = stores(tmp_path, catalog_url, "stock", "set", "paris-01", "TSH-100", "L", "white", "5", "--price", "19,99",
               "--currency", "eur")
    assert r.returncode == 0 and "paris-01 TSH-100 L white: 5" in r.stdout, r.stderr
    assert stores(tmp_path, catalog_url, "rooms", "add", "paris-01", "VIP").returncode == 0
    assert stores(tmp_path, catalog_url, "add", "nice-03", "--name", "Nice", "--rooms", "2").returncode == 0
    assert "1 2" in stores(tmp_path, catalog_url, "list").stdout


def test_bad_input_is_one_line_per_problem(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    assert stores(tmp_path, url, "add", "paris-01", "--rooms", "2").returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,size,colour,quantity,name,category\nA,M,white,x,Tee,apparel\nB,M,white,1,,\n"
                   "C,M,white,1,Cap,accessory\n")
    r = stores(tmp_path, url, "stock", "import", bad, "--store", "paris-01")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        "error: bad.csv: line 2: quantity: 'x' is not a whole number",
        "error: bad.csv: line 3: sku: no product 'B' in the catalog (add name and category columns to create it)",
        "2 bad line(s); nothing was imported"]
    assert json.loads(stores(tmp_path, url, "list", "--json").stdout)[0]["skus"] == 0  # C was not imported either
    for args, words in [(("add", "paris-01"), "store 'paris-01' already exists"),
                        (("add", "fit.x"), "'fit.x' is not a valid store id"),
                        (("show", "nope"), "no store 'nope'"),
                        (("stock", "import", tmp_path / "missing.csv", "--store", "paris-01"), "no such file"),
                        (("rooms", "add", "paris-01", "1"), "already has fitting room '1'"),
                        (("tags", "add", "4006381333932", "--sku", "A", "--size", "M", "--colour", "red"),
                         "check digit is wrong")]:
        r = stores(tmp_path, url, *args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], r.stderr


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_remove_needs_yes(tmp_path: Path, catalog_url: str) -> None:
    assert stores(tmp_path, catalog_url, "add", "paris-01").returncode == 0
    r = stores(tmp_path, catalog_url, "remove", "paris-01")
    assert r.returncode == 1 and "add --yes" in r.stdout
    assert stores(tmp_path, catalog_url, "remove", "paris-01", "--yes").returncode == 0
    assert json.loads(stores(tmp_path, catalog_url, "list", "--json").stdout) == []
