"""flowmerge's output read back by real readers (DuckDB, pyarrow), checked
against the generator's truth file, never against flowmerge's own counts."""

import json
from pathlib import Path

import boto3
import duckdb
import pyarrow.parquet as pq
import pytest

from conftest import flowmerge, parquet_glob
from truth import output_rows, truth_rows

# AWS's published Athena DDL for Parquet flow logs (int for INT_32, bigint for
# INT_64). Our columns must carry these names and physical types.
AWS_TYPES = {
    "version": "int32", "account_id": "string", "interface_id": "string",
    "srcaddr": "string", "dstaddr": "string", "srcport": "int32", "dstport": "int32",
    "protocol": "int32", "packets": "int64", "bytes": "int64", "start": "int64",
    "end": "int64", "action": "string", "log_status": "string", "vpc_id": "string",
    "subnet_id": "string", "instance_id": "string", "tcp_flags": "int32", "type": "string",
    "pkt_srcaddr": "string", "pkt_dstaddr": "string", "region": "string", "az_id": "string",
    "sublocation_type": "string", "sublocation_id": "string",
    "pkt_src_aws_service": "string", "pkt_dst_aws_service": "string",
    "flow_direction": "string", "traffic_path": "int32", "records": "int64",
}

def test_duckdb_totals_match_the_truth_per_window_and_account(compacted):
    assert output_rows(parquet_glob(compacted["out"])) == truth_rows(compacted["truth"])


def test_pyarrow_totals_and_row_counts(compacted):
    table = pq.read_table(compacted["out"] / "flowlogs")
    assert pc_sum(table, "records") == compacted["truth"]["records"]
    # Merging makes fewer rows than records, and the summary says how many.
    assert table.num_rows == compacted["summary"]["rows_out"] < compacted["truth"]["records"]


def pc_sum(table, column):
    import pyarrow.compute as pc
    return pc.sum(table[column]).as_py()


def test_columns_have_aws_names_and_physical_types(compacted):
    for path in Path(compacted["out"], "flowlogs").rglob("*.parquet"):
        schema = pq.read_schema(path)
        for field in schema:
            assert field.name in AWS_TYPES, f"unexpected column {field.name}"
            assert str(field.type) == AWS_TYPES[field.name], field.name
        assert schema.names[-1] == "records"


def test_the_glue_table_in_infra_contract_declares_every_column_written(compacted):
    """infra/contract.json (which the CDK app's Glue table reads) against the
    files themselves: every column written is declared, with its Athena type."""
    contract = json.loads((Path(__file__).resolve().parents[2] / "infra" / "contract.json").read_text())
    glue = {c["name"]: c["type"] for c in contract["glue"]["columns"]}
    athena = {"int32": "int", "int64": "bigint", "string": "string"}
    for path in Path(compacted["out"], "flowlogs").rglob("*.parquet"):
        for field in pq.read_schema(path):
            assert glue.get(field.name) == athena[str(field.type)], field.name


def test_files_are_zstd_dictionary_encoded_sorted_with_statistics(compacted):
    path = next(Path(compacted["out"], "flowlogs").rglob("*.parquet"))
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    group = meta.row_group(0)
    account = group.column(names.index("account_id"))
    assert account.compression == "ZSTD"
    assert "RLE_DICTIONARY" in account.encodings or "PLAIN_DICTIONARY" in account.encodings
    assert account.statistics is not None and account.statistics.has_min_max
    rows = pq.read_table(path, columns=["account_id", "interface_id", "start"]).to_pylist()
    keys = [(r["account_id"] or "", r["interface_id"] or "") for r in rows]
    assert keys == sorted(keys), "rows are sorted by account, then interface"


def test_hive_partitions_are_readable(compacted):
    rows = duckdb.execute(
        "SELECT DISTINCT year, month, day, hour FROM read_parquet(?, hive_partitioning = true)",
        [parquet_glob(compacted["out"])],
    ).fetchall()
    assert rows == [(2026, 11, 22, 13)]


def test_bad_lines_and_files_are_quarantined_with_reasons(compacted):
    errors = Path(compacted["out"], "errors")
    records = [json.loads(l) for f in errors.rglob("*.jsonl") for l in f.read_text().splitlines()]
    by_code = {}
    for r in records:
        assert r["errorMessage"] and r["key"]
        by_code[r["errorCode"]] = by_code.get(r["errorCode"], 0) + 1
    assert by_code == {"parse-failed": compacted["truth"]["bad_lines"],
                       "unreadable-file": compacted["truth"]["bad_files"]}
    assert compacted["summary"]["bad_lines"] == compacted["truth"]["bad_lines"]


def test_verify_passes_and_catches_a_duplicate(compacted, tmp_path):
    assert flowmerge("verify", compacted["raw"], compacted["out"]).returncode == 0
    # A copy of an output file under another name is a lasting duplicate.
    import shutil
    out = tmp_path / "out"
    shutil.copytree(compacted["out"], out)
    victim = next((out / "flowlogs").rglob("*.parquet"))
    shutil.copy(victim, victim.with_name(victim.name.replace("-0000.", "-0099.")))
    result = flowmerge("verify", compacted["raw"], out, check=False)
    assert result.returncode == 1
    assert "duplicate or orphan" in result.stdout


def test_compact_and_verify_against_s3(s3_endpoint, compacted, tmp_path):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    s3.create_bucket(Bucket="raw-logs")
    s3.create_bucket(Bucket="compacted")
    raw = Path(compacted["raw"])
    for path in raw.rglob("*"):
        if path.is_file() and path.name != "truth.json":
            s3.upload_file(str(path), "raw-logs", "org/" + str(path.relative_to(raw)))
    env = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "test",
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}
    flowmerge("compact", "s3://raw-logs/org", "s3://compacted/vpc", env=env)
    assert flowmerge("verify", "s3://raw-logs/org", "s3://compacted/vpc", env=env).returncode == 0
    # A second run finds the ledger in S3 and has nothing to do.
    assert "Nothing to do" in flowmerge("compact", "s3://raw-logs/org", "s3://compacted/vpc", env=env).stdout

    # DuckDB's httpfs is not available offline: fetch the objects, read them locally.
    local = tmp_path / "fetched"
    listing = s3.list_objects_v2(Bucket="compacted", Prefix="vpc/flowlogs/")
    for obj in listing["Contents"]:
        target = local / obj["Key"]
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file("compacted", obj["Key"], str(target))
    assert output_rows(str(local / "**" / "*.parquet")) == truth_rows(compacted["truth"])


def test_internet_traffic_pages_plain_and_dictionary_read_back_in_duckdb_and_pyarrow(tmp_path):
    """Internet-facing traffic: most client-address pages are written plain,
    the repeating columns keep their dictionary, and both readers get every
    record back."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    flowmerge("generate", raw, "--minutes", 3, "--accounts", 3, "--traffic", "internet")
    flowmerge("compact", raw, out)
    truth = json.loads((raw / "truth.json").read_text())
    assert output_rows(parquet_glob(out)) == truth_rows(truth)
    table = pq.read_table(out / "flowlogs")
    assert pc_sum(table, "records") == truth["records"]
    encodings = {"srcaddr": set(), "account_id": set()}
    for path in (out / "flowlogs").rglob("*.parquet"):
        meta = pq.ParquetFile(path).metadata
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        for column, seen in encodings.items():
            seen.add("RLE_DICTIONARY" in meta.row_group(0).column(names.index(column)).encodings)
    assert False in encodings["srcaddr"], "no client-address chunk was written plain"
    assert encodings["account_id"] == {True}
