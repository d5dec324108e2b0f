"""The ClickHouse peer (chdb, ClickHouse in-process): the same job written
the way a user would in ClickHouse SQL — read every raw .log.gz with the
file() table function, group each flow's records per delivery minute with
sum/min/max/groupBitOr, write zstd Parquet partitioned by window.

ClickHouse's CSV reader refuses a space as delimiter, so lines are read as
strings and split; each format's files are picked by `_path`, their header
line skipped, their fields named by the header (v2 names when headerless).

usage: chdb_peer.py RAW_DIR OUT_DIR THREADS
"""

import sys
from pathlib import Path

import chdb

from raw_schema import METRICS, NUMERIC, WINDOW_IN_NAME, aws_name, column_names, formats

FOLD = {"sum": "sum", "min": "min", "max": "max", "bit_or": "groupBitOr"}


def source(raw: str, names: tuple[str, ...], files: list[str], columns: list[str]) -> str:
    """One format's records with every column of `columns` (null where the
    format lacks one), numbers typed."""
    index = {aws_name(n): i + 1 for i, n in enumerate(names)}
    numeric = {aws_name(n) for n in names if n in NUMERIC}

    def cell(column: str) -> str:
        if column not in index:
            return f"NULL AS `{column}`"
        value = f"nullIf(f[{index[column]}], '-')"
        return f"{f'toInt64({value})' if column in numeric else value} AS `{column}`"

    lines = (f"SELECT _path, splitByChar(' ', line) AS f FROM file('{raw}/**/*.log.gz', 'LineAsString', "
             f"'line String', 'gzip') WHERE _path IN {tuple(files)} AND line != '{' '.join(names)}'")
    return f"SELECT _path, {', '.join(cell(c) for c in columns)} FROM ({lines})"


def main(raw: str, out: str, threads: str) -> None:
    # ClickHouse reports absolute paths in `_path`.
    raw, out = str(Path(raw).resolve()), str(Path(out).resolve())
    groups = formats(raw)
    columns = column_names(groups)
    union = " UNION ALL ".join(source(raw, names, files, columns) for (names, _), files in groups.items())
    dims = [f"`{c}`" for c in columns if c not in METRICS]
    folds = [f"{FOLD[fn]}(`{c}`) AS `{c}`" for c, fn in METRICS.items() if c in columns]
    Path(out).mkdir(parents=True, exist_ok=True)
    session = chdb.session.Session()
    # The query names every input file; the parser's default limit is 256 KiB.
    session.query("SET max_query_size = 1000000000")
    session.query(f"""
        INSERT INTO FUNCTION file('{out}/window={{_partition_id}}/part-0.parquet', 'Parquet')
        PARTITION BY window
        SELECT extract(_path, '{WINDOW_IN_NAME}') AS window, {", ".join(dims + folds)},
               toInt64(count()) AS records
        FROM ({union})
        GROUP BY window, {", ".join(dims)}
        SETTINGS max_threads = {int(threads)}, output_format_parquet_compression_method = 'zstd'
    """)


if __name__ == "__main__":
    main(*sys.argv[1:4])
