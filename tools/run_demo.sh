#!/usr/bin/env bash
# README command 1: set up (idempotent) and run the main job on synthetic data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
exec .venv/bin/python tools/demo.py "$@"
