"""The hour tier read back by DuckDB and pyarrow: every hour holds exactly
its minutes' records (per hour and account, against the generator's truth),
flows that continue across minutes are joined, and account shards never
split an account between files."""

import json
from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import flowmerge

HOURLY_TOTALS_SQL = """
    SELECT regexp_extract(filename, '/(\\d{8}T\\d{2}Z)-', 1) AS hour, account_id,
           sum(records)::BIGINT, coalesce(sum(packets), 0)::BIGINT, coalesce(sum(bytes), 0)::BIGINT,
           min(start), max("end")
    FROM read_parquet(?, filename = true)
    GROUP BY ALL ORDER BY ALL
"""


def truth_per_hour(truth):
    """(hour stamp, account, records, packets, bytes, start, end) from the truth's minutes."""
    hours = defaultdict(lambda: [0, 0, 0, None, None])
    for window, accounts in truth["windows"].items():
        hour = window[:13].replace("-", "") + "Z"  # 2026-11-22T13:05Z -> 20261122T13Z
        for account, t in accounts.items():
            h = hours[(hour, account)]
            h[0] += t["records"]
            h[1] += t["packets"]
            h[2] += t["bytes"]
            h[3] = t["start_min"] if h[3] is None else min(h[3], t["start_min"])
            h[4] = t["end_max"] if h[4] is None else max(h[4], t["end_max"])
    return sorted((*key, *value) for key, value in hours.items())


@pytest.fixture(scope="module")
def rolled(tmp_path_factory):
    """Twenty minutes across two hours, compacted with the hour tier."""
    root = tmp_path_factory.mktemp("rollup")
    raw, out = root / "raw", root / "out"
    flowmerge("generate", raw, "--start", "2026-11-22T12:50Z", "--minutes", 20, "--accounts", 8)
    summary = json.loads(flowmerge("compact", raw, out, "--rollup", "hour", "--json").stdout)
    truth = json.loads((raw / "truth.json").read_text())
    return {"raw": raw, "out": out, "summary": summary, "truth": truth}


def hour_glob(out: Path) -> str:
    return str(out / "flowlogs-hourly" / "**" / "*.parquet")


def test_each_hour_holds_its_minutes_records_per_account(rolled):
    assert rolled["summary"]["hours_run"] == 2
    found = [tuple(r) for r in duckdb.execute(HOURLY_TOTALS_SQL, [hour_glob(rolled["out"])]).fetchall()]
    assert found == truth_per_hour(rolled["truth"])
    flowmerge("verify", rolled["raw"], rolled["out"])


def test_flows_continuing_across_minutes_are_joined(rolled):
    minutes = pq.read_table(rolled["out"] / "flowlogs", columns=["start", "end", "records"])
    hours = pq.read_table(rolled["out"] / "flowlogs-hourly", columns=["start", "end", "records"])
    assert pc.sum(hours["records"]).as_py() == pc.sum(minutes["records"]).as_py() == rolled["truth"]["records"]
    assert hours.num_rows == rolled["summary"]["hour_rows_out"] < minutes.num_rows
    longest = lambda t: pc.max(pc.subtract(t["end"], t["start"])).as_py()  # noqa: E731
    assert longest(hours) > longest(minutes) + 60, "some hour rows span several minutes"


def test_hour_files_are_sorted_zstd_with_the_minute_schema(rolled):
    minute_types = {}
    for path in Path(rolled["out"], "flowlogs").rglob("*.parquet"):
        minute_types.update({f.name: str(f.type) for f in pq.read_schema(path)})
    contract = json.loads((Path(__file__).resolve().parents[2] / "infra" / "contract.json").read_text())
    assert contract["glue"]["tables"]["flowlogs_hourly"]["root"] == "flowlogs-hourly/"
    glue = {c["name"]: c["type"] for c in contract["glue"]["columns"]}
    athena = {"int32": "int", "int64": "bigint", "string": "string"}
    paths = sorted(Path(rolled["out"], "flowlogs-hourly").rglob("*.parquet"))
    assert len(paths) == 2
    for path in paths:
        schema = pq.read_schema(path)
        assert {f.name: str(f.type) for f in schema}.items() <= minute_types.items()
        assert all(glue.get(f.name) == athena[str(f.type)] for f in schema)
        meta = pq.ParquetFile(path).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
        rows = pq.read_table(path, columns=["account_id", "interface_id"]).to_pylist()
        keys = [(r["account_id"] or "", r["interface_id"] or "") for r in rows]
        assert keys == sorted(keys)


def test_account_shards_keep_each_account_in_one_file(rolled, tmp_path):
    """A small target file size splits each hour into account shards: one
    file per shard, no account in two files, the same totals and rows."""
    out = tmp_path / "sharded"
    summary = json.loads(flowmerge("compact", rolled["raw"], out, "--rollup", "hour",
                                   "--target-file-size", "40KiB", "--json").stdout)
    assert summary["hour_files_out"] > 2
    assert summary["hour_rows_out"] == rolled["summary"]["hour_rows_out"]
    found = [tuple(r) for r in duckdb.execute(HOURLY_TOTALS_SQL, [hour_glob(out)]).fetchall()]
    assert found == truth_per_hour(rolled["truth"])
    owners = defaultdict(set)
    for path in Path(out, "flowlogs-hourly").rglob("*.parquet"):
        hour = path.name.split("-")[0]
        for account in pc.unique(pq.read_table(path, columns=["account_id"])["account_id"]).to_pylist():
            owners[(hour, account)].add(path.name)
    assert owners and all(len(files) == 1 for files in owners.values()), owners
    flowmerge("verify", rolled["raw"], out)


@pytest.mark.parametrize("tier", ["flowlogs", "flowlogs-hourly"])
def test_address_lookups_through_bloom_filters_find_every_row(rolled, tier):
    """DuckDB skips row groups by the address and interface columns' bloom
    filters: a wrong filter would make it miss rows a full read finds."""
    table = pq.read_table(Path(rolled["out"], tier), columns=["srcaddr", "dstaddr", "interface_id"])
    glob = str(Path(rolled["out"], tier) / "**" / "*.parquet")
    for column in ("srcaddr", "dstaddr", "interface_id"):
        counts = defaultdict(int)
        for value in table[column].to_pylist():
            counts[value] += 1
        values = sorted(v for v in counts if v is not None)[::max(1, len(counts) // 40)]
        for value in values + ["192.0.2.254"]:
            found = duckdb.execute(
                f"SELECT count(*) FROM read_parquet(?, union_by_name = true) WHERE {column} = ?",
                [glob, value]).fetchone()[0]
            assert found == counts.get(value, 0), (column, value)
