"""What every peer knows of the raw files: the v2 column names of headerless
files, which columns are numbers, how each metric folds, and where a file's
delivery minute is in its name."""

import gzip
from pathlib import Path

V2 = ["version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
      "protocol", "packets", "bytes", "start", "end", "action", "log-status"]
METRICS = {"packets": "sum", "bytes": "sum", "start": "min", "end": "max", "tcp_flags": "bit_or"}
NUMERIC = {"version", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end",
           "tcp-flags", "traffic-path"}
# The delivery minute in a file's name, e.g. ..._20261122T1300Z_9f3c5888.log.gz
WINDOW_IN_NAME = r"_(\d{8}T\d{4}Z)_"


def header(path: Path) -> list[str] | None:
    """The column names a file's header line gives; None for a headerless file."""
    with gzip.open(path, "rt") as f:
        first = f.readline().split()
    return first if first and not first[0].isdigit() else None


def formats(raw: str) -> dict[tuple[tuple[str, ...], bool], list[str]]:
    """Every raw .log.gz under `raw`, grouped by format: its column names and
    whether the file names them in a header (headerless files are v2)."""
    by_format: dict[tuple[tuple[str, ...], bool], list[str]] = {}
    for path in sorted(Path(raw).rglob("*.log.gz")):
        names = header(path)
        by_format.setdefault((tuple(names or V2), names is not None), []).append(str(path))
    return by_format


def aws_name(name: str) -> str:
    """A header field's column name in AWS's Parquet flow logs (`log-status` → `log_status`)."""
    return name.replace("-", "_")


def column_names(groups) -> list[str]:
    """Every column of `formats()`'s groups, AWS names, in first-seen order."""
    columns: list[str] = []
    for names, _ in groups:
        columns += [aws_name(n) for n in names if aws_name(n) not in columns]
    return columns
