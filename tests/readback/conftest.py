"""Shared fixtures: the flowmerge binary, generated data compacted once per
session, and (when the test harness started one) a moto S3 endpoint."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/truth.py


def binary() -> str:
    """The flowmerge binary under test."""
    return os.environ.get("FLOWMERGE_BIN", "target/debug/flowmerge")


def flowmerge(*args, env=None, check=True):
    """Runs the flowmerge binary and returns the completed process."""
    return subprocess.run(
        [binary(), *map(str, args)],
        check=check,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def compacted(tmp_path_factory):
    """Generated multi-account data with bad lines and files, compacted."""
    root = tmp_path_factory.mktemp("data")
    raw, out = root / "raw", root / "out"
    flowmerge("generate", raw, "--minutes", 6, "--accounts", 20, "--bad-lines", 10, "--bad-files")
    summary = json.loads(flowmerge("compact", raw, out, "--json").stdout)
    truth = json.loads((raw / "truth.json").read_text())
    return {"raw": raw, "out": out, "summary": summary, "truth": truth}


@pytest.fixture(scope="session")
def s3_endpoint():
    endpoint = os.environ.get("FLOWMERGE_TEST_S3_ENDPOINT")
    if not endpoint:
        pytest.fail("FLOWMERGE_TEST_S3_ENDPOINT must name an S3 stand-in (tests/run.sh starts a moto server)")
    return endpoint


def parquet_glob(out: Path) -> str:
    return str(out / "flowlogs" / "**" / "*.parquet")
