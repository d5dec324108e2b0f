"""The memory budget holds for hostile input: a window whose objects inflate
far past it, or whose formats are hundreds of columns wide, is merged within
`--memory`, conserved, and read back by DuckDB; and a window whose merged
output is larger than the budget still commits.

Peak memory is flowmerge's own maximum resident set, from `wait4` in a small
launcher."""

import gzip
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from conftest import binary, flowmerge, parquet_glob

MIB = 1 << 20
ACCOUNT = "123456789012"
PREFIX = f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/2026/11/22/"
STAMP = "20261122T1305Z"
V2 = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"


# A small Python process starts each measured run. A child's peak RSS cannot be
# read from this process's wait4: on Linux a process's peak starts from that of
# the address space it replaced at exec, here pytest with DuckDB, pyarrow and
# earlier tests' data (hundreds of MiB). The launcher's own address space is
# about 10 MiB, so what it reports is flowmerge's peak.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as peak:
    peak.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def peak_rss(*args) -> tuple[int, dict, int]:
    """Runs flowmerge; returns its exit status, JSON summary and peak RSS in bytes."""
    with tempfile.NamedTemporaryFile("r") as peak:
        run = subprocess.run(
            [sys.executable, "-c", LAUNCHER, peak.name, binary(), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        # ru_maxrss is in KiB on Linux.
        return run.returncode, json.loads(run.stdout), int(peak.read()) * 1024


def write_bomb(path: Path, records: int):
    """One flow's records, gzip: ~300 bytes of text per compressed byte."""
    line = f"2 {ACCOUNT} eni-0a1b2c3d 10.0.0.1 10.0.0.2 443 49152 6 10 8400 1700000000 1700000059 ACCEPT OK\n"
    block = line * 10_000
    with gzip.open(path, "wt", compresslevel=9) as f:
        f.write(V2 + "\n")
        for _ in range(records // 10_000):
            f.write(block)


def write_wide(path: Path, extra: int, records: int):
    """A format naming `extra` fields of its own, besides v2's."""
    names = [f"extra-field-{i:03}" for i in range(extra)]
    with gzip.open(path, "wt") as f:
        f.write(" ".join([V2, *names]) + "\n")
        for r in range(records):
            values = " ".join(f"v{r}-{i}" for i in range(extra))
            f.write(
                f"2 {ACCOUNT} eni-0a1b2c3d 10.0.0.{r % 250} 10.0.0.2 443 {1024 + r} 6 1 40 1700000000 1700000059 ACCEPT OK {values}\n"
            )


def test_a_compressible_bomb_and_a_wide_file_stay_within_the_budget(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / PREFIX).mkdir(parents=True)
    bomb_records, wide_records = 3_000_000, 40
    bomb = raw / PREFIX / f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-0a_{STAMP}_bomb.log.gz"
    write_bomb(bomb, bomb_records)
    write_wide(raw / PREFIX / f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-0b_{STAMP}_wide.log.gz", 300, wide_records)
    # The bomb inflates about 300-fold: far past the budget, in a file of about 1 MB.
    assert bomb.stat().st_size < 2 * MIB

    status, summary, peak = peak_rss("compact", raw, out, "--memory", "256MiB", "-j", "2", "--json")
    assert status == 0, summary
    assert summary["records_in"] == bomb_records + wide_records
    assert summary["windows_run"] == 1 and summary["failures"] == []
    print(f"peak RSS {peak / MIB:.0f} MiB")
    assert peak < 512 * MIB, f"peak RSS {peak / MIB:.0f} MiB"
    # The bomb's records are one flow; the wide file's records, 40 flows.
    assert summary["rows_out"] == 1 + wide_records
    assert flowmerge("verify", raw, out, check=False).returncode == 0

    con = duckdb.connect()
    records, columns = con.execute(
        f"SELECT sum(records), count(*) FROM read_parquet('{parquet_glob(out)}', union_by_name=true)"
    ).fetchone()
    assert (records, columns) == (bomb_records + wide_records, 1 + wide_records)
    names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{parquet_glob(out)}')").fetchall()]
    assert "extra_field_299" in names


def test_a_window_larger_than_the_budget_commits_conserved(tmp_path):
    raw, out, unbounded = tmp_path / "raw", tmp_path / "out", tmp_path / "unbounded"
    flowmerge("generate", raw, "--minutes", 1, "--accounts", 4, "--enis", 50, "--flows", 600, "--traffic", "internet")
    status, summary, _ = peak_rss("compact", raw, out, "--memory", "16MiB", "-j", "1", "--json")
    assert status == 0, summary
    assert summary["windows_run"] == 1 and summary["failures"] == []
    assert flowmerge("verify", raw, out, check=False).returncode == 0
    _, whole, _ = peak_rss("compact", raw, unbounded, "--json")
    # The merged output is larger than the budget, and merged in parts gives the same rows.
    # (a merged row takes about 100 bytes in memory)
    assert summary["rows_out"] * 100 > 16 * MIB, summary
    assert summary["rows_out"] == whole["rows_out"]
    con = duckdb.connect()
    query = "SELECT * FROM read_parquet('{}') ORDER BY ALL"
    assert con.execute(query.format(parquet_glob(out))).fetchall() == con.execute(query.format(parquet_glob(unbounded))).fetchall()
