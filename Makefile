# Phygital: `make run` sets everything up and optimizes a sample; `make test` sets up and runs all tests.
.PHONY: setup run test lint bench clean

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/python -m assets_pipeline optimize samples/models/display-stand.obj -o out/display-stand.glb --units cm --up z --lods 0.5,0.25,0.1 --report out/display-stand.json

test: setup
	bash scripts/services.sh
	.venv/bin/ruff check .
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .

bench: setup
	.venv/bin/python tests/benchmarks/bench_assets.py

clean:
	rm -rf out .pytest_cache .ruff_cache
