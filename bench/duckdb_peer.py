"""The DuckDB peer: the same job flowmerge does, written the way a user would
with DuckDB — read every raw .log.gz (or, for native Parquet flow logs, every
.log.parquet), group each flow's records per delivery minute with
sum/min/max/bit_or, write zstd Parquet partitioned by window.

Headerless files (the default v2 format without a header line) are read with
the v2 column names; every other file names its columns in its header. Native
Parquet files carry AWS's column names and types already.

usage: duckdb_peer.py RAW_DIR OUT_DIR THREADS
"""

import sys
from pathlib import Path

import duckdb

from raw_schema import METRICS, NUMERIC, WINDOW_IN_NAME, formats


def raw_relation(raw: str) -> tuple[str, list[str]]:
    """SQL for all raw records with AWS column names (underscores), numbers typed,
    and the file's delivery minute as `window`; and the columns it has.

    Files are read in groups of one format, each with its columns given, so
    DuckDB need not sniff every file; headerless files get the v2 names."""
    columns: list[str] = []
    sources = []
    for (names, headed), files in formats(raw).items():
        columns += [n for n in names if n not in columns]
        types = ", ".join(f"'{n}': '{'BIGINT' if n in NUMERIC else 'VARCHAR'}'" for n in names)
        sources.append(f"SELECT * FROM read_csv({files!r}, header = {headed}, columns = {{{types}}}, "
                       "auto_detect = false, delim = ' ', nullstr = '-', filename = true)")
    union = " UNION ALL BY NAME ".join(sources)
    aws = {c: c.replace("-", "_") for c in columns}
    select = [f'"{c}" AS "{name}"' for c, name in aws.items()]
    window = f"regexp_extract(filename, '{WINDOW_IN_NAME}', 1) AS \"window\""
    return f"(SELECT {window}, {', '.join(select)} FROM ({union}))", ["window", *aws.values()]


def parquet_relation(con, raw: str) -> tuple[str, list[str]]:
    """The same for native Parquet flow logs: their columns by name, the
    union of every file's (null where a file lacks one)."""
    files = sorted(str(p) for p in Path(raw).rglob("*.log.parquet"))
    source = f"read_parquet({files!r}, union_by_name = true, filename = true)"
    names = [r[0] for r in con.execute(f"DESCRIBE SELECT * EXCLUDE (filename) FROM {source}").fetchall()]
    window = f"regexp_extract(filename, '{WINDOW_IN_NAME}', 1) AS \"window\""
    select = ", ".join(f'"{n}"' for n in names)
    return f"(SELECT {window}, {select} FROM {source})", ["window", *names]


def main(raw: str, out: str, threads: str) -> None:
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    native = next(Path(raw).rglob("*.log.parquet"), None) is not None
    relation, columns = parquet_relation(con, raw) if native else raw_relation(raw)
    dims = [f'"{c}"' for c in columns if c not in METRICS]
    aggregates = [f'{fn}("{c}") AS "{c}"' for c, fn in METRICS.items() if c in columns]
    con.execute(f"""
        COPY (
            SELECT {", ".join(dims + aggregates)}, count(*) AS records
            FROM {relation}
            GROUP BY ALL
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY ("window"))
    """)


if __name__ == "__main__":
    main(*sys.argv[1:4])
