"""The benchmark's peers do the job flowmerge does: on generated data of both
kinds of traffic, the DuckDB, pyarrow, ClickHouse and Polars peers' outputs
conserve the generator's totals per window and account, and they agree flow
for flow (same rows, same tcp-flags OR)."""

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import binary, flowmerge

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402  (bench/ is not a package)

PER_WINDOW = f"""
    SELECT {bench.PEER_WINDOW} AS w, count(*), sum(records), sum(tcp_flags), count(tcp_flags),
           count(DISTINCT srcaddr)
    FROM read_parquet(?, filename = true, union_by_name = true)
    GROUP BY ALL ORDER BY ALL
"""


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    raw = tmp_path_factory.mktemp("bench") / "raw"
    flowmerge("generate", raw, "--minutes", 3, "--accounts", 4)
    return raw


@pytest.fixture(scope="module")
def internet(tmp_path_factory):
    raw = tmp_path_factory.mktemp("bench") / "internet"
    flowmerge("generate", raw, "--minutes", 3, "--accounts", 3, "--traffic", "internet")
    return raw


@pytest.mark.parametrize("traffic", ["raw", "internet"])
@pytest.mark.parametrize("peer", bench.PEERS.values())
def test_peer_conserves_the_truth(request, tmp_path, peer, traffic):
    raw = request.getfixturevalue(traffic)
    out = tmp_path / "out"
    subprocess.run([sys.executable, BENCH / peer, raw, out, "2"], check=True)
    totals, rows = bench.parquet_totals(f"{out}/**/*.parquet", bench.PEER_WINDOW)
    truth = json.loads((raw / "truth.json").read_text())
    assert totals == bench.truth_totals(truth)
    assert 0 < rows < truth["records"]


def test_peers_agree_flow_for_flow(raw, tmp_path):
    seen = {}
    for peer in bench.PEERS.values():
        out = tmp_path / peer
        subprocess.run([sys.executable, BENCH / peer, raw, out, "1"], check=True)
        seen[peer] = duckdb.execute(PER_WINDOW, [f"{out}/**/*.parquet"]).fetchall()
    first = seen["duckdb_peer.py"]
    assert all(flows == first for flows in seen.values()), {p: f[:2] for p, f in seen.items()}
    assert any(row[4] for row in first), "no tcp-flags in the data: the OR is untested"


def test_flowmerge_output_is_smaller_than_every_peers_on_internet_traffic(internet, tmp_path):
    """The output-size contract `make bench` reports, on a small sample:
    flowmerge at the peers' semantics writes fewer bytes than any of them."""
    rows = bench.output_sizes(binary(), internet, json.loads((internet / "truth.json").read_text()), 2)
    assert all(r["conserved"] for r in rows), rows
    ours = max(r["bytes"] for r in rows if r["tool"].startswith("flowmerge"))
    assert all(ours < r["bytes"] for r in rows if not r["tool"].startswith("flowmerge")), rows


def test_duckdb_peer_compacts_native_parquet_like_text(raw, tmp_path):
    """The native Parquet benchmark's peer: the same data delivered as
    .log.parquet conserves the truth and gives the same flows as from text."""
    parquet = tmp_path / "parquet"
    flowmerge("generate", parquet, "--minutes", 3, "--accounts", 4, "--delivery", "parquet")
    seen = []
    for source in (raw, parquet):
        out = tmp_path / f"out-{source.name}"
        subprocess.run([sys.executable, BENCH / "duckdb_peer.py", source, out, "2"], check=True)
        totals, _ = bench.parquet_totals(f"{out}/**/*.parquet", bench.PEER_WINDOW)
        assert totals == bench.truth_totals(json.loads((source / "truth.json").read_text()))
        seen.append(duckdb.execute(PER_WINDOW, [f"{out}/**/*.parquet"]).fetchall())
    assert seen[0] == seen[1]
