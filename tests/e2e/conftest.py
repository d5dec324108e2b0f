"""Fixtures of the local AWS end-to-end tests: one LocalAws for the session
(started before the first test, stopped after the last or on any failure),
generated datasets, and helpers to run windows and read the result."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/truth.py

from local_aws import OUTPUT_PREFIX, RAW_BUCKET, REPO, LocalAws  # noqa: E402
from truth import output_rows, stamp, truth_rows  # noqa: E402

FLOWMERGE = os.environ.get("FLOWMERGE_BIN", str(REPO / "target" / "debug" / "flowmerge"))


def flowmerge(*args, env=None, check=True):
    return subprocess.run([FLOWMERGE, *map(str, args)], check=check, capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


@dataclass
class Dataset:
    """Generated raw flow logs and their truth."""
    raw: Path
    truth: dict

    @property
    def windows(self):
        return sorted(self.truth["windows"])

    def files(self):
        return sorted(p for p in self.raw.rglob("*") if p.is_file() and p.name != "truth.json")

    def key(self, path: Path) -> str:
        return path.relative_to(self.raw).as_posix()


@pytest.fixture(scope="session")
def aws(tmp_path_factory):
    local = LocalAws(tmp_path_factory.mktemp("local-aws"), Path(sys.executable).parent)
    try:
        local.start()
        yield local
    finally:
        local.stop()


def generate_into(directory: Path, start: str, minutes=1, accounts=4, seed=42, enis=3, flows=6,
                  **extra) -> Dataset:
    """`flowmerge generate` into a directory of its own; `extra` are more
    flags (`bad_lines=7` -> `--bad-lines 7`, `bad_files=True` -> `--bad-files`)."""
    raw = directory / f"raw-{seed}"
    args = ["generate", raw, "--start", start, "--minutes", minutes, "--accounts", accounts,
            "--enis", enis, "--flows", flows, "--seed", seed]
    for flag, value in extra.items():
        args += [f"--{flag.replace('_', '-')}"] + ([] if value is True else [value])
    flowmerge(*args)
    return Dataset(raw, json.loads((raw / "truth.json").read_text()))


def deliver(aws, dataset: Dataset, paths=None):
    """Uploads files to the raw bucket, as flow log delivery does; S3 sends
    each ObjectCreated event to the raw events queue."""
    s3 = aws.client("s3")
    for path in paths if paths is not None else dataset.files():
        s3.upload_file(str(path), RAW_BUCKET, dataset.key(path))


def run_pipeline(aws):
    """Ingest what is queued, run the scheduler once, wait for the executions."""
    aws.ingest_pending()
    summary = aws.schedule()
    aws.settle()
    return summary


def run_with_faults(aws, dataset: Dataset, failpoints: str, timeout: int = 600):
    """Delivers and runs `dataset` with the Lambdas redeployed with these
    failpoints; the fault is removed again whatever happens."""
    aws.lambdas(failpoints=failpoints, timeout=timeout)
    try:
        deliver(aws, dataset)
        run_pipeline(aws)
    finally:
        aws.lambdas()


def ledger(aws) -> dict:
    """Window -> record, as `flowmerge status --table` reads the DynamoDB ledger."""
    result = flowmerge("status", "--json", env=aws.cli_env(), check=False)
    assert result.returncode in (0, 1), result.stderr
    return {w["window"]: w for w in json.loads(result.stdout)}


def output_keys(aws, window: str) -> dict:
    """Key -> ETag of the window's Parquet files."""
    marker = f"/{stamp(window)}-"
    return {k: e for k, e in aws.keys(f"{OUTPUT_PREFIX}flowlogs/").items() if marker in k}


def read_totals(aws, windows, dest: Path):
    """Per window and account totals of the committed output, read by DuckDB."""
    keys = [k for w in windows for k in output_keys(aws, w)]
    assert keys, f"no output for {windows}"
    aws.download(keys, dest)
    return output_rows(str(dest / "**" / "*.parquet"))


def expected_totals(*datasets, windows=None):
    return truth_rows(*(d.truth for d in datasets), windows=windows)
