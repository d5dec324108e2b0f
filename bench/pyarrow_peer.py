"""The pyarrow peer: the same job written with pyarrow's CSV reader, group-by
and Parquet writer — read every raw .log.gz, group each flow's records per
delivery minute (sums, min start, max end, tcp-flags OR'd bit by bit, as
pyarrow has no bitwise-or aggregate), write one zstd Parquet file per window.
Windows are processed `THREADS` at a time; pyarrow releases the GIL while it
reads, groups and writes.

usage: pyarrow_peer.py RAW_DIR OUT_DIR THREADS
"""

import re
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv
import pyarrow.parquet as pq

from raw_schema import METRICS, NUMERIC, V2, WINDOW_IN_NAME, header

TCP_FLAG_BITS = 8
FOLDS = {name: fn for name, fn in METRICS.items() if fn != "bit_or"}


def read(path: Path) -> pa.Table:
    """One raw file with AWS column names (underscores) and numbers typed."""
    named = header(path)
    names = named or V2
    table = csv.read_csv(
        path,
        read_options=csv.ReadOptions(column_names=None if named else V2, use_threads=False),
        parse_options=csv.ParseOptions(delimiter=" "),
        convert_options=csv.ConvertOptions(
            null_values=["-"], strings_can_be_null=True,
            column_types={n: pa.int64() if n in NUMERIC else pa.string() for n in names}),
    )
    return table.rename_columns([n.replace("-", "_") for n in table.column_names])


def merge(tables: list[pa.Table]) -> pa.Table:
    """A window's records grouped by every dimension, metrics folded."""
    table = pa.concat_tables(tables, promote_options="default")
    aggregates = [(name, fn) for name, fn in FOLDS.items() if name in table.column_names]
    counted = table.column_names[0]  # any column: count(mode="all") counts its rows
    aggregates.append((counted, "count", pc.CountOptions(mode="all")))
    flags = "tcp_flags" in table.column_names
    if flags:
        for bit in range(TCP_FLAG_BITS):
            table = table.append_column(f"tcp_flags_{bit}", pc.bit_wise_and(table["tcp_flags"], 1 << bit))
            aggregates.append((f"tcp_flags_{bit}", "max"))
        table = table.drop_columns(["tcp_flags"])
    dims = [n for n in table.column_names if n not in METRICS and not n.startswith("tcp_flags_")]
    grouped = table.group_by(dims, use_threads=False).aggregate(aggregates)
    renames = {f"{name}_{fn}": name for name, fn in FOLDS.items()}
    renames[f"{counted}_count"] = "records"
    grouped = grouped.rename_columns([renames.get(n, n) for n in grouped.column_names])
    if flags:
        bits = [f"tcp_flags_{bit}_max" for bit in range(TCP_FLAG_BITS)]
        total = pc.fill_null(grouped[bits[0]], 0)
        for name in bits[1:]:
            total = pc.add(total, pc.fill_null(grouped[name], 0))
        # A flow without any tcp-flags value stays null, as bit_or would leave it.
        grouped = grouped.drop_columns(bits).append_column(
            "tcp_flags", pc.if_else(pc.is_null(grouped[bits[0]]), None, total))
    return grouped


def compact(window: str, files: list[Path], out: Path) -> None:
    merged = merge([read(f) for f in files])
    directory = out / f"window={window}"
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(merged, directory / "part-0.parquet", compression="zstd")


def main(raw: str, out: str, threads: str) -> None:
    workers = int(threads)
    pa.set_cpu_count(workers)
    pa.set_io_thread_count(workers)
    windows = defaultdict(list)
    for path in sorted(Path(raw).rglob("*.log.gz")):
        windows[re.search(WINDOW_IN_NAME, path.name).group(1)].append(path)
    with ThreadPoolExecutor(workers) as pool:
        for done in [pool.submit(compact, w, files, Path(out)) for w, files in windows.items()]:
            done.result()


if __name__ == "__main__":
    main(*sys.argv[1:4])
