"""Every way AWS delivers flow logs, generated with its truth, compacted by
the real binary and read back by DuckDB and pyarrow: VPC text objects,
native Parquet objects, Firehose JSON records and CloudWatch Logs payloads,
alone and mixed in one window."""

import json
import re
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from conftest import flowmerge, parquet_glob
from test_readback import AWS_TYPES
from truth import output_rows, per_account, stamp, truth_rows

KINDS = ["text", "parquet", "firehose", "cwl"]


def format_args(truth):
    """--format-for for each headerless source the generator says is not v2."""
    return [arg for source, fmt in truth.get("formats", {}).items()
            for arg in ("--format-for", f"{source}={fmt}")]


def generate_and_compact(root: Path, delivery: str, *extra):
    raw, out = root / "raw", root / "out"
    flowmerge("generate", raw, "--delivery", delivery, "--minutes", 6, "--accounts", 16,
              "--bad-lines", 8, "--bad-files", *extra)
    truth = json.loads((raw / "truth.json").read_text())
    summary = json.loads(flowmerge("compact", raw, out, "--json", *format_args(truth)).stdout)
    return {"raw": raw, "out": out, "truth": truth, "summary": summary}


@pytest.fixture(scope="module", params=KINDS + ["mixed"])
def delivered(request, tmp_path_factory):
    run = generate_and_compact(tmp_path_factory.mktemp(request.param), request.param)
    run["kind"] = request.param
    return run


def test_duckdb_totals_match_the_truth(delivered):
    assert output_rows(parquet_glob(delivered["out"])) == truth_rows(delivered["truth"])


def test_pyarrow_records_and_quarantine_match_the_truth(delivered):
    truth, summary = delivered["truth"], delivered["summary"]
    table = pq.read_table(delivered["out"] / "flowlogs")
    assert pc.sum(table["records"]).as_py() == truth["records"] == summary["records_in"]
    assert summary["bad_lines"] == truth["bad_lines"]
    assert summary["bad_files"] == truth["bad_files"]
    assert summary["control_messages"] == truth["control_messages"]
    assert summary["files_in"] == truth["files"]
    partitions = {"year", "month", "day", "hour"}
    for field in table.schema:
        if field.name not in partitions:
            assert str(field.type) == AWS_TYPES[field.name], field.name


def test_verify_passes_with_the_same_formats(delivered):
    result = flowmerge("verify", delivered["raw"], delivered["out"],
                       *format_args(delivered["truth"]), check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kind", ["firehose", "cwl"])
def test_headerless_sources_need_their_format(kind, tmp_path):
    """Without the configured formats, the custom-format Firehose and
    CloudWatch Logs records are bad lines, not misread records."""
    run = generate_and_compact(tmp_path, kind)
    truth = run["truth"]
    assert truth["formats"]
    out = tmp_path / "unconfigured"
    summary = json.loads(flowmerge("compact", run["raw"], out, "--json").stdout)
    assert summary["bad_lines"] > truth["bad_lines"]
    assert summary["records_in"] + summary["bad_lines"] == truth["records"] + truth["bad_lines"]


def test_native_parquet_input_is_what_aws_writes(tmp_path):
    """The generated native Parquet objects, read by pyarrow and DuckDB
    themselves, hold AWS's column names and types and the truth's totals."""
    run = generate_and_compact(tmp_path, "parquet")
    inputs = sorted(run["raw"].rglob("*.log.parquet"))
    assert inputs
    for path in inputs:
        meta = pq.ParquetFile(path).metadata
        assert meta.row_group(0).column(0).compression == "GZIP"
        for field in pq.read_schema(path):
            assert str(field.type) == AWS_TYPES[field.name], field.name
    packets, = duckdb.execute(
        "SELECT sum(packets)::BIGINT FROM read_parquet(?, union_by_name = true)",
        [[str(p) for p in inputs]]).fetchone()
    assert packets == sum(t["packets"] for a in run["truth"]["windows"].values() for t in a.values())


VPC_STAMP = re.compile(r"_(\d{8}T\d{4})Z_")
FIREHOSE_STAMP = re.compile(r"-(\d{4})-(\d\d)-(\d\d)-(\d\d)-(\d\d)-\d\d-[0-9a-f]{8}-")


def kind_and_stamp(path: Path, raw: Path):
    """What the generator wrote at `path`, and the window stamp of its name."""
    rel = path.relative_to(raw).as_posix()
    if m := VPC_STAMP.search(path.name):
        return ("parquet" if rel.endswith(".log.parquet") else "text"), m.group(1) + "Z"
    if m := FIREHOSE_STAMP.search(path.name):
        y, mo, d, h, mi = m.groups()
        return rel.split("/")[0], f"{y}{mo}{d}T{h}{mi}Z"
    return None


def test_one_window_of_all_four_kinds_conserves_the_truth(tmp_path):
    run = generate_and_compact(tmp_path, "mixed")
    kinds = {}
    for path in run["raw"].rglob("*"):
        if path.is_file() and (found := kind_and_stamp(path, run["raw"])):
            kinds.setdefault(found[1], set()).add(found[0])
    full = [w for w, k in kinds.items() if k == set(KINDS)]
    assert full, kinds
    windows = {w for w in run["truth"]["windows"] if stamp(w) in full}
    got = [r for r in output_rows(parquet_glob(run["out"])) if r[0] in full]
    assert got == truth_rows(run["truth"], windows=windows)
    # One window, one output file, whatever the kinds of its input.
    for w in full:
        assert len(list(run["out"].rglob(f"{w}-*.parquet"))) == 1


def test_every_delivery_path_gives_the_same_bytes(tmp_path):
    """The same records delivered four ways compact to byte-identical Parquet
    (file names differ: they carry the digest of each input set)."""
    import hashlib
    contents = {}
    for kind in KINDS:
        raw, out = tmp_path / kind / "raw", tmp_path / kind / "out"
        flowmerge("generate", raw, "--delivery", kind, "--minutes", 6, "--accounts", 8)
        truth = json.loads((raw / "truth.json").read_text())
        flowmerge("compact", raw, out, *format_args(truth))
        contents[kind] = sorted(hashlib.sha256(p.read_bytes()).hexdigest()
                                for p in (out / "flowlogs").rglob("*.parquet"))
    assert contents["text"]
    for kind in KINDS:
        assert contents[kind] == contents["text"], kind


def window_of(path: Path) -> int:
    """Start (unix seconds) of the window an output file's name stamps."""
    import datetime
    stamp_text = path.name[:14]
    t = datetime.datetime.strptime(stamp_text, "%Y%m%dT%H%MZ").replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp())


@pytest.mark.parametrize("kind", ["firehose", "cwl"])
def test_firehose_records_take_the_window_they_start_in(kind, tmp_path):
    """With --window-from start, a Firehose object's records are spread over
    the windows they start in: every output file holds only records of its
    window, nothing is lost or counted twice, and verify agrees."""
    run = generate_and_compact(tmp_path, kind)
    truth, raw = run["truth"], run["raw"]
    out = tmp_path / "by-start"
    args = ["--window-from", "start", *format_args(truth)]
    summary = json.loads(flowmerge("compact", raw, out, "--json", *args).stdout)
    assert summary["records_in"] == truth["records"]
    for count in ("bad_lines", "bad_files", "control_messages"):
        assert summary[count] == truth[count], count
    assert summary["files_in"] == summary["files_found"] == truth["files"]

    files = sorted((out / "flowlogs").rglob("*.parquet"))
    for path in files:
        starts = pq.read_table(path, columns=["start"])["start"]
        lo, hi = pc.min(starts).as_py(), pc.max(starts).as_py()
        assert window_of(path) <= lo <= hi < window_of(path) + 60, path.name
    # Each object holds five minutes of capture: more windows than deliveries.
    assert len({p.name[:14] for p in files}) > len(truth["windows"])
    assert per_account(output_rows(parquet_glob(out))) == per_account(truth_rows(truth))

    again = json.loads(flowmerge("compact", raw, out, "--json", *args).stdout)
    assert (again["files_new"], again["windows_run"]) == (0, 0)
    result = flowmerge("verify", raw, out, *args, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # Read by the delivery minute instead, the same output fails the check.
    assert flowmerge("verify", raw, out, *format_args(truth), check=False).returncode == 1
