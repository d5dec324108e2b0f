#!/usr/bin/env bash
# Runs every test: Rust unit, property and integration tests (the S3 store
# and DynamoDB ledger against a moto server started here), the Python
# read-back tests that open flowmerge's output with DuckDB and pyarrow, and
# the end-to-end tests of the AWS pipeline on a local AWS (tests/e2e starts
# its own moto, router and cargo lambda watch). Expects the venv from
# `make venv`. Cleans up the moto server on every exit path.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

MOTO_PORT=$(free_port)
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" > target/moto.log 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true; wait $MOTO_PID 2>/dev/null || true' EXIT
"$VENV/bin/python" - "$MOTO_PORT" <<'PY'
import sys, time, urllib.request
for _ in range(300):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("moto server did not start; see target/moto.log")
PY
export FLOWMERGE_TEST_S3_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
export FLOWMERGE_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$MOTO_PORT"

cargo test --workspace --all-targets
cargo test --workspace --doc
# The CLI and the Lambda binaries, built once (cargo lambda watch runs them).
cargo build --workspace --bins
FLOWMERGE_BIN="$PWD/target/debug/flowmerge" "$VENV/bin/python" -m pytest -q tests/readback
FLOWMERGE_BIN="$PWD/target/debug/flowmerge" "$VENV/bin/python" -m pytest -q tests/e2e
# A short bounded fuzz of every input reader (make fuzz runs them for long).
FUZZ_BUILD=dev tests/fuzz/run.sh 10
