# Phygital: `make run` sets everything up and starts the server; `make test` sets up and runs all tests.
.PHONY: setup run sample test lint bench clean

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/python -m session_server

sample: setup
	.venv/bin/python -m assets_pipeline optimize samples/models/display-stand.obj -o out/display-stand.glb --units cm --up z --lods 0.5,0.25,0.1 --report out/display-stand.json

test: setup
	bash scripts/services.sh
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .

bench: setup
	.venv/bin/python tests/benchmarks/bench_assets.py
	.venv/bin/python tests/benchmarks/bench_session.py
	.venv/bin/python tests/benchmarks/bench_tryon.py
	.venv/bin/python tests/benchmarks/bench_scanning.py

clean:
	rm -rf out .pytest_cache .ruff_cache
