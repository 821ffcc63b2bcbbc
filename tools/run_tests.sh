#!/usr/bin/env bash
# README command 2: set up (idempotent) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash tools/setup_env.sh
echo "[run_tests] set-up finished in $(( $(date +%s) - t0 ))s"
exec .venv/bin/python -m pytest tests "$@"
