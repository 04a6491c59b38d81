#!/usr/bin/env bash
# Sets up everything the project needs on a fresh Debian machine, idempotently:
# Debian libraries (as root), the virtual environment at .venv with the project installed,
# the asset pipeline's node tools (simplifier, glTF validator) into .venv, and the benchmark npm tools under tools/node.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
dpkg -s libusb-1.0-0 >/dev/null 2>&1 || need_apt+=(libusb-1.0-0)
dpkg -s libgl1 >/dev/null 2>&1 || need_apt+=(libgl1)
dpkg -s libgomp1 >/dev/null 2>&1 || need_apt+=(libgomp1)
if [ "$(id -u)" = 0 ]; then
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)  # the browser tests of the web pages (Playwright drives it)
elif [ ! -x /usr/bin/chromium ]; then  # only the browser tests need it, and they skip without it
  echo "setup: note: no /usr/bin/chromium; the browser tests (tests/web) will be skipped (root: apt-get install chromium)" >&2
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages (as root): ${need_apt[*]}" >&2
    exit 1
  fi
fi

# The interpreter: $PYTHON when set; else the distribution's own python3.11 when it can make a virtual environment
# (Debian's and Ubuntu's are built with profile-guided and link-time optimization; a plain source build, pyenv's
# default, is not, and runs the session server at 1.09-1.17x the CPU: docs/benchmarks-session.md, *The
# interpreter, and 8 tick slots*); else python3.11 on PATH.
if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
elif [ -x /usr/bin/python3.11 ] && /usr/bin/python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  PY=/usr/bin/python3.11
else
  PY=python3.11
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.phygital-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the project into .venv (first time takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi

# What the asset pipeline runs (meshoptimizer's simplifier, the glTF validator): shipped in the package, its npm
# packages installed into .venv/share/phygital/node-tools (does nothing when they are there).
if ! .venv/bin/python -m assets_pipeline node-tools >/dev/null 2>&1; then
  echo "setup: installing the asset pipeline's node tools (phygital-assets node-tools --install)"
  .venv/bin/python -m assets_pipeline node-tools --install >/dev/null
fi
# Only the tests and benchmarks use these: gltfpack and glTF-Transform (references), ws (load generator, JS client).
if [ ! -d tools/node/node_modules/gltfpack ] || [ tools/node/package-lock.json -nt tools/node/node_modules ]; then
  echo "setup: installing the benchmark node tools (npm ci in tools/node)"
  (cd tools/node && npm ci --no-audit --no-fund --silent)
fi
if [ ! -d tools/web/node_modules/three ] || [ tools/web/package-lock.json -nt tools/web/node_modules ]; then
  echo "setup: installing the pages' front-end packages (npm ci in tools/web)"
  (cd tools/web && npm ci --no-audit --no-fund --silent)
fi
# the pages load these from the server itself (never from a CDN): copy them into the package
vendor=session_server/web/static/vendor
mkdir -p "$vendor/three/addons/loaders" "$vendor/three/addons/libs" "$vendor/three/addons/controls" \
  "$vendor/three/addons/utils" "$vendor/qrcode-generator"
three=tools/web/node_modules/three
cp "$three/build/three.core.min.js" "$three/build/three.module.min.js" "$vendor/three/"
cp "$three/examples/jsm/loaders/GLTFLoader.js" "$vendor/three/addons/loaders/"
cp "$three/examples/jsm/libs/meshopt_decoder.module.js" "$vendor/three/addons/libs/"
cp "$three/examples/jsm/controls/OrbitControls.js" "$vendor/three/addons/controls/"
cp "$three/examples/jsm/utils/BufferGeometryUtils.js" "$vendor/three/addons/utils/"
cp "$three/LICENSE" "$vendor/three/"
cp tools/web/node_modules/qrcode-generator/dist/qrcode.mjs \
  "$vendor/qrcode-generator/"
echo "setup: ready"
